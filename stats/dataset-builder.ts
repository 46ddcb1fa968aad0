/**
 * The one place raw rows become a dataset, whatever they were read from (a CSV file, a
 * PostgreSQL query, a Parquet file): a header of column names, then rows of raw cells, each
 * validated against the schema exactly as stats/dataset.ts documents for CSV (an empty cell after
 * trimming, or null, is missing; numbers must parse and lie within bounds or be clipped;
 * categories must be declared; at most rowsPerPatient rows per patient). Pure: no I/O.
 *
 * Rows are pushed one at a time, so a source can stream: the column arrays grow as rows arrive,
 * and the row limit (schema.maxRowsPerParty) is enforced as soon as it is passed, before the rest
 * of the source is read. Positions in messages are file lines for CSV ("line 12") and 1-based
 * data rows for other sources ("row 12").
 */
import { findColumn, levelsOf, MAX_IDENTIFIER_LENGTH, MISSING_LEVEL, patientColumn } from './schema.ts';
import type { ColumnSpec, Schema } from './schema.ts';
import { DROP_REASONS, type Column, type Dataset, type DropReason, type LoadReport, type Population, type RejectedRow } from './dataset-types.ts';

export class DatasetError extends Error {
  readonly line: number;
  readonly column: string;
  constructor(line: number, column: string, message: string, unit: 'line' | 'row' = 'line') {
    super(line > 0 ? `${unit} ${line}${column ? `, column "${column}"` : ''}: ${message}` : message);
    this.name = 'DatasetError';
    this.line = line;
    this.column = column;
  }
}

/** The number syntax of a data cell (also what `schema infer` treats as a number). */
export const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Longest raw value quoted in full in a message; longer ones are cut to a prefix. */
const QUOTE_MAX = 40;

/** A raw value for a message: itself when short, else a short prefix and its length. */
export function short(s: string): string {
  return s.length <= QUOTE_MAX ? s : `${s.slice(0, 24)}… (${s.length} characters)`;
}

type Cell = { ok: true; value: number; clipped: boolean } | { ok: false; reason: string; class: DropReason };

function parseNumericCell(spec: ColumnSpec, raw: string): Cell {
  const s = raw.trim();
  if (s === '') return { ok: true, value: NaN, clipped: false };
  if (!NUMBER_RE.test(s)) return { ok: false, reason: `value ${JSON.stringify(short(raw))} is not a number`, class: 'invalid_value' };
  let v = Number(s);
  if (!Number.isFinite(v)) return { ok: false, reason: `value ${JSON.stringify(short(raw))} is not a finite number`, class: 'invalid_value' };
  if (spec.type === 'integer' && !Number.isInteger(v)) {
    return { ok: false, reason: `value ${short(s)} is not an integer (column type integer)`, class: 'invalid_value' };
  }
  const min = spec.min!;
  const max = spec.max!;
  let clipped = false;
  if (v < min || v > max) {
    if (spec.outOfBounds !== 'clip') {
      return { ok: false, reason: `value ${short(s)} outside the allowed range [${min}, ${max}]; fix the data or widen the schema bounds (or set outOfBounds: 'clip')`, class: 'out_of_bounds' };
    }
    v = Math.min(max, Math.max(min, v));
    clipped = true;
  }
  return { ok: true, value: v, clipped };
}

export interface DatasetBuilderOptions {
  /** Throw DatasetError on the first problem instead of rejecting the row. */
  strict?: boolean;
  /** How positions are named in messages: 'line' (CSV file lines, the default) or 'row' (1-based data rows). */
  unit?: 'line' | 'row';
  /** Position of the header, for a header error (0: none). */
  headerAt?: number;
}

/** A raw cell: text as read, or null for a missing value (SQL NULL, Parquet null). */
export type RawCell = string | null;

export class DatasetBuilder {
  readonly #schema: Schema;
  readonly #strict: boolean;
  readonly #unit: 'line' | 'row';
  readonly #index: Map<string, number>;
  readonly #extra: string[];
  readonly #idSpec: ColumnSpec | undefined;
  readonly #idIndex: number;
  readonly #used: ColumnSpec[];
  readonly #levelIndex = new Map<string, Map<string, number>>();
  /** Per column: the strings read as missing (schema or column missingValues), when any. */
  readonly #missingOf = new Map<string, Set<string>>();
  /** Valid rows seen per patient (kept or not). Held in memory only, never reported. */
  readonly #seen = new Map<string, number>();
  readonly #num = new Map<string, Float64Array>();
  readonly #cat = new Map<string, Int32Array>();
  readonly #rejected: RejectedRow[] = [];
  #capacity: number;
  #k = 0;
  #read = 0;
  #clipped = 0;
  #clippedRows = 0;
  #overBound = 0;
  readonly #dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;

