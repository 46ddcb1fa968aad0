/**
 * Common reference polynomial (CRP) for CKG, from a seed no single party controls.
 * Commit–reveal: each party draws a 32-byte nonce and publishes `crsCommitment(nonce)`; once all
 * commitments are recorded, the nonces are revealed and `crsSeed` hashes them all (in roster
 * order) after checking each against its commitment. A party that sees the others' nonces
 * before committing its own cannot steer the seed, because its commitment is already fixed.
 * The polynomial is expanded with SHAKE256 and rejection-sampled modulo each key-level prime.
 */
import { sha256 } from '../sha256.ts';
import { shake256 } from '@noble/hashes/sha3.js';
import { abytes, equalBytes, lengthPrefixed } from '../bytes.ts';
import type { CkksContext } from './params.ts';
import type { RnsPoly } from './rns.ts';
import { uniformPoly } from './sampler.ts';
import type { RandomSource } from './sampler.ts';

const DOMAIN = 'blindsum/ckks/crs/v1';
export const CRS_NONCE_BYTES = 32;

/** SHA-256 commitment to a party's 32-byte CRS nonce (domain-separated). */
export function crsCommitment(nonce: Uint8Array): Uint8Array {
  abytes(nonce, 'nonce', CRS_NONCE_BYTES);
  return sha256(lengthPrefixed(DOMAIN, 'commit', nonce));
}

/**
 * The CRS seed from every party's revealed nonce, in roster order; each nonce must open its
 * commitment (same order). RangeError names the first party whose nonce does not match.
 */
export function crsSeed(nonces: readonly Uint8Array[], commitments: readonly Uint8Array[]): Uint8Array {
  if (nonces.length === 0 || nonces.length !== commitments.length) {
    throw new RangeError(`nonces: expected one nonce per commitment (${commitments.length}), got ${nonces.length}`);
  }
  for (let i = 0; i < nonces.length; i++) {
    abytes(nonces[i], `nonces[${i}]`, CRS_NONCE_BYTES);
    abytes(commitments[i], `commitments[${i}]`, 32);
    if (!equalBytes(crsCommitment(nonces[i]!), commitments[i]!)) {
      throw new RangeError(`nonces[${i}]: does not open commitments[${i}] (party must reveal the nonce it committed to)`);
    }
  }
  return sha256(lengthPrefixed(DOMAIN, 'seed', ...nonces));
}

/** SHAKE256 as a RandomSource, keyed by a domain-separated seed. */
export function xofSource(seed: Uint8Array, label: string): RandomSource {
  const h = shake256.create({}).update(lengthPrefixed(DOMAIN, 'xof', label, seed));
  return { fill: (out: Uint8Array) => void h.xofInto(out) };
}

/**
 * The CRP for protocol `label` (e.g. 'ckg'): uniform modulo each of the first `level` primes
 * (default: the key level), usable directly as an NTT-form polynomial.
 */
export function sampleCrp(ctx: CkksContext, seed: Uint8Array, label: string, level: number = ctx.keyLevel): RnsPoly {
  abytes(seed, 'seed', 32);
  ctx.checkLevel(level, ctx.keyLevel);
  return uniformPoly(ctx.moduli, ctx.N, level, xofSource(seed, `${ctx.params.name}/${label}`));
}
