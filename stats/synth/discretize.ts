/**
 * Discretization for marginal-based synthesis (docs/synth.md), in three layers per column:
 *   - fine values: a categorical column's levels; a numeric column's bins — equal-width over
 *     its schema bounds [min, max] (an integer column with few values: one bin per integer), or
 *     refined where a first noisy histogram found the data (`refineEdges`); "(missing)" last;
 *   - query levels, what the two-way measurements ask for: categorical levels unchanged, numeric
 *     bins merged into coarse bins (a subset of the fine edges) + "(missing)";
 *   - model values ("groups"), what the graphical model is over: unions of query levels.
 * Coarse bins and groups are chosen from the noisy one-way counts only (post-processing of a
 * released measurement): rare values (noisy count below `rareCount`, MST's 3σ) are merged, and a
 * column gets at most `maxLevels` groups so that a two-way table keeps some signal above its noise.
 */
import { MISSING_LEVEL } from '../schema.ts';
import type { Schema } from '../schema.ts';

export interface FineColumn {
  name: string;
  type: 'categorical' | 'numeric' | 'integer';
  /** Fine value labels; the last one is "(missing)". */
  levels: string[];
  /** Numeric/integer: the fine bin edges (levels.length − 1 bins). */
  edges?: number[];
  /** Numeric/integer: the schema bounds (sampled values stay inside). */
  min?: number;
  max?: number;
  /** Grid of the recorded values (1 for integer columns; a numeric column's schema resolution). */
  step?: number;
}

/** The schema's data columns as fine columns (identifier columns are never modelled). */
export function fineColumns(schema: Schema, fineBins: number): FineColumn[] {
  if (!Number.isInteger(fineBins) || fineBins < 2 || fineBins > 1000) throw new RangeError(`fineBins: expected an integer in [2, 1000], got ${fineBins}`);
  const out: FineColumn[] = [];
  for (const c of schema.columns) {
    if (c.type === 'identifier') continue;
    if (c.type === 'categorical') {
      const cats = c.categories!;
      out.push({ name: c.name, type: 'categorical', levels: [...cats, MISSING_LEVEL] });
      continue;
    }
    const min = c.min!;
    const max = c.max!;
    const step = c.type === 'integer' ? 1 : c.resolution;
    let edges: number[];
    if (step !== undefined) {
      // half-step edges: every bin holds whole grid values (one each when there are few values)
      const { first, values } = grid(min, max, step);
      const k = Math.min(values, fineBins);
      edges = Array.from({ length: k + 1 }, (_, i) => onGrid((first - 0.5 + Math.round((values * i) / k)) * step, step));
    } else {
      edges = Array.from({ length: fineBins + 1 }, (_, i) => (i === fineBins ? max : min + ((max - min) * i) / fineBins));
    }
    edges = withPointBins(edges, min, max, step);
    const labels = edges.slice(0, -1).map((e, i) => `[${e}, ${edges[i + 1]}${i === edges.length - 2 ? ']' : ')'}`);
    out.push({ name: c.name, type: c.type, levels: [...labels, MISSING_LEVEL], edges, min, max, ...(step !== undefined ? { step } : {}) });
  }
  return out;
}

/**
 * Values that get a fine bin of their own, chosen from the schema alone (before any data): 0
 * when it lies inside the bounds (counts, receptor levels, spike sizes are often exactly 0). The
 * noisy one-way count of that bin then decides the share of the point mass, and sampling puts
 * every record of the bin exactly on the value.
 */
export function pointMassValues(min: number, max: number): number[] {
  return min <= 0 && 0 <= max ? [0] : [];
}

/** Width of the bin of a point mass in a column without a grid: [v, v + pointWidth). */
export function pointWidth(min: number, max: number): number {
  return (max - min) * 1e-9;
}

/** True when bin [lo, hi) is the bin of one point mass of a column without a grid. */
export function isPointBin(lo: number, hi: number, min: number, max: number): boolean {
  return hi - lo <= 2 * pointWidth(min, max);
}

/**
 * Edges with a bin of its own for every point-mass value (pointMassValues): [v − step/2, v + step/2)
 * on a grid, [v, v + pointWidth) without one. Edges already there are kept; the span is unchanged.
 */
export function withPointBins(edges: number[], min: number, max: number, step?: number): number[] {
  const lo = edges[0]!;
  const hi = edges[edges.length - 1]!;
  const extra: number[] = [];
  for (const v of pointMassValues(min, max)) {
    if (step !== undefined) extra.push(onGrid(v - step / 2, step), onGrid(v + step / 2, step));
    else extra.push(v, v + pointWidth(min, max));
  }
  const tol = step !== undefined ? step * 1e-6 : pointWidth(min, max) * 1e-3;
  const all = [...edges, ...extra.filter((e) => e > lo && e < hi)].sort((a, b) => a - b);
  return all.filter((e, i) => i === 0 || e - all[i - 1]! > tol);
}

