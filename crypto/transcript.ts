/**
 * Auditable protocol transcripts: signed envelopes, a hash-chained log, signed chain heads and
 * receipts (docs/transcripts.md). Pure: no I/O; the aggregator stores entries, the auditor's
 * verifier (services/audit/verify.ts) checks them.
 *
 *   envelope      the sender signs, under domain "transcript/<kind>",
 *                 lengthPrefixed(kind, session, sender, body) — body is the exact serialized
 *                 message, so nothing depends on canonical re-encoding, and the kind and session
 *                 are bound so a message cannot be replayed into another step or query.
 *   entry_k       lengthPrefixed(VERSION, u64 k, u64 atMs, kind, session, sender, body, signature)
 *   h_k           SHA-256(h_{k−1} ‖ SHA-256(entry_k)), h_{−1} = SHA-256(lengthPrefixed(GENESIS, federation, aggregator)),
 *                 so that h_j extends h_i is shown by the entry hashes i+1..j alone (extendHead)
 *   head sig      aggregator, domain "transcript/head", over lengthPrefixed(h_{−1}, u64 k, h_k)
 *   receipt       aggregator, domain "transcript/receipt", over lengthPrefixed(h_{−1}, party,
 *                 session, kind, u64 k, SHA-256(entry_k), h_k, SHA-256(envelope signed bytes))
 */
import { sha256 } from './sha256.ts';
import { abytes, concatBytes, equalBytes, fromUtf8, lengthPrefixed, u64be } from './bytes.ts';
import { signDomain, verifyDomain } from './identity.ts';

export const TRANSCRIPT_VERSION = 'blindsum/transcript/v2';
const GENESIS = 'blindsum/transcript/genesis';
export const HEAD_DOMAIN = 'transcript/head';
export const RECEIPT_DOMAIN = 'transcript/receipt';
export const HASH_LENGTH = 32;
/**
 * Most entry hashes one receipt's extension proof carries (32 bytes each: 2 MiB). The aggregator
 * sends none beyond it (the party then refuses the receipt) and a party checks none beyond it.
 */
export const MAX_EXTENSION = 65_536;

/**
 * Entry kinds, named after the protocol step (Bonawitz's rounds for secure aggregation).
 * Party-signed kinds carry a serialized PartyMessage; aggregator-signed kinds carry the message
 * it sent (StartSession, AdvertisedKeys, SurvivorList, UnmaskRequest) or a JSON record.
 * Later backends add kinds (e.g. "ckks/…"); the verifier refuses unknown kinds.
 */
export const EntryKind = {
  QuerySubmitted: 'query/submitted',
  StartSession: 'secagg/start-session',
  AdvertiseKeys: 'secagg/advertise-keys',
  AdvertisedKeys: 'secagg/advertised-keys',
  ShareKeys: 'secagg/share-keys',
  MaskedInput: 'secagg/masked-input',
  SurvivorList: 'secagg/survivor-list',
  ConsistencyCheck: 'secagg/consistency-check',
  UnmaskRequest: 'secagg/unmask-request',
  Unmasking: 'secagg/unmasking',
  Refusal: 'secagg/refusal',
  Released: 'query/released',
  Failed: 'query/failed',
  BudgetCharge: 'budget/charge',
  BudgetRefund: 'budget/refund',
} as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

export const PARTY_KINDS: ReadonlySet<string> = new Set([
  EntryKind.AdvertiseKeys, EntryKind.ShareKeys, EntryKind.MaskedInput, EntryKind.ConsistencyCheck, EntryKind.Unmasking, EntryKind.Refusal,
]);

export class TranscriptFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TranscriptFormatError';
  }
}

/** A signed message as logged: who sent what, for which session and step. */
export interface Envelope {
  kind: string;
  session: string;
  sender: string;
  body: Uint8Array;
  signature: Uint8Array;
}

export interface Entry extends Envelope {
  index: number;
  atMs: number;
}

export function envelopeDomain(kind: string): string {
  return `transcript/${kind}`;
}

/** The exact bytes a sender signs for an envelope. */
export function envelopeSignedBytes(kind: string, session: string, sender: string, body: Uint8Array): Uint8Array {
  abytes(body, 'body');
  return lengthPrefixed(kind, session, sender, body);
}

export function envelopeDigest(e: Omit<Envelope, 'signature'>): Uint8Array {
  return sha256(envelopeSignedBytes(e.kind, e.session, e.sender, e.body));
}

