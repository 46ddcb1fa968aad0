/**
 * DP training rounds (stats/kinds/train-dp.ts) through the real plan, party sums, noise shares and
 * post-processing of every query: the decoded update is the exact clipped-gradient sum plus noise
 * of the planned size; the noise is calibrated; the job's ε is what the subsampled Skellam
 * accountant gives and every node refuses a round charged less than its share; the mechanism the
 * client chooses meets the ε it asked for.
 */
import { describe, expect, it } from 'vitest';
import { releasedStdDev } from '../crypto/dp/distributed.ts';
import { planDdp, planEpsilon } from '../crypto/dp/ddp-plan.ts';
import { centralTrainRound } from '../stats/kinds/train-round.ts';
import { chooseTrainDp, trainDpGeometry, trainDpPlan } from '../stats/kinds/train-dp.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { DP_GRID_BITS, finalize, localStatistics, noiseShare, planNoise, planQuery, spentRho, splitDataset, type Query } from '../stats/index.ts';
import type { TrainRoundResult } from '../stats/kinds/types.ts';
import { encodeFeatures } from '../stats/train/index.ts';
import { loadExample } from './stats-helpers.ts';

const flchain = loadExample('flchain');
const schema = flchain.schema;
const COLUMNS = ['age', 'sex', 'creatinine', 'kappa', 'lambda'];
const N = encodeFeatures({ columns: COLUMNS, target: 'death', positive: ['1'] }, schema, flchain.dataset).rows;
const ROSTER = { parties: 3, threshold: 2, collusion: 0 };
const parts = splitDataset(flchain.dataset, 3, 'train-dp');

function query(dp: NonNullable<Query['train']>['dp'], over: Partial<NonNullable<Query['train']>> = {}): Query {
  return { kind: 'train_round', columns: COLUMNS, target: 'death', positive: ['1'], filter: [], job: 'j', round: 1, train: { model: 'logistic', clip: 1, learningRate: 1, optimizer: 'sgd', expectedBatch: N, seed: 'dp', ...over, ...(dp ? { dp } : {}) } };
}

/**
 * Three parties' noisy sums of a DP round, decoded (the real party and release code paths). The
 * noise shares are drawn from a seeded source (the parties' rounding of the gradients inside
 * localStatistics still draws from the OS).
 */
