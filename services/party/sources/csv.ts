/** The CSV source: a UTF-8 file, parsed and validated by stats (buildDataset). */
import { readFile } from 'node:fs/promises';
import { buildDataset, type BuildOptions, type Schema } from '../../../stats/index.ts';
import { SourceError, type DataSource, type LoadedData } from './types.ts';

export class CsvSource implements DataSource {
  readonly label: string;
  readonly #path: string;
  constructor(path: string) {
    this.#path = path;
    this.label = path;
  }

  async load(schema: Schema, options: BuildOptions = {}): Promise<LoadedData> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (e) {
      throw new SourceError(`cannot read data file ${this.#path}: ${(e as Error).message}`);
    }
    return buildDataset(schema, text, options);
  }
}
