/**
 * Packing long vectors of fixed-point integers into CKKS ciphertexts, and reading them back.
 *
 * Coefficient packing: value k of a chunk becomes coefficient k of the message polynomial,
 * m(X) = Δ·Σ v_k X^k with Δ = 2^params.scaleBits, so each ciphertext carries N values (twice
 * the N/2 slots of SEAL's CKKSEncoder) and the decryption error of a value is one coefficient
 * of the noise, with no canonical-embedding growth (√N) and no floating-point encoding error.
 * Only additions are meaningful on such ciphertexts, which is all aggregation needs.
 *
 * Encryption uses SEAL itself: an encryption of zero at the target level, moved to coefficient
 * form by SEAL's evaluator, and Δ·v added to c0. The ciphertext is sent in that coefficient form
 * (SEAL adds ciphertexts in either form; `toNttForm` converts a sum before decryption shares,
 * and the share functions do it themselves), at the lowest level that keeps the sum exact
 * (`requiredLevel`).
 */
import { ciphertextFromWords, ciphertextWords, parseCiphertext, parseCiphertextMeta, parsePlaintext, serializeCiphertext, type CiphertextMeta } from './codec.ts';
import { loadPublicKey, loadSecretKey, saveBytes, zeroPlaintext } from './objects.ts';
import type { CkksContext } from './params.ts';
import { toCenteredBigInts } from './rns.ts';
import { SealScope } from './seal.ts';
import { CiphertextAccumulator } from './sum.ts';
import { packWords } from './wire.ts';
import type { Ciphertext, Encryptor, Evaluator, Plaintext } from 'node-seal';

export function ciphertextCount(ctx: CkksContext, length: number): number {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`length: expected a non-negative integer, got ${length}`);
  return Math.ceil(length / ctx.N);
}

/**
 * The lowest level whose modulus Q keeps every sum exact: |sum|·Δ plus the noise (< Δ/2) must
 * stay below Q/2, i.e. log2(maxAbsSum) + scaleBits + 2 ≤ bits(Q) − 1. RangeError when even the
 * top level is too small (reduce the fixed-point scale or bounds).
 */
export function requiredLevel(ctx: CkksContext, maxAbsSum: number): number {
  if (!(maxAbsSum >= 0) || !Number.isFinite(maxAbsSum)) throw new RangeError(`maxAbsSum: expected a finite bound ≥ 0, got ${maxAbsSum}`);
  if (maxAbsSum > Number.MAX_SAFE_INTEGER) {
    throw new RangeError(`maxAbsSum: ${maxAbsSum} exceeds 2^53 − 1; decoded sums would not be exact in float64`);
  }
  const need = Math.ceil(Math.log2(maxAbsSum + 1)) + ctx.params.scaleBits + 2;
  for (let level = 1; level <= ctx.topLevel; level++) {
    if (ctx.modulusBits(level) - 1 >= need) return level;
  }
  throw new RangeError(
    `maxAbsSum: 2^${Math.log2(maxAbsSum).toFixed(1)} does not fit the ${ctx.params.name} chain with Δ=2^${ctx.params.scaleBits}; lower the bounds, the fixed-point scale, or use a larger parameter set`,
  );
}

const TWO32 = 0x100000000;

/** words[2·idx..] ← residue + r mod q, for 0 ≤ r < q given as (rHi, rLo) u32 halves. */
function addResidue(words: Uint32Array, idx: number, rHi: number, rLo: number, qHi: number, qLo: number): void {
  let lo = words[2 * idx]! + rLo;
  let hi = words[2 * idx + 1]! + rHi;
  if (lo >= TWO32) {
    lo -= TWO32;
    hi += 1;
  }
  if (hi > qHi || (hi === qHi && lo >= qLo)) {
    lo -= qLo;
    hi -= qHi;
    if (lo < 0) {
      lo += TWO32;
      hi -= 1;
    }
  }
  words[2 * idx] = lo;
  words[2 * idx + 1] = hi;
}

