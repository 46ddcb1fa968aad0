/**
 * Exact Poisson and Skellam samplers for a rational mean μ, from exact uniform integers and
 * exact rational Bernoulli trials only (no floating point, no exp/log tables).
 *
 * Skellam(μ) = Poisson(μ) − Poisson′(μ) (independent): mean 0, variance 2μ. A sum of independent
 * Skellam(μ_i) is Skellam(Σμ_i), which is what makes it the distributed-noise default
 * (Agarwal, Kairouz, Liu, "The Skellam Mechanism for Differentially Private Federated Learning",
 * NeurIPS 2021).
 *
 * Poisson(λ), λ = p/q: rejection sampling against a piecewise-constant envelope, exact because
 * the Poisson pmf relative to its mode m = ⌊λ⌋ is a product of rationals:
 *   r(k) = P(k)/P(m) = Π_{i=m+1..k} λ/i  (k ≥ m),   Π_{i=k+1..m} i/λ  (k < m),   all factors ≤ 1.
 * The integers are cut into blocks B_j = [m + jW, m + (j+1)W) of width W = ⌊√m⌋ + 1 (so W² > λ).
 * Envelope: e_j = 1 for j ∈ {−2, −1, 0, 1}; e_j = 2^−(j−1) for j ≥ 2; e_j = 2^−(|j|−2) for j ≤ −3.
 * It dominates r because every full block of factors after the first has product ≤ 1/2:
 *   above the mode each factor is ≤ λ/(λ+W) and (1 + W/λ)^W ≥ 1 + W²/λ ≥ 2;
 *   below the mode (g ≥ 1 blocks down) each factor is ≤ 1 − W/λ and (1 − W/λ)^W ≤ 1/(1 + W²/λ) ≤ 1/2.
 * Proposal: block j with probability e_j / 6 (total envelope mass is 6 blocks), k uniform in B_j;
 * accept with probability r(k)/e_j, evaluated as a conjunction of independent exact Bernoulli
 * trials (single factors, and "2 × product of a full block" for each halving). Expected
 * proposals per sample ≈ 6W·P(m) ≈ 2.4 for large λ; cost per proposal O(√λ) integer steps.
 */
import { bernoulliRational, uniformBigInt, uniformInt, type RandomSource } from './random.ts';
import { isqrt, positiveRational, type RationalLike } from './rational.ts';

const TWO32 = 0x1_0000_0000;

interface PoissonParams {
  readonly p: bigint;
  readonly q: bigint;
  readonly m: bigint;
  readonly w: bigint;
  /** p^W and q^W, computed on first use (only tail proposals need them). */
  pow?: { readonly p: bigint; readonly q: bigint };
  /** Cached block products: key "+l" → q^W·Π i above the mode, "-g" → q^W·Π i below it. */
  readonly blocks: Map<string, bigint>;
}

function powers(pr: PoissonParams): { readonly p: bigint; readonly q: bigint } {
  pr.pow ??= { p: pr.p ** pr.w, q: pr.q ** pr.w };
  return pr.pow;
}

function block(pr: PoissonParams, key: string, lo: bigint, hi: bigint): bigint {
  let v = pr.blocks.get(key);
  if (v === undefined) {
    v = powers(pr).q * rangeProduct(lo, hi);
    if (pr.blocks.size < 64) pr.blocks.set(key, v);
  }
  return v;
}

function params(mu: RationalLike): PoissonParams {
  const { num: p, den: q } = positiveRational(mu, 'mu');
  const m = p / q;
  const w = isqrt(m) + 1n;
  return { p, q, m, w, blocks: new Map() };
}

/** Product of the integers in [lo, hi] (lo ≤ hi + 1), by a balanced product tree. */
function rangeProduct(lo: bigint, hi: bigint): bigint {
  if (lo > hi) return 1n;
  if (hi - lo < 16n) {
    let r = 1n;
    for (let i = lo; i <= hi; i++) r *= i;
    return r;
  }
  const mid = (lo + hi) / 2n;
  return rangeProduct(lo, mid) * rangeProduct(mid + 1n, hi);
}

/** AND over i in [lo, hi] of Bernoulli(p/(q·i)); requires q·i ≥ p. */
function aboveFactors(pr: PoissonParams, lo: bigint, hi: bigint, rng: RandomSource): boolean {
  if (lo > hi) return true;
  const { p, q } = pr;
  if (q * hi <= BigInt(TWO32)) {
    const pn = Number(p);
    const qn = Number(q);
    for (let i = Number(lo), end = Number(hi); i <= end; i++) if (uniformInt(qn * i, rng) >= pn) return false;
    return true;
  }
  for (let i = lo; i <= hi; i++) if (!bernoulliRational(p, q * i, rng)) return false;
  return true;
}

