/**
 * Second moments of several numeric columns on complete cases (a row with any of them missing
 * is excluded). Statistic vector for variables v_0..v_{m−1}, each shifted by its public centre c_i
 * (schema.ts boundsCentre: the integer nearest the midpoint of its bounds; 0 for an indicator):
 *   [n, Σu_0, …, Σu_{m−1}, Σu_i·u_j for i ≤ j (upper triangle, row by row)], u_i = v_i − c_i.
 * The centred cross-products are the same with or without the shift, but the bound of a product
 * entry falls from max|v|² to (half the range)² — 4× for a column in [0, b], ~6× for age in
 * [18, 100] — and with it the DP noise on X'X (a column far from zero gained the most: before,
 * the noise on Σalbumin² at rho 1 was larger than albumin's whole centred sum of squares).
 * covariance and correlation use it directly; linear_regression uses it with [x…, y]. A
 * categorical column enters all three as its level indicators (momentVars: treatment coding), so
 * a covariance or correlation result's `columns` are the variables' labels (`stage2`, not `stage`).
 */
import { centredProduct, fixedValue } from '../fixed.ts';
import type { Dataset } from '../dataset.ts';
import { boundsCentre, findColumn, levelsOf, MISSING_LEVEL } from '../schema.ts';
import type { Schema } from '../schema.ts';
import type { Entry, FixedSums, KindDef, RowTerms } from './types.ts';
import { nEntry, numericSpec, numericValues, shiftedName } from './univariate.ts';

/**
 * Most variables of a moment vector (covariance, correlation, linear_regression's predictors), a
 * categorical column counting as its indicators: the vector has 1 + m + m(m+1)/2 entries (~20,000 at 200).
 */
export const MAX_MOMENT_VARS = 200;

/** Index of Σv_i·v_j (any order of i, j) in the moment vector of m variables. */
export function productIndex(i: number, j: number, m: number): number {
  const [a, b] = i <= j ? [i, j] : [j, i];
  // rows 0..a−1 of the upper triangle hold m + (m−1) + … + (m−a+1) entries
  return 1 + m + a * m - (a * (a - 1)) / 2 + (b - a);
}

/**
 * One variable of a moment vector: a numeric column, or the indicator of one level of a categorical
 * column (treatment coding: every level but the first listed, the reference, gets one; "(missing)"
 * is missing, so a row with it is not a complete case, as R's lm drops NA).
 */
export interface MomentVar {
  /** The term's name as R names it: the column, or column + level (stage2). */
  label: string;
  column: string;
  /** Indicator variables: the level's code in the column. */
  level?: number;
  /** The public shift c (schema bounds only): the entries hold sums of v − c. */
  centre: number;
  /** max |v − c| over the schema's bounds. */
  bound: number;
  integer: boolean;
}

/** The variables of columns: numeric columns as they are, categorical ones as level indicators. */
export function momentVars(schema: Schema, columns: string[]): MomentVar[] {
  const out: MomentVar[] = [];
  for (const name of columns) {
    const c = findColumn(schema, name);
    if (c && c.type === 'categorical') {
      const levels = levelsOf(c);
      levels.forEach((lv, code) => {
        if (code > 0 && lv !== MISSING_LEVEL) out.push({ label: `${name}${lv}`, column: name, level: code, centre: 0, bound: 1, integer: true });
      });
      continue;
    }
    const spec = numericSpec(schema, name);
    out.push({ label: name, column: name, ...boundsCentre(spec), integer: spec.type === 'integer' });
  }
  return out;
}

/** An entry's name for u = v − c: `age-59`, or the label when c = 0. */
function shifted(v: MomentVar): string {
  return shiftedName(v.label, v.centre);
}

function paren(v: MomentVar): string {
  return v.centre === 0 ? v.label : `(${shifted(v)})`;
}

export function momentLayout(schema: Schema, columns: string[]): Entry[] {
  const specs = momentVars(schema, columns);
  const entries: Entry[] = [nEntry];
  for (const c of specs) entries.push({ name: `sum(${shifted(c)})`, bound: c.bound, integer: c.integer });
  for (let i = 0; i < specs.length; i++) {
    for (let j = i; j < specs.length; j++) {
      const a = specs[i]!;
      const b = specs[j]!;
      entries.push({
        name: i === j ? `sum(${paren(a)}^2)` : `sum(${paren(a)}*${paren(b)})`,
        bound: a.bound * b.bound,
        integer: a.integer && b.integer,
        ...(i === j ? { nonNegative: true } : {}),
      });
    }
  }
  return entries;
}