/** The grid k·step inside [min, max]: index of its first point and number of points. */
export function grid(min: number, max: number, step: number): { first: number; values: number } {
  const first = Math.ceil(min / step - 1e-9);
  return { first, values: Math.max(1, Math.floor(max / step + 1e-9) - first + 1) };
}

/** x rounded to the decimals of step (so 0.30000000000000004 prints as 0.3). */
export function onGrid(x: number, step: number): number {
  return Number(x.toPrecision(Math.min(15, Math.max(1, Math.ceil(Math.log10(Math.abs(x) / step + 1)) + 2))));
}

/** True for a numeric column, or an integer column with more values than fine bins (worth refining). */
export function refinable(c: FineColumn, fineBins: number): boolean {
  return c.step === undefined ? c.type === 'numeric' : grid(c.min!, c.max!, c.step).values > fineBins;
}

/**
 * Fine edges refined from a first, coarse noisy histogram over the same bounds: bin k of the
 * coarse edges is cut into 1 + ⌊(fineBins − K)·m_k / Σm⌋ equal parts, m_k its projected noisy
 * count (projectCounts), so the fine bins are narrow where the data are and wide where they are
 * not (equal-width when the histogram is empty). Integer columns: half-integer cut points only.
 * Post-processing of a released measurement.
 */
export function refineEdges(coarseEdges: number[], projected: number[], fineBins: number, step?: number): number[] {
  const K = coarseEdges.length - 1;
  if (projected.length !== K) throw new RangeError(`refineEdges: expected ${K} counts, got ${projected.length}`);
  const total = projected.reduce((a, b) => a + b, 0);
  const spare = Math.max(0, fineBins - K);
  const out: number[] = [coarseEdges[0]!];
  for (let k = 0; k < K; k++) {
    const lo = coarseEdges[k]!;
    const hi = coarseEdges[k + 1]!;
    let parts = 1 + (total > 0 ? Math.floor((spare * projected[k]!) / total) : Math.floor(spare / K));
    const width = step === undefined ? 0 : Math.round((hi - lo) / step);
    if (step !== undefined) parts = Math.max(1, Math.min(parts, width));
    else if (isPointBin(lo, hi, coarseEdges[0]!, coarseEdges[K]!)) parts = 1;
    for (let j = 1; j < parts; j++) {
      const e = step !== undefined ? onGrid(lo + step * Math.round((width * j) / parts), step) : lo + ((hi - lo) * j) / parts;
      if (e > out[out.length - 1]! && e < hi) out.push(e);
    }
    out.push(hi);
  }
  return out;
}

/** A fine column with new bin edges. */
export function withEdges(c: FineColumn, edges: number[]): FineColumn {
  const labels = edges.slice(0, -1).map((e, i) => `[${e}, ${edges[i + 1]}${i === edges.length - 2 ? ']' : ')'}`);
  return { ...c, levels: [...labels, MISSING_LEVEL], edges: [...edges] };
}

/** Per column: the query levels (as fine indices) and the groups (as query-level indices). */
export interface Coarsening {
  /** For each query level, the fine values it covers (numeric: a run of bins; missing alone). */
  queryLevels: number[][];
  /** Numeric: the coarse bin edges used in the two-way queries (a subset of the fine edges). */
  edges?: number[];
  /** For each model value, the query levels it covers. */
  groups: number[][];
}

export interface CoarsenOptions {
  /** Noisy counts below this are rare (MST: 3σ of the one-way noise). */
  rareCount: number;
  /** Most model values per column (≥ 2). */
  maxLevels: number;
}

/** Contiguous runs of numeric bins with roughly equal (clipped) noisy mass, at most maxLevels runs, each at least rareCount. */
function numericRuns(counts: number[], opts: CoarsenOptions): number[][] {
  const c = counts.map((x) => Math.max(0, x));
  const total = c.reduce((a, b) => a + b, 0);
  const target = Math.max(total / opts.maxLevels, opts.rareCount, 1e-300);
  const runs: number[][] = [];
  let cur: number[] = [];
  let acc = 0;
  for (let j = 0; j < c.length; j++) {
    cur.push(j);
    acc += c[j]!;
    // close a run once it holds its share (the last run takes the rest)
    if (acc >= target && runs.length < opts.maxLevels - 1 && j < c.length - 1) {
      runs.push(cur);
      cur = [];
      acc = 0;
    }
  }
  if (cur.length > 0) {
    if (runs.length > 0 && acc < Math.max(opts.rareCount, target / 2)) runs[runs.length - 1]!.push(...cur);
    else runs.push(cur);
  }
  return runs;
}

