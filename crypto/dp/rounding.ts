/**
 * Conditional stochastic rounding of a scaled real vector onto the integer grid, with a norm bound
 * that holds with probability 1 (Kairouz, Liu, Steinke, ICML 2021 (KLS21), Algorithm 1 lines 4–8
 * and Theorem 1 / Proposition 22 of the arXiv version 2102.06387; Agarwal, Kairouz, Liu,
 * NeurIPS 2021 (AKL21), §4, which reuses it for the Skellam mechanism).
 *
 * Input: z ∈ R^D (already rotated and scaled by γ, so ‖z‖₂ ≤ c := Cγ). Each coordinate is rounded
 * independently and unbiasedly: ⌊z_i⌋ + Bernoulli(z_i − ⌊z_i⌋). The draw is repeated until the
 * rounded vector r satisfies ‖r‖₂ ≤ Δ₂ with (KLS21 Theorem 1 / Algorithm 1, as implemented by
 * `rounded_l2_norm_bound` in google-research/federated distributed_dp/accounting_utils.py)
 *
 *     Δ₂ = min( √(c² + D/4 + √(2 ln(1/β))·(c + √D/2)),  c + √D ).                       (KLS21 eq. in Thm 1)
 *
 * An unconditioned rounding exceeds the first term with probability ≤ β; the second term is a
 * deterministic bound (|r_i − z_i| < 1), so when it is the minimum no draw is ever rejected.
 * After conditioning, every accepted r has ‖r‖₂ ≤ Δ₂ — checked here in exact integer arithmetic —
 * so adding or removing one rounded vector moves an integer sum by at most Δ₂ in L2 and, since the
 * coordinates are integers (|r_i| ≤ r_i²) and by Cauchy–Schwarz, at most Δ₁ = min(√D·Δ₂, Δ₂²)
 * in L1: the sensitivities the Skellam accountant needs (AKL21). Conditioning makes the rounding
 * slightly biased toward 0 (by at most what the rejected mass carries); KLS21 keep it, and so do we.
 *
 * The Bernoulli draws compare a 53-bit uniform with the float fraction: the rounding probabilities
 * are those of the float input (exactness is not needed for privacy, which rests on the norm check).
 */
import type { RandomSource } from './random.ts';

/** KLS21's default conditioning parameter: β = e^(−1/2). */
export const DEFAULT_BETA: number = Math.exp(-0.5);

/** Draws before giving up (each is rejected with probability ≤ β < 1). */
export const MAX_ROUNDING_ATTEMPTS = 10_000;

/** Thrown when no accepted rounding was found (input norm above the bound's c, or β too close to 1). */
export class RoundingRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RoundingRejectedError';
  }
}

/** Δ₂ of KLS21 Theorem 1 for a scaled norm c = Cγ, dimension D and β ∈ [0, 1) (β = 0: c + √D). */
export function roundedL2Bound(scaledNorm: number, D: number, beta: number = DEFAULT_BETA): number {
  if (!(scaledNorm > 0) || !Number.isFinite(scaledNorm)) {
    throw new RangeError(`scaledNorm: expected a finite value > 0, got ${scaledNorm}`);
  }
  if (!Number.isSafeInteger(D) || D < 1) throw new RangeError(`D: expected an integer ≥ 1, got ${D}`);
  if (!(beta >= 0 && beta < 1)) throw new RangeError(`beta: expected 0 ≤ β < 1, got ${beta}`);
  const c = scaledNorm;
  const deterministic = c + Math.sqrt(D);
  if (beta === 0) return deterministic;
  const sq = c * c + D / 4 + Math.sqrt(2 * Math.log(1 / beta)) * (c + Math.sqrt(D) / 2);
  return Math.min(deterministic, Math.sqrt(sq));
}

/** Δ₁ = min(√D·Δ₂, Δ₂²): the L1 bound on an integer vector of L2 norm ≤ Δ₂. */
export function roundedL1Bound(l2Bound: number, D: number): number {
  return l2Bound * Math.min(Math.sqrt(D), l2Bound);
}

/** Integer bound B² = ⌊Δ₂²⌋ compared exactly against Σ r_i² (both integers). */
export function squaredNormLimit(l2Bound: number): bigint {
  if (!(l2Bound > 0) || !Number.isFinite(l2Bound)) throw new RangeError(`l2Bound: expected a finite value > 0`);
  const sq = l2Bound * l2Bound;
  // Floor, shaded down by one ulp-scale amount so that float error never admits a vector above Δ₂².
  return BigInt(Math.floor(sq * (1 - 1e-15)));
}

const TWO_M53 = 2 ** -53;

/** A uniform double in [0, 1) with 53 random bits. */
function uniform53(rng: RandomSource): number {
  const hi = rng.uint32() >>> 5; // 27 bits
  const lo = rng.uint32() >>> 6; // 26 bits
  return (hi * 67108864 + lo) * TWO_M53;
}

/** One unconditioned unbiased stochastic rounding of z (into `out`, integers held as doubles). */
export function stochasticRound(z: Float64Array, rng: RandomSource, out: Float64Array = new Float64Array(z.length)): Float64Array {
  for (let i = 0; i < z.length; i++) {
    const v = z[i]!;
    const f = Math.floor(v);
    out[i] = uniform53(rng) < v - f ? f + 1 : f;
  }
  return out;
}

export interface ConditionalRounding {
  /** The accepted integer vector (as exact integers in a Float64Array). */
  readonly rounded: Float64Array;
  /** Number of draws made (1 + rejections). */
  readonly attempts: number;
}

/**
 * KLS21 Algorithm 1, conditional randomized rounding: stochastic rounding repeated until
 * Σ r_i² ≤ ⌊Δ₂²⌋ (exact). Requires |z_i| < 2^26 so every square and partial sum is exact.
 */
export function conditionalRound(z: Float64Array, l2Bound: number, rng: RandomSource): ConditionalRounding {
  if (!(z instanceof Float64Array)) throw new TypeError('z: expected a Float64Array');
  const limit = squaredNormLimit(l2Bound);
  if (limit > 2n ** 52n) throw new RangeError(`l2Bound: ${l2Bound} too large for exact norm checks (Δ₂² must be ≤ 2^52)`);
  const lim = Number(limit);
  for (let i = 0; i < z.length; i++) {
    const v = z[i]!;
    if (!Number.isFinite(v) || Math.abs(v) >= 2 ** 26) throw new RangeError(`z[${i}]: expected a finite value of magnitude < 2^26`);
  }
  const out = new Float64Array(z.length);
  for (let attempt = 1; attempt <= MAX_ROUNDING_ATTEMPTS; attempt++) {
    stochasticRound(z, rng, out);
    let sq = 0;
    let ok = true;
    for (let i = 0; i < out.length; i++) {
      sq += out[i]! * out[i]!; // each term ≤ 2^52 and the running sum stays ≤ lim + 2^52 < 2^53
      if (sq > lim) {
        ok = false;
        break;
      }
    }
    if (ok) return { rounded: out, attempts: attempt };
  }
  throw new RoundingRejectedError(
    `conditional rounding: no draw within the norm bound after ${MAX_ROUNDING_ATTEMPTS} attempts (is the input norm above the clip?)`,
  );
}
