/**
 * Test helper (not a test file): Pearson's chi-square goodness-of-fit against an exact pmf, with
 * the p-value from the regularized upper incomplete gamma function Q(k/2, x/2).
 */

/** ln Γ(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; ~1e-15 relative). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x) = Γ(a, x)/Γ(a). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lnPre = a * Math.log(x) - x - logGamma(a);
  if (x < a + 1) {
    // Series for P(a, x).
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    return 1 - sum * Math.exp(lnPre);
  }
  // Continued fraction for Q(a, x) (modified Lentz).
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(lnPre) * h;
}

/** P[χ²_df ≥ x]. */
export function chiSquareSurvival(x: number, df: number): number {
  return gammaQ(df / 2, x / 2);
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
