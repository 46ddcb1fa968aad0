/**
 * The Kaplan–Meier curve of one stratum from its per-bin event and censoring counts on the public
 * time grid, as R's survfit computes it on grid-binned times (a time in bin j is the bin's upper
 * edge e_{j+1}; deaths come before censorings at the same time, so the risk set at bin j is every
 * row in bins ≥ j), with the post-processing that makes noisy (DP) counts a valid curve and the
 * noise's share of the standard error. On exact counts every step of the post-processing is the
 * identity, so the result is R's. See docs/kaplan-meier.md.
 *
 * Post-processing (d̃_j, c̃_j: the released event and censoring counts of bin j):
 *   1. At risk: R_j = Σ_{i≥j} (d̃_i + c̃_i) (unbiased: sums of raw noisy counts), made non-increasing
 *      by isotonic regression (pool-adjacent-violators) and clamped at 0: n_j.
 *   2. The curve is defined while n_j ≥ 1 (a risk set of less than one row carries no information);
 *      beyond, no time is reported.
 *   3. Factors f_j = max(0, 1 − d̃_j/n_j) with the raw d̃_j (a negative noisy count lowers the hazard
 *      rather than being clamped: clamping at 0 would bias every empty bin's hazard upwards);
 *      S_raw = Π f_j; S = the non-increasing isotonic fit of S_raw, clipped to [0, 1].
 *   4. Displayed per-bin counts are max(0, d̃_j), max(0, c̃_j); totals (n, events) are sums of raw
 *      counts, clamped at 0.
 * Variance of log S at bin J: Greenwood Σ_{j≤J} d⁺_j/(n_j(n_j − d⁺_j)) plus, under DP, the noise
 * variance by the delta method over every released cell of the stratum (the events and censorings
 * of bins ≤ J enter the hazards and the risk sets, those after J the risk sets only):
 *   Var = Σ_{i≤J} [σ²_{d,i} (H_i − 1/(n_i − d̃_i))² + σ²_{c,i} H_i²] + H_J² Σ_{i>J} (σ²_{d,i} + σ²_{c,i}),
 * H_i = Σ_{j≤i} d̃_j/(n_j(n_j − d̃_j)) (the derivative of log S_J with respect to a cell of bin i).
 */
import { normalQuantile } from '../distributions.ts';
import type { KaplanMeierCurve } from './types.ts';
import { nonIncreasing } from '../isotonic.ts';

/** qnorm(0.975): the 95% intervals of survfit's default conf.int. */
export const Z95: number = normalQuantile(0.975);

/** R's tolerance in survmean/findq: sqrt(.Machine$double.eps). */
const TOL = Math.sqrt(2.220446049250313e-16);

/** One stratum's released counts per bin, and the noise variance of each (0 for exact sums). */
export interface BinCounts {
  events: Float64Array;
  censored: Float64Array;
  eventVar: Float64Array;
  censoredVar: Float64Array;
}

/** The post-processed risk sets n_j of a stratum (step 1). */
export function riskSets(c: BinCounts): Float64Array {
  const B = c.events.length;
  const raw = new Float64Array(B);
  let acc = 0;
  for (let j = B - 1; j >= 0; j--) {
    acc += c.events[j]! + c.censored[j]!;
    raw[j] = acc;
  }
  const n = nonIncreasing(raw);
  for (let j = 0; j < B; j++) if (n[j]! < 0) n[j] = 0;
  return n;
}

/**
 * survmean's minmin (print.survfit's median and its CI): the first time y falls below 0.5, or the
 * midpoint to the next lower step when y equals 0.5 there; null when y never reaches 0.5.
 */
export function minmin(y: (number | null)[], x: number[]): number | null {
  const ys: number[] = [];
  const xs: number[] = [];
  y.forEach((v, i) => {
    if (v !== null && v < 0.5 + TOL) {
      ys.push(v);
      xs.push(x[i]!);
    }
  });
  if (ys.length === 0) return null;
  if (Math.abs(ys[0]! - 0.5) < TOL) {
    const k = ys.findIndex((v) => v < ys[0]!);
    if (k >= 0) return (xs[0]! + xs[k]!) / 2;
  }
  return xs[0]!;
}

/**
 * The curve of one stratum. `edges`: the grid (bin j's time is edges[j + 1]); `times`: report
 * times of the numbers at risk; `noisy`: the counts carry DP noise (then every bin of the curve is
 * reported, since no released count is exactly zero information; else the bins with an event or
 * a censoring, as survfit). Returns the curve, the post-processed risk sets (for the log-rank test)
 * and, under DP, the first time where the noise's sd of the risk set exceeds a third of it (from
 * there the delta method's intervals are rough), or null.
 */
