/**
 * Post-processing of a GLM round (glm.ts): R's `summary(glm(...))` at the round's state and the
 * Newton step to the next state. Works on released sums only.
 *   coefficients: the state, on the original scale (design.ts toOriginalScale);
 *   standard errors: √diag(I⁻¹) at the state, transformed the same way; z = β/SE, p = 2Φ(−|z|);
 *   deviance at the state; null deviance of the intercept-only model in closed form
 *     binomial: −2[S log p̂ + (n − S) log(1 − p̂)], p̂ = S/n;
 *     Poisson: 2[Σ y log y − β₀ S − Σ y log e], e^{β₀} = S / Σ e (the offset's MLE);
 *   AIC: binomial deviance + 2m; Poisson −2 log L + 2m with
 *     −2 log L = deviance − 2 Σ y log y + 2 S + 2 Σ lgamma(y + 1);
 *   next state β̃ + I⁻¹U (Cholesky of I); a Poisson model's first round (state 0) steps to the
 *   null model's intercept instead, a start as close as R's (μ = ȳ), from released sums only.
 */
import { twoSidedP } from '../distributions.ts';
import { fixedValue } from '../fixed.ts';
import { QueryError, type Query } from '../query-types.ts';
import type { Schema } from '../schema.ts';
import { toOriginalScale } from './design.ts';
import { encodeGlmState, familyOf, glmDesign, glmLayoutIndex, glmState, recentre, uncentred, type GlmState } from './glm-model.ts';
import { repairNoisyInformation } from './psd.ts';
import { cholesky, choleskySolve } from './regression.ts';
import type { FixedSums, GlmResult } from './types.ts';

/** Longest Newton step in any standardized coefficient (|x̃| ≤ 1: a step of 10 moves η by up to 10 per unit). */
export const MAX_STEP = 10;

function inverse(L: number[][]): number[][] {
  const m = L.length;
  return Array.from({ length: m }, (_, j) => {
    const e = new Array<number>(m).fill(0);
    e[j] = 1;
    return choleskySolve(L, e);
  });
}

