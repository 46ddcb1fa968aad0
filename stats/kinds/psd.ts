/**
 * Symmetric eigen-decomposition (cyclic Jacobi) of the small matrices of model rounds, and the
 * repair of a noisy information matrix: an exact information matrix Σ w x xᵀ is positive
 * semidefinite by construction, so a clearly negative eigenvalue can only come from differential-
 * privacy noise; clipping the eigenvalues to a floor is post-processing of the release.
 */

/** Eigenvalues and eigenvectors (columns of V) of a symmetric matrix. */
export function symmetricEigen(A: number[][]): { values: number[]; V: number[][] } {
  const n = A.length;
  const a = A.map((r) => [...r]);
  const V = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j): number => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i]![j]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p]![q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k]![p]!;
          const akq = a[k]![q]!;
          a[k]![p] = c * akp - s * akq;
          a[k]![q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p]![k]!;
          const aqk = a[q]![k]!;
          a[p]![k] = c * apk - s * aqk;
          a[q]![k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k]![p]!;
          const vkq = V[k]![q]!;
          V[k]![p] = c * vkp - s * vkq;
          V[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: a.map((r, i) => r[i]!), V };
}

/**
 * The matrix with its eigenvalues clipped to at least `floor` × the largest, when its smallest
 * eigenvalue is clearly negative (below −1e-9 × the largest); null otherwise (a matrix that is only
 * singular, e.g. collinear predictors, is not repaired).
 */
export function repairNoisyInformation(A: number[][], floor = 0.1): number[][] | null {
  const { values, V } = symmetricEigen(A);
  const max = Math.max(...values.map(Math.abs));
  if (!(max > 0) || Math.min(...values) >= -1e-9 * max) return null;
  const clipped = values.map((v) => Math.max(v, floor * max));
  const n = A.length;
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => clipped.reduce((s, l, k) => s + V[i]![k]! * l * V[j]![k]!, 0)));
}
