/**
 * Randomness for the exact DP samplers: random sources, exact uniform integers and exact
 * Bernoulli trials, following Canonne, Kamath, Steinke, "The Discrete Gaussian for Differential
 * Privacy" (NeurIPS 2020, arXiv:2004.00010), §5, Algorithm 1 (Bernoulli(exp(−γ))).
 *
 * Everything on the sampling path is integer arithmetic: `bigint`, or JS numbers that hold
 * integers below 2^32 (exact). No floating-point probability is ever compared with a uniform.
 * What JavaScript cannot guarantee: constant time. The number of random draws and the running
 * time depend on the sampled value (as in CKS20's own implementation); see docs/dp.md.
 */
import { aes256Ctr, type Keystream } from '../aes-ctr.ts';
import { randomFill } from '../native.ts';
import { abytes } from '../bytes.ts';

/** A source of uniformly random bytes. Samplers draw all their randomness through it. */
export interface RandomSource {
  /** Fills `out` with uniform random bytes and returns it. */
  fill(out: Uint8Array): Uint8Array;
  /** A uniform integer in [0, 2^32). */
  uint32(): number;
}

const POOL_BYTES = 16384;

/** Serves `uint32()` from a pool refilled by `refill`, so small draws do not pay per call. */
abstract class PooledSource implements RandomSource {
  #pool = new Uint8Array(POOL_BYTES);
  #view = new DataView(this.#pool.buffer);
  #pos = POOL_BYTES;

  protected abstract refill(out: Uint8Array): void;

  fill(out: Uint8Array): Uint8Array {
    abytes(out, 'out');
    this.refill(out);
    return out;
  }

  uint32(): number {
    if (this.#pos + 4 > POOL_BYTES) {
      this.refill(this.#pool);
      this.#pos = 0;
    }
    const x = this.#view.getUint32(this.#pos, false);
    this.#pos += 4;
    return x;
  }
}

class CryptoSource extends PooledSource {
  protected refill(out: Uint8Array): void {
    randomFill(out);
  }
}

class SeededSource extends PooledSource {
  #cipher: Keystream;
  constructor(seed: Uint8Array) {
    super();
    abytes(seed, 'seed', 32);
    // AES-256-CTR keystream from counter block 0: encrypting zeros yields the keystream.
    this.#cipher = aes256Ctr(seed);
  }
  protected refill(out: Uint8Array): void {
    const ks = this.#cipher.next(out.length);
    out.set(ks);
  }
}

/** The operating system CSPRNG (node:crypto). Use this on every release path. */
export function cryptoRandomSource(): RandomSource {
  return new CryptoSource();
}

/**
 * A deterministic source: the AES-256-CTR keystream under a 32-byte `seed`. For tests and
 * reproducible simulations only; never for noise that protects real data.
 */
export function seededRandomSource(seed: Uint8Array): RandomSource {
  return new SeededSource(seed);
}

const TWO32 = 0x1_0000_0000;

/** A uniform float in [0, 1) with 53 random bits. */
export function uniform01(rng: RandomSource): number {
  const hi = rng.uint32() >>> 5; // 27 bits
  const lo = rng.uint32() >>> 6; // 26 bits
  return (hi * 67108864 + lo) / 9007199254740992;
}

/** Uniform integer in [0, n) for 1 ≤ n ≤ 2^32, by rejection (no modulo bias). */
export function uniformInt(n: number, rng: RandomSource): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > TWO32) {
    throw new RangeError(`n: expected an integer in [1, 2^32], got ${n}`);
  }
  // Accept x < limit, the largest multiple of n not above 2^32; then x mod n is uniform.
  const limit = TWO32 - (TWO32 % n);
  for (;;) {
    const x = rng.uint32();
    if (x < limit) return x % n;
  }
}

function bitLength(n: bigint): number {
  return n.toString(2).length;
}

/** Uniform integer in [0, n) for any bigint n ≥ 1, by rejection on the bit length of n − 1. */
export function uniformBigInt(n: bigint, rng: RandomSource): bigint {
  if (typeof n !== 'bigint') throw new TypeError('n: expected a bigint');
  if (n < 1n) throw new RangeError(`n: expected n ≥ 1, got ${n}`);
  if (n <= BigInt(TWO32)) return BigInt(uniformInt(Number(n), rng));
  const bits = bitLength(n - 1n);
  const words = Math.ceil(bits / 32);
  const topMask = bits % 32 === 0 ? 0xffffffff : 2 ** (bits % 32) - 1;
  for (;;) {
    let x = BigInt((rng.uint32() & topMask) >>> 0);
    for (let i = 1; i < words; i++) x = (x << 32n) | BigInt(rng.uint32());
    if (x < n) return x;
  }
}