/** words[2·idx..] ← residue − r mod q, for 0 ≤ r < q given as (rHi, rLo) u32 halves. */
function subResidue(words: Uint32Array, idx: number, rHi: number, rLo: number, qHi: number, qLo: number): void {
  let lo = words[2 * idx]! - rLo;
  let hi = words[2 * idx + 1]! - rHi;
  if (lo < 0) {
    lo += TWO32;
    hi -= 1;
  }
  if (hi < 0) {
    lo += qLo;
    hi += qHi;
    if (lo >= TWO32) {
      lo -= TWO32;
      hi += 1;
    }
  }
  words[2 * idx] = lo;
  words[2 * idx + 1] = hi;
}

/**
 * c0 ← c0 + Δ·v on the residues (u32 halves, `[poly][prime][coefficient]`, codec.ts
 * `ciphertextWords`) of a coefficient-form ciphertext at `level`, in place. |Δ·v| is split into
 * u32 halves once per value and added (or, for v < 0, subtracted) modulo each prime in Number
 * arithmetic (q < 2^61, every intermediate below 2^53); only a product at or above a prime or
 * 2^53 takes the BigInt path.
 */
export function addScaledToWords(ctx: CkksContext, words: Uint32Array, level: number, values: ArrayLike<number>, delta: number, deltaBig: bigint): void {
  const N = ctx.N;
  const qHi = ctx.moduli.slice(0, level).map((q) => Number(q >> 32n));
  const qLo = ctx.moduli.slice(0, level).map((q) => Number(q & 0xffffffffn));
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v === 0) continue;
    const x = Math.abs(v * delta);
    const xHi = Math.floor(x / TWO32);
    const xLo = x - xHi * TWO32;
    for (let j = 0; j < level; j++) {
      const h = qHi[j]!;
      const l = qLo[j]!;
      if (x <= Number.MAX_SAFE_INTEGER && (xHi < h || (xHi === h && xLo < l))) {
        if (v > 0) addResidue(words, j * N + i, xHi, xLo, h, l);
        else subResidue(words, j * N + i, xHi, xLo, h, l);
      } else {
        const q = ctx.moduli[j]!;
        let r = (BigInt(v) * deltaBig) % q;
        if (r < 0n) r += q;
        addResidue(words, j * N + i, Number(r >> 32n), Number(r & 0xffffffffn), h, l);
      }
    }
  }
}

/**
 * The NTT form of a ciphertext (SEAL's evaluator; deterministic, so every party and the
 * aggregator get the same bytes). Returns the input when it is already in NTT form.
 */
export function toNttForm(ctx: CkksContext, ciphertext: Uint8Array): Uint8Array {
  if (parseCiphertextMeta(ctx, ciphertext).isNttForm) return ciphertext; // SEAL's load checks the residues
  using scope = new SealScope();
  const ev = scope.track(new ctx.seal.Evaluator(ctx.context));
  const ct = scope.track(new ctx.seal.Ciphertext());
  ct.loadFromArray(ctx.context, ciphertext);
  ev.cipherTransformToNttInplace(ct);
  return saveBytes(ctx, ct, 'ciphertext');
}

/**
 * A party's packed encryptor under the collective public key, at one level. Reuse it for all
 * ciphertexts of a query; dispose it to free its SEAL objects.
 */
export class PackedEncryptor implements Disposable {
  readonly ctx: CkksContext;
  readonly level: number;
  /** Output form: coefficient form by default (what is sent; saves a SEAL round trip per ciphertext). */
  readonly nttForm: boolean;
  #scope = new SealScope();
  #encryptor: Encryptor;
  #evaluator: Evaluator;
  #zero: Plaintext;
  #ct: Ciphertext;
  #delta: number;
  #deltaBig: bigint;
  #meta: CiphertextMeta;
  #words: Uint32Array;

  constructor(ctx: CkksContext, publicKey: Uint8Array, level: number, options: { nttForm?: boolean } = {}) {
    ctx.checkLevel(level);
    this.ctx = ctx;
    this.level = level;
    this.nttForm = options.nttForm ?? false;
    const s = this.#scope;
    const pk = s.track(loadPublicKey(ctx, publicKey));
    this.#encryptor = s.track(new ctx.seal.Encryptor(ctx.context, pk));
    this.#evaluator = s.track(new ctx.seal.Evaluator(ctx.context));
    this.#delta = 2 ** ctx.params.scaleBits;
    this.#deltaBig = 1n << BigInt(ctx.params.scaleBits);
    this.#zero = s.track(zeroPlaintext(ctx, level, this.#delta));
    this.#ct = s.track(new ctx.seal.Ciphertext());
    this.#meta = { level, size: 2, isNttForm: false, scale: this.#delta, correctionFactor: 1n };
    this.#words = new Uint32Array(2 * 2 * level * ctx.N);
  }

