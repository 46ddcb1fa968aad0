/**
 * Large transcript payloads kept as blobs (docs/transcripts.md, "Blobs"): which entry kinds are
 * logged by digest, and reading a directory of blobs named by their hex digest
 * B(body) = SHA-256(lengthPrefixed("blindsum/transcript/blob") ‖ body) (crypto/transcript.ts).
 * The aggregator writes them (services/aggregator/blob-store.ts), `blindsum audit export` copies
 * the ones an export names next to it, and the verifier reads them back and checks each against
 * the digest its entry logs.
 */
import { nodeFs } from './node-fs.ts';
import { EntryKind } from '../../crypto/transcript.ts';
import { CkksEntryKind } from './ckks-kinds.ts';

/**
 * The kinds whose bodies grow with the query's vector: logged by digest, the bytes kept as a
 * blob. Every other kind is logged inline (the verifier refuses a digest for them).
 */
export const BLOB_KINDS: ReadonlySet<string> = new Set([EntryKind.MaskedInput, CkksEntryKind.EncryptedInput, CkksEntryKind.PCKSShare]);

/** A release (`query/released`: exact sums, entry names, result) at least this large is logged by digest too. */
export const RELEASE_BLOB_BYTES = 64 * 1024;

/** The kinds the verifier accepts by digest: the blob kinds, and large releases. */
export const DIGEST_KINDS: ReadonlySet<string> = new Set([...BLOB_KINDS, EntryKind.Released]);

/** Whether the aggregator logs a body of `kind` and `length` bytes by digest. */
export function logsByDigest(kind: string, length: number): boolean {
  return BLOB_KINDS.has(kind) || (kind === EntryKind.Released && length >= RELEASE_BLOB_BYTES);
}

/** Largest blob the verifier reads (a body larger than this was never accepted by the gateway). */
export const MAX_BLOB_BYTES = 1 << 30;

const NAME = /^[0-9a-f]{64}$/;

export function isBlobName(name: string): boolean {
  return NAME.test(name);
}

/** Where the verifier gets blobs: by hex digest, undefined when absent. */
export interface BlobSource {
  get(hexDigest: string): Uint8Array | undefined;
}

/** The blobs of a directory (regular files named by hex digest; read on Node only); a missing directory holds none, anything else there is ignored. */
export function directoryBlobs(dir: string): BlobSource & { dir: string } {
  return {
    dir,
    get(hexDigest: string): Uint8Array | undefined {
      if (!isBlobName(hexDigest)) return undefined;
      const path = `${dir.replace(/\/+$/, '')}/${hexDigest}`;
      const fs = nodeFs();
      try {
        // Regular files only (a link to a device or a FIFO must not hang the verifier), bounded.
        const st = fs.lstatSync(path);
        if (!st.isFile() || st.size > MAX_BLOB_BYTES) return undefined;
        return new Uint8Array(fs.readFileSync(path));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
        throw e;
      }
    },
  };
}

/** Blobs held in memory (tests, the bench, a rewritten transcript), consulted before `fallback`. */
export function memoryBlobs(blobs: ReadonlyMap<string, Uint8Array>, fallback?: BlobSource): BlobSource {
  return { get: (h) => blobs.get(h) ?? fallback?.get(h) };
}
