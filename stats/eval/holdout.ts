/**
 * A seeded train/holdout split of CSV text (the same SHA-256 shuffle as splitCsvText): the
 * holdout is kept away from the synthesizer so privacy scores can compare against patients it
 * never saw, and the classifier is tested on it.
 */
import { formatCsv, parseCsv } from '../csv.ts';
import { splitAssignment } from '../dataset.ts';

export function holdoutSplit(csvText: string, fraction: number, seed: string): { train: string; holdout: string } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`holdout fraction: expected a number in (0, 1), got ${fraction}`);
  const table = parseCsv(csvText);
  const a = splitAssignment(table.rows.length, 1000, `holdout|${seed}`);
  const cut = Math.round(fraction * 1000);
  const train: string[][] = [];
  const holdout: string[][] = [];
  table.rows.forEach((r, i) => (a[i]! < cut ? holdout : train).push(r));
  return { train: formatCsv(table.header, train), holdout: formatCsv(table.header, holdout) };
}
