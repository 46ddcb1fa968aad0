/**
 * Attack (issue 13, item 8): a party's data tries to give one patient more weight than the
 * schema's rowsPerPatient k, which every DP sensitivity is sized for. The party's load path
 * (buildDataset, used by resolvePartyConfig) must keep at most k rows per patient, count what it
 * dropped without naming anyone, and then one patient moves every entry of a party's federated-sum
 * vector (localStatistics) by at most k·⌈bound·2^scale⌉ grid units — what planNoise assumes.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity } from '../crypto/identity.ts';
import { toHex } from '../crypto/bytes.ts';
import { resolvePartyConfig } from '../services/party/config.ts';
import { writeNewIdentityFile } from '../services/common/keys.ts';
import {
  buildDataset, DatasetError, DP_GRID_BITS, formatCsv, formatLoadReport, localStatistics, parseSchema, planNoise, planQuery,
} from '../stats/index.ts';
import type { Dataset, NumericColumn, Query } from '../stats/index.ts';

const K = 2;
const schemaJson = {
  name: 'visits',
  maxRowsPerParty: 1000,
  rowsPerPatient: K,
  columns: [
    { name: 'patient', type: 'identifier' },
    { name: 'x', type: 'numeric', min: 0, max: 100 },
    { name: 'n', type: 'integer', min: -20, max: 20 },
    { name: 'g', type: 'categorical', categories: ['a', 'b', 'c'] },
  ],
};
const schema = parseSchema(schemaJson);
const HEADER = ['patient', 'x', 'n', 'g'];
const ATTACKER = 'PATIENT-SECRET-ATTACKER-0001';
const honestId = (i: number): string => `PATIENT-SECRET-${String(i).padStart(4, '0')}`;

/** 100 honest patients with one or two rows each, in a deterministic pseudo-random order. */
function honestRows(): string[][] {
  const rows: string[][] = [];
  for (let i = 0; i < 100; i++) {
    const visits = i % 3 === 0 ? 2 : 1;
    for (let v = 0; v < visits; v++) rows.push([honestId(i), String((i * 37 + v * 11) % 101), String(((i * 7 + v) % 41) - 20), 'abc'[(i + v) % 3]!]);
  }
  return rows;
}

/** The attacker's 50 rows at the extreme of every bound, spread through the file. */
function attackerRows(): string[][] {
  return Array.from({ length: 50 }, (_, j) => [j % 2 === 0 ? ATTACKER : ` ${ATTACKER} `, String(100 - j * 0.5), j % 2 === 0 ? '20' : '-20', 'a']);
}

function interleave(honest: string[][], attacker: string[][]): string[][] {
  const out: string[][] = [];
  let a = 0;
  honest.forEach((row, i) => {
    out.push(row);
    if (i % 3 === 1 && a < attacker.length) out.push(attacker[a++]!);
  });
  while (a < attacker.length) out.push(attacker[a++]!);
  return out;
}

const withAttacker = formatCsv(HEADER, interleave(honestRows(), attackerRows()));
const withoutAttacker = formatCsv(HEADER, honestRows());

