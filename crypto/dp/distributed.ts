/**
 * Distributed integer noise for sums computed by secure aggregation or multiparty CKKS: every
 * party adds its own share of noise to its fixed-point vector before masking or encrypting, so
 * that no one ever sees a sum with less than the target noise — as long as at least `threshold`
 * parties contribute.
 *
 * Mechanism: Skellam. Party i adds Sk(μ) = Poisson(μ) − Poisson(μ) per coordinate with
 * μ = σ²/(2t); the released sum over k ≥ t contributors carries exactly Sk(kμ) — a sum of
 * independent Skellams is Skellam — with variance kσ²/t ≥ σ², and its privacy is the Skellam
 * mechanism's (AKL21, `rhoSkellam`) with total parameter kμ. The discrete Gaussian is not used
 * here: a sum of discrete Gaussians is not a discrete Gaussian, and its privacy needs the extra
 * correction term of Kairouz, Liu, Steinke (ICML 2021), which grows with the number of parties and
 * the dimension; the Skellam statement needs none. (The exact discrete Gaussian sampler remains
 * available where a single party adds all the noise.)
 *
 * Units: everything here is in grid units. A value v with scale s is encoded as round(v·2^s);
 * a noise variance V in grid units is V/2^(2s) in the value's units.
 */
import { sampleSkellamVector } from './skellam.ts';
import { rhoSkellam, skellamVarianceForRho } from './accountant.ts';
import { makeRational, positiveRational, rationalToNumber, toRational, type Rational, type RationalLike } from './rational.ts';
import type { RandomSource } from './random.ts';

/** Sensitivity of a fixed-point vector under adding or removing one patient, in grid units. */
export interface GridSensitivity {
  /** k·⌈b_i · 2^(s_i)⌉ per entry: a bound on the change of the encoded integer. */
  readonly perEntry: readonly bigint[];
  /** Σ perEntry. */
  readonly l1: bigint;
  /** Σ perEntry² (exact). */
  readonly l2Squared: bigint;
  /** √l2Squared, rounded up. */
  readonly l2: number;
}

/**
 * Maps per-entry bounds onto the grid. `perEntryBound[i]` bounds |term_i| of one separately
 * rounded contribution (a row) in the entry's own units, so adding or removing it moves the
 * encoded entry by |round(term_i·2^(s_i))| ≤ ⌈b_i·2^(s_i)⌉ (rounding is monotone). A patient with
 * up to `rowsPerPatient` = k rows, each rounded on its own, moves it by at most k·⌈b_i·2^(s_i)⌉ —
 * which can exceed ⌈k·b_i·2^(s_i)⌉ (two rows at b·2^s = 0.5 round to 1 each), so the product is
 * taken after the ceiling. Scales may be negative (a coarser grid). Computed exactly: b_i is
 * converted to a rational without loss.
 */
export function gridSensitivity(
  perEntryBound: readonly RationalLike[],
  scaleBits: readonly number[],
  rowsPerPatient = 1,
): GridSensitivity {
  if (!Array.isArray(perEntryBound) || !Array.isArray(scaleBits)) {
    throw new TypeError('perEntryBound, scaleBits: expected arrays');
  }
  if (perEntryBound.length !== scaleBits.length) {
    throw new RangeError(
      `scaleBits: expected one scale per entry (${perEntryBound.length}), got ${scaleBits.length}`,
    );
  }
  if (!Number.isSafeInteger(rowsPerPatient) || rowsPerPatient < 1) {
    throw new RangeError(`rowsPerPatient: expected an integer ≥ 1, got ${rowsPerPatient}`);
  }
  const k = BigInt(rowsPerPatient);
  const perEntry: bigint[] = [];
  let l1 = 0n;
  let l2Squared = 0n;
  for (let i = 0; i < perEntryBound.length; i++) {
    const s = scaleBits[i]!;
    if (!Number.isSafeInteger(s) || s < -1074 || s > 1023) {
      throw new RangeError(`scaleBits[${i}]: expected an integer in [-1074, 1023], got ${s}`);
    }
    const d = toRational(perEntryBound[i]!, `perEntryBound[${i}]`);
    if (d.num < 0n) throw new RangeError(`perEntryBound[${i}]: expected a value ≥ 0`);
    const num = s >= 0 ? d.num << BigInt(s) : d.num;
    const den = s >= 0 ? d.den : d.den << BigInt(-s);
    const g = k * ((num + den - 1n) / den); // k · ceil
    perEntry.push(g);
    l1 += g;
    l2Squared += g * g;
  }
  return { perEntry, l1, l2Squared, l2: sqrtUp(l2Squared) };
}

