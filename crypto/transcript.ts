/**
 * Auditable protocol transcripts: signed envelopes, a hash-chained log, signed chain heads and
 * receipts (docs/transcripts.md). Pure: no I/O; the aggregator stores entries, the auditor's
 * verifier (services/audit/verify.ts) checks them.
 *
 *   envelope      the sender signs, under domain "transcript/<kind>",
 *                 lengthPrefixed(ENVELOPE, kind, session, sender, B(body)) with
 *                 B(body) = SHA-256(lengthPrefixed(BLOB_DOMAIN) ‖ body) — body is the exact
 *                 serialized message, so nothing depends on canonical re-encoding, and the kind
 *                 and session are bound so a message cannot be replayed into another step or
 *                 query. Signing the body's digest lets an entry hold B(body) instead of the body
 *                 (a large payload kept as a blob named by it) and still have its signature checked.
 *   entry_k       lengthPrefixed(VERSION, u64 k, u64 atMs, kind, session, sender, body, signature), or
 *                 lengthPrefixed(DIGEST_VERSION, u64 k, u64 atMs, kind, session, sender, B(body), signature)
 *                 for a body logged by digest
 *   h_k           SHA-256(h_{k−1} ‖ SHA-256(entry_k)), h_{−1} = SHA-256(lengthPrefixed(GENESIS, federation, aggregator)),
 *                 so that h_j extends h_i is shown by the entry hashes i+1..j alone (extendHead)
 *   head sig      aggregator, domain "transcript/head", over lengthPrefixed(h_{−1}, u64 k, h_k)
 *   receipt       aggregator, domain "transcript/receipt", over lengthPrefixed(h_{−1}, party,
 *                 session, kind, u64 k, SHA-256(entry_k), h_k, SHA-256(envelope signed bytes))
 */
import { sha256, sha256Hasher } from './sha256.ts';
import { abytes, concatBytes, equalBytes, fromUtf8, lengthPrefixed, u64be } from './bytes.ts';
import { signDomain, verifyDomain } from './identity.ts';

export const TRANSCRIPT_VERSION = 'blindsum/transcript/v3';
/** Version tag of an entry whose body field holds B(body) (32 bytes) instead of the body. */
export const TRANSCRIPT_DIGEST_VERSION = 'blindsum/transcript/v3/body-digest';
/** Domain of B(body), the digest a signature covers and a blob is named by. */
export const BLOB_DOMAIN = 'blindsum/transcript/blob';
const ENVELOPE_VERSION = 'blindsum/envelope/v3';
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
  /**
   * Set when the entry logs its body by digest: B(body). `body` then holds the blob's bytes once
   * they were checked against it (`resolveBlob`), and is empty while `blobAbsent`.
   */
  bodyDigest?: Uint8Array;
  /** The entry logs its body by digest and the blob was not available: `body` is empty. */
  blobAbsent?: boolean;
}

/** An envelope that may be logged by digest (an Entry, or an Envelope with its body at hand). */
type DigestedEnvelope = Omit<Envelope, 'signature'> & { bodyDigest?: Uint8Array; blobAbsent?: boolean };

/** B(body) = SHA-256(lengthPrefixed(BLOB_DOMAIN) ‖ body): what a signature covers for the body, and a blob's name. */
export function blobDigest(body: Uint8Array): Uint8Array {
  abytes(body, 'body');
  return sha256Hasher().update(lengthPrefixed(BLOB_DOMAIN)).update(body).digest();
}

/** B(body) of an envelope or entry: from its body, or the logged digest while the blob is absent. */
export function envelopeBodyDigest(e: DigestedEnvelope): Uint8Array {
  if (e.blobAbsent) {
    if (!(e.bodyDigest instanceof Uint8Array) || e.bodyDigest.length !== HASH_LENGTH) throw new TranscriptFormatError('an entry whose blob is absent has no 32-byte body digest');
    return e.bodyDigest;
  }
  return blobDigest(e.body);
}

/**
 * Checks a blob against the digest an entry logs and, if it matches, puts its bytes into the
 * entry as the body. Returns false (the entry unchanged) when the bytes are not the logged body.
 */
export function resolveBlob(e: Entry, blob: Uint8Array): boolean {
  if (!e.bodyDigest || !equalBytes(blobDigest(blob), e.bodyDigest)) return false;
  e.body = blob;
  e.blobAbsent = false;
  return true;
}

export function envelopeDomain(kind: string): string {
  return `transcript/${kind}`;
}

