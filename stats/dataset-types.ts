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
}

export interface RejectedRow {
  line: number;
  column: string;
  reason: string;
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
}
