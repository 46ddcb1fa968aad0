/**
 * The party's data source from its command line: `--data FILE.csv` / `--data FILE.parquet`
 * (chosen by extension), or `--source postgres://… --query-file q.sql` with optional
 * `--source-password-file` and `--source-timeout-ms`.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { ConfigError } from '../../common/roster.ts';
import { CsvSource } from './csv.ts';
import { ParquetSource } from './parquet.ts';
import { PostgresSource, readPasswordFile } from './postgres.ts';
import type { DataSource } from './types.ts';

export { CsvSource } from './csv.ts';
export { ParquetSource } from './parquet.ts';
export { maskUrl, PostgresSource, readPasswordFile, type PostgresSourceOptions } from './postgres.ts';
export { cellText, SourceError, type DataSource, type LoadedData } from './types.ts';

export interface SourceOptions {
  /** A CSV or Parquet file (by extension: .parquet / .parq, anything else is CSV). */
  dataPath?: string;
  /** postgres://user@host:port/db */
  sourceUrl?: string;
  queryFile?: string;
  passwordFile?: string;
  statementTimeoutMs?: number;
}

/** The data source the options name. Throws ConfigError for a contradictory or incomplete set. */
export function openSource(o: SourceOptions): DataSource {
  if (o.sourceUrl !== undefined) {
    if (o.dataPath !== undefined) throw new ConfigError('give either --data or --source, not both');
    if (o.queryFile === undefined) throw new ConfigError('--source needs --query-file q.sql (the SELECT that yields the analysis table)');
    let query: string;
    try {
      query = readFileSync(o.queryFile, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read query file ${o.queryFile}: ${(e as Error).message}`);
    }
    return new PostgresSource({
      url: o.sourceUrl, query,
      ...(o.passwordFile !== undefined ? { password: readPasswordFile(o.passwordFile) } : {}),
      ...(o.statementTimeoutMs !== undefined ? { statementTimeoutMs: o.statementTimeoutMs } : {}),
    });
  }
  if (o.queryFile !== undefined || o.passwordFile !== undefined) throw new ConfigError('--query-file and --source-password-file need --source postgres://…');
  if (o.dataPath === undefined) throw new ConfigError('give --data FILE (.csv or .parquet) or --source postgres://… --query-file q.sql');
  const ext = extname(o.dataPath).toLowerCase();
  return ext === '.parquet' || ext === '.parq' ? new ParquetSource(o.dataPath) : new CsvSource(o.dataPath);
}
