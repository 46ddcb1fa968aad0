/**
 * Differential privacy for a planned query: the sensitivity of its fixed-point vector under
 * adding or removing one patient (from the schema's bounds, before any data is read), the
 * distributed Skellam noise each party adds, the noise scale of each released number, and the
 * uncertainty of derived statistics.
 *
 * Sensitivity. Entry e's per-row bound b_e (after clipping to the schema bounds) on the grid,
 * times the schema's rowsPerPatient k: g_e = k·⌈b_e·2^(s_e)⌉ (crypto/dp/distributed.ts
 * gridSensitivity; each row is rounded on its own). A DP plan (planQuery with dpGridBits) picks s_e so that every g_e is close
 * to 2^dpGridBits.
 *   - One-hot kinds (a row adds to one cell: frequency, contingency, histogram): the vector moves
 *     by at most max_e g_e in L1 and L2; one Skellam noise level for all entries.
 *   - Other kinds (every entry moves): the budget ρ is split over the m entries (equally, or in
 *     proportion to each entry's privacyShare) and each entry gets its own Skellam level for
 *     sensitivity g_e (composition over independent coordinates).
 * ρ here is for the worst case of exactly t contributors of which c collude with the aggregator
 * (the roster's collusion bound): every party adds σ²/(t − c), so any t − c honest contributors
 * supply σ². With k > t contributors there is more noise and `spentRho` is smaller.
 */
import { rhoFromEpsilonDelta } from '../crypto/dp/accountant.ts';
import {
  gridSensitivity, perPartyNoise, planDistributedNoiseForRho, releasedRho, releasedStdDev, type DistributedNoisePlan, type GridSensitivity,
} from '../crypto/dp/distributed.ts';
import type { RandomSource } from '../crypto/dp/random.ts';
import { KINDS } from './kinds/index.ts';
import type { VectorNoise } from './kinds/types.ts';
import { finalize, type Plan } from './plan.ts';
import { QueryError, type Query } from './query.ts';
import { numericFields } from './result.ts';
import { bootstrapFields, gaussian } from './bootstrap.ts';
import type { Schema } from './schema.ts';

/** Grid units one row moves an entry by in DP plans (2^10: exact Skellam sampling stays fast). */
export const DP_GRID_BITS = 10;

export interface PrivacySpec {
  rho?: number;
  epsilon?: number;
  delta?: number;
}

/** The zCDP ρ a query asks for: ρ directly, or (ε, δ) converted (CKS20) to the largest such ρ. */
export function privacyRho(p: PrivacySpec): number {
  const has = (x: number | undefined): x is number => x !== undefined && x !== 0;
  if (has(p.rho)) {
    if (has(p.epsilon) || has(p.delta)) throw new QueryError('privacy: give either rho, or epsilon with delta, not both');
    if (!(p.rho > 0 && p.rho <= 100)) throw new QueryError(`privacy: rho must be in (0, 100], got ${p.rho}`);
    return p.rho;
  }
  if (has(p.epsilon)) {
    if (!(p.epsilon > 0 && p.epsilon <= 100)) throw new QueryError(`privacy: epsilon must be in (0, 100], got ${p.epsilon}`);
    if (!has(p.delta) || !(p.delta > 0 && p.delta < 0.01)) throw new QueryError(`privacy: with epsilon, give delta in (0, 0.01) (e.g. 1e-6), got ${p.delta}`);
    return rhoFromEpsilonDelta(p.epsilon, p.delta);
  }
  throw new QueryError('privacy: give rho (zCDP) or epsilon and delta');
}

export interface NoisePlan {
  readonly rho: number;
  readonly parties: number;
  readonly threshold: number;
  /** c: parties that may collude with the aggregator; the noise is sized for t − c honest contributors. */
  readonly collusion: number;
  readonly oneHot: boolean;
  /** Per entry: its distributed-noise plan and its grid sensitivity. */
  readonly perEntry: readonly { readonly noise: DistributedNoisePlan; readonly sensitivity: GridSensitivity }[];
  /** Kinds with their own vector mechanism (train_round): its noise, charge and figures. */
  readonly vector?: VectorNoise;
}

/**
 * Plans each entry's noise so that the release is ρ-zCDP whenever at least t parties contribute,
 * even against an aggregator colluding with up to c of them (it knows and removes their noise):
 * each party's share is sized so that any t − c honest contributors supply the whole target noise.
 */
