/**
 * Whether a DP result is useful: for the kinds whose noisy post-processing can come back empty or
 * clamped (mean, variance, covariance, correlation, linear_regression), the DP-noise standard
 * deviation of the result's key quantity is compared with a public target, NOISE_TARGET_FRACTION
 * of that quantity's scale from the schema's bounds alone:
 *   mean: the column's range w = max − min; variance: w²/4 (the largest variance a column in
 *   [min, max] can have); covariance of columns i, j: w_i·w_j/4; correlation: 1; a slope of
 *   linear_regression: w_target / w_predictor.
 * The noise sd comes from the noise plan (each entry's released sd, privacy.ts noiseStd) in two
 * ways, both post-processing of the release, neither reading unreleased data:
 *   1. per variable v of the query, to first order at the released (noisy) row count n̂: the
 *      centred sum of squares Σ(v − v̄)² moves by at most σ(Σv²) + 2·B·σ(Σv) + B²·σ(n) (B the
 *      column's largest |value|, v̄ within [−B, B]), so its variance's noise sd is at most that
 *      over n̂ − 1 (the predictors' spread decides whether X'X survives the noise);
 *   2. the parametric bootstrap of the released result (privacy.ts noiseUncertainty) for the key
 *      fields themselves (slopes, correlations, the variance), when the result post-processed.
 * ratio = the largest (noise sd / target sd) of these; the result is "noise_dominates" when
 * ratio > 1. Every entry's noise variance is nearly ∝ 1/ρ (the plan splits ρ in fixed shares), so
 * the ρ that brings the worst ratio to 1 is about ρ · ratio²; ρ_needed is that, refined on the
 * noise plan re-made at the candidate ρ (data-independent) until the ratio there is 1.
 */
import type { NoisePlan } from './privacy.ts';
import { noiseStd, planNoise } from './privacy.ts';
import type { Plan } from './plan.ts';
import type { Query } from './query.ts';
import type { QueryResult } from './kinds/types.ts';
import { boundsCentre, type Schema } from './schema.ts';
import { numericSpec } from './kinds/univariate.ts';
import { momentVars, productIndex } from './kinds/moments.ts';
import { fixedValue } from './fixed.ts';

/** The target: the key quantity's noise sd at most this fraction of its public scale. */
export const NOISE_TARGET_FRACTION = 0.1;

export interface NoiseVerdict {
  /** "ok": the key quantity's noise sd is within its target; "noise_dominates": above it. */
  status: 'ok' | 'noise_dominates';
  /** The quantity that decided (the largest noise relative to its target). */
  quantity: string;
  /** Its DP-noise standard deviation in this release, and the public target (NOISE_TARGET_FRACTION × scale). */
  noiseSd: number;
  targetSd: number;
  /** The ρ of this release, and the ρ that would bring noiseSd to targetSd (a lower bound when atLeast; null only when no bound exists). */
  rho: number;
  rhoNeeded: number | null;
  /**
   * True when the result's own key fields could not be judged (its post-processing failed, or the
   * bootstrap of a key field did): rhoNeeded then comes from the variables' spread alone and is a
   * lower bound (the slopes or correlations may need more).
   */
  atLeast: boolean;
  /** One sentence for people. */
  message: string;
}

/** The kinds judged here. */
const JUDGED = new Set(['mean', 'variance', 'covariance', 'correlation', 'linear_regression']);

interface Candidate { quantity: string; sd: number; target: number }

/** A variable's width: a numeric column's bound range, or 1 for a level indicator (treatment coding). */
function range(schema: Schema, column: string, indicators: ReadonlySet<string>): number {
  if (indicators.has(column)) return 1;
  const c = numericSpec(schema, column);
  return (c.max ?? 0) - (c.min ?? 0);
}

/**
 * The verdict on a DP release of `q` (undefined for exact releases and for kinds not judged):
 * `sums` are the released (noisy) sums, `result` and `uncertainty` their post-processing
 * (result undefined when it failed), `contributors` the number of parties in the sum.
 */
