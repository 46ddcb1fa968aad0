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
import { ciphertextFromWords, CIPHERTEXT_DATA_OFFSET, parseCiphertext, parseCiphertextMeta, serializeCiphertext, serializePlaintext } from './codec.ts';
import { parseDecryptable } from './cks.ts';
import { addScaledToWords, toNttForm } from './encoder.ts';
import type { SecretKeyShare } from './ckg.ts';
import { loadPublicKey, saveBytes, zeroPlaintext } from './objects.ts';
import type { CkksContext } from './params.ts';
import { addPoly, truncateLevel } from './rns.ts';
import type { RnsPoly } from './rns.ts';
import { cryptoRandom, discreteGaussianSampler, powerOfTwoSigma2 } from './sampler.ts';
import type { RandomSource } from './sampler.ts';
import { SealScope } from './seal.ts';
import type { Ciphertext, Encryptor, Evaluator, Plaintext } from './seal.ts';
import { packedMeta, unpackCiphertextAs } from './wire.ts';

/** A PCKS share (h0, h1) at the ciphertext's level, NTT form. */
export interface PCKSShare {
  readonly h0: RnsPoly;
  readonly h1: RnsPoly;
}

/** Byte range of polynomial `k` in SEAL bytes of a ciphertext at `level`. */
function polyRange(ctx: CkksContext, level: number, k: number): [number, number] {
  const per = 8 * ctx.N * level;
  return [CIPHERTEXT_DATA_OFFSET + k * per, CIPHERTEXT_DATA_OFFSET + (k + 1) * per];
}

/**
 * Party i's PCKS shares, computed on SEAL's evaluator (no BigInt): for an NTT-form sum (c0, c1)
 *   (s_i·c1, s_i·c1)  ← multiply_plain((c1, c1), s_i)          (dyadic product in NTT form)
 *   (z0, z1)          ← Encryptor.encrypt(0) under the analyst's key
 *   F                 ← NTT((e_flood, e_flood))                 (SEAL's forward NTT)
 *   h0 = first polynomial of (s_i·c1, ·) + (z0, z1) + F,   h1 = z1.
 * Reuse one generator for every sum of a request; dispose it to free the SEAL copy of s_i.
 */
export class PcksShareGenerator implements Disposable {
  readonly ctx: CkksContext;
  #scope = new SealScope();
  #secret: SecretKeyShare;
  #encryptor: Encryptor;
  #evaluator: Evaluator;
  #sample: () => number;
  #perLevel = new Map<number, { s: Plaintext; zero: Plaintext }>();
  #y: Ciphertext;
  #z: Ciphertext;
  #f: Ciphertext;

  constructor(ctx: CkksContext, secret: SecretKeyShare, analystPublicKey: Uint8Array, rng: RandomSource = cryptoRandom) {
    this.ctx = ctx;
    const s = this.#scope;
    const pk = s.track(loadPublicKey(ctx, analystPublicKey, 'analystPublicKey'));
    this.#encryptor = s.track(new ctx.seal.Encryptor(ctx.context, pk));
    this.#evaluator = s.track(new ctx.seal.Evaluator(ctx.context));
    this.#secret = secret;
    this.#sample = discreteGaussianSampler(...powerOfTwoSigma2(ctx.params.floodingSigmaBits), rng);
    this.#y = s.track(new ctx.seal.Ciphertext());
    this.#z = s.track(new ctx.seal.Ciphertext());
    this.#f = s.track(new ctx.seal.Ciphertext());
  }