export function momentRowTerms(schema: Schema, dataset: Dataset, columns: string[]): RowTerms {
  const specs = momentVars(schema, columns);
  // Per variable: its numeric values, or its categorical codes and level.
  const read = specs.map((v) => {
    const col = dataset.columns.get(v.column);
    if (v.level === undefined) return { values: numericValues(dataset, v.column), centre: v.centre };
    if (!col || col.kind !== 'categorical') throw new TypeError(`dataset has no categorical column "${v.column}"`);
    return { codes: col.codes, level: v.level, missing: col.levels.indexOf(MISSING_LEVEL) };
  });
  const m = specs.length;
  const x = new Float64Array(m);
  return (row, out) => {
    for (let i = 0; i < m; i++) {
      const r = read[i]!;
      if (r.values) {
        const v = r.values[row]!;
        if (Number.isNaN(v)) return false;
        x[i] = v - r.centre;
      } else {
        const code = r.codes[row]!;
        if (code < 0 || code === r.missing) return false;
        x[i] = code === r.level ? 1 : 0;
      }
    }
    out[0] = 1;
    let k = 1 + m;
    for (let i = 0; i < m; i++) {
      out[1 + i] = x[i]!;
      for (let j = i; j < m; j++) out[k++] = x[i]! * x[j]!;
    }
    return true;
  };
}

/**
 * n, means and the centred cross-product matrix C_ij = Σ(v_i − v̄_i)(v_j − v̄_j) (the same for the
 * shifted u_i); `vars` give the shifts added back to the means.
 */
export function centredMoments(s: FixedSums, vars: readonly MomentVar[]): { n: number; means: number[]; C: number[][] } {
  const m = vars.length;
  const n = fixedValue(s, 0);
  const means = vars.map((v, i) => fixedValue(s, 1 + i) / n + v.centre);
  const C = Array.from({ length: m }, (_, i) => Array.from({ length: m }, (__, j) => centredProduct(s, 0, 1 + i, 1 + j, productIndex(i, j, m))));
  return { n, means, C };
}

function covarianceLike(kind: 'covariance' | 'correlation'): KindDef {
  return {
    layout: (q, schema) => momentLayout(schema, q.columns),
    rowTerms: (q, schema, dataset) => momentRowTerms(schema, dataset, q.columns),
    finalize: (q, schema, s) => {
      // The variables: numeric columns, and a categorical column's level indicators (treatment
      // coding, labelled as R's model.matrix labels them, e.g. stage2).
      const vars = momentVars(schema, q.columns);
      const labels = vars.map((v) => v.label);
      const m = labels.length;
      const n = fixedValue(s, 0);
      const notes: string[] = [];
      const empty = (): (number | null)[][] => Array.from({ length: m }, () => new Array<number | null>(m).fill(null));
      if (n < 2) {
        notes.push(`${kind} undefined: needs n >= 2, got n = ${n}`);
        if (kind === 'covariance') return { kind, columns: labels, n, means: vars.map((v, i) => (n > 0 ? fixedValue(s, 1 + i) / n + v.centre : null)), matrix: empty(), notes };
        return { kind, columns: labels, n, matrix: empty(), notes };
      }
      const { means, C } = centredMoments(s, vars);
      for (let i = 0; i < m; i++) {
        if (C[i]![i]! < 0) {
          notes.push(`variance of ${labels[i]} clamped to 0 (negative by quantization or noise)`);
          C[i]![i] = 0;
        }
      }
      if (kind === 'covariance') {
        const matrix = C.map((row) => row.map((c) => c / (n - 1)));
        return { kind, columns: labels, n, means, matrix, notes };
      }
      const matrix = empty();
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) {
          const d = Math.sqrt(C[i]![i]! * C[j]![j]!);
          if (d > 0) matrix[i]![j] = i === j ? 1 : Math.max(-1, Math.min(1, C[i]![j]! / d));
        }
        if (!(C[i]![i]! > 0)) notes.push(`correlations with ${labels[i]} undefined: zero variance`);
      }
      return { kind, columns: labels, n, matrix, notes };
    },
  };
}

export const covariance: KindDef = covarianceLike('covariance');
export const correlation: KindDef = covarianceLike('correlation');
