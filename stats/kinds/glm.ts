/**
 * logistic_regression (binomial family, logit link) and poisson_regression (Poisson family, log
 * link, optional exposure offset): generalized linear models fitted by Newton–Raphson (= IRLS
 * for these canonical links) in rounds (stats/iterative.ts). One round is evaluated at a public
 * state β̃ (coefficients of the standardized design of stats/kinds/design.ts, intercept first) and
 * aggregates, over complete cases matching the filter, with η = x̃ᵀβ̃ (+ log exposure), μ = g⁻¹(η):
 *   n, Σy, the score U = Σ x̃ (y − μ), the information I = Σ w x̃x̃ᵀ (w = μ(1 − μ) or μ; upper
 *   triangle), the deviance Σ d_i at β̃, and for Poisson Σ y log y, Σ lgamma(y + 1), Σ exposure and
 *   Σ y·log exposure (the null deviance and the AIC come from those in closed form).
 * Per-row bounds come from the schema and the state only: |x̃| ≤ 1, so |η| ≤ H = Σ|β̃_j| (+ the
 * offset's bound), which bounds μ, w, U, I and the deviance before any data is read.
 * Post-processing (glm-result.ts) reports R's glm summary at β̃ and the Newton step β̃ + I⁻¹U.
 */
import type { CategoricalColumn, Dataset, NumericColumn } from '../dataset.ts';
import { logGamma } from '../distributions.ts';
import type { Query } from '../query-types.ts';
import { findColumn, levelsOf, type Schema } from '../schema.ts';
import { ITERATIVE } from '../iterative.ts';
import { designRows } from './design.ts';
import { encodeGlmState, familyOf, glmDesign, glmLayoutIndex, glmMidpoint, glmState, offsetBounds } from './glm-model.ts';
import { glmFinalize } from './glm-result.ts';
import type { Entry, KindDef, RowTerms } from './types.ts';

/** Largest |term| one row adds to the score, the information and the deviance, and the largest y. */
interface RowBounds { resid: number; weight: number; deviance: number; y: number }

/**
 * The range of x̂ᵀβ̂ over the design's box (public: the state and the schema), x̂ = x̃ − c: the
 * intercept; for a standardized column β̂ⱼ(x̃ⱼ − cⱼ) with x̃ⱼ ∈ [−1, 1]; for a factor (a row has one
 * level) the least and largest of 0 (its reference) and its dummies' coefficients, less Σ β̂ₗcₗ.
 * Also the largest |x̂ⱼ| of each term (1 for the intercept).
 */
export function linearPredictorRange(q: Query, schema: Schema): { lo: number; hi: number; xmax: number[] } {
  const d = glmDesign(q, schema);
  const { beta, centers } = glmState(q, schema);
  let lo = beta[0]!;
  let hi = beta[0]!;
  const xmax = [1];
  let t = 0;
  for (const name of d.columns) {
    const c = findColumn(schema, name)!;
    if (c.type === 'categorical') {
      const k = levelsOf(c).length - 1;
      const bs = beta.slice(1 + t, 1 + t + k);
      const shift = bs.reduce((a, b, l) => a + b * centers[t + l]!, 0);
      lo += Math.min(0, ...bs) - shift;
      hi += Math.max(0, ...bs) - shift;
      for (let l = 0; l < k; l++) xmax.push(Math.max(Math.abs(centers[t + l]!), Math.abs(1 - centers[t + l]!)));
      t += k;
    } else {
      const b = beta[1 + t]!;
      const ct = centers[t]!;
      lo += Math.min(b * (-1 - ct), b * (1 - ct));
      hi += Math.max(b * (-1 - ct), b * (1 - ct));
      xmax.push(1 + Math.abs(ct));
      t++;
    }
  }
  return { lo, hi, xmax };
}

/** Relative margin on every bound: a row at a corner of the box must not exceed it by a rounding. */
const MARGIN = 1 + 1e-9;

