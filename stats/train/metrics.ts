/**
 * Evaluation metrics of a binary classifier: probabilities p_i against labels y_i ∈ {0, 1}.
 *
 * - AUC: the Mann–Whitney statistic, U / (n₁·n₀) with U = R₁ − n₁(n₁ + 1)/2 and R₁ the sum of the
 *   positives' ranks among all scores, tied scores sharing their mid-rank: a tied (positive,
 *   negative) pair counts ½. This is R's `wilcox.test(pos, neg)$statistic / (n1 * n0)` and
 *   pROC's AUC (test/reference/auc.R). NaN when a class is empty.
 * - `aucFromCounts`: the same statistic from per-bin counts of positives and negatives over bins
 *   ordered by score (the federated form: score histograms aggregate by addition); scores in one
 *   bin count as tied, so it equals `auc` of the scores replaced by their bin.
 * - Accuracy at 0.5: the share of rows with (p > 0.5) = y.
 * - Log loss: the mean of −y log p − (1 − y) log(1 − p), p clamped to [1e-15, 1 − 1e-15]
 *   (scikit-learn's convention), so a confident mistake costs ≈ 34.5, not Infinity.
 * - Calibration (reliability diagram): `bins` equal bins of [0, 1] (p in bin ⌊p·bins⌋, p = 1 in the
 *   last), per bin the rows, the mean predicted probability and the observed rate of y = 1 (null
 *   when the bin is empty), and the expected calibration error ECE = Σ_b (n_b/n)|p̄_b − ȳ_b|.
 */
import { auc as mannWhitneyAuc } from '../eval/metrics.ts';

function checkPair(p: ArrayLike<number>, y: ArrayLike<number>): void {
  if (p.length !== y.length) throw new RangeError(`metrics: ${p.length} predictions but ${y.length} labels`);
  for (let i = 0; i < y.length; i++) if (y[i] !== 0 && y[i] !== 1) throw new RangeError(`metrics: label ${i} is ${y[i]}, not 0 or 1`);
}

/** AUC with ties counted ½ (Mann–Whitney), NaN if there are no positives or no negatives. */
export function auc(scores: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPair(scores, y);
  // The Mann–Whitney statistic with mid-ranks, as the synthetic-data evaluation computes it.
  return mannWhitneyAuc(scores, y);
}

/** AUC from counts of positives and negatives per score bin (bins in increasing score order). */
export function aucFromCounts(pos: ArrayLike<number>, neg: ArrayLike<number>): number {
  if (pos.length !== neg.length) throw new RangeError(`aucFromCounts: ${pos.length} positive bins but ${neg.length} negative bins`);
  let below = 0;
  let u = 0;
  let n1 = 0;
  for (let b = 0; b < pos.length; b++) {
    const p = pos[b]!;
    const q = neg[b]!;
    if (!(p >= 0 && q >= 0)) throw new RangeError(`aucFromCounts: bin ${b} has a negative or invalid count`);
    u += p * (below + q / 2);
    below += q;
    n1 += p;
  }
  if (n1 === 0 || below === 0) return NaN;
  return u / (n1 * below);
}

/** Share of rows with (p > 0.5) = y. */
export function accuracy(p: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPair(p, y);
  let k = 0;
  for (let i = 0; i < y.length; i++) if ((p[i]! > 0.5 ? 1 : 0) === y[i]) k++;
  return y.length > 0 ? k / y.length : NaN;
}

export const LOG_LOSS_EPS = 1e-15;

/** Mean log loss with p clamped to [1e-15, 1 − 1e-15]. */
export function logLoss(p: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPair(p, y);
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    const pi = Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, p[i]!));
    s -= y[i] === 1 ? Math.log(pi) : Math.log1p(-pi);
  }
  return y.length > 0 ? s / y.length : NaN;
}

export interface CalibrationBin {
  lo: number;
  hi: number;
  count: number;
  meanPredicted: number | null;
  observed: number | null;
}

