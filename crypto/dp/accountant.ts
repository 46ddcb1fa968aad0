/**
 * zero-Concentrated DP accounting (Bun, Steinke, TCC 2016): mechanism costs as ρ, composition
 * by addition, conversions between ρ and (ε, δ). Accounting arithmetic uses floats; every
 * approximation is rounded in the direction that over-states the privacy loss.
 *
 * Statements used:
 * - Gaussian N(0, σ²) and discrete Gaussian N_Z(0, σ²) per coordinate, L2 sensitivity Δ₂ (an
 *   integer-valued query for the discrete one): ρ = Δ₂²/(2σ²). Continuous: Bun–Steinke 2016
 *   Proposition 1.6. Discrete: Canonne–Kamath–Steinke 2020 (CKS20) §2.1 (one dimension) and
 *   §2.2 (multivariate, independent coordinates) — the same ρ as the continuous Gaussian.
 * - Skellam Sk(μ) = Poisson(μ) − Poisson(μ) per coordinate (variance 2μ), integer-valued query with
 *   L1 sensitivity Δ₁, L2 sensitivity Δ₂: Agarwal–Kairouz–Liu 2021 (AKL21) give Rényi DP
 *     ε(α) = αΔ₂²/(4μ) + min( ((2α−1)Δ₂² + 6Δ₁)/(16μ²), 3Δ₁/(4μ) ).
 *   For α ≥ 1 the min is ≤ α·min((2Δ₂² + 6Δ₁)/(16μ²), 3Δ₁/(4μ)), so the mechanism is ρ-zCDP with
 *     ρ = Δ₂²/(4μ) + min( (2Δ₂² + 6Δ₁)/(16μ²), 3Δ₁/(4μ) )        (`rhoSkellam`).
 * - Composition: ρ-zCDP followed by ρ′-zCDP is (ρ + ρ′)-zCDP (Bun–Steinke 2016, Lemma 1.7).
 * - ρ → (ε, δ), standard: ε = ρ + 2√(ρ·ln(1/δ)) (Bun–Steinke Proposition 1.3).
 * - ρ → (ε, δ), improved: CKS20 §2.3 (their Rényi-DP → (ε, δ) conversion at every order α of
 *   ρ-zCDP): ρ-zCDP implies (ε, δ)-DP for every α > 1 with
 *     δ = exp((α−1)(αρ − ε)) / α · (1 − 1/α)^(α−1),   equivalently
 *     ε = αρ + ln(1 − 1/α) + (ln(1/δ) − ln α)/(α − 1).
 *   Any α gives a valid bound; we search α numerically and report the smallest ε found, never
 *   above the standard bound.
 */

function finiteNonNegative(x: number, field: string): number {
  if (typeof x !== 'number' || Number.isNaN(x)) throw new TypeError(`${field}: expected a number`);
  if (!(x >= 0) || !Number.isFinite(x)) throw new RangeError(`${field}: expected a finite value ≥ 0, got ${x}`);
  return x;
}

function positive(x: number, field: string): number {
  finiteNonNegative(x, field);
  if (x === 0) throw new RangeError(`${field}: expected a value > 0, got 0`);
  return x;
}

function probability(delta: number): number {
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) {
    throw new RangeError(`delta: expected 0 < delta < 1, got ${delta}`);
  }
  return delta;
}

/** Relative padding applied to float results that must not under-state the privacy loss. */
const PAD = 1e-12;

/** ρ of the (discrete) Gaussian mechanism: Δ₂²/(2σ²) with σ² the per-coordinate variance. */
export function rhoGaussian(l2Sensitivity: number, sigma2: number): number {
  finiteNonNegative(l2Sensitivity, 'l2Sensitivity');
  positive(sigma2, 'sigma2');
  return ((l2Sensitivity * l2Sensitivity) / (2 * sigma2)) * (1 + PAD);
}

/** The per-coordinate σ such that the Gaussian mechanism is exactly ρ-zCDP: Δ₂/√(2ρ). */
export function sigmaForRho(rho: number, l2Sensitivity: number): number {
  positive(rho, 'rho');
  finiteNonNegative(l2Sensitivity, 'l2Sensitivity');
  return (l2Sensitivity / Math.sqrt(2 * rho)) * (1 + PAD);
}

/** ρ of the Skellam mechanism with total parameter μ (noise variance 2μ), per AKL21 (above). */
export function rhoSkellam(l1Sensitivity: number, l2Sensitivity: number, mu: number): number {
  finiteNonNegative(l1Sensitivity, 'l1Sensitivity');
  finiteNonNegative(l2Sensitivity, 'l2Sensitivity');
  positive(mu, 'mu');
  if (l2Sensitivity > l1Sensitivity * (1 + 1e-9)) {
    throw new RangeError(`l2Sensitivity (${l2Sensitivity}) cannot exceed l1Sensitivity (${l1Sensitivity})`);
  }
  const d2 = l2Sensitivity * l2Sensitivity;
  const extra = Math.min((2 * d2 + 6 * l1Sensitivity) / (16 * mu * mu), (3 * l1Sensitivity) / (4 * mu));
  return (d2 / (4 * mu) + extra) * (1 + PAD);
}

