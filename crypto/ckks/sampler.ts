/**
 * Integer-exact samplers for RLWE secrets and errors, from a CSPRNG (or an XOF for public
 * randomness). No floating point touches a probability: the discrete Gaussian is Canonne,
 * Kamath, Steinke, "The Discrete Gaussian for Differential Privacy" (NeurIPS 2020), Algorithm 3,
 * with σ² a rational number and every Bernoulli(exp(−γ)) decided on integers.
 */
import { randomFillSync } from 'node:crypto';
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
        randomFillSync(this.#pool);
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

const buf8 = new Uint8Array(8);
const dv8 = new DataView(buf8.buffer);

/** Uniform integer in [0, m) for 0 < m < 2^53, by rejection (no modulo bias). */
export function uniformBelow(m: number, rng: RandomSource = cryptoRandom): number {
  if (!Number.isSafeInteger(m) || m <= 0) throw new RangeError(`m: expected a safe positive integer, got ${m}`);
  if (m === 1) return 0;
  const bits = Math.ceil(Math.log2(m));
  for (;;) {
    rng.fill(buf8);
    // 53 random bits, then keep the low `bits`.
    const hi = dv8.getUint32(0, true) & 0x1fffff;
    const lo = dv8.getUint32(4, true);
    const x = (hi * 2 ** 32 + lo) % 2 ** bits;
    if (x < m) return x;
  }
}

/** Uniform BigInt in [0, m) for m > 0, by rejection. */
export function uniformBelowBig(m: bigint, rng: RandomSource = cryptoRandom): bigint {
  if (m <= 0n) throw new RangeError('m: expected a positive bound');
  if (m < 2n ** 53n) return BigInt(uniformBelow(Number(m), rng));
  const bits = m.toString(2).length;
  const bytes = new Uint8Array(Math.ceil(bits / 8));
  const mask = (1n << BigInt(bits)) - 1n;
  for (;;) {
    rng.fill(bytes);
    let x = 0n;
    for (const b of bytes) x = (x << 8n) | BigInt(b);
    x &= mask;
    if (x < m) return x;
  }
}

/** Bernoulli(n/d) for 0 ≤ n ≤ d. */
function bernoulli(n: bigint, d: bigint, rng: RandomSource): boolean {
  return uniformBelowBig(d, rng) < n;
}

/** Bernoulli(exp(−n/d)) for n/d ≥ 0 (CKS20 Algorithm 1). */
export function bernoulliExp(n: bigint, d: bigint, rng: RandomSource = cryptoRandom): boolean {
  if (n < 0n || d <= 0n) throw new RangeError('bernoulliExp: expected γ = n/d ≥ 0');
  let rest = n;
  while (rest > d) {
    // exp(−γ) = exp(−1)^⌊γ⌋ · exp(−frac)
    if (!bernoulliExp(1n, 1n, rng)) return false;
    rest -= d;
  }
  let k = 1n;
  for (;;) {
    if (!bernoulli(rest, d * k, rng)) break;
    k++;
  }
  return (k & 1n) === 1n;
}

/** Discrete Laplace with scale t (integer ≥ 1): P(x) ∝ exp(−|x|/t) (CKS20 Algorithm 2). */
export function discreteLaplace(t: bigint, rng: RandomSource = cryptoRandom): bigint {
  for (;;) {
    const u = uniformBelowBig(t, rng);
    if (!bernoulliExp(u, t, rng)) continue;
    let v = 0n;
    while (bernoulliExp(1n, 1n, rng)) v++;
    const x = u + t * v;
    rng.fill(buf8);
    const negative = (buf8[0]! & 1) === 1;
    if (negative && x === 0n) continue;
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
 * Discrete Gaussian D_{Z,σ} with σ² = sigma2Num / sigma2Den (CKS20 Algorithm 3), exact.
 * E.g. σ = 3.2 is (256n, 25n); σ = 2^30 is (2n ** 60n, 1n).
 */
export function discreteGaussian(sigma2Num: bigint, sigma2Den: bigint, rng: RandomSource = cryptoRandom): bigint {
  if (sigma2Num <= 0n || sigma2Den <= 0n) throw new RangeError('discreteGaussian: σ² must be positive');
  const t = isqrt(sigma2Num / sigma2Den) + 1n;
  for (;;) {
    const y = discreteLaplace(t, rng);
    const a = y < 0n ? -y : y;
    const num = a * t * sigma2Den - sigma2Num;
    // γ = (|y| − σ²/t)² / (2σ²)
    if (bernoulliExp(num * num, 2n * sigma2Num * t * t * sigma2Den, rng)) return y;
  }
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
  const out = new Array<bigint>(N);
  for (let i = 0; i < N; i++) out[i] = discreteGaussian(sigma2[0], sigma2[1], rng);
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
