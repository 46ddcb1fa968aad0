/**
 * frequency (one categorical column) and contingency (two, row-major r × c table). One entry
 * per level or cell; one row touches exactly one entry. Levels come from the schema, so the
 * layout is known before any data is read; "(missing)" is a level for missing: 'category'.
 */
import type { CategoricalColumn } from '../dataset.ts';
import { fixedValue } from '../fixed.ts';
import { findColumn, levelsOf } from '../schema.ts';
import type { Schema } from '../schema.ts';
import type { Entry, KindDef } from './types.ts';

function levels(schema: Schema, name: string): string[] {
  const c = findColumn(schema, name);
  if (!c || c.type !== 'categorical') throw new TypeError(`"${name}" is not a categorical column; validate the query first`);
  return levelsOf(c);
}

function codes(dataset: { columns: Map<string, unknown> }, name: string): Int32Array {
  const col = dataset.columns.get(name) as CategoricalColumn | undefined;
  if (!col || col.kind !== 'categorical') throw new TypeError(`dataset has no categorical column "${name}"`);
  return col.codes;
}

export const frequency: KindDef = {
  oneHot: true,
  layout: (q, schema) => levels(schema, q.columns[0]!).map((l): Entry => ({ name: `count(${q.columns[0]} = ${l})`, bound: 1, integer: true, nonNegative: true })),
  rowTerms: (q, _schema, dataset) => {
    const c = codes(dataset, q.columns[0]!);
    return (row, out) => {
      const k = c[row]!;
      if (k < 0) return false;
      out[k] = 1;
      return true;
    };
  },
  finalize: (q, schema, s) => {
    const lv = levels(schema, q.columns[0]!);
    const counts = lv.map((_, i) => fixedValue(s, i));
    return { kind: 'frequency', column: q.columns[0]!, n: counts.reduce((a, b) => a + b, 0), levels: lv, counts, notes: [] };
  },
};

export const contingency: KindDef = {
  oneHot: true,
  layout: (q, schema) => {
    const [r, c] = [q.columns[0]!, q.columns[1]!];
    const out: Entry[] = [];
    for (const a of levels(schema, r)) for (const b of levels(schema, c)) out.push({ name: `count(${r} = ${a}, ${c} = ${b})`, bound: 1, integer: true, nonNegative: true });
    return out;
  },
  rowTerms: (q, schema, dataset) => {
    const rc = codes(dataset, q.columns[0]!);
    const cc = codes(dataset, q.columns[1]!);
    const width = levels(schema, q.columns[1]!).length;
    return (row, out) => {
      const a = rc[row]!;
      const b = cc[row]!;
      if (a < 0 || b < 0) return false;
      out[a * width + b] = 1;
      return true;
    };
  },
  finalize: (q, schema, s) => {
    const rowLevels = levels(schema, q.columns[0]!);
    const colLevels = levels(schema, q.columns[1]!);
    let n = 0;
    const counts = rowLevels.map((_, i) =>
      colLevels.map((__, j) => {
        const v = fixedValue(s, i * colLevels.length + j);
        n += v;
        return v;
      }),
    );
    return { kind: 'contingency', rowColumn: q.columns[0]!, colColumn: q.columns[1]!, n, rowLevels, colLevels, counts, notes: [] };
  },
};