function sqrtUp(n: bigint): number {
  const r = Math.sqrt(Number(n));
  return r === 0 ? 0 : r * (1 + 1e-12);
}

export interface DistributedNoisePlan {
  readonly mechanism: 'skellam';
  /** Number of parties n in the query. */
  readonly parties: number;
  /** Minimum number t of parties guaranteed to contribute (survive). */
  readonly threshold: number;
  /** Target noise variance σ² per coordinate (grid units), met by any t contributors. */
  readonly targetVariance: Rational;
  /** Each party's Skellam parameter μ = σ²/(2t); its noise variance is 2μ = σ²/t. */
  readonly perPartyMu: Rational;
}

export interface PlanOptions {
  /** Target total noise variance per coordinate, in grid units (exact: number, "p/q", Rational). */
  readonly targetVariance: RationalLike;
  readonly parties: number;
  readonly threshold: number;
}

/** Sizes each party's noise share so that any `threshold` contributors supply `targetVariance`. */
export function planDistributedNoise(options: PlanOptions): DistributedNoisePlan {
  const { parties, threshold } = options;
  if (!Number.isSafeInteger(parties) || parties < 1) {
    throw new RangeError(`parties: expected an integer ≥ 1, got ${parties}`);
  }
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > parties) {
    throw new RangeError(`threshold: expected an integer in [1, parties=${parties}], got ${threshold}`);
  }
  const targetVariance = positiveRational(options.targetVariance, 'targetVariance');
  const perPartyMu = makeRational(targetVariance.num, targetVariance.den * 2n * BigInt(threshold));
  return { mechanism: 'skellam', parties, threshold, targetVariance, perPartyMu };
}

/**
 * A plan whose worst case (exactly t contributors) is ρ-zCDP for the given grid sensitivity:
 * the smallest Skellam variance with `rhoSkellam` ≤ ρ, rounded up to a multiple of 2^−10.
 */
export function planDistributedNoiseForRho(options: {
  readonly rho: number;
  readonly sensitivity: GridSensitivity;
  readonly parties: number;
  readonly threshold: number;
}): DistributedNoisePlan {
  const { rho, sensitivity } = options;
  const variance = skellamVarianceForRho(rho, Number(sensitivity.l1), sensitivity.l2);
  const scaled = Math.ceil(variance * 1024 * (1 + 1e-12));
  if (!Number.isSafeInteger(scaled)) throw new RangeError(`rho: noise variance ${variance} is out of range`);
  return planDistributedNoise({
    targetVariance: makeRational(BigInt(Math.max(1, scaled)), 1024n),
    parties: options.parties,
    threshold: options.threshold,
  });
}

/** This party's integer noise vector (add it to the encoded vector before masking/encrypting). */
export function perPartyNoise(plan: DistributedNoisePlan, length: number, rng: RandomSource): bigint[] {
  return sampleSkellamVector(plan.perPartyMu, length, rng);
}

function checkContributors(plan: DistributedNoisePlan, contributors: number): void {
  if (!Number.isSafeInteger(contributors) || contributors < plan.threshold || contributors > plan.parties) {
    throw new RangeError(
      `contributors: expected an integer in [threshold=${plan.threshold}, parties=${plan.parties}], got ${contributors}; ` +
        'with fewer than threshold contributors the noise is below target and nothing may be released',
    );
  }
}

/** Noise variance per coordinate of the released sum when k contributors added noise: kσ²/t. */
export function releasedVariance(plan: DistributedNoisePlan, contributors: number): Rational {
  checkContributors(plan, contributors);
  const { num, den } = plan.perPartyMu;
  return makeRational(2n * BigInt(contributors) * num, den);
}

/** Standard deviation per coordinate of the released noise (grid units; float, for reporting). */
export function releasedStdDev(plan: DistributedNoisePlan, contributors: number): number {
  return Math.sqrt(rationalToNumber(releasedVariance(plan, contributors)));
}

/** The zCDP ρ of the released sum with k contributors: `rhoSkellam` with total μ = k·σ²/(2t). */
export function releasedRho(plan: DistributedNoisePlan, contributors: number, sensitivity: GridSensitivity): number {
  checkContributors(plan, contributors);
  const { num, den } = plan.perPartyMu;
  const mu = rationalToNumber(makeRational(BigInt(contributors) * num, den));
  return rhoSkellam(Number(sensitivity.l1), sensitivity.l2, mu);
}
