/**
 * frequency (one categorical column) and contingency (two, row-major r × c table). One entry
 * per level or cell; one row touches exactly one entry. Levels come from the schema, so the
 * layout is known before any data is read; "(missing)" is a level for missing: 'category'.
 */
import type { CategoricalColumn } from '../dataset.ts';
import { fixedValue } from '../fixed.ts';
import { findColumn, levelsOf } from '../schema.ts';
import type { Schema } from '../schema.ts';
import { termsFromCells, type Entry, type KindDef, type RowCells } from './types.ts';

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

function frequencyCells(column: string, dataset: { columns: Map<string, unknown> }): RowCells {
  const c = codes(dataset, column);
  return (row, cells) => {
    const k = c[row]!;
    if (k < 0) return 0;
    cells[0] = k;
    return 1;
  };
}

function contingencyCells(rowColumn: string, colColumn: string, schema: Schema, dataset: { columns: Map<string, unknown> }): RowCells {
  const rc = codes(dataset, rowColumn);
  const cc = codes(dataset, colColumn);
  const width = levels(schema, colColumn).length;
  return (row, cells) => {
    const a = rc[row]!;
    const b = cc[row]!;
    if (a < 0 || b < 0) return 0;
    cells[0] = a * width + b;
    return 1;
  };
}

export const frequency: KindDef = {
  oneHot: true,
  layout: (q, schema) => levels(schema, q.columns[0]!).map((l): Entry => ({ name: `count(${q.columns[0]} = ${l})`, bound: 1, integer: true, nonNegative: true })),
  rowTerms: (q, _schema, dataset) => termsFromCells(frequencyCells(q.columns[0]!, dataset), 1),
  rowCells: (q, _schema, dataset) => frequencyCells(q.columns[0]!, dataset),
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
  rowTerms: (q, schema, dataset) => termsFromCells(contingencyCells(q.columns[0]!, q.columns[1]!, schema, dataset), 1),
  rowCells: (q, schema, dataset) => contingencyCells(q.columns[0]!, q.columns[1]!, schema, dataset),
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
