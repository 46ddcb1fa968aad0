/**
 * Pair trends: the association of every pair of data columns, measured the same way on the real
 * and the synthetic data, and the SDMetrics "Column Pair Trends" score of each pair.
 *   - numeric × numeric: Pearson correlation (pairwise complete); score CorrelationSimilarity
 *     = 1 − |r_synth − r_real| / 2;
 *   - categorical × categorical: Cramér's V (bias-uncorrected, missing as a level);
 *   - categorical × numeric: the correlation ratio η (share of the numeric variance explained by
 *     the category; missing category as a level, missing numbers left out);
 *   - score of every pair that is not numeric × numeric: ContingencySimilarity = 1 − TVD of the
 *     pair's joint distribution on the evaluation bins (as SDMetrics discretizes numbers).
 */
import type { Dataset } from '../dataset.ts';
import type { Binner, ColumnRef } from './encode.ts';
import { pearson, tvd } from './metrics.ts';

export type PairKind = 'pearson' | 'cramers-v' | 'correlation-ratio';

/** Cramér's V of two code vectors (codes in [0, ka) and [0, kb)); null when a side is constant. */
export function cramersV(a: Int32Array, ka: number, b: Int32Array, kb: number): number | null {
  const n = a.length;
  const t = new Float64Array(ka * kb);
  const ra = new Float64Array(ka);
  const rb = new Float64Array(kb);
  for (let r = 0; r < n; r++) {
    t[a[r]! * kb + b[r]!]++;
    ra[a[r]!]++;
    rb[b[r]!]++;
  }
  const la = ra.filter((x) => x > 0).length;
  const lb = rb.filter((x) => x > 0).length;
  if (n === 0 || la < 2 || lb < 2) return null;
  let chi2 = 0;
  for (let i = 0; i < ka; i++) {
    for (let j = 0; j < kb; j++) {
      const e = (ra[i]! * rb[j]!) / n;
      if (e > 0) chi2 += (t[i * kb + j]! - e) ** 2 / e;
    }
  }
  return Math.min(1, Math.sqrt(chi2 / (n * (Math.min(la, lb) - 1))));
}

/** Correlation ratio η of numbers y by category codes (NaN numbers ignored); null when undefined. */
export function correlationRatio(codes: Int32Array, k: number, y: Float64Array): number | null {
  const sum = new Float64Array(k);
  const cnt = new Float64Array(k);
  let n = 0;
  let total = 0;
  for (let r = 0; r < y.length; r++) {
    if (Number.isNaN(y[r]!)) continue;
    sum[codes[r]!] += y[r]!;
    cnt[codes[r]!]++;
    total += y[r]!;
    n++;
  }
  if (n < 2) return null;
  const mean = total / n;
  let ssTotal = 0;
  for (let r = 0; r < y.length; r++) if (!Number.isNaN(y[r]!)) ssTotal += (y[r]! - mean) ** 2;
  if (!(ssTotal > 0)) return null;
  let ssBetween = 0;
  for (let g = 0; g < k; g++) if (cnt[g]! > 0) ssBetween += cnt[g]! * (sum[g]! / cnt[g]! - mean) ** 2;
  return Math.min(1, Math.sqrt(ssBetween / ssTotal));
}

export interface PairTrend {
  a: string;
  b: string;
  kind: PairKind;
  real: number | null;
  synthetic: number | null;
  /** CorrelationSimilarity (numeric pairs) or ContingencySimilarity (others), in [0, 1]. */
  score: number;
  /** TVD of the pair's joint distribution on the evaluation bins. */
  tvd: number;
}

/** The association of columns i and j of a dataset (bins: evaluation-bin codes of every column). */
export function association(d: Dataset, cols: ColumnRef[], binners: Binner[], bins: Int32Array[], i: number, j: number): { kind: PairKind; value: number | null } {
  const ci = cols[i]!;
  const cj = cols[j]!;
  const values = (c: ColumnRef): Float64Array => (d.columns.get(c.name) as { values: Float64Array }).values;
  if (ci.numeric && cj.numeric) return { kind: 'pearson', value: pearson(values(ci), values(cj)) };
  if (!ci.numeric && !cj.numeric) return { kind: 'cramers-v', value: cramersV(bins[i]!, binners[i]!.size, bins[j]!, binners[j]!.size) };
  const [cat, numCol] = ci.numeric ? [j, ci] : [i, cj];
  return { kind: 'correlation-ratio', value: correlationRatio(bins[cat]!, binners[cat]!.size, values(numCol)) };
}

/** TVD of the joint distribution of columns i and j on the evaluation bins. */
export function pairTvd(realBins: Int32Array[], synthBins: Int32Array[], binners: Binner[], i: number, j: number): number {
  const w = binners[j]!.size;
  const size = binners[i]!.size * w;
  const joint = (b: Int32Array[]): Float64Array => {
    const out = new Float64Array(size);
    for (let r = 0; r < b[i]!.length; r++) out[b[i]![r]! * w + b[j]![r]!]++;
    return out;
  };
  return tvd(joint(realBins), joint(synthBins));
}

/** Every pair's trend (i < j). */
export function pairTrends(real: Dataset, synth: Dataset, cols: ColumnRef[], binners: Binner[], realBins: Int32Array[], synthBins: Int32Array[]): PairTrend[] {
  const out: PairTrend[] = [];
  for (let i = 0; i < cols.length; i++) {
    for (let j = i + 1; j < cols.length; j++) {
      const r = association(real, cols, binners, realBins, i, j);
      const s = association(synth, cols, binners, synthBins, i, j);
      const t = pairTvd(realBins, synthBins, binners, i, j);
      const score = r.kind === 'pearson'
        ? (r.value === null || s.value === null ? (r.value === s.value ? 1 : 0.5) : 1 - Math.abs(s.value - r.value) / 2)
        : 1 - t;
      out.push({ a: cols[i]!.name, b: cols[j]!.name, kind: r.kind, real: r.value, synthetic: s.value, score, tvd: t });
    }
  }
  return out;
}

/** A symmetric matrix over the columns from pair values (diagonal: `diagonal`). */
export function pairMatrix(names: string[], pairs: PairTrend[], value: (p: PairTrend) => number | null, diagonal: number | null): (number | null)[][] {
  const idx = new Map(names.map((n, i) => [n, i]));
  const m = names.map((_, i) => names.map((__, j) => (i === j ? diagonal : null)));
  for (const p of pairs) {
    const i = idx.get(p.a)!;
    const j = idx.get(p.b)!;
    m[i]![j] = m[j]![i] = value(p);
  }
  return m;
}
