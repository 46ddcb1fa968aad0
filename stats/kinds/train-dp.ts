/**
 * The DP training round (docs/training.md § DP training): the distributed discrete Gaussian-like
 * mechanism of Kairouz–Liu–Steinke (ICML 2021) with Skellam noise (Agarwal–Kairouz–Liu, NeurIPS
 * 2021), record-level, inside a query. Every node derives it from the query alone plus the roster:
 *
 * - each sampled row's clipped gradient g (‖g‖ ≤ C; train-round.ts clippedGradients) is padded to
 *   D = 2^⌈log₂ P⌉, rotated with the round's public random signs (a randomized Walsh–Hadamard
 *   transform, seed = hash of the job, round, seed and state), scaled by γ = 2^train.dp.scaleBits
 *   and conditionally rounded so that its integer vector has L2 norm ≤ Δ₂ (crypto/dp/rounding.ts);
 *   these D integers are the row's terms, summed exactly like any query's;
 * - each party adds Skellam noise sized so any t − c honest contributors carry variance
 *   (z·k·Δ₂)², z = train.dp.noiseMultiplier, k = rowsPerPatient (crypto/dp/ddp-plan.ts
 *   planDdpAtScale); the sum travels through either backend on the 64-bit ring (exact, no wrap);
 * - the release is divided by γ, rotated back and post-processed into the server update.
 *
 * Cost: the job of train.dp.rounds rounds with Poisson rate q per row (1 − (1 − q)^k per patient)
 * is (ε, δ)-DP by the Skellam RDP of a patient's L1/L2 sensitivity (kΔ₁, kΔ₂) under Poisson
 * subsampling (crypto/dp/accountant-subsampled.ts); its ρ is the zCDP ρ whose (ε, δ) conversion
 * at the job's δ equals ε (the ledgers compose in ρ), and each round must be charged at least
 * 1/rounds of it: a node refuses a round whose ρ is below.
 */
import { rhoFromEpsilonDelta } from '../../crypto/dp/accountant.ts';
import { jobEpsilon } from '../../crypto/dp/accountant-subsampled.ts';
import { planDdp, planDdpAtScale, type DdpPlan } from '../../crypto/dp/ddp-plan.ts';
import { paddedDimension, rotate, rotationSigns, unrotate } from '../../crypto/dp/hadamard.ts';
import { cryptoRandomSource } from '../../crypto/dp/random.ts';
import { conditionalRound, DEFAULT_BETA, roundedL1Bound, roundedL2Bound } from '../../crypto/dp/rounding.ts';
import { sha256 } from '../../crypto/sha256.ts';
import { canonicalJson } from '../canonical.ts';
import type { Dataset } from '../dataset.ts';
import { QueryError, type Query, type TrainDpSpec } from '../query-types.ts';
import type { Schema } from '../schema.ts';
import { serverUpdate } from '../train/central.ts';
import { l2norm } from '../train/clip.ts';
import { clippedGradients, encodeState, trainParts, trainState } from './train-round.ts';
import type { Entry, FixedSums, RowTerms, TrainRoundResult, VectorMechanism, VectorNoise } from './types.ts';

/** Largest Cγ: rotated, scaled coordinates stay below 2^26 for the exact norm check of the rounding. */
const MAX_SCALED_NORM = 2 ** 24;

export interface TrainDpGeometry {
  readonly dp: TrainDpSpec;
  /** Parameters P and the padded dimension D. */
  readonly P: number;
  readonly D: number;
  readonly gamma: number;
  /** Δ₂ and Δ₁ of one rounded row (grid units). */
  readonly l2Bound: number;
  readonly l1Bound: number;
}

export function trainDpGeometry(q: Query, schema: Schema): TrainDpGeometry {
  const { spec, net } = trainParts(q, schema);
  const dp = spec.dp;
  if (!dp) throw new QueryError('a differentially private train_round needs train.dp { noiseMultiplier, scaleBits, delta, rounds }: the job\'s mechanism, which the analyst\'s client chooses (client/train.ts planTrainDp)');
  const P = net.parameterCount;
  const D = paddedDimension(P);
  const gamma = 2 ** dp.scaleBits;
  if (!(spec.clip * gamma <= MAX_SCALED_NORM)) throw new QueryError(`train.dp.scaleBits: clip·2^scaleBits = ${spec.clip * gamma} exceeds 2^24 (the rounding's exact norm check); use a smaller scale`);
  const l2Bound = roundedL2Bound(spec.clip * gamma, D, DEFAULT_BETA);
  return { dp, P, D, gamma, l2Bound, l1Bound: roundedL1Bound(l2Bound, D) };
}

