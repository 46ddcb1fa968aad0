/**
 * Distances and scores used by the synthetic-data report, named as in SDMetrics and synthcity:
 * total-variation distance (TVComplement = 1 − TVD), the two-sample Kolmogorov–Smirnov statistic
 * (KSComplement = 1 − KS), Pearson correlation, and the ROC AUC by the Mann–Whitney statistic.
 */

/** Total-variation distance ½ Σ |p_i − q_i| between two count vectors (each normalized). */
export function tvd(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`tvd: vectors differ in length (${a.length} vs ${b.length})`);
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < a.length; i++) {
    if (!(a[i]! >= 0) || !(b[i]! >= 0)) throw new RangeError('tvd: counts must be non-negative');
    sa += a[i]!;
    sb += b[i]!;
  }
  if (sa === 0 || sb === 0) return sa === sb ? 0 : 1;
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i]! / sa - b[i]! / sb);
  return d / 2;
}

/** Two-sample Kolmogorov–Smirnov statistic sup_x |F_a(x) − F_b(x)| (NaN values ignored). */
export function ksStatistic(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const x = Float64Array.from(a).filter((v) => !Number.isNaN(v)).sort();
  const y = Float64Array.from(b).filter((v) => !Number.isNaN(v)).sort();
  if (x.length === 0 || y.length === 0) return x.length === y.length ? 0 : 1;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i] === v) i++;
    while (j < y.length && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

/** Pearson correlation over the pairs where both are present; null when undefined. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  let n = 0;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]!) || Number.isNaN(b[i]!)) continue;
    n++;
    ma += a[i]!;
    mb += b[i]!;
  }
  if (n < 2) return null;
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]!) || Number.isNaN(b[i]!)) continue;
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (!(saa > 0 && sbb > 0)) return null;
  return Math.max(-1, Math.min(1, sab / Math.sqrt(saa * sbb)));
}

/**
 * ROC AUC = P(score of a positive > score of a negative) + ½ P(tie), by the Mann–Whitney U
 * statistic with mid-ranks. NaN when either class is empty.
 */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<boolean | number>): number {
  const n = scores.length;
  if (labels.length !== n) throw new RangeError('auc: scores and labels differ in length');
  const idx = Array.from({ length: n }, (_, i) => i).sort((p, q) => scores[p]! - scores[q]!);
  let pos = 0;
  let rankSum = 0;
  for (let k = 0; k < n; ) {
    let e = k;
    while (e + 1 < n && scores[idx[e + 1]!] === scores[idx[k]!]) e++;
    const mid = (k + e) / 2 + 1; // mid-rank of the tie group (1-based)
    for (let t = k; t <= e; t++) {
      if (labels[idx[t]!]) {
        pos++;
        rankSum += mid;
      }
    }
    k = e + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Median of the non-NaN values (NaN when none). */
export function median(xs: ArrayLike<number>): number {
  const v = Float64Array.from(xs).filter((x) => !Number.isNaN(x)).sort();
  if (v.length === 0) return NaN;
  const h = v.length >> 1;
  return v.length % 2 ? v[h]! : (v[h - 1]! + v[h]!) / 2;
}