function rowBounds(q: Query, schema: Schema): RowBounds {
  const b = exactBounds(q, schema);
  return { resid: b.resid * MARGIN, weight: b.weight * MARGIN, deviance: b.deviance * MARGIN, y: b.y };
}

function exactBounds(q: Query, schema: Schema): RowBounds {
  const { lo, hi } = linearPredictorRange(q, schema);
  if (familyOf(q) === 'binomial') {
    const h = Math.max(Math.abs(lo), Math.abs(hi));
    return { resid: 1, weight: 0.25, deviance: 2 * (h + Math.LN2), y: 1 };
  }
  const [olo, ohi] = offsetBounds(q, schema);
  const ymax = findColumn(schema, q.target!)!.max!;
  const mu = Math.exp(hi + ohi);
  const etaAbs = Math.max(Math.abs(lo + olo), Math.abs(hi + ohi));
  const deviance = 2 * (ymax * (Math.log(Math.max(ymax, 1)) + etaAbs) + mu);
  return { resid: Math.max(ymax, mu), weight: mu, deviance, y: ymax };
}

function layout(q: Query, schema: Schema): Entry[] {
  const d = glmDesign(q, schema);
  const names = ['(Intercept)', ...d.terms];
  const m = names.length;
  const fam = familyOf(q);
  const b = rowBounds(q, schema);
  const out: Entry[] = [
    { name: 'n', bound: 1, integer: true, nonNegative: true },
    { name: `sum(${q.target})`, bound: b.y, integer: true, nonNegative: true },
  ];
  const { xmax } = linearPredictorRange(q, schema);
  names.forEach((t, j) => out.push({ name: `score(${t})`, bound: b.resid * xmax[j]! * MARGIN, integer: false }));
  for (let j = 0; j < m; j++) {
    for (let k = j; k < m; k++) out.push({ name: `information(${names[j]}, ${names[k]})`, bound: b.weight * xmax[j]! * xmax[k]! * MARGIN, integer: false, nonNegative: j === k });
  }
  out.push({ name: 'deviance', bound: b.deviance, integer: false, nonNegative: true });
  if (fam === 'poisson') {
    const ymax = b.y;
    const [olo, ohi] = offsetBounds(q, schema);
    out.push(
      { name: `sum(${q.target} log ${q.target})`, bound: ymax * Math.log(Math.max(ymax, 1)) * MARGIN, integer: false, nonNegative: true },
      { name: `sum(lgamma(${q.target} + 1))`, bound: ymax >= 2 ? logGamma(ymax + 1) * MARGIN : 1e-9, integer: false, nonNegative: true },
    );
    if (q.offset !== undefined) {
      out.push(
        { name: 'sum(exposure)', bound: Math.exp(ohi) * MARGIN, integer: false, nonNegative: true },
        { name: `sum(${q.target} log exposure)`, bound: Math.max(ymax * Math.max(Math.abs(olo), Math.abs(ohi)), 1e-9) * MARGIN, integer: false },
      );
    }
  }
  // Under DP: the next state β̃ + I⁻¹U is where the score vanishes, so errors in U move it
  // directly while errors in I mostly slow convergence; the rest is only reported.
  const idx = glmLayoutIndex(m, fam, q.offset !== undefined);
  const rest = out.length - m - (m * (m + 1)) / 2;
  out.forEach((e, i) => {
    e.privacyShare = i >= idx.score && i < idx.info ? PRIVACY_SCORE / m
      : i >= idx.info && i < idx.deviance ? PRIVACY_INFORMATION / ((m * (m + 1)) / 2)
      : (1 - PRIVACY_SCORE - PRIVACY_INFORMATION) / rest;
  });
  return out;
}

/** Shares of a DP round's ρ: the score, the information, and the reported sums (n, Σy, deviance, …). */
export const PRIVACY_SCORE = 0.5;
export const PRIVACY_INFORMATION = 0.45;

