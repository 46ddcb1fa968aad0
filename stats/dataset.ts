/**
 * Columnar datasets built from CSV text against a schema. An empty field (after trimming
 * spaces) is missing; anything else must parse for its column type. Numeric and integer columns become
 * Float64Array (NaN = missing), categorical columns Int32Array codes into the schema's levels
 * (-1 = missing; with missing: 'category' the level "(missing)" is used instead).
 *
 * Contribution bounding per patient. The schema's identifier column (at most one; required when
 * rowsPerPatient k > 1) names the patient of each row. It must be present in the header but is
 * never loaded into the dataset: it is only used, at load, to keep at most k rows per patient.
 * The rule: a patient keeps its first k valid rows in file order (a row rejected for a bad value
 * does not use up the patient's quota); later valid rows of that patient are dropped and counted
 * in the LoadReport. Identifiers are compared as exact strings after trimming spaces (so "007" and
 * "7" are two patients: the party must write each patient's identifier one way). A row with a
 * missing identifier, or one longer than MAX_IDENTIFIER_LENGTH, is rejected as invalid: it could
 * not be attributed to a patient, so the bound could not hold for it. Without an identifier column
 * (only allowed with k = 1) every row is its own patient. The dropped rows are not errors under
 * `strict` (bounding is the intended contribution limit, not bad data); invalid identifiers are.
 *
 * The LoadReport quotes (a short prefix of) offending raw values of data columns: it is for the
 * party's own operator and must not leave the party. It never quotes an identifier (personal
 * data): identifier problems are reported by line and length only, patients only as counts.
 */
import { sha256 } from '../crypto/sha256.ts';
import { concatBytes, u32be, utf8 } from '../crypto/bytes.ts';
import { formatCsv, parseCsv } from './csv.ts';
import { DatasetBuilder } from './dataset-builder.ts';
import type { Schema } from './schema.ts';

export { DatasetBuilder, DatasetError, type DatasetBuilderOptions, type RawCell } from './dataset-builder.ts';

export type { CategoricalColumn, Column, Dataset, DropReason, LoadReport, NumericColumn, Population, RejectedRow } from './dataset-types.ts';
export { DROP_REASONS } from './dataset-types.ts';
import { DROP_REASONS, type Column, type Dataset, type LoadReport, type Population } from './dataset-types.ts';

export interface BuildOptions {
  /** Throw DatasetError on the first problem instead of rejecting the row. */
  strict?: boolean;
}

/**
 * Builds a dataset from CSV text, keeping at most rowsPerPatient rows per patient (see the file
 * comment for the rule). Throws CsvError for unparseable CSV, DatasetError for a bad header or row
 * limit (or any invalid row when strict), SchemaError for a schema whose patients cannot be bounded.
 * The rows go through DatasetBuilder, as the rows of every other source do (services/party/sources/).
 */
export function buildDataset(schema: Schema, csvText: string, options: BuildOptions = {}): { dataset: Dataset; report: LoadReport } {
  const table = parseCsv(csvText);
  const builder = new DatasetBuilder(schema, table.header, { strict: options.strict ?? false, unit: 'line', headerAt: table.headerLine });
  const width = table.header.length;
  for (let r = 0; r < table.rows.length; r++) {
    const row = table.rows[r]!;
    const line = table.lines[r]!;
    if (row.length !== width) builder.rejectRow(line, '', `malformed row: ${row.length} field(s), the header has ${width}`, 'malformed');
    else builder.addRow(row, line);
  }
  return builder.finish();
}

/**
 * The load report as text for the party's operator (stderr at start): rows loaded, the first
 * `maxListed` rejected rows with line, column and reason, and the per-patient bound with its
 * counts; `prefix` (e.g. "hospital-a: ") starts each top-level line. Never an identifier: patients appear only as counts.
 */
export function formatLoadReport(report: LoadReport, source: string, prefix = '', maxListed = 20): string {
  const r = report;
  const lines = [`${prefix}loaded ${r.rowsLoaded} of ${r.rowsRead} rows from ${source}` + (r.rejected.length ? `; ${r.rejected.length} rejected:` : '')];
  for (const x of r.rejected.slice(0, maxListed)) lines.push(`  ${r.unit ?? 'line'} ${x.line}, ${x.column}: ${x.reason}`); // format kept: operators' scripts and tests match it
  if (r.rejected.length > maxListed) lines.push(`  … and ${r.rejected.length - maxListed} more`);
  if (r.patientColumn === null) {
    lines.push(`${prefix}patients: no identifier column, each of the ${r.rowsLoaded} rows counts as one patient (rowsPerPatient ${r.rowsPerPatient})`);
  } else {
    lines.push(`${prefix}patients: ${r.patients} (identifier column "${r.patientColumn}", at most ${r.rowsPerPatient} row(s) each, the first valid ones in file order)` +
      (r.rowsOverPatientBound > 0 ? `; ${r.rowsOverPatientBound} row(s) of ${r.patientsOverBound} patient(s) beyond the bound dropped` : '; none over the bound'));
  }
  lines.push(`${prefix}${formatPopulation(r.population)}`);
  return lines.join('\n') + '\n';
}

