/**
 * Sampling weights of a column's fine values from its noisy one-way counts (post-processing of
 * released, noised counts; docs/synth.md § The algorithm): the projection onto non-negative
 * counts, the 2σ rules of `(missing)`, point-mass bins and empty stretches, monotone tails, and
 * the row count of a column in a product of one-way marginals.
 */

import { normalQuantile } from '../distributions.ts';
import { nonIncreasing } from '../isotonic.ts';

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * Euclidean projection of noisy counts y onto {x ≥ 0, Σx = max(0, Σy)}: x_i = max(0, y_i − λ)
 * with λ chosen so the total is kept. Unlike clipping at 0 (which adds the positive part of
 * the noise of every empty cell), it zeroes cells whose count is within the noise of nothing,
 * and keeps the unbiased total. Post-processing only.
 */
export function projectCounts(y: ArrayLike<number>): number[] {
  const n = y.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += y[i]!;
  if (!(total > 0)) return new Array<number>(n).fill(0);
  const sorted = Array.from(y).sort((a, b) => b - a);
  let acc = 0;
  let lambda = 0;
  for (let k = 0; k < n; k++) {
    acc += sorted[k]!;
    const l = (acc - total) / (k + 1);
    if (k === n - 1 || sorted[k + 1]! <= l) {
      lambda = l;
      break;
    }
  }
  return Array.from(y, (v) => Math.max(0, v - lambda));
}

/**
 * A `(missing)` level's noisy count below this many noise standard deviations is taken as 0
 * (post-processing): a column that is never missing gets spurious missing values only when its
 * noise exceeds 2σ (about 2.3 % of fits); the price is that a real missing count below about 2σ is
 * often erased (pbc at ε = 1: σ ≈ 11 % of the rows, so columns 25 % missing lose them in most fits;
 * docs/synth.md, the four-dataset table).
 */
export const MISSING_Z = 2;

/**
 * A point-mass bin (pointMassValues: 0 inside a numeric column's bounds, chosen from the schema)
 * keeps its weight only when its noisy count is at least POINT_Z·σ, like `(missing)`: a column
 * without zeros gets none from noise (pbc, simulation, 6 fits: largest point-mass error 0.084 →
 * 0.046 at ε = 1, 0.040 → 0.010 at ε = 4), and a real point mass below POINT_Z·σ is erased
 * (mgus2's mspike, 1.8 % zeros: 0.013 → 0.020 at ε = 4).
 */
export const POINT_Z = 2;

/** Share of fits in which noise alone may keep a point mass in some column (pointZ). */
export const POINT_FAMILY_RATE = 0.05;

/**
 * The point-mass rule's z when one fit tests m point-mass bins (m from the schema alone: the
 * numeric columns whose bounds hold 0): POINT_Z, raised to the one-sided normal quantile
 * 1 − POINT_FAMILY_RATE / m (Bonferroni) so that noise alone keeps a point mass in at most that
 * share of fits, not in each column's 2.3 %. On small data one false point mass is large (2σ₁ is
 * about 15 % of pbc's rows at ε = 1): with 2σ for each of pbc's 8 such columns, two federated fits
 * of five at ε = 1 invented 22 % zeros in `time` and 24 % in `trig`. m = 8 (pbc): z = 2.50;
 * m = 5 (rotterdam, mgus2): 2.33; m = 4 (flchain): 2.24.
 */
export function pointZ(m: number): number {
  if (!Number.isInteger(m) || m < 0) throw new RangeError(`pointZ: expected a non-negative integer, got ${m}`);
  return m <= 1 ? POINT_Z : Math.max(POINT_Z, normalQuantile(1 - POINT_FAMILY_RATE / m));
}

/** A fine bin in a region the range step found empty keeps its weight only when its own noisy count is at least TAIL_Z·σ. */
export const TAIL_Z = 2;

/** fineWeights' rules for one column (each described there). */
export interface FineWeightOptions {
  emptyRange?: readonly boolean[];
  ordered?: boolean;
  fixed?: readonly boolean[];
  presentTotal?: number;
  zPoint?: number;
}

/**
 * Sampling weights of a column's fine values from their noisy one-way counts (post-processing):
 * bins or levels projected to non-negative counts with their noisy total kept (projectCounts);
 * `(missing)` its own noisy count when at least MISSING_Z·σ, else 0, so that missing values are
 * neither invented from noise nor erased when the noisy share is clearly there (σ = 0: exact
 * counts). `emptyRange[j]` (numeric columns): fine bin j lies in a bin of the range step whose
 * projected count is 0; such a bin keeps its weight only when its own noisy count is at least
 * TAIL_Z·σ (two independent measurements must both find it empty to drop it), which keeps the
 * noise in the empty stretches of wide schema bounds from putting synthetic values far outside
 * the data's range. `ordered` (numeric columns): the tails are first fitted non-increasing
 * outward (monotoneTails, tolerance MONOTONE_Z·σ; `fixed`: point-mass bins, left out of that
 * fit). A `fixed` bin keeps its weight only when its noisy count is at least `zPoint`·σ (POINT_Z,
 * or pointZ(m) in a fit testing m point-mass bins). Dropped bins' noisy counts are spread
 * over the kept ones, so the present total is kept. `presentTotal`: the present bins' total when
 * a better estimate than their own sum is known (rowCounts), else their sum.
 */
