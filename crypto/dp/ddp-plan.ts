/**
 * The distributed discrete mechanism for L2-bounded real vectors (model updates), end to end:
 * clip (caller) → rotate (`hadamard.ts`) → scale by γ = 2^s → conditional stochastic rounding
 * (`rounding.ts`) → sum of a party's units → + Skellam share (`distributed.ts`) → mod 2^b →
 * secure sum on the 64-bit ring → mod 2^b, centre → ÷γ → inverse rotation.
 * (Kairouz, Liu, Steinke ICML 2021 (KLS21) Algorithm 1–2; Agarwal, Kairouz, Liu NeurIPS 2021
 * (AKL21) §4; TFF's `DistributedDpSumFactory` / google-research distributed_dp.)
 *
 * A "unit" is one vector of L2 norm ≤ C whose presence DP protects: one example's clipped gradient
 * (record-level DP, each example rounded on its own so the rounded sum moves by ≤ Δ₂ when one
 * example is added or removed) or one client's clipped update (client-level). `units` bounds how
 * many are summed in a round over all parties (for the wrap bound only).
 *
 * Noise: the target variance per coordinate (grid units) is σ² = z²·Δ₂², z the noise multiplier
 * relative to the rounded sensitivity, supplied by any t − c honest contributors: each party adds
 * Sk(σ²/(2(t − c))) (`planDistributedNoise` with threshold t − c). Privacy is computed for exactly
 * t − c honest contributors (Skellam parameter μ = σ²/2); more contributors only add noise.
 *
 * Choice of γ for a bit width b: the largest γ = 2^s such that (i) TFF's heuristic holds — k standard
 * deviations of the aggregate fit: 2k·√(γ²C²M²/D + M/4 + n·σ_party²) ≤ 2^b (distributed_dp
 * `heuristic_scale_factor`, KLS21 §4.4 with flatness ρ = 1 and norm growth M·C) — and (ii) a
 * Chernoff bound on P(some coordinate of the sum leaves [−2^(b−1), 2^(b−1))) is ≤ `wrapProbability`:
 * signal: sub-Gaussian with proxy γ²(MC)²/D (Hoeffding over the random signs of the rotation,
 * since ‖Σ units‖ ≤ MC); noise: Skellam(nμ_party), log-MGF 2nμ_party(cosh λ − 1); rounding:
 * |r_i − γy_i| < 1 per unit, so at most M in total, subtracted from the threshold; union bound
 * over D coordinates. Choice of b: the smallest b ≤ 64 for which the discretization overhead
 * (σ² + M/4)/(zCγ)² − 1 (extra decoded variance against the continuous Gaussian of the same z)
 * is ≤ `tolerance`.
 */
import { rotate, rotationSigns, unrotate, paddedDimension } from './hadamard.ts';
import { conditionalRound, DEFAULT_BETA, roundedL1Bound, roundedL2Bound } from './rounding.ts';
import { perPartyNoise, planDistributedNoise, type DistributedNoisePlan } from './distributed.ts';
import { jobEpsilon, noiseMultiplierForEpsilon, type RdpConversion } from './accountant-subsampled.ts';
import { makeRational, rationalToNumber, type Rational } from './rational.ts';
import type { RandomSource } from './random.ts';

export interface DdpPlanOptions {
  /** Dimension d of the model vector. */
  readonly d: number;
  /** L2 clip norm C of one unit (real units). */
  readonly clip: number;
  /** n: parties in the round. */
  readonly parties: number;
  /** t: the least number of contributors for which a sum is released. */
  readonly threshold: number;
  /** c: parties that may collude with the aggregator (their noise does not count); t − c ≥ 1. */
  readonly collusion?: number;
  /** M: the most units summed in one round over all parties (default: parties). */
  readonly units?: number;
  /** z: noise standard deviation over the rounded L2 sensitivity Δ₂, with t − c contributors. */
  readonly noiseMultiplier: number;
  /** Conditional rounding parameter β (default e^(−1/2)). */
  readonly beta?: number;
  /** Bits per coordinate; chosen when absent. */
  readonly bits?: number;
  /** Standard deviations of the aggregate to fit in 2^b (TFF's k; default 3). */
  readonly k?: number;
  /** Bound on the probability that a round's sum wraps (default 1e-9). */
  readonly wrapProbability?: number;
  /** Largest discretization overhead accepted when choosing b (default 0.05). */
  readonly tolerance?: number;
}