/**
 * The population line of the load report: this party's exact figures, for its operator only
 * (analysts get federation-wide figures only as the DP release of the `population` query kind).
 */
export function formatPopulation(p: Population): string {
  const dropped = DROP_REASONS.reduce((a, r) => a + p.dropped[r], 0);
  return `population (exact, this party only; analysts see it only as a noisy, charged release: query kind population): ` +
    `${p.loaded} row(s) loaded; ${dropped} dropped (${DROP_REASONS.map((r) => `${r} ${p.dropped[r]}`).join(', ')}); ${p.clipped} loaded with a clipped value`;
}

/** The dataset restricted to the given row indices (in that order). */
export function selectRows(dataset: Dataset, rows: ArrayLike<number>): Dataset {
  const columns = new Map<string, Column>();
  const m = rows.length;
  for (const [name, col] of dataset.columns) {
    if (col.kind === 'numeric') {
      const v = new Float64Array(m);
      for (let i = 0; i < m; i++) v[i] = col.values[rows[i]!]!;
      columns.set(name, { kind: 'numeric', values: v });
    } else {
      const c = new Int32Array(m);
      for (let i = 0; i < m; i++) c[i] = col.codes[rows[i]!]!;
      columns.set(name, { kind: 'categorical', levels: [...col.levels], codes: c });
    }
  }
  return { schema: dataset.schema, rowCount: m, columns };
}

/** Deterministic stream of uniform u32 words: SHA-256(seed ‖ counter) blocks. Not for secrets. */
function wordStream(seed: string | number): () => number {
  const seedBytes = utf8(`blindsum/split/v1|${typeof seed}|${String(seed)}`);
  let counter = 0;
  let block = new Uint32Array(0);
  let pos = 0;
  return () => {
    if (pos >= block.length) {
      const h = sha256(concatBytes(seedBytes, u32be(counter++)));
      const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
      block = new Uint32Array(8);
      for (let j = 0; j < 8; j++) block[j] = dv.getUint32(4 * j, false);
      pos = 0;
    }
    return block[pos++]!;
  };
}

/**
 * Assigns each of `n` rows to one of `parts` parts: a seeded uniform shuffle, then contiguous
 * chunks whose sizes differ by at most one. Deterministic from (n, parts, seed).
 */
export function splitAssignment(n: number, parts: number, seed: string | number): Int32Array {
  if (!Number.isSafeInteger(parts) || parts < 1) throw new RangeError(`parts: expected a positive integer, got ${parts}`);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`n: expected a non-negative integer, got ${n}`);
  const next = wordStream(seed);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const range = i + 1;
    const limit = Math.floor(2 ** 32 / range) * range;
    let w = next();
    while (w >= limit) w = next();
    const j = w % range;
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  const out = new Int32Array(n);
  for (let pos = 0; pos < n; pos++) out[perm[pos]!] = Math.floor((pos * parts) / n);
  return out;
}

/** Splits rows by an assignment (row i goes to part assignment[i]). */
export function partitionDataset(dataset: Dataset, assignment: Int32Array, parts: number): Dataset[] {
  if (assignment.length !== dataset.rowCount) throw new RangeError(`assignment: expected ${dataset.rowCount} entries, got ${assignment.length}`);
  const idx: number[][] = Array.from({ length: parts }, () => []);
  for (let i = 0; i < assignment.length; i++) {
    const p = assignment[i]!;
    if (p < 0 || p >= parts) throw new RangeError(`assignment[${i}] = ${p} outside [0, ${parts})`);
    idx[p]!.push(i);
  }
  return idx.map((rows) => selectRows(dataset, rows));
}

/** Random row split into `parts` datasets, deterministic from the seed. */
export function splitDataset(dataset: Dataset, parts: number, seed: string | number): Dataset[] {
  return partitionDataset(dataset, splitAssignment(dataset.rowCount, parts, seed), parts);
}

/** Non-IID split: one dataset per level of a categorical column (missing values in the last part). */
export function splitDatasetByColumn(dataset: Dataset, column: string): Dataset[] {
  const col = dataset.columns.get(column);
  if (!col || col.kind !== 'categorical') throw new TypeError(`splitDatasetByColumn: "${column}" is not a categorical column of the dataset`);
  const parts = col.levels.length + 1;
  const a = new Int32Array(dataset.rowCount);
  for (let i = 0; i < a.length; i++) a[i] = col.codes[i]! < 0 ? parts - 1 : col.codes[i]!;
  return partitionDataset(dataset, a, parts).filter((d) => d.rowCount > 0);
}

/** The same random split as splitDataset, on CSV text: each part is a CSV file with the header. */
export function splitCsvText(csvText: string, parts: number, seed: string | number): string[] {
  const table = parseCsv(csvText);
  const a = splitAssignment(table.rows.length, parts, seed);
  const byPart: string[][][] = Array.from({ length: parts }, () => []);
  for (let i = 0; i < a.length; i++) byPart[a[i]!]!.push(table.rows[i]!);
  return byPart.map((rows) => formatCsv(table.header, rows));
}
