/**
 * Shared definitions of pairwise-mask secure aggregation (Bonawitz et al., "Practical Secure
 * Aggregation for Privacy-Preserving Machine Learning", CCS 2017): stages, messages, errors,
 * parameter validation, and the exact bytes that are signed and bound into every KDF `info`.
 * The client is in client.ts, the server in server.ts.
 */
import { abytes, lengthPrefixed } from '../bytes.ts';
import { AEAD_OVERHEAD } from '../aead.ts';
import { X25519_KEY_LENGTH } from '../keyagreement.ts';
import { SHAMIR_MAX_SHARES } from '../shamir.ts';
import { ringFromBytes, type RingBits } from '../ring.ts';

export type PartyId = string;

/** Bonawitz's rounds, then the two end states. */
export const SecAggStage = {
  AdvertiseKeys: 'AdvertiseKeys',
  ShareKeys: 'ShareKeys',
  MaskedInputCollection: 'MaskedInputCollection',
  ConsistencyCheck: 'ConsistencyCheck',
  Unmasking: 'Unmasking',
  Done: 'Done',
  Aborted: 'Aborted',
} as const;
export type SecAggStage = (typeof SecAggStage)[keyof typeof SecAggStage];

export type SecAggErrorCode =
  | 'wrong-stage'
  | 'below-threshold'
  | 'bad-signature'
  | 'both-shares-requested'
  | 'bad-message'
  | 'bad-ciphertext'
  | 'bad-share';

/** A protocol violation or an unrecoverable session state; `party` names the culprit when known. */
export class SecAggError extends Error {
  readonly code: SecAggErrorCode;
  readonly party: PartyId | undefined;
  constructor(code: SecAggErrorCode, message: string, party?: PartyId) {
    super(`secagg ${code}: ${message}`);
    this.name = 'SecAggError';
    this.code = code;
    this.party = party;
  }
}

export interface SecAggParams {
  /** The query id; bound into every KDF info and signature. */
  sessionId: string;
  /** Roster ids allowed in this session, sorted ascending; the order defines v < u. */
  parties: PartyId[];
  /** t of n, 2 ≤ t ≤ n and 2t > n (see makeSession). */
  threshold: number;
  ringBits: RingBits;
  /** Number of ring elements (a 64-bit element counts once). */
  vectorLength: number;
}

export interface AdvertiseKeysMsg { party: PartyId; cPk: Uint8Array; sPk: Uint8Array; signature: Uint8Array }
export interface EncryptedShare { from: PartyId; to: PartyId; ciphertext: Uint8Array }
export interface ShareKeysMsg { party: PartyId; shares: EncryptedShare[] }
export interface MaskedInputMsg { party: PartyId; masked: Uint32Array }
/** A chunk of y_u: its ring elements offset … offset + k − 1 (u32 words, 64-bit: lo, hi pairs). */
export interface MaskedChunkMsg { party: PartyId; offset: number; masked: Uint32Array }

/**
 * A chunk from the wire (little-endian bytes at an element offset) as the server takes it; the
 * bytes must be whole ring elements and the offset within the vector.
 */
export function maskedChunk(party: PartyId, masked: Uint8Array, offset: bigint, req: { vectorLength: number; ringBits: RingBits }): MaskedChunkMsg {
  const elementBytes = req.ringBits / 8;
  if (masked.length === 0 || masked.length % elementBytes !== 0 || offset > BigInt(req.vectorLength)) {
    throw new SecAggError('bad-message', `masked chunk of ${party}: ${masked.length} bytes at element ${offset} is not a run of whole Z_2^${req.ringBits} elements within the vector`, party);
  }
  return { party, offset: Number(offset), masked: ringFromBytes(masked, masked.length / elementBytes, req.ringBits) };
}
/** Signature over (sessionId, survivors sorted). */
export interface ConsistencyCheckMsg { party: PartyId; signature: Uint8Array }
export interface UnmaskRequest { survivors: PartyId[]; dropped: PartyId[]; signatures: ConsistencyCheckMsg[] }
export interface UnmaskingMsg {
  party: PartyId;
  selfMaskShares: { of: PartyId; share: Uint8Array }[];
  maskKeyShares: { of: PartyId; share: Uint8Array }[];
}

export const ADVERTISE_KEYS_DOMAIN = 'secagg/advertise-keys';
export const CONSISTENCY_CHECK_DOMAIN = 'secagg/consistency-check';
/** Each Shamir share is as long as the secret: 32-byte s_sk and 32-byte b_u. */
export const SHARE_LENGTH = 32;
/** Plaintext of an encrypted share: s_sk share ‖ b share. */
export const SHARE_PLAINTEXT_LENGTH = 2 * SHARE_LENGTH;
export const SHARE_CIPHERTEXT_LENGTH = SHARE_PLAINTEXT_LENGTH + AEAD_OVERHEAD;
export const KEY_LENGTH = X25519_KEY_LENGTH;
const MAX_VECTOR_WORDS = 2 ** 30;

/** Validated, frozen copy of the parameters plus the index of each party. */
export interface Session {
  readonly params: Readonly<SecAggParams>;
  readonly index: ReadonlyMap<PartyId, number>;
  /** u32 words of one masked vector. */
  readonly words: number;
  readonly roster: ReadonlyMap<PartyId, Uint8Array>;
}

