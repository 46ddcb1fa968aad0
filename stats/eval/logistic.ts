/**
 * L2-regularized logistic regression with an intercept, fitted by iteratively reweighted least
 * squares (Newton's method): β ← β + (XᵀWX + λI)⁻¹ (Xᵀ(y − p) − λβ), W = diag(p(1 − p)). The
 * intercept is not penalized. The ridge keeps the fit finite when classes separate (small or
 * synthetic samples). Used for train-on-synthetic, test-on-real (TSTR).
 */
import { cholesky, choleskySolve } from '../kinds/regression.ts';

export interface LogisticModel {
  /** [intercept, β_1..β_p]. */
  coefficients: number[];
  iterations: number;
}

const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

export function fitLogistic(X: Float64Array[], y: ArrayLike<number>, opts: { lambda?: number; maxIterations?: number } = {}): LogisticModel {
  const n = X.length;
  if (n === 0) throw new RangeError('fitLogistic: no rows');
  if (y.length !== n) throw new RangeError('fitLogistic: X and y differ in length');
  const p = X[0]!.length + 1;
  const lambda = opts.lambda ?? 1;
  const maxIt = opts.maxIterations ?? 50;
  const beta = new Array<number>(p).fill(0);
  const row = new Float64Array(p);
  let it = 0;
  for (; it < maxIt; it++) {
    const H = Array.from({ length: p }, () => new Array<number>(p).fill(0));
    const g = new Array<number>(p).fill(0);
    for (let i = 0; i < n; i++) {
      row[0] = 1;
      row.set(X[i]!, 1);
      let z = 0;
      for (let j = 0; j < p; j++) z += beta[j]! * row[j]!;
      const pr = sigmoid(z);
      const w = Math.max(pr * (1 - pr), 1e-10);
      const r = y[i]! - pr;
      for (let j = 0; j < p; j++) {
        const xj = row[j]!;
        if (xj === 0) continue;
        g[j]! += xj * r;
        const wx = w * xj;
        for (let k = j; k < p; k++) H[j]![k]! += wx * row[k]!;
      }
    }
    for (let j = 0; j < p; j++) {
      for (let k = 0; k < j; k++) H[j]![k] = H[k]![j]!;
      if (j > 0) {
        H[j]![j]! += lambda;
        g[j]! -= lambda * beta[j]!;
      } else {
        H[0]![0]! += 1e-9;
      }
    }
    const L = cholesky(H, 0);
    if (!L) throw new Error('fitLogistic: the penalized Hessian is not positive definite');
    const step = choleskySolve(L, g);
    let maxStep = 0;
    for (let j = 0; j < p; j++) {
      beta[j]! += step[j]!;
      maxStep = Math.max(maxStep, Math.abs(step[j]!));
    }
    if (maxStep < 1e-8) {
      it++;
      break;
    }
  }
  return { coefficients: beta, iterations: it };
}

/** Linear scores (log-odds) of rows. */
export function logisticScores(m: LogisticModel, X: Float64Array[]): Float64Array {
  const b = m.coefficients;
  return Float64Array.from(X, (x) => {
    let z = b[0]!;
    for (let j = 0; j < x.length; j++) z += b[j + 1]! * x[j]!;
    return z;
  });
}
