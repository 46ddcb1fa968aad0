/**
 * DP training rounds against a curious analyst and a rule-breaking aggregator, through the real
 * party session logic (services/party/) and the real secure-aggregation server: a round signed at
 * a ρ below its share of the job (the aggregator forwarding it without its own check) is refused by
 * every party before its ledger moves; an honest DP round's release, decoded, is the exact round's
 * update plus noise of the planned size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releasedStdDev } from '../crypto/dp/distributed.ts';
import { chooseTrainDp, trainDpGeometry, trainDpPlan } from '../stats/kinds/train-dp.ts';
import { centralTrainRound } from '../stats/kinds/train-round.ts';
import { buildDataset, DP_GRID_BITS, finalize, planNoise, planQuery, type Query } from '../stats/index.ts';
import type { TrainRoundResult } from '../stats/kinds/types.ts';
import { partyFixture, PartyUnderTest, pbcCsv, pbcSchema, runSecAggSession, startSession, type PartyFixture } from './party-harness.ts';

const ROSTER = { parties: 3, threshold: 2, collusion: 0 };
const base: Query = {
  kind: 'train_round', columns: ['age', 'bili', 'sex'], target: 'status', positive: ['2'], filter: [], job: 'job-attack', round: 1,
  train: { model: 'logistic', clip: 1, learningRate: 1, optimizer: 'sgd', expectedBatch: 400, seed: 'attack', samplingRate: 0.5 },
};
const dp = chooseTrainDp(base, pbcSchema, ROSTER, { epsilon: 2, delta: 1e-6, rounds: 10 });
const q: Query = { ...base, train: { ...base.train!, dp } };
const { jobRho } = trainDpPlan(q, pbcSchema, ROSTER);

let dir: string;
let fx: PartyFixture;
let parties: PartyUnderTest[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-attack-train-dp-'));
  fx = partyFixture(dir, { n: 3, threshold: 2, policy: { allowExact: false } });
  parties = fx.configs.map((c) => new PartyUnderTest(c));
});

afterAll(async () => {
  for (const p of parties) await p.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a DP training round charged below its share of the job', () => {
  it('signed by the analyst and forwarded by an aggregator that skipped its check, is refused by every party with the job\'s cost; no ledger moves', async () => {
    const rho = (jobRho / dp.rounds) / 4;
    for (const p of parties) {
      const before = p.ledger.spent();
      const r = await p.handle({ $case: 'startSession', value: startSession(fx, p.cfg, randomUUID(), q, { rho }) });
      expect(r?.$case).toBe('refusal');
      expect(r?.$case === 'refusal' && r.value.reason).toMatch(/does not cover its share of the job: 10 rounds at noise multiplier [\d.]+ are \(epsilon = [\d.]+, delta = 1e-6\)-DP, rho = [\d.]+, so each round needs rho ≥/);
      expect(p.ledger.spent()).toBe(before);
    }
  });

  it('a round whose mechanism was tampered to less noise (same ρ) is refused the same way', async () => {
    const weak: Query = { ...q, train: { ...q.train!, dp: { ...dp, noiseMultiplier: dp.noiseMultiplier / 3 } } };
    const r = await parties[0]!.handle({ $case: 'startSession', value: startSession(fx, parties[0]!.cfg, randomUUID(), weak, { rho: jobRho / dp.rounds }) });
    expect(r?.$case === 'refusal' && r.value.reason).toMatch(/does not cover its share of the job/);
  });
});

describe('an honest DP training round through the parties\' session logic and the real SecAgg server', () => {
  it('is charged its share on every ledger, and decodes to the exact full-data update within the noise and the sampling', async () => {
    const rho = jobRho / dp.rounds;
    const start = startSession(fx, parties[0]!.cfg, randomUUID(), q, { rho });
    const plan = planQuery(q, pbcSchema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const out = await runSecAggSession(parties, start, plan.entries.length);
    if ('refused' in out) throw new Error(out.refused);
    for (const p of parties) expect(p.ledger.spent()).toBeCloseTo(rho, 12);
    const res = finalize(q, pbcSchema, plan, out.sums) as TrainRoundResult;
    const np = planNoise(q, pbcSchema, plan, { rho, ...ROSTER });
    const g = trainDpGeometry(q, pbcSchema);
    const std = releasedStdDev(np.perEntry[0]!.noise, 3) / g.gamma;
    // The full-data gradient sum, halved (rate 0.5): a sample's sum differs from it by a binomial
    // spread of at most √(N/4)·C per coordinate (each clipped gradient has norm ≤ 1).
    const exact = centralTrainRound({ ...base }, pbcSchema, buildDataset(pbcSchema, pbcCsv).dataset);
    const P = exact.parameters.length;
    const gradOf = (r: TrainRoundResult, scale: number): number[] => r.nextState!.slice(0, P).map((x, i) => ((r.parameters[i]! - x) * 400) * scale);
    const N = exact.n;
    gradOf(res, 1).forEach((x, i) => expect(Math.abs(x - gradOf(exact, 0.5)[i]!), `gradient[${i}]`).toBeLessThan(6 * std + 6 * Math.sqrt(N / 4)));
  });
});
