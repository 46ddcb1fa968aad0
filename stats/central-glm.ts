/**
 * Central reference for the GLM kinds: glm.fit's IRLS on the raw rows in float64, written
 * independently of the federated rounds (unstandardized design, R's starting values
 * μ = (y + 0.5)/2 or y + 0.1, weighted least squares by normal equations, R's convergence rule),
 * so tests compare two implementations. Same rows as the federated query: the filter, complete
 * cases of target and predictors, and (Poisson) a positive exposure.
 */
import type { CategoricalColumn, Dataset, NumericColumn } from './dataset.ts';
import { logGamma, twoSidedP } from './distributions.ts';
import { matchRows } from './filter.ts';
import { convergedBy, DEFAULT_EPSILON, DEFAULT_MAX_ROUNDS } from './iterative.ts';
import { cholesky, choleskySolve } from './kinds/regression.ts';
import type { GlmResult } from './kinds/types.ts';
import type { Query } from './query-types.ts';
import { levelsOf, findColumn, type Schema } from './schema.ts';

interface Rows { X: number[][]; y: number[]; offset: number[]; terms: string[] }

function rowsOf(q: Query, schema: Schema, dataset: Dataset): Rows {
  const mask = matchRows(dataset, q.filter);
  const terms = ['(Intercept)'];
  const getters: ((r: number) => number[] | null)[] = [];
  for (const name of q.columns) {
    const col = dataset.columns.get(name)!;
    if (col.kind === 'categorical') {
      const levels = levelsOf(findColumn(schema, name)!);
      for (const lv of levels.slice(1)) terms.push(`${name}${lv}`);
      const codes = (col as CategoricalColumn).codes;
      getters.push((r) => (codes[r]! < 0 ? null : levels.slice(1).map((_, j) => (codes[r] === j + 1 ? 1 : 0))));
    } else {
      terms.push(name);
      const v = (col as NumericColumn).values;
      getters.push((r) => (Number.isNaN(v[r]!) ? null : [v[r]!]));
    }
  }
  const target = dataset.columns.get(q.target!)!;
  const positive = new Set(q.positive ?? []);
  const yOf = (r: number): number => {
    if (target.kind === 'categorical') {
      const c = target.codes[r]!;
      return c < 0 ? NaN : positive.has(target.levels[c]!) ? 1 : 0;
    }
    return target.values[r]!;
  };
  const exposure = q.offset ? (dataset.columns.get(q.offset) as NumericColumn).values : null;
  const out: Rows = { X: [], y: [], offset: [], terms };
  for (let r = 0; r < dataset.rowCount; r++) {
    if (!mask[r]) continue;
    const y = yOf(r);
    if (Number.isNaN(y)) continue;
    if (exposure && !(exposure[r]! > 0)) continue;
    const parts = getters.map((g) => g(r));
    if (parts.some((p) => p === null)) continue;
    out.X.push([1, ...parts.flatMap((p) => p!)]);
    out.y.push(y);
    out.offset.push(exposure ? Math.log(exposure[r]!) : 0);
  }
  return out;
}

/** R's glm(...) summary computed centrally. */
export function centralGlm(q: Query, schema: Schema, dataset: Dataset, opts: { epsilon?: number; maxIterations?: number } = {}): GlmResult {
  const binomial = q.kind === 'logistic_regression';
  const { X, y, offset, terms } = rowsOf(q, schema, dataset);
  const n = y.length;
  const m = terms.length;
  const linkinv = (eta: number): number => (binomial ? 1 / (1 + Math.exp(-eta)) : Math.exp(eta));
  const devRes = (yi: number, mu: number): number =>
    binomial ? -2 * (yi === 1 ? Math.log(mu) : Math.log(1 - mu)) : 2 * ((yi > 0 ? yi * Math.log(yi / mu) : 0) - (yi - mu));
  let mu = y.map((yi) => (binomial ? (yi + 0.5) / 2 : yi + 0.1));
  let eta = mu.map((u) => (binomial ? Math.log(u / (1 - u)) : Math.log(u)));
  let dev = y.reduce((a, yi, i) => a + devRes(yi, mu[i]!), 0);
  let beta = new Array<number>(m).fill(0);
  let L: number[][] | null = null;
  let iter = 0;
  let converged = false;
  const eps = opts.epsilon ?? DEFAULT_EPSILON;
  for (iter = 1; iter <= (opts.maxIterations ?? DEFAULT_MAX_ROUNDS); iter++) {
    const A = Array.from({ length: m }, () => new Array<number>(m).fill(0));
    const b = new Array<number>(m).fill(0);
    for (let i = 0; i < n; i++) {
      const w = binomial ? mu[i]! * (1 - mu[i]!) : mu[i]!;
      const z = eta[i]! - offset[i]! + (y[i]! - mu[i]!) / w;
      const xi = X[i]!;
      for (let j = 0; j < m; j++) {
        b[j]! += w * xi[j]! * z;
        for (let k = 0; k < m; k++) A[j]![k]! += w * xi[j]! * xi[k]!;
      }
    }
    L = cholesky(A);
    if (!L) throw new RangeError('centralGlm: singular weighted X\'X');
    beta = choleskySolve(L, b);
    eta = X.map((xi, i) => xi.reduce((a, v, j) => a + v * beta[j]!, 0) + offset[i]!);
    mu = eta.map(linkinv);
    const devOld = dev;
    dev = y.reduce((a, yi, i) => a + devRes(yi, mu[i]!), 0);
    if (convergedBy(devOld, dev, eps)) {
      converged = true;
      break;
    }
  }
  // Standard errors at the final β (the federated answer's convention; R's differ by the last step).
  const A = Array.from({ length: m }, () => new Array<number>(m).fill(0));
  for (let i = 0; i < n; i++) {
    const w = binomial ? mu[i]! * (1 - mu[i]!) : mu[i]!;
    for (let j = 0; j < m; j++) for (let k = 0; k < m; k++) A[j]![k]! += w * X[i]![j]! * X[i]![k]!;
  }
  L = cholesky(A);
  const se = terms.map((_, j) => {
    if (!L) return null;
    const e = new Array<number>(m).fill(0);
    e[j] = 1;
    return Math.sqrt(choleskySolve(L, e)[j]!);
  });
  const z = beta.map((b, j) => (se[j] ? b / se[j]! : null));
  const sumY = y.reduce((a, b) => a + b, 0);
  let nullDev: number;
  let aic: number;
  if (binomial) {
    const ph = sumY / n;
    nullDev = y.reduce((a, yi) => a + devRes(yi, ph), 0);
    aic = dev + 2 * m;
  } else {
    const sumE = offset.reduce((a, o) => a + Math.exp(o), 0);
    const b0 = Math.log(sumY / sumE);
    nullDev = y.reduce((a, yi, i) => a + devRes(yi, Math.exp(b0 + offset[i]!)), 0);
    aic = 2 * y.reduce((a, yi, i) => a + mu[i]! - (yi > 0 ? yi * Math.log(mu[i]!) : 0) + logGamma(yi + 1), 0) + 2 * m;
  }
  return {
    kind: q.kind as GlmResult['kind'], family: binomial ? 'binomial' : 'poisson', link: binomial ? 'logit' : 'log',
    target: q.target!, n, terms, coefficients: beta, standardErrors: se, zValues: z, pValues: z.map((x) => (x === null ? null : twoSidedP(x))),
    deviance: dev, nullDeviance: nullDev, dfResidual: n - m, dfNull: n - 1, aic,
    nextCoefficients: [...beta], state: [], nextState: null, objective: dev, iterations: iter, converged, notes: [],
  };
}
