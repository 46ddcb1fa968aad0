/**
 * Design matrices of the model kinds (GLM, Cox) and their public time grid, from the schema only.
 *
 * Predictors. A numeric or integer column x with schema bounds [a, b] enters as the standardized
 * term x̃ = (x − c)/s with c = (a + b)/2, s = (b − a)/2, so |x̃| ≤ 1 for every row (the dataset
 * loader keeps values inside the bounds): fixed-point grids and overflow checks are planned from
 * that bound and the round's public state, and the Newton iterations are well conditioned. A
 * categorical column enters by treatment (dummy) coding: one 0/1 term per level except the
 * reference, the first level of the schema (R's default for a factor whose levels are given in
 * that order); terms are named as R names them (`sexm`). Coefficients are reported on the
 * original scale: β_j = β̃_j / s_j, and the intercept absorbs the centres,
 * β_0 = β̃_0 − Σ_j β̃_j c_j / s_j; covariances transform with the same linear map.
 *
 * Time grid (kaplan_meier, cox). Event times are binned on public edges that cover the time
 * column's schema bounds: `bins` from the query, or DEFAULT_TIME_BINS equal bins of the bounds.
 * Bins are [e_j, e_{j+1}), the last one closed; a time in bin j is taken to be e_{j+1} (its upper
 * edge), the "grid-binned time" the R references use.
 */
import type { CategoricalColumn, Dataset, NumericColumn } from '../dataset.ts';
import { QueryError, quote, type Query } from '../query-types.ts';
import { findColumn, levelsOf, type ColumnSpec, type Schema } from '../schema.ts';
import { binIndex } from './histogram.ts';

export interface Design {
  /** Coefficient names of the terms (no intercept), as R names them. */
  terms: string[];
  /** Per term: x̃ = (x − center)/scale (dummies: center 0, scale 1). */
  center: number[];
  scale: number[];
  /** The columns the terms come from (in order, each once). */
  columns: string[];
}

function modelColumn(schema: Schema, name: string, role: string): ColumnSpec {
  const c = findColumn(schema, name);
  if (!c) throw new QueryError(`${role}: unknown column ${quote(name)}`);
  if (c.type === 'identifier') throw new QueryError(`${role}: column "${name}" is an identifier; identifiers are never aggregated`);
  return c;
}

/** The design of predictor columns (numeric standardized by bounds, categorical by treatment coding). */
export function buildDesign(columns: string[], schema: Schema): Design {
  const d: Design = { terms: [], center: [], scale: [], columns: [...columns] };
  columns.forEach((name, i) => {
    const c = modelColumn(schema, name, `columns[${i}]`);
    if (c.type === 'categorical') {
      const levels = levelsOf(c);
      if (levels.length < 2) throw new QueryError(`columns[${i}]: categorical "${name}" has ${levels.length} level; a predictor needs at least two`);
      for (const lv of levels.slice(1)) {
        d.terms.push(`${name}${lv}`);
        d.center.push(0);
        d.scale.push(1);
      }
    } else {
      const a = c.min!;
      const b = c.max!;
      if (!(b > a)) throw new QueryError(`columns[${i}]: "${name}" has equal bounds [${a}, ${b}]; a constant cannot be a predictor`);
      d.terms.push(name);
      d.center.push((a + b) / 2);
      d.scale.push((b - a) / 2);
    }
  });
  return d;
}

/**
 * The row's standardized terms: writes p values into `out` and returns false when a predictor is
 * missing (the row is not a complete case).
 */
export function designRows(design: Design, dataset: Dataset): (row: number, out: Float64Array) => boolean {
  const writers = design.columns.map((name) => {
    const col = dataset.columns.get(name);
    if (!col) throw new TypeError(`designRows: the dataset has no column "${name}"`);
    return col;
  });
  return (row, out) => {
    let k = 0;
    for (const col of writers) {
      if (col.kind === 'categorical') {
        const code = (col as CategoricalColumn).codes[row]!;
        if (code < 0) return false;
        const m = col.levels.length - 1;
        for (let j = 0; j < m; j++) out[k + j] = code === j + 1 ? 1 : 0;
        k += m;
      } else {
        const v = (col as NumericColumn).values[row]!;
        if (Number.isNaN(v)) return false;
        out[k] = (v - design.center[k]!) / design.scale[k]!;
        k++;
      }
    }
    return true;
  };
}

/**
 * Coefficients and covariance on the original scale from those of the standardized terms.
 * `intercept`: the first coefficient is the intercept (GLM); otherwise there is none (Cox).
 */
export function toOriginalScale(design: Design, beta: number[], cov: number[][] | null, intercept: boolean): { beta: number[]; cov: number[][] | null } {
  const p = design.terms.length;
  const m = p + (intercept ? 1 : 0);
  const off = intercept ? 1 : 0;
  // A: original = A · standardized.
  const A = Array.from({ length: m }, () => new Array<number>(m).fill(0));
  if (intercept) {
    A[0]![0] = 1;
    for (let j = 0; j < p; j++) A[0]![j + 1] = -design.center[j]! / design.scale[j]!;
  }
  for (let j = 0; j < p; j++) A[j + off]![j + off] = 1 / design.scale[j]!;
  const mul = (x: number[]): number[] => A.map((row) => row.reduce((s, a, k) => s + a * x[k]!, 0));
  const b = mul(beta);
  if (!cov) return { beta: b, cov: null };
  const AC = A.map((row) => cov[0]!.map((_, k) => row.reduce((s, a, l) => s + a * cov[l]![k]!, 0)));
  const out = AC.map((row) => A.map((arow) => row.reduce((s, x, l) => s + x * arow[l]!, 0)));
  return { beta: b, cov: out };
}

/** Equal bins of the time column's bounds when the query gives none. */
export const DEFAULT_TIME_BINS = 100;

/** The public time grid of a survival query: its edges (covering the time column's bounds). */
export function timeGrid(q: Query, schema: Schema): number[] {
  const c = modelColumn(schema, q.time ?? '', 'time');
  if (c.type !== 'numeric' && c.type !== 'integer') throw new QueryError(`time: "${c.name}" is ${c.type}; a follow-up time is numeric or integer`);
  const [a, b] = [c.min!, c.max!];
  if (q.bins === undefined) {
    if (!(b > a)) throw new QueryError(`time: "${c.name}" has equal bounds [${a}, ${b}]`);
    return Array.from({ length: DEFAULT_TIME_BINS + 1 }, (_, i) => (i === DEFAULT_TIME_BINS ? b : a + ((b - a) * i) / DEFAULT_TIME_BINS));
  }
  const e = q.bins;
  if (e.length < 2 || e.length > 10_001) throw new QueryError(`bins: a time grid has between 1 and 10000 bins, got ${e.length - 1}`);
  for (let i = 1; i < e.length; i++) if (!(e[i]! > e[i - 1]!)) throw new QueryError(`bins must be strictly increasing; bins[${i}] = ${e[i]} after ${e[i - 1]}`);
  if (e[0]! > a || e[e.length - 1]! < b) throw new QueryError(`bins span [${e[0]}, ${e[e.length - 1]}] but must cover the bounds of "${c.name}" [${a}, ${b}] so that every time falls in a bin`);
  return [...e];
}

/** The bin of a time on the grid (bins [e_j, e_{j+1}), the last closed); times are inside the bounds. */
export function timeBin(edges: number[], t: number): number {
  return binIndex(edges, t);
}