export function fineWeights(noisy: ArrayLike<number>, sigma: number, opts: FineWeightOptions = {}): number[] {
  const { emptyRange, ordered = false, fixed, presentTotal, zPoint = POINT_Z } = opts;
  const k = noisy.length;
  const y = Array.from(noisy).slice(0, k - 1);
  const missing = missingWeight(noisy[k - 1]!, sigma);
  if (ordered && sigma > 0) monotoneTails(y, fixed, MONOTONE_Z * sigma);
  const drop = y.map((x, j) => (emptyRange?.[j] === true && x < TAIL_Z * sigma) || (fixed?.[j] === true && x < zPoint * sigma));
  const kept = y.filter((_, j) => !drop[j]);
  // the kept bins projected onto the present total: the given one, or the noisy total of all
  // present bins (unbiased for the present count: dropping only the noise above 0 in empty
  // stretches would shrink the present mass against (missing)). Projecting y + c onto
  // {x ≥ 0, Σx = T} with c = (T − Σy)/n is the Euclidean projection of y onto that set.
  const total = presentTotal === undefined ? y.reduce((a, b) => a + b, 0) : Math.max(0, presentTotal);
  const base = kept.length === 0 ? y : kept;
  const shift = (total - base.reduce((a, b) => a + b, 0)) / base.length;
  const p = projectCounts(base.map((x) => x + shift));
  if (base === y) return [...p, missing];
  let i = 0;
  return [...y.map((_, j) => (drop[j] ? 0 : p[i++]!)), missing];
}

/** The weight of `(missing)` from its noisy count m: m when at least MISSING_Z·σ (and positive), else 0. */
export function missingWeight(m: number, sigma: number): number {
  return m > 0 && m >= MISSING_Z * sigma ? m : 0;
}

/** Share of the (projected) mass in each tail that monotoneTails fits non-increasing outward. */
export const TAIL_SHARE = 0.25;

/** fineWeights' tolerance for monotoneTails, in σ: a count further than this from the monotone fit keeps its excess. */
export const MONOTONE_Z = 2;

/**
 * In place: the noisy counts y of an ordered column's bins below its noisy TAIL_SHARE quantile
 * and above its 1 − TAIL_SHARE quantile (both from the projected counts) replaced by their
 * least-squares fit that does not increase outward from the bulk (isotonic regression by pool
 * adjacent violators; each tail's sum is kept). An isolated noise spike in an empty stretch is
 * pooled with the empty bins between it and the data, so the projection (projectCounts) that
 * follows removes most of it instead of keeping it as a bin of synthetic values far outside the
 * data. `fixed` bins (point masses, pointMassValues) are left out of the fit and keep their count.
 * `tolerance` (fineWeights: MONOTONE_Z·σ): a count further than that from its fitted value keeps
 * the excess (soft thresholding of the residual), so a real tail that is not monotone (a second
 * mode, a dip) keeps its shape as the noise shrinks instead of being flattened at every ε; the
 * tail's sum then moves by the kept excess (fineWeights' projection restores the present total).
 * Post-processing.
 */
export function monotoneTails(y: number[], fixed?: readonly boolean[], tolerance = Infinity): void {
  const p = projectCounts(y);
  const total = p.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return;
  let a = 0;
  for (let acc = 0; a < y.length - 1 && (acc += p[a]!) < TAIL_SHARE * total; a++);
  let b = y.length - 1;
  for (let acc = 0; b > 0 && (acc += p[b]!) < TAIL_SHARE * total; b--);
  const fit = (idx: number[]): void => {
    const free = idx.filter((j) => fixed?.[j] !== true);
    const raw = free.map((j) => y[j]!);
    nonIncreasing(raw).forEach((v, k) => {
      const r = raw[k]! - v;
      y[free[k]!] = v + Math.sign(r) * Math.max(0, Math.abs(r) - tolerance);
    });
  };
  const lower: number[] = [];
  for (let j = a; j >= 0; j--) lower.push(j);
  const upper: number[] = [];
  for (let j = Math.max(b, a + 1); j < y.length; j++) upper.push(j);
  fit(lower);
  fit(upper);
}

/*
 * Row counts in a product of one-way marginals (the independent model, and the one-way
 * plan of small data): post-processing of noisy one-way counts.
 *
 * A column's present total is the sum of its B present bins' noisy counts (variance B·σ²) and
 * decides, against one noisy `(missing)` count, the column's missing rate. On small data that sum
 * is the noisiest figure of the column: pbc at ε = 1 has B = 17 bins of σ ≈ 25 for 334 rows, so
 * the present total carried ±100 rows of noise, and columns 25–33 % missing came out anywhere
 * from 0 % (the present bins swamped the missing count) to 100 % (they summed to nothing). Every
 * other column's table counts the same rows, each with its own cells' noise, independent of this
 * column's: the mean of the other columns' totals estimates the row count too. The two estimates
 * are combined by inverse-variance weights; the present bins then share (row count − missing
 * weight) (fineWeights' `presentTotal`). Exact counts (σ = 0): the column's own total.
 */

/**
 * Per column, its row count estimated from its own noisy total (cells × variance) and the mean of
 * the other columns' totals, combined by inverse-variance weights. `tables[i]`: column i's noisy
 * counts, every cell of variance `variance`.
 */
export function rowCounts(tables: readonly (readonly number[])[], variance: number): number[] {
  const d = tables.length;
  const totals = tables.map((t) => sum(t));
  if (!(variance > 0) || d < 2) return totals;
  const all = sum(totals);
  const cellsAll = sum(tables.map((t) => t.length));
  return tables.map((t, i) => {
    const own = totals[i]!;
    const vOwn = t.length * variance;
    const others = (all - own) / (d - 1);
    const vOthers = ((cellsAll - t.length) * variance) / (d - 1) ** 2;
    return (own / vOwn + others / vOthers) / (1 / vOwn + 1 / vOthers);
  });
}
