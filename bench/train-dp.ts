/**
 * Test AUC of DP training (docs/training.md § DP training): logistic regression on flchain (death)
 * and pbc (status 2 = death vs not), trained by federated DP-FedSGD rounds simulated in process
 * exactly as the federation runs them — three parties' sums of their rows' rotated, conditionally
 * rounded, clipped gradients (stats/plan.ts localStatistics under a DP plan) plus each party's
 * Skellam share (stats/privacy.ts noiseShare; t = 2, c = 0), post-processed by the kind — at
 * ε ∈ {1, 4} (δ = 1e-6) for the whole job, against:
 *   - central non-private training: the same rounds, sampling rate, learning rate and seed on the
 *     pooled training rows, without clipping or noise (stats/train/central.ts trainCentral);
 *   - the exact federated logistic regression (the MLE, which the federation computes exactly:
 *     stats/central-glm.ts equals it to 1e-6, test/e2e-models.test.ts).
 * The split: a quarter of the rows (seeded) is held out for the test AUC, the rest is spread over
 * the three parties. Prints the mean ± sd over seeds, the noise multiplier and ε.
 *
 *   ./node_modules/.bin/node bench/train-dp.ts [--seeds 5] [--epsilon 1,4]   (npm run bench -- train)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cryptoRandomSource } from '../crypto/dp/random.ts';
import { centralGlm } from '../stats/central-glm.ts';
import { runJob } from '../stats/iterative.ts';
import { buildDesign, designRows } from '../stats/kinds/design.ts';
import { chooseTrainDp, trainDpPlan } from '../stats/kinds/train-dp.ts';
import type { TrainRoundResult } from '../stats/kinds/types.ts';
import {
  buildDataset, DP_GRID_BITS, finalize, localStatistics, noiseShare, parseSchema, planNoise, planQuery, splitDataset, type Dataset, type Query, type Schema,
} from '../stats/index.ts';
import { auc, encodeFeatures, network, predict, trainCentral } from '../stats/train/index.ts';

interface Case { name: string; data: 'pbc' | 'flchain'; columns: string[]; target: string; positive: string[]; rate: number; rounds: number; lr: number; mlp?: number[] }

const CASES: Case[] = [
  { name: 'flchain death', data: 'flchain', columns: ['age', 'sex', 'creatinine', 'kappa', 'lambda', 'mgus'], target: 'death', positive: ['1'], rate: 0.05, rounds: 40, lr: 2 },
  { name: 'flchain death, MLP [16] (FedAdam)', data: 'flchain', columns: ['age', 'sex', 'creatinine', 'kappa', 'lambda', 'mgus'], target: 'death', positive: ['1'], rate: 0.05, rounds: 40, lr: 0.05, mlp: [16] },
  { name: 'pbc death', data: 'pbc', columns: ['age', 'bili', 'albumin', 'edema', 'protime'], target: 'status', positive: ['2'], rate: 0.5, rounds: 20, lr: 4 },
];
const ROSTER = { parties: 3, threshold: 2, collusion: 0 };

function load(name: 'pbc' | 'flchain'): { schema: Schema; dataset: Dataset } {
  const schema = parseSchema(JSON.parse(readFileSync(`examples/${name}/schema.json`, 'utf8')));
  return { schema, dataset: buildDataset(schema, readFileSync(`examples/${name}/${name}.csv`, 'utf8')).dataset };
}

/** Rows of `d` whose part (of 4, seeded) is `test` or not. */
function holdout(d: Dataset, seed: string): { train: Dataset; test: Dataset } {
  const parts = splitDataset(d, 4, seed);
  const train = concat(parts.slice(1));
  return { train, test: parts[0]! };
}

function concat(parts: Dataset[]): Dataset {
  // splitDataset of the concatenation is not needed: rebuild through CSV-free column copies.
  const first = parts[0]!;
  const columns = new Map<string, Dataset['columns'] extends Map<string, infer C> ? C : never>();
  for (const [name, col] of first.columns) {
    if (col.kind === 'numeric') columns.set(name, { ...col, values: Float64Array.from(parts.flatMap((p) => [...(p.columns.get(name) as typeof col).values])) });
    else columns.set(name, { ...col, codes: Int32Array.from(parts.flatMap((p) => [...(p.columns.get(name) as typeof col).codes])) });
  }
  return { ...first, columns, rowCount: parts.reduce((a, p) => a + p.rowCount, 0) };
}

function testAuc(q: Query, schema: Schema, test: Dataset, params: ArrayLike<number>): number {
  const data = encodeFeatures({ columns: q.columns, target: q.target!, positive: q.positive! }, schema, test);
  const net = network(q.train!.model === 'mlp' ? { type: 'mlp', hidden: q.train!.hidden! } : { type: 'logistic' }, data.d);
  return auc(predict(net, Float64Array.from(params), data.X), data.y);
}

