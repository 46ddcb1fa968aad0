/**
 * Test helper (not a test file): Pearson's chi-square goodness-of-fit against an exact pmf, with
 * the p-value from the regularized upper incomplete gamma function Q(k/2, x/2)
 * (stats/distributions.ts, checked against R in test/stats-distributions.test.ts).
 */

import { chiSquareUpper, gammaQ, logGamma } from '../stats/distributions.ts';

export { gammaQ, logGamma };

/** P[χ²_df ≥ x]. */
export function chiSquareSurvival(x: number, df: number): number {
  return chiSquareUpper(x, df);
}

export interface ChiSquareResult {
  readonly statistic: number;
  readonly df: number;
  readonly pValue: number;
  readonly bins: number;
}

/**
 * Goodness of fit of integer samples to `pmf` (which must sum to 1 over the integers). Values
 * with expected count ≥ `minExpected` get their own bin, between the first and last such value;
 * everything below/above is pooled into two tail bins, whose expected mass is 1 minus the rest.
 */
export function chiSquareTest(
  counts: ReadonlyMap<number, number>,
  total: number,
  pmf: (k: number) => number,
  center: number,
  minExpected = 20,
): ChiSquareResult {
  let lo = Math.round(center);
  let hi = lo;
  while (pmf(lo - 1) * total >= minExpected) lo--;
  while (pmf(hi + 1) * total >= minExpected) hi++;
  let statistic = 0;
  let inside = 0;
  let insideObserved = 0;
  for (let k = lo; k <= hi; k++) {
    const e = pmf(k) * total;
    const o = counts.get(k) ?? 0;
    statistic += ((o - e) * (o - e)) / e;
    inside += pmf(k);
    insideObserved += o;
  }
  let bins = hi - lo + 1;
  // Tails: split the leftover mass by side.
  let lowMass = 0;
  for (let k = lo - 1; pmf(k) > 0 && k > lo - 100_000; k--) lowMass += pmf(k);
  const highMass = Math.max(0, 1 - inside - lowMass);
  let lowObserved = 0;
  for (const [k, c] of counts) if (k < lo) lowObserved += c;
  const highObserved = total - insideObserved - lowObserved;
  for (const [mass, o] of [
    [lowMass, lowObserved],
    [highMass, highObserved],
  ] as const) {
    const e = mass * total;
    if (e > 0) {
      statistic += ((o - e) * (o - e)) / e;
      bins++;
    } else if (o > 0) {
      statistic = Infinity;
    }
  }
  const df = bins - 1;
  return { statistic, df, pValue: chiSquareSurvival(statistic, df), bins };
}

/** Counts of each value. */
export function tally(samples: Iterable<bigint | number>): Map<number, number> {
  const m = new Map<number, number>();
  for (const s of samples) {
    const k = Number(s);
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

/** Mean and (population) variance. */
export function moments(samples: Iterable<bigint | number>): { mean: number; variance: number; n: number } {
  let n = 0;
  let mean = 0;
  let m2 = 0;
  for (const s of samples) {
    const x = Number(s);
    n++;
    const d = x - mean;
    mean += d / n;
    m2 += d * (x - mean);
  }
  return { mean, variance: m2 / n, n };
}
