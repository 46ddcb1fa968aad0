/**
 * Rényi-DP accounting for a training job: T rounds, each a Poisson-subsampled (rate q) Gaussian or
 * Skellam mechanism; RDP composes by addition over rounds, and the total converts to (ε, δ).
 *
 * - Sampled Gaussian mechanism (noise multiplier z = σ/Δ₂), integer order α ≥ 2 (Mironov, Talwar,
 *   Zhang, "Rényi Differential Privacy of the Sampled Gaussian Mechanism", 2019, §3.3):
 *     RDP(α) = ln A_α / (α − 1),  A_α = Σ_{k=0..α} C(α,k) (1−q)^(α−k) q^k exp((k² − k)/(2z²)),
 *   evaluated as a log-sum-exp (all terms positive), as TF Privacy's `_compute_log_a_int` does.
 * - Skellam mechanism, total parameter μ (variance 2μ), L1/L2 sensitivities Δ₁, Δ₂ (Agarwal,
 *   Kairouz, Liu, NeurIPS 2021, Theorem 3.5 / Corollary):
 *     ε(α) = αΔ₂²/(4μ) + min( ((2α−1)Δ₂² + 6Δ₁)/(16μ²), 3Δ₁/(4μ) ),
 *   i.e. the Gaussian's α/(2z²) (with z² = 2μ/Δ₂²) plus a correction that vanishes as μ grows.
 *   Poisson subsampling of a general mechanism: Zhu and Wang, "Poisson Subsampled Rényi
 *   Differential Privacy", ICML 2019, Theorem 5 (the general upper bound), integer α ≥ 2:
 *     ε_q(α) ≤ 1/(α−1) · ln[ (1−q)^(α−1)(αq − q + 1) + C(α,2) q² (1−q)^(α−2) e^{ε(2)}
 *                           + 3 Σ_{ℓ=3..α} C(α,ℓ) (1−q)^(α−ℓ) q^ℓ e^{(ℓ−1)ε(ℓ)} ],
 *   and we take the min with the unsubsampled ε(α) — the same computation as google-research's
 *   distributed_dp accounting for the distributed Skellam (`skellam_epsilon`).
 * - Composition: RDP adds over rounds (Mironov 2017, Proposition 1).
 * - RDP → (ε, δ), default 'improved' (Canonne, Kamath, Steinke 2020, Proposition 12; Balle et al.
 *   2020 Theorem 21; what TF Privacy's `compute_eps` uses):
 *     ε = RDP(α) + ln(1 − 1/α) − (ln δ + ln α)/(α − 1),
 *   or 'classic' (Mironov 2017, Proposition 3): ε = RDP(α) + ln(1/δ)/(α − 1); min over orders.
 *
 * Orders: integers 2..256 and 512 (a superset of distributed_dp's RDP_ORDERS) for the Skellam job,
 * whose subsampling bound needs integer α; for the sampled Gaussian also the fractional orders
 * 1.1..10.9 of TF Privacy, through MTZ19's two-sided series with erfc (`_compute_log_a_frac`).
 * Floats throughout; every quantity here is a bound computed in double precision.
 */

/** Default RDP orders for the Skellam job (integer, as Zhu–Wang's bound needs): 2, 3, …, 256, 512. */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 255 }, (_, i) => i + 2),
  512,
]);

/** Default orders for the sampled Gaussian: 1.1, 1.2, …, 1.9, 2.1, …, 10.9 (fractional) and DEFAULT_ORDERS. */
export const GAUSSIAN_ORDERS: readonly number[] = Object.freeze(
  [...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10).filter((a) => Math.abs(a - Math.round(a)) > 1e-9), ...DEFAULT_ORDERS].sort((a, b) => a - b),
);

export type RdpConversion = 'improved' | 'classic';

function checkQ(q: number): void {
  if (typeof q !== 'number' || !(q >= 0 && q <= 1)) throw new RangeError(`samplingRate: expected 0 ≤ q ≤ 1, got ${q}`);
}