export function signEnvelope(secretKey: Uint8Array, kind: string, session: string, sender: string, body: Uint8Array): Envelope {
  const signature = signDomain(secretKey, envelopeDomain(kind), envelopeSignedBytes(kind, session, sender, body));
  return { kind, session, sender, body, signature };
}

/** False (never throws) when the signature, key or kind is wrong. */
export function verifyEnvelope(publicKey: Uint8Array, e: Envelope): boolean {
  try {
    return verifyDomain(publicKey, envelopeDomain(e.kind), envelopeSignedBytes(e.kind, e.session, e.sender, e.body), e.signature);
  } catch {
    return false;
  }
}

function safeInteger(n: number, field: string): bigint {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${field}: expected a non-negative safe integer, got ${n}`);
  return BigInt(n);
}

export function encodeEntry(e: Entry): Uint8Array {
  return lengthPrefixed(
    TRANSCRIPT_VERSION, u64be(safeInteger(e.index, 'index')), u64be(safeInteger(e.atMs, 'atMs')), e.kind, e.session, e.sender, e.body, e.signature,
  );
}

/** Splits a lengthPrefixed encoding; throws TranscriptFormatError on truncation or trailing bytes. */
export function splitLengthPrefixed(bytes: Uint8Array, count: number): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [];
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (off + 4 > bytes.length) throw new TranscriptFormatError(`truncated: field ${i} of ${count} has no length`);
    const len = view.getUint32(off, false);
    off += 4;
    if (off + len > bytes.length) throw new TranscriptFormatError(`truncated: field ${i} of ${count} claims ${len} bytes, ${bytes.length - off} left`);
    parts.push(bytes.subarray(off, off + len));
    off += len;
  }
  if (off !== bytes.length) throw new TranscriptFormatError(`${bytes.length - off} trailing bytes after ${count} fields`);
  return parts;
}

function readU64(b: Uint8Array, field: string): number {
  if (b.length !== 8) throw new TranscriptFormatError(`${field}: expected 8 bytes`);
  const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, false);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new TranscriptFormatError(`${field}: out of range`);
  return Number(v);
}

function readText(b: Uint8Array, field: string): string {
  try {
    return fromUtf8(b);
  } catch {
    throw new TranscriptFormatError(`${field}: not UTF-8`);
  }
}

export function decodeEntry(bytes: Uint8Array): Entry {
  abytes(bytes, 'entry');
  const [version, index, atMs, kind, session, sender, body, signature] = splitLengthPrefixed(bytes, 8) as [
    Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array,
  ];
  if (readText(version, 'version') !== TRANSCRIPT_VERSION) throw new TranscriptFormatError(`unknown entry version (expected ${TRANSCRIPT_VERSION})`);
  return {
    index: readU64(index, 'index'), atMs: readU64(atMs, 'atMs'), kind: readText(kind, 'kind'), session: readText(session, 'session'),
    sender: readText(sender, 'sender'), body: body.slice(), signature: signature.slice(),
  };
}

/** h_{−1}: binds the chain to one federation and one aggregator identity. */
export function genesisHead(federation: string, aggregatorId: string): Uint8Array {
  return sha256(lengthPrefixed(GENESIS, federation, aggregatorId));
}

/** One step of the chain from an entry's hash: h_k = SHA-256(h_{k−1} ‖ SHA-256(entry_k)). */
export function chainStep(previousHead: Uint8Array, entryDigest: Uint8Array): Uint8Array {
  abytes(previousHead, 'previousHead', HASH_LENGTH);
  abytes(entryDigest, 'entryHash', HASH_LENGTH);
  return sha256(concatBytes(previousHead, entryDigest));
}

export function chainHash(previousHead: Uint8Array, entryBytes: Uint8Array): Uint8Array {
  return chainStep(previousHead, entryHash(entryBytes));
}

export function entryHash(entryBytes: Uint8Array): Uint8Array {
  return sha256(entryBytes);
}

/**
 * The head reached from `head` by the entry hashes of the entries after it (an extension proof):
 * h_j from h_i and SHA-256(entry_{i+1}) … SHA-256(entry_j). Throws on a hash of the wrong length.
 */
export function extendHead(head: Uint8Array, entryHashes: readonly Uint8Array[]): Uint8Array {
  let h = head;
  for (const e of entryHashes) h = chainStep(h, e);
  return h.slice();
}

function headBytes(genesis: Uint8Array, index: number, head: Uint8Array): Uint8Array {
  return lengthPrefixed(genesis, u64be(safeInteger(index, 'index')), head);
}

export function signHead(secretKey: Uint8Array, genesis: Uint8Array, index: number, head: Uint8Array): Uint8Array {
  return signDomain(secretKey, HEAD_DOMAIN, headBytes(genesis, index, head));
}

export function verifyHead(publicKey: Uint8Array, genesis: Uint8Array, index: number, head: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verifyDomain(publicKey, HEAD_DOMAIN, headBytes(genesis, index, head), signature);
  } catch {
    return false;
  }
}

/** What a party keeps for each envelope the aggregator accepted. */
export interface Receipt {
  party: string;
  session: string;
  kind: string;
  index: number;
  entryHash: Uint8Array;
  head: Uint8Array;
  envelopeDigest: Uint8Array;
  signature: Uint8Array;
}

function receiptBytes(genesis: Uint8Array, r: Omit<Receipt, 'signature'>): Uint8Array {
  return lengthPrefixed(genesis, r.party, r.session, r.kind, u64be(safeInteger(r.index, 'index')), r.entryHash, r.head, r.envelopeDigest);
}

export function signReceipt(secretKey: Uint8Array, genesis: Uint8Array, r: Omit<Receipt, 'signature'>): Receipt {
  return { ...r, signature: signDomain(secretKey, RECEIPT_DOMAIN, receiptBytes(genesis, r)) };
}

export function verifyReceipt(publicKey: Uint8Array, genesis: Uint8Array, r: Receipt): boolean {
  try {
    return verifyDomain(publicKey, RECEIPT_DOMAIN, receiptBytes(genesis, r), r.signature);
  } catch {
    return false;
  }
}

/** One appended entry: its exact bytes, the chain head after it and the aggregator's signature. */
export interface ChainLink {
  index: number;
  entry: Uint8Array;
  entryHash: Uint8Array;
  head: Uint8Array;
  headSignature: Uint8Array;
}

/**
 * The aggregator's append-only chain in memory (the durable copy lives in the service). Signs
 * the head after every entry, so any prefix of the log is attested by the aggregator.
 */
export class TranscriptChain {
  readonly genesis: Uint8Array;
  readonly #secretKey: Uint8Array;
  #next: number;
  #head: Uint8Array;

  constructor(secretKey: Uint8Array, genesis: Uint8Array, resume?: { nextIndex: number; head: Uint8Array }) {
    abytes(secretKey, 'secretKey', 32);
    abytes(genesis, 'genesis', HASH_LENGTH);
    this.#secretKey = secretKey;
    this.genesis = genesis;
    this.#next = resume?.nextIndex ?? 0;
    this.#head = resume ? abytes(resume.head, 'resume.head', HASH_LENGTH).slice() : genesis.slice();
  }

  get nextIndex(): number {
    return this.#next;
  }

  get head(): Uint8Array {
    return this.#head.slice();
  }

  /** Builds the next link without committing it (the caller stores it durably, then commits). */
  prepare(envelope: Envelope, atMs: number): ChainLink {
    const index = this.#next;
    const entry = encodeEntry({ ...envelope, index, atMs });
    const head = chainHash(this.#head, entry);
    return { index, entry, entryHash: entryHash(entry), head, headSignature: signHead(this.#secretKey, this.genesis, index, head) };
  }

  commit(link: ChainLink): void {
    if (link.index !== this.#next) throw new Error(`transcript: link ${link.index} committed out of order (next is ${this.#next})`);
    if (!equalBytes(chainHash(this.#head, link.entry), link.head)) throw new Error('transcript: link does not extend the current head');
    this.#head = link.head.slice();
    this.#next++;
  }

  /** Signs an aggregator-originated envelope. */
  signAsAggregator(kind: string, session: string, sender: string, body: Uint8Array): Envelope {
    return signEnvelope(this.#secretKey, kind, session, sender, body);
  }

  receipt(party: string, link: ChainLink, envelope: Envelope): Receipt {
    return signReceipt(this.#secretKey, this.genesis, {
      party, session: envelope.session, kind: envelope.kind, index: link.index, entryHash: link.entryHash, head: link.head, envelopeDigest: envelopeDigest(envelope),
    });
  }
}
