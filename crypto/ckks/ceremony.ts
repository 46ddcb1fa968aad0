/**
 * The multiparty CKKS key ceremony: collective public key generation (CKG) with a common
 * reference polynomial from committed nonces, then Lattigo's Thresholdizer (t-of-n Shamir
 * sharing of every party's secret), Mouchet et al., PETS 2021 §4–§5. Pure protocol logic, no I/O:
 * the services move the messages (services/aggregator/ckks/ceremony.ts, services/party/ckks-sessions.ts).
 * This file holds the shared definitions, ceremony-party.ts the party's side (CeremonyParty,
 * re-exported here) and ceremony-server.ts the aggregator's.
 *
 * Rounds, all parties of the roster required in each (a missing party aborts the ceremony):
 *   1. CRSCommit: party i draws a CRS nonce and an ephemeral X25519 key pair and signs
 *      (commitment, ephemeral public key) with its Ed25519 roster identity.
 *   2. CRSReveal: on every party's signed commitment (each checked), party i reveals its nonce.
 *   3. CKGCommit: on every nonce (each must open its commitment), every party derives the same
 *      CRP a; party i samples s_i, computes p_i = −a·s_i + e_i and, for every other party j,
 *      f_i(x_j) (its Shamir polynomial with f_i(0) = s_i at j's point) AES-256-GCM-encrypted
 *      under HKDF(X25519(eph_i, eph_j)) — the aggregator routes but cannot read them — and sends
 *      only a signed commitment (domain "ckks/ckg-commit") to p_i and to each encrypted share.
 *   4. CKGShare: on every party's signed CKG commitment (each checked, its own unchanged), party
 *      i reveals p_i and the encrypted shares. No party chooses p_i after seeing another's.
 *   5. CKGConfirm: on the collective key and every p_j, party i checks that each p_j opens p_j's
 *      signed commitment (so the aggregator cannot substitute a share: the rogue-key attack
 *      K − Σ(rest) needs one), recomputes (Σ p_j, a), checks it equals the key it was sent, and
 *      keeps S_i = Σ_j f_j(x_i), its Shamir share of Σ s_j (s_i was erased in round 3). Its
 *      confirmation names the key's SHA-256 and the SHA-256 of the ordered share commitments.
 * Any t parties turn their S_i into additive shares of Σ s_j with Lagrange coefficients for the
 * set that actually decrypts (threshold.ts genAdditiveShare).
 */
import { sha256 } from '../sha256.ts';
import { equalBytes, lengthPrefixed, toHex, u32be } from '../bytes.ts';
import { CKG_COMMIT_DOMAIN, ckgCommitSignedBytes, ckgShareCommitment, thresholdShareDigest, type CeremonyParams, type SignedCkgCommit } from './ckg-commit.ts';
import { crsSeed, sampleCrp, CRS_NONCE_BYTES } from './crs.ts';
import type { CkksContext } from './params.ts';
import type { RnsPoly } from './rns.ts';
import { verifyDomain } from '../identity.ts';
import { isValidX25519PublicKey } from '../keyagreement.ts';

export const CRS_COMMIT_DOMAIN = 'ckks/crs-commit';
const CEREMONY_ID = /^[A-Za-z0-9-]{8,64}$/;

export type { CeremonyParams } from './ckg-commit.ts';

export type CeremonyErrorCode = 'wrong-stage' | 'bad-params' | 'bad-signature' | 'bad-message' | 'incomplete' | 'bad-nonce' | 'bad-share' | 'bad-public-key';

/** A protocol violation or an incomplete round; `party` names the culprit when known. No secrets in messages. */
export class CeremonyError extends Error {
  readonly code: CeremonyErrorCode;
  readonly party: string | undefined;
  constructor(code: CeremonyErrorCode, message: string, party?: string) {
    super(`ckks ceremony ${code}: ${message}`);
    this.name = 'CeremonyError';
    this.code = code;
    this.party = party;
  }
}

export interface SignedCommit {
  party: string;
  commitment: Uint8Array;
  ephemeralKey: Uint8Array;
  signature: Uint8Array;
}

