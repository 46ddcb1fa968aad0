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
 * proposals per sample ≈ 6W·P(m) ≈ 2.4 for large λ. For large W, runs of factors are taken in
 * aligned groups of G ≈ √W/2 whose exact product trials are prepared once and cached (usually one
 * 32-bit draw each), so a proposal costs O(G + W/G) = O(λ^¼) steps after warm-up.
 */
import {
  bernoulliPrepared,
  bernoulliRational,
  prepareBernoulli,
  uniformBigInt,
  uniformInt,
  type PreparedBernoulli,
  type RandomSource,
} from './random.ts';
import { isqrt, positiveRational, type RationalLike } from './rational.ts';

const TWO32 = 0x1_0000_0000;

interface PoissonParams {
  readonly p: bigint;
  readonly q: bigint;
  readonly m: bigint;
  readonly w: bigint;
  /** p^W and q^W, computed on first use (only tail proposals need them). */
  pow?: { readonly p: bigint; readonly q: bigint };
  /** Prepared block trials: key "+l" for block l above the mode, "-g" for group g below it. */
  readonly blocks: Map<string, PreparedBernoulli>;
  /** Factor group size G (a power of two, 1 = no grouping) and p^G, q^G. */
  readonly g: bigint;
  readonly pG: bigint;
  readonly qG: bigint;
  /** Prepared group trials for aligned groups [a, a + G − 1], keyed by a. */
  readonly groups: Map<bigint, PreparedBernoulli>;
}

const MAX_CACHED_GROUPS = 4096;

function powers(pr: PoissonParams): { readonly p: bigint; readonly q: bigint } {
  pr.pow ??= { p: pr.p ** pr.w, q: pr.q ** pr.w };
  return pr.pow;
}

/** Prepared trial "2 × product of one full block" (see `accept`), cached per block. */
function blockTrial(pr: PoissonParams, key: string, above: boolean, lo: bigint, hi: bigint): PreparedBernoulli {
  let b = pr.blocks.get(key);
  if (b === undefined) {
    const qProd = powers(pr).q * rangeProduct(lo, hi);
    b = above ? prepareBernoulli(2n * powers(pr).p, qProd) : prepareBernoulli(2n * qProd, powers(pr).p);
    if (pr.blocks.size < 64) pr.blocks.set(key, b);
  }
  return b;
}

/**
 * Parameters (and their caches of prepared trials) for the last few μ used, so that callers
 * drawing one value at a time for the same μ do not rebuild them. Only derived constants are
 * kept — never a sampled value.
 */
const recentParams = new Map<string, PoissonParams>();
const MAX_RECENT_PARAMS = 8;

function params(mu: RationalLike): PoissonParams {
  const { num: p, den: q } = positiveRational(mu, 'mu');
  const key = `${p}/${q}`;
  let pr = recentParams.get(key);
  if (pr === undefined) {
    pr = buildParams(p, q);
    if (recentParams.size >= MAX_RECENT_PARAMS) recentParams.delete(recentParams.keys().next().value!);
    recentParams.set(key, pr);
  }
  return pr;
}

function buildParams(p: bigint, q: bigint): PoissonParams {
  const m = p / q;
  const w = isqrt(m) + 1n;
  // Group factors once blocks are wide: one exact Bernoulli of a G-factor product replaces G
  // single trials (same law: a conjunction of independent trials is a trial of the product).
  // G ≈ √W/2 balances the 2G single trials at the ends against the W/G group trials.
  let g = 1n;
  while (g * g * 4n <= w) g *= 2n;
  if (g < 8n) g = 1n;
  return { p, q, m, w, blocks: new Map(), g, pG: p ** g, qG: q ** g, groups: new Map() };
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

/** The prepared trial for the aligned group [a, a + G − 1] (above or below the mode). */
function groupTrial(pr: PoissonParams, above: boolean, a: bigint): PreparedBernoulli {
  let b = pr.groups.get(a);
  if (b === undefined) {
    const prod = rangeProduct(a, a + pr.g - 1n);
    b = above ? prepareBernoulli(pr.pG, pr.qG * prod) : prepareBernoulli(pr.qG * prod, pr.pG);
    if (pr.groups.size < MAX_CACHED_GROUPS) pr.groups.set(a, b);
  }
  return b;
}

/**
 * AND over i in [lo, hi] of the factor trials, using whole aligned groups of G factors where
 * they fit: above the mode Bernoulli(p^G/(q^G·Π i)), below it Bernoulli(q^G·Π i/p^G). A group
 * lies entirely on one side of the mode (above: i ≥ m + 1; below: i ≤ m), so its start a is key.
 */
function factors(pr: PoissonParams, above: boolean, lo: bigint, hi: bigint, rng: RandomSource): boolean {
  const singles = above ? aboveSingles : belowSingles;
  const { g } = pr;
  if (g === 1n || hi - lo + 1n < 2n * g) return singles(pr, lo, hi, rng);
  const first = ((lo + g - 1n) / g) * g; // first aligned group start ≥ lo
  if (!singles(pr, lo, first - 1n, rng)) return false;
  let a = first;
  for (; a + g - 1n <= hi; a += g) if (!bernoulliPrepared(groupTrial(pr, above, a), rng)) return false;
  return singles(pr, a, hi, rng);
}

/** AND over i in [lo, hi] of Bernoulli(p/(q·i)); requires q·i ≥ p. */
function aboveSingles(pr: PoissonParams, lo: bigint, hi: bigint, rng: RandomSource): boolean {
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
function belowSingles(pr: PoissonParams, lo: bigint, hi: bigint, rng: RandomSource): boolean {
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
    if (h === 0n) return factors(pr, true, m + 1n, k, rng);
    if (!factors(pr, true, m + 1n, m + w, rng)) return false;
    if (!factors(pr, true, m + (h + 1n) * w + 1n, k, rng)) return false;
    for (let l = 1n; l <= h; l++) {
      // Block l: i in [m + lW + 1, m + (l+1)W]; 2 · p^W / (q^W · Π i) ≤ 1.
      if (!bernoulliPrepared(blockTrial(pr, `+${l}`, true, m + l * w + 1n, m + (l + 1n) * w), rng)) return false;
    }
    return true;
  }
  const h = j <= -3n ? -j - 2n : 0n;
  if (h === 0n) return factors(pr, false, k + 1n, m, rng);
  if (!factors(pr, false, m - w + 1n, m, rng)) return false;
  if (!factors(pr, false, k + 1n, m - (h + 1n) * w, rng)) return false;
  for (let g = 1n; g <= h; g++) {
    // Group g: i in [m − (g+1)W + 1, m − gW]; 2 · q^W · Π i / p^W ≤ 1.
    if (!bernoulliPrepared(blockTrial(pr, `-${g}`, false, m - (g + 1n) * w + 1n, m - g * w), rng)) return false;
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
