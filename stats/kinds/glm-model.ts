/**
 * What both halves of the GLM kinds share (glm.ts: the round's statistics; glm-result.ts: its
 * post-processing): the family, the design, the state, the vector's layout indices, the offset's
 * bounds and the checks of a GLM query.
 */
import { QueryError, quote, type Query } from '../query-types.ts';
import { findColumn, levelsOf, type ColumnSpec, type Schema } from '../schema.ts';
import { buildDesign, type Design } from './design.ts';

export type Family = 'binomial' | 'poisson';

export function familyOf(q: Query): Family {
  return q.kind === 'logistic_regression' ? 'binomial' : 'poisson';
}

/** Coefficients of the model: the intercept and the design's terms. */
export function glmDesign(q: Query, schema: Schema): Design {
  return buildDesign(q.columns, schema);
}

function spec(schema: Schema, name: string, role: string): ColumnSpec {
  const c = findColumn(schema, name);
  if (!c || c.type === 'identifier') throw new QueryError(`${role}: ${quote(name)} is not a data column`);
  return c;
}

/** Bounds of log(exposure) for poisson_regression's offset: [lo, hi]; [0, 0] without one. */
export function offsetBounds(q: Query, schema: Schema): [number, number] {
  if (q.offset === undefined) return [0, 0];
  const c = spec(schema, q.offset, 'offset');
  const max = c.max!;
  // The smallest positive exposure: the schema minimum if positive, else the grid of the column.
  const minPositive = c.min! > 0 ? c.min! : c.type === 'integer' ? 1 : c.resolution;
  if (minPositive === undefined || !(max >= minPositive)) {
    throw new QueryError(`offset: "${c.name}" needs a positive minimum or a resolution in the schema, so that log(exposure) is bounded`);
  }
  return [Math.log(minPositive), Math.log(max)];
}

/** Checks the GLM fields (called by validateQuery). */
export function validateGlm(q: Query, schema: Schema): void {
  const kind = q.kind;
  if (q.columns.length > 50) throw new QueryError(`${kind} takes at most 50 predictor columns, got ${q.columns.length}`);
  if (q.target === undefined) throw new QueryError(`${kind} needs target: the response column`);
  const t = spec(schema, q.target, 'target');
  if (q.columns.includes(q.target)) throw new QueryError(`${kind}: target ${quote(q.target)} is also a predictor`);
  if (kind === 'logistic_regression') {
    if (t.type !== 'categorical') throw new QueryError(`logistic_regression: target "${t.name}" is ${t.type}; use a categorical column and name its event levels in positive`);
    const levels = levelsOf(t);
    const pos = q.positive ?? [];
    if (pos.length === 0) throw new QueryError(`logistic_regression needs positive: the levels of "${t.name}" that count as 1 (levels: ${levels.join(', ')})`);
    for (const lv of pos) if (!levels.includes(lv)) throw new QueryError(`positive: ${quote(lv)} is not a level of "${t.name}"; levels: ${levels.join(', ')}`);
    if (pos.length >= levels.length) throw new QueryError(`positive: every level of "${t.name}" is positive; the response would be constant`);
  } else {
    if (t.type !== 'integer' || !(t.min! >= 0)) throw new QueryError(`poisson_regression: target "${t.name}" must be an integer column with min ≥ 0 (a count); it is ${t.type} with min ${t.min}`);
    if (q.offset !== undefined) {
      const o = spec(schema, q.offset, 'offset');
      if (o.type !== 'numeric' && o.type !== 'integer') throw new QueryError(`offset: "${o.name}" is ${o.type}; the exposure is numeric or integer`);
      if (q.offset === q.target || q.columns.includes(q.offset)) throw new QueryError(`offset: "${o.name}" is also the target or a predictor`);
      offsetBounds(q, schema);
    }
  }
  const d = glmDesign(q, schema);
  const m = d.terms.length + 1;
  if (q.state !== undefined) {
    if (q.state.length !== m && q.state.length !== m + d.terms.length) {
      throw new QueryError(`state: ${kind} with these columns has ${m} coefficients (intercept, ${d.terms.join(', ')}), optionally followed by ${d.terms.length} centres; got ${q.state.length} numbers`);
    }
    if (q.state.slice(0, m).some((b) => Math.abs(b) > 100)) throw new QueryError('state: a standardized coefficient beyond ±100 (the fit diverged); refine the model');
    if (q.state.slice(m).some((c) => Math.abs(c) > 1)) throw new QueryError('state: a centre outside [−1, 1] (the standardized range of its term)');
  }
}