function checkOrder(alpha: number): void {
  if (!Number.isSafeInteger(alpha) || alpha < 2 || alpha > 100_000) {
    throw new RangeError(`order: expected an integer in [2, 100000], got ${alpha}`);
  }
}

function checkPositive(x: number, field: string): void {
  if (typeof x !== 'number' || !(x > 0) || !Number.isFinite(x)) throw new RangeError(`${field}: expected a finite value > 0, got ${x}`);
}

/** ln Γ(x + 1) = ln x! for integers via a cached table. */
const logFact: number[] = [0];
function logFactorial(n: number): number {
  for (let i = logFact.length; i <= n; i++) logFact.push(logFact[i - 1]! + Math.log(i));
  return logFact[n]!;
}

function logComb(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

/** ln Σ w_i e^{a_i} for weights w_i ≥ 0 (terms with a_i = −∞ or w_i = 0 skipped). */
function logSumExp(a: readonly number[], w?: readonly number[]): number {
  let m = -Infinity;
  for (let i = 0; i < a.length; i++) if ((w === undefined || w[i]! > 0) && a[i]! > m) m = a[i]!;
  if (m === -Infinity) return -Infinity;
  if (m === Infinity) return Infinity;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const wi = w === undefined ? 1 : w[i]!;
    if (wi > 0) s += wi * Math.exp(a[i]! - m);
  }
  return m + Math.log(s);
}

/** ln(e^a + e^b). */
function logAdd(a: number, b: number): number {
  const m = Math.max(a, b);
  if (m === -Infinity) return -Infinity;
  return m + Math.log1p(Math.exp(Math.min(a, b) - m));
}

/** ln(e^a − e^b), a ≥ b. */
function logSub(a: number, b: number): number {
  if (b === -Infinity) return a;
  if (a <= b) return -Infinity; // rounding: the true value is ≤ 0 in the tail
  return a + Math.log(-Math.expm1(b - a));
}

/**
 * ln erfc(x), relative error of erfc below 1.2e-7 everywhere (Numerical Recipes' erfcc Chebyshev
 * fit, whose form t·exp(−x² + P(t)) gives the logarithm directly for large x).
 */
export function logErfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const p =
    -1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const logPos = Math.log(t) - z * z + p;
  return x >= 0 ? logPos : Math.log(2 - Math.exp(logPos));
}

/** ln A_α for fractional α > 1 (MTZ19 §3.3; TF Privacy's `_compute_log_a_frac`). */
function logAFrac(q: number, z: number, alpha: number): number {
  let a0 = -Infinity;
  let a1 = -Infinity;
  const z0 = z * z * Math.log(1 / q - 1) + 0.5;
  const lq = Math.log(q);
  const l1q = Math.log1p(-q);
  let logCoef = 0; // ln |C(α, i)|
  let positive = true;
  for (let i = 0; i < 100_000; i++) {
    if (i > 0) {
      const f = alpha - i + 1;
      logCoef += Math.log(Math.abs(f)) - Math.log(i);
      if (f < 0) positive = !positive;
    }
    const j = alpha - i;
    const e0 = Math.log(0.5) + logErfc((i - z0) / (Math.SQRT2 * z));
    const e1 = Math.log(0.5) + logErfc((z0 - j) / (Math.SQRT2 * z));
    const s0 = logCoef + i * lq + j * l1q + (i * i - i) / (2 * z * z) + e0;
    const s1 = logCoef + j * lq + i * l1q + (j * j - j) / (2 * z * z) + e1;
    if (positive) {
      a0 = logAdd(a0, s0);
      a1 = logAdd(a1, s1);
    } else {
      a0 = logSub(a0, s0);
      a1 = logSub(a1, s1);
    }
    if (Math.max(s0, s1) < -30) break;
  }
  return logAdd(a0, a1);
}

/**
 * RDP at order α of one Poisson-subsampled Gaussian step with noise multiplier z: the binomial
 * sum for integer α, the two-sided series (with erfc) for fractional α > 1.
 */
