/**
 * Where a party's rows come from: a CSV file, a PostgreSQL query, a Parquet file. Every source
 * only turns its rows into raw cells (text, or null for missing) and hands them, with a header, to
 * stats' DatasetBuilder: the validation against the schema (types, bounds, categories, patient
 * bound, row limit) is the same code for all of them. Errors name the row (or CSV line) and column
 * and quote at most a short prefix of a value; nothing here logs or returns a password.
 */
import type { BuildOptions, Dataset, LoadReport } from '../../../stats/index.ts';
import type { Schema } from '../../../stats/index.ts';

/** A failure reading a source (cannot connect, the connection broke, the query failed, a file is not Parquet). */
export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

export interface LoadedData {
  dataset: Dataset;
  report: LoadReport;
}

export interface DataSource {
  /** What the operator sees in logs: a path, or a URL with its password masked. Never a secret. */
  readonly label: string;
  /** Reads every row into a dataset. Throws SourceError, DatasetError, CsvError, SchemaError; nothing is kept from a failed read. */
  load(schema: Schema, options?: BuildOptions): Promise<LoadedData>;
}

/** Longest value quoted in a message. */
const QUOTE = 24;

/**
 * A typed value (from a database driver or a Parquet reader) as the raw text a CSV would hold,
 * or null for missing; `{ reason }` when the value cannot stand in a column of this schema type.
 */
export function cellText(value: unknown, type: string): string | null | { reason: string } {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return Number.isFinite(value) ? String(value) : { reason: `value ${String(value)} is not a finite number` };
    case 'bigint':
      return value.toString();
    case 'boolean':
      return type === 'categorical' ? String(value) : { reason: `a boolean (${String(value)}) cannot be a ${type} value; declare the column categorical with categories "true", "false", or convert it in the source` };
    default:
      break;
  }
  if (value instanceof Date) {
    if (type === 'numeric' || type === 'integer') return { reason: `a date/time value cannot be a ${type} value; convert it in the source (e.g. an age or a number of days)` };
    return Number.isNaN(value.getTime()) ? { reason: 'an invalid date' } : value.toISOString();
  }
  if (value instanceof Uint8Array) return { reason: `a binary value of ${value.length} bytes (not UTF-8 text)` };
  const text = (() => {
    try {
      return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? '';
    } catch {
      return '';
    }
  })();
  return { reason: `a nested value (${text.length > QUOTE ? `${text.slice(0, QUOTE)}…` : text}) where a ${type} value is expected` };
}
