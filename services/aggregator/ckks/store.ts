/**
 * The aggregator's durable CKKS state, in its SQLite database (synchronous=FULL): every key
 * ceremony with its outcome — for a completed one, the collective PUBLIC key and its SHA-256 —
 * the number of ciphertexts decryptors were asked to key-switch under each key, and whether the
 * key is retired (its decryption budget spent: a new ceremony replaces it), and the encrypted
 * release of each CKKS query (ciphertexts under the analyst's key). Nothing
 * here decrypts anything: the aggregator never receives a secret key share (the threshold shares
 * it routes are encrypted to their recipients and never stored).
 */
import type { DatabaseSync } from 'node:sqlite';
import { CkksRelease } from '../../../gen/blindsum/v1/blindsum.ts';

export interface StoredCeremony {
  id: string;
  rosterDigest: string;
  params: string;
  threshold: number;
  parties: string[];
  status: 'running' | 'ready' | 'failed';
  publicKey: Uint8Array;
  publicKeySha256: string;
  error: string;
  startedAtMs: number;
  finishedAtMs: number;
}

interface Row {
  id: string; roster_digest: string; params: string; threshold: number; parties_json: string; status: string;
  public_key: Uint8Array | null; public_key_sha256: string; error: string; started_at_ms: number; finished_at_ms: number;
}

function fromRow(r: Row): StoredCeremony {
  return {
    id: r.id, rosterDigest: r.roster_digest, params: r.params, threshold: Number(r.threshold), parties: JSON.parse(r.parties_json) as string[],
    status: r.status as StoredCeremony['status'], publicKey: r.public_key ? new Uint8Array(r.public_key) : new Uint8Array(0), publicKeySha256: r.public_key_sha256,
    error: r.error, startedAtMs: Number(r.started_at_ms), finishedAtMs: Number(r.finished_at_ms),
  };
}

