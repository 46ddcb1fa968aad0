/**
 * marginal: one or more contingency tables of discretized columns (the measurements of
 * marginal-based synthetic data, docs/synth.md). Each column has levels known before any data is
 * read: a categorical column its schema levels, a numeric or integer column the bins of its
 * `edges` ([e_i, e_{i+1}), the last one closed; the edges cover the schema bounds, so every value
 * falls in a bin); every column also has the level "(missing)" (once, for missing: 'category').
 * A table over columns (c_1..c_k) has one entry per cell of the cross-product of their levels,
 * row-major (c_1 slowest). Every row adds 1 to exactly one cell of every table: with T tables a
 * row touches T entries (`rowEntries`), which is what differential privacy needs.
 */
import type { CategoricalColumn, Dataset, NumericColumn } from '../dataset.ts';
import { fixedValue } from '../fixed.ts';
import { QueryError, type Query } from '../query-types.ts';
import { findColumn, levelsOf, MISSING_LEVEL } from '../schema.ts';
import type { ColumnSpec, Schema } from '../schema.ts';
import { binIndex } from './histogram.ts';
import { CountEntry, termsFromCells, type Entry, type KindDef, type RowCells } from './types.ts';

/** The tables of a marginal query (indices into q.columns); default one table of all columns. */
export function marginalTables(q: Query): number[][] {
  return q.tables ?? [q.columns.map((_, i) => i)];
}

function spec(schema: Schema, name: string): ColumnSpec {
  const c = findColumn(schema, name);
  if (!c || c.type === 'identifier') throw new TypeError(`"${name}" is not a data column; validate the query first`);
  return c;
}

function binLabel(edges: number[], i: number): string {
  return `[${edges[i]}, ${edges[i + 1]}${i === edges.length - 2 ? ']' : ')'}`;
}

/** Levels of column i of a marginal query, in layout order; "(missing)" is always the last. */
export function marginalLevels(q: Query, schema: Schema, i: number): string[] {
  const c = spec(schema, q.columns[i]!);
  if (c.type === 'categorical') {
    const lv = levelsOf(c);
    return c.missing === 'category' ? lv : [...lv, MISSING_LEVEL];
  }
  const e = q.edges![i]!;
  return [...Array.from({ length: e.length - 1 }, (_, j) => binLabel(e, j)), MISSING_LEVEL];
}

/** Number of cells of each table. */
function tableSizes(q: Query, schema: Schema): number[] {
  const sizes = q.columns.map((_, i) => marginalLevels(q, schema, i).length);
  return marginalTables(q).map((t) => t.reduce((a, i) => a * sizes[i]!, 1));
}

/** The name of cell i (over all tables, in layout order): `t<k>: count(c1 = l1, c2 = l2)`. */
function cellLabels(q: Query, schema: Schema): (i: number) => string {
  const levels = q.columns.map((_, i) => marginalLevels(q, schema, i));
  const tables = marginalTables(q);
  const sizes = tableSizes(q, schema);
  return (i) => {
    let ti = 0;
    while (i >= sizes[ti]!) i -= sizes[ti++]!;
    const t = tables[ti]!;
    const parts = new Array<string>(t.length);
    for (let k = t.length - 1; k >= 0; k--) {
      const lv = levels[t[k]!]!;
      parts[k] = `${q.columns[t[k]!]} = ${lv[i % lv.length]}`;
      i = Math.floor(i / lv.length);
    }
    return `${tables.length > 1 ? `t${ti}: ` : ''}count(${parts.join(', ')})`;
  };
}

function marginalCells(q: Query, schema: Schema, dataset: Dataset): RowCells {
  const m = q.columns.length;
  // Level code of column i at a row: categorical code (missing → last level), numeric bin.
  const code: ((row: number) => number)[] = q.columns.map((name, i) => {
    const nLevels = marginalLevels(q, schema, i).length;
    const col = dataset.columns.get(name);
    if (col?.kind === 'categorical') {
      const codes = (col as CategoricalColumn).codes;
      return (row) => {
        const k = codes[row]!;
        return k < 0 ? nLevels - 1 : k;
      };
    }
    if (col?.kind !== 'numeric') throw new TypeError(`dataset has no column "${name}"`);
    const values = (col as NumericColumn).values;
    const edges = q.edges![i]!;
    const bins = edges.length - 1;
    return (row) => {
      const v = values[row]!;
      if (Number.isNaN(v)) return nLevels - 1;
      const b = binIndex(edges, v);
      if (b >= bins) throw new QueryError(`row ${row}: ${name} = ${v} lies outside the bin edges [${edges[0]}, ${edges[bins]}]; the dataset holds a value outside the schema bounds (load it with buildDataset)`);
      return b;
    };
  });
  const sizes = q.columns.map((_, i) => marginalLevels(q, schema, i).length);
  const tables = marginalTables(q);
  const offsets: number[] = [];
  let off = 0;
  for (const s of tableSizes(q, schema)) {
    offsets.push(off);
    off += s;
  }
  const codes = new Int32Array(m);
  return (row, cells) => {
    for (let i = 0; i < m; i++) codes[i] = code[i]!(row);
    for (let ti = 0; ti < tables.length; ti++) {
      let idx = 0;
      for (const i of tables[ti]!) idx = idx * sizes[i]! + codes[i]!;
      cells[ti] = offsets[ti]! + idx;
    }
    return tables.length;
  };
}

