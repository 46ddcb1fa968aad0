/**
 * Exact discrete Laplace and discrete Gaussian samplers of Canonne, Kamath, Steinke,
 * "The Discrete Gaussian for Differential Privacy" (NeurIPS 2020, arXiv:2004.00010):
 * Algorithm 2 (discrete Laplace Lap_Z(t/s)) and Algorithm 3 (discrete Gaussian N_Z(0, σ²) by
 * rejection from Lap_Z(t) with t = ⌊σ⌋ + 1). σ² is an exact rational; all arithmetic is integer.
 *
 * N_Z(0, σ²) has pmf P[X = x] ∝ exp(−x²/(2σ²)) on the integers; its variance is slightly below σ²
 * (CKS20 Proposition 5 / Corollary 9: Var ≤ σ², and within 10⁻¹² relative for σ ≥ 1).
 */
import { bernoulliExpNeg, uniformBigInt, type RandomSource } from './random.ts';
import { isqrt, positiveRational, type RationalLike } from './rational.ts';

function checkLength(length: number): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`length: expected a non-negative integer, got ${length}`);
  }
}

/**
 * Discrete Laplace Lap_Z(t/s): P[X = x] ∝ exp(−|x|·s/t), for integers s, t ≥ 1 (CKS20 Alg. 2).
 */
export function sampleDiscreteLaplace(s: bigint, t: bigint, rng: RandomSource): bigint {
  if (typeof s !== 'bigint' || typeof t !== 'bigint') throw new TypeError('s, t: expected bigints');
  if (s < 1n || t < 1n) throw new RangeError(`s, t: expected integers ≥ 1, got s=${s}, t=${t}`);
  for (;;) {
    const u = uniformBigInt(t, rng);
    if (!bernoulliExpNeg(u, t, rng)) continue;
    let v = 0n;
    while (bernoulliExpNeg(1n, 1n, rng)) v++;
    const y = (u + t * v) / s;
    const negative = (rng.uint32() & 1) === 1;
    if (negative && y === 0n) continue;
    return negative ? -y : y;
  }
}

/** Parameters of Algorithm 3 precomputed once per σ² (σ² = p/q, t = ⌊σ⌋ + 1). */
interface DiscreteGaussianParams {
  readonly p: bigint;
  readonly q: bigint;
  readonly t: bigint;
  /** Denominator of the rejection exponent, 2·p·q·t². */
  readonly gammaDen: bigint;
}

function params(sigma2: RationalLike): DiscreteGaussianParams {
  const { num: p, den: q } = positiveRational(sigma2, 'sigma2');
  const t = isqrt(p / q) + 1n; // ⌊√(p/q)⌋ = ⌊√⌊p/q⌋⌋
  return { p, q, t, gammaDen: 2n * p * q * t * t };
}

function sampleWith(pr: DiscreteGaussianParams, rng: RandomSource): bigint {
  const { p, q, t, gammaDen } = pr;
  for (;;) {
    const y = sampleDiscreteLaplace(1n, t, rng);
    const a = y < 0n ? -y : y;
    // Accept with probability exp(−(|y| − σ²/t)² / (2σ²)) = exp(−(|y|·q·t − p)² / (2·p·q·t²)).
    const d = a * q * t - p;
    if (bernoulliExpNeg(d * d, gammaDen, rng)) return y;
  }
}

/** One draw from N_Z(0, σ²), σ² > 0 given exactly (number, "p/q", decimal string or Rational). */
export function sampleDiscreteGaussian(sigma2: RationalLike, rng: RandomSource): bigint {
  return sampleWith(params(sigma2), rng);
}

/** `length` independent draws from N_Z(0, σ²). */
export function sampleDiscreteGaussianVector(sigma2: RationalLike, length: number, rng: RandomSource): bigint[] {
  checkLength(length);
  const pr = params(sigma2);
  const out = new Array<bigint>(length);
  for (let i = 0; i < length; i++) out[i] = sampleWith(pr, rng);
  return out;
}
