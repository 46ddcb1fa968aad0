/**
 * The federated Cox model (kind cox, rounds driven by runJob) equals R's
 * coxph(Surv(tbin, event) ~ ..., ties = "breslow") on the grid-binned times of pbc and flchain
 * (values made by test/reference/cox.R, committed in test/reference/cox.json), equals the central
 * float64 fit, and still converges to R's fit on the remaining rows when a party drops out after
 * round 1. Each round is planned (fixed-point grid, 64-bit ring) for the session's parties, each
 * party's exact integer sums are added in the ring as secure aggregation does, and finalize turns
 * them into the round's result.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  centralResult, compareResults, finalize, fromRing, localStatistics, planQuery, splitDataset,
  splitDatasetByColumn, toRing,
} from '../stats/index.ts';
import type { CoxResult, CoxTest, Dataset, Query, Schema } from '../stats/index.ts';
import { runJob } from '../stats/iterative.ts';
import { centralCox } from '../stats/kinds/cox-fit.ts';
import { loadExample } from './stats-helpers.ts';

interface RTest { statistic: number; df: number; p: number }
interface RFit {
  terms: string[]; coefficients: number[]; hazardRatios: number[]; standardErrors: number[]; z: number[]; p: number[];
  lower95: number[]; upper95: number[]; loglik: [number, number]; likelihoodRatio: RTest; wald: RTest; score: RTest;
  n: number; events: number; iter: number; iterDefault: number;
}
const R = JSON.parse(readFileSync('test/reference/cox.json', 'utf8')) as Record<'pbc' | 'pbcDropout' | 'flchain' | 'flchainDropout', RFit>;

const pbc = loadExample('pbc');
const flchain = loadExample('flchain');
const PBC: Query = { kind: 'cox', columns: ['age', 'bili', 'albumin', 'protime', 'edema', 'sex'], time: 'time', event: 'status', positive: ['2'], filter: [] };
const FLCHAIN: Query = { kind: 'cox', columns: ['age', 'sex', 'creatinine', 'kappa', 'lambda'], time: 'futime', event: 'death', positive: ['1'], filter: [] };

/**
 * One round at a time: plan for all `parts` (the session's parties), the exact sums of the parties
 * present in that round added in the 64-bit ring, then finalize.
 */
function federated(schema: Schema, parts: Dataset[], present: (round: number) => number[] = () => parts.map((_, i) => i)) {
  return async (round: Query): Promise<CoxResult> => {
    const plan = planQuery(round, schema, { parties: parts.length, ringBits: 64 });
    const ring = present(round.round!).map((i) => toRing(localStatistics(round, schema, plan, parts[i]!).sums, 64));
    const sums = fromRing(plan.entries.map((_, k) => ring.reduce((a, r) => a + r[k]!, 0n) & ((1n << 64n) - 1n)), 64);
    return finalize(round, schema, plan, sums) as CoxResult;
  };
}

const rel = (a: number | null, b: number): number => (a === null ? Infinity : a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b)));

/** Largest relative difference from R over every reported number (an R p value of 0 underflowed: ours must be below 1e-300). */
function worstAgainstR(res: CoxResult, ref: RFit, withScore = true): { field: string; rel: number } {
  let worst = { field: '', rel: 0 };
  const see = (field: string, ours: number | null, theirs: number): void => {
    const d = theirs === 0 ? (ours !== null && Math.abs(ours) < 1e-300 ? 0 : Infinity) : rel(ours, theirs);
    if (!(d <= worst.rel)) worst = { field, rel: d };
  };
  for (const f of ['coefficients', 'hazardRatios', 'standardErrors', 'z', 'p', 'lower95', 'upper95'] as const) {
    ref[f].forEach((v, i) => see(`${f}[${i}]`, res[f][i]!, v));
  }
  see('loglikNull', res.loglikNull, ref.loglik[0]);
  see('loglik', res.loglik, ref.loglik[1]);
  for (const t of ['likelihoodRatio', 'wald', ...(withScore ? ['score' as const] : [])] as const) {
    const ours: CoxTest | null = res[t];
    see(`${t}.statistic`, ours?.statistic ?? null, ref[t].statistic);
    see(`${t}.p`, ours?.p ?? null, ref[t].p);
    expect(ours?.df, t).toBe(ref[t].df);
  }
  return worst;
}