  #level(level: number): { s: Plaintext; zero: Plaintext } {
    let l = this.#perLevel.get(level);
    if (!l) {
      const { ctx } = this;
      const poly = truncateLevel(this.#secret, level, ctx.N);
      const bytes = serializePlaintext(ctx, { level, scale: 1, poly }, 'secretShare');
      poly.fill(0n);
      const s = this.#scope.track(new ctx.seal.Plaintext());
      s.loadFromArray(ctx.context, bytes);
      bytes.fill(0);
      l = { s, zero: this.#scope.track(zeroPlaintext(ctx, level, 1)) };
      this.#perLevel.set(level, l);
    }
    return l;
  }

  /** The share for one ciphertext of the sum (SEAL bytes in), as SEAL ciphertext bytes (h0, h1), scale 1. */
  share(ciphertext: Uint8Array): Uint8Array {
    const { ctx } = this;
    let meta = parseCiphertextMeta(ctx, ciphertext);
    if (meta.size !== 2) throw new RangeError(`ciphertext: expected 2 polynomials (relinearize first), got ${meta.size}`);
    if (meta.level > ctx.topLevel) throw new RangeError(`ciphertext: at the key level; expected a data level ≤ ${ctx.topLevel}`);
    const ntt = meta.isNttForm ? ciphertext : toNttForm(ctx, ciphertext);
    meta = { level: meta.level, size: 2, isNttForm: true, scale: 1, correctionFactor: 1n };
    const { s, zero } = this.#level(meta.level);
    // (c1, c1) at scale 1 (SEAL's load checks every residue of the received sum).
    const [c1Start, c1End] = polyRange(ctx, meta.level, 1);
    const words = new Uint32Array(2 * 2 * meta.level * ctx.N);
    const half = words.length / 2;
    const c1 = new Uint32Array(half);
    new Uint8Array(c1.buffer).set(ntt.subarray(c1Start, c1End));
    words.set(c1, 0);
    words.set(c1, half);
    const y = this.#y;
    y.loadFromArray(ctx.context, ciphertextFromWords(ctx, meta, words, 'ciphertext'));
    this.#evaluator.multiplyPlainInplace(y, s);
    const z = this.#z;
    this.#encryptor.encrypt(zero, z);
    this.#evaluator.addInplace(y, z);
    // Flooding noise (exact discrete Gaussian, σ = 2^floodingSigmaBits) through SEAL's NTT.
    const e = new Float64Array(ctx.N);
    let any = false;
    for (let i = 0; i < e.length; i++) any = (e[i] = this.#sample()) !== 0 || any;
    if (any) {
      const fw = new Uint32Array(words.length);
      addScaledToWords(ctx, fw, meta.level, e, 1, 1n);
      fw.copyWithin(half, 0, half);
      e.fill(0);
      const f = this.#f;
      f.loadFromArray(ctx.context, ciphertextFromWords(ctx, { ...meta, isNttForm: false }, fw, 'flooding'));
      fw.fill(0);
      this.#evaluator.cipherTransformToNttInplace(f);
      this.#evaluator.addInplace(y, f);
    }
    const out = saveBytes(ctx, y, 'pcksShare');
    const [z1Start, z1End] = polyRange(ctx, meta.level, 1);
    out.set(saveBytes(ctx, z, 'encryptionOfZero').subarray(z1Start, z1End), z1Start);
    return out;
  }

  /** Zeroes the SEAL copies of s_i (SEAL frees without zeroing), then frees every SEAL object. */
  [Symbol.dispose](): void {
    for (const { s } of this.#perLevel.values()) if (!s.isDeleted()) s.setZero();
    this.#perLevel.clear();
    this.#scope[Symbol.dispose]();
  }
}

/**
 * Party i's PCKS share for one ciphertext (a one-off PcksShareGenerator). `analystPublicKey` is
 * the analyst's SEAL PublicKey bytes (same parameter set).
 */
export function pcksGenShare(
  ctx: CkksContext,
  secret: SecretKeyShare,
  analystPublicKey: Uint8Array,
  ciphertext: Uint8Array,
  rng: RandomSource = cryptoRandom,
): PCKSShare {
  using gen = new PcksShareGenerator(ctx, secret, analystPublicKey, rng);
  return parsePcksShare(ctx, gen.share(ciphertext));
}

/**
 * A packed PCKS share (wire.ts) → SEAL bytes of (h0, h1) at `level`, NTT form, scale 1: header,
 * length and every residue validated, and the scale and correction factor normalized (they carry
 * no meaning in a share) so SEAL adds shares of any sender.
 */
export function unpackPcksShare(ctx: CkksContext, packed: Uint8Array, level: number, field = 'pcksShare'): Uint8Array {
  const meta = packedMeta(ctx, packed, field);
  if (meta.size !== 2 || !meta.isNttForm || meta.level !== level) {
    throw new RangeError(`${field}: expected 2 NTT-form polynomials at level ${level}`);
  }
  const norm = { level, size: 2, isNttForm: true, scale: 1, correctionFactor: 1n };
  return unpackCiphertextAs(ctx, norm, packed, field);
}

/**
 * The key switch on SEAL's evaluator: (c0 + Σ h0_i, Σ h1_i) for an NTT-form sum and its shares
 * (SEAL bytes from `unpackPcksShare`, at the sum's level); SEAL bytes with the sum's scale.
 */
export function pcksCombine(ctx: CkksContext, sum: Uint8Array, shares: readonly Uint8Array[]): Uint8Array {
  const meta = parseCiphertextMeta(ctx, sum, 'sum');
  if (meta.size !== 2 || !meta.isNttForm || meta.level > ctx.topLevel) throw new RangeError('sum: expected an NTT-form ciphertext of 2 polynomials at a data level');
  if (shares.length === 0) throw new RangeError('shares: expected at least one');
  using scope = new SealScope();
  const ev = scope.track(new ctx.seal.Evaluator(ctx.context));
  const acc = scope.track(new ctx.seal.Ciphertext());
  const next = scope.track(new ctx.seal.Ciphertext());
  shares.forEach((b, i) => {
    const m = parseCiphertextMeta(ctx, b, `shares[${i}]`);
    if (m.level !== meta.level || m.size !== 2 || !m.isNttForm || m.scale !== 1) throw new RangeError(`shares[${i}]: expected a normalized share at level ${meta.level}`);
    if (i === 0) acc.loadFromArray(ctx.context, b);
    else {
      next.loadFromArray(ctx.context, b);
      ev.addInplace(acc, next);
    }
  });
  const ct = scope.track(new ctx.seal.Ciphertext());
  ct.loadFromArray(ctx.context, sum);
  acc.setScale(ct.scale());
  ev.addInplace(ct, acc); // (c0 + Σh0, c1 + Σh1): its first polynomial is kept
  const out = saveBytes(ctx, ct, 'switched');
  const [start, end] = polyRange(ctx, meta.level, 1);
  out.set(saveBytes(ctx, acc, 'shares').subarray(start, end), start);
  return out;
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
