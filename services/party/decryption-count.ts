/**
 * A party's count of the ciphertexts it produced decryption (PCKS) shares for, per collective key
 * (docs/ckks-backend.md §5): SQLite in its state directory (decryptions.sqlite, WAL,
 * synchronous=FULL), written before the share leaves, so a restart cannot reset it. Past the
 * bound τ(n) of crypto/ckks/params.ts `decryptionBound` (OpenFHE's flooding rule) the party
 * refuses: the flooding analysis covers no more decryptions under one secret key share, and the
 * federation must re-key (a new key ceremony gives a new share and a fresh count). Every share
 * counts, a retry for the same sum included (it carries fresh flooding noise).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { decryptionBound, type CkksParams } from '../../crypto/ckks/params.ts';
import { Refuse } from './contribution.ts';

export const DECRYPTION_COUNT_FILE = 'decryptions.sqlite';

export class DecryptionCount {
  readonly #db: DatabaseSync;
  readonly #bound: number | undefined;

  /** `bound` overrides τ(n) (tests only: a small bound to reach). */
  constructor(stateDir: string, bound?: number) {
    if (bound !== undefined && (!Number.isSafeInteger(bound) || bound < 0)) throw new RangeError(`decryption bound: expected a non-negative integer, got ${bound}`);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(join(stateDir, DECRYPTION_COUNT_FILE));
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;');
    this.#db.exec('CREATE TABLE IF NOT EXISTS decryptions (key_sha256 TEXT PRIMARY KEY, ciphertexts INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL)');
    this.#bound = bound;
  }

  /** τ for a key of `parties` parties under parameter set `params`. */
  bound(params: CkksParams, parties: number): number {
    return this.#bound ?? decryptionBound(params, parties);
  }

  count(keySha256: string): number {
    const r = this.#db.prepare('SELECT ciphertexts FROM decryptions WHERE key_sha256 = ?').get(keySha256) as { ciphertexts: number } | undefined;
    return r ? Number(r.ciphertexts) : 0;
  }

  /**
   * Durably adds `ciphertexts` decryptions under the key before its shares are produced; Refuse
   * (nothing counted) when that would pass the bound.
   */
  charge(keySha256: string, parties: number, params: CkksParams, ciphertexts: number): void {
    if (!Number.isSafeInteger(ciphertexts) || ciphertexts < 1) throw new RangeError(`ciphertexts: expected a positive integer, got ${ciphertexts}`);
    const bound = this.bound(params, parties);
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const used = this.count(keySha256);
      if (used + ciphertexts > bound) {
        throw new Refuse(
          `decryption bound reached: this party has produced PCKS shares for ${used} ciphertexts under collective key ${keySha256.slice(0, 12)}…; ` +
          `${ciphertexts} more would pass τ = ${bound} (${params.name}, ${parties} parties; docs/ckks-parameters.md §2): the federation must re-key (a new key ceremony)`,
        );
      }
      this.#db.prepare('INSERT INTO decryptions (key_sha256, ciphertexts, updated_at_ms) VALUES (?, ?, ?) ON CONFLICT (key_sha256) DO UPDATE SET ciphertexts = excluded.ciphertexts, updated_at_ms = excluded.updated_at_ms')
        .run(keySha256, used + ciphertexts, Date.now());
      this.#db.exec('COMMIT');
    } catch (e) {
      this.#db.exec('ROLLBACK');
      throw e;
    }
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
