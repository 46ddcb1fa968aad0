/**
 * Issue 19 end to end over both backends (a real aggregator with CKKS, three real party nodes over
 * gRPC on 127.0.0.1, the analyst's real client): the population kind released exactly equals the
 * DatasetBuilder's counts (sum over the parties, and on the pooled source); released under DP it
 * is charged at the aggregator and in every party's own ledger, and the noise sd it reports is
 * the plan's exact sd; `blindsum query --kind population` prints the noisy figures with their sd.
 * And covariance/correlation with a categorical column equal the central reference on both backends.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateAnalystKey, type AnalystCkksKey } from '../client/ckks-analyst.ts';
import { toHex } from '../crypto/bytes.ts';
import { query as queryCommand } from '../cli/commands/query.ts';
import {
  buildDataset, centralResult, DP_GRID_BITS, noiseStd, planNoise, planQuery, splitCsvText,
  type CorrelationResult, type CovarianceResult, type PopulationResult, type Query,
} from '../stats/index.ts';
import { exportTranscript } from '../services/audit/audit.ts';
import { verifyTranscript } from '../services/audit/verify.ts';
import { loadRoster } from '../services/common/roster.ts';
import { startFederation, waitCollectiveKey, type InProcessFederation } from './ckks-inprocess.ts';
import { pbcSchema } from './party-harness.ts';

// pbc split three ways; hospital-1's source also holds rows the schema drops, hospital-2's one more.
const pbc = readFileSync('examples/pbc/pbc.csv', 'utf8');
const split = splitCsvText(pbc, 3, 'e2e-population');
const header = pbc.split('\n')[0]!.split(',');
const col = (name: string): number => header.indexOf(`"${name}"`);
const first = split[0]!.split('\n')[1]!.split(',');
const variant = (edit: Record<string, string>, id: string): string => first.map((v, i) => (i === col('id') ? id : (edit[header[i]!.replaceAll('"', '')] ?? v))).join(',');
const BAD_1 = [
  variant({ age: '150' }, '9001'), // out_of_bounds (age in [18, 100], reject)
  variant({ sex: '"x"' }, '9002'), // invalid_value (unknown category)
  variant({ bili: 'high' }, '9003'), // invalid_value (not a number)
  variant({}, ''), // identifier (missing)
  first.join(','), // patient_bound (the same patient again; rowsPerPatient 1)
  '9004,1', // malformed
];
const BAD_2 = [variant({ stage: '7' }, '9005')]; // invalid_value
const parts = [split[0]!.trimEnd() + '\n' + BAD_1.join('\n') + '\n', split[1]!.trimEnd() + '\n' + BAD_2.join('\n') + '\n', split[2]!];
const pooled = parts[0]! + parts[1]!.split('\n').slice(1).join('\n') + parts[2]!.split('\n').slice(1).join('\n');
const POP: Query = { kind: 'population', columns: [], filter: [] };

let f: InProcessFederation;
let key: AnalystCkksKey;
let keyFile: string;
beforeAll(async () => {
  f = await startFederation({ n: 3, threshold: 2, csvParts: parts });
  await waitCollectiveKey(f);
  key = await generateAnalystKey();
  keyFile = join(f.dir, 'attack.key');
  writeFileSync(keyFile, JSON.stringify({ type: 'blindsum-ed25519-identity', id: f.analysts.analystId, secretKey: toHex(f.analysts.analyst.secretKey), publicKey: toHex(f.analysts.analyst.publicKey) }), { mode: 0o600 });
  chmodSync(keyFile, 0o600);
}, 240_000);
afterAll(async () => {
  await f?.stop();
});

describe('population and categorical correlation end to end (aggregator, 3 parties, analyst client)', () => {
  it('the builders drop what the schema refuses, per class (the parties\' own figures)', () => {
    const reports = parts.map((csv) => buildDataset(pbcSchema, csv).report.population);
    expect(reports[0]!.dropped).toEqual({ invalid_value: 2, out_of_bounds: 1, identifier: 1, malformed: 1, patient_bound: 1 });
    expect(reports[1]!.dropped).toEqual({ invalid_value: 1, out_of_bounds: 0, identifier: 0, malformed: 0, patient_bound: 0 });
    // The nodes hold the same figures (their load report, the start-up log line and gauges).
    expect(f.configs.map((c) => c.loadReport.population)).toEqual(reports);
  });

  for (const backend of ['secagg', 'ckks'] as const) {
    it(`${backend}: the exact release equals the builders' counts summed, and the central reference on the pooled source`, async () => {
      const c = f.client();
      const o = await c.run(POP, backend === 'ckks' ? { backend, ckksKey: key } : { backend });
      expect(o.status, o.error).toBe('done');
      const r = o.result as PopulationResult;
      const central = centralResult(POP, pbcSchema, buildDataset(pbcSchema, pooled).dataset) as PopulationResult;
      const reports = parts.map((csv) => buildDataset(pbcSchema, csv).report);
      expect(r.loaded).toBe(reports.reduce((a, x) => a + x.rowsLoaded, 0));
      expect(r.droppedTotal).toBe(reports.reduce((a, x) => a + x.rejected.length + x.rowsOverPatientBound, 0));
      expect({ loaded: r.loaded, dropped: r.dropped, clipped: r.clipped }).toEqual({ loaded: central.loaded, dropped: central.dropped, clipped: central.clipped });
      expect(r.loaded).toBe(418);
      expect(r.dropped).toEqual({ invalid_value: 3, out_of_bounds: 1, identifier: 1, malformed: 1, patient_bound: 1 });
    }, 120_000);

    it(`${backend}: covariance and correlation with a categorical column equal the central reference`, async () => {
      const c = f.client();
      for (const kind of ['covariance', 'correlation'] as const) {
        const q: Query = { kind, columns: ['stage', 'sex', 'albumin'], filter: [] };
        const o = await c.run(q, backend === 'ckks' ? { backend, ckksKey: key } : { backend });
        expect(o.status, o.error).toBe('done');
        const r = o.result as CovarianceResult | CorrelationResult;
        const central = centralResult(q, pbcSchema, buildDataset(pbcSchema, pooled).dataset) as CovarianceResult | CorrelationResult;
        expect(r.columns).toEqual(['stage2', 'stage3', 'stage4', 'sexm', 'albumin']);
        expect(r.n).toBe(central.n);
        r.matrix.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v! - central.matrix[i]![j]!)).toBeLessThan(1e-6)));
      }
    }, 120_000);
  }

  for (const backend of ['secagg', 'ckks'] as const) {
    it(`${backend} DP: charged at the aggregator and in every party's ledger; the reported noise sd is the plan's exact sd${backend === 'secagg' ? '; the CLI prints the noisy figures with it' : ''}`, async () => {
    const c = f.client();
    const before = (await c.getBudget()).spentRho;
    const rho = 0.5;
    const o = await c.run(POP, backend === 'ckks' ? { backend, ckksKey: key, privacy: { rho } } : { backend, privacy: { rho } });
    expect(o.status, o.error).toBe('done');
    expect(o.rhoCharged).toBeCloseTo(rho, 12);
    expect((await c.getBudget()).spentRho).toBeCloseTo(before + rho, 12);
    for (const cfg of f.configs) {
      const db = new DatabaseSync(join(cfg.stateDir, 'party-ledger.sqlite'), { readOnly: true });
      try {
        const row = db.prepare('SELECT rho FROM charges WHERE query_id = ?').get(o.queryId) as { rho: number } | undefined;
        expect(row?.rho, `${cfg.identity.id}'s ledger`).toBeCloseTo(rho, 12);
      } finally {
        db.close();
      }
    }
    // The plan's exact noise sd (public: the query, the schema, the roster), per entry and field.
    const plan = planQuery(POP, pbcSchema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const sd = noiseStd(planNoise(POP, pbcSchema, plan, { rho, parties: 3, threshold: 2, collusion: 0 }), plan, o.contributors.length);
    expect(o.noiseStd).toEqual(sd);
    expect(o.uncertainty['loaded']).toBe(sd[0]);
    expect(o.uncertainty['dropped.invalid_value']).toBe(sd[1]);
    expect(o.uncertainty['clipped']).toBe(sd[6]);
    const r = o.result as PopulationResult;
    expect(Math.abs(r.loaded - 418)).toBeLessThan(10 * sd[0]!);
    expect(r.notes.join(' ')).toMatch(/every figure is noisy/);
    if (backend === 'ckks') return;

    // blindsum query --kind population --rho 0.1: the noisy figures, each with its noise sd.
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out.push(String(s));
      return true;
    });
    let code: number;
    try {
      code = await queryCommand.run({ aggregator: f.address, 'analyst-key': keyFile, kind: 'population', rho: '0.1', quiet: true }, []);
    } finally {
      spy.mockRestore();
    }
    const text = out.join('');
    expect(code).toBe(0);
    expect(text).toMatch(/population used by the parties' loads/);
    expect(text).toMatch(/dropped: out_of_bounds/);
    const sd01 = noiseStd(planNoise(POP, pbcSchema, plan, { rho: 0.1, parties: 3, threshold: 2, collusion: 0 }), plan, 3);
    expect(text).toMatch(new RegExp(`loaded\\s+-?[\\d.]+\\s+± ${Number(sd01[0]!.toPrecision(3))}\\b`));
    expect(text).toMatch(/charged rho = 0\.1000/);
    if (process.env['SHOW_CLI']) console.log(text);
  }, 120_000);
  }

  it('blindsum query --population-rho: the result is followed by a separate, charged population release saying whether rows were excluded or clipped, with the noise sd', async () => {
    const c = f.client();
    const before = (await c.getBudget()).spentRho;
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out.push(String(s));
      return true;
    });
    let code: number;
    try {
      code = await queryCommand.run({ aggregator: f.address, 'analyst-key': keyFile, kind: 'mean', column: ['age'], rho: '0.2', 'population-rho': '0.1', quiet: true }, []);
    } finally {
      spy.mockRestore();
    }
    const text = out.join('');
    expect(code).toBe(0);
    expect(text).toMatch(/population used \(a separate release, query [0-9a-f-]+, charged rho = 0\.1000\):/);
    const plan = planQuery(POP, pbcSchema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const sd = noiseStd(planNoise(POP, pbcSchema, plan, { rho: 0.1, parties: 3, threshold: 2, collusion: 0 }), plan, 3);
    expect(text).toContain(`rows excluded by the schema: about `);
    expect(text).toContain(`(noise sd ${Number(Math.sqrt(sd.slice(1, 6).reduce((a, x) => a + x * x, 0)).toPrecision(3))})`);
    expect(text).toMatch(new RegExp(`out_of_bounds about -?[\\d.]+ \\(noise sd ${Number(sd[2]!.toPrecision(3))}\\)`));
    expect((await c.getBudget()).spentRho).toBeCloseTo(before + 0.3, 12);
  }, 120_000);

  it('audit verify: every release above, population included (exact and DP), is the finalize() of its recomputed sums', () => {
    const file = exportTranscript(f.aggregatorDataDir, {}, join(f.dir, 'audit.json'));
    const report = verifyTranscript(file, loadRoster(f.rosterPath), { schema: pbcSchema });
    expect(report.ok, JSON.stringify(report).slice(0, 2000)).toBe(true);
    const pop = report.sessions.filter((x) => x.kind === 'population' && x.status === 'released');
    // exact secagg and CKKS, DP secagg and CKKS, the CLI's two: secagg results are recomputed (CKKS results stay encrypted to the analyst).
    expect(pop.length).toBe(6);
    expect(pop.filter((x) => x.resultChecked).length).toBeGreaterThanOrEqual(3);
  });
});
