/**
 * Isotonic regression by pool adjacent violators (PAVA): the (weighted) least-squares fit of a
 * sequence that does not increase. Used by the DP Kaplan–Meier curve (stats/kinds/km-curve.ts)
 * and by the synthesizer's monotone tails (stats/synth/weights.ts). Pure.
 */

/**
 * The weighted least-squares non-increasing fit of x (pool adjacent violators; equal weights by
 * default). Weights must be positive and finite.
 */
export function nonIncreasing(x: ArrayLike<number>, weights?: ArrayLike<number>): Float64Array {
  const n = x.length;
  const value = new Float64Array(n);
  const weight = new Float64Array(n);
  const size = new Int32Array(n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    value[k] = x[i]!;
    weight[k] = weights ? weights[i]! : 1;
    size[k] = 1;
    while (k > 0 && value[k - 1]! < value[k]!) {
      const w = weight[k - 1]! + weight[k]!;
      value[k - 1] = (value[k - 1]! * weight[k - 1]! + value[k]! * weight[k]!) / w;
      weight[k - 1] = w;
      size[k - 1] = size[k - 1]! + size[k]!;
      k--;
    }
    k++;
  }
  const out = new Float64Array(n);
  let i = 0;
  for (let b = 0; b < k; b++) for (let j = 0; j < size[b]!; j++) out[i++] = value[b]!;
  return out;
}
