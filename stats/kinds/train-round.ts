/**
 * train_round: one round of federated training (docs/training.md), an iterative kind
 * (stats/iterative.ts). At the public state — the model's parameters, then (FedAdam) the
 * optimizer's moments and step — every party sums, over its rows (all of them at sampling rate 1,
 * else a Poisson sample drawn with its own CSPRNG), the per-example gradients of the log loss, each
 * clipped to L2 norm ≤ C (stats/train/clip.ts), with the number of rows and their loss (each
 * example's loss capped at LOSS_CAP). The release post-processes into the server update
 * (stats/train/central.ts serverUpdate with the plan's public expected batch): the next state.
 *
 * Under differential privacy the round has its own vector mechanism (train-dp.ts: each example's
 * clipped gradient rotated, scaled and conditionally rounded, plus distributed Skellam noise), not
 * the per-entry noise of statistics queries.
 */
import type { Dataset } from '../dataset.ts';
import { QueryError, type Query, type TrainSpec } from '../query-types.ts';
import type { Schema } from '../schema.ts';
import { clipFactor, clippedGradientSum, l2norm, sampleRows } from '../train/clip.ts';
import { initOptimizerState, serverUpdate, type OptimizerState, type ServerOptimizer } from '../train/central.ts';
import { encodeFeatures, featureEncoding, rowEncoder, type FeatureEncoding } from '../train/features.ts';
import { initParams, network, perExampleGradient, type ModelSpec, type Network } from '../train/model.ts';
import { checkHoldout, holdoutMask, trainingRows } from '../train/holdout.ts';
import { cryptoRandomSource } from '../../crypto/dp/random.ts';
import { fixedValue } from '../fixed.ts';
import { ITERATIVE } from '../iterative.ts';
import type { Entry, KindDef, RowTerms, TrainRoundResult } from './types.ts';

/** Largest loss one example adds to the released loss sum (its log loss, capped). */
export const LOSS_CAP = 50;

export function trainParts(q: Query, schema: Schema): { spec: TrainSpec; enc: FeatureEncoding; model: ModelSpec; net: Network; optimizer: ServerOptimizer } {
  const spec = q.train;
  if (!spec) throw new QueryError('train_round needs train: the training plan');
  if (q.target === undefined) throw new QueryError('train_round needs target: the label column');
  const enc = featureEncoding({ columns: q.columns, target: q.target, ...(q.positive ? { positive: q.positive } : {}), coding: spec.coding ?? 'treatment' }, schema);
  const model: ModelSpec = spec.model === 'mlp' ? { type: 'mlp', hidden: spec.hidden ?? [16], classes: enc.classes } : { type: 'logistic', classes: enc.classes };
  const net = network(model, enc.d);
  const optimizer: ServerOptimizer = spec.optimizer === 'adam' ? { kind: 'adam', lr: spec.learningRate } : { kind: 'sgd', lr: spec.learningRate };
  return { spec, enc, model, net, optimizer };
}

/** State layout: P parameters, then for FedAdam m (P), v (P) and the step. */
function stateLength(P: number, opt: ServerOptimizer): number {
  return opt.kind === 'adam' ? 3 * P + 1 : P;
}

export function trainState(q: Query, schema: Schema): { params: Float64Array; opt: OptimizerState } {
  const { spec, net, optimizer } = trainParts(q, schema);
  const P = net.parameterCount;
  if (q.state === undefined) return { params: initParams(net.spec, net.d, spec.seed), opt: initOptimizerState(optimizer, P) };
  const s = q.state;
  if (s.length !== stateLength(P, optimizer)) throw new QueryError(`state: this training plan has ${P} parameters${optimizer.kind === 'adam' ? ` and FedAdam moments (${3 * P + 1} numbers in all)` : ''}; got ${s.length}`);
  const params = Float64Array.from(s.slice(0, P));
  if (optimizer.kind === 'sgd') return { params, opt: { step: 0, m: null, v: null } };
  return { params, opt: { m: Float64Array.from(s.slice(P, 2 * P)), v: Float64Array.from(s.slice(2 * P, 3 * P)), step: s[3 * P]! } };
}

export function encodeState(params: Float64Array, opt: OptimizerState, optimizer: ServerOptimizer): number[] {
  return optimizer.kind === 'adam' ? [...params, ...opt.m!, ...opt.v!, opt.step] : [...params];
}

export function validateTrainRound(q: Query, schema: Schema): void {
  if (q.columns.length < 1) throw new QueryError('train_round needs at least one feature column');
  try {
    checkHoldout(trainParts(q, schema).spec);
    trainState(q, schema);
  } catch (e) {
    // The model's own checks (hidden sizes, parameter count, a non-finite state) are query errors here.
    if (e instanceof Error && e.name === 'ModelError') throw new QueryError(`train_round: ${e.message}`);
    throw e;
  }
}

