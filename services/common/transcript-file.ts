/**
 * File formats of the audit trail (docs/transcripts.md):
 *   - the exported transcript: JSON, one contiguous slice of the aggregator's chain, each entry
 *     as its exact bytes (base64) with the chain head after it and the aggregator's head signature;
 *   - a party's receipts: JSON lines, one signed receipt per envelope the aggregator accepted.
 */
import { fromBase64, fromHex, toBase64, toHex } from '../../crypto/bytes.ts';
import { HASH_LENGTH, TranscriptFormatError, decodeEntry, resolveBlob, type Entry, type Receipt } from '../../crypto/transcript.ts';
import type { BlobSource } from './blobs.ts';

export const TRANSCRIPT_FORMAT = 'blindsum-transcript/v1';
export const RECEIPT_FORMAT = 'blindsum-receipt/v1';

export interface TranscriptFileEntry {
  entry: Uint8Array;
  head: Uint8Array;
  headSignature: Uint8Array;
}

export interface TranscriptSelection {
  /** Query ids the export was asked for: each must be complete (released or failed) in the file. */
  queries?: string[];
  fromMs?: number;
  toMs?: number;
}

export interface TranscriptFile {
  federation: string;
  aggregatorId: string;
  genesis: Uint8Array;
  /** Index of the first entry in the file. */
  from: number;
  /** Head before the first entry (the genesis head when from = 0) and its signature. */
  previousHead: Uint8Array;
  previousHeadSignature: Uint8Array;
  /** Number of entries in the aggregator's whole log when exported. */
  logLength: number;
  selection: TranscriptSelection;
  exportedAtMs: number;
  entries: TranscriptFileEntry[];
  /**
   * Where the bodies of entries logged by digest are (not part of the JSON: the aggregator's blob
   * store, or the FILE.blobs directory an export writes next to the file). Absent: none.
   */
  blobs?: BlobSource;
}

const b64 = (b: Uint8Array): string => toBase64(b);
const unb64 = (s: unknown, field: string): Uint8Array => {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new TranscriptFormatError(`${field}: expected base64`);
  return fromBase64(s, field);
};
const hex = (s: unknown, field: string, length?: number): Uint8Array => {
  let b: Uint8Array;
  try {
    b = fromHex(String(s), field);
  } catch {
    throw new TranscriptFormatError(`${field}: expected hex`);
  }
  if (length !== undefined && b.length !== length) throw new TranscriptFormatError(`${field}: expected ${length} bytes`);
  return b;
};
const int = (n: unknown, field: string): number => {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new TranscriptFormatError(`${field}: expected a non-negative integer`);
  return n;
};
const text = (s: unknown, field: string): string => {
  if (typeof s !== 'string') throw new TranscriptFormatError(`${field}: expected a string`);
  return s;
};

/**
 * The file's entries, decoded, with the body of every entry logged by digest filled in from its
 * blob when the blob is there and matches (else left `blobAbsent`: the verifier reports which).
 * Throws TranscriptFormatError on an entry that does not decode.
 */
export function exportedEntries(f: TranscriptFile, blobs: BlobSource | undefined = f.blobs): Entry[] {
  return f.entries.map((l) => {
    const e = decodeEntry(l.entry);
    if (e.bodyDigest) {
      const blob = blobs?.get(toHex(e.bodyDigest));
      if (blob) resolveBlob(e, blob);
    }
    return e;
  });
}

export function serializeTranscript(f: TranscriptFile): string {
  return JSON.stringify(
    {
      format: TRANSCRIPT_FORMAT, federation: f.federation, aggregatorId: f.aggregatorId, genesis: toHex(f.genesis), from: f.from,
      previousHead: toHex(f.previousHead), previousHeadSignature: toHex(f.previousHeadSignature), logLength: f.logLength,
      selection: f.selection, exportedAtMs: f.exportedAtMs,
      entries: f.entries.map((e) => ({ entry: b64(e.entry), head: toHex(e.head), headSignature: toHex(e.headSignature) })),
    },
    null,
    1,
  ) + '\n';
}