export const marginal: KindDef = {
  rowEntries: (q) => marginalTables(q).length,
  layout: (q, schema) => {
    const label = cellLabels(q, schema);
    const total = tableSizes(q, schema).reduce((a, b) => a + b, 0);
    const out: Entry[] = new Array<Entry>(total);
    for (let i = 0; i < total; i++) out[i] = new CountEntry(label, i);
    return out;
  },
  rowTerms: (q, schema, dataset) => termsFromCells(marginalCells(q, schema, dataset), marginalTables(q).length),
  rowCells: marginalCells,
  finalize: (q, schema, s) => {
    const levels = q.columns.map((_, i) => marginalLevels(q, schema, i));
    const sizes = tableSizes(q, schema);
    let off = 0;
    const tables = marginalTables(q).map((t, ti) => {
      const size = sizes[ti]!;
      const counts = Array.from({ length: size }, (_, j) => fixedValue(s, off + j));
      off += size;
      return { columns: [...t], counts };
    });
    const n = tables[0]!.counts.reduce((a, b) => a + b, 0);
    return { kind: 'marginal', columns: [...q.columns], levels, tables, n, notes: [] };
  },
};

/** Checks the marginal-specific fields (called by validateQuery). */
export function validateMarginal(q: Query, cols: ColumnSpec[]): void {
  if (cols.length < 1 || cols.length > 64) throw new QueryError(`marginal takes between 1 and 64 columns; got ${cols.length}`);
  const e = q.edges;
  if (!e || e.length !== cols.length) {
    throw new QueryError(`marginal needs edges: one list per column (bin edges of a numeric or integer column, [] for a categorical one); got ${e ? e.length : 'none'} for ${cols.length} columns`);
  }
  cols.forEach((c, i) => {
    const edges = e[i]!;
    if (c.type === 'categorical') {
      if (edges.length !== 0) throw new QueryError(`marginal edges[${i}]: "${c.name}" is categorical (its levels come from the schema); give []`);
      return;
    }
    if (edges.length < 2 || edges.length > 10_001) throw new QueryError(`marginal edges[${i}] of "${c.name}": give 2 to 10001 strictly increasing edges, got ${edges.length}`);
    for (let j = 0; j < edges.length; j++) {
      if (typeof edges[j] !== 'number' || !Number.isFinite(edges[j])) throw new QueryError(`marginal edges[${i}][${j}] of "${c.name}": expected a finite number`);
      if (j > 0 && !(edges[j]! > edges[j - 1]!)) throw new QueryError(`marginal edges[${i}] of "${c.name}" must be strictly increasing; ${edges[j]} after ${edges[j - 1]}`);
    }
    if (edges[0]! > c.min! || edges[edges.length - 1]! < c.max!) {
      throw new QueryError(`marginal edges[${i}] of "${c.name}" span [${edges[0]}, ${edges[edges.length - 1]}] but must cover its schema bounds [${c.min}, ${c.max}] so that every value falls in a bin`);
    }
  });
  const sizes = cols.map((c, i) => (c.type === 'categorical' ? levelsOf(c).length + (c.missing === 'category' ? 0 : 1) : e[i]!.length));
  const tables = q.tables ?? [cols.map((_, i) => i)];
  if (tables.length < 1 || tables.length > 10_000) throw new QueryError(`marginal: give 1 to 10000 tables, got ${tables.length}`);
  const used = new Set<number>();
  let total = 0;
  tables.forEach((t, ti) => {
    if (t.length < 1 || t.length > 8) throw new QueryError(`marginal tables[${ti}]: a table has 1 to 8 columns, got ${t.length}`);
    if (new Set(t).size !== t.length) throw new QueryError(`marginal tables[${ti}]: [${t.join(', ')}] names a column twice`);
    let cells = 1;
    for (const i of t) {
      if (!Number.isInteger(i) || i < 0 || i >= cols.length) throw new QueryError(`marginal tables[${ti}]: ${i} is not a column index (0..${cols.length - 1})`);
      used.add(i);
      cells *= sizes[i]!;
    }
    total += cells;
  });
  if (total > 1 << 20) throw new QueryError(`marginal: ${total} cells in all; at most 2^20 (use coarser bins or fewer tables)`);
  cols.forEach((c, i) => {
    if (!used.has(i)) throw new QueryError(`marginal: column "${c.name}" is in no table; drop it from columns`);
  });
}
