/**
 * Privacy scores of a synthetic dataset against the real training data and a real holdout that
 * the synthesizer never saw (all with the Gower distance of encode.ts):
 *   - DCR (distance to closest record): for each synthetic record, the distance to its nearest
 *     record in a seeded training sample OF THE HOLDOUT'S SIZE and to its nearest holdout record.
 *     (Until issue 18 the training side used all training rows — 4× more candidates than the
 *     holdout — so every synthesizer looked closer to its training data than to the holdout.)
 *     `closerToTrainShare` is the share of synthetic records nearer to the training sample than
 *     to the holdout: ≈ 0.5 when the synthesizer does not copy its inputs. SDMetrics reports this
 *     as DCROverfittingProtection = min(1, 2·(1 − share)).
 *   - NNDR (nearest-neighbour distance ratio): nearest / second-nearest distance of each synthetic
 *     record in the same holdout-sized training sample, and in the holdout (the reference);
 *     values near 0 flag records sitting on one real record.
 *   - Exact copies: the share of ALL synthetic records equal (on every data column) to a training
 *     record; the chance baseline is the share equal to a holdout record, and the matched figure
 *     the share equal to a record of the holdout-sized training sample (copies beyond chance =
 *     matched − baseline).
 *   - Membership inference (a distance-based attack in the spirit of synthcity's and DOMIAS'
 *     baselines): score each real record by −(distance to its nearest synthetic record); the AUC
 *     of training members against holdout non-members (up to `maxAttack` of each, against up to
 *     10·maxAttack synthetic records; seeded samples). 0.5 = the attack learns nothing.
 */
import type { RandomSource } from '../../crypto/dp/random.ts';
import { uniformInt } from '../../crypto/dp/random.ts';
import { gower, type GowerRows } from './encode.ts';
import { auc, median } from './metrics.ts';

/** Rows [0, n) in a seeded random order, first k kept. */
export function sampleIndices(n: number, k: number, rng: RandomSource): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = uniformInt(i + 1, rng);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.slice(0, Math.min(k, n));
}

/** Smallest and second-smallest distance from row i of a to the rows `among` of b. */
function nearestTwo(a: GowerRows, i: number, b: GowerRows, among: number[]): [number, number] {
  let d1 = Infinity;
  let d2 = Infinity;
  for (const k of among) {
    const d = gower(a, i, b, k);
    if (d < d1) {
      d2 = d1;
      d1 = d;
    } else if (d < d2) d2 = d;
  }
  return [d1, d2];
}

export interface PrivacyScores {
  dcrTrainMedian: number;
  dcrHoldoutMedian: number;
  closerToTrainShare: number;
  dcrOverfittingProtection: number;
  nndrMedian: number;
  /** Median NNDR against the holdout (the reference a non-copying synthesizer matches). */
  nndrHoldoutMedian: number;
  /** Share of synthetic records equal to a training record (exact copies). */
  exactCopies: number;
  /** Share equal to a record of the holdout-sized training sample (comparable with the baseline). */
  exactCopiesTrainSample: number;
  /** Chance baseline: share equal to a holdout record. */
  exactCopiesHoldout: number;
  /** Rows of the training sample and of the holdout the distances were computed against. */
  comparedRows: number;
  membershipInferenceAuc: number;
  /** Distances for the report's histograms. */
  dcrTrain: number[];
  dcrHoldout: number[];
}

/**
 * `maxSynthetic` synthetic records (seeded sample) are compared; members for the attack are a
 * holdout-sized seeded sample of the training rows.
 */
export function privacyScores(train: GowerRows, holdout: GowerRows, synth: GowerRows, rng: RandomSource, maxSynthetic = 1000, maxAttack = 500): PrivacyScores {
  if (holdout.rows === 0 || train.rows === 0 || synth.rows === 0) throw new RangeError('privacyScores: training, holdout and synthetic data must all have rows');
  const members = sampleIndices(train.rows, holdout.rows, rng);
  const nonMembers = sampleIndices(holdout.rows, maxAttack, rng);
  const allHoldout = Array.from({ length: holdout.rows }, (_, i) => i);
  const synthRows = sampleIndices(synth.rows, maxSynthetic, rng);
  const dcrTrain: number[] = [];
  const dcrHoldout: number[] = [];
  const nndr: number[] = [];
  const nndrHoldout: number[] = [];
  const ratio = (d1: number, d2: number): number => (d2 > 0 ? d1 / d2 : d1 === 0 ? 0 : 1);
  let closer = 0;
  for (const s of synthRows) {
    const [m1, m2] = nearestTwo(synth, s, train, members);
    const [h1, h2] = nearestTwo(synth, s, holdout, allHoldout);
    dcrTrain.push(m1);
    dcrHoldout.push(h1);
    nndr.push(ratio(m1, m2));
    nndrHoldout.push(ratio(h1, h2));
    if (m1 < h1) closer += 1;
    else if (m1 === h1) closer += 0.5;
  }
  const share = closer / synthRows.length;
  const copies = copyShares(train, members, holdout, synth);
  // membership inference: nearest synthetic record of each member / non-member
  const reference = sampleIndices(synth.rows, 10 * maxAttack, rng);
  const scores: number[] = [];
  const labels: boolean[] = [];
  for (const m of members.slice(0, maxAttack)) {
    scores.push(-nearestTwo(train, m, synth, reference)[0]);
    labels.push(true);
  }
  for (const h of nonMembers) {
    scores.push(-nearestTwo(holdout, h, synth, reference)[0]);
    labels.push(false);
  }
  return {
    dcrTrainMedian: median(dcrTrain), dcrHoldoutMedian: median(dcrHoldout), closerToTrainShare: share,
    dcrOverfittingProtection: Math.min(1, 2 * (1 - share)), nndrMedian: median(nndr), nndrHoldoutMedian: median(nndrHoldout),
    ...copies, comparedRows: members.length, membershipInferenceAuc: auc(scores, labels), dcrTrain, dcrHoldout,
  };
}

/** A row's exact key (all data columns; scaled numbers and codes compare exactly, NaN = missing). */
function rowKey(g: GowerRows, i: number): string {
  return Array.from(g.values.subarray(i * g.cols, (i + 1) * g.cols), (x) => (Number.isNaN(x) ? '' : String(x))).join('\u0001');
}

/** Exact-copy shares of all synthetic rows: of the training data, of the training sample, of the holdout. */
function copyShares(train: GowerRows, members: number[], holdout: GowerRows, synth: GowerRows): { exactCopies: number; exactCopiesTrainSample: number; exactCopiesHoldout: number } {
  const all = new Set<string>();
  for (let i = 0; i < train.rows; i++) all.add(rowKey(train, i));
  const sample = new Set(members.map((i) => rowKey(train, i)));
  const hold = new Set<string>();
  for (let i = 0; i < holdout.rows; i++) hold.add(rowKey(holdout, i));
  let a = 0;
  let s = 0;
  let h = 0;
  for (let i = 0; i < synth.rows; i++) {
    const k = rowKey(synth, i);
    if (all.has(k)) a++;
    if (sample.has(k)) s++;
    if (hold.has(k)) h++;
  }
  return { exactCopies: a / synth.rows, exactCopiesTrainSample: s / synth.rows, exactCopiesHoldout: h / synth.rows };
}