/** The round's public rotation seed: SHA-256 of the job, round, model seed and state. */
export function trainRotationSeed(q: Query): Uint8Array {
  const body = canonicalJson({ domain: 'blindsum/train-rotation/v1', job: q.job ?? '', round: q.round ?? 0, seed: q.train?.seed ?? '', state: q.state ?? [] });
  return sha256(new TextEncoder().encode(body));
}

function layout(q: Query, schema: Schema): Entry[] {
  const g = trainDpGeometry(q, schema);
  // One row's rounded vector has L2 norm ≤ Δ₂, so each coordinate moves by at most Δ₂.
  return Array.from({ length: g.D }, (_, i) => ({ name: `rotated[${i}]`, bound: g.l2Bound, integer: true }));
}

function rowTerms(q: Query, schema: Schema, dataset: Dataset): RowTerms {
  const g = trainDpGeometry(q, schema);
  const gradient = clippedGradients(q, schema, dataset);
  const signs = rotationSigns(trainRotationSeed(q), g.D);
  const rng = cryptoRandomSource();
  const x = new Float64Array(g.P);
  return (row, out) => {
    if (Number.isNaN(gradient(row, x))) return false;
    const y = rotate(x, signs);
    for (let i = 0; i < y.length; i++) y[i]! *= g.gamma;
    out.set(conditionalRound(y, g.l2Bound, rng).rounded);
    return true;
  };
}

function finalize(q: Query, schema: Schema, s: FixedSums): TrainRoundResult {
  const { spec, optimizer } = trainParts(q, schema);
  const g = trainDpGeometry(q, schema);
  const { params, opt } = trainState(q, schema);
  if (s.sums.length !== g.D) throw new RangeError(`train_round (DP): expected ${g.D} sums, got ${s.sums.length}`);
  const y = Float64Array.from(s.sums, (v, i) => Number(v) * 2 ** -s.scaleBits[i]! / g.gamma);
  const grad = unrotate(y, rotationSigns(trainRotationSeed(q), g.D), g.P);
  const next = serverUpdate(params, grad, spec.expectedBatch, optimizer, opt);
  return {
    kind: 'train_round', n: spec.expectedBatch,
    notes: ['differential privacy: only the noisy sum of the rotated, rounded, clipped gradients is released; n is the plan\'s public expected batch (the number of sampled rows is not released) and the loss is not released'],
    meanLoss: null, gradientNorm: l2norm(grad), parameters: [...params], state: encodeState(params, opt, optimizer), nextState: encodeState(next.params, next.state, optimizer), objective: null,
  };
}

/** The mechanism for this roster, and the job's ε at δ (what every node recomputes). */
export function trainDpPlan(q: Query, schema: Schema, roster: { parties: number; threshold: number; collusion: number }): { plan: DdpPlan; geometry: TrainDpGeometry; epsilon: number; order: number; jobRho: number } {
  const { spec } = trainParts(q, schema);
  const geometry = trainDpGeometry(q, schema);
  const k = schema.rowsPerPatient;
  const plan = planDdpAtScale({
    d: geometry.P, clip: spec.clip, parties: roster.parties, threshold: roster.threshold, collusion: roster.collusion,
    units: Math.min(2 ** 26, roster.parties * schema.maxRowsPerParty), noiseMultiplier: geometry.dp.noiseMultiplier * k,
  }, geometry.dp.scaleBits);
  const rate = spec.samplingRate ?? 1;
  // A patient's k rows are sampled independently: one or more of them is in the round with
  // probability 1 − (1 − q)^k, and then moves the sum by at most k rounded units.
  const patientRate = rate >= 1 ? 1 : 1 - (1 - rate) ** k;
  const { epsilon, order } = jobEpsilon(
    { mechanism: 'skellam', mu: plan.privacyMu, l1Sensitivity: k * plan.l1Bound, l2Sensitivity: k * plan.l2Bound },
    { samplingRate: patientRate, rounds: geometry.dp.rounds, delta: geometry.dp.delta },
  );
  return { plan, geometry, epsilon, order, jobRho: rhoFromEpsilonDelta(epsilon, geometry.dp.delta) };
}

