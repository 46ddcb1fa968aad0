/**
 * Encodings of datasets for evaluation, all fixed from the real (training) data only, so every
 * synthetic dataset and baseline is measured on the same footing:
 *   - evaluation bins: a categorical column's levels; a numeric column's deciles of the real
 *     values (distinct cut points); "(missing)" last — for TVDs of one- and two-way marginals;
 *   - a mixed-type (Gower) distance: |a − b| / range of the real column for numbers, 0/1 for
 *     categories, 1 when exactly one side is missing, averaged over the columns;
 *   - features for the classifier: standardized numbers (missing → 0, plus a missing indicator)
 *     and one-hot categories (missing its own indicator).
 */
import type { Dataset } from '../dataset.ts';
import type { Schema } from '../schema.ts';

export interface ColumnRef {
  name: string;
  numeric: boolean;
}

/** The data columns of a schema (identifiers excluded). */
export function dataColumns(schema: Schema): ColumnRef[] {
  return schema.columns.filter((c) => c.type !== 'identifier').map((c) => ({ name: c.name, numeric: c.type !== 'categorical' }));
}

function numericOf(d: Dataset, name: string): Float64Array {
  const c = d.columns.get(name);
  if (c?.kind !== 'numeric') throw new TypeError(`dataset has no numeric column "${name}"`);
  return c.values;
}

function codesOf(d: Dataset, name: string): Int32Array {
  const c = d.columns.get(name);
  if (c?.kind !== 'categorical') throw new TypeError(`dataset has no categorical column "${name}"`);
  return c.codes;
}

/** Empirical quantile (type 7, linear interpolation) of sorted values. */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export interface Binner {
  column: ColumnRef;
  /** Numeric: cut points (a value v is in bin #cuts ≤ v); categorical: none. */
  cuts?: number[];
  /** Bins including "(missing)" (the last). */
  size: number;
  labels: string[];
}

/** Evaluation bins from the real data: deciles (distinct) for numbers, levels for categories. */
export function makeBinners(schema: Schema, real: Dataset, bins = 10): Binner[] {
  return dataColumns(schema).map((column) => {
    if (!column.numeric) {
      const c = real.columns.get(column.name);
      if (c?.kind !== 'categorical') throw new TypeError(`dataset has no categorical column "${column.name}"`);
      return { column, size: c.levels.length + 1, labels: [...c.levels, '(missing)'] };
    }
    const v = numericOf(real, column.name).filter((x) => !Number.isNaN(x)).sort();
    const cuts = [...new Set(Array.from({ length: bins - 1 }, (_, k) => quantile(v, (k + 1) / bins)))];
    const labels = [...cuts.map((c, k) => (k === 0 ? `< ${c}` : `[${cuts[k - 1]}, ${c})`)), `≥ ${cuts[cuts.length - 1] ?? '−∞'}`, '(missing)'];
    return { column, cuts, size: cuts.length + 2, labels };
  });
}