describe('a party whose data gives one patient 50 rows under rowsPerPatient 2', () => {
  it('keeps the patient\'s first 2 valid rows in file order and counts the 48 dropped in the load report', () => {
    const { dataset, report } = buildDataset(schema, withAttacker);
    const honest = buildDataset(schema, withoutAttacker);
    expect(report.rowsRead).toBe(honestRows().length + 50);
    expect(report.rowsOverPatientBound).toBe(48);
    expect(report.patientsOverBound).toBe(1);
    expect(report.patients).toBe(101);
    expect(report.patientColumn).toBe('patient');
    expect(report.rowsPerPatient).toBe(K);
    expect(report.rejected).toEqual([]);
    expect(report.rowsLoaded).toBe(honest.report.rowsLoaded + 2);
    expect(report.rowsRead).toBe(report.rowsLoaded + report.rejected.length + report.rowsOverPatientBound);
    // The two kept are the attacker's first two rows (x = 100 and 99.5; the second written with spaces).
    const xs = [...(dataset.columns.get('x') as NumericColumn).values];
    const honestXs = [...(honest.dataset.columns.get('x') as NumericColumn).values];
    const extra = [...xs];
    for (const v of honestXs) extra.splice(extra.indexOf(v), 1);
    expect(extra.sort((p, q) => p - q)).toEqual([99.5, 100]);
  });

  it('still bounds the patient under strict: per-patient drops are not invalid rows', () => {
    const { report } = buildDataset(schema, withAttacker, { strict: true });
    expect(report.rowsOverPatientBound).toBe(48);
  });

  it('rows without an identifier cannot escape the bound: they are rejected, not counted as new patients', () => {
    const sneaky = formatCsv(HEADER, [...interleave(honestRows(), attackerRows()), ...Array.from({ length: 30 }, () => ['', '100', '20', 'a'])]);
    const { report } = buildDataset(schema, sneaky);
    expect(report.rowsLoaded).toBe(buildDataset(schema, withAttacker).report.rowsLoaded);
    expect(report.rejected).toHaveLength(30);
    expect(report.rejected[0]!.column).toBe('patient');
    expect(report.rejected[0]!.reason).toMatch(/missing patient identifier: the row cannot be attributed to a patient/);
    expect(() => buildDataset(schema, sneaky, { strict: true })).toThrow(DatasetError);
  });

  it('an over-long identifier rejects the row with its length, never its value', () => {
    const long = 'PATIENT-SECRET-' + 'Z'.repeat(300);
    const { report } = buildDataset(schema, formatCsv(HEADER, [[long, '1', '1', 'a'], [honestId(1), '1', '1', 'a']]));
    expect(report.rowsLoaded).toBe(1);
    expect(report.rejected).toEqual([{ line: 2, column: 'patient', reason: expect.stringMatching(/patient identifier of 315 characters, longer than the 256 allowed/) as unknown as string, class: 'identifier' }]);
    expect(JSON.stringify(report)).not.toContain('PATIENT-SECRET');
    let err: unknown;
    try {
      buildDataset(schema, formatCsv(HEADER, [[long, '1', '1', 'a']]), { strict: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as Error).message).toMatch(/line 2, column "patient": patient identifier of 315 characters/);
    expect((err as Error).message).not.toContain('PATIENT-SECRET');
  });

  it('an identifier of exactly 256 characters is accepted', () => {
    const { report } = buildDataset(schema, formatCsv(HEADER, [['P'.repeat(256), '1', '1', 'a']]));
    expect(report.rowsLoaded).toBe(1);
  });

  it('the load report and the party\'s startup message give counts, never an identifier', () => {
    const bad = formatCsv(HEADER, [...interleave(honestRows(), attackerRows()), [honestId(5), 'not-a-number', '1', 'a'], ['', '1', '1', 'a']]);
    const { report } = buildDataset(schema, bad);
    const text = formatLoadReport(report, 'visits.csv', 'hospital-a: ');
    expect(text).toContain('hospital-a: loaded 136 of 186 rows from visits.csv; 2 rejected:');
    expect(text).toContain('hospital-a: patients: 101 (identifier column "patient", at most 2 row(s) each, the first valid ones in file order); 48 row(s) of 1 patient(s) beyond the bound dropped');
    expect(text).toContain('  line 187, patient: missing patient identifier');
    expect(text).not.toContain('PATIENT-SECRET');
    expect(JSON.stringify(report)).not.toContain('PATIENT-SECRET');
  });

  it('the real party configuration (resolvePartyConfig) loads the bounded dataset', () => {
    const dir = mkdtempSync(join(tmpdir(), 'blindsum-patient-'));
    try {
      const a = writeNewIdentityFile(join(dir, 'hospital-a.key'), 'hospital-a');
      const b = writeNewIdentityFile(join(dir, 'hospital-b.key'), 'hospital-b');
      writeFileSync(join(dir, 'roster.json'), JSON.stringify({
        federation: 'visits', threshold: 2,
        parties: [a, b].map((p) => ({ id: p.id, publicKey: toHex(p.identity.publicKey) })),
        aggregator: { id: 'visits-aggregator', publicKey: toHex(generateIdentity().publicKey) },
      }));
      writeFileSync(join(dir, 'schema.json'), JSON.stringify(schemaJson));
      writeFileSync(join(dir, 'data.csv'), withAttacker);
      const config = resolvePartyConfig({
        aggregator: '127.0.0.1:1', keyPath: join(dir, 'hospital-a.key'), rosterPath: join(dir, 'roster.json'),
        schemaPath: join(dir, 'schema.json'), dataPath: join(dir, 'data.csv'), strict: true,
      });
      expect(config.loadReport.rowsOverPatientBound).toBe(48);
      expect(config.dataset.rowCount).toBe(buildDataset(schema, withoutAttacker).dataset.rowCount + K);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('one patient moves a party\'s DP sums by at most the sensitivity planNoise assumes', () => {
  const queries: Query[] = [
    { kind: 'count', columns: [], filter: [] },
    { kind: 'count', columns: [], filter: [{ column: 'g', op: 'eq', values: ['a'] }] },
    { kind: 'sum', columns: ['x'], filter: [] },
    { kind: 'mean', columns: ['n'], filter: [] },
    { kind: 'variance', columns: ['x'], filter: [] },
    { kind: 'histogram', columns: ['x'], filter: [], bins: [0, 25, 50, 75, 100] },
    { kind: 'frequency', columns: ['g'], filter: [] },
    { kind: 'covariance', columns: ['x', 'n'], filter: [] },
    { kind: 'linear_regression', columns: ['n'], target: 'x', filter: [] },
  ];
  const bounded = buildDataset(schema, withAttacker).dataset;
  const without = buildDataset(schema, withoutAttacker).dataset;
  // What the attack would give without the bound: the same file with every row kept.
  const noBound = parseSchema({ ...schemaJson, rowsPerPatient: 1, columns: schemaJson.columns.filter((c) => c.type !== 'identifier') });
  const unbounded: Dataset = { ...buildDataset(noBound, withAttacker).dataset, schema };

  it.each(queries.map((q) => [`${q.kind}${q.filter.length ? ' (filtered)' : ''}`, q] as const))('%s: |with − without| ≤ k·⌈bound·2^scale⌉ in every entry', (_label, q) => {
    const plan = planQuery(q, schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const np = planNoise(q, schema, plan, { rho: 0.5, parties: 3, threshold: 2 });
    const g = plan.entries.map((e, i) => BigInt(K) * BigInt(Math.ceil(e.bound * 2 ** plan.scaleBits[i]!)));
    // The sensitivity the noise is sized for is (at least) this k·⌈b·2^s⌉ per entry.
    g.forEach((gi, i) => expect(np.perEntry[i]!.sensitivity.perEntry.reduce((m, v) => (v > m ? v : m), 0n)).toBeGreaterThanOrEqual(gi));
    const w = localStatistics(q, schema, plan, bounded).sums;
    const wo = localStatistics(q, schema, plan, without).sums;
    const diff = w.map((v, i) => (v > wo[i]! ? v - wo[i]! : wo[i]! - v));
    diff.forEach((d, i) => expect(d).toBeLessThanOrEqual(g[i]!));
    if (np.oneHot) {
      const l1 = diff.reduce((s, d) => s + d, 0n);
      const l2sq = diff.reduce((s, d) => s + d * d, 0n);
      expect(l1).toBeLessThanOrEqual(np.perEntry[0]!.sensitivity.l1);
      expect(l2sq).toBeLessThanOrEqual(np.perEntry[0]!.sensitivity.l2Squared);
    }
    // The attacker sits at the bounds, so the bound is reached in some entry: the check is tight.
    expect(diff.some((d, i) => d * 2n >= g[i]!)).toBe(true);
  });

  it('control: without the bound the same file moves the count by 50, past the sensitivity 2', () => {
    const q: Query = { kind: 'count', columns: [], filter: [] };
    const plan = planQuery(q, schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const d = localStatistics(q, schema, plan, unbounded).sums[0]! - localStatistics(q, schema, plan, without).sums[0]!;
    expect(d).toBe(50n);
    expect(d).toBeGreaterThan(planNoise(q, schema, plan, { rho: 0.5, parties: 3, threshold: 2 }).perEntry[0]!.sensitivity.l1);
  });
});

