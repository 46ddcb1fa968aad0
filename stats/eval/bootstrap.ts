/**
 * Percentile bootstrap over the test set (the real holdout) for the classifier's AUCs: the test
 * rows are resampled with replacement, the fitted classifiers' scores kept, so the interval shows
 * how much of an AUC (or of the TRTR − TSTR gap, resampled in pairs) is the holdout's sampling.
 */
import type { RandomSource } from '../../crypto/dp/random.ts';
import { uniformInt } from '../../crypto/dp/random.ts';
import { auc } from './metrics.ts';

export interface AucIntervals {
  /** 95 % percentile intervals of each score's AUC, and of AUC(scores[0]) − AUC(scores[k]). */
  auc: [number, number][];
  difference: [number, number][];
  replicates: number;
}

function percentile(xs: number[], p: number): number {
  const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v[Math.min(v.length - 1, Math.max(0, Math.round(p * (v.length - 1))))]!;
}

export function bootstrapAuc(scores: ArrayLike<number>[], labels: ArrayLike<number>, rng: RandomSource, replicates = 500): AucIntervals {
  const n = labels.length;
  const aucs: number[][] = scores.map(() => []);
  const s = new Float64Array(n);
  const y = new Uint8Array(n);
  for (let b = 0; b < replicates; b++) {
    const idx = Array.from({ length: n }, () => uniformInt(n, rng));
    idx.forEach((k, i) => (y[i] = labels[k]!));
    scores.forEach((sc, j) => {
      idx.forEach((k, i) => (s[i] = sc[k]!));
      aucs[j]!.push(auc(s, y));
    });
  }
  const ci = (xs: number[]): [number, number] => [percentile(xs, 0.025), percentile(xs, 0.975)];
  return { auc: aucs.map(ci), difference: aucs.map((a) => ci(a.map((x, b) => aucs[0]![b]! - x))), replicates };
}