function glmAuc(q: Query, schema: Schema, train: Dataset, test: Dataset): number {
  const fit = centralGlm({ kind: 'logistic_regression', columns: q.columns, target: q.target!, positive: q.positive!, filter: [] }, schema, train);
  const design = buildDesign(q.columns, schema);
  const rows = designRows(design, test);
  const enc = encodeFeatures({ columns: q.columns, target: q.target!, positive: q.positive! }, schema, test);
  const x = new Float64Array(design.terms.length);
  const scores: number[] = [];
  const ys: number[] = [];
  const target = test.columns.get(q.target!)!;
  const pos = new Set(q.positive!.map((lv) => (target as { levels: string[] }).levels.indexOf(lv)));
  for (let r = 0; r < test.rowCount; r++) {
    const code = (target as { codes: Int32Array }).codes[r]!;
    if (code < 0 || !rows(r, x)) continue;
    let eta = fit.coefficients[0]!;
    for (let j = 0; j < x.length; j++) eta += fit.coefficients[j + 1]! * (design.center[j]! + design.scale[j]! * x[j]!);
    scores.push(eta);
    ys.push(pos.has(code) ? 1 : 0);
  }
  if (ys.length !== enc.rows) throw new Error(`glmAuc: ${ys.length} complete test rows, the encoder has ${enc.rows}`);
  return auc(scores, ys);
}

async function dpTrain(q: Query, schema: Schema, parts: Dataset[], epsilon: number, rounds: number): Promise<{ params: number[]; z: number; eps: number; bits: number }> {
  const dp = chooseTrainDp(q, schema, ROSTER, { epsilon, delta: 1e-6, rounds });
  const job: Query = { ...q, train: { ...q.train!, dp } };
  const own = trainDpPlan(job, schema, ROSTER);
  const rng = cryptoRandomSource();
  const { result } = await runJob<TrainRoundResult & { converged?: boolean; iterations?: number }>(job, schema, async (round) => {
    const plan = planQuery(round, schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const np = planNoise(round, schema, plan, { rho: own.jobRho / rounds, ...ROSTER });
    const sums = plan.entries.map(() => 0n);
    for (const part of parts) {
      const local = localStatistics(round, schema, plan, part).sums;
      const noise = noiseShare(np, rng);
      local.forEach((s, i) => (sums[i]! += s + noise[i]!));
    }
    return finalize(round, schema, plan, sums) as TrainRoundResult;
  }, { maxRounds: rounds });
  return { params: result.nextState!.slice(0, result.parameters.length), z: dp.noiseMultiplier, eps: own.epsilon, bits: own.plan.bits };
}

const stat = (xs: number[]): string => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
  return `${m.toFixed(3)} ± ${sd.toFixed(3)}`;
};

export async function benchTrainDp(opts: { seeds?: number; epsilons?: number[] } = {}): Promise<void> {
  const seeds = opts.seeds ?? 5;
  const epsilons = opts.epsilons ?? [1, 4];
  console.log(`\n## DP training: test AUC (3 parties, t = 2, δ = 1e-6, ${seeds} seeds; mean ± sd)\n`);
  console.log('| data | rows (train/test) | rounds × rate | central non-private | exact federated LR (MLE) | ' + epsilons.map((e) => `DP ε = ${e} (z, bits)`).join(' | ') + ' | DP − central at ε = ' + epsilons[epsilons.length - 1] + ' |');
  console.log('|---|---|---|---|---|' + epsilons.map(() => '---|').join('') + '---|');
  for (const c of CASES) {
    const { schema, dataset } = load(c.data);
    const central: number[] = [];
    const glm: number[] = [];
    const dps = epsilons.map(() => ({ auc: [] as number[], z: 0, bits: 0, eps: 0 }));
    let sizes = '';
    for (let s = 0; s < seeds; s++) {
      const seed = `train-dp-${s}`;
      const { train, test } = holdout(dataset, seed);
      const parts = splitDataset(train, 3, seed);
      const enc = encodeFeatures({ columns: c.columns, target: c.target, positive: c.positive }, schema, train);
      const batch = enc.rows * c.rate;
      sizes = `${enc.rows}/${encodeFeatures({ columns: c.columns, target: c.target, positive: c.positive }, schema, test).rows}`;
      const q: Query = { kind: 'train_round', columns: c.columns, target: c.target, positive: c.positive, filter: [], train: { ...(c.mlp ? { model: 'mlp' as const, hidden: c.mlp, optimizer: 'adam' as const } : { model: 'logistic' as const, optimizer: 'sgd' as const }), clip: 1, learningRate: c.lr, expectedBatch: batch, seed, samplingRate: c.rate } };
      const cen = trainCentral(network(c.mlp ? { type: 'mlp', hidden: c.mlp } : { type: 'logistic' }, enc.d), enc.X, enc.y, { rounds: c.rounds, q: c.rate, seed, optimizer: { kind: c.mlp ? 'adam' : 'sgd', lr: c.lr } });
      central.push(testAuc(q, schema, test, cen.params));
      glm.push(glmAuc(q, schema, train, test));
      for (const [i, e] of epsilons.entries()) {
        const r = await dpTrain(q, schema, parts, e, c.rounds);
        dps[i]!.auc.push(testAuc(q, schema, test, r.params));
        Object.assign(dps[i]!, { z: r.z, bits: r.bits, eps: r.eps });
      }
    }
    const last = dps[dps.length - 1]!.auc;
    const gap = last.map((a, i) => a - central[i]!);
    console.log(`| ${c.name} | ${sizes} | ${c.rounds} × ${c.rate} | ${stat(central)} | ${stat(glm)} | ` + dps.map((d) => `${stat(d.auc)} (z = ${d.z.toFixed(2)}, ${d.bits} b)`).join(' | ') + ` | ${stat(gap)} |`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { seeds: { type: 'string' }, epsilon: { type: 'string' } } });
  await benchTrainDp({ ...(values.seeds ? { seeds: Number(values.seeds) } : {}), ...(values.epsilon ? { epsilons: values.epsilon.split(',').map(Number) } : {}) });
}
