/**
 * train_evaluate: federated evaluation of a binary classifier (docs/training.md § Federated
 * evaluation). The query carries the training plan (`train`: model, coding, seed, holdout), the
 * columns, target and positive levels, and `state`: the model's P parameters (or a training
 * round's full FedAdam state, of which the first P numbers are the parameters). Every party
 * predicts p = P(y = 1 | x) on its held-out rows (stats/train/holdout.ts; every row when holdout is
 * 0) and counts them in a histogram of B equal score bins of [0, 1] × label: a one-hot count kind
 * (one row adds 1 to one of 2B cells), so DP is the noise of any histogram (privacy.ts planNoise's
 * one-hot path) and the release is the counts only. finalize derives AUC, accuracy, log loss,
 * Brier score and the reliability bins from the counts (stats/train/metrics.ts metricsFromCounts).
 *
 * Bins: bin b holds p ∈ (b/B, (b+1)/B] (bin 0 also p = 0), the edges being the float64 values k/B.
 * With B even, 0.5 is an edge, so accuracy at 0.5 (p > 0.5 predicts 1) is exact.
 */
import type { Dataset } from '../dataset.ts';
import { QueryError, quote, type Query } from '../query-types.ts';
import type { Schema } from '../schema.ts';
import { fixedValue } from '../fixed.ts';
import { rowEncoder } from '../train/features.ts';
import { checkHoldout, holdoutMask } from '../train/holdout.ts';
import { metricsFromCounts, scoreBin } from '../train/metrics.ts';
import { logit, sigmoid } from '../train/model.ts';
import { numericFields } from '../result.ts';
import { bootstrapFields, gaussian } from '../bootstrap.ts';
import { trainParts } from './train-round.ts';
import { termsFromCells, type Entry, type FixedSums, type KindDef, type RowCells, type TrainEvaluateResult } from './types.ts';

/** Score bins when the query gives none, and the most it may ask for. */
export const DEFAULT_EVAL_BINS = 20;
export const MAX_EVAL_BINS = 1000;
/** Largest |parameter| an evaluated state may hold: the forward pass then stays finite. */
export const MAX_EVAL_PARAMETER = 1e6;

/** The number B of score bins: `bins: [B]`, default 20. */
export function evalBins(q: Query): number {
  if (q.bins === undefined) return DEFAULT_EVAL_BINS;
  const b = q.bins;
  if (b.length !== 1 || !Number.isInteger(b[0]) || b[0]! < 2 || b[0]! > MAX_EVAL_BINS) {
    throw new QueryError(`train_evaluate: bins is the number of score bins, one integer in [2, ${MAX_EVAL_BINS}] (e.g. bins: [20]); got ${b.length === 1 ? quote(b[0]) : `${b.length} numbers`}`);
  }
  return b[0]!;
}

function evalParts(q: Query, schema: Schema): ReturnType<typeof trainParts> {
  if (!q.train) throw new QueryError('train_evaluate needs train: the training plan of the model to evaluate (model, coding, seed, holdout)');
  if (q.target === undefined) throw new QueryError('train_evaluate needs target: the label column');
  const parts = trainParts(q, schema);
  if (parts.enc.classes !== 2) {
    throw new QueryError(`train_evaluate evaluates binary classifiers only: target "${q.target}" without positive levels makes a softmax model of ${parts.enc.classes} classes; name the positive levels (positive) to evaluate P(positive)`);
  }
  return parts;
}

