/** Reading a dataset from a CSV file: the statistics library's only I/O, kept apart so that stats/index.ts stays pure (bundled for the browser). */
import { readFile } from 'node:fs/promises';
import { buildDataset, type BuildOptions, type Dataset, type LoadReport } from './dataset.ts';
import type { Schema } from './schema.ts';

/** Reads a CSV file (UTF-8) and builds a dataset from it. */
export async function loadCsvFile(path: string, schema: Schema, options: BuildOptions = {}): Promise<{ dataset: Dataset; report: LoadReport }> {
  const text = await readFile(path, 'utf8');
  return buildDataset(schema, text, options);
}
