/**
 * The layout of a cox round (stats/kinds/cox.ts): its design, time grid and entry blocks, and the
 * checks of a cox query against the schema. Everything here is public: the query and the schema.
 */
import { QueryError, quote, type Query } from '../query-types.ts';
import { findColumn, levelsOf, MISSING_LEVEL, type Schema } from '../schema.ts';
import { buildDesign, timeGrid, type Design } from './design.ts';

/**
 * W = 2^16: the largest weight. Weighted sums go in two words (a high word on the plan's grid and
 * a low word holding each term's remainder below 2^-LOW_BITS, scaled up by 2^LOW_BITS), so a term
 * is carried to about 2^-49 although no entry's scale exceeds 24 bits: the weights of real rows
 * are far below their public bound W (docs/cox.md, precision).
 */
export const WEIGHT_BITS = 16;
export const WEIGHT: number = 2 ** WEIGHT_BITS;
export const LOW_BITS = 24;

/** Largest |β̃_k| of a state: keeps x̃β̃ and its bound B finite (a fit is orders of magnitude below). */
export const MAX_STATE = 1e6;

/** Most entries of a cox round: a party's cost per round is rows × entries. */
export const COX_MAX_ENTRIES = 200_000;

export interface CoxLayout {
  design: Design;
  edges: number[];
  /** Bins and terms. */
  K: number;
  p: number;
  /** Weighted sums per bin: S0, S1 (p), S2 (upper triangle, p(p+1)/2). */
  m: number;
  /** Entries per bin: rows, events, m high words, m low words. */
  block: number;
  /** Index of E's p high words, then its p low words (after the K blocks). */
  eOffset: number;
  /** All entries. */
  size: number;
  /** Per predictor column: its first term and its number of terms, and whether it is categorical (dummies). */
  groups: { first: number; count: number; dummies: boolean }[];
}

export function coxLayout(q: Query, schema: Schema): CoxLayout {
  const design = buildDesign(q.columns, schema);
  const edges = timeGrid(q, schema);
  const p = design.terms.length;
  const K = edges.length - 1;
  const m = 1 + p + (p * (p + 1)) / 2;
  const block = 2 + 2 * m;
  const groups: CoxLayout['groups'] = [];
  let first = 0;
  for (const name of design.columns) {
    const c = findColumn(schema, name)!;
    const count = c.type === 'categorical' ? levelsOf(c).length - 1 : 1;
    groups.push({ first, count, dummies: c.type === 'categorical' });
    first += count;
  }
  return { design, edges, K, p, m, block, eOffset: K * block, size: K * block + 2 * p, groups };
}

/**
 * B = max over every row the schema allows of x̃β̃: Σ |β̃_k| over numeric terms (|x̃_k| ≤ 1) plus,
 * per categorical column, max(0, its largest β̃) (at most one of its dummies is 1). Public.
 */
export function etaBound(L: CoxLayout, beta: number[]): number {
  let B = 0;
  for (const g of L.groups) {
    if (!g.dummies) B += Math.abs(beta[g.first]!);
    else B += Math.max(0, ...beta.slice(g.first, g.first + g.count));
  }
  return B;
}

/** Index of S2[a][b] (a ≤ b) among a bin's weighted sums (S0 is 0, S1[a] is 1 + a). */
export function s2Index(p: number, a: number, b: number): number {
  return 1 + p + a * p - (a * (a - 1)) / 2 + (b - a);
}

/** Checks a cox query against the schema (called by validateQuery). */
export function validateCox(q: Query, schema: Schema): void {
  if (q.columns.length < 1 || q.columns.length > 50) throw new QueryError(`cox takes between 1 and 50 predictor columns (numeric or categorical), got ${q.columns.length}`);
  if (q.time === undefined) throw new QueryError('cox needs time: the follow-up time column (numeric or integer)');
  if (q.event === undefined) throw new QueryError('cox needs event: the event status column (categorical)');
  const ev = findColumn(schema, q.event);
  if (!ev || ev.type === 'identifier') throw new QueryError(`event: unknown column ${quote(q.event)}`);
  if (ev.type !== 'categorical') throw new QueryError(`event: "${ev.name}" is ${ev.type}; the event status is a categorical column whose positive levels are events`);
  if (q.bins !== undefined) {
    q.bins.forEach((e, i) => {
      if (typeof e !== 'number' || !Number.isFinite(e)) throw new QueryError(`bins[${i}]: expected a finite number`);
    });
  }
  timeGrid(q, schema); // checks the time column and the grid
  const levels = levelsOf(ev);
  const pos = q.positive;
  if (!pos || pos.length === 0) throw new QueryError(`cox needs positive: the levels of "${ev.name}" that are events (levels: ${levels.join(', ')})`);
  if (new Set(pos).size !== pos.length) throw new QueryError('positive: the levels contain a duplicate');
  for (const lv of pos) {
    if (lv === MISSING_LEVEL) throw new QueryError(`positive: a missing event status cannot count as an event`);
    if (!levels.includes(lv)) throw new QueryError(`positive: ${quote(lv)} is not a level of "${ev.name}"; levels: ${levels.join(', ')}`);
  }
  for (const [i, c] of q.columns.entries()) {
    if (c === q.time || c === q.event) throw new QueryError(`columns[${i}]: ${quote(c)} is the ${c === q.time ? 'time' : 'event'} column; it cannot also be a predictor`);
  }
  const L = coxLayout(q, schema); // checks the predictors (buildDesign)
  if (L.size > COX_MAX_ENTRIES) {
    throw new QueryError(`cox: ${L.K} time bins × ${L.block} entries per bin (${L.p} terms) = ${L.size} entries, more than ${COX_MAX_ENTRIES}; use fewer bins or predictors`);
  }
  if (q.state !== undefined) {
    if (q.state.length !== L.p) throw new QueryError(`state: expected ${L.p} coefficients (one per term: ${L.design.terms.slice(0, 8).join(', ')}${L.p > 8 ? ', …' : ''}), got ${q.state.length}`);
    q.state.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new QueryError(`state[${i}]: expected a finite number`);
      if (Math.abs(v) > MAX_STATE) throw new QueryError(`state[${i}]: |${v}| exceeds ${MAX_STATE}; a standardized coefficient that large is no fit (its hazard ratio across the column's range would be e^${MAX_STATE})`);
    });
  }
}

/** The round's state: q.state, or 0 (the documented start). */
export function coxState(q: Query, p: number): number[] {
  return q.state ? [...q.state] : new Array<number>(p).fill(0);
}

/** The model as a formula: `Surv(time, status ∈ {2}) ~ age + sex` (describeQuery). */
export function coxFormula(q: Query): string {
  return `Surv(${q.time ?? '?'}, ${q.event ?? '?'} ∈ {${(q.positive ?? []).join(', ')}}) ~ ${q.columns.join(' + ')}`;
}