export interface DdpPlan {
  readonly d: number;
  /** Padded dimension D = 2^⌈log₂ d⌉ (the number of coordinates sent). */
  readonly D: number;
  readonly clip: number;
  readonly parties: number;
  readonly threshold: number;
  readonly collusion: number;
  readonly units: number;
  readonly beta: number;
  /** γ = 2^scaleBits. */
  readonly scaleBits: number;
  readonly gamma: number;
  /** b: bits per coordinate; every contribution and the sum live in Z/2^b. */
  readonly bits: number;
  /** Δ₂ and Δ₁ of one rounded unit (grid units). */
  readonly l2Bound: number;
  readonly l1Bound: number;
  readonly noiseMultiplier: number;
  /** Per-party Skellam share, sized so any t − c contributors give variance z²Δ₂². */
  readonly noise: DistributedNoisePlan;
  /** Skellam parameter μ of the sum counted for privacy (t − c honest shares). */
  readonly privacyMu: number;
  /** Chernoff bound on P(the sum of a round wraps mod 2^b), all n parties and M units present. */
  readonly wrapBound: number;
  /** (σ² + M/4)/(zCγ)² − 1. */
  readonly overhead: number;
  /** Per coordinate of the decoded sum, real units, with all n parties contributing. */
  readonly expectedError: { readonly noiseStd: number; readonly roundingStd: number; readonly totalStd: number; readonly idealStd: number };
}

/** Largest scaled norm Cγ accepted (the rounding checks norms exactly in doubles). */
const MAX_SCALED = 2 ** 24;

function intIn(x: number | undefined, lo: number, hi: number, field: string): number {
  if (!Number.isSafeInteger(x) || x! < lo || x! > hi) throw new RangeError(`${field}: expected an integer in [${lo}, ${hi}], got ${x}`);
  return x!;
}

function positiveFinite(x: number, field: string): number {
  if (typeof x !== 'number' || !(x > 0) || !Number.isFinite(x)) throw new RangeError(`${field}: expected a finite value > 0, got ${x}`);
  return x;
}

/** ln P(|X| ≥ T) bound for X = S + N, S sub-Gaussian(v), N ~ Skellam(m): ln 2 + min_λ f(λ). */
function logTail(v: number, m: number, T: number): number {
  if (T <= 0) return 0;
  if (v === 0 && m === 0) return -Infinity;
  const deriv = (l: number): number => l * v + 2 * m * Math.sinh(l) - T;
  let hi = Math.min(v > 0 ? T / v : Infinity, m > 0 ? Math.asinh(T / (2 * m)) : Infinity);
  let lo = 0;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (deriv(mid) < 0) lo = mid;
    else hi = mid;
  }
  const l = (lo + hi) / 2;
  const f = (l * l * v) / 2 + 2 * m * (Math.cosh(l) - 1) - l * T;
  return Math.min(0, Math.LN2 + f);
}

/** A dyadic rational ≥ x (relative excess ≤ 2^−40), x > 0 finite. */
function roundUpRational(x: number): Rational {
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`noise variance ${x} out of range`);
  const k = Math.min(1000, Math.max(0, 40 - Math.floor(Math.log2(x))));
  const num = BigInt(Math.ceil(x * 2 ** Math.min(k, 1000) * (1 + 1e-12)));
  return makeRational(num > 0n ? num : 1n, 1n << BigInt(k));
}

interface Candidate {
  readonly s: number;
  readonly gamma: number;
  readonly l2: number;
  readonly variance: number;
  readonly noise: DistributedNoisePlan;
  readonly wrapBound: number;
  readonly overhead: number;
}