export function rdpSampledGaussian(q: number, noiseMultiplier: number, alpha: number): number {
  checkQ(q);
  checkPositive(noiseMultiplier, 'noiseMultiplier');
  if (!Number.isInteger(alpha)) {
    if (!(alpha > 1 && alpha < 100_000)) throw new RangeError(`order: expected 1 < α < 100000, got ${alpha}`);
    if (q === 0) return 0;
    if (q === 1) return alpha / (2 * noiseMultiplier * noiseMultiplier);
    return Math.max(0, logAFrac(q, noiseMultiplier, alpha) / (alpha - 1));
  }
  checkOrder(alpha);
  if (q === 0) return 0;
  const z2 = noiseMultiplier * noiseMultiplier;
  if (q === 1) return alpha / (2 * z2);
  const lq = Math.log(q);
  const l1q = Math.log1p(-q);
  const terms: number[] = [];
  for (let k = 0; k <= alpha; k++) {
    terms.push(logComb(alpha, k) + (alpha - k) * l1q + k * lq + (k * k - k) / (2 * z2));
  }
  return Math.max(0, logSumExp(terms) / (alpha - 1));
}

/** AKL21 RDP of the Skellam mechanism Sk(μ) (variance 2μ) at order α (real α > 1). */
export function rdpSkellam(alpha: number, l1Sensitivity: number, l2Sensitivity: number, mu: number): number {
  if (!(alpha > 1)) throw new RangeError(`order: expected α > 1, got ${alpha}`);
  checkPositive(mu, 'mu');
  if (!(l1Sensitivity >= 0) || !(l2Sensitivity >= 0)) throw new RangeError('sensitivities: expected values ≥ 0');
  const d2 = l2Sensitivity * l2Sensitivity;
  return (alpha * d2) / (4 * mu) + Math.min(((2 * alpha - 1) * d2 + 6 * l1Sensitivity) / (16 * mu * mu), (3 * l1Sensitivity) / (4 * mu));
}

/**
 * Zhu–Wang 2019 Theorem 5: RDP at integer order α of a mechanism with RDP curve `eps`, run on a
 * Poisson subsample of rate q; min'd with eps(α) (subsampling never hurts).
 */
export function rdpPoissonSubsampled(q: number, alpha: number, eps: (order: number) => number): number {
  checkQ(q);
  checkOrder(alpha);
  const base = eps(alpha);
  if (q === 0) return 0;
  if (q === 1) return base;
  const lq = Math.log(q);
  const l1q = Math.log1p(-q);
  const a: number[] = [(alpha - 1) * l1q + Math.log(alpha * q - q + 1)];
  const w: number[] = [1];
  a.push(logComb(alpha, 2) + 2 * lq + (alpha - 2) * l1q + eps(2));
  w.push(1);
  for (let l = 3; l <= alpha; l++) {
    a.push(logComb(alpha, l) + (alpha - l) * l1q + l * lq + (l - 1) * eps(l));
    w.push(3);
  }
  return Math.max(0, Math.min(base, logSumExp(a, w) / (alpha - 1)));
}