/** The exact bytes a sender signs for an envelope, from the body's digest B(body). */
export function envelopeSignedBytes(kind: string, session: string, sender: string, bodyDigest: Uint8Array): Uint8Array {
  abytes(bodyDigest, 'bodyDigest', HASH_LENGTH);
  return lengthPrefixed(ENVELOPE_VERSION, kind, session, sender, bodyDigest);
}

/** SHA-256 of the envelope's signed bytes (receipts and the parties' sent logs name envelopes by it). */
export function envelopeDigest(e: DigestedEnvelope): Uint8Array {
  return sha256(envelopeSignedBytes(e.kind, e.session, e.sender, envelopeBodyDigest(e)));
}

export function signEnvelope(secretKey: Uint8Array, kind: string, session: string, sender: string, body: Uint8Array): Envelope {
  const signature = signDomain(secretKey, envelopeDomain(kind), envelopeSignedBytes(kind, session, sender, blobDigest(body)));
  return { kind, session, sender, body, signature };
}

/** False (never throws) when the signature, key or kind is wrong. Needs no body while the blob is absent. */
export function verifyEnvelope(publicKey: Uint8Array, e: Envelope & DigestedEnvelope): boolean {
  try {
    return verifyDomain(publicKey, envelopeDomain(e.kind), envelopeSignedBytes(e.kind, e.session, e.sender, envelopeBodyDigest(e)), e.signature);
  } catch {
    return false;
  }
}

function safeInteger(n: number, field: string): bigint {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${field}: expected a non-negative safe integer, got ${n}`);
  return BigInt(n);
}

/**
 * The entry's bytes. An entry with `bodyDigest` set logs B(body) instead of the body: recomputed
 * from the body when it is at hand (so the digest always names the body the entry holds), the
 * logged digest while the blob is absent.
 */
export function encodeEntry(e: Entry): Uint8Array {
  const byDigest = e.bodyDigest !== undefined || e.blobAbsent === true;
  return lengthPrefixed(
    byDigest ? TRANSCRIPT_DIGEST_VERSION : TRANSCRIPT_VERSION, u64be(safeInteger(e.index, 'index')), u64be(safeInteger(e.atMs, 'atMs')),
    e.kind, e.session, e.sender, byDigest ? envelopeBodyDigest(e) : e.body, e.signature,
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
  const v = readText(version, 'version');
  if (v !== TRANSCRIPT_VERSION && v !== TRANSCRIPT_DIGEST_VERSION) {
    throw new TranscriptFormatError(`unknown entry version (expected ${TRANSCRIPT_VERSION}${v === 'blindsum/transcript/v2' ? '; v2 entries are signed under the v2 envelope rule: verify them with a blindsum release from before transcript v3' : ''})`);
  }
  const common = {
    index: readU64(index, 'index'), atMs: readU64(atMs, 'atMs'), kind: readText(kind, 'kind'), session: readText(session, 'session'),
    sender: readText(sender, 'sender'), signature: signature.slice(),
  };
  if (v === TRANSCRIPT_VERSION) return { ...common, body: body.slice() };
  if (body.length !== HASH_LENGTH) throw new TranscriptFormatError(`body digest: expected ${HASH_LENGTH} bytes, got ${body.length}`);
  return { ...common, body: new Uint8Array(0), bodyDigest: body.slice(), blobAbsent: true };
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

  /**
   * Builds the next link without committing it (the caller stores it durably, then commits).
   * With `bodyDigest` (B(envelope.body), which the caller keeps as a blob) the entry logs the
   * body by digest.
   */
  prepare(envelope: Envelope, atMs: number, bodyDigest?: Uint8Array): ChainLink {
    const index = this.#next;
    const entry = encodeEntry(bodyDigest ? { ...envelope, index, atMs, body: new Uint8Array(0), bodyDigest, blobAbsent: true } : { kind: envelope.kind, session: envelope.session, sender: envelope.sender, body: envelope.body, signature: envelope.signature, index, atMs });
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

  /** The receipt for a party's envelope at `link`; `bodyDigest` (B(body), if the caller has it) saves hashing the body again. */
  receipt(party: string, link: ChainLink, envelope: Envelope, bodyDigest?: Uint8Array): Receipt {
    const digested = bodyDigest ? { kind: envelope.kind, session: envelope.session, sender: envelope.sender, body: new Uint8Array(0), bodyDigest, blobAbsent: true } : envelope;
    return signReceipt(this.#secretKey, this.genesis, {
      party, session: envelope.session, kind: envelope.kind, index: link.index, entryHash: link.entryHash, head: link.head, envelopeDigest: envelopeDigest(digested),
    });
  }
}
