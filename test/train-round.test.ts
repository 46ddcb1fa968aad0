/**
 * Training rounds (train_round) as iterative jobs: without noise, three parties' rounds train
 * exactly the model the central trainer (stats/train/central.ts trainCentral) trains on the pooled
 * rows with the same seed and full batches — logistic regression with FedSGD and an MLP with
 * FedAdam — up to the fixed-point grid (2^-40 per example and coordinate); every round equals the
 * central round computed by stats/train's own code; malformed plans (and a DP round without its
 * mechanism) are refused with their reason before any data is read.
 */
import { describe, expect, it } from 'vitest';
import { runJob } from '../stats/iterative.ts';
import { centralTrainRound } from '../stats/kinds/train-round.ts';
import {
  DP_GRID_BITS, finalize, localStatistics, planQuery, splitDataset, validateQuery, type Dataset, type Query, type Schema,
} from '../stats/index.ts';
import type { TrainRoundResult } from '../stats/kinds/types.ts';
import { encodeFeatures, network, trainCentral, type ModelSpec } from '../stats/train/index.ts';
import { loadExample } from './stats-helpers.ts';

const flchain = loadExample('flchain');
const COLUMNS = ['age', 'sex', 'creatinine', 'kappa', 'lambda'];
const N = encodeFeatures({ columns: COLUMNS, target: 'death', positive: ['1'] }, flchain.schema, flchain.dataset).rows;

function round(schema: Schema, parts: Dataset[]) {
  return async (r: Query): Promise<TrainRoundResult> => {
    const plan = planQuery(r, schema, { parties: parts.length, ringBits: 64 });
    const sums = plan.entries.map(() => 0n);
    for (const p of parts) localStatistics(r, schema, plan, p).sums.forEach((s, i) => (sums[i]! += s));
    const res = finalize(r, schema, plan, sums) as TrainRoundResult;
    // Each round also equals the central round computed with stats/train's own code.
    const central = centralTrainRound(r, schema, flchain.dataset);
    expect(res.n).toBe(central.n);
    res.nextState!.forEach((x, i) => expect(Math.abs(x - central.nextState![i]!)).toBeLessThan(1e-9 * Math.max(1, Math.abs(x))));
    return res;
  };
}

const CASES: [string, Query, ModelSpec][] = [
  ['logistic regression, FedSGD', { kind: 'train_round', columns: COLUMNS, target: 'death', positive: ['1'], filter: [], train: { model: 'logistic', clip: 1, learningRate: 1, optimizer: 'sgd', expectedBatch: N, seed: 'fed' } }, { type: 'logistic' }],
  ['MLP [16, 8], FedAdam', { kind: 'train_round', columns: COLUMNS, target: 'death', positive: ['1'], filter: [], train: { model: 'mlp', hidden: [16, 8], clip: 5, learningRate: 0.01, optimizer: 'adam', expectedBatch: N, seed: 'fed' } }, { type: 'mlp', hidden: [16, 8] }],
];

describe('training rounds without noise equal central training', () => {
  for (const [name, q, spec] of CASES) {
    it(`${name}: 15 rounds of three parties give the central trainer's parameters (full batches, same seed) to 1e-9`, async () => {
      const parts = splitDataset(flchain.dataset, 3, name);
      const { result, rounds } = await runJob(q, flchain.schema, round(flchain.schema, parts), { maxRounds: 15 });
      expect(rounds).toHaveLength(15); // training runs its planned rounds
      const data = encodeFeatures({ columns: COLUMNS, target: 'death', positive: ['1'] }, flchain.schema, flchain.dataset);
      const net = network(spec, data.d);
      const central = trainCentral(net, data.X, data.y, { rounds: 15, q: 1, clip: q.train!.clip, seed: 'fed', optimizer: q.train!.optimizer === 'adam' ? { kind: 'adam', lr: q.train!.learningRate } : { kind: 'sgd', lr: q.train!.learningRate } });
      const P = net.parameterCount;
      const fed = result.nextState!.slice(0, P); // the answer's next state: the parameters after round 15
      fed.forEach((x, i) => expect(Math.abs(x - central.params[i]!), `parameter ${i}`).toBeLessThan(1e-9 * Math.max(1, Math.abs(x))));
      expect(result.meanLoss!).toBeLessThan(rounds[0]!.meanLoss!); // it learned
    });
  }
});

describe('training rounds refused before any data is read', () => {
  const base = CASES[0]![1];
  it('a DP training round without its mechanism (train.dp) is refused with the reason', () => {
    expect(() => planQuery(base, flchain.schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS })).toThrow(/a differentially private train_round needs train.dp/);
  });
  const bad: [string, Partial<Query>, RegExp][] = [
    ['no training plan', { train: undefined }, /train_round needs train/],
    ['a state of the wrong length', { state: [1, 2] }, /this training plan has 6 parameters; got 2/],
    ['an MLP with too many hidden layers', { train: { ...base.train!, model: 'mlp', hidden: [4, 4, 4, 4, 4, 4, 4, 4, 4] } }, /hidden/],
  ];
  it.each(bad)('refuses %s', (_l, over, re) => {
    expect(() => validateQuery({ ...base, ...over } as Query, flchain.schema)).toThrow(re);
  });
});