/** (ε, δ) from a composed RDP curve: the min over orders of the chosen conversion. */
export function epsilonFromRdp(
  orders: readonly number[],
  rdp: readonly number[],
  delta: number,
  conversion: RdpConversion = 'improved',
): { readonly epsilon: number; readonly order: number } {
  if (orders.length !== rdp.length || orders.length === 0) throw new RangeError('orders, rdp: expected equal non-empty lengths');
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta: expected 0 < δ < 1, got ${delta}`);
  let best = Infinity;
  let bestOrder = Number.NaN;
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    const r = rdp[i]!;
    if (!(a > 1) || !(r >= 0)) throw new RangeError(`orders[${i}], rdp[${i}]: expected α > 1 and RDP ≥ 0`);
    let e: number;
    if (conversion === 'classic') e = r + Math.log(1 / delta) / (a - 1);
    else if (delta * delta + Math.expm1(-r) >= 0) e = 0; // TF Privacy's ε = 0 case
    else if (a < 1.01) e = Infinity; // TF Privacy: the improved conversion is not used this close to 1
    else e = r + Math.log1p(-1 / a) - (Math.log(delta) + Math.log(a)) / (a - 1);
    if (e < best) {
      best = e;
      bestOrder = a;
    }
  }
  return { epsilon: Math.max(0, best), order: bestOrder };
}

export interface GaussianJob {
  readonly mechanism: 'gaussian';
  /** σ / Δ₂ of the (continuous-equivalent) Gaussian noise on the released sum. */
  readonly noiseMultiplier: number;
}

export interface SkellamJob {
  readonly mechanism: 'skellam';
  /** Total Skellam parameter μ of the released sum counted for privacy (variance 2μ, grid units). */
  readonly mu: number;
  readonly l1Sensitivity: number;
  readonly l2Sensitivity: number;
}

export interface JobAccounting {
  readonly samplingRate: number;
  readonly rounds: number;
  readonly delta: number;
  readonly conversion?: RdpConversion;
  readonly orders?: readonly number[];
}

/** The composed RDP curve of T subsampled rounds, per order. */
export function jobRdp(mech: GaussianJob | SkellamJob, acct: Omit<JobAccounting, 'delta' | 'conversion'>): number[] {
  const { samplingRate: q, rounds } = acct;
  checkQ(q);
  if (!Number.isSafeInteger(rounds) || rounds < 0) throw new RangeError(`rounds: expected an integer ≥ 0, got ${rounds}`);
  if (mech.mechanism === 'gaussian') {
    const orders = acct.orders ?? GAUSSIAN_ORDERS;
    return orders.map((a) => rounds * rdpSampledGaussian(q, mech.noiseMultiplier, a));
  }
  if (mech.mechanism !== 'skellam') throw new RangeError('mechanism: expected "gaussian" or "skellam"');
  const orders = acct.orders ?? DEFAULT_ORDERS;
  checkPositive(mech.mu, 'mu');
  const cache = new Map<number, number>();
  const eps = (l: number): number => {
    let v = cache.get(l);
    if (v === undefined) {
      v = rdpSkellam(l, mech.l1Sensitivity, mech.l2Sensitivity, mech.mu);
      cache.set(l, v);
    }
    return v;
  };
  return orders.map((a) => rounds * rdpPoissonSubsampled(q, a, eps));
}

/** ε of the whole job at δ (and the optimal order). */
export function jobEpsilon(mech: GaussianJob | SkellamJob, acct: JobAccounting): { readonly epsilon: number; readonly order: number } {
  const orders = acct.orders ?? (mech.mechanism === 'gaussian' ? GAUSSIAN_ORDERS : DEFAULT_ORDERS);
  return epsilonFromRdp(orders, jobRdp(mech, { ...acct, orders }), acct.delta, acct.conversion);
}

/**
 * The smallest Gaussian noise multiplier z (within relative 1e-6, rounded up) such that T rounds
 * at rate q are (ε, δ)-DP by `jobEpsilon`: bisection on the monotone map z ↦ ε(z).
 */
export function noiseMultiplierForEpsilon(target: {
  readonly epsilon: number;
  readonly delta: number;
  readonly samplingRate: number;
  readonly rounds: number;
  readonly conversion?: RdpConversion;
  readonly orders?: readonly number[];
}): number {
  checkPositive(target.epsilon, 'epsilon');
  const eps = (z: number): number => jobEpsilon({ mechanism: 'gaussian', noiseMultiplier: z }, target).epsilon;
  let lo = 1e-3;
  let hi = 1;
  while (eps(hi) > target.epsilon) {
    lo = hi;
    hi *= 2;
    if (hi > 1e7) throw new RangeError(`epsilon: ${target.epsilon} is not reachable with a noise multiplier ≤ 1e7`);
  }
  if (eps(lo) <= target.epsilon) return lo;
  while (hi - lo > hi * 1e-6) {
    const mid = (lo + hi) / 2;
    if (eps(mid) > target.epsilon) lo = mid;
    else hi = mid;
  }
  return hi;
}
