/**
 * The aggregator's content-addressed blob store (docs/transcripts.md, "Blobs"): the bodies of the
 * transcript entries that are logged by digest (masked inputs, CKKS ciphertexts, PCKS shares),
 * one file per body in DATA_DIR/transcript-blobs/, named by the hex of
 * B(body) = SHA-256(lengthPrefixed("blindsum/transcript/blob") ‖ body).
 *
 * Durability: a blob is written to a temporary file, fsynced, renamed to its name and the
 * directory fsynced, all before the transcript entry that names it is written (and so before the
 * step it records takes effect or its receipt is sent). A crash leaves either the whole blob or
 * none (a stray temporary file, removed at the next start); a blob whose entry never reached
 * the log is harmless (nothing names it).
 *
 * Retention: `--blob-retention-days N` deletes blobs older than N days (at start and hourly);
 * their entries, digests, signatures, receipts and chain stay, and `audit verify` reports which
 * checks it could not run without them. N ≥ 1: a blob outlives every session that names it
 * (rounds time out within an hour each), so the aggregator can read back a body it logged while
 * the session runs. There is no "digest only" mode for that reason.
 */
import { closeSync, constants, copyFileSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../crypto/bytes.ts';
import { directoryBlobs, isBlobName, type BlobSource } from '../common/blobs.ts';

export const BLOB_DIR = 'transcript-blobs';
const DAY_MS = 86_400_000;

export interface BlobRetention {
  /** Blobs older than this many days (≥ 1) are deleted; undefined keeps them forever. */
  days?: number;
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class BlobStore implements BlobSource {
  readonly dir: string;
  readonly retention: BlobRetention;
  readonly #reader: BlobSource;
  #tmp = 0;

  constructor(dir: string, retention: BlobRetention = {}) {
    if (retention.days !== undefined && !(Number.isFinite(retention.days) && retention.days >= 1)) {
      throw new RangeError(`blob retention: expected a number of days ≥ 1 (a blob must outlive the session that logs it), got ${retention.days}`);
    }
    this.dir = dir;
    this.retention = retention;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.#reader = directoryBlobs(dir);
  }

  /** Removes temporary files a crash left (only the aggregator that writes the store calls this, at start). */
  removeStrayTemporaries(): void {
    for (const f of readdirSync(this.dir)) if (f.startsWith('.tmp-')) unlinkSync(join(this.dir, f));
  }

  static forDataDir(dataDir: string, retention: BlobRetention = {}): BlobStore {
    return new BlobStore(join(dataDir, BLOB_DIR), retention);
  }

  /**
   * Stores `bytes` under `digest` (the caller computed B(bytes)), durably, before returning.
   * A blob already present is content-addressed: the same bytes, nothing to write (its time is
   * renewed, so that retention counts from the last entry naming it).
   */
  put(digest: Uint8Array, bytes: Uint8Array): void {
    const name = toHex(digest);
    const path = join(this.dir, name);
    try {
      statSync(path);
      // Already stored (same bytes): retention counts from the newest entry that names it.
      const now = new Date();
      utimesSync(path, now, now);
      return;
    } catch {
      /* not yet stored */
    }
    const tmp = join(this.dir, `.tmp-${name}-${process.pid}-${this.#tmp++}`);
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    fsyncDir(this.dir);
  }

  get(hexDigest: string): Uint8Array | undefined {
    return this.#reader.get(hexDigest);
  }

  /** Deletes blobs older than the retention (by file time); returns how many. */
  prune(now: number = Date.now()): number {
    if (this.retention.days === undefined) return 0;
    const cutoff = now - this.retention.days * DAY_MS;
    let removed = 0;
    for (const f of readdirSync(this.dir)) {
      if (!isBlobName(f)) continue;
      const path = join(this.dir, f);
      try {
        if (statSync(path).mtimeMs <= cutoff) {
          unlinkSync(path);
          removed++;
        }
      } catch {
        /* removed meanwhile */
      }
    }
    if (removed) fsyncDir(this.dir);
    return removed;
  }

  /**
   * Copies the blobs named in `names` into `outDir`, for an export (copies, not links: a change
   * to the export must not alter the store). Returns the names that are not in the store
   * (deleted by retention, or never kept).
   */
  exportTo(names: Iterable<string>, outDir: string): { exported: number; absent: string[] } {
    mkdirSync(outDir, { recursive: true });
    let exported = 0;
    const absent: string[] = [];
    for (const name of names) {
      if (!isBlobName(name)) continue;
      const from = join(this.dir, name);
      const to = join(outDir, name);
      try {
        statSync(from);
      } catch {
        absent.push(name);
        continue;
      }
      try {
        copyFileSync(from, to, constants.COPYFILE_FICLONE);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        absent.push(name); // deleted by retention meanwhile
        continue;
      }
      exported++;
    }
    return { exported, absent };
  }
}
