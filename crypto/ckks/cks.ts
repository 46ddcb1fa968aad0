/**
 * Collective key switching (CKS) to the zero key, i.e. collective decryption
 * (Mouchet et al. PETS 2021 §4; Lattigo multiparty/keyswitch_sk.go). For a ciphertext (c0, c1)
 * under s = Σ s_i, party i sends h_i = s_i·c1 + e_i with flooding noise e_i of σ = 2^k
 * (params.floodingSigmaBits): without it, h_i − s_i·c1 would reveal the ciphertext noise and,
 * with enough decryptions, s_i. The result c0 + Σ h_i = m + e is a SEAL Plaintext.
 * In t-of-n mode, s_i is the additive share from threshold.ts's genAdditiveShare.
 */
import { parseCiphertext, parsePlaintext, serializeCiphertext, serializePlaintext } from './codec.ts';
import type { CiphertextData } from './codec.ts';
import { toNttForm } from './encoder.ts';
import type { CkksContext } from './params.ts';
import { addPoly, fromSigned, levelOf, mulPoly, truncateLevel } from './rns.ts';
import type { RnsPoly } from './rns.ts';
import { cryptoRandom, gaussianVector, powerOfTwoSigma2 } from './sampler.ts';
import type { RandomSource } from './sampler.ts';
import type { SecretKeyShare } from './ckg.ts';

/** A CKS decryption share h_i at the ciphertext's level, NTT form. */
export type CKSShare = RnsPoly;

/**
 * Flooding noise (σ = 2^params.floodingSigmaBits, exact discrete Gaussian) in NTT form at
 * `level`. SEAL does the NTT: the coefficient-form pair (e, e) is transformed as a ciphertext
 * (the TypeScript NTT gives the same result, test ckks-ntt, but is ~10× slower).
 */
export function floodingNoiseNtt(ctx: CkksContext, level: number, rng: RandomSource = cryptoRandom): RnsPoly {
  const e = gaussianVector(ctx.N, powerOfTwoSigma2(ctx.params.floodingSigmaBits), rng);
  const coeffs = fromSigned(e, ctx.moduli, ctx.N, level);
  if (coeffs.every((x) => x === 0n)) return coeffs; // SEAL refuses a transparent ciphertext
  const pair = serializeCiphertext(ctx, { level, isNttForm: false, scale: 1, correctionFactor: 1n, polys: [coeffs, coeffs] });
  return parseCiphertext(ctx, toNttForm(ctx, pair)).polys[0]!;
}

/**
 * Parses a ciphertext to be decrypted (size 2, at a data level), in NTT form: a coefficient-form
 * ciphertext (as PackedEncryptor sends) is converted by SEAL, deterministically.
 */
export function parseDecryptable(ctx: CkksContext, bytes: Uint8Array, field = 'ciphertext'): CiphertextData {
  let ct = parseCiphertext(ctx, bytes, field);
  if (ct.polys.length !== 2) throw new RangeError(`${field}: expected 2 polynomials (relinearize first), got ${ct.polys.length}`);
  if (!ct.isNttForm) ct = parseCiphertext(ctx, toNttForm(ctx, bytes), field);
  if (ct.level > ctx.topLevel) throw new RangeError(`${field}: at the key level; expected a data level ≤ ${ctx.topLevel}`);
  return ct;
}

/** h_i = s_i·c1 + e_i, with s_i truncated to the ciphertext's level. */
export function cksGenShare(ctx: CkksContext, secret: SecretKeyShare, ciphertext: Uint8Array, rng: RandomSource = cryptoRandom): CKSShare {
  const ct = parseDecryptable(ctx, ciphertext);
  const s = truncateLevel(secret, ct.level, ctx.N);
  const h = mulPoly(ct.polys[1]!, s, ctx.moduli, ctx.N);
  s.fill(0n);
  return addPoly(h, floodingNoiseNtt(ctx, ct.level, rng), ctx.moduli, ctx.N, h);
}

export function cksAggregateShares(ctx: CkksContext, a: CKSShare, b: CKSShare): CKSShare {
  levelOf(a, ctx.N, 'a');
  return addPoly(a, b, ctx.moduli, ctx.N);
}

/** c0 + Σ h_i: the decrypted SEAL Plaintext (NTT form, the ciphertext's level and scale). */
export function cksKeySwitch(ctx: CkksContext, ciphertext: Uint8Array, aggregated: CKSShare): Uint8Array {
  const ct = parseDecryptable(ctx, ciphertext);
  if (aggregated.length !== ct.level * ctx.N) {
    throw new RangeError(`aggregated: level ${aggregated.length / ctx.N}, the ciphertext is at level ${ct.level}`);
  }
  const m = addPoly(ct.polys[0]!, aggregated, ctx.moduli, ctx.N);
  return serializePlaintext(ctx, { level: ct.level, scale: ct.scale, poly: m }, 'plaintext');
}

/** A CKS share on the wire: SEAL Plaintext layout (validated parms_id, level, residues). */
export function serializeCksShare(ctx: CkksContext, share: CKSShare): Uint8Array {
  return serializePlaintext(ctx, { level: levelOf(share, ctx.N, 'cksShare'), scale: 1, poly: share }, 'cksShare');
}

export function parseCksShare(ctx: CkksContext, bytes: Uint8Array): CKSShare {
  return parsePlaintext(ctx, bytes, 'cksShare').poly;
}