function candidate(o: Required<Omit<DdpPlanOptions, 'bits'>>, D: number, b: number, s: number): Candidate {
  const gamma = 2 ** s;
  const honest = o.threshold - o.collusion;
  const l2 = roundedL2Bound(o.clip * gamma, D, o.beta);
  const target = o.noiseMultiplier * o.noiseMultiplier * l2 * l2;
  const noise = planDistributedNoise({ targetVariance: roundUpRational(target), parties: o.parties, threshold: honest });
  const muParty = rationalToNumber(noise.perPartyMu);
  const signalVar = (gamma * gamma * o.clip * o.clip * o.units * o.units) / D;
  const heuristic = 2 * o.k * Math.sqrt(signalVar + o.units / 4 + o.parties * 2 * muParty);
  const logWrap = Math.log(D) + logTail(signalVar, o.parties * muParty, 2 ** (b - 1) - o.units);
  const wrapBound = heuristic <= 2 ** b ? Math.min(1, Math.exp(logWrap)) : 1;
  const variance = 2 * honest * muParty;
  const overhead = (variance + o.units / 4) / (o.noiseMultiplier * o.clip * gamma) ** 2 - 1;
  return { s, gamma, l2, variance, noise, wrapBound, overhead };
}

/** The largest s with a valid candidate at width b (both constraints are monotone in γ), or undefined. */
function bestScale(o: Required<Omit<DdpPlanOptions, 'bits'>>, D: number, b: number): Candidate | undefined {
  const ok = (c: Candidate): boolean => c.wrapBound <= o.wrapProbability;
  let hi = Math.floor(Math.log2(MAX_SCALED / (o.clip + 1e-300)) - 1e-9);
  let lo = Math.max(-1000, hi - 400);
  if (!ok(candidate(o, D, b, lo))) return undefined;
  const top = candidate(o, D, b, hi);
  if (ok(top)) return top;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (ok(candidate(o, D, b, mid))) lo = mid;
    else hi = mid;
  }
  return candidate(o, D, b, lo);
}

/**
 * The plan at a given scale γ = 2^scaleBits (a training job fixes γ once, in its public plan):
 * the noise for σ = z·Δ₂(γ) over t − c honest contributors, and the smallest b whose wrap bound
 * holds at that scale (64 when none does: the 64-bit ring then carries the exact sum).
 */
export function planDdpAtScale(options: Omit<DdpPlanOptions, 'bits'>, scaleBits: number): DdpPlan {
  const first = planDdp({ ...options, bits: 64 });
  const o = {
    d: first.d, clip: first.clip, parties: first.parties, threshold: first.threshold, collusion: first.collusion, units: first.units,
    noiseMultiplier: first.noiseMultiplier, beta: first.beta, k: options.k ?? 3, wrapProbability: options.wrapProbability ?? 1e-9, tolerance: options.tolerance ?? 0.05,
  };
  if (!Number.isSafeInteger(scaleBits) || scaleBits < -1000 || first.clip * 2 ** scaleBits > MAX_SCALED) {
    throw new RangeError(`scaleBits: expected an integer with clip·2^scaleBits ≤ 2^24, got ${scaleBits}`);
  }
  let c = candidate(o, first.D, 64, scaleBits);
  let bits = 64;
  for (let b = 2; b < 64; b++) {
    const t = candidate(o, first.D, b, scaleBits);
    if (t.wrapBound <= o.wrapProbability) {
      c = t;
      bits = b;
      break;
    }
  }
  return finishPlan(o, first.D, bits, c);
}

/** Plans the mechanism for one round (see the module comment). */
export function planDdp(options: DdpPlanOptions): DdpPlan {
  const parties = intIn(options.parties, 1, 1_000_000, 'parties');
  const threshold = intIn(options.threshold, 1, parties, 'threshold');
  const collusion = intIn(options.collusion ?? 0, 0, threshold - 1, 'collusion');
  const o: Required<Omit<DdpPlanOptions, 'bits'>> = {
    d: intIn(options.d, 1, 1 << 24, 'd'),
    clip: positiveFinite(options.clip, 'clip'),
    parties,
    threshold,
    collusion,
    units: intIn(options.units ?? parties, 1, 1 << 26, 'units'),
    noiseMultiplier: positiveFinite(options.noiseMultiplier, 'noiseMultiplier'),
    beta: options.beta ?? DEFAULT_BETA,
    k: positiveFinite(options.k ?? 3, 'k'),
    wrapProbability: options.wrapProbability ?? 1e-9,
    tolerance: options.tolerance ?? 0.05,
  };
  if (!(o.beta >= 0 && o.beta < 1)) throw new RangeError(`beta: expected 0 ≤ β < 1, got ${o.beta}`);
  if (!(o.wrapProbability > 0 && o.wrapProbability < 1)) throw new RangeError(`wrapProbability: expected (0, 1), got ${o.wrapProbability}`);
  if (!(o.tolerance > 0)) throw new RangeError(`tolerance: expected > 0, got ${o.tolerance}`);
  const D = paddedDimension(o.d);
  let chosen: Candidate | undefined;
  let bits: number;
  if (options.bits !== undefined) {
    bits = intIn(options.bits, 2, 64, 'bits');
    chosen = bestScale(o, D, bits);
    if (chosen === undefined) throw new RangeError(`bits: ${bits} bits per coordinate cannot hold this sum with wrap probability ≤ ${o.wrapProbability}`);
  } else {
    for (bits = 2; bits <= 64; bits++) {
      chosen = bestScale(o, D, bits);
      if (chosen !== undefined && chosen.overhead <= o.tolerance) break;
    }
    if (chosen === undefined || bits > 64) throw new RangeError(`no bit width ≤ 64 meets tolerance ${o.tolerance} for these parameters`);
  }
  return finishPlan(o, D, bits, chosen);
}

