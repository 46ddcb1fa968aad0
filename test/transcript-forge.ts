/**
 * What a malicious aggregator can do to its own transcript, for the tamper tests: re-sign an
 * entry with a new body, and renumber, re-chain and re-sign every head of a rewritten list
 * (rewriting its blob store too: an entry logged by digest names the body it now holds).
 */
import { toHex } from '../crypto/bytes.ts';
import { blobDigest, chainHash, encodeEntry, signEnvelope, signHead, type Entry } from '../crypto/transcript.ts';
import { memoryBlobs } from '../services/common/blobs.ts';
import type { TranscriptFile } from '../services/common/transcript-file.ts';

/** The entry with a new body, signed again by the aggregator's key (logged as the original was: inline or by digest). */
export function resignEntry(secret: Uint8Array, e: Entry, body: Uint8Array): Entry {
  return { ...e, ...signEnvelope(secret, e.kind, e.session, e.sender, body), index: e.index, atMs: e.atMs, ...(e.bodyDigest ? { blobAbsent: false } : {}) };
}

/**
 * Replaces the file's entries by `list`: renumbered, re-chained, every head re-signed. The body
 * of every entry logged by digest whose body is at hand is put in the file's blobs under its
 * (new) digest, as an aggregator rewriting its log would rewrite its blob store.
 */
export function rebuildTranscript(f: TranscriptFile, list: Entry[], secret: Uint8Array): TranscriptFile {
  let head = f.previousHead;
  const rewritten = new Map<string, Uint8Array>();
  f.entries = list.map((e, k) => {
    const index = f.from + k;
    if (e.bodyDigest && !e.blobAbsent) rewritten.set(toHex(blobDigest(e.body)), e.body);
    const entry = encodeEntry({ ...e, index });
    head = chainHash(head, entry);
    return { entry, head, headSignature: signHead(secret, f.genesis, index, head) };
  });
  if (rewritten.size) f.blobs = memoryBlobs(rewritten, f.blobs);
  return f;
}
