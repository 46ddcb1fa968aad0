/**
 * count, sum, mean, variance. Statistic vectors: count [n]; sum [n, Σx]; mean [n, Σ(x − c)];
 * variance [n, Σ(x − c), Σ(x − c)²], c being the column's public centre (schema.ts
 * boundsCentre), so their DP noise scales with half the range, not the largest |x|. Variance is
 * the sample variance (divisor n − 1).
 */
import type { NumericColumn } from '../dataset.ts';
import { centredProduct, fixedValue } from '../fixed.ts';
import type { Query } from '../query-types.ts';
import { absBound, boundsCentre, findColumn } from '../schema.ts';
import type { ColumnSpec, Schema } from '../schema.ts';
import type { Entry, KindDef } from './types.ts';

export function numericSpec(schema: Schema, name: string): ColumnSpec {
  const c = findColumn(schema, name);
  if (!c || (c.type !== 'numeric' && c.type !== 'integer')) throw new TypeError(`"${name}" is not a numeric column; validate the query first`);
  return c;
}

export function numericValues(dataset: { columns: Map<string, unknown> }, name: string): Float64Array {
  const col = dataset.columns.get(name) as NumericColumn | undefined;
  if (!col || col.kind !== 'numeric') throw new TypeError(`dataset has no numeric column "${name}"`);
  return col.values;
}

export const nEntry: Entry = { name: 'n', bound: 1, integer: true, nonNegative: true };

function sumEntry(c: ColumnSpec): Entry {
  return { name: `sum(${c.name})`, bound: absBound(c), integer: c.type === 'integer' };
}
/** Σ(x − c), c the column's public centre (`sum(age-59)`). */
function shiftedSumEntry(c: ColumnSpec): Entry {
  const { centre, bound } = boundsCentre(c);
  return { name: `sum(${shiftedName(c.name, centre)})`, bound, integer: c.type === 'integer' };
}
function squareEntry(c: ColumnSpec): Entry {
  const { centre, bound } = boundsCentre(c);
  const name = centre === 0 ? c.name : `(${shiftedName(c.name, centre)})`;
  return { name: `sum(${name}^2)`, bound: bound ** 2, integer: c.type === 'integer', nonNegative: true };
}

/** `age-59`: the name of v − c (the name alone when c = 0). */
export function shiftedName(name: string, centre: number): string {
  return centre === 0 ? name : `${name}${centre > 0 ? '-' : '+'}${Math.abs(centre)}`;
}

export const count: KindDef = {
  layout: () => [nEntry],
  rowTerms: () => (_row, out) => {
    out[0] = 1;
    return true;
  },
  finalize: (_q, _schema, s) => ({ kind: 'count', n: fixedValue(s, 0), notes: [] }),
  // A linear release: the field is the entry, so its noise sd is the entry's, exactly (no bootstrap).
  noiseUncertainty: (_q, _schema, _s, noiseStd) => ({ n: noiseStd[0]! }),
};

/** Rows' terms of sum (`shift` false: Σx) and of mean and variance (Σ(x − c), Σ(x − c)²). */
function momentRowTerms(order: 1 | 2, shift: boolean) {
  return (q: Query, schema: Schema, dataset: { columns: Map<string, unknown> }) => {
    const x = numericValues(dataset, q.columns[0]!);
    const c = shift ? boundsCentre(numericSpec(schema, q.columns[0]!)).centre : 0;
    return (row: number, out: Float64Array): boolean => {
      const v = x[row]! - c;
      if (Number.isNaN(v)) return false;
      out[0] = 1;
      out[1] = v;
      if (order === 2) out[2] = v * v;
      return true;
    };
  };
}

export const sum: KindDef = {
  layout: (q, schema) => [nEntry, sumEntry(numericSpec(schema, q.columns[0]!))],
  rowTerms: momentRowTerms(1, false),
  finalize: (q, _schema, s) => ({ kind: 'sum', column: q.columns[0]!, n: fixedValue(s, 0), sum: fixedValue(s, 1), notes: [] }),
  noiseUncertainty: (_q, _schema, _s, noiseStd) => ({ n: noiseStd[0]!, sum: noiseStd[1]! }),
};

export const mean: KindDef = {
  layout: (q, schema) => [nEntry, shiftedSumEntry(numericSpec(schema, q.columns[0]!))],
  rowTerms: momentRowTerms(1, true),
  finalize: (q, schema, s) => {
    const n = fixedValue(s, 0);
    const notes: string[] = [];
    let m: number | null = null;
    if (n > 0) m = fixedValue(s, 1) / n + boundsCentre(numericSpec(schema, q.columns[0]!)).centre;
    else notes.push('mean undefined: no rows (n = 0)');
    return { kind: 'mean', column: q.columns[0]!, n, mean: m, notes };
  },
};

export const variance: KindDef = {
  layout: (q, schema) => {
    const c = numericSpec(schema, q.columns[0]!);
    return [nEntry, shiftedSumEntry(c), squareEntry(c)];
  },
  rowTerms: momentRowTerms(2, true),
  finalize: (q, schema, s) => {
    const n = fixedValue(s, 0);
    const notes: string[] = [];
    let m: number | null = null;
    let v: number | null = null;
    if (n > 0) m = fixedValue(s, 1) / n + boundsCentre(numericSpec(schema, q.columns[0]!)).centre;
    else notes.push('mean undefined: no rows (n = 0)');
    if (n >= 2) {
      v = centredProduct(s, 0, 1, 1, 2) / (n - 1);
      if (v < 0) {
        notes.push(`variance clamped to 0 (computed ${v.toExponential(3)}, negative by quantization or noise)`);
        v = 0;
      }
    } else {
      notes.push(`variance undefined: needs n >= 2, got n = ${n}`);
    }
    return { kind: 'variance', column: q.columns[0]!, n, mean: m, variance: v, sd: v === null ? null : Math.sqrt(v), notes };
  },
};
