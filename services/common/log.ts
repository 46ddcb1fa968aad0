/**
 * Structured logs to stderr: one JSON object per line, with fixed keys
 *   {"time", "level", "component", "msg", "queryId"?, "fields"?}
 * `time` is ISO 8601 (UTC), `level` one of debug, info, warn, error. A message's own fields are
 * nested under "fields", so no field (one named "level" or "msg" included) can change a fixed key;
 * the one field lifted out is `queryId` (a string, at most 64 characters), put at the top level so
 * that every line about a query can be selected by it. Lines below the configured level are
 * dropped. Never pass secrets (keys, shares, seeds) or data (rows, sums, results) here.
 *
 * No logger library: pino is not installed here and this is all the services need
 * (docs/dependencies.md).
 */
import { ConfigError } from './roster.ts';
import type { Logger, LogLevel } from './errors.ts';

export type { LogLevel } from './errors.ts';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Environment variable read when no --log-level (or --quiet) is given. */
export const LOG_LEVEL_ENV = 'BLINDSUM_LOG_LEVEL';

/** The longest query id lifted into the fixed `queryId` key (longer values are cut). */
const MAX_QUERY_ID = 64;

/** A log level from an option or the environment; ConfigError naming `source` otherwise. */
export function parseLogLevel(value: string, source: string): LogLevel {
  const v = value.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  throw new ConfigError(`${source}: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value.slice(0, 20))}`);
}

/**
 * The level a service logs at: --log-level, else warn with --quiet, else $BLINDSUM_LOG_LEVEL,
 * else info.
 */
export function resolveLogLevel(opts: { logLevel?: string | undefined; quiet?: boolean | undefined }, env: NodeJS.ProcessEnv = process.env): LogLevel {
  if (opts.logLevel !== undefined) return parseLogLevel(opts.logLevel, '--log-level');
  if (opts.quiet) return 'warn';
  const e = env[LOG_LEVEL_ENV];
  if (e !== undefined && e !== '') return parseLogLevel(e, LOG_LEVEL_ENV);
  return 'info';
}

export interface LoggerOptions {
  /** Lowest level written (default info). */
  level?: LogLevel;
  /** Old spelling of level "warn" (kept for --quiet). */
  quiet?: boolean;
  /** Where each line goes (default: process.stderr). */
  write?: (line: string) => void;
}

/** A field value as JSON can hold it: bigints as strings, errors as their message. */
function jsonable(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Error) return v.message;
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  return v;
}

/** One log line (without the newline): the fixed keys, then the message's fields nested. */
export function formatLogLine(component: string, level: LogLevel, message: string, fields?: Record<string, unknown>, now: Date = new Date()): string {
  const line: Record<string, unknown> = { time: now.toISOString(), level, component, msg: message };
  let rest: Record<string, unknown> | undefined;
  if (fields) {
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      if (k === 'queryId' && typeof v === 'string') {
        line['queryId'] = v.slice(0, MAX_QUERY_ID);
        continue;
      }
      (rest ??= {})[k] = v;
    }
  }
  if (rest) line['fields'] = rest;
  try {
    return JSON.stringify(line, jsonable);
  } catch (e) {
    // A field that cannot be serialized (a cycle) must not lose the line.
    return JSON.stringify({ ...line, fields: { unserializable: (e as Error).message } });
  }
}

export function createLogger(component: string, opts: LoggerOptions = {}): Logger {
  const min = LOG_LEVELS.indexOf(opts.level ?? (opts.quiet ? 'warn' : 'info'));
  const write = opts.write ?? ((line: string) => void process.stderr.write(line));
  return (level, message, fields) => {
    if (LOG_LEVELS.indexOf(level) < min) return;
    write(formatLogLine(component, level, message, fields) + '\n');
  };
}
