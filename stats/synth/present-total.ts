/**
 * A column's row count in a product of one-way marginals (the independent model, and the one-way
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

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

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