/** Bernoulli(num/den), exact, for integers 0 ≤ num ≤ den, den ≥ 1. */
export function bernoulliRational(num: bigint, den: bigint, rng: RandomSource): boolean {
  if (typeof num !== 'bigint' || typeof den !== 'bigint') throw new TypeError('num, den: expected bigints');
  if (den < 1n || num < 0n || num > den) {
    throw new RangeError(`Bernoulli(num/den): expected 0 ≤ num ≤ den and den ≥ 1, got ${num}/${den}`);
  }
  if (num === 0n) return false;
  if (num === den) return true;
  if (den <= BigInt(TWO32)) return uniformInt(Number(den), rng) < Number(num);
  return expansionCompare(num, den, rng);
}

/**
 * Compares a uniform u ∈ [0, 1), drawn 32 bits at a time, with the base-2^32 expansion of
 * r/den (0 ≤ r < den): true iff u < r/den, decided at the first differing digit. Exact, and
 * expected ~1 step whatever the size of r and den.
 */
function expansionCompare(r: bigint, den: bigint, rng: RandomSource): boolean {
  for (;;) {
    r <<= 32n;
    const digit = Number(r / den);
    r %= den;
    const u = rng.uint32();
    if (u !== digit) return u < digit;
  }
}

/** Bernoulli(num/den) with the first base-2^32 digit precomputed, for repeated use. */
export interface PreparedBernoulli {
  readonly num: bigint;
  readonly den: bigint;
  /** ⌊2^32·num/den⌋ (2^32 when num = den). */
  readonly digit: number;
  /** (2^32·num) mod den. */
  readonly rem: bigint;
}

export function prepareBernoulli(num: bigint, den: bigint): PreparedBernoulli {
  if (typeof num !== 'bigint' || typeof den !== 'bigint') throw new TypeError('num, den: expected bigints');
  if (den < 1n || num < 0n || num > den) {
    throw new RangeError(`Bernoulli(num/den): expected 0 ≤ num ≤ den and den ≥ 1, got ${num}/${den}`);
  }
  const r = num << 32n;
  return { num, den, digit: Number(r / den), rem: r % den };
}

/** One exact Bernoulli(num/den) trial of a prepared probability: usually a single 32-bit draw. */
export function bernoulliPrepared(b: PreparedBernoulli, rng: RandomSource): boolean {
  const u = rng.uint32();
  if (u !== b.digit) return u < b.digit;
  return expansionCompare(b.rem, b.den, rng);
}

/**
 * Bernoulli(exp(−γ)) for rational γ = num/den ≥ 0 (CKS20 Algorithm 1). For γ ≤ 1: draw
 * A_k ~ Bernoulli(γ/k) for k = 1, 2, … until the first failure at step K; return K odd.
 * For γ > 1: ⌊γ⌋ independent Bernoulli(exp(−1)) trials, then Bernoulli(exp(−(γ − ⌊γ⌋))).
 */
export function bernoulliExpNeg(num: bigint, den: bigint, rng: RandomSource): boolean {
  if (typeof num !== 'bigint' || typeof den !== 'bigint') throw new TypeError('num, den: expected bigints');
  if (den < 1n || num < 0n) throw new RangeError(`γ = num/den: expected num ≥ 0 and den ≥ 1, got ${num}/${den}`);
  let whole = num / den;
  for (; whole > 0n; whole--) if (!bernoulliExpNegAtMostOne(1n, 1n, rng)) return false;
  return bernoulliExpNegAtMostOne(num % den, den, rng);
}

function bernoulliExpNegAtMostOne(num: bigint, den: bigint, rng: RandomSource): boolean {
  if (num === 0n) return true;
  // Small denominators: exact integer arithmetic in JS numbers (all values < 2^53).
  if (den < 1n << 20n) {
    const n = Number(num);
    const d = Number(den);
    let k = 1;
    for (;;) {
      const dk = d * k;
      const hit = dk <= TWO32 ? uniformInt(dk, rng) < n : uniformBigInt(BigInt(dk), rng) < num;
      if (!hit) return k % 2 === 1;
      k++;
    }
  }
  let k = 1n;
  for (;;) {
    if (!bernoulliRational(num, den * k, rng)) return k % 2n === 1n;
    k++;
  }
}