export interface RevealedNonce {
  party: string;
  nonce: Uint8Array;
}

export interface ThresholdShareMsg {
  from: string;
  to: string;
  ciphertext: Uint8Array;
}

export interface PartyCkgShare {
  party: string;
  share: Uint8Array;
}

/** What a party keeps (0600 at rest): its Shamir share of the collective secret, and the public key. */
export interface CeremonyKeyShare {
  ceremonyId: string;
  paramsName: string;
  rosterDigest: string;
  threshold: number;
  parties: string[];
  /** This party's Shamir point (1-based roster index). */
  point: number;
  publicKey: Uint8Array;
  publicKeySha256: string;
  /** S_i = Σ_j f_j(x_i), SEAL Plaintext bytes at the key level (secret). */
  shamirShare: Uint8Array;
  /** Hex SHA-256 of every party's CKG share commitment in roster order ('' in key files older than the CKG commit round). */
  ckgSharesSha256: string;
}

export function validateCeremonyParams(ctx: CkksContext, p: CeremonyParams): void {
  const bad = (m: string): never => {
    throw new CeremonyError('bad-params', m);
  };
  if (!CEREMONY_ID.test(p.ceremonyId)) bad('malformed ceremony id');
  if (p.paramsName !== ctx.params.name) bad(`parameter set "${p.paramsName}", this node uses ${ctx.params.name}`);
  if (!/^[0-9a-f]{64}$/.test(p.rosterDigest)) bad('malformed roster digest');
  const sorted = [...p.parties].sort();
  if (p.parties.length < 2 || p.parties.some((x, i) => x !== sorted[i]) || new Set(p.parties).size !== p.parties.length) bad('parties must be sorted, unique, at least 2');
  if (!Number.isInteger(p.threshold) || p.threshold < 1 || p.threshold > p.parties.length) bad(`threshold ${p.threshold} out of 1..${p.parties.length}`);
  // Two disjoint sets of t decryptors must not exist (the roster's 2t > n + c, docs/threat-model.md).
  if (2 * p.threshold <= p.parties.length) bad(`threshold ${p.threshold} must exceed half of the ${p.parties.length} parties (2t > n)`);
}

/** The party's Shamir point: its 1-based position in the sorted party list. */
export function pointOf(p: CeremonyParams, party: string): number {
  const k = p.parties.indexOf(party);
  if (k < 0) throw new CeremonyError('bad-message', `${party} is not a ceremony party`, party);
  return k + 1;
}

/** The exact bytes a party signs for its CRS commitment (ceremony, roster and ephemeral key bound). */
export function crsCommitSignedBytes(p: CeremonyParams, party: string, commitment: Uint8Array, ephemeralKey: Uint8Array): Uint8Array {
  return lengthPrefixed('blindsum/ckks/crs-commit/v1', p.ceremonyId, p.paramsName, p.rosterDigest, u32be(p.threshold), lengthPrefixed(...p.parties), party, commitment, ephemeralKey);
}

/** The other parties, in roster order: the order of a party's threshold shares and their digests. */
export function othersOf(p: CeremonyParams, party: string): string[] {
  return p.parties.filter((id) => id !== party);
}

/** Checks one signed CKG commitment's shape and its signature by the party's roster key. */
export function checkCkgCommit(p: CeremonyParams, keys: ReadonlyMap<string, Uint8Array>, c: SignedCkgCommit): void {
  if (!(c.commitment instanceof Uint8Array) || c.commitment.length !== 32) throw new CeremonyError('bad-message', 'CKG commitment must be 32 bytes', c.party);
  if (!Array.isArray(c.thresholdShareDigests) || c.thresholdShareDigests.length !== p.parties.length - 1 || c.thresholdShareDigests.some((d) => !(d instanceof Uint8Array) || d.length !== 32)) {
    throw new CeremonyError('bad-message', `CKG commitment must name ${p.parties.length - 1} threshold share digests of 32 bytes`, c.party);
  }
  const pk = keys.get(c.party);
  if (!pk || !(c.signature instanceof Uint8Array) || !verifyDomain(pk, CKG_COMMIT_DOMAIN, ckgCommitSignedBytes(p, c.party, c.commitment, c.thresholdShareDigests), c.signature)) {
    throw new CeremonyError('bad-signature', `the CKG commitment of ${c.party} is not signed by its roster key`, c.party);
  }
}