  /** The residues of a fresh encryption of Δ·values (coefficient form), as u32 halves. */
  #encryptWords(values: ArrayLike<number>): Uint32Array {
    const { ctx, level } = this;
    const N = ctx.N;
    if (values.length > N) throw new RangeError(`values: at most N=${N} per ciphertext, got ${values.length}`);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isSafeInteger(v)) {
        throw new RangeError(`values[${i}]: expected an integer on the fixed-point grid with |v| < 2^53, got ${v}`);
      }
    }
    const ct = this.#ct;
    this.#encryptor.encrypt(this.#zero, ct);
    this.#evaluator.cipherTransformFromNttInplace(ct);
    const words = ciphertextWords(saveBytes(ctx, ct, 'ciphertext'), this.#words); // reused: consumed at once
    addScaledToWords(ctx, words, level, values, this.#delta, this.#deltaBig);
    return words;
  }

  /** Encrypts up to N integers (|v| ≤ 2^53 − 1) as one ciphertext; returns SEAL bytes. */
  encryptChunk(values: ArrayLike<number>): Uint8Array {
    const { ctx } = this;
    const bytes = ciphertextFromWords(ctx, this.#meta, this.#encryptWords(values));
    if (!this.nttForm) return bytes;
    const ct = this.#ct;
    ct.loadFromArray(ctx.context, bytes);
    this.#evaluator.cipherTransformToNttInplace(ct);
    return saveBytes(ctx, ct, 'ciphertext');
  }

  /**
   * Encrypts up to N integers as one coefficient-form ciphertext in the compact wire form
   * (wire.ts), packed straight from SEAL's residues: what a party sends.
   */
  encryptChunkPacked(values: ArrayLike<number>): Uint8Array {
    if (this.nttForm) throw new RangeError('encryptChunkPacked: the wire carries coefficient-form inputs; use an encryptor without nttForm');
    return packWords(this.ctx, this.#meta, this.#encryptWords(values));
  }

  /** Encrypts a whole vector in the compact wire form, N values per ciphertext. */
  encryptPacked(values: ArrayLike<number>): Uint8Array[] {
    return this.#chunks(values, (chunk) => this.encryptChunkPacked(chunk));
  }

  /**
   * encryptPacked in steps, one ciphertext each (a 10^6-value vector is ~120 ciphertexts of
   * ~7 ms): a service runs it with turns of its event loop in between (services/common/steps.ts).
   */
  *encryptPackedSteps(values: Float64Array): Generator<void, Uint8Array[], void> {
    const out: Uint8Array[] = [];
    const N = this.ctx.N;
    for (let off = 0; off < values.length; off += N) {
      out.push(this.encryptChunkPacked(values.subarray(off, Math.min(off + N, values.length))));
      yield;
    }
    return out;
  }

  /** Encrypts a whole vector, N values per ciphertext (the last one zero-padded); SEAL bytes. */
  encrypt(values: ArrayLike<number>): Uint8Array[] {
    return this.#chunks(values, (chunk) => this.encryptChunk(chunk));
  }

  #chunks(values: ArrayLike<number>, one: (chunk: ArrayLike<number>) => Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    const N = this.ctx.N;
    const arr = Array.isArray(values) || ArrayBuffer.isView(values) ? values : Array.from(values);
    for (let off = 0; off < values.length; off += N) {
      const end = Math.min(off + N, values.length);
      out.push(one(ArrayBuffer.isView(arr) ? (arr as Float64Array).subarray(off, end) : (arr as number[]).slice(off, end)));
    }
    return out;
  }

  [Symbol.dispose](): void {
    this.#scope[Symbol.dispose]();
  }
}

/** Homomorphic sum of ciphertexts with SEAL's evaluator (sum.ts; the form is kept). */
export function addCiphertexts(ctx: CkksContext, ciphertexts: readonly Uint8Array[]): Uint8Array {
  if (ciphertexts.length === 0) throw new RangeError('ciphertexts: expected at least one');
  using acc = new CiphertextAccumulator(ctx, 1);
  ciphertexts.forEach((c, i) => acc.add(0, c, `ciphertexts[${i}]`));
  return acc.sums(false)[0]!;
}

/**
 * Decodes a decrypted NTT-form plaintext (SEAL bytes) into `count` values: coefficients are
 * moved to coefficient form by SEAL's evaluator, lifted by CRT to (−Q/2, Q/2], and divided by Δ.
 * With `round` (the default) each value is rounded to the nearest integer, which is exact while
 * the noise stays below Δ/2 (docs/ckks-parameters.md); without it the raw quotient is returned,
 * which is only for measuring the error: raw CKKS outputs must not be released.
 */
export function decodePlaintext(ctx: CkksContext, plaintext: Uint8Array, count: number = ctx.N, round = true): Float64Array {
  const pt = parsePlaintext(ctx, plaintext);
  if (!Number.isInteger(count) || count < 0 || count > ctx.N) throw new RangeError(`count: expected 0..${ctx.N}, got ${count}`);
  if (pt.poly.every((x) => x === 0n)) return new Float64Array(count); // SEAL refuses a transparent (m, 0) = (0, 0)
  // Ask SEAL for the inverse NTT: the ciphertext (m, m) in NTT form, transformed back.
  using scope = new SealScope();
  const ev = scope.track(new ctx.seal.Evaluator(ctx.context));
  const tmp = scope.track(new ctx.seal.Ciphertext());
  tmp.loadFromArray(
    ctx.context,
    serializeCiphertext(ctx, { level: pt.level, isNttForm: true, scale: pt.scale, correctionFactor: 1n, polys: [pt.poly, pt.poly] }),
  );
  ev.cipherTransformFromNttInplace(tmp);
  const coeffs = parseCiphertext(ctx, saveBytes(ctx, tmp)).polys[0]!;
  const centered = toCenteredBigInts(coeffs, ctx.moduli, ctx.N);
  const bits = BigInt(ctx.params.scaleBits);
  const half = 1n << (bits - 1n);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const x = centered[i]!;
    if (round) out[i] = Number((x + half) >> bits);
    else {
      const whole = x >> bits;
      out[i] = Number(whole) + Number(x - (whole << bits)) / 2 ** ctx.params.scaleBits;
    }
  }
  return out;
}

