/**
 * Differential privacy end to end (separate processes, real gRPC): the released noise matches
 * its declared scale and is centred on the central value; budgets are enforced by the
 * aggregator (atomically, under concurrency, across a SIGKILL) and by each party's own ledger.
 */
import { status } from '@grpc/grpc-js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalystError } from '../client/analyst.ts';
import { LocalFederation } from '../cli/federation.ts';
import { fromUtf8, utf8 } from '../crypto/bytes.ts';
import { EntryKind } from '../crypto/transcript.ts';
import { AGGREGATOR_KEY_FILE } from '../services/aggregator/transcript-log.ts';
import { exportTranscript } from '../services/audit/audit.ts';
import type { ReleasedRecord } from '../services/common/transcript-records.ts';
import { exportedEntries } from '../services/common/transcript-file.ts';
import { verifyTranscript } from '../services/audit/verify.ts';
import { loadIdentityFile } from '../services/common/keys.ts';
import { loadRoster } from '../services/common/roster.ts';
import { buildDataset, centralResult, DP_GRID_BITS, finalize, parseSchema, planQuery, splitCsvText, type KaplanMeierResult, type Query } from '../stats/index.ts';
import { chiSquareSurvival } from './dp-chi-square.ts';
import { rebuildTranscript, resignEntry } from './transcript-forge.ts';

