/**
 * A durable record of the SHA-256 of every CKKS input ciphertext a node has accepted (the
 * aggregator) or key-switched (a decryptor), so that an exact copy of an earlier contribution —
 * e.g. one party's ciphertext replayed by another from an exported transcript, which would count
 * the copied party twice — is refused within a session and across sessions. SQLite, synchronous
 * = FULL: a digest is on disk before the ciphertext is used.
 *
 * What it cannot catch: a re-randomized copy (the ciphertext plus an encryption of zero) has
 * another digest; only a proof of plaintext knowledge bound to the sender stops that
 * (docs/ckks-backend.md §5).
 */
import type { DatabaseSync } from 'node:sqlite';

export interface SeenInput {
  session: string;
  party: string;
}

export class InputDigestTable {
  readonly #db: DatabaseSync;

  /** Creates the table in `db` if needed (the caller owns the database and its pragmas). */
  constructor(db: DatabaseSync) {
    this.#db = db;
    db.exec('CREATE TABLE IF NOT EXISTS ckks_input_digests (digest TEXT PRIMARY KEY, session TEXT NOT NULL, party TEXT NOT NULL, at_ms INTEGER NOT NULL)');
  }

  /** Where `digest` was first seen, if anywhere. */
  find(digest: string): SeenInput | undefined {
    const r = this.#db.prepare('SELECT session, party FROM ckks_input_digests WHERE digest = ?').get(digest) as { session: string; party: string } | undefined;
    return r ? { session: r.session, party: r.party } : undefined;
  }

  /** Records `digests` as `party`'s in `session` (already recorded ones keep their first sighting). */
  record(digests: readonly string[], session: string, party: string): void {
    this.recordAll(new Map([[party, digests]]), session);
  }

  /** Records each party's `digests` in `session`, in one transaction (one sync to disk). */
  recordAll(byParty: ReadonlyMap<string, readonly string[]>, session: string): void {
    const ins = this.#db.prepare('INSERT OR IGNORE INTO ckks_input_digests (digest, session, party, at_ms) VALUES (?, ?, ?, ?)');
    const now = Date.now();
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const [party, digests] of byParty) for (const d of digests) ins.run(d, session, party, now);
      this.#db.exec('COMMIT');
    } catch (e) {
      this.#db.exec('ROLLBACK');
      throw e;
    }
  }
}

/**
 * The reason `digests` (one party's input in `session`) repeat an earlier input, or undefined:
 * a copy of another party's input, or of an input from another session. The same party's same
 * input within the same session (a retried PCKS request) is not a copy.
 */
export function copiedInput(table: InputDigestTable, digests: readonly string[], session: string, party: string, offset = 0): string | undefined {
  for (let i = 0; i < digests.length; i++) {
    const seen = table.find(digests[i]!);
    if (seen && (seen.session !== session || seen.party !== party)) {
      return `ciphertexts[${offset + i}] of ${party} is an exact copy of an input of ${seen.party} ${seen.session === session ? 'in this session' : `in session ${seen.session}`}`;
    }
  }
  return undefined;
}
