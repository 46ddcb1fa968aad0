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
  if (q.state !== undefined && q.state.length !== d.terms.length + 1) {
    throw new QueryError(`state: ${kind} with these columns has ${d.terms.length + 1} coefficients (intercept, ${d.terms.join(', ')}); got ${q.state.length}`);
  }
  if (q.state !== undefined && q.state.some((b) => Math.abs(b) > 100)) throw new QueryError('state: a standardized coefficient beyond ±100 (the fit diverged); refine the model');
}

/** The state a round is evaluated at: the query's, or 0 (the documented start). */
export function glmState(q: Query, schema: Schema): number[] {
  return q.state ?? new Array<number>(glmDesign(q, schema).terms.length + 1).fill(0);
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
