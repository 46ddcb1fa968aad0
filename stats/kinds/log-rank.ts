/**
 * The log-rank test between strata (R's survdiff, rho = 0) on the public time grid, from each
 * stratum's per-bin events d_gj and risk sets n_gj (km-curve.ts riskSets). With D_j = Σ_g d_gj and
 * N_j = Σ_g n_gj, over the bins with N_j > 0:
 *   O_g = Σ_j d_gj,   E_g = Σ_j n_gj D_j / N_j,
 *   V_gh = Σ_{j: N_j > 1} D_j (N_j − D_j)/(N_j − 1) · (n_gj/N_j) (δ_gh − n_hj/N_j),
 *   χ² = (O − E)ᵀ V⁻¹ (O − E) over all strata but the first, df = #{g: E_g > 0} − 1.
 * Strata without rows (n_g0 < 1) are left out, as survdiff knows only the groups in its data.
 *
 * Under DP the raw noisy d̃ enter O and E (linear, unbiased) and D̃_j clamped to [0, N_j] the hypergeometric
 * variance; V then gets the noise's covariance of O − E by the delta method over every released cell
 * (an event cell of stratum h, bin i moves d_hi, D_i and the risk sets n_hj of bins j ≤ i; a
 * censoring cell the risk sets only), so the χ² is not inflated by the noise:
 *   ∂U_g/∂e_hi = δ_gh − n_gi/N_i + A_gh(i),  ∂U_g/∂k_hi = A_gh(i),
 *   A_gh(i) = Σ_{j≤i} (D_j/N_j)(n_gj/N_j − δ_gh),  U = O − E.
 */
import { chiSquareUpper } from '../distributions.ts';
import type { BinCounts } from './km-curve.ts';
import type { LogRankTest } from './types.ts';

/** Solves A x = b by Gaussian elimination with partial pivoting; null when A is singular. */
function solve(A: number[][], b: number[]): number[] | null {
  const m = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  const scale = Math.max(1e-300, ...A.map((r) => Math.max(...r.map(Math.abs))));
  for (let c = 0; c < m; c++) {
    let p = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    if (!(Math.abs(M[p]![c]!) > 1e-10 * scale)) return null;
    [M[c], M[p]] = [M[p]!, M[c]!];
    for (let r = c + 1; r < m; r++) {
      const f = M[r]![c]! / M[c]![c]!;
      for (let k = c; k <= m; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  const x = new Array<number>(m).fill(0);
  for (let i = m - 1; i >= 0; i--) {
    let s = M[i]![m]!;
    for (let k = i + 1; k < m; k++) s -= M[i]![k]! * x[k]!;
    x[i] = s / M[i]![i]!;
  }
  return x;
}

/** The log-rank test; `counts`/`nRisk` per stratum (all of the grid's bins), `noisy`: add the noise's covariance. */
export function logRank(strata: string[], counts: BinCounts[], nRisk: Float64Array[], noisy: boolean): LogRankTest {
  const keep = strata.map((_, g) => g).filter((g) => nRisk[g]!.length > 0 && nRisk[g]![0]! >= 1);
  const G = keep.length;
  const B = nRisk[0]?.length ?? 0;
  const O = new Array<number>(G).fill(0);
  const E = new Array<number>(G).fill(0);
  const V = Array.from({ length: G }, () => new Array<number>(G).fill(0));
  const A = Array.from({ length: G }, () => new Array<number>(G).fill(0));
  for (let j = 0; j < B; j++) {
    let D = 0;
    let N = 0;
    for (const g of keep) {
      D += counts[g]!.events[j]!;
      N += nRisk[g]![j]!;
    }
    keep.forEach((g, a) => (O[a]! += counts[g]!.events[j]!));
    if (!(N > 0)) continue;
    const share = keep.map((g) => nRisk[g]![j]! / N);
    for (let a = 0; a < G; a++) E[a]! += share[a]! * D;
    const Dp = Math.min(N, Math.max(0, D)); // noisy D̃ may leave [0, N]; the hypergeometric weight stays ≥ 0
    if (N > 1) {
      const w = (Dp * (N - Dp)) / (N - 1);
      for (let a = 0; a < G; a++) for (let b = 0; b < G; b++) V[a]![b]! += w * share[a]! * ((a === b ? 1 : 0) - share[b]!);
    }
    if (!noisy) continue;
    for (let a = 0; a < G; a++) for (let h = 0; h < G; h++) A[a]![h]! += (D / N) * (share[a]! - (a === h ? 1 : 0));
    for (let h = 0; h < G; h++) {
      const c = counts[keep[h]!]!;
      const ve = c.eventVar[j]!;
      const vk = c.censoredVar[j]!;
      // the derivatives of every U_a with respect to stratum h's two cells of bin j
      const de = keep.map((_, a) => (a === h ? 1 : 0) - share[a]! + A[a]![h]!);
      for (let a = 0; a < G; a++) for (let b = 0; b < G; b++) V[a]![b]! += ve * de[a]! * de[b]! + vk * A[a]![h]! * A[b]![h]!;
    }
  }
  // R's survdiff: strata with expected events; under DP a noisy E may fall to ≤ 0 while the stratum
  // is there, so the degrees of freedom are those of the strata kept.
  const df = noisy ? G - 1 : E.filter((e) => e > 0).length - 1;
  let chisq: number | null = null;
  if (G >= 2) {
    const u = O.slice(1).map((o, i) => o - E[i + 1]!);
    const x = solve(V.slice(1).map((r) => r.slice(1)), u);
    if (x) chisq = Math.max(0, x.reduce((s, v, i) => s + v * u[i]!, 0));
  }
  const p = chisq !== null && df >= 1 ? chiSquareUpper(chisq, df) : null;
  return { strata: keep.map((g) => strata[g]!), observed: O, expected: E, chisq, df: Math.max(0, df), p };
}