/** The CKG share must open its party's signed commitment; names the party otherwise. */
export function checkCkgOpening(commit: SignedCkgCommit, share: Uint8Array): void {
  if (!(share instanceof Uint8Array) || !equalBytes(ckgShareCommitment(share), commit.commitment)) {
    throw new CeremonyError('bad-share', `the CKG share of ${commit.party} does not open its signed commitment (substituted, or changed after committing): refusing the key`, commit.party);
  }
}

/** The encrypted threshold share from `commit.party` to `to` must be the one committed to. */
export function checkThresholdOpening(p: CeremonyParams, commit: SignedCkgCommit, to: string, ciphertext: Uint8Array): void {
  const k = othersOf(p, commit.party).indexOf(to);
  if (k < 0 || !(ciphertext instanceof Uint8Array) || !equalBytes(thresholdShareDigest(ciphertext), commit.thresholdShareDigests[k]!)) {
    throw new CeremonyError('bad-share', `the threshold share from ${commit.party} to ${to} is not the one ${commit.party} committed to`, commit.party);
  }
}


export function checkCommit(p: CeremonyParams, keys: ReadonlyMap<string, Uint8Array>, c: SignedCommit): void {
  if (!(c.commitment instanceof Uint8Array) || c.commitment.length !== 32) throw new CeremonyError('bad-message', 'commitment must be 32 bytes', c.party);
  if (!isValidX25519PublicKey(c.ephemeralKey)) throw new CeremonyError('bad-message', 'ephemeral key is not a valid X25519 public key', c.party);
  const pk = keys.get(c.party);
  if (!pk || !verifyDomain(pk, CRS_COMMIT_DOMAIN, crsCommitSignedBytes(p, c.party, c.commitment, c.ephemeralKey), c.signature)) {
    throw new CeremonyError('bad-signature', `the CRS commitment of ${c.party} is not signed by its roster key`, c.party);
  }
}

/** One entry per party, in party order; names the first party missing or repeated. */
export function byParty<T extends { party: string }>(p: CeremonyParams, items: readonly T[], what: string): T[] {
  const m = new Map<string, T>();
  for (const x of items) {
    if (!p.parties.includes(x.party)) throw new CeremonyError('bad-message', `${what} from ${x.party}, not a ceremony party`, x.party);
    if (m.has(x.party)) throw new CeremonyError('bad-message', `two ${what}s from ${x.party}`, x.party);
    m.set(x.party, x);
  }
  return p.parties.map((id) => {
    const x = m.get(id);
    if (!x) throw new CeremonyError('incomplete', `no ${what} from ${id}`, id);
    return x;
  });
}

export function publicKeyDigest(publicKey: Uint8Array): string {
  return toHex(sha256(publicKey));
}

export function deriveCrp(ctx: CkksContext, p: CeremonyParams, commits: readonly SignedCommit[], nonces: readonly RevealedNonce[]): RnsPoly {
  for (const n of nonces) {
    if (!(n.nonce instanceof Uint8Array) || n.nonce.length !== CRS_NONCE_BYTES) throw new CeremonyError('bad-nonce', `nonce of ${n.party} must be ${CRS_NONCE_BYTES} bytes`, n.party);
  }
  let seed: Uint8Array;
  try {
    seed = crsSeed(nonces.map((n) => n.nonce), commits.map((c) => c.commitment));
  } catch (e) {
    const k = /nonces\[(\d+)\]/.exec((e as Error).message);
    const party = k ? p.parties[Number(k[1])] : undefined;
    throw new CeremonyError('bad-nonce', `the nonce of ${party ?? 'a party'} does not open its commitment`, party);
  }
  return sampleCrp(ctx, seed, `ckg/${p.ceremonyId}`);
}

