/**
 * Collective public-key switching (PCKS) to the analyst's own SEAL key
 * (Mouchet et al. PETS 2021 §4; Lattigo multiparty/keyswitch_pk.go). For (c0, c1) under
 * s = Σ s_i and the analyst's public key (p0, p1) = (−a'·s' + e', a'), party i sends
 *   h0_i = s_i·c1 + u_i·p0 + e0_i + e_flood,   h1_i = u_i·p1 + e1_i,
 * where (u_i·p0 + e0_i, u_i·p1 + e1_i) is exactly a SEAL encryption of zero under the analyst's
 * key at the ciphertext's level, and e_flood has σ = 2^params.floodingSigmaBits. The aggregate
 * (c0 + Σ h0_i, Σ h1_i) is a ciphertext of the same message under s': only the analyst's secret
 * key decrypts it; the aggregator that sums the shares learns nothing.
 */
import { parseCiphertext, serializeCiphertext } from './codec.ts';
import { parseDecryptable } from './cks.ts';
import { addScaledToC0 } from './encoder.ts';
import type { SecretKeyShare } from './ckg.ts';
import { loadPublicKey, saveBytes, zeroPlaintext } from './objects.ts';
import type { CkksContext } from './params.ts';
import { addPoly, mulPoly, truncateLevel } from './rns.ts';
import type { RnsPoly } from './rns.ts';
import { cryptoRandom, gaussianNumbers, powerOfTwoSigma2 } from './sampler.ts';
import type { RandomSource } from './sampler.ts';
import { SealScope } from './seal.ts';

/** A PCKS share (h0, h1) at the ciphertext's level, NTT form. */
export interface PCKSShare {
  readonly h0: RnsPoly;
  readonly h1: RnsPoly;
}

/**
 * Party i's PCKS share for one ciphertext. `analystPublicKey` is the analyst's SEAL PublicKey
 * bytes (same parameter set); the encryption of zero under it comes from SEAL itself.
 */
export function pcksGenShare(
  ctx: CkksContext,
  secret: SecretKeyShare,
  analystPublicKey: Uint8Array,
  ciphertext: Uint8Array,
  rng: RandomSource = cryptoRandom,
): PCKSShare {
  const ct = parseDecryptable(ctx, ciphertext);
  using scope = new SealScope();
  const pk = scope.track(loadPublicKey(ctx, analystPublicKey, 'analystPublicKey'));
  const enc = scope.track(new ctx.seal.Encryptor(ctx.context, pk));
  const zero = scope.track(zeroPlaintext(ctx, ct.level, ct.scale));
  const z = scope.track(new ctx.seal.Ciphertext());
  enc.encrypt(zero, z);
  // Flooding noise enters in coefficient form through SEAL's own NTT (|e| < 2^53 as Numbers).
  const ev = scope.track(new ctx.seal.Evaluator(ctx.context));
  const flood = gaussianNumbers(ctx.N, powerOfTwoSigma2(ctx.params.floodingSigmaBits), rng);
  addScaledToC0(ctx, ev, z, ct.level, flood);
  flood.fill(0);
  const u = parseCiphertext(ctx, saveBytes(ctx, z, 'encryptionOfZero'), 'encryptionOfZero');
  const s = truncateLevel(secret, ct.level, ctx.N);
  const sc1 = mulPoly(ct.polys[1]!, s, ctx.moduli, ctx.N);
  s.fill(0n);
  const h0 = addPoly(u.polys[0]!, sc1, ctx.moduli, ctx.N, sc1);
  return { h0, h1: u.polys[1]! };
}

export function pcksAggregateShares(ctx: CkksContext, a: PCKSShare, b: PCKSShare): PCKSShare {
  return { h0: addPoly(a.h0, b.h0, ctx.moduli, ctx.N), h1: addPoly(a.h1, b.h1, ctx.moduli, ctx.N) };
}

/** (c0 + Σ h0_i, Σ h1_i): SEAL Ciphertext bytes under the analyst's key (same level and scale). */
export function pcksKeySwitch(ctx: CkksContext, ciphertext: Uint8Array, aggregated: PCKSShare): Uint8Array {
  const ct = parseDecryptable(ctx, ciphertext);
  const n = ct.level * ctx.N;
  if (aggregated.h0.length !== n || aggregated.h1.length !== n) {
    throw new RangeError(`aggregated: shares must be at the ciphertext's level ${ct.level}`);
  }
  const c0 = addPoly(ct.polys[0]!, aggregated.h0, ctx.moduli, ctx.N);
  return serializeCiphertext(ctx, {
    level: ct.level,
    isNttForm: true,
    scale: ct.scale,
    correctionFactor: ct.correctionFactor,
    polys: [c0, aggregated.h1.slice()],
  });
}

/** A PCKS share on the wire: SEAL Ciphertext layout (h0, h1), validated on parse. */
export function serializePcksShare(ctx: CkksContext, share: PCKSShare): Uint8Array {
  const level = share.h0.length / ctx.N;
  return serializeCiphertext(ctx, { level, isNttForm: true, scale: 1, correctionFactor: 1n, polys: [share.h0, share.h1] }, 'pcksShare');
}

export function parsePcksShare(ctx: CkksContext, bytes: Uint8Array): PCKSShare {
  const ct = parseCiphertext(ctx, bytes, 'pcksShare');
  if (ct.polys.length !== 2 || !ct.isNttForm || ct.level > ctx.topLevel) {
    throw new RangeError('pcksShare: expected 2 NTT-form polynomials at a data level');
  }
  return { h0: ct.polys[0]!, h1: ct.polys[1]! };
}