/** Bin index of every row (missing → size − 1). */
export function binRows(b: Binner, d: Dataset): Int32Array {
  const out = new Int32Array(d.rowCount);
  if (!b.cuts) {
    const codes = codesOf(d, b.column.name);
    for (let r = 0; r < d.rowCount; r++) out[r] = codes[r]! < 0 ? b.size - 1 : codes[r]!;
    return out;
  }
  const v = numericOf(d, b.column.name);
  const cuts = b.cuts;
  for (let r = 0; r < d.rowCount; r++) {
    const x = v[r]!;
    if (Number.isNaN(x)) {
      out[r] = b.size - 1;
      continue;
    }
    let lo = 0;
    let hi = cuts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cuts[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    out[r] = lo;
  }
  return out;
}

/** Counts of bin indices. */
export function countBins(codes: Int32Array, size: number): Float64Array {
  const out = new Float64Array(size);
  for (const c of codes) out[c]++;
  return out;
}

/** Rows as arrays for the Gower distance: numbers scaled by 1/range (NaN missing), categories as codes (−1 missing). */
export interface GowerRows {
  numeric: boolean[];
  /** rows × columns, row-major. */
  values: Float64Array;
  rows: number;
  cols: number;
}

/** Scales from the real data: 1 / (max − min) of each numeric column (1 when constant). */
export function gowerScales(schema: Schema, real: Dataset): number[] {
  return dataColumns(schema).map((c) => {
    if (!c.numeric) return 1;
    let lo = Infinity;
    let hi = -Infinity;
    for (const x of numericOf(real, c.name)) {
      if (Number.isNaN(x)) continue;
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    return hi > lo ? 1 / (hi - lo) : 1;
  });
}

export function gowerRows(schema: Schema, d: Dataset, scales: number[]): GowerRows {
  const cols = dataColumns(schema);
  const values = new Float64Array(d.rowCount * cols.length);
  cols.forEach((c, j) => {
    if (c.numeric) {
      const v = numericOf(d, c.name);
      for (let r = 0; r < d.rowCount; r++) values[r * cols.length + j] = v[r]! * scales[j]!;
    } else {
      const codes = codesOf(d, c.name);
      for (let r = 0; r < d.rowCount; r++) values[r * cols.length + j] = codes[r]! < 0 ? NaN : codes[r]!;
    }
  });
  return { numeric: cols.map((c) => c.numeric), values, rows: d.rowCount, cols: cols.length };
}

/** Gower distance between row i of a and row k of b (both from gowerRows with the same scales). */
export function gower(a: GowerRows, i: number, b: GowerRows, k: number): number {
  const m = a.cols;
  let s = 0;
  for (let j = 0; j < m; j++) {
    const x = a.values[i * m + j]!;
    const y = b.values[k * m + j]!;
    const xm = Number.isNaN(x);
    const ym = Number.isNaN(y);
    if (xm || ym) s += xm === ym ? 0 : 1;
    else if (a.numeric[j]) s += Math.min(1, Math.abs(x - y));
    else s += x === y ? 0 : 1;
  }
  return s / m;
}

/** Feature encoder fixed on the real data (means/sds, levels). */
export interface FeatureEncoder {
  names: string[];
  encode(d: Dataset): Float64Array[];
}

export function featureEncoder(schema: Schema, real: Dataset, exclude: string[]): FeatureEncoder {
  const cols = dataColumns(schema).filter((c) => !exclude.includes(c.name));
  const names: string[] = [];
  const parts: ((d: Dataset, row: number, out: number[]) => void)[] = [];
  for (const c of cols) {
    if (c.numeric) {
      const v = numericOf(real, c.name).filter((x) => !Number.isNaN(x));
      const mean = v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
      const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, v.length - 1)) || 1;
      names.push(c.name, `${c.name} missing`);
      parts.push((d, r, out) => {
        const x = numericOf(d, c.name)[r]!;
        out.push(Number.isNaN(x) ? 0 : (x - mean) / sd, Number.isNaN(x) ? 1 : 0);
      });
    } else {
      const levels = (real.columns.get(c.name) as { levels: string[] }).levels;
      // one-hot without the first level (the intercept carries it), plus missing
      levels.slice(1).forEach((l) => names.push(`${c.name} = ${l}`));
      names.push(`${c.name} missing`);
      parts.push((d, r, out) => {
        const k = codesOf(d, c.name)[r]!;
        for (let j = 1; j < levels.length; j++) out.push(k === j ? 1 : 0);
        out.push(k < 0 ? 1 : 0);
      });
    }
  }
  return {
    names,
    encode: (d) => Array.from({ length: d.rowCount }, (_, r) => {
      const out: number[] = [];
      for (const p of parts) p(d, r, out);
      return Float64Array.from(out);
    }),
  };
}

/** 1 where a categorical column equals `positive`, else 0 (missing → 0). */
export function outcomeLabels(d: Dataset, column: string, positive: string): Uint8Array {
  const c = d.columns.get(column);
  if (c?.kind !== 'categorical') throw new TypeError(`outcome "${column}" must be a categorical column`);
  const k = c.levels.indexOf(positive);
  if (k < 0) throw new RangeError(`outcome level "${positive}" is not a level of "${column}" (levels: ${c.levels.join(', ')})`);
  return Uint8Array.from(c.codes, (x) => (x === k ? 1 : 0));
}

/**
 * Plot bins of a column for the report's real-vs-synthetic charts: a categorical column's levels;
 * a numeric column's `bins` equal-width bins over the real observed [min, max] (a value equal to
 * the max in the last), then "below real min", "above real max" and "(missing)".
 */
export interface PlotBins {
  labels: string[];
  code(d: Dataset): Int32Array;
}

export function plotBins(c: ColumnRef, real: Dataset, bins = 20): PlotBins {
  if (!c.numeric) {
    const levels = (real.columns.get(c.name) as { levels: string[] }).levels;
    // a column with missing: 'category' already has the level "(missing)"
    const labels = levels.includes('(missing)') ? [...levels] : [...levels, '(missing)'];
    const missing = labels.indexOf('(missing)');
    return { labels, code: (d) => Int32Array.from(codesOf(d, c.name), (k) => (k < 0 ? missing : k)) };
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of numericOf(real, c.name)) if (!Number.isNaN(x)) [lo, hi] = [Math.min(lo, x), Math.max(hi, x)];
  if (!(hi >= lo)) [lo, hi] = [0, 0];
  const k = hi > lo ? bins : 1;
  const w = (hi - lo) / k;
  const fmt = (x: number): string => String(Number(x.toPrecision(4)));
  const labels = [...Array.from({ length: k }, (_, i) => `[${fmt(lo + i * w)}, ${fmt(i === k - 1 ? hi : lo + (i + 1) * w)}${i === k - 1 ? ']' : ')'}`), `< ${fmt(lo)} (below real min)`, `> ${fmt(hi)} (above real max)`, '(missing)'];
  return {
    labels,
    code: (d) => Int32Array.from(numericOf(d, c.name), (x) => {
      if (Number.isNaN(x)) return k + 2;
      if (x < lo) return k;
      if (x > hi) return k + 1;
      return w > 0 ? Math.min(k - 1, Math.floor((x - lo) / w)) : 0;
    }),
  };
}