export function kmCurve(stratum: string | null, edges: number[], c: BinCounts, times: number[], noisy: boolean): { curve: KaplanMeierCurve; nRisk: Float64Array; roughFrom: number | null } {
  const B = c.events.length;
  const n = riskSets(c);
  const time: number[] = [], nRisk: number[] = [], nEvent: number[] = [], nCensor: number[] = [];
  const surv: number[] = [], stdErr: (number | null)[] = [], lower: (number | null)[] = [], upper: (number | null)[] = [];
  const noiseStdErr: (number | null)[] = [];
  // Steps 2–3 over the bins of the curve (n_j ≥ 1); `last` is the first bin beyond it.
  let last = 0;
  while (last < B && n[last]! >= 1) last++;
  const sRaw = new Float64Array(last);
  let s = 1;
  for (let j = 0; j < last; j++) {
    s *= Math.max(0, 1 - c.events[j]! / n[j]!);
    sRaw[j] = s;
  }
  // Variance terms of log S per bin, accumulated over j ≤ J.
  const greenwoodAt = new Float64Array(last);
  const noiseVarAt = new Float64Array(last);
  let varAfter = 0;
  for (let i = 0; i < B; i++) varAfter += c.eventVar[i]! + c.censoredVar[i]!;
  let greenwood = 0;
  let H = 0;
  let noiseBefore = 0;
  let roughFrom: number | null = null;
  for (let j = 0; j < last; j++) {
    const d = c.events[j]!;
    const dPlus = Math.max(0, d);
    const nj = n[j]!;
    greenwood += dPlus > 0 ? (nj > dPlus ? dPlus / (nj * (nj - dPlus)) : Infinity) : 0;
    const free = nj - d; // n_j − d̃_j; ≤ 0 only where the curve reaches 0
    H += free > 0 ? d / (nj * free) : 0;
    const vd = c.eventVar[j]!;
    const vc = c.censoredVar[j]!;
    // the noise of the risk set (cells of bins ≥ j) above a third of it: 1/n is far from linear there
    if (roughFrom === null && noisy && 3 * Math.sqrt(Math.max(0, varAfter)) > nj) roughFrom = edges[j + 1]!;
    noiseBefore += (free > 0 ? vd * (H - 1 / free) ** 2 : 0) + vc * H * H;
    varAfter -= vd + vc;
    greenwoodAt[j] = greenwood;
    noiseVarAt[j] = noiseBefore + H * H * Math.max(0, varAfter);
  }
  // Under DP the isotonic fit weighs each bin by the precision of S_raw (1 / (S_raw² Var log S_raw)):
  // a tail bin whose risk set is a few noisy rows (S_raw may jump far above 1 there) must not pull the
  // well-determined early curve up with it. Exact counts give a non-increasing S_raw: the identity.
  const weights = noisy ? Float64Array.from(sRaw, (v, j) => {
    const w = 1 / (v * v * (greenwoodAt[j]! + noiseVarAt[j]!));
    return Number.isFinite(w) && w > 0 ? Math.min(w, 1e300) : w > 0 ? 1e300 : 1e-300;
  }) : undefined;
  const S = nonIncreasing(sRaw, weights).map((v) => Math.min(1, Math.max(0, v)));
  for (let j = 0; j < last; j++) {
    const d = c.events[j]!;
    const dPlus = Math.max(0, d);
    const cPlus = Math.max(0, c.censored[j]!);
    const nj = n[j]!;
    if (!noisy && dPlus === 0 && cPlus === 0) continue;
    const noiseVar = noiseVarAt[j]!;
    const sj = S[j]!;
    const se = Math.sqrt(greenwoodAt[j]! + noiseVar);
    time.push(edges[j + 1]!);
    nRisk.push(nj);
    nEvent.push(dPlus);
    nCensor.push(cPlus);
    surv.push(sj);
    // R: std.err of S is S · se(log S), NaN (here null) where S = 0 or the Greenwood sum is infinite.
    const seS = sj * se;
    stdErr.push(Number.isFinite(seS) ? seS : null);
    lower.push(sj > 0 ? Math.exp(Math.log(sj) - Z95 * se) : null);
    upper.push(sj > 0 ? Math.min(1, Math.exp(Math.log(sj) + Z95 * se)) : null);
    if (noisy) noiseStdErr.push(sj > 0 && Number.isFinite(noiseVar) ? Math.sqrt(noiseVar) : null);
  }
  const atRisk = times.map((t) => {
    let j = 0;
    while (j < B - 1 && edges[j + 1]! < t) j++;
    return edges[j + 1]! >= t ? n[j]! : 0;
  });
  let total = 0;
  let events = 0;
  for (let j = 0; j < B; j++) {
    total += c.events[j]! + c.censored[j]!;
    events += c.events[j]!;
  }
  const curve: KaplanMeierCurve = {
    stratum, n: Math.max(0, total), events: Math.max(0, events), time, nRisk, nEvent, nCensor, surv, stdErr, lower, upper,
    ...(noisy ? { noiseStdErr } : {}),
    median: minmin(surv, time), medianLower: minmin(lower, time), medianUpper: minmin(upper, time), atRisk,
  };
  return { curve, nRisk: n, roughFrom };
}