export function parseTranscript(textIn: string): TranscriptFile {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(textIn) as Record<string, unknown>;
  } catch (e) {
    throw new TranscriptFormatError(`transcript file is not JSON: ${(e as Error).message}`);
  }
  if (typeof o !== 'object' || o === null || o['format'] !== TRANSCRIPT_FORMAT) throw new TranscriptFormatError(`not a ${TRANSCRIPT_FORMAT} file (format field)`);
  if (!Array.isArray(o['entries'])) throw new TranscriptFormatError('entries: expected an array');
  const sel = (o['selection'] ?? {}) as Record<string, unknown>;
  const selection: TranscriptSelection = {};
  if (Array.isArray(sel['queries'])) selection.queries = sel['queries'].map((q, i) => text(q, `selection.queries[${i}]`));
  if (sel['fromMs'] !== undefined) selection.fromMs = int(sel['fromMs'], 'selection.fromMs');
  if (sel['toMs'] !== undefined) selection.toMs = int(sel['toMs'], 'selection.toMs');
  return {
    federation: text(o['federation'], 'federation'), aggregatorId: text(o['aggregatorId'], 'aggregatorId'),
    genesis: hex(o['genesis'], 'genesis', HASH_LENGTH), from: int(o['from'], 'from'),
    previousHead: hex(o['previousHead'], 'previousHead', HASH_LENGTH), previousHeadSignature: hex(o['previousHeadSignature'], 'previousHeadSignature'),
    logLength: int(o['logLength'], 'logLength'), selection, exportedAtMs: int(o['exportedAtMs'], 'exportedAtMs'),
    entries: (o['entries'] as unknown[]).map((e, i) => {
      const r = (e ?? {}) as Record<string, unknown>;
      return { entry: unb64(r['entry'], `entries[${i}].entry`), head: hex(r['head'], `entries[${i}].head`), headSignature: hex(r['headSignature'], `entries[${i}].headSignature`) };
    }),
  };
}

/**
 * A receipt as a party's book holds it: with the extension proof that came with it (the entry
 * hashes from `start` to the receipt's entry), when the party held an earlier head.
 */
export interface HeldReceipt extends Receipt {
  extension?: { start: number; hashes: Uint8Array[] };
}

export function serializeReceipt(r: Receipt, extension?: { start: number; hashes: readonly Uint8Array[] }): string {
  return JSON.stringify({
    format: RECEIPT_FORMAT, party: r.party, session: r.session, kind: r.kind, index: r.index,
    entryHash: toHex(r.entryHash), head: toHex(r.head), envelopeDigest: toHex(r.envelopeDigest), signature: toHex(r.signature),
    ...(extension ? { extensionStart: extension.start, extension: extension.hashes.map(toHex) } : {}),
  });
}

/** Parses a receipts file (JSON lines); `source` names the file in errors. */
export function parseReceipts(textIn: string, source: string): HeldReceipt[] {
  const out: HeldReceipt[] = [];
  textIn.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${source}:${i + 1}`;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new TranscriptFormatError(`${where}: not JSON`);
    }
    if (o['format'] !== RECEIPT_FORMAT) throw new TranscriptFormatError(`${where}: not a ${RECEIPT_FORMAT} line`);
    out.push({
      party: text(o['party'], `${where} party`), session: text(o['session'], `${where} session`), kind: text(o['kind'], `${where} kind`),
      index: int(o['index'], `${where} index`), entryHash: hex(o['entryHash'], `${where} entryHash`, HASH_LENGTH),
      head: hex(o['head'], `${where} head`, HASH_LENGTH), envelopeDigest: hex(o['envelopeDigest'], `${where} envelopeDigest`, HASH_LENGTH),
      signature: hex(o['signature'], `${where} signature`),
      ...(o['extension'] !== undefined
        ? {
            extension: {
              start: int(o['extensionStart'], `${where} extensionStart`),
              hashes: (Array.isArray(o['extension']) ? o['extension'] : [null]).map((h: unknown, k) => hex(h, `${where} extension[${k}]`, HASH_LENGTH)),
            },
          }
        : {}),
    });
  });
  return out;
}
