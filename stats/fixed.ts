/**
 * Exact arithmetic on aggregated fixed-point sums. Entry i stands for sums[i] / 2^scaleBits[i].
 * Centred cross-products n·Σab − Σa·Σb are formed exactly in BigInt before the single rounding
 * to float64, so the usual cancellation of the one-pass formula does not occur: the only error
 * left is the per-row quantization of the terms.
 */

/** Aggregated statistic vector on the fixed-point grid: entry i is sums[i] / 2^scaleBits[i]. */
export interface FixedSums {
  sums: bigint[];
  scaleBits: number[];
  /**
   * Released with DP noise: the noise's standard deviation per entry, in the entry's units
   * (stats/privacy.ts noiseStd). Kinds whose post-processing accounts for the noise read it
   * (kaplan_meier's confidence intervals); absent for exact sums.
   */
  noiseStd?: number[];
}

/** The value of entry i as a float64. */
export function fixedValue(s: FixedSums, i: number): number {
  return Number(s.sums[i]!) * 2 ** -s.scaleBits[i]!;
}

/**
 * Σ(a − ā)(b − b̄) = Σab − Σa·Σb / n, from entries n, Σa, Σb, Σab, computed exactly and
 * rounded once. Returns NaN when n ≤ 0 (the caller reports it).
 */
export function centredProduct(s: FixedSums, nIdx: number, aIdx: number, bIdx: number, abIdx: number): number {
  const N = s.sums[nIdx]!;
  if (N <= 0n) return NaN;
  const sn = BigInt(s.scaleBits[nIdx]!);
  const sa = BigInt(s.scaleBits[aIdx]!);
  const sb = BigInt(s.scaleBits[bIdx]!);
  const sab = BigInt(s.scaleBits[abIdx]!);
  // (N/2^sn)(Sab/2^sab) − (Sa/2^sa)(Sb/2^sb) = [N·Sab·2^(sa+sb) − Sa·Sb·2^(sn+sab)] / 2^(sn+sab+sa+sb).
  // Scales may be negative (differentially private plans use coarse grids for wide bounds), so
  // both exponents are shifted by their minimum before the exact BigInt products.
  const e1 = sa + sb;
  const e2 = sn + sab;
  const m = e1 < e2 ? e1 : e2;
  const num = N * s.sums[abIdx]! * (1n << (e1 - m)) - s.sums[aIdx]! * s.sums[bIdx]! * (1n << (e2 - m));
  // divide by n = N / 2^sn: result = num · 2^m / (N · 2^(sab+sa+sb))
  return ratio(num, N) * 2 ** Number(m - sab - sa - sb);
}

/** num / den as a float64 with a single rounding for moderate sizes. */
export function ratio(num: bigint, den: bigint): number {
  if (den === 0n) return NaN;
  // Scale so that the integer quotient carries ≥ 64 significant bits, then correct.
  const shift = 64n;
  const q = (num << shift) / den;
  return Number(q) * 2 ** -Number(shift);
}

/** Round half away from zero to the grid 2^-scale, as an exact integer. */
export function quantize(value: number, scale: number): number {
  const v = value * 2 ** scale;
  return v < 0 ? -Math.round(-v) : Math.round(v);
}