const schemaPath = 'examples/pbc/schema.json';
const schema = parseSchema(JSON.parse(readFileSync(schemaPath, 'utf8')));
const csv = readFileSync('examples/pbc/pbc.csv', 'utf8');
const parts = splitCsvText(csv, 3, 'e2e-dp');
const { dataset } = buildDataset(schema, csv);
const histogram: Query = { kind: 'histogram', columns: ['age'], bins: [30, 40, 50, 60, 70], filter: [] };
/** One-year bins of age (55 bins, below, above: 57 entries per release) for the calibration check. */
const fine: Query = { kind: 'histogram', columns: ['age'], bins: Array.from({ length: 56 }, (_, i) => 25 + i), filter: [] };
const fineResult = centralResult(fine, schema, dataset);
const fineCounts = fineResult.kind === 'histogram' ? [...fineResult.counts, fineResult.below, fineResult.above] : [];

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'blindsum-dp-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('released noise (3 parties, t = 2)', () => {
  let fed: LocalFederation;
  beforeAll(async () => {
    const big = { budgetRho: 1000 };
    fed = await LocalFederation.start({ dir: join(root, 'a'), schemaPath, partyData: parts, threshold: 2, budgetRho: 10, partyPolicy: { 0: big, 1: big, 2: big }, analysts: ['noise-check', 'concurrent', 'x', 'km'] });
  }, 120_000);
  afterAll(async () => {
    await fed?.stop();
  });

  it('a DP Kaplan–Meier query: a monotone curve whose intervals hold the noise, near the exact one; audit verify recomputes it, and catches intervals rewritten without the noise', async () => {
    const q: Query = { kind: 'kaplan_meier', columns: [], filter: [], time: 'time', event: 'status', positive: ['2'], bins: [...Array.from({ length: 51 }, (_, i) => i * 100), 10000], times: [2000] };
    const c = fed.client('km');
    let queryId = '';
    try {
      const o = await c.run(q, { privacy: { rho: 0.5 } });
      expect(o.status, o.error).toBe('done');
      queryId = o.queryId;
      const r = o.result as KaplanMeierResult;
      const exact = (centralResult(q, schema, dataset) as KaplanMeierResult).curves[0]!;
      const k = r.curves[0]!;
      expect(k.noiseStdErr).toBeDefined();
      expect(r.notes.join(' ')).toMatch(/differentially private/);
      for (const t of [1000, 2000, 3000]) {
        const i = k.time.indexOf(t);
        const e = exact.surv[exact.time.findLastIndex((x) => x <= t)]!;
        expect(k.noiseStdErr![i]!).toBeGreaterThan(0);
        // 8 noise standard errors: a miss has probability far below 1e-9
        expect(Math.abs(Math.log(k.surv[i]!) - Math.log(e))).toBeLessThan(8 * k.noiseStdErr![i]!);
      }
      k.surv.forEach((s, i) => {
        expect(s).toBeLessThanOrEqual(i === 0 ? 1 : k.surv[i - 1]!);
        expect(k.lower[i] ?? 0).toBeLessThanOrEqual(s);
      });
      expect(Object.keys(o.uncertainty)).toContain('curves[0].surv[0]');
    } finally {
      c.close();
    }
    const file = exportTranscript(fed.aggregatorDataDir, {}, join(root, 'km-transcript.json'));
    const roster = loadRoster(fed.rosterPath);
    const report = verifyTranscript(file, roster, { schema });
    expect(report.ok, JSON.stringify(report.failure)).toBe(true);
    expect(report.sessions.find((s) => s.queryId === queryId)!.resultChecked).toBe(true);
    // A malicious aggregator releases the same noisy counts with intervals that leave out the
    // noise (narrower: Greenwood's alone), re-signs the entry and re-chains the log: caught.
    const secret = loadIdentityFile(join(fed.aggregatorDataDir, AGGREGATOR_KEY_FILE)).identity.secretKey;
    const entries = exportedEntries(file);
    const k = entries.findIndex((e) => e.kind === EntryKind.Released && e.session === queryId);
    const rec = JSON.parse(fromUtf8(entries[k]!.body)) as ReleasedRecord;
    const released = JSON.parse(rec.resultJson) as KaplanMeierResult;
    const plan = planQuery(q, schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const naive = finalize(q, schema, plan, rec.exactSums.map(BigInt)) as KaplanMeierResult;
    const curve = released.curves[0]!;
    curve.time.forEach((t, i) => {
      const j = naive.curves[0]!.time.indexOf(t);
      if (j < 0) return;
      curve.stdErr[i] = naive.curves[0]!.stdErr[j]!;
      curve.lower[i] = naive.curves[0]!.lower[j]!;
      curve.upper[i] = naive.curves[0]!.upper[j]!;
    });
    rec.resultJson = JSON.stringify(released);
    entries[k] = resignEntry(secret, entries[k]!, utf8(JSON.stringify(rec)));
    rebuildTranscript(file, entries, secret);
    const bad = verifyTranscript(file, roster, { schema });
    expect(bad.ok).toBe(false);
    expect(bad.failure!.index).toBe(file.from + k);
    expect(bad.failure!.reason).toMatch(/released result differs from finalize\(\) of the recomputed sums/);
  }, 60_000);

  it('over 24 repetitions, histogram counts are centred on the central counts with the declared standard deviation', async () => {
    const c = fed.client('noise-check');
    const z: number[] = [];
    try {
      for (let batch = 0; batch < 4; batch++) {
        const outs = await Promise.all(Array.from({ length: 6 }, () => c.run(fine, { privacy: { rho: 0.3 } })));
        for (const o of outs) {
          expect(o.status, o.error).toBe('done');
          expect(o.contributors).toHaveLength(3);
          expect(o.rhoCharged).toBe(0.3);
          expect(o.rhoSpent).toBeLessThan(0.3); // 3 > t contributors add more noise than needed
          // aggregate = [bins…, below, above] on the integer grid; noise_std is declared per entry
          expect(o.aggregate).toHaveLength(fineCounts.length);
          o.aggregate.forEach((x, i) => z.push((x - fineCounts[i]!) / o.noiseStd[i]!));
        }
      }
    } finally {
      c.close();
    }
    // 24 releases × 57 entries = 1368 standardized noise values, independent, each ~N(0, 1) if the
    // declared scale is right (Skellam of this variance is normal to within its tiny kurtosis). The
    // centre is known, so Σz² ~ χ²(1368): both of its tails at 1e-6 (≈ 4.75 sd) and |Σz| < 5·√n
    // (5 sd) fail a calibrated mechanism with probability < 3e-6 per run. A declared sd off by 20%
    // (variance × 1.44 or × 0.64) moves Σz²/n to ≈ 1.44 or 0.64, beyond the tails (1.19 and 0.83)
    // by > 4.7 of its sd: it fails with probability > 0.9999. (Before: 144 values, variance within
    // [0.55, 1.45], failed a calibrated mechanism in ~4e-4 of runs.)
    const n = z.length;
    const sumSq = z.reduce((a, b) => a + b * b, 0);
    const upper = chiSquareSurvival(sumSq, n);
    expect(n).toBe(1368);
    expect(Math.abs(z.reduce((a, b) => a + b, 0)) / Math.sqrt(n)).toBeLessThan(5);
    expect(upper, `Σz²/n = ${(sumSq / n).toFixed(3)}`).toBeGreaterThan(1e-6);
    expect(upper, `Σz²/n = ${(sumSq / n).toFixed(3)}`).toBeLessThan(1 - 1e-6);
  }, 180_000);

  it('N concurrent queries against a budget that admits k of them: exactly k are released', async () => {
    const c = fed.client('concurrent');
    try {
      // budget 10 per analyst; 8 concurrent queries at rho = 3 → exactly 3 fit.
      const submitted = await Promise.allSettled(Array.from({ length: 8 }, () => c.submit(histogram, { privacy: { rho: 3 } })));
      const accepted = submitted.filter((s) => s.status === 'fulfilled');
      const refused = submitted.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
      expect(accepted).toHaveLength(3);
      for (const r of refused) {
        expect(r.reason).toBeInstanceOf(AnalystError);
        expect((r.reason as AnalystError).code).toBe(status.RESOURCE_EXHAUSTED);
        expect((r.reason as AnalystError).message).toMatch(/remaining 1 of 10/);
      }
      for (const a of accepted) {
        const { queryId } = (a as PromiseFulfilledResult<{ queryId: string }>).value;
        await c.watch(queryId, () => {});
        expect((await c.getResult(queryId)).status).toBe('done');
      }
      const b = await c.getBudget();
      expect(b.spentRho).toBeCloseTo(9, 12);
      expect(b.entries.filter((e) => e.kind === 'charge')).toHaveLength(3);
    } finally {
      c.close();
    }
  }, 120_000);

  it('an exact query runs where the aggregator and every party allow it', async () => {
    const c = fed.client('x');
    try {
      const o = await c.run({ kind: 'count', columns: [], filter: [] });
      expect(o.status).toBe('done');
      expect(o.rhoCharged).toBe(0);
      expect(o.noiseStd).toEqual([]);
      // Every party refuses an exact count of too few records (its minCohort): the failure leads
      // with what the parties said, not the protocol's jargon, and carries the refusals.
      const none = await c.run({ kind: 'count', columns: [], filter: [{ column: 'age', op: 'ge', values: [99.9] }] });
      expect(none.status).toBe('failed');
      expect(none.error).toMatch(/^refused by 3 parties \(hospital-\d: .*fewer than .*\); then /);
      expect(none.refusals.map((r) => r.partyId).sort()).toEqual(['hospital-1', 'hospital-2', 'hospital-3']);
    } finally {
      c.close();
    }
  });
});