export class CkksStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    db.exec(`CREATE TABLE IF NOT EXISTS ckks_ceremonies (
      id TEXT PRIMARY KEY, roster_digest TEXT NOT NULL, params TEXT NOT NULL, threshold INTEGER NOT NULL, parties_json TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('running','ready','failed')), public_key BLOB, public_key_sha256 TEXT NOT NULL DEFAULT '',
      error TEXT NOT NULL DEFAULT '', started_at_ms INTEGER NOT NULL, finished_at_ms INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE IF NOT EXISTS ckks_releases (query_id TEXT PRIMARY KEY, release BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS ckks_key_usage (ceremony_id TEXT PRIMARY KEY, decryptions INTEGER NOT NULL DEFAULT 0,
      retired_at_ms INTEGER NOT NULL DEFAULT 0, retired_reason TEXT NOT NULL DEFAULT '');`);
    // A ceremony interrupted by a restart cannot resume (the parties' ephemeral state is gone).
    db.prepare(`UPDATE ckks_ceremonies SET status = 'failed', error = 'the aggregator restarted during the ceremony', finished_at_ms = ? WHERE status = 'running'`).run(Date.now());
  }

  /** The newest completed ceremony for this roster and parameter set whose key is not retired. */
  readyKey(rosterDigest: string, params: string): StoredCeremony | undefined {
    const r = this.#db
      .prepare(`SELECT * FROM ckks_ceremonies WHERE status = 'ready' AND roster_digest = ? AND params = ?
        AND id NOT IN (SELECT ceremony_id FROM ckks_key_usage WHERE retired_at_ms > 0) ORDER BY finished_at_ms DESC LIMIT 1`)
      .get(rosterDigest, params) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  /** The newest retired key for this roster and parameter set, with why it was retired. */
  retiredKey(rosterDigest: string, params: string): (StoredCeremony & { retiredReason: string }) | undefined {
    const r = this.#db
      .prepare(`SELECT c.*, u.retired_reason FROM ckks_ceremonies c JOIN ckks_key_usage u ON u.ceremony_id = c.id
        WHERE c.status = 'ready' AND c.roster_digest = ? AND c.params = ? AND u.retired_at_ms > 0 ORDER BY u.retired_at_ms DESC LIMIT 1`)
      .get(rosterDigest, params) as (Row & { retired_reason: string }) | undefined;
    return r ? { ...fromRow(r), retiredReason: r.retired_reason } : undefined;
  }

  /** Ciphertexts the decryptors were asked to key-switch under the key of this ceremony. */
  decryptions(ceremonyId: string): number {
    const r = this.#db.prepare(`SELECT decryptions FROM ckks_key_usage WHERE ceremony_id = ?`).get(ceremonyId) as { decryptions: number } | undefined;
    return r ? Number(r.decryptions) : 0;
  }

  /**
   * Durably adds `ciphertexts` to the key's count before a PCKS request is sent; refuses (nothing
   * counted, the key retired) when that would pass `bound`. A retired key still counts the
   * sessions that were running when it was retired (the parties keep it until the new ceremony).
   */
  countDecryptions(ceremonyId: string, ciphertexts: number, bound: number): number {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const used = this.decryptions(ceremonyId);
      if (used + ciphertexts > bound) {
        this.#db.exec('COMMIT');
        const why = `decryption budget of the collective key spent: ${used} of τ = ${bound} ciphertexts, ${ciphertexts} more asked`;
        this.retire(ceremonyId, why, Date.now());
        throw new RangeError(why);
      }
      this.#db.prepare(`INSERT INTO ckks_key_usage (ceremony_id, decryptions) VALUES (?, ?) ON CONFLICT (ceremony_id) DO UPDATE SET decryptions = excluded.decryptions`).run(ceremonyId, used + ciphertexts);
      this.#db.exec('COMMIT');
      return used + ciphertexts;
    } catch (e) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw e;
    }
  }

  /** Retires the key (idempotent): readyKey skips it and the ceremony loop runs a new ceremony. */
  retire(ceremonyId: string, reason: string, atMs: number): void {
    this.#db
      .prepare(`INSERT INTO ckks_key_usage (ceremony_id, retired_at_ms, retired_reason) VALUES (?, ?, ?)
        ON CONFLICT (ceremony_id) DO UPDATE SET retired_at_ms = excluded.retired_at_ms, retired_reason = excluded.retired_reason WHERE retired_at_ms = 0`)
      .run(ceremonyId, atMs, reason);
  }

  latest(): StoredCeremony | undefined {
    const r = this.#db.prepare(`SELECT * FROM ckks_ceremonies ORDER BY started_at_ms DESC LIMIT 1`).get() as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  begin(c: Pick<StoredCeremony, 'id' | 'rosterDigest' | 'params' | 'threshold' | 'parties' | 'startedAtMs'>): void {
    this.#db
      .prepare(`INSERT INTO ckks_ceremonies (id, roster_digest, params, threshold, parties_json, status, started_at_ms) VALUES (?, ?, ?, ?, ?, 'running', ?)`)
      .run(c.id, c.rosterDigest, c.params, c.threshold, JSON.stringify(c.parties), c.startedAtMs);
  }

  /** Records the collective public key durably (before it is announced as ready). */
  ready(id: string, publicKey: Uint8Array, publicKeySha256: string, atMs: number): void {
    this.#db.prepare(`UPDATE ckks_ceremonies SET status = 'ready', public_key = ?, public_key_sha256 = ?, finished_at_ms = ? WHERE id = ?`).run(publicKey, publicKeySha256, atMs, id);
  }

  fail(id: string, error: string, atMs: number): void {
    this.#db.prepare(`UPDATE ckks_ceremonies SET status = 'failed', error = ?, finished_at_ms = ? WHERE id = ?`).run(error, atMs, id);
  }

  saveRelease(queryId: string, release: CkksRelease): void {
    this.#db.prepare(`INSERT INTO ckks_releases (query_id, release) VALUES (?, ?)`).run(queryId, CkksRelease.encode(release).finish());
  }

  release(queryId: string): CkksRelease | undefined {
    const r = this.#db.prepare(`SELECT release FROM ckks_releases WHERE query_id = ?`).get(queryId) as { release: Uint8Array } | undefined;
    return r ? CkksRelease.decode(new Uint8Array(r.release)) : undefined;
  }
}
