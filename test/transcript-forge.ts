/**
 * What a malicious aggregator can do to its own transcript, for the tamper tests: re-sign an
 * entry with a new body, and renumber, re-chain and re-sign every head of a rewritten list.
 */
import { chainHash, encodeEntry, signEnvelope, signHead, type Entry } from '../crypto/transcript.ts';
import type { TranscriptFile } from '../services/audit/transcript-file.ts';

/** The entry with a new body, signed again by the aggregator's key. */
export function resignEntry(secret: Uint8Array, e: Entry, body: Uint8Array): Entry {
  return { ...signEnvelope(secret, e.kind, e.session, e.sender, body), index: e.index, atMs: e.atMs };
}

/** Replaces the file's entries by `list`: renumbered, re-chained, every head re-signed. */
export function rebuildTranscript(f: TranscriptFile, list: Entry[], secret: Uint8Array): TranscriptFile {
  let head = f.previousHead;
  f.entries = list.map((e, k) => {
    const index = f.from + k;
    const entry = encodeEntry({ ...e, index });
    head = chainHash(head, entry);
    return { entry, head, headSignature: signHead(secret, f.genesis, index, head) };
  });
  return f;
}