/** AND over i in [lo, hi] of Bernoulli(q·i/p); requires 1 ≤ i and q·i ≤ p. */
function belowFactors(pr: PoissonParams, lo: bigint, hi: bigint, rng: RandomSource): boolean {
  if (lo > hi) return true;
  const { p, q } = pr;
  if (p <= BigInt(TWO32)) {
    const pn = Number(p);
    const qn = Number(q);
    for (let i = Number(lo), end = Number(hi); i <= end; i++) if (uniformInt(pn, rng) >= qn * i) return false;
    return true;
  }
  for (let i = lo; i <= hi; i++) if (!bernoulliRational(q * i, p, rng)) return false;
  return true;
}

/** Geometric G ≥ 1 with P[G = g] = 2^−g. */
function geometricHalf(rng: RandomSource): bigint {
  let g = 1n;
  while ((rng.uint32() & 1) === 1) g++;
  return g;
}

/** Accepts k with probability r(k)/e_j (see the file comment). */
function accept(pr: PoissonParams, k: bigint, j: bigint, rng: RandomSource): boolean {
  const { m, w } = pr;
  if (k >= m) {
    const h = j >= 2n ? j - 1n : 0n;
    if (h === 0n) return aboveFactors(pr, m + 1n, k, rng);
    if (!aboveFactors(pr, m + 1n, m + w, rng)) return false;
    if (!aboveFactors(pr, m + (h + 1n) * w + 1n, k, rng)) return false;
    for (let l = 1n; l <= h; l++) {
      // Block l: i in [m + lW + 1, m + (l+1)W]; 2 · p^W / (q^W · Π i) ≤ 1.
      const den = block(pr, `+${l}`, m + l * w + 1n, m + (l + 1n) * w);
      if (!bernoulliRational(2n * powers(pr).p, den, rng)) return false;
    }
    return true;
  }
  const h = j <= -3n ? -j - 2n : 0n;
  if (h === 0n) return belowFactors(pr, k + 1n, m, rng);
  if (!belowFactors(pr, m - w + 1n, m, rng)) return false;
  if (!belowFactors(pr, k + 1n, m - (h + 1n) * w, rng)) return false;
  for (let g = 1n; g <= h; g++) {
    // Group g: i in [m − (g+1)W + 1, m − gW]; 2 · q^W · Π i / p^W ≤ 1.
    const num = 2n * block(pr, `-${g}`, m - (g + 1n) * w + 1n, m - g * w);
    if (!bernoulliRational(num, powers(pr).p, rng)) return false;
  }
  return true;
}

function checkLength(length: number): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`length: expected a non-negative integer, got ${length}`);
  }
}

function poissonWith(pr: PoissonParams, rng: RandomSource): bigint {
  for (;;) {
    let j: bigint;
    switch (uniformInt(6, rng)) {
      case 0: j = 0n; break;
      case 1: j = 1n; break;
      case 2: j = 1n + geometricHalf(rng); break;
      case 3: j = -1n; break;
      case 4: j = -2n; break;
      default: j = -2n - geometricHalf(rng);
    }
    const k = pr.m + j * pr.w + uniformBigInt(pr.w, rng);
    if (k < 0n) continue;
    if (accept(pr, k, j, rng)) return k;
  }
}

/** One draw from Poisson(μ), μ > 0 given exactly (number, "p/q", decimal string or Rational). */
export function samplePoisson(mu: RationalLike, rng: RandomSource): bigint {
  return poissonWith(params(mu), rng);
}

/** `length` independent Poisson(μ) draws (parameters prepared once). */
export function samplePoissonVector(mu: RationalLike, length: number, rng: RandomSource): bigint[] {
  checkLength(length);
  const pr = params(mu);
  const out = new Array<bigint>(length);
  for (let i = 0; i < length; i++) out[i] = poissonWith(pr, rng);
  return out;
}

/** One draw from Skellam(μ) = Poisson(μ) − Poisson(μ): mean 0, variance 2μ. */
export function sampleSkellam(mu: RationalLike, rng: RandomSource): bigint {
  const pr = params(mu);
  return poissonWith(pr, rng) - poissonWith(pr, rng);
}

/** `length` independent Skellam(μ) draws. */
export function sampleSkellamVector(mu: RationalLike, length: number, rng: RandomSource): bigint[] {
  checkLength(length);
  const pr = params(mu);
  const out = new Array<bigint>(length);
  for (let i = 0; i < length; i++) out[i] = poissonWith(pr, rng) - poissonWith(pr, rng);
  return out;
}