/** Merges the two groups of smallest mass until at most maxLevels remain. */
function capGroups(groups: number[][], mass: number[], maxLevels: number): number[][] {
  const gs = groups.map((g) => ({ members: [...g], mass: g.reduce((a, i) => a + mass[i]!, 0) }));
  while (gs.length > maxLevels) {
    gs.sort((a, b) => a.mass - b.mass || a.members[0]! - b.members[0]!);
    const [a, b] = [gs.shift()!, gs.shift()!];
    gs.push({ members: [...a.members, ...b.members].sort((x, y) => x - y), mass: a.mass + b.mass });
  }
  return gs.map((g) => g.members).sort((x, y) => x[0]! - y[0]!);
}

/**
 * Coarsens one column from its noisy fine one-way counts (post-processing only).
 * Categorical: query levels = fine levels; rare levels form one group, except a rare "(missing)",
 * which joins the largest level; then the smallest groups merge down to maxLevels. Numeric: bins
 * merge into runs (the coarse bins); "(missing)" is its own group unless rare, then it joins the
 * largest group.
 */
export function coarsen(col: FineColumn, noisyCounts: number[], opts: CoarsenOptions): Coarsening {
  const k = col.levels.length;
  if (noisyCounts.length !== k) throw new RangeError(`coarsen ${col.name}: expected ${k} counts, got ${noisyCounts.length}`);
  if (!(opts.maxLevels >= 2)) throw new RangeError(`maxLevels: expected at least 2, got ${opts.maxLevels}`);
  const clipped = noisyCounts.map((x) => Math.max(0, x));
  if (col.type === 'categorical') {
    const queryLevels = col.levels.map((_, i) => [i]);
    const missing = k - 1;
    const rare = clipped.map((x, i) => (x < opts.rareCount ? i : -1)).filter((i) => i >= 0);
    const common = clipped.map((_, i) => i).filter((i) => !rare.includes(i));
    const groups = common.map((i) => [i]);
    // a rare "(missing)" joins the largest level (as for numeric columns): a column that is
    // (almost) never missing spends no model value, and no table cells, on it
    const rareLevels = rare.filter((i) => i !== missing || groups.length === 0);
    if (rareLevels.length < rare.length) groups.reduce((a, b) => (clipped[b[0]!]! > clipped[a[0]!]! ? b : a)).push(missing);
    if (rareLevels.length > 0) groups.push(rareLevels);
    return { queryLevels, groups: capGroups(groups, clipped, opts.maxLevels) };
  }
  const bins = k - 1;
  const missing = k - 1;
  const runs = numericRuns(clipped.slice(0, bins), { ...opts, maxLevels: clipped[missing]! >= opts.rareCount ? Math.max(1, opts.maxLevels - 1) : opts.maxLevels });
  const edges = [col.edges![runs[0]![0]!]!, ...runs.map((r) => col.edges![r[r.length - 1]! + 1]!)];
  const queryLevels = [...runs, [missing]];
  const runMass = runs.map((r) => r.reduce((a, j) => a + clipped[j]!, 0));
  const m = runs.length; // query level index of "(missing)"
  let groups: number[][];
  if (clipped[missing]! >= opts.rareCount) {
    groups = [...runs.map((_, i) => [i]), [m]];
  } else {
    let largest = 0;
    runMass.forEach((x, i) => {
      if (x > runMass[largest]!) largest = i;
    });
    groups = runs.map((_, i) => (i === largest ? [i, m] : [i]));
  }
  return { queryLevels, edges, groups };
}

/** For each fine bin: does it lie inside a range-step bin whose projected count is 0? */
export function emptyRangeBins(fineEdges: readonly number[], coarseEdges: readonly number[], coarseProjected: readonly number[]): boolean[] {
  const out: boolean[] = [];
  let k = 0;
  for (let j = 0; j < fineEdges.length - 1; j++) {
    const mid = (fineEdges[j]! + fineEdges[j + 1]!) / 2;
    while (k < coarseEdges.length - 2 && coarseEdges[k + 1]! <= mid) k++;
    out.push(!(coarseProjected[k]! > 0));
  }
  return out;
}

/** The model value of each fine value. */
export function fineToGroup(c: Coarsening, fineCount: number): Int32Array {
  const out = new Int32Array(fineCount).fill(-1);
  c.groups.forEach((g, gi) => {
    for (const ql of g) for (const f of c.queryLevels[ql]!) out[f] = gi;
  });
  for (let i = 0; i < fineCount; i++) if (out[i]! < 0) throw new Error(`coarsening leaves fine value ${i} without a group`);
  return out;
}

/** The model value of each query level. */
export function queryLevelToGroup(c: Coarsening): Int32Array {
  const out = new Int32Array(c.queryLevels.length).fill(-1);
  c.groups.forEach((g, gi) => {
    for (const ql of g) out[ql] = gi;
  });
  return out;
}