export function glmFinalize(q: Query, schema: Schema, s: FixedSums): GlmResult {
  const fam = familyOf(q);
  const design = glmDesign(q, schema);
  const m = design.terms.length + 1;
  const idx = glmLayoutIndex(m, fam, q.offset !== undefined);
  const st = glmState(q, schema);
  const state = st.beta;
  const v = (i: number): number => fixedValue(s, i);
  const n = v(idx.n);
  const sumY = v(idx.sumY);
  const notes: string[] = [];
  if (!(n >= m)) throw new QueryError(`${q.kind}: ${m} coefficients need at least ${m} complete rows, got n = ${n}; widen the filter or use fewer predictors`);
  const U = Array.from({ length: m }, (_, j) => v(idx.score + j));
  const I = Array.from({ length: m }, () => new Array<number>(m).fill(0));
  let k = idx.info;
  for (let j = 0; j < m; j++) for (let l = j; l < m; l++) I[j]![l] = I[l]![j] = v(k++);
  const deviance = v(idx.deviance);
  let L = cholesky(I);
  if (!L) {
    const repaired = repairNoisyInformation(I);
    if (repaired) {
      L = cholesky(repaired);
      notes.push('the noisy information matrix had a negative eigenvalue: its eigenvalues were clipped to a floor (post-processing of the DP release)');
    }
  }
  let cov: number[][] | null = null;
  let nextState: number[] | null = null;
  let next: GlmState | null = null;
  if (L) {
    cov = inverse(L);
    const step = choleskySolve(L, U);
    // A trust region: a step longer than MAX_STEP in any standardized coefficient is shortened to
    // it (a noisy information matrix can be near singular; exact fits never need such a step).
    const longest = Math.max(...step.map(Math.abs));
    const shrink = longest > MAX_STEP ? MAX_STEP / longest : 1;
    if (shrink < 1) notes.push(`the Newton step (${longest.toPrecision(3)} in a standardized coefficient) was shortened to ${MAX_STEP}`);
    next = { beta: state.map((b, j) => b + shrink * step[j]!), centers: st.centers };
  } else {
    notes.push('the information matrix is singular at this state (a predictor is constant or collinear, or the classes are separated): no standard errors and no Newton step');
  }
  // Null (intercept-only) model.
  let nullDeviance: number | null = null;
  let nullIntercept: number | null = null;
  let minus2LogLik: number | null = null;
  if (fam === 'binomial') {
    const phat = sumY / n;
    const xlogx = (a: number, b: number): number => (a > 0 ? a * Math.log(b) : 0);
    if (phat > 0 && phat < 1) nullIntercept = Math.log(phat / (1 - phat));
    nullDeviance = -2 * (xlogx(sumY, phat) + xlogx(n - sumY, 1 - phat));
    minus2LogLik = deviance;
  } else {
    const [ylogy, lgam] = [v(idx.extra), v(idx.extra + 1)];
    // Without an exposure, Σ exposure = n and Σ y log exposure = 0.
    const [sumE, ylogE] = q.offset !== undefined ? [v(idx.extra + 2), v(idx.extra + 3)] : [n, 0];
    if (sumY > 0 && sumE > 0) {
      nullIntercept = Math.log(sumY / sumE);
      nullDeviance = 2 * (ylogy - nullIntercept * sumY - ylogE);
    } else if (sumY === 0) {
      nullDeviance = 0;
    }
    minus2LogLik = deviance - 2 * ylogy + 2 * sumY + 2 * lgam;
  }
  const first = st.centers.every((c) => c === 0) && state.every((b) => b === 0);
  if (fam === 'poisson' && first && nullIntercept !== null && Number.isFinite(nullIntercept)) {
    // First Poisson round: start the Newton iterations at the null model (released sums only):
    // from η = log exposure, the log link's steps shrink μ by at most a factor e each.
    next = { beta: state.map((_, j) => (j === 0 ? nullIntercept! : 0)), centers: st.centers };
  }
  if (next && first && I[0]![0]! > 0) {
    // After round 1: centre every term at its weighted mean I₀ⱼ/I₀₀ (released), same predictor.
    next = recentre(next, I[0]!.slice(1).map((v) => Math.max(-1, Math.min(1, v / I[0]![0]!))));
  }
  nextState = next ? encodeGlmState(next) : null;
  // Coefficients and covariance of the uncentred design x̃, then of the original columns.
  const C = Array.from({ length: m }, (_, i) => Array.from({ length: m }, (_, j): number => (i === j ? 1 : i === 0 && j > 0 ? -st.centers[j - 1]! : 0)));
  const covU = cov ? C.map((row) => cov![0]!.map((_, k) => row.reduce((a, c, l) => a + c * cov![l]![k]!, 0))).map((row) => C.map((crow) => row.reduce((a, x, l) => a + x * crow[l]!, 0))) : null;
  const orig = toOriginalScale(design, uncentred(st), covU, true);
  const se = orig.cov ? orig.cov.map((row, j) => Math.sqrt(Math.max(0, row[j]!))) : new Array<number | null>(m).fill(null);
  const z = orig.beta.map((b, j) => (se[j] ? b / se[j]! : null));
  const p = z.map((x) => (x === null ? null : twoSidedP(x)));
  return {
    kind: q.kind as GlmResult['kind'],
    family: fam,
    link: fam === 'binomial' ? 'logit' : 'log',
    target: q.target!,
    n,
    terms: ['(Intercept)', ...design.terms],
    coefficients: orig.beta,
    standardErrors: se,
    zValues: z,
    pValues: p,
    deviance,
    nullDeviance,
    dfResidual: n - m,
    dfNull: n - 1,
    aic: minus2LogLik === null ? null : minus2LogLik + 2 * m,
    nextCoefficients: next ? toOriginalScale(design, uncentred(next), null, true).beta : new Array<number | null>(m).fill(null),
    state: encodeGlmState(st),
    nextState,
    objective: Number.isFinite(deviance) ? deviance : null,
    notes,
  };
}
