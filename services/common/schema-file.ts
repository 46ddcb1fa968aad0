/** The federation schema file, read and validated the same way by the aggregator, every party and the auditor. */
import { readFileSync } from 'node:fs';
import { parseSchema, type Schema } from '../../stats/index.ts';
import { ConfigError } from './roster.ts';

export function loadSchemaFile(path: string): Schema {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read schema file ${path}: ${(e as Error).message}`);
  }
  return parseSchema(json);
}