export function planNoise(q: Query, schema: Schema, plan: Plan, opts: { rho: number; parties: number; threshold: number; collusion?: number }): NoisePlan {
  if (plan.dpGridBits === undefined) throw new QueryError('differential privacy needs a DP plan (planQuery with dpGridBits)');
  if (!(opts.rho > 0)) throw new QueryError(`rho must be positive, got ${opts.rho}`);
  const collusion = opts.collusion ?? 0;
  if (!Number.isSafeInteger(collusion) || collusion < 0 || collusion >= opts.threshold) {
    throw new QueryError(`collusion c = ${collusion} must be an integer with 0 ≤ c < t = ${opts.threshold}`);
  }
  const mechanism = KINDS[q.kind].dp;
  if (mechanism) {
    // The kind's own vector mechanism (train_round): one Skellam level on every entry, sized and
    // charged by the kind (refused when ρ does not cover it).
    const v = mechanism.noise(q, schema, { rho: opts.rho, parties: opts.parties, threshold: opts.threshold, collusion });
    const worst = opts.parties * schema.maxRowsPerParty * Number(v.sensitivity.perEntry[0]!) + 8 * releasedStdDev(v.noise, opts.parties);
    if (!(worst < 2 ** (plan.ringBits - 1))) throw new QueryError(`data plus noise could overflow the ${plan.ringBits}-bit ring; use ringBits 64`);
    return { rho: opts.rho, parties: opts.parties, threshold: opts.threshold, collusion, oneHot: true, perEntry: plan.entries.map(() => ({ noise: v.noise, sensitivity: v.sensitivity })), vector: v };
  }
  const k = schema.rowsPerPatient;
  // k·⌈b·2^s⌉: each of a patient's k rows is rounded on its own (half away from zero), so it
  // moves the entry by at most ⌈b·2^s⌉ grid units.
  const grid = gridSensitivity(plan.entries.map((e) => e.bound), plan.scaleBits, k);
  // Rows that add to a fixed number `hot` of entries (1 for one-hot kinds): one noise level.
  const hot = KINDS[q.kind].oneHot === true ? 1 : (KINDS[q.kind].rowEntries?.(q) ?? 0);
  const oneHot = hot > 0;
  // Honest contributors guaranteed in any release: t − c.
  const base = { parties: opts.parties, threshold: opts.threshold - collusion };
  let perEntry: NoisePlan['perEntry'];
  if (oneHot) {
    const g = grid.perEntry.reduce((a, b) => (a > b ? a : b), 0n);
    const sensitivity: GridSensitivity = hot === 1 ? { perEntry: [g], l1: g, l2Squared: g * g, l2: Number(g) } : gridSensitivity(new Array<bigint>(hot).fill(g), new Array<number>(hot).fill(0), 1);
    const noise = planDistributedNoiseForRho({ ...base, rho: opts.rho, sensitivity });
    perEntry = grid.perEntry.map(() => ({ noise, sensitivity }));
  } else {
    // ρ split over the entries in proportion to their privacyShare (default equal), so Σ ρ_e = ρ.
    const shares = plan.entries.map((e) => e.privacyShare ?? 1);
    const total = shares.reduce((a, b) => a + b, 0);
    if (!(total > 0) || shares.some((w) => !(w > 0))) throw new QueryError('every entry needs a positive share of the privacy budget');
    perEntry = grid.perEntry.map((g, i) => {
      const sensitivity: GridSensitivity = { perEntry: [g], l1: g, l2Squared: g * g, l2: Number(g) };
      return { noise: planDistributedNoiseForRho({ ...base, rho: (opts.rho * shares[i]!) / total, sensitivity }), sensitivity };
    });
  }
  // Headroom: the noisy sum must not wrap the ring (8 standard deviations of all n parties' noise).
  const rows = opts.parties * schema.maxRowsPerParty;
  const limit = 2 ** (plan.ringBits - 1);
  perEntry.forEach((e, i) => {
    const worst = rows * Number(grid.perEntry[i]!) + 8 * releasedStdDev(e.noise, opts.parties);
    if (!(worst < limit)) throw new QueryError(`entry ${plan.entries[i]!.name}: data plus noise could overflow the ${plan.ringBits}-bit ring; use a larger rho or ringBits 64`);
  });
  return { rho: opts.rho, parties: opts.parties, threshold: opts.threshold, collusion, oneHot, perEntry };
}

