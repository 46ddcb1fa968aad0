/** The types of a loaded dataset (stats/dataset.ts), apart so that dataset-builder.ts needs no import of dataset.ts (which imports it). */
import type { Schema } from './schema.ts';

export interface NumericColumn {
  kind: 'numeric';
  values: Float64Array;
}
export interface CategoricalColumn {
  kind: 'categorical';
  levels: string[];
  codes: Int32Array;
}
export type Column = NumericColumn | CategoricalColumn;

export interface Dataset {
  schema: Schema;
  rowCount: number;
  columns: Map<string, Column>;
  /**
   * The exact figures of the load that built this dataset (DatasetBuilder), for the `population`
   * query kind only: they leave the party only as that kind's statistic vector, i.e. noised and
   * charged under DP. Absent on datasets not built from a source (a subset, a split in a test).
   */
  population?: Population;
}

/**
 * Why a row read from the source was dropped (one class per row):
 *   invalid_value  a value the schema cannot read (not a number, not an integer, an unknown category, a type the source cannot convert), or a missing value in a column declared never missing (missing: 'reject');
 *   out_of_bounds  a number outside its column's [min, max] (outOfBounds 'reject');
 *   identifier     a missing or over-long patient identifier (the row cannot be attributed to a patient);
 *   malformed      a row the source could not split into the header's cells (CSV: a wrong number of fields);
 *   patient_bound  a valid row of a patient who already had rowsPerPatient rows.
 */
export const DROP_REASONS = ['invalid_value', 'out_of_bounds', 'identifier', 'malformed', 'patient_bound'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/**
 * The population a party's load produced: every row read is in exactly one of `loaded` or one
 * `dropped` class; `clipped` counts the loaded rows with at least one value clamped to its bounds.
 */
export interface Population {
  loaded: number;
  dropped: Record<DropReason, number>;
  clipped: number;
}

export interface RejectedRow {
  line: number;
  column: string;
  reason: string;
  /** The reason's class (the population kind counts rows per class). */
  class: DropReason;
}

export interface LoadReport {
  rowsRead: number;
  rowsLoaded: number;
  rejected: RejectedRow[];
  /** CSV columns not in the schema (ignored). */
  extraColumns: string[];
  /** Values clamped to their column's bounds (columns with outOfBounds: 'clip'). */
  clipped: number;
  /** The identifier column rows are grouped by, or null (every row is its own patient). */
  patientColumn: string | null;
  /** The schema's rowsPerPatient k: the most rows kept per patient. */
  rowsPerPatient: number;
  /** Distinct patients among the loaded rows. */
  patients: number;
  /** Valid rows dropped because their patient already had k rows (rowsRead = rowsLoaded + rejected + this). */
  rowsOverPatientBound: number;
  /** Patients that had more than k valid rows (each kept k). */
  patientsOverBound: number;
  /** 'row' when positions (RejectedRow.line) are 1-based data rows of a database or Parquet source; absent for CSV file lines. */
  unit?: 'row';
  /** Rows loaded, dropped by reason class and loaded with a clipped value (the party's exact figures; also the dataset's). */
  population: Population;
}
