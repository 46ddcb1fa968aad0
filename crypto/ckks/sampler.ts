/**
 * Integer-exact samplers for RLWE secrets and errors, from a CSPRNG (or an XOF for public
 * randomness). No floating point touches a probability: the discrete Gaussian is Canonne,
 * Kamath, Steinke, "The Discrete Gaussian for Differential Privacy" (NeurIPS 2020), Algorithm 3,
 * with σ² a rational number and every Bernoulli(exp(−γ)) decided on integers.
 */
import { randomFill } from '../native.ts';
import type { RnsPoly } from './rns.ts';

/** A source of uniformly random bytes. */
export interface RandomSource {
  fill(out: Uint8Array): void;
}

const POOL = 1 << 16;

/** node:crypto's CSPRNG, drawn in 64 KiB blocks (each block is zeroed after use). */
export class CryptoRandom implements RandomSource {
  #pool = new Uint8Array(POOL);
  #pos = POOL;

  fill(out: Uint8Array): void {
    let off = 0;
    while (off < out.length) {
      if (this.#pos === POOL) {
        randomFill(this.#pool);
        this.#pos = 0;
      }
      const n = Math.min(out.length - off, POOL - this.#pos);
      out.set(this.#pool.subarray(this.#pos, this.#pos + n), off);
      this.#pool.fill(0, this.#pos, this.#pos + n);
      this.#pos += n;
      off += n;
    }
  }
}

export const cryptoRandom: RandomSource = new CryptoRandom();

/** 32-bit words drawn from a RandomSource in blocks (zeroed as they are consumed). */
class Words {
  #rng: RandomSource;
  #bytes = new Uint8Array(4096);
  #words = new Uint32Array(this.#bytes.buffer);
  #pos = this.#words.length;

  constructor(rng: RandomSource) {
    this.#rng = rng;
  }

  u32(): number {
    if (this.#pos === this.#words.length) {
      this.#rng.fill(this.#bytes);
      this.#pos = 0;
    }
    const w = this.#words[this.#pos]!;
    this.#words[this.#pos++] = 0;
    return w;
  }
}

const wordCache = new WeakMap<RandomSource, Words>();
function wordsOf(rng: RandomSource): Words {
  let w = wordCache.get(rng);
  if (!w) {
    w = new Words(rng);
    wordCache.set(rng, w);
  }
  return w;
}

/** Uniform integer in [0, m) for 0 < m ≤ 2^53, by rejection (no modulo bias). */
function uniformNum(m: number, w: Words): number {
  if (m <= 0x100000000) {
    if (m === 1) return 0;
    const bits = 32 - Math.clz32(m - 1);
    const mask = bits === 32 ? 0xffffffff : (1 << bits) - 1;
    for (;;) {
      const x = (w.u32() & mask) >>> 0;
      if (x < m) return x;
    }
  }
  const hiBound = Math.ceil(m / 0x100000000);
  const bits = 32 - Math.clz32(hiBound - 1);
  const mask = (1 << bits) - 1;
  for (;;) {
    const x = ((w.u32() & mask) >>> 0) * 0x100000000 + w.u32();
    if (x < m) return x;
  }
}

/** Uniform BigInt in [0, m) for m > 0, by rejection. */
export function uniformBelowBig(m: bigint, rng: RandomSource = cryptoRandom): bigint {
  if (m <= 0n) throw new RangeError('m: expected a positive bound');
  const w = wordsOf(rng);
  if (m <= 2n ** 53n) return BigInt(uniformNum(Number(m), w));
  const bits = m.toString(2).length;
  const words = Math.ceil(bits / 32);
  const mask = (1n << BigInt(bits)) - 1n;
  for (;;) {
    let x = 0n;
    for (let i = 0; i < words; i++) x = (x << 32n) | BigInt(w.u32());
    x &= mask;
    if (x < m) return x;
  }
}

const SAFE = 2 ** 53;

/** Bernoulli(n/d), 0 ≤ n ≤ d: a uniform fraction compared with n/d one 32-bit digit at a time. */
function bernoulliBig(n: bigint, d: bigint, w: Words): boolean {
  return bernoulliBigFrom(n, d, w.u32(), w);
}

/** bernoulliBig with its first 32-bit digit `u` already drawn. */
function bernoulliBigFrom(n: bigint, d: bigint, first: number, w: Words): boolean {
  let r = n;
  let u = first;
  for (;;) {
    r <<= 32n;
    const digit = Number(r / d);
    r %= d;
    if (u !== digit) return u < digit;
    if (r === 0n) return false;
    u = w.u32();
  }
}

/**
 * Bernoulli(exp(−γ)) for γ = g/den ≥ 0, deciding each step in float64 where that is provably
 * the same decision as bernoulliExpBig and falling back to it (same random words) where not, so
 * the output is identical for every random stream. `gammaF` approximates γ with relative error
 * below 2^−50 (here: nf²/Number(den) with nf = Number(num) or σ·(|y| − σ): one rounding each,
 * at most 5 roundings of 2^−53 in all). Only γ < 2^10 not within 2^−20 of
 * an integer takes the float path; the comparisons against each 32-bit digit use a margin of
 * 1/16 where the float error is below 2^−8 (γ < 2^10: |Δx| ≤ 2^32·(2^10·2^−50.7 + 2^−52)).
 */
function bernoulliExpFast(g: () => bigint, den: bigint, gammaF: number, w: Words): boolean {
  const whole = Math.floor(gammaF);
  const near = Math.min(gammaF - whole, whole + 1 - gammaF);
  if (!(gammaF < 1024) || near < 2 ** -20) return bernoulliExpBig(g(), den, w);
  // The exact loop subtracts one unit while rest > den: exactly `whole` times here (γ ∉ Z).
  for (let i = 0; i < whole; i++) if (!bernoulliExpNum(1, 1, w)) return false;
  const frac = gammaF - whole;
  for (let k = 1; ; k++) {
    // bernoulliBig(rest, den·k): first digit floor(2^32·frac/k), known to within the margin.
    const x = (frac / k) * 0x100000000;
    const u = w.u32();
    let success: boolean;
    if (u < Math.floor(x - 1 / 16)) success = true;
    else if (u > Math.floor(x + 1 / 16)) success = false;
    else success = bernoulliBigFrom(g() - BigInt(whole) * den, den * BigInt(k), u, w);
    if (!success) return (k & 1) === 1;
  }
}

/** Bernoulli(exp(−n/d)), Numbers with d·k < 2^53 (CKS20 Algorithm 1). */
function bernoulliExpNum(n: number, d: number, w: Words): boolean {
  let rest = n;
  while (rest > d) {
    if (!bernoulliExpNum(1, 1, w)) return false;
    rest -= d;
  }
  let k = 1;
  while (d * k < SAFE && uniformNum(d * k, w) < rest) k++;
  // Past 2^53 the same loop continues exactly in BigInt (reached with probability < 1/8192!).
  if (d * k >= SAFE) return bernoulliExpLoopBig(BigInt(rest), BigInt(d), BigInt(k), w);
  return (k & 1) === 1;
}

/** The K loop of CKS20 Algorithm 1 from K = k on: Bernoulli(rest/(d·K)) until the first failure. */
function bernoulliExpLoopBig(rest: bigint, d: bigint, k: bigint, w: Words): boolean {
  while (bernoulliBig(rest, d * k, w)) k++;
  return (k & 1n) === 1n;
}

function bernoulliExpBig(n: bigint, d: bigint, w: Words): boolean {
  let rest = n;
  while (rest > d) {
    if (!bernoulliExpNum(1, 1, w)) return false;
    rest -= d;
  }
  return bernoulliExpLoopBig(rest, d, 1n, w);
}

/** Bernoulli(exp(−n/d)) for n/d ≥ 0 (CKS20 Algorithm 1), exact. */
export function bernoulliExp(n: bigint, d: bigint, rng: RandomSource = cryptoRandom): boolean {
  if (n < 0n || d <= 0n) throw new RangeError('bernoulliExp: expected γ = n/d ≥ 0');
  const w = wordsOf(rng);
  if (d < 2n ** 40n && n < 2n ** 53n) return bernoulliExpNum(Number(n), Number(d), w);
  return bernoulliExpBig(n, d, w);
}

/** Discrete Laplace with integer scale 1 ≤ t < 2^40: P(x) ∝ exp(−|x|/t) (CKS20 Algorithm 2). */
function discreteLaplaceNum(t: number, w: Words): number {
  for (;;) {
    const u = uniformNum(t, w);
    if (!bernoulliExpNum(u, t, w)) continue;
    let v = 0;
    while (bernoulliExpNum(1, 1, w)) v++;
    const x = u + t * v;
    const negative = (w.u32() & 1) === 1;
    if (negative && x === 0) continue;
    return negative ? -x : x;
  }
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x;
}

/**
 * A sampler of D_{Z,σ} with σ² = sigma2Num / sigma2Den (CKS20 Algorithm 3), exact, for σ < 2^39;
 * the constants are computed once. Samples are returned as Numbers (|x| < 2^53 for such σ).
 * The Laplace scale is t = ⌊σ⌋ + 1 as in CKS20, or t = σ when σ is an integer (e.g. the flooding
 * σ = 2^k): Algorithm 3 is exact for any integer t > 0 — P[Y = y, accept] ∝
 * exp(−|y|/t − (|y| − σ²/t)²/(2σ²)) = exp(−y²/(2σ²) − σ²/(2t²)) — and a power-of-two t makes
 * the uniform draws below t (and 2t) rejection-free.
 */
export function discreteGaussianSampler(sigma2Num: bigint, sigma2Den: bigint, rng: RandomSource = cryptoRandom, options: { bigIntOnly?: boolean } = {}): () => number {
  if (sigma2Num <= 0n || sigma2Den <= 0n) throw new RangeError('discreteGaussian: σ² must be positive');
  const root = isqrt(sigma2Num / sigma2Den);
  const tBig = sigma2Num % sigma2Den === 0n && root * root === sigma2Num / sigma2Den ? root : root + 1n;
  if (tBig >= 2n ** 40n) throw new RangeError('discreteGaussian: σ must be below 2^39');
  const t = Number(tBig);
  const w = wordsOf(rng);
  const den = 2n * sigma2Num * tBig * tBig * sigma2Den;
  const small = den < 2n ** 40n;
  const scale = tBig * sigma2Den;
  const denF = Number(den);
  // σ an integer (t = σ, σ² = sigma2Num): num = |y|·σ − σ² = σ·(|y| − σ), whose float64 value
  // σ·(|y| − σ) has one rounding (|y| − σ is exact below 2^53): no BigInt unless a decision needs it.
  const integerSigma = sigma2Den === 1n && tBig * tBig === sigma2Num && !options.bigIntOnly && !small;
  return () => {
    for (;;) {
      const y = discreteLaplaceNum(t, w);
      const ay = Math.abs(y);
      if (integerSigma && ay < 2 ** 52) {
        const nf = t * (ay - t);
        if (bernoulliExpFast(() => (BigInt(ay) * scale - sigma2Num) ** 2n, den, (nf * nf) / denF, w)) return y;
        continue;
      }
      const num = BigInt(ay) * scale - sigma2Num;
      // γ = (|y| − σ²/t)² / (2σ²)
      let accept: boolean;
      if (small) {
        const g = num * num;
        accept = g < 2n ** 53n ? bernoulliExpNum(Number(g), Number(den), w) : bernoulliExpBig(g, den, w);
      } else if (options.bigIntOnly) {
        accept = bernoulliExpBig(num * num, den, w);
      } else {
        const nf = Number(num);
        accept = bernoulliExpFast(() => num * num, den, (nf * nf) / denF, w);
      }
      if (accept) return y;
    }
  };
}

/** One sample of D_{Z,σ} with σ² = sigma2Num / sigma2Den (see discreteGaussianSampler). */
export function discreteGaussian(sigma2Num: bigint, sigma2Den: bigint, rng: RandomSource = cryptoRandom): bigint {
  return BigInt(discreteGaussianSampler(sigma2Num, sigma2Den, rng)());
}

/** σ² as an exact fraction for σ = 3.2 (the RLWE error of SEAL and the HE standard). */
export const SMALL_SIGMA2: readonly [bigint, bigint] = [256n, 25n];

/** σ² for σ = 2^bits (flooding noise). */
export function powerOfTwoSigma2(bits: number): [bigint, bigint] {
  if (!Number.isInteger(bits) || bits < 0 || bits > 60) throw new RangeError(`bits: expected 0..60, got ${bits}`);
  return [1n << BigInt(2 * bits), 1n];
}

/** N discrete Gaussian integers with variance σ² = num/den. */
export function gaussianVector(N: number, sigma2: readonly [bigint, bigint], rng: RandomSource = cryptoRandom): bigint[] {
  const sample = discreteGaussianSampler(sigma2[0], sigma2[1], rng);
  const out = new Array<bigint>(N);
  for (let i = 0; i < N; i++) out[i] = BigInt(sample());
  return out;
}

/** N discrete Gaussian integers as a Float64Array (exact: σ < 2^39 keeps every sample < 2^53). */
export function gaussianNumbers(N: number, sigma2: readonly [bigint, bigint], rng: RandomSource = cryptoRandom): Float64Array {
  const sample = discreteGaussianSampler(sigma2[0], sigma2[1], rng);
  const out = new Float64Array(N);
  for (let i = 0; i < N; i++) out[i] = sample();
  return out;
}

/** N coefficients uniform in {−1, 0, 1} (the ternary secret distribution SEAL uses). */
export function ternaryVector(N: number, rng: RandomSource = cryptoRandom): Int8Array {
  const out = new Int8Array(N);
  const bytes = new Uint8Array(N + 64);
  let filled = 0;
  while (filled < N) {
    rng.fill(bytes);
    for (let i = 0; i < bytes.length && filled < N; i++) {
      const b = bytes[i]!;
      if (b < 255) out[filled++] = (b % 3) - 1;
    }
  }
  bytes.fill(0);
  return out;
}

/**
 * A polynomial with residues uniform modulo each of the first `level` primes, by rejection
 * sampling on 8-byte draws masked to the prime's bit length. Uniform residues are uniform in
 * either domain (the NTT is a bijection), so the result serves as an NTT-form polynomial.
 */
export function uniformPoly(moduli: readonly bigint[], N: number, level: number, rng: RandomSource = cryptoRandom): RnsPoly {
  const out = new BigUint64Array(level * N);
  const chunk = new Uint8Array(8 * 512);
  const view = new BigUint64Array(chunk.buffer);
  for (let j = 0; j < level; j++) {
    const q = moduli[j]!;
    const mask = (1n << BigInt(q.toString(2).length)) - 1n;
    let i = j * N;
    const end = i + N;
    while (i < end) {
      rng.fill(chunk);
      for (let k = 0; k < view.length && i < end; k++) {
        const x = view[k]! & mask;
        if (x < q) out[i++] = x;
      }
    }
  }
  return out;
}