/** This party's integer noise share, one value per entry (exact Skellam from a CSPRNG). */
export function noiseShare(np: NoisePlan, rng: RandomSource): bigint[] {
  if (np.oneHot) return perPartyNoise(np.perEntry[0]!.noise, np.perEntry.length, rng);
  return np.perEntry.map((e) => perPartyNoise(e.noise, 1, rng)[0]!);
}

/**
 * ρ actually spent when k ≥ t parties contributed noise (≤ the planned ρ), against the worst case
 * the roster allows: c of the k contributors collude with the aggregator, so only the noise of
 * k − c honest contributors protects the others.
 */
export function spentRho(np: NoisePlan, contributors: number): number {
  // A vector mechanism's cost is its share of the job, computed for t − c honest contributors.
  if (np.vector) return np.vector.roundRho;
  const honest = contributors - np.collusion;
  if (np.oneHot) return releasedRho(np.perEntry[0]!.noise, honest, np.perEntry[0]!.sensitivity);
  return np.perEntry.reduce((a, e) => a + releasedRho(e.noise, honest, e.sensitivity), 0);
}

/** Standard deviation of the noise on each released entry, in the entry's own units. */
export function noiseStd(np: NoisePlan, plan: Plan, contributors: number): number[] {
  return np.perEntry.map((e, i) => releasedStdDev(e.noise, contributors) * 2 ** -plan.scaleBits[i]!);
}

/**
 * Uncertainty of every numeric field of the result due to the DP noise: the standard deviation
 * over `replicates` parametric-bootstrap re-draws of the noise (Gaussian approximation of the
 * Skellam noise with the released variance) pushed through the same post-processing. Post-
 * processing of released values only; uses Math.random, never touches unreleased data.
 */
export function noiseUncertainty(q: Query, schema: Schema, plan: Plan, np: NoisePlan, sums: bigint[], contributors: number, replicates = 200): Record<string, number | null> {
  const sd = np.perEntry.map((e) => releasedStdDev(e.noise, contributors));
  const own = KINDS[q.kind].noiseUncertainty;
  if (own) return own(q, schema, { sums: [...sums], scaleBits: [...plan.scaleBits] }, noiseStd(np, plan, contributors));
  return isCountKind(q) ? countUncertainty(q, schema, plan, sd) : bootstrapUncertainty(q, schema, plan, sd, sums, replicates);
}

/** The parametric bootstrap of noiseUncertainty, for any kind (`sd`: noise per entry, grid units). */
export function bootstrapUncertainty(q: Query, schema: Schema, plan: Plan, sd: number[], sums: bigint[], replicates: number): Record<string, number | null> {
  const names = numericFields(finalize(q, schema, plan, sums)).map(([n]) => n);
  return bootstrapFields(names, replicates, () => {
    try {
      return finalize(q, schema, plan, sums.map((x, i) => x + BigInt(Math.round(gaussian() * sd[i]!))));
    } catch {
      return undefined; // e.g. a singular X'X in this replicate
    }
  });
}

/** Count kinds (every term 0 or 1): each numeric field of the result is a sum of entries. */
function isCountKind(q: Query): boolean {
  const k = KINDS[q.kind];
  return k.oneHot === true || k.rowEntries !== undefined;
}

/** Fixed-point bits of the variances passed through `finalize` in countUncertainty. */
const VARIANCE_BITS = 20;

/**
 * Closed form for count kinds: a field that is Σ_{j∈S} x_j (in its own units) has variance
 * Σ_{j∈S} σ_j² under independent noise, so the kind's own finalize applied to the per-entry
 * variances (on a fixed-point grid of VARIANCE_BITS) gives every field's variance. O(L) once,
 * where the bootstrap costs 200 passes over the vector (15 minutes at 10^6 entries); the test
 * checks it against the bootstrap.
 */
export function countUncertainty(q: Query, schema: Schema, plan: Plan, sd: number[]): Record<string, number | null> {
  const variances = sd.map((s, i) => BigInt(Math.round(s * s * 2 ** (VARIANCE_BITS - 2 * plan.scaleBits[i]!))));
  const result = KINDS[q.kind].finalize(q, schema, { sums: variances, scaleBits: variances.map(() => VARIANCE_BITS) });
  const out: Record<string, number | null> = {};
  for (const [name, v] of numericFields(result)) out[name] = v === null ? null : Math.sqrt(Math.max(0, v));
  return out;
}