  /** Throws DatasetError when the header lacks a schema column or names one twice, SchemaError for a schema whose patients cannot be bounded. */
  constructor(schema: Schema, header: readonly string[], options: DatasetBuilderOptions = {}) {
    this.#schema = schema;
    this.#strict = options.strict ?? false;
    this.#unit = options.unit ?? 'line';
    this.#index = new Map();
    for (let i = 0; i < header.length; i++) {
      const h = header[i]!;
      if (this.#index.has(h)) throw new DatasetError(options.headerAt ?? 0, '', `column "${short(h)}" appears twice in the source's columns`, this.#unit);
      this.#index.set(h, i);
    }
    const missingCols = schema.columns.filter((c) => !this.#index.has(c.name)).map((c) => c.name);
    if (missingCols.length > 0) {
      throw new DatasetError(options.headerAt ?? 0, '', `header lacks schema column(s) ${missingCols.map((c) => `"${c}"`).join(', ')}; add them to the ${this.#unit === 'line' ? 'CSV' : 'source'} or remove them from the schema`, this.#unit);
    }
    this.#extra = header.filter((h) => !findColumn(schema, h));
    this.#idSpec = patientColumn(schema);
    this.#idIndex = this.#idSpec ? this.#index.get(this.#idSpec.name)! : -1;
    this.#used = schema.columns.filter((c) => c.type !== 'identifier');
    for (const c of schema.columns) {
      const tokens = c.missingValues ?? schema.missingValues;
      if (tokens && tokens.length > 0) this.#missingOf.set(c.name, new Set(tokens));
    }
    for (const c of this.#used) if (c.type === 'categorical') this.#levelIndex.set(c.name, new Map(levelsOf(c).map((l, i) => [l, i])));
    this.#capacity = Math.min(1024, schema.maxRowsPerParty + 1);
    for (const c of this.#used) {
      if (c.type === 'categorical') this.#cat.set(c.name, new Int32Array(this.#capacity));
      else this.#num.set(c.name, new Float64Array(this.#capacity));
    }
  }

  /** Rows loaded so far. */
  get rowsLoaded(): number {
    return this.#k;
  }

  /** Counts a row as read and rejects it (or throws under strict): for problems a source finds itself (a malformed CSV row, a value of an unusable type). */
  rejectRow(at: number, column: string, reason: string, cls: DropReason): void {
    this.#read++;
    this.#reject(at, column, reason, cls);
  }

  #reject(at: number, column: string, reason: string, cls: DropReason): void {
    if (this.#strict) throw new DatasetError(at, column, reason, this.#unit);
    this.#rejected.push({ line: at, column, reason, class: cls });
    this.#dropped[cls]++;
  }

  #grow(): void {
    const cap = Math.min(this.#capacity * 2, this.#schema.maxRowsPerParty + 1);
    for (const [name, a] of this.#num) {
      const b = new Float64Array(cap);
      b.set(a);
      this.#num.set(name, b);
    }
    for (const [name, a] of this.#cat) {
      const b = new Int32Array(cap);
      b.set(a);
      this.#cat.set(name, b);
    }
    this.#capacity = cap;
  }

  /**
   * Validates one row (cells in header order) at position `at`. Throws DatasetError as soon as
   * more than maxRowsPerParty rows are loaded (or for any invalid row under strict).
   */
  addRow(fields: readonly RawCell[], at: number): void {
    if (fields.length !== this.#index.size) throw new DatasetError(at, '', `row of ${fields.length} cells, the header has ${this.#index.size}`, this.#unit);
    this.#read++;
    const idSpec = this.#idSpec;
    let patient: string | undefined;
    if (idSpec) {
      patient = (fields[this.#idIndex] ?? '').trim();
      if (this.#missingOf.get(idSpec.name)?.has(patient)) patient = '';
      if (patient === '') {
        this.#reject(at, idSpec.name, 'missing patient identifier: the row cannot be attributed to a patient, so the per-patient bound could not hold for it', 'identifier');
        return;
      }
      if (patient.length > MAX_IDENTIFIER_LENGTH) {
        this.#reject(at, idSpec.name, `patient identifier of ${patient.length} characters, longer than the ${MAX_IDENTIFIER_LENGTH} allowed (not quoted: identifiers are personal data)`, 'identifier');
        return;
      }
    }
    if (this.#k === this.#capacity) this.#grow();
    const k = this.#k;
    let rowClipped = 0;
    for (const c of this.#used) {
      const given = fields[this.#index.get(c.name)!] ?? '';
      // The schema's missing-value strings (R's "NA", "NULL", …) read as an empty field.
      const raw = this.#missingOf.get(c.name)?.has(given.trim()) ? '' : given;
      if (c.missing === 'reject' && raw.trim() === '') {
        this.#reject(at, c.name, 'missing value; the schema declares this column never missing (missing: \'reject\')', 'invalid_value');
        return;
      }
      if (c.type === 'categorical') {
        const s = raw.trim();
        let code: number;
        if (s === '') {
          code = c.missing === 'category' ? this.#levelIndex.get(c.name)!.get(MISSING_LEVEL)! : -1;
        } else {
          const found = this.#levelIndex.get(c.name)!.get(s);
          if (found === undefined || s === MISSING_LEVEL) {
            this.#reject(at, c.name, `unknown category ${JSON.stringify(short(s))}; allowed: ${c.categories!.join(', ')} (add it to the schema's categories)`, 'invalid_value');
            return;
          }
          code = found;
        }
        this.#cat.get(c.name)![k] = code;
      } else {
        const cell = parseNumericCell(c, raw);
        if (!cell.ok) {
          this.#reject(at, c.name, cell.reason, cell.class);
          return;
        }
        if (cell.clipped) rowClipped++;
        this.#num.get(c.name)![k] = cell.value;
      }
    }
    if (patient !== undefined) {
      const had = this.#seen.get(patient) ?? 0;
      this.#seen.set(patient, had + 1);
      if (had >= this.#schema.rowsPerPatient) {
        this.#overBound++;
        this.#dropped.patient_bound++;
        return;
      }
    }
    this.#clipped += rowClipped;
    if (rowClipped > 0) this.#clippedRows++;
    this.#k = k + 1;
    if (this.#k > this.#schema.maxRowsPerParty) {
      throw new DatasetError(0, '', `dataset has at least ${this.#k} rows but the schema allows at most maxRowsPerParty = ${this.#schema.maxRowsPerParty} (reading stopped there); raise maxRowsPerParty in the schema (all parties must agree) or split the data`);
    }
  }

  /** The dataset and its load report. */
  finish(): { dataset: Dataset; report: LoadReport } {
    const k = this.#k;
    const perPatient = this.#schema.rowsPerPatient;
    let patientsOver = 0;
    for (const count of this.#seen.values()) if (count > perPatient) patientsOver++;
    const columns = new Map<string, Column>();
    for (const c of this.#used) {
      if (c.type === 'categorical') columns.set(c.name, { kind: 'categorical', levels: levelsOf(c), codes: this.#cat.get(c.name)!.slice(0, k) });
      else columns.set(c.name, { kind: 'numeric', values: this.#num.get(c.name)!.slice(0, k) });
    }
    const idSpec = this.#idSpec;
    const population: Population = { loaded: k, dropped: { ...this.#dropped }, clipped: this.#clippedRows };
    return {
      dataset: { schema: this.#schema, rowCount: k, columns, population },
      report: {
        rowsRead: this.#read, rowsLoaded: k, rejected: this.#rejected, extraColumns: this.#extra, clipped: this.#clipped,
        patientColumn: idSpec ? idSpec.name : null, rowsPerPatient: perPatient,
        patients: idSpec ? this.#seen.size : k, rowsOverPatientBound: this.#overBound, patientsOverBound: patientsOver,
        ...(this.#unit === 'row' ? { unit: 'row' as const } : {}),
        population: { loaded: k, dropped: { ...this.#dropped }, clipped: this.#clippedRows },
      },
    };
  }
}