describe('cox against R (coxph, ties = "breslow", on the grid-binned times)', () => {
  for (const [name, ex, q] of [['pbc', pbc, PBC], ['flchain', flchain, FLCHAIN]] as const) {
    it(`${name}: 3 parties equal R to 1e-6 relative on coefficients, SEs, z, p, HR CIs, loglik and the LR, Wald and score tests`, async () => {
      const ref = R[name];
      const parts = splitDataset(ex.dataset, 3, `cox-${name}`);
      const { result, rounds } = await runJob(q, ex.schema, federated(ex.schema, parts));
      expect(result.terms).toEqual(ref.terms);
      expect([result.n, result.events]).toEqual([ref.n, ref.events]);
      expect(result.converged).toBe(true);
      expect(result.iterations).toBe(rounds.length);
      const worst = worstAgainstR(result, ref);
      expect(worst.rel, `worst field ${worst.field}`).toBeLessThan(1e-6);
      // R's iteration count (Newton steps, its default eps 1e-9) and ours (rounds, each one evaluation).
      expect(rounds.length).toBeLessThanOrEqual(ref.iterDefault + 2);
    });
  }

  it('pbc: the first Newton step from β = 0 overshoots and the next round halves it, as coxph does', async () => {
    const { rounds } = await runJob(PBC, pbc.schema, federated(pbc.schema, [pbc.dataset]));
    expect(rounds[1]!.objective!).toBeGreaterThan(rounds[0]!.objective!);
    rounds[2]!.state.forEach((s, i) => expect(s).toBeCloseTo((rounds[0]!.state[i]! + rounds[1]!.state[i]!) / 2, 15));
    expect(rounds[2]!.objective!).toBeLessThan(rounds[0]!.objective!);
    // The round at β = 0 carries the score (log-rank) test; later rounds do not.
    expect(rounds[0]!.score!.statistic).toBeCloseTo(R.pbc.score.statistic, 8);
    expect(rounds[1]!.score).toBeNull();
  });

  it('with ε = 1e-12 the pbc fit equals R to 1e-9 (the fixed-point grid is not what limits it)', async () => {
    const { result } = await runJob(PBC, pbc.schema, federated(pbc.schema, splitDataset(pbc.dataset, 3, 'tight')), { epsilon: 1e-12, maxRounds: 50 });
    expect(result.converged).toBe(true);
    const worst = worstAgainstR(result, R.pbc);
    expect(worst.rel, `worst field ${worst.field}`).toBeLessThan(1e-9);
  });
});

describe('cox: a party drops out between rounds', () => {
  it('pbc, parties by trt: the not-randomised party leaves after round 1; the fit equals R on the 312 randomised rows', async () => {
    const parts = splitDatasetByColumn(pbc.dataset, 'trt'); // trt 1, trt 2, (missing)
    expect(parts.map((d) => d.rowCount)).toEqual([158, 154, 106]);
    const { result, rounds } = await runJob(PBC, pbc.schema, federated(pbc.schema, parts, (r) => (r === 1 ? [0, 1, 2] : [0, 1])));
    expect(rounds[0]!.n).toBe(R.pbc.n);
    expect([result.n, result.events]).toEqual([R.pbcDropout.n, R.pbcDropout.events]);
    expect(result.converged).toBe(true);
    const worst = worstAgainstR(result, R.pbcDropout, false);
    expect(worst.rel, `worst field ${worst.field}`).toBeLessThan(1e-6);
    // No round at β = 0 over the remaining rows: no score test, and the notes say why.
    expect(result.score).toBeNull();
    expect(result.notes.join('\n')).toMatch(/score \(log-rank\) test not reported/);
    expect(result.notes.join('\n')).toMatch(/round 2 was over other rows than round 1 \(n = 416 then 312\)/);
  });

  it('flchain, 10 parties by flc.grp: the flc.grp 10 party leaves after round 1; the fit equals R without it', async () => {
    const parts = splitDatasetByColumn(flchain.dataset, 'flc.grp');
    expect(parts).toHaveLength(10);
    const grp = parts[9]!.columns.get('flc.grp');
    expect(grp?.kind === 'categorical' && grp.codes.every((c) => c === 9)).toBe(true);
    const { result } = await runJob(FLCHAIN, flchain.schema, federated(flchain.schema, parts, (r) => (r === 1 ? parts.map((_, i) => i) : parts.slice(0, 9).map((_, i) => i))));
    expect([result.n, result.events]).toEqual([R.flchainDropout.n, R.flchainDropout.events]);
    expect(result.converged).toBe(true);
    const worst = worstAgainstR(result, R.flchainDropout, false);
    expect(worst.rel, `worst field ${worst.field}`).toBeLessThan(1e-6);
  });
});

describe('cox: federated equals the central fit', () => {
  const cases: [string, typeof pbc, Query][] = [
    ['pbc', pbc, PBC],
    ['pbc, age ≥ 40 and trt given, transplant counted as an event', pbc, { ...PBC, columns: ['age', 'bili', 'stage'], positive: ['1', '2'], filter: [{ column: 'age', op: 'ge', values: [40] }, { column: 'trt', op: 'in', values: ['1', '2'] }] }],
    ['flchain on 25 bins', flchain, { ...FLCHAIN, bins: Array.from({ length: 26 }, (_, i) => (10000 * i) / 25) }],
  ];
  for (const [name, ex, q] of cases) {
    it(`${name}: the same rounds, objectives to 1e-6 relative, and the answer equal to the central float64 computation to 1e-9 relative`, async () => {
      const fed = await runJob(q, ex.schema, federated(ex.schema, splitDataset(ex.dataset, 3, name)));
      const cen = await runJob(q, ex.schema, async (round) => centralCox(round, ex.schema, ex.dataset));
      expect(fed.rounds.length).toBe(cen.rounds.length);
      // Far from the fit (the overshooting first step) the weights span more than the two words carry,
      // so only the objective is compared there: it is what the driver decides on.
      fed.rounds.forEach((r, i) => expect(rel(r.objective, cen.rounds[i]!.objective!), `round ${i + 1}`).toBeLessThan(1e-6));
      expect(compareResults(fed.result, cen.result).maxRelDiff).toBeLessThan(1e-9);
      expect(fed.result.converged).toBe(true);
      // centralResult answers a cox query with the fit (the same driver over central rounds).
      expect(compareResults(fed.result, centralResult(q, ex.schema, ex.dataset)).maxRelDiff).toBeLessThan(1e-9);
    });
  }
});
