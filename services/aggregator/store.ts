/**
 * Durable aggregator state in SQLite (node:sqlite, WAL, synchronous=FULL): queries, their
 * progress events and results. A write returns only once it is on disk, so anything the
 * aggregator has acknowledged survives a crash.
 */
import { DatabaseSync } from 'node:sqlite';
import type { QuerySpec } from '../../gen/blindsum/v1/blindsum.ts';

export type QueryStatus = 'pending' | 'running' | 'done' | 'failed';

export interface StoredQuery {
  id: string;
  analyst: string;
  backend: string;
  spec: QuerySpec;
  planDigest: string;
  status: QueryStatus;
  error: string;
  resultJson: string;
  entryNames: string[];
  aggregate: number[];
  contributors: string[];
  refusals: { partyId: string; reason: string }[];
  submittedAtMs: number;
  finishedAtMs: number;
  /** Exact integer sums on the fixed-point grid (decimal strings) and their scales. */
  exactSums: string[];
  scaleBits: number[];
  /** Differential privacy (0 / empty for exact queries). */
  rhoCharged: number;
  rhoSpent: number;
  noiseStd: number[];
  uncertaintyJson: string;
  /** DP releases of the judged kinds: the noise verdict (stats/noise-verdict.ts) as JSON; '' otherwise. */
  noiseJson: string;
}