/** The model's parameters: the state's first P numbers (P, or a FedAdam state of 3P + 1). */
function evalParams(q: Query, schema: Schema): Float64Array {
  const { net, optimizer } = evalParts(q, schema);
  const P = net.parameterCount;
  const s = q.state;
  if (s === undefined) throw new QueryError(`train_evaluate needs state: the model's ${P} parameters (a training round's nextState)`);
  const full = optimizer.kind === 'adam' ? 3 * P + 1 : P;
  if (s.length !== P && s.length !== full) {
    throw new QueryError(`train_evaluate: state: this model has ${P} parameters; give them${full !== P ? ` (or the round's whole FedAdam state, ${full} numbers)` : ''}, got ${s.length} numbers`);
  }
  for (let i = 0; i < P; i++) {
    const v = s[i]!;
    if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > MAX_EVAL_PARAMETER) {
      throw new QueryError(`train_evaluate: state[${i}] is ${quote(v)}; a parameter must be a finite number of magnitude at most ${MAX_EVAL_PARAMETER}`);
    }
  }
  return Float64Array.from(s.slice(0, P));
}

export function validateTrainEvaluate(q: Query, schema: Schema): void {
  if (q.columns.length < 1) throw new QueryError('train_evaluate needs at least one feature column');
  try {
    checkHoldout(evalParts(q, schema).spec);
    evalParams(q, schema);
    evalBins(q);
  } catch (e) {
    if (e instanceof Error && e.name === 'ModelError') throw new QueryError(`train_evaluate: ${e.message}`);
    throw e;
  }
}

function layout(q: Query): Entry[] {
  const B = evalBins(q);
  const out: Entry[] = [];
  for (let b = 0; b < B; b++) {
    const range = `${b === 0 ? '[' : '('}${b / B}, ${(b + 1) / B}]`;
    for (const y of [0, 1]) out.push({ name: `count(p in ${range}, y = ${y})`, bound: 1, integer: true, nonNegative: true });
  }
  return out;
}

function evalCells(q: Query, schema: Schema, dataset: Dataset): RowCells {
  const { spec, enc, net } = evalParts(q, schema);
  const params = evalParams(q, schema);
  const B = evalBins(q);
  const encode = rowEncoder(enc, dataset);
  const heldOut = holdoutMask(dataset, spec.seed, spec.holdout ?? 0);
  const x = new Float64Array(enc.d);
  return (row, cells) => {
    if (heldOut && !heldOut[row]) return 0; // a training row
    const y = encode(row, x);
    if (Number.isNaN(y)) return 0;
    const p = sigmoid(logit(net, params, x, 0));
    // |θ| ≤ 1e6 and |x| ≤ 1 keep every layer finite (docs); a NaN would not be a probability.
    if (Number.isNaN(p)) return 0;
    cells[0] = 2 * scoreBin(p, B) + y;
    return 1;
  };
}

function finalize(q: Query, schema: Schema, s: FixedSums): TrainEvaluateResult {
  const { spec } = evalParts(q, schema);
  const B = evalBins(q);
  const neg: number[] = [];
  const pos: number[] = [];
  let clamped = 0;
  for (let b = 0; b < B; b++) {
    for (const [y, into] of [[0, neg], [1, pos]] as const) {
      const c = fixedValue(s, 2 * b + y);
      if (c < 0) clamped++;
      into.push(Math.max(0, c));
    }
  }
  const m = metricsFromCounts(pos, neg);
  const notes: string[] = [];
  const holdout = spec.holdout ?? 0;
  if (holdout === 0) notes.push('holdout is 0: the evaluation is on the training rows (an optimistic estimate); set train.holdout in training and evaluation for a held-out estimate');
  notes.push(`log loss and Brier score are computed from the bin centres (the release holds counts per bin only): the Brier score is within ${1 / B} of the rows' own, the log loss is approximate, most in the extreme bins`);
  if (B % 2 === 1) notes.push(`accuracy: with an odd number of bins (${B}) 0.5 is not a bin edge; rows of the middle bin are counted as predicted 0 (its centre is 0.5)`);
  if (s.noiseStd !== undefined) notes.push(`the counts carry DP noise; negative noisy counts are clamped at 0 before the metrics (post-processing)${clamped > 0 ? `: ${clamped} of ${2 * B} here` : ''}`);
  if (m.auc === null) notes.push('AUC undefined: no positive or no negative rows');
  return {
    kind: 'train_evaluate', n: m.n, notes, target: q.target!, positive: [...(q.positive ?? [])], holdout,
    edges: Array.from({ length: B + 1 }, (_, k) => k / B), positiveCounts: pos, negativeCounts: neg,
    positives: m.positives, auc: m.auc, accuracy: m.accuracy, logLoss: m.logLoss, brier: m.brier, ece: m.ece, calibration: m.calibration,
  };
}

/** Parametric bootstrap of the metrics under the released noise (Gaussian approximation; post-processing only). */
function noiseUncertainty(q: Query, schema: Schema, s: FixedSums, noiseStd: number[]): Record<string, number | null> {
  const names = numericFields(finalize(q, schema, s)).map(([n]) => n);
  return bootstrapFields(names, 200, () => finalize(q, schema, { sums: s.sums.map((x, i) => x + BigInt(Math.round(gaussian() * noiseStd[i]! * 2 ** s.scaleBits[i]!))), scaleBits: s.scaleBits }));
}

export const trainEvaluate: KindDef = {
  oneHot: true,
  layout,
  rowTerms: (q, schema, dataset) => termsFromCells(evalCells(q, schema, dataset), 1),
  rowCells: evalCells,
  finalize,
  noiseUncertainty,
};
