/**
 * Commitments to CKG shares (the key ceremony's round 3, ceremony.ts): before any CKG share is
 * revealed, each party signs SHA-256 commitments to its share p_i and to each encrypted threshold
 * share it will send, so no party can choose its share after seeing the others' and the
 * aggregator cannot substitute any share (the rogue-key attack K − Σ(rest) needs one). The
 * confirmation names the hash of the ordered list of share commitments. Pure hashing and the
 * exact signed bytes; the checks that throw CeremonyError are in ceremony.ts.
 */
import { sha256 } from '../sha256.ts';
import { lengthPrefixed, toHex, u32be } from '../bytes.ts';

/** Signature domain of a CKG commitment (crypto/identity.ts signDomain). */
export const CKG_COMMIT_DOMAIN = 'ckks/ckg-commit';
const DOMAIN = 'blindsum/ckks/ckg-share/v1';

/** A party's signed commitment to its CKG share and to its encrypted threshold shares (roster order, itself skipped). */
export interface SignedCkgCommit {
  party: string;
  commitment: Uint8Array;
  thresholdShareDigests: Uint8Array[];
  signature: Uint8Array;
}

/** The exact bytes a party signs for its CKG commitment (domain "ckks/ckg-commit"): ceremony parameters, party, both commitments. */
/** The public parameters of one key ceremony (crypto/ckks/ceremony.ts). */
export interface CeremonyParams {
  ceremonyId: string;
  /** Parameter set name; must be the context's. */
  paramsName: string;
  /** Hex SHA-256 of the roster the key is for. */
  rosterDigest: string;
  threshold: number;
  /** Every roster party, sorted; party k (0-based) has Shamir point k + 1. */
  parties: readonly string[];
}

export function ckgCommitSignedBytes(p: CeremonyParams, party: string, commitment: Uint8Array, thresholdShareDigests: readonly Uint8Array[]): Uint8Array {
  return lengthPrefixed(
    'blindsum/ckks/ckg-commit/v1', p.ceremonyId, p.paramsName, p.rosterDigest, u32be(p.threshold), lengthPrefixed(...p.parties), party, commitment, lengthPrefixed(...thresholdShareDigests),
  );
}

/** SHA-256 commitment to a CKG share's exact bytes. */
export function ckgShareCommitment(share: Uint8Array): Uint8Array {
  return sha256(lengthPrefixed(DOMAIN, 'share', share));
}

/** SHA-256 of one encrypted threshold share, as committed to. */
export function thresholdShareDigest(ciphertext: Uint8Array): Uint8Array {
  return sha256(lengthPrefixed(DOMAIN, 'threshold-share', ciphertext));
}

/** Hex SHA-256 of the ordered list of every party's CKG share commitment: what CKGConfirm names. */
export function ckgSharesDigest(commitments: readonly Uint8Array[]): string {
  return toHex(sha256(lengthPrefixed(DOMAIN, 'share-list', ...commitments)));
}
