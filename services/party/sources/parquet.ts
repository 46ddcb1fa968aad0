/**
 * The Parquet source (`hyparquet`, a pure-JavaScript reader): columns are matched to the schema
 * by name, read in batches of rows, each value converted to the text a CSV would hold (numbers,
 * 64-bit integers, strings; booleans for categorical columns; null = missing) and validated by
 * DatasetBuilder like CSV text. A value of a type that cannot stand in its column (a date where a
 * number is declared, binary data, a nested value) rejects its row, naming row and column. Nested
 * (group) columns that the schema uses are refused. Columns not in the schema are not read.
 */
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { DatasetBuilder, type BuildOptions, type Schema } from '../../../stats/index.ts';
import { cellText, SourceError, type DataSource, type LoadedData } from './types.ts';

/** Rows decoded per read. */
export const PARQUET_BATCH_ROWS = 65_536;

export class ParquetSource implements DataSource {
  readonly label: string;
  readonly #path: string;
  readonly #batch: number;
  constructor(path: string, batchRows = PARQUET_BATCH_ROWS) {
    this.#path = path;
    this.label = path;
    this.#batch = batchRows;
  }

  async load(schema: Schema, options: BuildOptions = {}): Promise<LoadedData> {
    let file: AsyncBuffer;
    let metadata: FileMetaData;
    try {
      file = await asyncBufferFromFile(this.#path);
      metadata = await parquetMetadataAsync(file);
    } catch (e) {
      throw new SourceError(`cannot read Parquet file ${this.#path}: ${(e as Error).message.slice(0, 200)}`);
    }
    const top = parquetSchema(metadata).children;
    const header = top.map((c) => c.element.name);
    const builder = new DatasetBuilder(schema, header, { strict: options.strict ?? false, unit: 'row' });
    // Only the schema's columns are decoded; the others stay null (they are reported as extra columns).
    const wanted = header.map((h, i) => ({ h, i, spec: schema.columns.find((c) => c.name === h) })).filter((x) => x.spec !== undefined);
    for (const w of wanted) {
      if (top[w.i]!.children.length > 0) throw new SourceError(`${this.#path}: column "${w.h}" is a nested (group) column; the schema needs a flat column`);
    }
    const total = Number(metadata.num_rows);
    let row = 0;
    for (let start = 0; start < total; start += this.#batch) {
      const end = Math.min(total, start + this.#batch);
      let rows: unknown[][];
      try {
        rows = await new Promise<unknown[][]>((resolve, reject) => {
          parquetRead({ file, metadata, columns: wanted.map((w) => w.h), rowStart: start, rowEnd: end, onComplete: (r: unknown[][]) => resolve(r) }).catch(reject);
        });
      } catch (e) {
        throw new SourceError(`${this.#path}: cannot decode rows ${start + 1}–${end}: ${(e as Error).message.slice(0, 200)}; nothing was loaded`);
      }
      for (const r of rows) {
        row++;
        const cells: (string | null)[] = new Array<string | null>(header.length).fill(null);
        let bad: { column: string; reason: string } | undefined;
        for (let j = 0; j < wanted.length; j++) {
          const w = wanted[j]!;
          const c = cellText(r[j], w.spec!.type);
          if (c !== null && typeof c === 'object') {
            bad = { column: w.h, reason: c.reason };
            break;
          }
          cells[w.i] = c;
        }
        if (bad) builder.rejectRow(row, bad.column, bad.reason, 'invalid_value');
        else builder.addRow(cells, row);
      }
    }
    return builder.finish();
  }
}
