/**
 * Collective public key generation (CKG), Mouchet et al. PETS 2021 §4 (Lattigo
 * multiparty/keygen_cpk.go). Each party i holds a ternary secret s_i; with the common reference
 * polynomial a it publishes p_i = −a·s_i + e_i (e_i discrete Gaussian σ = 3.2). The collective
 * public key (Σ p_i, a) is an ordinary SEAL PublicKey for the secret Σ s_i, which nobody holds.
 * All polynomials are at the key level (every prime, the special one included), in NTT form.
 */
import { parsePlaintext, parseSecretKey, serializePlaintext, serializePublicKey, serializeSecretKey } from './codec.ts';
import { forwardNtt } from './ntt.ts';
import type { CkksContext } from './params.ts';
import { addPoly, fromSigned, levelOf, mulPoly, subPoly } from './rns.ts';
import type { RnsPoly } from './rns.ts';
import { cryptoRandom, gaussianVector, SMALL_SIGMA2, ternaryVector } from './sampler.ts';
import type { RandomSource } from './sampler.ts';

/** A party's secret key share s_i: key level, NTT form. Serialized as a SEAL SecretKey. */
export type SecretKeyShare = RnsPoly;

/** A CKG share p_i (key level, NTT form). */
export type CKGShare = RnsPoly;

function checkKeyLevel(ctx: CkksContext, p: RnsPoly, field: string): void {
  if (levelOf(p, ctx.N, field) !== ctx.keyLevel) {
    throw new RangeError(`${field}: expected the key level (${ctx.keyLevel} primes × N=${ctx.N})`);
  }
}

/** Samples a fresh ternary secret s_i, returned in NTT form at the key level. */
export function genSecretKeyShare(ctx: CkksContext, rng: RandomSource = cryptoRandom): SecretKeyShare {
  const s = ternaryVector(ctx.N, rng);
  const coeffs = fromSigned(s, ctx.moduli, ctx.N, ctx.keyLevel);
  const poly = forwardNtt(coeffs, ctx.moduli, ctx.N);
  s.fill(0);
  coeffs.fill(0n);
  return poly;
}

/** SEAL SecretKey bytes (loadable by SEAL) for a secret share; the caller stores them 0600. */
export function serializeSecretKeyShare(ctx: CkksContext, s: SecretKeyShare): Uint8Array {
  checkKeyLevel(ctx, s, 'secretKeyShare');
  return serializeSecretKey(ctx, s, 'secretKeyShare');
}

export function parseSecretKeyShare(ctx: CkksContext, bytes: Uint8Array): SecretKeyShare {
  return parseSecretKey(ctx, bytes, 'secretKeyShare');
}

/** A small error polynomial e (σ = 3.2) in NTT form at `level`. */
export function smallErrorNtt(ctx: CkksContext, level: number, rng: RandomSource = cryptoRandom): RnsPoly {
  const e = gaussianVector(ctx.N, SMALL_SIGMA2, rng);
  return forwardNtt(fromSigned(e, ctx.moduli, ctx.N, level), ctx.moduli, ctx.N);
}

/** Party i's share p_i = −a·s_i + e_i. */
export function ckgGenShare(ctx: CkksContext, secret: SecretKeyShare, crp: RnsPoly, rng: RandomSource = cryptoRandom): CKGShare {
  checkKeyLevel(ctx, secret, 'secret');
  checkKeyLevel(ctx, crp, 'crp');
  const as = mulPoly(crp, secret, ctx.moduli, ctx.N);
  return subPoly(smallErrorNtt(ctx, ctx.keyLevel, rng), as, ctx.moduli, ctx.N);
}

/** Sum of two CKG shares (aggregation is associative: fold over all parties). */
export function ckgAggregateShares(ctx: CkksContext, a: CKGShare, b: CKGShare): CKGShare {
  checkKeyLevel(ctx, a, 'a');
  checkKeyLevel(ctx, b, 'b');
  return addPoly(a, b, ctx.moduli, ctx.N);
}

/** The collective public key (Σ p_i, a) as SEAL PublicKey bytes. */
export function ckgGenPublicKey(ctx: CkksContext, aggregated: CKGShare, crp: RnsPoly): Uint8Array {
  checkKeyLevel(ctx, aggregated, 'aggregated');
  checkKeyLevel(ctx, crp, 'crp');
  return serializePublicKey(ctx, aggregated, crp, 'collectivePublicKey');
}

export function serializeCkgShare(ctx: CkksContext, share: CKGShare): Uint8Array {
  checkKeyLevel(ctx, share, 'ckgShare');
  return serializePlaintext(ctx, { level: ctx.keyLevel, scale: 1, poly: share }, 'ckgShare');
}

export function parseCkgShare(ctx: CkksContext, bytes: Uint8Array): CKGShare {
  const pt = parsePlaintext(ctx, bytes, 'ckgShare');
  if (pt.level !== ctx.keyLevel) throw new RangeError(`ckgShare: level ${pt.level}, expected the key level ${ctx.keyLevel}`);
  return pt.poly;
}
