/**
 * Clipped gradient sums and Poisson sampling: what a party computes from its rows in a round of
 * DP federated training (DP-SGD's per-example clipping, Abadi et al. 2016; DP-FedSGD).
 *
 * Clipping. An example's gradient g is scaled to clip_C(g) = g · min(1, C/‖g‖₂), so
 * ‖clip_C(g)‖₂ ≤ C and a gradient already within C is unchanged. A round's contribution is
 * S = Σ_{i ∈ batch} clip_C(g_i): adding or removing one example changes S by at most C in L2 norm.
 *
 * Patients. The schema's rowsPerPatient k bounds a patient's rows at load (stats/dataset.ts), but
 * the loaded dataset does not keep patient identifiers. With per-example clipping, a patient's k
 * rows change S by at most k·C (`patientContributionBound`): the noise must be calibrated to that
 * sensitivity. Where a caller does know the rows of each patient, `clippedGroupGradientSum` sums
 * a patient's rows' gradients first and clips the sum to C (sensitivity C per patient).
 *
 * Sampling. `sampleRows` includes each row independently with probability q (Poisson subsampling,
 * as privacy amplification by subsampling assumes), from the given RandomSource: the party's
 * CSPRNG (`cryptoRandomSource`) in production, a seeded source in tests. q is realized to within
 * 2^-53: a row is kept when a 53-bit uniform u/2^53 is < q.
 */
import type { RandomSource } from '../../crypto/dp/random.ts';
import { ModelError, perExampleGradient, uniform53, type Network } from './model.ts';

/**
 * The result of a clipped sum: the sum, the examples (or groups) summed, how many were clipped,
 * how many were dropped (a gradient with a non-finite coordinate contributes 0), the total loss.
 */
export interface ClippedSum {
  sum: Float64Array;
  count: number;
  clipped: number;
  dropped: number;
  lossSum: number;
}

function checkClip(C: number): void {
  if (!(C > 0) || Number.isNaN(C)) throw new ModelError(`clip norm C must be positive (Infinity: no clipping), got ${C}`);
}

/** Euclidean norm, without overflow or underflow (scaled by the largest |v_i|, as hypot). */
export function l2norm(v: Float64Array): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]!);
    if (!(a <= m)) m = a; // NaN propagates
  }
  if (m === 0 || !Number.isFinite(m)) return m;
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    const t = v[i]! / m;
    s += t * t;
  }
  return m * Math.sqrt(s);
}

/** The factor min(1, C/‖g‖) that clips g to norm C (1 when ‖g‖ ≤ C). */
export function clipFactor(norm: number, C: number): number {
  return norm > C ? C / norm : 1;
}

/**
 * sum += clip_C(g). Returns 'dropped' (nothing added) when g has a NaN or infinite coordinate: a
 * model state chosen to overflow the gradient (e.g. by an adversarial aggregator) must not make a
 * contribution escape the clip. The factor is computed from the scaled norm, so a finite gradient
 * whose norm overflows is still clipped to C.
 */
function addClipped(sum: Float64Array, g: Float64Array, C: number): 'kept' | 'clipped' | 'dropped' {
  let m = 0;
  for (let i = 0; i < g.length; i++) {
    const a = Math.abs(g[i]!);
    if (!(a <= Number.MAX_VALUE)) return 'dropped';
    if (a > m) m = a;
  }
  if (m === 0) return 'kept';
  let s = 0;
  for (let i = 0; i < g.length; i++) {
    const t = g[i]! / m;
    s += t * t;
  }
  const root = Math.sqrt(s);
  const clip = m * root > C; // m·root may overflow to Infinity: then it is clipped
  const f = clip ? C / m / root : 1;
  for (let i = 0; i < g.length; i++) sum[i]! += f * g[i]!;
  return clip ? 'clipped' : 'kept';
}

function checkData(net: Network, params: Float64Array, X: Float64Array, y: Float64Array): void {
  if (X.length !== y.length * net.d) throw new ModelError(`X: expected ${y.length} rows × ${net.d} features, got ${X.length} values`);
  for (let i = 0; i < params.length; i++) if (!Number.isFinite(params[i]!)) throw new ModelError(`params[${i}] is not finite: the model state is refused`);
}

/**
 * Σ over `rows` of clip_C(∇ℓ(params; X[row], y[row])) (C = Infinity: the plain sum). A row listed
 * twice counts twice.
 */
export function clippedGradientSum(net: Network, params: Float64Array, X: Float64Array, y: Float64Array, rows: ArrayLike<number>, C: number): ClippedSum {
  checkClip(C);
  checkData(net, params, X, y);
  const P = net.parameterCount;
  const sum = new Float64Array(P);
  const g = new Float64Array(P);
  let clipped = 0;
  let dropped = 0;
  let lossSum = 0;
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!;
    if (!Number.isSafeInteger(r) || r < 0 || r >= y.length) throw new ModelError(`rows[${k}]: ${r} is not a row of the data (${y.length} rows)`);
    lossSum += perExampleGradient(net, params, X, r, y[r]!, g);
    const how = addClipped(sum, g, C);
    if (how === 'clipped') clipped++;
    else if (how === 'dropped') dropped++;
  }
  return { sum, count: rows.length, clipped, dropped, lossSum };
}

/**
 * Per-patient clipping: for each group (one patient's sampled rows), the sum of its rows'
 * gradients clipped to C, summed over groups. `count` is the number of groups.
 */
export function clippedGroupGradientSum(net: Network, params: Float64Array, X: Float64Array, y: Float64Array, groups: ArrayLike<number>[], C: number): ClippedSum {
  checkClip(C);
  const P = net.parameterCount;
  const sum = new Float64Array(P);
  let clipped = 0;
  let dropped = 0;
  let lossSum = 0;
  for (const rows of groups) {
    const inner = clippedGradientSum(net, params, X, y, rows, Infinity);
    lossSum += inner.lossSum;
    const how = inner.dropped > 0 ? 'dropped' : addClipped(sum, inner.sum, C);
    if (how === 'clipped') clipped++;
    else if (how === 'dropped') dropped++;
  }
  return { sum, count: groups.length, clipped, dropped, lossSum };
}

/**
 * The L2 sensitivity of a per-example clipped sum to one patient: k·C with k = rowsPerPatient
 * (each of the patient's at most k rows contributes at most C).
 */
export function patientContributionBound(C: number, rowsPerPatient: number): number {
  if (!Number.isSafeInteger(rowsPerPatient) || rowsPerPatient < 1) throw new ModelError(`rowsPerPatient must be a positive integer, got ${rowsPerPatient}`);
  return rowsPerPatient * C;
}

/** Poisson subsampling: each of rowCount rows included independently with probability q. */
export function sampleRows(rowCount: number, q: number, rng: RandomSource): Int32Array {
  if (!Number.isSafeInteger(rowCount) || rowCount < 0 || rowCount > 2 ** 31 - 1) throw new ModelError(`rowCount: expected an integer in [0, 2^31), got ${rowCount}`);
  if (!(q >= 0 && q <= 1)) throw new ModelError(`sampling rate q must lie in [0, 1], got ${q}`);
  if (q === 1) return Int32Array.from({ length: rowCount }, (_, i) => i);
  const out: number[] = [];
  if (q > 0) for (let i = 0; i < rowCount; i++) if (uniform53(rng) < q) out.push(i);
  return Int32Array.from(out);
}