function finishPlan(o: Required<Omit<DdpPlanOptions, 'bits'>>, D: number, bits: number, c: Candidate): DdpPlan {
  const parties = o.parties;
  const muParty = rationalToNumber(c.noise.perPartyMu);
  const noiseStd = Math.sqrt(2 * parties * muParty) / c.gamma;
  const roundingStd = Math.sqrt(o.units / 4) / c.gamma;
  return {
    d: o.d,
    D,
    clip: o.clip,
    parties,
    threshold: o.threshold,
    collusion: o.collusion,
    units: o.units,
    beta: o.beta,
    scaleBits: c.s,
    gamma: c.gamma,
    bits,
    l2Bound: c.l2,
    l1Bound: roundedL1Bound(c.l2, D),
    noiseMultiplier: o.noiseMultiplier,
    noise: c.noise,
    privacyMu: c.variance / 2,
    wrapBound: c.wrapBound,
    overhead: c.overhead,
    expectedError: {
      noiseStd,
      roundingStd,
      totalStd: Math.hypot(noiseStd, roundingStd),
      idealStd: o.noiseMultiplier * o.clip,
    },
  };
}

export interface DdpJobOptions {
  readonly samplingRate: number;
  readonly rounds: number;
  readonly delta: number;
  readonly conversion?: RdpConversion;
}

/** ε of T rounds of this plan, Poisson sampling rate q, at δ (Skellam RDP, Zhu–Wang subsampling). */
export function planEpsilon(plan: DdpPlan, job: DdpJobOptions): { readonly epsilon: number; readonly order: number } {
  return jobEpsilon({ mechanism: 'skellam', mu: plan.privacyMu, l1Sensitivity: plan.l1Bound, l2Sensitivity: plan.l2Bound }, job);
}

/**
 * The plan with the smallest noise multiplier (relative 1e-4) whose job ε at δ is ≤ `epsilon`:
 * starts from the sampled Gaussian's multiplier and bisects on the full plan (γ and Δ₂ move with z).
 */
export function planDdpForEpsilon(options: Omit<DdpPlanOptions, 'noiseMultiplier'> & DdpJobOptions & { readonly epsilon: number }): DdpPlan {
  const z0 = noiseMultiplierForEpsilon(options);
  const at = (z: number): DdpPlan => planDdp({ ...options, noiseMultiplier: z });
  const ok = (p: DdpPlan): boolean => planEpsilon(p, options).epsilon <= options.epsilon;
  let lo = z0 * 0.999;
  let hi = z0;
  let best = at(hi);
  while (!ok(best)) {
    lo = hi;
    hi *= 1.05;
    if (hi > z0 * 100) throw new RangeError(`epsilon: ${options.epsilon} not reachable by the Skellam plan`);
    best = at(hi);
  }
  while (hi - lo > hi * 1e-4) {
    const mid = (lo + hi) / 2;
    const p = at(mid);
    if (ok(p)) {
      hi = mid;
      best = p;
    } else lo = mid;
  }
  return best;
}

function vectorNorm(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s);
}