/**
 * A round's state: the coefficients β̂ of the design centred at `centers`, x̂ = x̃ − c (c = 0 in
 * round 1). The centres after round 1 are the weighted means of the terms that round released
 * (I₀ⱼ / I₀₀), so that the intercept is nearly orthogonal to the slopes: with differential privacy
 * the information's noise along the intercept no longer swamps a slope whose values fill a small
 * part of its bounds. Wire form: β̂ followed by c (a query may give β̂ alone: c = 0).
 */
export interface GlmState { beta: number[]; centers: number[] }

/** The state a round is evaluated at: the query's, or 0 (the documented start). */
export function glmState(q: Query, schema: Schema): GlmState {
  const p = glmDesign(q, schema).terms.length;
  const s = q.state ?? new Array<number>(p + 1).fill(0);
  return { beta: s.slice(0, p + 1), centers: s.length > p + 1 ? s.slice(p + 1) : new Array<number>(p).fill(0) };
}

/** The wire form of a state: β̂ then the centres (always both, so a state's length says m). */
export function encodeGlmState(s: GlmState): number[] {
  return [...s.beta, ...s.centers];
}

/** Parses a state's wire form of m + (m − 1) numbers. */
export function decodeGlmState(x: readonly number[]): GlmState {
  const m = (x.length + 1) / 2;
  if (!Number.isInteger(m)) throw new RangeError(`a GLM state has 2m − 1 numbers, got ${x.length}`);
  return { beta: x.slice(0, m), centers: x.slice(m) };
}

/** The coefficients of the uncentred design x̃ (the intercept absorbs the centres). */
export function uncentred(s: GlmState): number[] {
  return s.beta.map((b, j) => (j === 0 ? b - s.centers.reduce((a, c, k) => a + c * s.beta[k + 1]!, 0) : b));
}

/** A state with the same linear predictor, expressed for other centres. */
export function recentre(s: GlmState, centers: number[]): GlmState {
  const u = uncentred(s);
  return { beta: u.map((b, j) => (j === 0 ? b + centers.reduce((a, c, k) => a + c * u[k + 1]!, 0) : b)), centers: [...centers] };
}

/** Step halving between two states (possibly with other centres): the midpoint of their linear predictors, in b's centres. */
export function glmMidpoint(a: number[], b: number[]): number[] {
  const sa = decodeGlmState(a);
  const sb = decodeGlmState(b);
  const ua = uncentred(sa);
  const ub = uncentred(sb);
  return encodeGlmState(recentre({ beta: ua.map((x, j) => (x + ub[j]!) / 2), centers: sa.centers.map(() => 0) }, sb.centers));
}

/** Entry indices of a GLM round's vector for m coefficients. */
export function glmLayoutIndex(m: number, family: Family, offset: boolean): { n: 0; sumY: 1; score: number; info: number; deviance: number; extra: number; length: number } {
  const score = 2;
  const info = score + m;
  const deviance = info + (m * (m + 1)) / 2;
  const extra = deviance + 1;
  // Poisson: Σ y log y and Σ lgamma(y + 1); with an exposure also Σ exposure and Σ y log exposure.
  return { n: 0, sumY: 1, score, info, deviance, extra, length: extra + (family === 'poisson' ? (offset ? 4 : 2) : 0) };
}
