/**
 * The PostgreSQL source: one SQL query (or `SELECT * FROM a_view`) per dataset, read with `pg` in
 * a READ ONLY transaction and streamed through a `pg-cursor` in batches, each row handed to
 * DatasetBuilder as it arrives (so the schema's maxRowsPerParty stops the read as soon as it is
 * passed). Values arrive as PostgreSQL's text output (every type parser is the identity), so they
 * are validated by the same code as CSV text; the result's column types are checked against the
 * schema first (a date where a number is declared is refused before any row is read). NULL is
 * missing. A server-side statement_timeout bounds the whole read (the cursor's reads are one
 * statement: no Sync between batches), a connect timeout bounds the connection.
 *
 * Credentials: the URL's password, a password file (--source-password-file, mode 0600 checked
 * like a key file) or the standard PG* environment variables / ~/.pgpass that `pg` reads itself.
 * The password is never logged: the label masks it, and every driver message is scrubbed of it.
 */
import { readFileSync, statSync } from 'node:fs';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { DatasetBuilder, type BuildOptions, type Schema } from '../../../stats/index.ts';
import { ConfigError } from '../../common/roster.ts';
import { SourceError, type DataSource, type LoadedData } from './types.ts';

/** Rows fetched per cursor read. */
export const PG_BATCH_ROWS = 1000;
/** Default server-side statement timeout for the whole read (ms). */
export const PG_STATEMENT_TIMEOUT_MS = 300_000;
/** Longest query file accepted (bytes). */
const MAX_QUERY_BYTES = 1 << 20;

// PostgreSQL type OIDs (pg_type.oid, stable across versions).
const INTEGER_OIDS = new Set([20, 21, 23, 26]); // int8, int2, int4, oid
const FLOAT_OIDS = new Set([700, 701, 1700]); // float4, float8, numeric
const TEXT_OIDS = new Set([25, 1042, 1043, 19]); // text, bpchar, varchar, name
const BOOL_OID = 16;
const UUID_OID = 2950;
const TYPE_NAMES: Record<number, string> = {
  16: 'boolean', 17: 'bytea', 114: 'json', 3802: 'jsonb', 1082: 'date', 1083: 'time', 1114: 'timestamp', 1184: 'timestamptz', 1186: 'interval', 2950: 'uuid',
};

function accepts(type: string, oid: number): boolean {
  if (TEXT_OIDS.has(oid)) return true; // parsed like CSV text
  if (type === 'numeric' || type === 'integer') return INTEGER_OIDS.has(oid) || FLOAT_OIDS.has(oid);
  if (type === 'categorical') return INTEGER_OIDS.has(oid) || FLOAT_OIDS.has(oid) || oid === BOOL_OID;
  return INTEGER_OIDS.has(oid) || oid === UUID_OID; // identifier
}

/** The URL with its password replaced by "***" (for every message), or a fixed text when it does not parse. */
export function maskUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '(a PostgreSQL URL that does not parse; not quoted, it may hold a password)';
  }
  if (u.password !== '') u.password = '***';
  for (const k of ['password', 'sslpassword']) if (u.searchParams.has(k)) u.searchParams.set(k, '***');
  return u.toString();
}

