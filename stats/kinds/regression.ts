/**
 * linear_regression: ordinary least squares of target y on predictors x_1..x_p with an
 * intercept, on complete cases. Sufficient statistics are the moment vector of [x_1..x_p, y]
 * (n, Σx, Σy, X'X, X'y, y'y). Post-processing works on the centred cross-products (formed
 * exactly from the integer sums): slopes β solve Cxx β = cxy by Cholesky, intercept
 * = ȳ − β·x̄, RSS = cyy − β·cxy, σ² = RSS / (n − p − 1),
 * Var(β) = σ² Cxx⁻¹, Var(intercept) = σ² (1/n + x̄ᵀ Cxx⁻¹ x̄), R² = 1 − RSS / cyy.
 */
import { fixedValue } from '../fixed.ts';
import { QueryError } from '../query-types.ts';
import type { KindDef } from './types.ts';
import { centredMoments, momentLayout, momentRowTerms, momentVars } from './moments.ts';

const vars = (q: { columns: string[]; target?: string }): string[] => [...q.columns, q.target!];

/** Cholesky factor L (lower) of a symmetric positive definite matrix, or null if not SPD. */
export function cholesky(A: number[][], relTol = 1e-12): number[][] | null {
  const p = A.length;
  const L = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  let maxDiag = 0;
  for (let i = 0; i < p; i++) maxDiag = Math.max(maxDiag, Math.abs(A[i]![i]!));
  for (let j = 0; j < p; j++) {
    let d = A[j]![j]!;
    for (let k = 0; k < j; k++) d -= L[j]![k]! ** 2;
    if (!(d > relTol * maxDiag) || !Number.isFinite(d)) return null;
    const ljj = Math.sqrt(d);
    L[j]![j] = ljj;
    for (let i = j + 1; i < p; i++) {
      let s = A[i]![j]!;
      for (let k = 0; k < j; k++) s -= L[i]![k]! * L[j]![k]!;
      L[i]![j] = s / ljj;
    }
  }
  return L;
}

/** Solves L Lᵀ x = b. */
export function choleskySolve(L: number[][], b: number[]): number[] {
  const p = L.length;
  const y = new Array<number>(p);
  for (let i = 0; i < p; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= L[i]![k]! * y[k]!;
    y[i] = s / L[i]![i]!;
  }
  const x = new Array<number>(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < p; k++) s -= L[k]![i]! * x[k]!;
    x[i] = s / L[i]![i]!;
  }
  return x;
}

export const linearRegression: KindDef = {
  layout: (q, schema) => momentLayout(schema, vars(q)),
  rowTerms: (q, schema, dataset) => momentRowTerms(schema, dataset, vars(q)),
  finalize: (q, schema, s) => {
    // Predictor terms: numeric columns, and one indicator per non-reference level of a categorical one.
    const all = momentVars(schema, vars(q));
    const terms = all.slice(0, -1).map((v) => v.label);
    const p = terms.length;
    const n = fixedValue(s, 0);
    const notes: string[] = [];
    if (!(n >= p + 1)) {
      throw new QueryError(`linear_regression: ${p + 1} coefficients need at least ${p + 1} complete rows, got n = ${n}; widen the filter or use fewer predictors`);
    }
    const { means, C } = centredMoments(s, all);
    const Cxx = C.slice(0, p).map((row) => row.slice(0, p));
    const cxy = C.slice(0, p).map((row) => row[p]!);
    const cyy = C[p]![p]!;
    const L = cholesky(Cxx);
    if (!L) {
      // Under DP (noiseStd given) the noise can make X'X indefinite on its own: say so rather than
      // blame the predictors (the noise verdict, stats/noise-verdict.ts, says whether it dominates).
      if (s.noiseStd) throw new QueryError(`linear_regression: X'X is not positive definite after the DP noise was added (the noise on the predictors' sums of squares is too large for their spread at this rho, or a predictor is constant or collinear with others among [${q.columns.join(', ')}])`);
      throw new QueryError(`linear_regression: X'X is singular (a predictor is constant or collinear with others among [${terms.join(', ')}]); drop one of them`);
    }
    const beta = choleskySolve(L, cxy);
    const xbar = means.slice(0, p);
    const intercept = means[p]! - beta.reduce((a, b, i) => a + b * xbar[i]!, 0);
    let rss = cyy - beta.reduce((a, b, i) => a + b * cxy[i]!, 0);
    if (rss < 0) {
      notes.push(`residual sum of squares clamped to 0 (computed ${rss.toExponential(3)})`);
      rss = 0;
    }
    const df = n - p - 1;
    let ses: (number | null)[] = new Array<number | null>(p + 1).fill(null);
    let sigma: number | null = null;
    if (df > 0) {
      const s2 = rss / df;
      sigma = Math.sqrt(s2);
      const u = choleskySolve(L, xbar);
      const varIntercept = s2 * (1 / n + xbar.reduce((a, b, i) => a + b * u[i]!, 0));
      ses = [Math.sqrt(Math.max(0, varIntercept))];
      for (let j = 0; j < p; j++) {
        const e = new Array<number>(p).fill(0);
        e[j] = 1;
        ses.push(Math.sqrt(Math.max(0, s2 * choleskySolve(L, e)[j]!)));
      }
    } else {
      notes.push('standard errors and residual standard error undefined: no residual degrees of freedom (n = p)');
    }
    let r2: number | null = null;
    if (cyy > 0) r2 = 1 - rss / cyy;
    else notes.push(`R² undefined: target ${q.target} has zero variance`);
    return {
      kind: 'linear_regression', target: q.target!, n, terms: ['(intercept)', ...terms],
      coefficients: [intercept, ...beta], standardErrors: ses, residualStdError: sigma, rSquared: r2,
      dfResidual: df, notes,
    };
  },
};