/**
 * One party's contribution for a round: each unit (norm ≤ C, length d) rotated with the round's
 * public signs, scaled, conditionally rounded; the sum of the units plus this party's Skellam share,
 * taken mod 2^b and lifted uniformly to Z/2^64 (a uniform element of the class; int64 for the
 * 64-bit ring), so the ring sum reveals only the sum mod 2^b. A transport that sums in Z/2^b may
 * send the low b bits only. Send it even with no units (the noise share is still owed).
 */
export function encodeUpdate(
  plan: DdpPlan,
  units: Float64Array | readonly Float64Array[],
  roundSeed: Uint8Array,
  rng: RandomSource,
): BigInt64Array {
  const list = units instanceof Float64Array ? [units] : units;
  if (!Array.isArray(list)) throw new TypeError('units: expected a Float64Array or an array of them');
  if (list.length > plan.units) throw new RangeError(`units: ${list.length} exceed the plan's bound M = ${plan.units}`);
  const signs = rotationSigns(roundSeed, plan.D);
  const acc = new Float64Array(plan.D);
  for (const [j, x] of list.entries()) {
    if (!(x instanceof Float64Array) || x.length !== plan.d) throw new RangeError(`units[${j}]: expected a Float64Array of length ${plan.d}`);
    const norm = vectorNorm(x);
    if (!(norm <= plan.clip * (1 + 1e-9))) throw new RangeError(`units[${j}]: L2 norm ${norm} exceeds the clip ${plan.clip} (clip before encoding)`);
    const y = rotate(x, signs);
    for (let i = 0; i < y.length; i++) y[i]! *= plan.gamma;
    const { rounded } = conditionalRound(y, plan.l2Bound, rng);
    for (let i = 0; i < acc.length; i++) acc[i]! += rounded[i]!;
  }
  const noise = perPartyNoise(plan.noise, plan.D, rng);
  const out = new BigInt64Array(plan.D);
  const b = BigInt(plan.bits);
  const liftBits = 64 - plan.bits;
  for (let i = 0; i < plan.D; i++) {
    const low = BigInt.asUintN(plan.bits, BigInt(acc[i]!) + noise[i]!);
    // Uniform lift to Z/2^64: low + 2^b·U, U uniform in [0, 2^(64−b)). Without it the ring sum
    // Σ(v_i mod 2^b) would reveal, per coordinate, how many contributions were negative.
    const hi = liftBits === 0 ? 0n : BigInt.asUintN(liftBits, (BigInt(rng.uint32()) << 32n) | BigInt(rng.uint32()));
    out[i] = BigInt.asIntN(64, low + (hi << b));
  }
  return out;
}

/**
 * The decoded sum (length d, real units) from the ring sum (mod 2^64) of `contributors` encoded
 * updates: reduce mod 2^b, centre in [−2^(b−1), 2^(b−1)), divide by γ, rotate back.
 */
export function decodeSum(plan: DdpPlan, sum: BigInt64Array, roundSeed: Uint8Array, contributors: number): Float64Array {
  if (!(sum instanceof BigInt64Array) || sum.length !== plan.D) throw new RangeError(`sum: expected a BigInt64Array of length ${plan.D}`);
  intIn(contributors, plan.threshold, plan.parties, 'contributors');
  const signs = rotationSigns(roundSeed, plan.D);
  const y = new Float64Array(plan.D);
  for (let i = 0; i < plan.D; i++) y[i] = Number(BigInt.asIntN(plan.bits, sum[i]!)) / plan.gamma;
  return unrotate(y, signs, plan.d);
}

/**
 * A JSON-safe summary of a plan, for transcripts and for parties to compare: a plan is a pure
 * function of its options, so each party recomputes it from the job's public parameters and
 * checks that this summary matches the one the aggregator announces.
 */
export function describeDdpPlan(plan: DdpPlan): Record<string, string | number> {
  return {
    d: plan.d,
    D: plan.D,
    clip: plan.clip,
    parties: plan.parties,
    threshold: plan.threshold,
    collusion: plan.collusion,
    units: plan.units,
    beta: plan.beta,
    scaleBits: plan.scaleBits,
    bits: plan.bits,
    l2Bound: plan.l2Bound,
    l1Bound: plan.l1Bound,
    noiseMultiplier: plan.noiseMultiplier,
    perPartyMu: `${plan.noise.perPartyMu.num}/${plan.noise.perPartyMu.den}`,
    privacyMu: plan.privacyMu,
    wrapBound: plan.wrapBound,
  };
}