function rowTerms(q: Query, schema: Schema, dataset: Dataset): RowTerms {
  const d = glmDesign(q, schema);
  const p = d.terms.length;
  const m = p + 1;
  const fam = familyOf(q);
  const { beta, centers } = glmState(q, schema);
  const idx = glmLayoutIndex(m, fam, q.offset !== undefined);
  const x = new Float64Array(m);
  x[0] = 1;
  const xs = x.subarray(1);
  const design = designRows(d, dataset);
  const target = dataset.columns.get(q.target!)!;
  let yOf: (row: number) => number; // NaN: missing
  if (fam === 'binomial') {
    const codes = (target as CategoricalColumn).codes;
    const levels = (target as CategoricalColumn).levels;
    const positive = new Set((q.positive ?? []).map((lv) => levels.indexOf(lv)));
    yOf = (row) => (codes[row]! < 0 ? NaN : positive.has(codes[row]!) ? 1 : 0);
  } else {
    const values = (target as NumericColumn).values;
    yOf = (row) => values[row]!;
  }
  const exposure = q.offset !== undefined ? (dataset.columns.get(q.offset) as NumericColumn).values : undefined;
  // Exposures below the smallest positive value the schema allows (or not positive) are not used:
  // log(exposure) stays inside the bounds the plan was made with, whatever the data (no refusal).
  const minExposure = q.offset !== undefined ? Math.exp(offsetBounds(q, schema)[0]) * (1 - 1e-12) : 0;
  return (row, out) => {
    const y = yOf(row);
    if (Number.isNaN(y)) return false;
    let o = 0;
    let e = 1;
    if (exposure) {
      e = exposure[row]!;
      if (!(e > 0 && e >= minExposure)) return false; // missing, non-positive or below the schema's smallest exposure
      o = Math.log(e);
    }
    if (!design(row, xs)) return false;
    for (let j = 0; j < p; j++) xs[j]! -= centers[j]!;
    let eta = o;
    for (let j = 0; j < m; j++) eta += beta[j]! * x[j]!;
    let mu: number;
    let w: number;
    let dev: number;
    if (fam === 'binomial') {
      mu = 1 / (1 + Math.exp(-eta));
      w = mu * (1 - mu);
      // −2 log L_i = 2 log(1 + e^{−η}) for y = 1, 2 log(1 + e^{η}) for y = 0 (stable forms).
      const s = y === 1 ? -eta : eta;
      dev = 2 * (s > 0 ? s + Math.log1p(Math.exp(-s)) : Math.log1p(Math.exp(s)));
    } else {
      mu = Math.exp(eta);
      w = mu;
      dev = 2 * ((y > 0 ? y * (Math.log(y) - eta) : 0) - (y - mu));
      const ylogy = y > 0 ? y * Math.log(y) : 0;
      out[idx.extra] = ylogy;
      out[idx.extra + 1] = logGamma(y + 1);
      if (exposure) {
        out[idx.extra + 2] = e;
        out[idx.extra + 3] = y * o;
      }
    }
    out[idx.n] = 1;
    out[idx.sumY] = y;
    const r = y - mu;
    let k = idx.info;
    for (let j = 0; j < m; j++) {
      out[idx.score + j] = x[j]! * r;
      const wx = w * x[j]!;
      for (let l = j; l < m; l++) out[k++] = wx * x[l]!;
    }
    out[idx.deviance] = Math.max(0, dev);
    return true;
  };
}

function glmKind(): KindDef {
  return { layout, rowTerms, finalize: glmFinalize, maxScaleBits: 40 };
}

export const logisticRegression: KindDef = glmKind();
export const poissonRegression: KindDef = glmKind();

const glmIterative = { initialState: (q: Query, schema: Schema): number[] => encodeGlmState(glmState(q, schema)), midpoint: glmMidpoint };
ITERATIVE['logistic_regression'] = glmIterative;
ITERATIVE['poisson_regression'] = glmIterative;
