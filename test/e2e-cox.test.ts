/**
 * A Cox job end to end over both backends: a real aggregator (CKKS enabled) and 3 real parties in
 * process over gRPC on 127.0.0.1, the analyst's real client submitting one signed query per round
 * (runJob computes each next state from the released round, as the analyst's client does). The
 * pooled pbc fit equals R's coxph on the grid-binned times (test/reference/cox.json) with either
 * backend, round for round.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAnalystKey, type AnalystCkksKey } from '../client/ckks-analyst.ts';
import type { CoxResult, Query } from '../stats/index.ts';
import { runJob } from '../stats/iterative.ts';
import { startFederation, waitCollectiveKey, type InProcessFederation } from './ckks-inprocess.ts';
import { pbcSchema } from './party-harness.ts';

const R = JSON.parse(readFileSync('test/reference/cox.json', 'utf8')).pbc as { coefficients: number[]; standardErrors: number[]; p: number[]; loglik: number[]; n: number; events: number; score: { statistic: number } };
const Q: Query = { kind: 'cox', columns: ['age', 'bili', 'albumin', 'protime', 'edema', 'sex'], time: 'time', event: 'status', positive: ['2'], filter: [] };

let f: InProcessFederation;
let key: AnalystCkksKey;
beforeAll(async () => {
  f = await startFederation({ n: 3, threshold: 2 });
  await waitCollectiveKey(f);
  key = await generateAnalystKey();
}, 240_000);
afterAll(async () => {
  await f?.stop();
});

const rel = (a: number | null, b: number): number => (a === null ? Infinity : Math.abs(a - b) / Math.abs(b));

describe('cox end to end (aggregator, 3 parties, analyst client)', () => {
  for (const backend of ['secagg', 'ckks'] as const) {
    it(`${backend}: every round is a released query and the fit equals R on pbc`, async () => {
      const c = f.client();
      try {
        const { result, rounds } = await runJob(Q, pbcSchema, async (round) => {
          const o = await c.run(round, backend === 'ckks' ? { backend, ckksKey: key } : { backend });
          expect(o.status, o.error).toBe('done');
          expect(o.contributors).toEqual(f.ids);
          return o.result as CoxResult;
        });
        expect(result.converged).toBe(true);
        expect(rounds).toHaveLength(7);
        expect([result.n, result.events]).toEqual([R.n, R.events]);
        R.coefficients.forEach((b, i) => expect(rel(result.coefficients[i]!, b), `coefficient ${i}`).toBeLessThan(1e-6));
        R.standardErrors.forEach((s, i) => expect(rel(result.standardErrors[i]!, s), `SE ${i}`).toBeLessThan(1e-6));
        R.p.forEach((p, i) => expect(rel(result.p[i]!, p), `p ${i}`).toBeLessThan(1e-6));
        expect(rel(result.loglik, R.loglik[1]!)).toBeLessThan(1e-6);
        expect(rel(result.score!.statistic, R.score.statistic)).toBeLessThan(1e-6);
      } finally {
        c.close();
      }
    }, 240_000);
  }
});