export interface StoredEvent {
  queryId: string;
  seq: number;
  stage: string;
  message: string;
  atMs: number;
  final: boolean;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queries (
  id TEXT PRIMARY KEY, analyst TEXT NOT NULL, backend TEXT NOT NULL, spec_json TEXT NOT NULL,
  plan_digest TEXT NOT NULL, status TEXT NOT NULL, error TEXT NOT NULL DEFAULT '',
  result_json TEXT NOT NULL DEFAULT '', entry_names_json TEXT NOT NULL DEFAULT '[]',
  aggregate_json TEXT NOT NULL DEFAULT '[]', contributors_json TEXT NOT NULL DEFAULT '[]',
  refusals_json TEXT NOT NULL DEFAULT '[]', exact_sums_json TEXT NOT NULL DEFAULT '[]',
  scale_bits_json TEXT NOT NULL DEFAULT '[]', rho_charged REAL NOT NULL DEFAULT 0,
  rho_spent REAL NOT NULL DEFAULT 0, noise_std_json TEXT NOT NULL DEFAULT '[]',
  uncertainty_json TEXT NOT NULL DEFAULT '', submitted_at_ms INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS events (
  query_id TEXT NOT NULL, seq INTEGER NOT NULL, stage TEXT NOT NULL, message TEXT NOT NULL,
  at_ms INTEGER NOT NULL, final INTEGER NOT NULL, PRIMARY KEY (query_id, seq));
`;

/** The O(entries) columns of a finished query, serialized as finish() would (JSON arrays). */
export interface PreparedJson {
  exactSums: string;
  scaleBits: string;
  entryNames: string;
  noiseStd?: string;
}

interface QueryRow {
  id: string; analyst: string; backend: string; spec_json: string; plan_digest: string; status: string;
  error: string; result_json: string; entry_names_json: string; aggregate_json: string;
  contributors_json: string; refusals_json: string; exact_sums_json: string; scale_bits_json: string; rho_charged: number; rho_spent: number; noise_std_json: string; uncertainty_json: string; submitted_at_ms: number; finished_at_ms: number; noise_json: string;
}

export class AggregatorStore {
  readonly #db: DatabaseSync;
  /** The database file (the release thread opens its own connections to it). */
  readonly path: string;

  constructor(path: string) {
    this.path = path;
    this.#db = new DatabaseSync(path);
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
    this.#db.exec(SCHEMA);
    // Columns added after the first release: data directories of older versions gain them here.
    const columns = new Set((this.#db.prepare('PRAGMA table_info(queries)').all() as { name: string }[]).map((c) => c.name));
    if (!columns.has('noise_json')) this.#db.exec("ALTER TABLE queries ADD COLUMN noise_json TEXT NOT NULL DEFAULT ''");
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /** The database, for other durable tables kept atomically with the queries (budget ledger). */
  get db(): DatabaseSync {
    return this.#db;
  }

  /** Runs `fn` in one IMMEDIATE transaction: all of its writes reach the disk, or none. */
  transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const r = fn();
      this.#db.exec('COMMIT');
      return r;
    } catch (e) {
      this.#db.exec('ROLLBACK');
      throw e;
    }
  }

  /** Queries left pending/running by a previous process cannot resume: fail them loudly. */
  failInterrupted(now: number): number {
    const rows = this.#db.prepare(`SELECT id FROM queries WHERE status IN ('pending','running')`).all() as { id: string }[];
    for (const { id } of rows) {
      this.finish(id, { status: 'failed', error: 'the aggregator restarted while this query was running; nothing was released; resubmit it', finishedAtMs: now });
      this.addEvent(id, 'failed', 'aggregator restarted during the protocol; nothing was released', now, true);
    }
    return rows.length;
  }

  insertQuery(q: Pick<StoredQuery, 'id' | 'analyst' | 'backend' | 'spec' | 'planDigest' | 'submittedAtMs' | 'rhoCharged'>): void {
    this.#db
      .prepare(`INSERT INTO queries (id, analyst, backend, spec_json, plan_digest, status, submitted_at_ms, rho_charged) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`)
      .run(q.id, q.analyst, q.backend, JSON.stringify(q.spec), q.planDigest, q.submittedAtMs, q.rhoCharged);
  }

  setStatus(id: string, status: QueryStatus): void {
    this.#db.prepare(`UPDATE queries SET status = ? WHERE id = ?`).run(status, id);
  }

  finish(id: string, r: FinishRecord): void {
    writeFinish(this.#db, id, r);
  }

  /** Who submitted query `id`, on which backend (a cheap read: the stored result of a 10^6-entry query is large). */
  queryOwner(id: string): { id: string; analyst: string; backend: string } | undefined {
    const row = this.#db.prepare(`SELECT id, analyst, backend FROM queries WHERE id = ?`).get(id) as { id: string; analyst: string; backend: string } | undefined;
    return row ? { id: row.id, analyst: row.analyst, backend: row.backend } : undefined;
  }

  getQuery(id: string): StoredQuery | undefined {
    return readQuery(this.#db, id);
  }

  addEvent(queryId: string, stage: string, message: string, atMs: number, final: boolean): StoredEvent {
    const next = this.#db.prepare(`SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM events WHERE query_id = ?`).get(queryId) as { seq: number };
    const seq = Number(next.seq);
    this.#db.prepare(`INSERT INTO events (query_id, seq, stage, message, at_ms, final) VALUES (?, ?, ?, ?, ?, ?)`).run(queryId, seq, stage, message, atMs, final ? 1 : 0);
    return { queryId, seq, stage, message, atMs, final };
  }

  /** The latest queries, newest first, without their results (the web console's operator status). */
  recentQueries(limit: number): { id: string; analyst: string; backend: string; kind: string; status: string; error: string; refusals: { partyId: string; reason: string }[]; submittedAtMs: number; finishedAtMs: number }[] {
    const rows = this.#db.prepare(`SELECT id, analyst, backend, spec_json, status, error, refusals_json, submitted_at_ms, finished_at_ms FROM queries ORDER BY submitted_at_ms DESC LIMIT ?`).all(limit) as {
      id: string; analyst: string; backend: string; spec_json: string; status: string; error: string; refusals_json: string; submitted_at_ms: number; finished_at_ms: number;
    }[];
    return rows.map((r) => ({
      id: r.id, analyst: r.analyst, backend: r.backend, kind: String((JSON.parse(r.spec_json) as { kind?: unknown }).kind ?? ''), status: r.status, error: r.error,
      refusals: JSON.parse(r.refusals_json) as { partyId: string; reason: string }[], submittedAtMs: Number(r.submitted_at_ms), finishedAtMs: Number(r.finished_at_ms),
    }));
  }

  events(queryId: string): StoredEvent[] {
    const rows = this.#db.prepare(`SELECT * FROM events WHERE query_id = ? ORDER BY seq`).all(queryId) as { query_id: string; seq: number; stage: string; message: string; at_ms: number; final: number }[];
    return rows.map((r) => ({ queryId: r.query_id, seq: Number(r.seq), stage: r.stage, message: r.message, atMs: Number(r.at_ms), final: r.final === 1 }));
  }
}

/** Query `id` as stored, decoded (also read by the release thread on its own connection). */
export function readQuery(db: DatabaseSync, id: string): StoredQuery | undefined {
  const row = db.prepare(`SELECT * FROM queries WHERE id = ?`).get(id) as QueryRow | undefined;
  if (!row) return undefined;
  const exactSums = JSON.parse(row.exact_sums_json) as string[];
  const scaleBits = JSON.parse(row.scale_bits_json) as number[];
  return {
    id: row.id, analyst: row.analyst, backend: row.backend, spec: JSON.parse(row.spec_json) as QuerySpec,
    planDigest: row.plan_digest, status: row.status as QueryStatus, error: row.error, resultJson: row.result_json,
    entryNames: JSON.parse(row.entry_names_json) as string[],
    contributors: JSON.parse(row.contributors_json) as string[],
    refusals: JSON.parse(row.refusals_json) as { partyId: string; reason: string }[],
    submittedAtMs: Number(row.submitted_at_ms), finishedAtMs: Number(row.finished_at_ms),
    exactSums, scaleBits,
    // the released values on their real scale (stored once, as exact sums; older rows kept their own)
    aggregate: exactSums.length > 0 ? exactSums.map((x, i) => Number(x) * 2 ** -scaleBits[i]!) : JSON.parse(row.aggregate_json) as number[],
    rhoCharged: Number(row.rho_charged), rhoSpent: Number(row.rho_spent), noiseStd: JSON.parse(row.noise_std_json) as number[],
    uncertaintyJson: row.uncertainty_json, noiseJson: row.noise_json ?? '',
  };
}

/** What a finished query's row holds (finish). */
export interface FinishRecord {
  status: 'done' | 'failed'; error?: string; resultJson?: string; entryNames?: string[]; contributors?: string[];
  refusals?: { partyId: string; reason: string }[]; exactSums?: string[]; scaleBits?: number[]; finishedAtMs: number;
  rhoSpent?: number; noiseStd?: number[]; uncertaintyJson?: string; noiseJson?: string;
  /** The O(entries) columns already serialized (by the release thread), written as they are. */
  json?: PreparedJson;
}

/**
 * Writes a finished query's row (status, result, JSON columns) on connection `db`: the store's
 * own, or the release thread's write connection for a large release (synchronous = FULL on both).
 */
export function writeFinish(db: DatabaseSync, id: string, r: FinishRecord): void {
  const j = r.json;
  db.prepare(
    `UPDATE queries SET status = ?, error = ?, result_json = ?, entry_names_json = ?, aggregate_json = ?, contributors_json = ?, refusals_json = ?, exact_sums_json = ?, scale_bits_json = ?, rho_spent = ?, noise_std_json = ?, uncertainty_json = ?, noise_json = ?, finished_at_ms = ? WHERE id = ?`,
  ).run(
    r.status, r.error ?? '', r.resultJson ?? '', j?.entryNames ?? JSON.stringify(r.entryNames ?? []), '[]',
    JSON.stringify(r.contributors ?? []), JSON.stringify(r.refusals ?? []), j?.exactSums ?? JSON.stringify(r.exactSums ?? []),
    j?.scaleBits ?? JSON.stringify(r.scaleBits ?? []), r.rhoSpent ?? 0, j?.noiseStd ?? JSON.stringify(r.noiseStd ?? []), r.uncertaintyJson ?? '', r.noiseJson ?? '', r.finishedAtMs, id,
  );
}