export function makeSession(params: SecAggParams, rosterPublicKeys: ReadonlyMap<PartyId, Uint8Array>): Session {
  if (typeof params !== 'object' || params === null) throw new TypeError('params: expected SecAggParams');
  const { sessionId, parties, threshold, ringBits, vectorLength } = params;
  if (typeof sessionId !== 'string' || sessionId.length === 0) throw new TypeError('params.sessionId: expected a non-empty string (the query id)');
  if (!Array.isArray(parties) || parties.some((p) => typeof p !== 'string' || p.length === 0)) {
    throw new TypeError('params.parties: expected an array of non-empty party id strings');
  }
  if (parties.length < 2 || parties.length > SHAMIR_MAX_SHARES) {
    throw new RangeError(`params.parties: expected 2..${SHAMIR_MAX_SHARES} parties (Shamir over GF(2^8)), got ${parties.length}`);
  }
  for (let i = 1; i < parties.length; i++) {
    if (!(parties[i - 1]! < parties[i]!)) {
      throw new RangeError(`params.parties: must be sorted ascending without duplicates (at ${JSON.stringify(parties[i])}); pass [...ids].sort()`);
    }
  }
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > parties.length) {
    throw new RangeError(`params.threshold: expected an integer in 2..${parties.length}, got ${threshold}`);
  }
  // Bonawitz's bound for an active server: with 2t ≤ n, two disjoint groups of t parties could
  // each sign a different survivor list, and the server would get one party's self-mask shares
  // from one group and its mask-key shares from the other.
  if (2 * threshold <= parties.length) {
    throw new RangeError(`params.threshold: t = ${threshold} must exceed half of the ${parties.length} parties (2t > n), or a server showing two groups different survivor sets could unmask one input`);
  }
  if (ringBits !== 32 && ringBits !== 64) throw new RangeError(`params.ringBits: expected 32 or 64, got ${ringBits}`);
  const words = vectorLength * (ringBits / 32);
  if (!Number.isSafeInteger(vectorLength) || vectorLength < 1 || words > MAX_VECTOR_WORDS) {
    throw new RangeError(`params.vectorLength: expected an integer in 1..${MAX_VECTOR_WORDS / (ringBits / 32)}, got ${vectorLength}`);
  }
  if (!(rosterPublicKeys instanceof Map)) throw new TypeError('rosterPublicKeys: expected a Map from party id to Ed25519 public key');
  const roster = new Map<PartyId, Uint8Array>();
  const index = new Map<PartyId, number>();
  parties.forEach((p, i) => {
    const pk = rosterPublicKeys.get(p);
    if (pk === undefined) throw new RangeError(`rosterPublicKeys: no Ed25519 public key for party ${JSON.stringify(p)}`);
    abytes(pk, `rosterPublicKeys[${JSON.stringify(p)}]`, 32);
    roster.set(p, pk.slice());
    index.set(p, i);
  });
  const frozen = Object.freeze({ sessionId, parties: Object.freeze([...parties]) as PartyId[], threshold, ringBits, vectorLength });
  return { params: frozen, index, words, roster };
}

/** Shamir x-coordinate of a party: 1 + its index in params.parties. */
export function shareX(session: Session, party: PartyId): number {
  return 1 + session.index.get(party)!;
}

/** The pair (u, v) in roster order. */
function ordered(session: Session, u: PartyId, v: PartyId): [PartyId, PartyId] {
  return session.index.get(u)! < session.index.get(v)! ? [u, v] : [v, u];
}

export function shareEncryptionInfo(session: Session, u: PartyId, v: PartyId): Uint8Array {
  const [a, b] = ordered(session, u, v);
  return lengthPrefixed('share-encryption', session.params.sessionId, a, b);
}

/** AAD of the share sent from u to v (direction matters). */
export function shareAad(session: Session, from: PartyId, to: PartyId): Uint8Array {
  return lengthPrefixed('secagg/share', session.params.sessionId, from, to);
}

export function pairwiseMaskInfo(session: Session, u: PartyId, v: PartyId): Uint8Array {
  const [a, b] = ordered(session, u, v);
  return lengthPrefixed('pairwise-mask', session.params.sessionId, a, b);
}

export function advertiseKeysBody(session: Session, party: PartyId, cPk: Uint8Array, sPk: Uint8Array): Uint8Array {
  return lengthPrefixed(session.params.sessionId, party, cPk, sPk);
}

export function consistencyCheckBody(session: Session, survivorsSorted: readonly PartyId[]): Uint8Array {
  return lengthPrefixed(session.params.sessionId, ...survivorsSorted);
}

/** Sorts party ids in roster order (equal to string order, since parties are sorted). */
export function sortParties(session: Session, ids: Iterable<PartyId>): PartyId[] {
  return [...ids].sort((a, b) => session.index.get(a)! - session.index.get(b)!);
}

/**
 * Validates a list of party ids: strings, members of `allowed`, no duplicates. Returns them
 * sorted in roster order.
 */
export function partySet(session: Session, ids: unknown, field: string, allowed: ReadonlySet<PartyId>): PartyId[] {
  if (!Array.isArray(ids)) throw new SecAggError('bad-message', `${field}: expected an array of party ids`);
  const seen = new Set<PartyId>();
  for (const id of ids) {
    if (typeof id !== 'string' || !allowed.has(id)) {
      throw new SecAggError('bad-message', `${field}: ${JSON.stringify(id)} is not an allowed party here`);
    }
    if (seen.has(id)) throw new SecAggError('bad-message', `${field}: duplicate party ${JSON.stringify(id)}`);
    seen.add(id);
  }
  return sortParties(session, seen);
}

export function sameSet(a: readonly PartyId[], b: readonly PartyId[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

export function isBytes(x: unknown, length?: number): x is Uint8Array {
  return x instanceof Uint8Array && (length === undefined || x.length === length);
}

export function checkStage(actual: SecAggStage, expected: SecAggStage, action: string): void {
  if (actual !== expected) {
    throw new SecAggError('wrong-stage', `${action} is legal only in stage ${expected}, the session is in ${actual}`);
  }
}