export function noiseVerdict(
  q: Query, schema: Schema, plan: Plan, np: NoisePlan | undefined, sums: bigint[], contributors: number,
  result: QueryResult | undefined, uncertainty: Record<string, number | null>,
): NoiseVerdict | undefined {
  if (!np || !JUDGED.has(q.kind)) return undefined;
  // Regression, covariance and correlation variables are the design's: numeric columns and level
  // indicators (moments.ts momentVars), an indicator's range being 1.
  const design = q.kind === 'linear_regression' ? momentVars(schema, [...q.columns, q.target!])
    : q.kind === 'covariance' || q.kind === 'correlation' ? momentVars(schema, q.columns) : undefined;
  const indicators = new Set((design ?? []).filter((v) => v.level !== undefined).map((v) => v.label));
  const rangeOf = (v: string): number => range(schema, v, indicators);
  const vars = design ? design.map((v) => v.label) : [q.columns[0]!];
  const sd = noiseStd(np, plan, contributors);
  const s = { sums, scaleBits: [...plan.scaleBits] };
  const nHat = fixedValue(s, 0);
  const rho = np.rho;
  const f = NOISE_TARGET_FRACTION;
  if (!(nHat >= 2)) {
    // The true n is unknown; with ~97.5% confidence it is below n̂ + 2·sd. A count whose noise sd
    // is at most f·n needs at least rho·(sd / (f·nUpper))² — a lower bound, since n may be smaller.
    const sd0 = sd[0]!;
    const nUpper = Math.max(nHat, 0) + 2 * sd0;
    const rhoNeeded = nUpper > 0 ? rho * (sd0 / (f * nUpper)) ** 2 : null;
    const suggest = rhoNeeded === null ? '' : ` (rho of at least ${Number(rhoNeeded.toPrecision(3))} instead of ${Number(rho.toPrecision(3))}, more if the rows are fewer)`;
    return {
      status: 'noise_dominates', quantity: 'n', noiseSd: sd0, targetSd: f * Math.max(nHat, 1), rho, rhoNeeded, atLeast: true,
      message: `the DP noise dominates: the noisy row count is ${Number(nHat.toPrecision(3))} (noise sd ${Number(sd0.toPrecision(3))}), too few to judge this query's noise; widen the filter or raise rho${suggest}`,
    };
  }
  const m = vars.length;
  // 2. The key fields of the released result, from its bootstrap (when it post-processed).
  let atLeast = false;
  const fields: Candidate[] = [];
  const field = (name: string, quantity: string, scale: number): void => {
    const u = uncertainty[name];
    if (result && typeof u === 'number' && Number.isFinite(u)) fields.push({ quantity, sd: u, target: f * scale });
    else atLeast = true;
  };
  if (q.kind === 'mean') field('mean', `mean of ${vars[0]}`, rangeOf(vars[0]!));
  if (q.kind === 'variance') field('variance', `variance of ${vars[0]}`, rangeOf(vars[0]!) ** 2 / 4);
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) {
      if (q.kind === 'correlation') field(`matrix[${i}][${j}]`, `correlation of ${vars[i]} and ${vars[j]}`, 1);
      if (q.kind === 'covariance') field(`matrix[${i}][${j}]`, `covariance of ${vars[i]} and ${vars[j]}`, (rangeOf(vars[i]!) * rangeOf(vars[j]!)) / 4);
    }
  }
  if (q.kind === 'linear_regression') {
    const wy = rangeOf(q.target!);
    vars.slice(0, -1).forEach((x, j) => field(`coefficients[${j + 1}]`, `slope of ${x}`, wy / rangeOf(x)));
  }
  /**
   * Every candidate, the entries' noise sd being `at` (this release's: `sd`; another rho's: from
   * its noise plan). 1. per variable, from the noise plan at the released n̂; 2. the bootstrap's
   * key fields, scaled by how much the entries' noise sd changes from `sd` to `at`.
   */
  const candidates = (at: number[]): Candidate[] => {
    const out: Candidate[] = [];
    vars.forEach((v, i) => {
      const w = rangeOf(v);
      // max |v − c|: the entries hold sums of the variable shifted by its public centre c (an indicator's is 0)
      const B = design ? design[i]!.bound : boundsCentre(numericSpec(schema, v)).bound;
      const sS = at[1 + i]!;
      if (q.kind === 'mean') {
        out.push({ quantity: `mean of ${v}`, sd: (sS + B * at[0]!) / nHat, target: f * w });
        return;
      }
      const sQ = at[productIndex(i, i, m)]!;
      out.push({ quantity: `variance of ${v}`, sd: (sQ + 2 * B * sS + B * B * at[0]!) / (nHat - 1), target: (f * w * w) / 4 });
    });
    let k = 0;
    for (let e = 0; e < at.length; e++) k += at[e]! / sd[e]!;
    k /= at.length;
    for (const c of fields) out.push({ ...c, sd: c.sd * k });
    return out;
  };
  const worstOf = (cs: Candidate[]): Candidate => cs.reduce((a, c) => (c.sd / c.target > a.sd / a.target ? c : a));
  const worst = worstOf(candidates(sd));
  const ratio = worst.sd / worst.target;
  // The rho at which the worst ratio is 1: noise variance is nearly ∝ 1/rho (exactly so for the
  // Gaussian; Skellam's correction shifts it a little), so iterate rho ← rho·ratio² on the noise
  // plan re-made at each rho (data-independent) until the ratio is 1 to 1e-4.
  let rhoNeeded = rho * ratio * ratio;
  for (let it = 0; it < 8; it++) {
    let r: number;
    try {
      const at = noiseStd(planNoise(q, schema, plan, { rho: rhoNeeded, parties: np.parties, threshold: np.threshold, collusion: np.collusion }), plan, contributors);
      const w = worstOf(candidates(at));
      r = w.sd / w.target;
    } catch {
      break; // e.g. so much noise that the ring could overflow: keep the power-law estimate
    }
    if (Math.abs(r - 1) < 1e-4) break;
    rhoNeeded *= r * r;
  }
  const fmt = (x: number): string => String(Number(x.toPrecision(3)));
  const pct = `${Math.round(f * 100)}%`;
  if (ratio > 1) {
    const unjudged = atLeast ? ` (at least: the result${result ? '\'s key fields' : ''} could not be judged at this noise, so they may need more)` : '';
    return {
      status: 'noise_dominates', quantity: worst.quantity, noiseSd: worst.sd, targetSd: worst.target, rho, rhoNeeded, atLeast,
      message: `the DP noise dominates: the noise sd of the ${worst.quantity} is ${fmt(worst.sd)}, ${fmt(ratio)} times the target of ${fmt(worst.target)} (${pct} of its scale from the schema's bounds); rho ≈ ${fmt(rhoNeeded)} instead of ${fmt(rho)} would bring it to the target${unjudged}`,
    };
  }
  return {
    status: 'ok', quantity: worst.quantity, noiseSd: worst.sd, targetSd: worst.target, rho, rhoNeeded, atLeast,
    message: `the DP noise is within its target: the noise sd of the ${worst.quantity} is ${fmt(worst.sd)}, at most ${pct} of its scale (${fmt(worst.target)})` +
      (result ? '' : '; the post-processing failure is then the data\'s (a constant or collinear variable), not the noise\'s'),
  };
}