function noise(q: Query, schema: Schema, opts: { rho: number; parties: number; threshold: number; collusion: number }): VectorNoise {
  const { plan, geometry, epsilon, jobRho } = trainDpPlan(q, schema, opts);
  const roundRho = jobRho / geometry.dp.rounds;
  if (!(opts.rho >= roundRho * (1 - 1e-9))) {
    throw new QueryError(
      `this training round's rho = ${opts.rho.toPrecision(4)} does not cover its share of the job: ${geometry.dp.rounds} rounds at noise multiplier ${geometry.dp.noiseMultiplier} are (epsilon = ${epsilon.toPrecision(4)}, delta = ${geometry.dp.delta.toExponential()})-DP, rho = ${jobRho.toPrecision(4)}, so each round needs rho ≥ ${roundRho.toPrecision(4)}`,
    );
  }
  const k = schema.rowsPerPatient;
  const l2 = k * plan.l2Bound;
  const l1 = k * plan.l1Bound;
  const ceil = (x: number): bigint => BigInt(Math.ceil(x));
  return {
    noise: plan.noise,
    sensitivity: { perEntry: [ceil(l2)], l1: ceil(l1), l2Squared: ceil(l2) * ceil(l2), l2 },
    roundRho,
    figures: { epsilon, delta: geometry.dp.delta, rounds: geometry.dp.rounds, noiseMultiplier: geometry.dp.noiseMultiplier, scaleBits: geometry.dp.scaleBits, bitsPerCoordinate: plan.bits, l2Bound: plan.l2Bound },
  };
}

export const trainRoundDp: VectorMechanism = { layout, rowTerms, finalize, noise };

/**
 * The analyst client's choice of a job's mechanism: the smallest noise multiplier z (relative
 * 1e-3) whose job of `rounds` rounds is (ε, δ)-DP by trainDpPlan — the very function every node
 * recomputes — at the scale γ that planDdp picks for that z (its bit-width and overhead rule).
 */
export function chooseTrainDp(q: Query, schema: Schema, roster: { parties: number; threshold: number; collusion: number }, target: { epsilon: number; delta: number; rounds: number }): TrainDpSpec {
  const { spec, net } = trainParts(q, schema);
  if (!(target.epsilon > 0 && Number.isFinite(target.epsilon))) throw new QueryError(`epsilon: expected a positive number, got ${target.epsilon}`);
  const k = schema.rowsPerPatient;
  const specAt = (z: number): TrainDpSpec => {
    const p = planDdp({
      d: net.parameterCount, clip: spec.clip, parties: roster.parties, threshold: roster.threshold, collusion: roster.collusion,
      units: Math.min(2 ** 26, roster.parties * schema.maxRowsPerParty), noiseMultiplier: z * k,
    });
    // Cγ must stay within the rounding's exact range (planDdp allows up to 2^24 too).
    return { noiseMultiplier: z, scaleBits: p.scaleBits, delta: target.delta, rounds: target.rounds };
  };
  const epsilonAt = (dp: TrainDpSpec): number => trainDpPlan({ ...q, train: { ...spec, dp } }, schema, roster).epsilon;
  let hi = 0.5;
  let best = specAt(hi);
  while (epsilonAt(best) > target.epsilon) {
    hi *= 2;
    if (hi > 1e4) throw new QueryError(`epsilon = ${target.epsilon} at delta = ${target.delta} over ${target.rounds} rounds needs a noise multiplier above 10^4: allow a larger epsilon, fewer rounds or a lower sampling rate`);
    best = specAt(hi);
  }
  let lo = hi / 2;
  if (hi === 0.5) lo = 0.05;
  if (hi > 0.5 || epsilonAt(specAt(lo)) > target.epsilon) {
    while (hi - lo > hi * 1e-3) {
      const mid = (lo + hi) / 2;
      const s = specAt(mid);
      if (epsilonAt(s) <= target.epsilon) {
        hi = mid;
        best = s;
      } else lo = mid;
    }
  } else best = specAt(lo);
  return best;
}

/** Rounds of a DP training job from this query's round on (1 for any other query). */
export function jobRoundsAhead(q: Query): number {
  const dp = q.kind === 'train_round' ? q.train?.dp : undefined;
  if (!dp) return 1;
  return Math.max(1, dp.rounds - (q.round ?? 1) + 1);
}
