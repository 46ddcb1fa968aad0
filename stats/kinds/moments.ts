/**
 * Second moments of several numeric columns on complete cases (a row with any of them missing
 * is excluded). Statistic vector for variables v_0..v_{m−1}:
 *   [n, Σv_0, …, Σv_{m−1}, Σv_i·v_j for i ≤ j (upper triangle, row by row)].
 * covariance and correlation use it directly; linear_regression uses it with [x…, y].
 */
import { centredProduct, fixedValue } from '../fixed.ts';
import { absBound } from '../schema.ts';
import type { Schema } from '../schema.ts';
import type { Entry, FixedSums, KindDef, RowTerms } from './types.ts';
import { nEntry, numericSpec, numericValues } from './univariate.ts';

/** Index of Σv_i·v_j (any order of i, j) in the moment vector of m variables. */
export function productIndex(i: number, j: number, m: number): number {
  const [a, b] = i <= j ? [i, j] : [j, i];
  // rows 0..a−1 of the upper triangle hold m + (m−1) + … + (m−a+1) entries
  return 1 + m + a * m - (a * (a - 1)) / 2 + (b - a);
}

export function momentLayout(schema: Schema, vars: string[]): Entry[] {
  const specs = vars.map((v) => numericSpec(schema, v));
  const entries: Entry[] = [nEntry];
  for (const c of specs) entries.push({ name: `sum(${c.name})`, bound: absBound(c), integer: c.type === 'integer' });
  for (let i = 0; i < specs.length; i++) {
    for (let j = i; j < specs.length; j++) {
      const a = specs[i]!;
      const b = specs[j]!;
      entries.push({
        name: i === j ? `sum(${a.name}^2)` : `sum(${a.name}*${b.name})`,
        bound: absBound(a) * absBound(b),
        integer: a.type === 'integer' && b.type === 'integer',
        ...(i === j ? { nonNegative: true } : {}),
      });
    }
  }
  return entries;
}

export function momentRowTerms(dataset: { columns: Map<string, unknown> }, vars: string[]): RowTerms {
  const cols = vars.map((v) => numericValues(dataset, v));
  const m = cols.length;
  const x = new Float64Array(m);
  return (row, out) => {
    for (let i = 0; i < m; i++) {
      const v = cols[i]![row]!;
      if (Number.isNaN(v)) return false;
      x[i] = v;
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

/** n, means and the centred cross-product matrix C_ij = Σ(v_i − v̄_i)(v_j − v̄_j). */
export function centredMoments(s: FixedSums, m: number): { n: number; means: number[]; C: number[][] } {
  const n = fixedValue(s, 0);
  const means = Array.from({ length: m }, (_, i) => fixedValue(s, 1 + i) / n);
  const C = Array.from({ length: m }, (_, i) => Array.from({ length: m }, (__, j) => centredProduct(s, 0, 1 + i, 1 + j, productIndex(i, j, m))));
  return { n, means, C };
}

function covarianceLike(kind: 'covariance' | 'correlation'): KindDef {
  return {
    layout: (q, schema) => momentLayout(schema, q.columns),
    rowTerms: (q, _schema, dataset) => momentRowTerms(dataset, q.columns),
    finalize: (q, _schema, s) => {
      const m = q.columns.length;
      const n = fixedValue(s, 0);
      const notes: string[] = [];
      const empty = (): (number | null)[][] => Array.from({ length: m }, () => new Array<number | null>(m).fill(null));
      if (n < 2) {
        notes.push(`${kind} undefined: needs n >= 2, got n = ${n}`);
        if (kind === 'covariance') return { kind, columns: [...q.columns], n, means: q.columns.map((_, i) => (n > 0 ? fixedValue(s, 1 + i) / n : null)), matrix: empty(), notes };
        return { kind, columns: [...q.columns], n, matrix: empty(), notes };
      }
      const { means, C } = centredMoments(s, m);
      for (let i = 0; i < m; i++) {
        if (C[i]![i]! < 0) {
          notes.push(`variance of ${q.columns[i]} clamped to 0 (negative by quantization or noise)`);
          C[i]![i] = 0;
        }
      }
      if (kind === 'covariance') {
        const matrix = C.map((row) => row.map((c) => c / (n - 1)));
        return { kind, columns: [...q.columns], n, means, matrix, notes };
      }
      const matrix = empty();
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) {
          const d = Math.sqrt(C[i]![i]! * C[j]![j]!);
          if (d > 0) matrix[i]![j] = i === j ? 1 : Math.max(-1, Math.min(1, C[i]![j]! / d));
        }
        if (!(C[i]![i]! > 0)) notes.push(`correlations with ${q.columns[i]} undefined: zero variance`);
      }
      return { kind, columns: [...q.columns], n, matrix, notes };
    },
  };
}

export const covariance: KindDef = covarianceLike('covariance');
export const correlation: KindDef = covarianceLike('correlation');