function dpRound(q: Query, rho: number, seed: number): { result: TrainRoundResult; std: number; gamma: number } {
  const plan = planQuery(q, schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
  const np = planNoise(q, schema, plan, { rho, ...ROSTER });
  const sums = plan.entries.map(() => 0n);
  const rng = seededRandomSource(new Uint8Array(32).fill(seed));
  for (const p of parts) {
    const local = localStatistics(q, schema, plan, p).sums;
    const share = noiseShare(np, rng);
    local.forEach((s, i) => (sums[i]! += s + share[i]!));
  }
  const g = trainDpGeometry(q, schema);
  return { result: finalize(q, schema, plan, sums) as TrainRoundResult, std: releasedStdDev(np.perEntry[0]!.noise, 3) / g.gamma, gamma: g.gamma };
}

describe('a DP training round releases the clipped-gradient sum plus calibrated noise', () => {
  it('with a small noise multiplier the decoded update is the exact round\'s to within the noise and rounding', () => {
    const dp = { noiseMultiplier: 0.05, scaleBits: 12, delta: 1e-6, rounds: 1 };
    const q = query(dp);
    const { jobRho } = trainDpPlan(q, schema, ROSTER);
    const { result, std, gamma } = dpRound(q, jobRho, 1);
    const exact = centralTrainRound(query(undefined), schema, flchain.dataset);
    const P = exact.parameters.length;
    // nextState = params − lr·grad/expectedBatch: compare the implied gradient sums coordinate by coordinate.
    const grad = (r: TrainRoundResult): number[] => r.nextState!.slice(0, P).map((x, i) => (r.parameters[i]! - x) * N);
    const tol = 6 * std + 6 * Math.sqrt(N / 4) / gamma; // noise + conditional-rounding error (≤ 1/2 grid per row, independent)
    grad(result).forEach((x, i) => expect(Math.abs(x - grad(exact)[i]!), `gradient[${i}]`).toBeLessThan(tol));
    expect(result.meanLoss).toBeNull();
    expect(result.notes.join(' ')).toMatch(/number of sampled rows is not released/);
  });

  it('the released noise has the planned variance (chi-square over 400 coordinate draws, no data)', () => {
    const dp = { noiseMultiplier: 1, scaleBits: 8, delta: 1e-6, rounds: 4 };
    const q = query(dp, { model: 'mlp', hidden: [8] });
    const plan = planQuery(q, schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const np = planNoise(q, schema, plan, { rho: 100, ...ROSTER });
    const sd = releasedStdDev(np.perEntry[0]!.noise, 3);
    let ss = 0;
    let m = 0;
    const rng = seededRandomSource(new Uint8Array(32).fill(2));
    while (m < 400) {
      const total = plan.entries.map(() => 0n);
      for (let p = 0; p < 3; p++) noiseShare(np, rng).forEach((v, i) => (total[i]! += v));
      for (const v of total) {
        ss += (Number(v) / sd) ** 2;
        m++;
      }
    }
    // Σ of m standard normal squares: mean m, sd √(2m); 5 sd either side (seeded: the same draws on
    // every run; unseeded, χ²'s upper tail made a chance failure ~3e-6 per run). A σ off by 20%
    // moves Σ by 0.44m = 15 sd (m ≥ 400): it fails.
    expect(Math.abs(ss - m)).toBeLessThan(5 * Math.sqrt(2 * m));
    // The planned σ is z·Δ₂ for t − c = 2 honest contributors: 3 parties carry 3/2 of its variance.
    const g = trainDpGeometry(q, schema);
    expect(sd).toBeGreaterThanOrEqual(Math.sqrt(1.5) * g.l2Bound * 0.999);
    expect(sd).toBeLessThan(Math.sqrt(1.5) * g.l2Bound * 1.01);
  });
});

describe('the job\'s privacy cost', () => {
  const dp = { noiseMultiplier: 1.1, scaleBits: 10, delta: 1e-6, rounds: 20 };
  it('is the subsampled Skellam accountant\'s ε of planDdp at the same γ (the library the analyst can check)', () => {
    const q = query(dp, { samplingRate: 0.05 });
    const own = trainDpPlan(q, schema, ROSTER);
    const lib = planDdp({ d: 6, clip: 1, ...ROSTER, units: 3 * schema.maxRowsPerParty, noiseMultiplier: 1.1, bits: own.plan.bits });
    if (lib.scaleBits === 10) expect(own.epsilon).toBeCloseTo(planEpsilon(lib, { samplingRate: 0.05, rounds: 20, delta: 1e-6 }).epsilon, 9);
    expect(own.plan.scaleBits).toBe(10);
    expect(own.epsilon).toBeGreaterThan(0);
    // Subsampling helps: the same job at rate 1 costs more.
    expect(trainDpPlan(query(dp), schema, ROSTER).epsilon).toBeGreaterThan(own.epsilon);
  });

  it('a round charged less than its share of the job is refused by the noise planner every node runs', () => {
    const q = query(dp, { samplingRate: 0.05 });
    const { jobRho } = trainDpPlan(q, schema, ROSTER);
    const plan = planQuery(q, schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    expect(() => planNoise(q, schema, plan, { rho: (jobRho / 20) * 0.9, ...ROSTER })).toThrow(/does not cover its share of the job: 20 rounds at noise multiplier 1.1 are \(epsilon = /);
    const np = planNoise(q, schema, plan, { rho: jobRho / 20, ...ROSTER });
    expect(spentRho(np, 3)).toBeCloseTo(jobRho / 20, 12);
  });

  it('more colluding parties cost more: the noise of t − c honest contributors is all that counts', () => {
    const q = query(dp, { samplingRate: 0.05 });
    const a = trainDpPlan(q, schema, { parties: 5, threshold: 4, collusion: 0 });
    const b = trainDpPlan(q, schema, { parties: 5, threshold: 4, collusion: 2 });
    expect(b.plan.noise.perPartyMu.num * a.plan.noise.perPartyMu.den).toBeGreaterThan(a.plan.noise.perPartyMu.num * b.plan.noise.perPartyMu.den);
    expect(Math.abs(a.epsilon - b.epsilon)).toBeLessThan(1e-9 * a.epsilon + 1e-12);
  });

  it('the client\'s choice meets the ε it asks for, and a smaller noise would not', () => {
    const q = query(undefined, { samplingRate: 0.05 });
    const chosen = chooseTrainDp(q, schema, ROSTER, { epsilon: 1, delta: 1e-6, rounds: 20 });
    const eps = trainDpPlan(query(chosen, { samplingRate: 0.05 }), schema, ROSTER).epsilon;
    expect(eps).toBeLessThanOrEqual(1);
    expect(eps).toBeGreaterThan(0.95);
    const smaller = { ...chosen, noiseMultiplier: chosen.noiseMultiplier * 0.98 };
    expect(trainDpPlan(query(smaller, { samplingRate: 0.05 }), schema, ROSTER).epsilon).toBeGreaterThan(1);
  });
});

describe('record-level DP with several rows per patient', () => {
  it('a schema with rowsPerPatient k sizes the noise for k rounded rows and accounts one patient at sampling rate 1 − (1 − q)^k', () => {
    const k2 = { ...schema, rowsPerPatient: 2 };
    const dp = { noiseMultiplier: 1, scaleBits: 10, delta: 1e-6, rounds: 10 };
    const one = trainDpPlan(query(dp, { samplingRate: 0.1 }), schema, ROSTER);
    const two = trainDpPlan(query(dp, { samplingRate: 0.1 }), k2, ROSTER);
    const v = (p: typeof one): number => Number(p.plan.noise.targetVariance.num) / Number(p.plan.noise.targetVariance.den);
    // σ = z·k·Δ₂: four times the variance, the same Δ₂.
    expect(two.plan.l2Bound).toBe(one.plan.l2Bound);
    expect(v(two) / v(one)).toBeGreaterThan(3.99);
    expect(v(two) / v(one)).toBeLessThan(4.01);
    // The same noise relative to a patient's sensitivity, a patient sampled more often: ε grows.
    expect(two.epsilon).toBeGreaterThan(one.epsilon);
  });
});