/**
 * The analyst's side: decrypts PCKS results (ciphertexts under the analyst's own key) with plain
 * SEAL and decodes them. Dispose it to free the analyst's SEAL secret key.
 */
export class PackedDecryptor implements Disposable {
  readonly ctx: CkksContext;
  #scope = new SealScope();
  #decryptor;

  constructor(ctx: CkksContext, secretKey: Uint8Array) {
    this.ctx = ctx;
    const sk = this.#scope.track(loadSecretKey(ctx, secretKey, 'analystSecretKey'));
    this.#decryptor = this.#scope.track(new ctx.seal.Decryptor(ctx.context, sk));
  }

  /** The decrypted SEAL Plaintext bytes of one ciphertext. */
  decryptToPlaintext(ciphertext: Uint8Array): Uint8Array {
    using scope = new SealScope();
    const ct = scope.track(new this.ctx.seal.Ciphertext());
    ct.loadFromArray(this.ctx.context, toNttForm(this.ctx, ciphertext));
    const pt = scope.track(new this.ctx.seal.Plaintext());
    this.#decryptor.decrypt(ct, pt);
    return saveBytes(this.ctx, pt, 'plaintext');
  }

  /** Decrypts and decodes a packed vector of `length` values (rounded unless `round` is false). */
  decrypt(ciphertexts: readonly Uint8Array[], length: number, round = true): Float64Array {
    const N = this.ctx.N;
    if (ciphertextCount(this.ctx, length) !== ciphertexts.length) {
      throw new RangeError(`ciphertexts: ${length} values need ${ciphertextCount(this.ctx, length)} ciphertexts, got ${ciphertexts.length}`);
    }
    const out = new Float64Array(length);
    for (let c = 0; c < ciphertexts.length; c++) {
      const count = Math.min(N, length - c * N);
      out.set(decodePlaintext(this.ctx, this.decryptToPlaintext(ciphertexts[c]!), count, round), c * N);
    }
    return out;
  }

  [Symbol.dispose](): void {
    this.#scope[Symbol.dispose]();
  }
}