/** Reads a password file: it must not be readable by group or others (as key files); one line, trailing newline ignored. */
export function readPasswordFile(path: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (e) {
    throw new ConfigError(`cannot read password file ${path}: ${(e as Error).message}`);
  }
  if ((mode & 0o077) !== 0) throw new ConfigError(`password file ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
  const text = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  if (text === '' || text.includes('\n')) throw new ConfigError(`password file ${path}: expected the password on one line`);
  return text;
}

export interface PostgresSourceOptions {
  /** postgres://user@host:port/db (a unix socket: postgres:///db?host=/socket/dir). */
  url: string;
  /** The SQL text: one SELECT (or WITH … SELECT), e.g. `SELECT * FROM analysis_view`. */
  query: string;
  /** Overrides the URL's password (from --source-password-file). */
  password?: string;
  statementTimeoutMs?: number;
  batchRows?: number;
  /** Called after each batch (tests use it to break the connection mid-read). */
  onBatch?: (rowsSoFar: number) => Promise<void> | void;
}

export class PostgresSource implements DataSource {
  readonly label: string;
  readonly #o: PostgresSourceOptions;
  readonly #secrets: string[];

  constructor(o: PostgresSourceOptions) {
    let u: URL;
    try {
      u = new URL(o.url);
    } catch {
      throw new ConfigError('--source: expected postgres://USER@HOST:PORT/DB (the value is not quoted: it may hold a password)');
    }
    if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new ConfigError(`--source: expected a postgres:// URL, got the scheme ${JSON.stringify(u.protocol.slice(0, 20))}`);
    const q = o.query.trim().replace(/;\s*$/, '');
    if (q === '') throw new ConfigError('the query file is empty; write one SELECT (e.g. SELECT * FROM analysis_view)');
    if (Buffer.byteLength(q) > MAX_QUERY_BYTES) throw new ConfigError(`the query is longer than ${MAX_QUERY_BYTES} bytes`);
    const timeout = o.statementTimeoutMs ?? PG_STATEMENT_TIMEOUT_MS;
    if (!Number.isSafeInteger(timeout) || timeout < 1) throw new ConfigError(`statement timeout: expected a positive number of ms, got ${timeout}`);
    this.#o = { ...o, query: q, statementTimeoutMs: timeout };
    this.label = maskUrl(o.url);
    const decoded = ((): string | undefined => {
      try {
        return decodeURIComponent(u.password);
      } catch {
        return undefined; // a malformed %-escape: the raw form below is still scrubbed
      }
    })();
    this.#secrets = [o.password, decoded, u.password, u.searchParams.get('password') ?? undefined, process.env['PGPASSWORD']]
      .filter((s): s is string => typeof s === 'string' && s.length > 0);
  }

  /** A driver message with every known secret replaced by "***". */
  #scrub(message: string): string {
    let m = message;
    for (const s of this.#secrets) m = m.split(s).join('***');
    return m.length > 500 ? `${m.slice(0, 500)}…` : m;
  }

  async load(schema: Schema, options: BuildOptions = {}): Promise<LoadedData> {
    const o = this.#o;
    // pg lets the connection string's fields override the config's: an explicit password goes into
    // the string's query (?password=), which pg-connection-string reads before the URL's userinfo.
    let connectionString = o.url;
    if (o.password !== undefined) {
      const u = new URL(o.url);
      u.searchParams.set('password', o.password);
      connectionString = u.toString();
    }
    const client = new pg.Client({
      connectionString,
      statement_timeout: o.statementTimeoutMs!, connectionTimeoutMillis: 30_000, application_name: 'blindsum-party',
    });
    client.on('error', () => undefined); // a broken connection is reported by the read that fails; it must not crash the party
    try {
      try {
        await client.connect();
      } catch (e) {
        throw new SourceError(`cannot connect to ${this.label}: ${this.#scrub((e as Error).message)}`);
      }
      try {
        await client.query('BEGIN TRANSACTION READ ONLY');
      } catch (e) {
        throw new SourceError(`${this.label}: cannot begin a read-only transaction: ${this.#scrub((e as Error).message)}`);
      }
      const loaded = await this.#read(client, schema, options);
      await client.query('ROLLBACK').catch(() => undefined);
      return loaded;
    } finally {
      // A broken connection may never answer a polite end: wait at most a few seconds.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([client.end().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
      clearTimeout(timer);
    }
  }

  async #read(client: pg.Client, schema: Schema, options: BuildOptions): Promise<LoadedData> {
    const o = this.#o;
    const identity = (text: string): string => text;
    const cursor = client.query(new Cursor(o.query, null, { rowMode: 'array', types: { getTypeParser: () => identity } }));
    const read = (n: number): Promise<{ rows: unknown[][]; fields: pg.FieldDef[] }> => new Promise((resolve, reject) => {
      cursor.read(n, (err, rows, result) => (err ? reject(err) : resolve({ rows, fields: result.fields })));
    });
    const batch = o.batchRows ?? PG_BATCH_ROWS;
    let builder: DatasetBuilder | undefined;
    let types: string[] = [];
    let row = 0;
    let failed = false;
    try {
      for (;;) {
        let got: { rows: unknown[][]; fields: pg.FieldDef[] };
        try {
          got = await read(batch);
        } catch (e) {
          failed = true;
          const err = e as Error & { code?: string };
          const why = err.code === '57014' ? ` (the statement timeout of ${o.statementTimeoutMs} ms was reached)` : '';
          throw new SourceError(`${this.label}: the query failed after ${row} row(s)${why}: ${this.#scrub(err.message)}; nothing was loaded`);
        }
        if (!builder) {
          const header = got.fields.map((f) => f.name);
          builder = new DatasetBuilder(schema, header, { strict: options.strict ?? false, unit: 'row' });
          types = header.map((h) => schema.columns.find((c) => c.name === h)?.type ?? '');
          got.fields.forEach((f, i) => {
            const t = types[i]!;
            if (t !== '' && !accepts(t, f.dataTypeID)) {
              const pgType = TYPE_NAMES[f.dataTypeID] ?? `type oid ${f.dataTypeID}`;
              throw new SourceError(`${this.label}: column "${f.name}" of the query is a PostgreSQL ${pgType}, the schema declares it ${t}; cast it in the query (e.g. ${t === 'numeric' || t === 'integer' ? `EXTRACT(YEAR FROM ${f.name})` : `${f.name}::text`})`);
            }
          });
        }
        for (const r of got.rows) {
          row++;
          const cells = r.map((v, i) => (v === null ? null : types[i] === 'categorical' && got.fields[i]!.dataTypeID === BOOL_OID ? (v === 't' ? 'true' : 'false') : String(v)));
          builder.addRow(cells, row);
        }
        if (got.rows.length < batch) break;
        await o.onBatch?.(row);
      }
    } finally {
      // After a failed read the connection may be gone: closing the portal would wait forever.
      if (!failed) await new Promise<void>((resolve) => cursor.close(() => resolve()));
    }
    return builder.finish();
  }
}
