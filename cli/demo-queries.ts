/** The demo's queries: a fixed set for the shipped pbc data, or one per kind derived from any schema. */
import type { Query, Schema } from '../stats/index.ts';

export const PBC_QUERIES: Query[] = [
  { kind: 'count', columns: [], filter: [] },
  { kind: 'count', columns: [], filter: [{ column: 'stage', op: 'in', values: ['3', '4'] }, { column: 'sex', op: 'eq', values: ['f'] }] },
  { kind: 'sum', columns: ['bili'], filter: [] },
  { kind: 'mean', columns: ['age'], filter: [{ column: 'sex', op: 'eq', values: ['f'] }] },
  { kind: 'variance', columns: ['albumin'], filter: [{ column: 'trt', op: 'not_missing', values: [] }] },
  { kind: 'histogram', columns: ['age'], filter: [], bins: [30, 40, 50, 60, 70, 80] },
  { kind: 'frequency', columns: ['stage'], filter: [] },
  { kind: 'contingency', columns: ['trt', 'status'], filter: [] },
  { kind: 'covariance', columns: ['age', 'bili', 'albumin'], filter: [] },
  { kind: 'correlation', columns: ['age', 'bili', 'albumin', 'protime'], filter: [{ column: 'bili', op: 'between', values: [0, 20] }] },
  { kind: 'linear_regression', columns: ['age', 'albumin', 'protime'], target: 'bili', filter: [] },
];

/** One query per kind from the first suitable columns of a schema. */
export function queriesForSchema(schema: Schema): Query[] {
  const numeric = schema.columns.filter((c) => c.type === 'numeric' || c.type === 'integer');
  const categorical = schema.columns.filter((c) => c.type === 'categorical');
  const out: Query[] = [{ kind: 'count', columns: [], filter: [] }];
  const x = numeric[0];
  if (x) {
    out.push({ kind: 'sum', columns: [x.name], filter: [] }, { kind: 'mean', columns: [x.name], filter: [] }, { kind: 'variance', columns: [x.name], filter: [] });
    const lo = x.min!;
    const hi = x.max!;
    const bins = Array.from({ length: 6 }, (_, i) => lo + ((hi - lo) * i) / 5);
    out.push({ kind: 'histogram', columns: [x.name], filter: [], bins });
  }
  if (categorical[0]) out.push({ kind: 'frequency', columns: [categorical[0].name], filter: [] });
  if (categorical.length >= 2) out.push({ kind: 'contingency', columns: [categorical[0]!.name, categorical[1]!.name], filter: [] });
  if (numeric.length >= 2) {
    const cols = numeric.slice(0, Math.min(4, numeric.length)).map((c) => c.name);
    out.push({ kind: 'covariance', columns: cols, filter: [] }, { kind: 'correlation', columns: cols, filter: [] });
    out.push({ kind: 'linear_regression', columns: cols.slice(1), target: cols[0]!, filter: [] });
  }
  return out;
}
