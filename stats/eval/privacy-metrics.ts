/**
 * Privacy scores of a synthetic dataset against the real training data and a real holdout that
 * the synthesizer never saw (all with the Gower distance of encode.ts):
 *   - DCR (distance to closest record): for each synthetic record, the distance to its nearest
 *     training record and to its nearest holdout record (holdout-sized training sample, so the
 *     two are comparable). `closerToTrainShare` is the share of synthetic records nearer to the
 *     training sample than to the holdout: ≈ 0.5 when the synthesizer does not copy its inputs.
 *     SDMetrics reports this as DCROverfittingProtection = min(1, 2·(1 − share)).
 *   - NNDR (nearest-neighbour distance ratio): nearest / second-nearest training distance of each
 *     synthetic record; values near 0 flag records sitting on one real record.
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
  /** Share of synthetic records at distance 0 from a training record (exact copies). */
  exactCopies: number;
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
  const allTrain = Array.from({ length: train.rows }, (_, i) => i);
  const allHoldout = Array.from({ length: holdout.rows }, (_, i) => i);
  const synthRows = sampleIndices(synth.rows, maxSynthetic, rng);
  const dcrTrain: number[] = [];
  const dcrHoldout: number[] = [];
  const nndr: number[] = [];
  let closer = 0;
  let copies = 0;
  for (const s of synthRows) {
    const [t1, t2] = nearestTwo(synth, s, train, allTrain);
    const [m1] = nearestTwo(synth, s, train, members);
    const [h1] = nearestTwo(synth, s, holdout, allHoldout);
    dcrTrain.push(t1);
    dcrHoldout.push(h1);
    nndr.push(t2 > 0 ? t1 / t2 : t1 === 0 ? 0 : 1);
    if (m1 < h1) closer += 1;
    else if (m1 === h1) closer += 0.5;
    if (t1 === 0) copies++;
  }
  const share = closer / synthRows.length;
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
    dcrOverfittingProtection: Math.min(1, 2 * (1 - share)), nndrMedian: median(nndr), exactCopies: copies / synthRows.length,
    membershipInferenceAuc: auc(scores, labels), dcrTrain, dcrHoldout,
  };
}
