/**
 * histogram of a numeric column. Edges e_0 < … < e_k give k bins [e_i, e_{i+1}), the last one
 * closed [e_{k−1}, e_k]; then two entries for values below e_0 and above e_k. One row touches
 * exactly one entry (count 1). Missing values are excluded.
 */
import type { Dataset } from '../dataset.ts';
import { fixedValue } from '../fixed.ts';
import type { Query } from '../query-types.ts';
import type { Schema } from '../schema.ts';
import { termsFromCells, type KindDef, type RowCells } from './types.ts';
import { numericValues } from './univariate.ts';

/** Index of the bin holding v (0..k-1), k for below, k+1 for above. */
export function binIndex(edges: number[], v: number): number {
  const k = edges.length - 1;
  if (v < edges[0]!) return k;
  if (v > edges[k]!) return k + 1;
  if (v === edges[k]) return k - 1;
  // largest i with edges[i] <= v
  let lo = 0;
  let hi = k;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (edges[mid]! <= v) lo = mid;
    else hi = mid;
  }
  return lo;
}

function histogramCells(q: Query, _schema: Schema, dataset: Dataset): RowCells {
  const x = numericValues(dataset, q.columns[0]!);
  const edges = q.bins!;
  return (row, cells) => {
    const v = x[row]!;
    if (Number.isNaN(v)) return 0;
    cells[0] = binIndex(edges, v);
    return 1;
  };
}

export const histogram: KindDef = {
  oneHot: true,
  layout: (q) => {
    const e = q.bins!;
    const k = e.length - 1;
    const entries = [];
    for (let i = 0; i < k; i++) {
      entries.push({ name: `count(${q.columns[0]} in [${e[i]}, ${e[i + 1]}${i === k - 1 ? ']' : ')'})`, bound: 1, integer: true, nonNegative: true });
    }
    entries.push({ name: `count(${q.columns[0]} < ${e[0]})`, bound: 1, integer: true, nonNegative: true });
    entries.push({ name: `count(${q.columns[0]} > ${e[k]})`, bound: 1, integer: true, nonNegative: true });
    return entries;
  },
  rowTerms: (q, schema, dataset) => termsFromCells(histogramCells(q, schema, dataset), 1),
  rowCells: (q, schema, dataset) => histogramCells(q, schema, dataset),
  finalize: (q, _schema, s) => {
    const k = q.bins!.length - 1;
    const counts: number[] = [];
    for (let i = 0; i < k; i++) counts.push(fixedValue(s, i));
    const below = fixedValue(s, k);
    const above = fixedValue(s, k + 1);
    const n = counts.reduce((a, b) => a + b, 0) + below + above;
    return { kind: 'histogram', column: q.columns[0]!, n, edges: [...q.bins!], counts, below, above, notes: [] };
  },
};