/**
 * The smallest Skellam noise variance 2μ (per coordinate) whose `rhoSkellam` is ≤ `rho`,
 * by bisection on the monotone map μ ↦ ρ(μ); the result is rounded up (relative 1e-9).
 */
export function skellamVarianceForRho(rho: number, l1Sensitivity: number, l2Sensitivity: number): number {
  positive(rho, 'rho');
  let lo = 0;
  let hi = Math.max(1e-300, ((l2Sensitivity * l2Sensitivity) / (4 * rho)) * 2);
  while (rhoSkellam(l1Sensitivity, l2Sensitivity, hi) > rho) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > hi * 1e-12) {
    const mid = (lo + hi) / 2;
    if (rhoSkellam(l1Sensitivity, l2Sensitivity, mid) > rho) lo = mid;
    else hi = mid;
  }
  return 2 * hi * (1 + 1e-9);
}

/** Sequential composition: the sum of the ρ's. */
export function composeRho(...rhos: number[]): number {
  let total = 0;
  for (const [i, r] of rhos.entries()) total += finiteNonNegative(r, `rhos[${i}]`);
  return total;
}

/** Standard conversion (Bun–Steinke Prop. 1.3): ε = ρ + 2√(ρ·ln(1/δ)). */
export function epsilonFromRhoStandard(rho: number, delta: number): number {
  finiteNonNegative(rho, 'rho');
  probability(delta);
  return (rho + 2 * Math.sqrt(rho * Math.log(1 / delta))) * (1 + PAD);
}

/** ε(α) of the CKS20 §2.3 conversion for a fixed α > 1. */
function epsilonAtAlpha(rho: number, delta: number, alpha: number): number {
  return alpha * rho + Math.log1p(-1 / alpha) + (-Math.log(delta) - Math.log(alpha)) / (alpha - 1);
}

/**
 * CKS20 §2.3: the smallest ε found over α > 1 (golden-section search on ln(α − 1), which
 * is unimodal here), and never above the standard bound. Returns 0 when ρ = 0.
 */
export function epsilonFromRho(rho: number, delta: number): number {
  finiteNonNegative(rho, 'rho');
  probability(delta);
  if (rho === 0) return 0;
  const f = (x: number): number => epsilonAtAlpha(rho, delta, 1 + Math.exp(x));
  let a = -30;
  let b = 40;
  const g = (Math.sqrt(5) - 1) / 2;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let i = 0; i < 200; i++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  const best = Math.min(fc, fd) * (1 + PAD);
  return Math.max(0, Math.min(best, epsilonFromRhoStandard(rho, delta)));
}

/**
 * CKS20 §2.3 read the other way: the smallest δ such that ρ-zCDP implies (ε, δ)-DP,
 * minimising over α > 1 (the log of the bound is convex in α; bisection on its derivative
 * (2α − 1)ρ − ε + ln(1 − 1/α)). Capped at 1.
 */
export function deltaFromRho(rho: number, epsilon: number): number {
  finiteNonNegative(rho, 'rho');
  finiteNonNegative(epsilon, 'epsilon');
  if (rho === 0) return 0;
  let lo = 1 + 1e-12;
  let hi = Math.max(2, (epsilon + 1) / (2 * rho) + 2);
  for (let i = 0; i < 300; i++) {
    const mid = (lo + hi) / 2;
    if ((2 * mid - 1) * rho - epsilon + Math.log1p(-1 / mid) < 0) lo = mid;
    else hi = mid;
  }
  const alpha = (lo + hi) / 2;
  const logDelta = (alpha - 1) * (alpha * rho - epsilon) + (alpha - 1) * Math.log1p(-1 / alpha) - Math.log(alpha);
  return Math.min(1, Math.exp(logDelta) * (1 + PAD));
}

/** Relative tolerance of `rhoFromEpsilonDelta` (the result is within this fraction below the exact inverse). */
export const RHO_INVERSION_RELATIVE_TOLERANCE = 1e-10;

/**
 * The largest ρ (up to a relative tolerance of 1e-10, always erring low) such that
 * `epsilonFromRho(ρ, δ) ≤ ε`: the zCDP budget equivalent to an (ε, δ) request. Bisection on the
 * map ρ ↦ ε(ρ, δ), which is non-decreasing (the bracket starts at [0, ε] and grows if needed).
 */
export function rhoFromEpsilonDelta(epsilon: number, delta: number): number {
  positive(epsilon, 'epsilon');
  probability(delta);
  let lo = 0;
  let hi = epsilon;
  // ε(ρ) can fall below ρ when δ is large, so grow the bracket until it exceeds ε.
  while (epsilonFromRho(hi, delta) <= epsilon) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > hi * RHO_INVERSION_RELATIVE_TOLERANCE) {
    const mid = (lo + hi) / 2;
    if (epsilonFromRho(mid, delta) <= epsilon) lo = mid;
    else hi = mid;
  }
  return lo;
}