function layout(q: Query, schema: Schema): Entry[] {
  const { spec, net } = trainParts(q, schema);
  const out: Entry[] = [];
  for (let i = 0; i < net.parameterCount; i++) out.push({ name: `gradient[${i}]`, bound: spec.clip, integer: false });
  out.push({ name: 'rows', bound: 1, integer: true, nonNegative: true }, { name: 'loss', bound: LOSS_CAP, integer: false, nonNegative: true });
  return out;
}

/**
 * Each sampled row's clipped per-example gradient (norm ≤ C) and capped loss: `(row, g) => loss`,
 * or NaN for a row that does not contribute (not sampled, or a value is missing). Shared by the
 * exact round below and the DP round (train-dp.ts).
 */
export function clippedGradients(q: Query, schema: Schema, dataset: Dataset): (row: number, g: Float64Array) => number {
  const { spec, enc, net } = trainParts(q, schema);
  const { params } = trainState(q, schema);
  const P = net.parameterCount;
  const encode = rowEncoder(enc, dataset);
  const q0 = spec.samplingRate ?? 1;
  // The party's own Poisson sample (its CSPRNG), all rows at rate 1.
  const sampled = q0 < 1 ? new Set(sampleRows(dataset.rowCount, q0, cryptoRandomSource())) : null;
  const x = new Float64Array(enc.d);
  const heldOut = holdoutMask(dataset, spec.seed, spec.holdout ?? 0); // evaluation's rows (train_evaluate)
  return (row, g) => {
    if (sampled && !sampled.has(row)) return NaN;
    if (heldOut?.[row]) return NaN;
    const y = encode(row, x);
    if (Number.isNaN(y)) return NaN;
    const lossValue = perExampleGradient(net, params, x, 0, y, g);
    const norm = l2norm(g);
    const f = Number.isFinite(norm) ? clipFactor(norm, spec.clip) : 0;
    for (let i = 0; i < P; i++) g[i] = Number.isFinite(g[i]!) ? g[i]! * f : 0;
    return Number.isFinite(lossValue) ? Math.min(LOSS_CAP, Math.max(0, lossValue)) : LOSS_CAP;
  };
}

function rowTerms(q: Query, schema: Schema, dataset: Dataset): RowTerms {
  const P = trainParts(q, schema).net.parameterCount;
  const gradient = clippedGradients(q, schema, dataset);
  const g = new Float64Array(P);
  return (row, out) => {
    const loss = gradient(row, g);
    if (Number.isNaN(loss)) return false;
    out.set(g);
    out[P] = 1;
    out[P + 1] = loss;
    return true;
  };
}

function finalize(q: Query, schema: Schema, s: Parameters<KindDef['finalize']>[2]): TrainRoundResult {
  const { spec, net, optimizer } = trainParts(q, schema);
  const P = net.parameterCount;
  const { params, opt } = trainState(q, schema);
  const grad = Float64Array.from({ length: P }, (_, i) => fixedValue(s, i));
  const n = fixedValue(s, P);
  const lossSum = fixedValue(s, P + 1);
  const next = serverUpdate(params, grad, spec.expectedBatch, optimizer, opt);
  return {
    kind: 'train_round', n, notes: [], meanLoss: n > 0 ? lossSum / n : null, gradientNorm: l2norm(grad),
    parameters: [...params], state: encodeState(params, opt, optimizer), nextState: encodeState(next.params, next.state, optimizer),
    // Training runs its planned rounds: no objective to converge on (the loss of a sample is noisy).
    objective: null,
  };
}

/** The exact round; stats/kinds/index.ts adds the DP mechanism (train-dp.ts). */
export const trainRound: KindDef = { layout, rowTerms, finalize, maxScaleBits: 40 };

ITERATIVE['train_round'] = {
  initialState: (q, schema) => {
    const { net, optimizer } = trainParts(q, schema);
    const s = trainState(q, schema);
    return encodeState(s.params, s.opt, optimizer).slice(0, stateLength(net.parameterCount, optimizer));
  },
  fixedRounds: true,
};

/**
 * The round computed centrally with stats/train's own code (encodeFeatures, clippedGradientSum:
 * written independently of rowTerms above), every matching row used: the reference of exact rounds.
 */
export function centralTrainRound(q: Query, schema: Schema, dataset: Dataset): TrainRoundResult {
  const { spec, net, optimizer } = trainParts(q, schema);
  const { params, opt } = trainState(q, schema);
  const data = encodeFeatures({ columns: q.columns, target: q.target!, ...(q.positive ? { positive: q.positive } : {}), filter: q.filter, coding: spec.coding ?? 'treatment' }, schema, trainingRows(dataset, spec));
  const rows = Int32Array.from({ length: data.rows }, (_, i) => i);
  const c = clippedGradientSum(net, params, data.X, data.y, rows, spec.clip);
  const next = serverUpdate(params, c.sum, spec.expectedBatch, optimizer, opt);
  return {
    kind: 'train_round', n: c.count, notes: [], meanLoss: c.count > 0 ? c.lossSum / c.count : null, gradientNorm: l2norm(c.sum),
    parameters: [...params], state: encodeState(params, opt, optimizer), nextState: encodeState(next.params, next.state, optimizer), objective: null,
  };
}
