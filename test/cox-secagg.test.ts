/**
 * A Cox job whose every round is a real secure-aggregation session: the parties' real session logic
 * (services/party/, each with its own key, data part, policy and durable ledger) and the real
 * SecAggServer as the aggregator, in-process. The pooled fit equals R's coxph (test/reference/cox.json)
 * and a party leaving the session list after round 1 leaves R's fit on the remaining parties' rows.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalize, formatCsv, parseCsv, planQuery } from '../stats/index.ts';
import type { CoxResult, Query } from '../stats/index.ts';
import { runJob } from '../stats/iterative.ts';
import { partyFixture, PartyUnderTest, pbcCsv, pbcSchema, runSecAggSession, startSession, type PartyFixture } from './party-harness.ts';

const R = JSON.parse(readFileSync('test/reference/cox.json', 'utf8')) as Record<string, { coefficients: number[]; standardErrors: number[]; p: number[]; loglik: number[]; n: number; events: number; score: { statistic: number } }>;
const Q: Query = { kind: 'cox', columns: ['age', 'bili', 'albumin', 'protime', 'edema', 'sex'], time: 'time', event: 'status', positive: ['2'], filter: [] };

/** pbc's rows by trt: 1, 2, not randomised (empty). */
function byTrt(): string[] {
  const t = parseCsv(pbcCsv);
  const col = t.header.indexOf('trt');
  return ['1', '2', ''].map((v) => formatCsv(t.header, t.rows.filter((r) => r[col]!.trim() === v)));
}

let dir: string;
let fx: PartyFixture;
let parties: PartyUnderTest[];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-cox-secagg-'));
  fx = partyFixture(dir, { n: 3, threshold: 2, csvParts: byTrt() });
  parties = fx.configs.map((c) => new PartyUnderTest(c));
});
afterAll(async () => {
  for (const p of parties ?? []) await p.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One round: a secure-aggregation session over the listed parties, then finalize of the released sums. */
function secaggRound(present: (round: number) => number[]) {
  return async (round: Query): Promise<CoxResult> => {
    const ids = present(round.round!).map((i) => fx.ids[i]!);
    const start = startSession(fx, fx.configs[0]!, randomUUID(), round, { parties: ids });
    const plan = planQuery(round, pbcSchema, { parties: fx.ids.length, ringBits: 64 });
    const out = await runSecAggSession(parties.filter((p) => ids.includes(p.cfg.identity.id)), start, plan.entries.length);
    if ('refused' in out) throw new Error(`round ${round.round} refused: ${out.refused}`);
    return finalize(round, pbcSchema, plan, out.sums) as CoxResult;
  };
}

const rel = (a: number | null, b: number): number => (a === null ? Infinity : Math.abs(a - b) / Math.abs(b));
function expectR(res: CoxResult, ref: (typeof R)[string]): void {
  expect([res.n, res.events]).toEqual([ref.n, ref.events]);
  ref.coefficients.forEach((b, i) => expect(rel(res.coefficients[i]!, b), `coefficient ${i}`).toBeLessThan(1e-6));
  ref.standardErrors.forEach((s, i) => expect(rel(res.standardErrors[i]!, s), `SE ${i}`).toBeLessThan(1e-6));
  ref.p.forEach((p, i) => expect(rel(res.p[i]!, p), `p ${i}`).toBeLessThan(1e-6));
  expect(rel(res.loglik, ref.loglik[1]!)).toBeLessThan(1e-6);
}

describe('cox over real secure-aggregation sessions (3 party session logics, SecAggServer)', () => {
  it('every party in every round: the fit equals R on pbc', async () => {
    const { result, rounds } = await runJob(Q, pbcSchema, secaggRound(() => [0, 1, 2]));
    expect(result.converged).toBe(true);
    expectR(result, R.pbc!);
    expect(rel(result.score!.statistic, R.pbc!.score.statistic)).toBeLessThan(1e-6);
    expect(rounds.length).toBe(7);
  });

  it('the not-randomised party is left out of the sessions from round 2 on: the fit equals R on the randomised rows', async () => {
    const { result } = await runJob(Q, pbcSchema, secaggRound((r) => (r === 1 ? [0, 1, 2] : [0, 1])));
    expect(result.converged).toBe(true);
    expectR(result, R.pbcDropout!);
    expect(result.score).toBeNull();
  });
});