/** Reliability bins and the expected calibration error. */
export function calibration(p: ArrayLike<number>, y: ArrayLike<number>, bins = 10): { bins: CalibrationBin[]; ece: number } {
  checkPair(p, y);
  if (!Number.isSafeInteger(bins) || bins < 1 || bins > 1000) throw new RangeError(`calibration: bins must be an integer in [1, 1000], got ${bins}`);
  const count = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  for (let i = 0; i < y.length; i++) {
    const pi = p[i]!;
    if (!(pi >= 0 && pi <= 1)) throw new RangeError(`calibration: prediction ${i} is ${pi}, not a probability`);
    const b = Math.min(bins - 1, Math.floor(pi * bins));
    count[b]!++;
    sumP[b]! += pi;
    sumY[b]! += y[i]!;
  }
  let ece = 0;
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const c = count[b]!;
    out.push({ lo: b / bins, hi: (b + 1) / bins, count: c, meanPredicted: c > 0 ? sumP[b]! / c : null, observed: c > 0 ? sumY[b]! / c : null });
    if (c > 0) ece += Math.abs(sumP[b]! - sumY[b]!) / y.length;
  }
  return { bins: out, ece: y.length > 0 ? ece : NaN };
}

/** All four metrics of a set of predictions. */
export function evaluate(p: ArrayLike<number>, y: ArrayLike<number>, bins = 10): { n: number; auc: number; accuracy: number; logLoss: number; calibration: CalibrationBin[]; ece: number } {
  const cal = calibration(p, y, bins);
  return { n: y.length, auc: auc(p, y), accuracy: accuracy(p, y), logLoss: logLoss(p, y), calibration: cal.bins, ece: cal.ece };
}

/**
 * The score bin of a probability p among B equal bins of [0, 1]: bin b holds p ∈ (b/B, (b+1)/B]
 * (bin 0 also p = 0), the edges being the float64 values k/B. Upper-closed bins put 0.5 in the bin
 * below it, so with B even "bin ≥ B/2" is exactly "p > 0.5" (accuracy at 0.5 from the counts).
 */
export function scoreBin(p: number, B: number): number {
  if (!(p > 0)) return 0;
  let b = Math.min(B - 1, Math.ceil(p * B) - 1);
  // p·B is rounded: move to the bin whose float64 edges hold p.
  while (b > 0 && !(p > b / B)) b--;
  while (b < B - 1 && p > (b + 1) / B) b++;
  return b;
}

/** A reliability bin from counts: the bin centre stands for its rows' predictions. */
export interface CountCalibrationBin {
  lo: number;
  hi: number;
  count: number;
  /** The bin centre (b + ½)/B: the counts do not hold the mean prediction. */
  predicted: number;
  observed: number | null;
}

/**
 * The evaluation metrics from a score histogram: per bin (B equal bins of [0, 1], scoreBin's),
 * the rows with label 1 (`pos`) and 0 (`neg`), non-negative. AUC is aucFromCounts (rows in one bin
 * tied); accuracy predicts 1 for a bin whose centre is above 0.5 (exact for B even); log loss,
 * Brier score and ECE use the bin centre c_b for every row of bin b (the Brier score is then
 * within 1/B of the rows' own). Null where a metric is undefined (no rows, one class for AUC).
 */
export function metricsFromCounts(pos: ArrayLike<number>, neg: ArrayLike<number>): {
  n: number; positives: number; auc: number | null; accuracy: number | null; logLoss: number | null; brier: number | null; ece: number | null; calibration: CountCalibrationBin[];
} {
  const B = pos.length;
  if (neg.length !== B || B < 1) throw new RangeError(`metricsFromCounts: ${B} positive bins and ${neg.length} negative bins`);
  let n = 0;
  let positives = 0;
  let right = 0;
  let ll = 0;
  let brier = 0;
  let ece = 0;
  const calibration: CountCalibrationBin[] = [];
  for (let b = 0; b < B; b++) {
    const p1 = pos[b]!;
    const p0 = neg[b]!;
    if (!(p1 >= 0 && p0 >= 0)) throw new RangeError(`metricsFromCounts: bin ${b} has a negative or invalid count`);
    const c = (b + 0.5) / B;
    const count = p1 + p0;
    n += count;
    positives += p1;
    right += c > 0.5 ? p1 : p0;
    ll -= p1 * Math.log(c) + p0 * Math.log1p(-c);
    brier += p1 * (1 - c) ** 2 + p0 * c * c;
    ece += Math.abs(count * c - p1);
    calibration.push({ lo: b / B, hi: (b + 1) / B, count, predicted: c, observed: count > 0 ? p1 / count : null });
  }
  const auc = aucFromCounts(pos, neg);
  const per = (x: number): number | null => (n > 0 ? x / n : null);
  return { n, positives, auc: Number.isNaN(auc) ? null : auc, accuracy: per(right), logLoss: per(ll), brier: per(brier), ece: per(ece), calibration };
}