/**
 * With the aggregator started with the hold-before-release hook, submits a DP histogram as analyst
 * "crash" and waits until it is held (unmasked, charged, not yet released).
 */
async function holdAQuery(fed: LocalFederation): Promise<{ before: number; queryId: string }> {
  await fed.waitConnected(['hospital-1', 'hospital-2', 'hospital-3'], 60_000);
  const c = fed.client('crash');
  try {
    const before = (await c.getBudget()).spentRho;
    const { queryId } = await c.submit(histogram, { privacy: { rho: 0.4 } });
    await new Promise<void>((resolve, reject) => {
      c.watch(queryId, (ev) => {
        if (ev.stage === 'holding') resolve();
      }).catch(reject);
    });
    return { before, queryId };
  } finally {
    c.close();
  }
}

describe('budgets across a crash, and a party that enforces its own', () => {
  let fed: LocalFederation;
  beforeAll(async () => {
    fed = await LocalFederation.start({
      dir: join(root, 'b'), schemaPath, partyData: parts, threshold: 2, budgetRho: 10, analysts: ['ledger', 'crash'],
      partyPolicy: { 0: { budgetRho: 100 }, 1: { budgetRho: 100 }, 2: { budgetRho: 0.5, allowExact: false } },
    });
  }, 120_000);
  afterAll(async () => {
    await fed?.stop();
  });

  it('a party refuses exact queries and, once its own ledger is exhausted, DP queries too; the others still answer', async () => {
    const c = fed.client('ledger');
    try {
      const exact = await c.run(histogram);
      expect(exact.refusals.map((r) => r.partyId)).toEqual(['hospital-3']);
      expect(exact.refusals[0]!.reason).toMatch(/only differentially private/);
      const first = await c.run(histogram, { privacy: { rho: 0.3 } });
      expect(first.contributors).toEqual(['hospital-1', 'hospital-2', 'hospital-3']);
      const second = await c.run(histogram, { privacy: { rho: 0.3 } });
      expect(second.status).toBe('done');
      expect(second.contributors).toEqual(['hospital-1', 'hospital-2']);
      expect(second.refusals).toEqual([{ partyId: 'hospital-3', reason: expect.stringMatching(/privacy budget would be exceeded: query rho = 0.3, remaining 0.2 of 0.5/) }]);
    } finally {
      c.close();
    }
  }, 60_000);

  it('SIGKILL between the charge and the release loses no charge and releases nothing', async () => {
    await fed.killAggregator('SIGKILL');
    await fed.startAggregator({ BLINDSUM_TEST_HOLD_BEFORE_RELEASE: '1' });
    const { before, queryId } = await holdAQuery(fed);
    await fed.killAggregator('SIGKILL');
    await fed.startAggregator();
    await fed.waitConnected(['hospital-1', 'hospital-2', 'hospital-3'], 60_000);
    const c = fed.client('crash');
    try {
      const r = await c.getResult(queryId);
      expect(r.status).toBe('failed');
      expect(r.error).toMatch(/restarted/);
      expect(r.resultJson).toBe('');
      expect(r.aggregate).toEqual([]);
      const b = await c.getBudget();
      expect(b.spentRho).toBeCloseTo(before + 0.4, 12);
      expect(b.entries.filter((e) => e.kind === 'refund')).toHaveLength(0);
    } finally {
      c.close();
    }
  }, 120_000);

  it('SIGTERM with a query held past its point of no return: the aggregator refuses new work and exits within its bound; nothing is released, the charge stands, and ledger and transcript agree', async () => {
    await fed.killAggregator('SIGKILL');
    await fed.startAggregator({ BLINDSUM_TEST_HOLD_BEFORE_RELEASE: '1', BLINDSUM_SHUTDOWN_TIMEOUT_MS: '3000' });
    const { before, queryId } = await holdAQuery(fed);
    // The bound is shown by the exit itself (the held query would never end on its own) and by the
    // log line of the 3 s timer below, not by a wall-clock assertion (a loaded machine may be slow).
    await fed.killAggregator('SIGTERM');
    const log = fed.logTail('aggregator.log', 40);
    expect(log).toMatch(/SIGTERM: stopping \(refusing new work, failing running work, flushing; at most 3 s\)/);
    expect(log).toMatch(/shutdown did not finish in 3 s; exiting/);
    await fed.startAggregator();
    await fed.waitConnected(['hospital-1', 'hospital-2', 'hospital-3'], 60_000);
    const c = fed.client('crash');
    try {
      const r = await c.getResult(queryId);
      expect(r.status).toBe('failed');
      expect(r.resultJson).toBe('');
      const b = await c.getBudget();
      expect(b.spentRho).toBeCloseTo(before + 0.4, 12); // past Unmasking: no refund
    } finally {
      c.close();
    }
    const file = exportTranscript(fed.aggregatorDataDir, {}, join(root, 'sigterm-transcript.json'));
    const report = verifyTranscript(file, loadRoster(fed.rosterPath), { schema });
    expect(report.ok, JSON.stringify(report.failure)).toBe(true);
  }, 120_000);
});
