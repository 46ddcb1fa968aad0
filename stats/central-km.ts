/**
 * Central (non-private) kaplan_meier: the rows' binned times, events and strata read straight from
 * the dataset (the bin found by a linear scan of the edges, not by the kinds' binary search), the
 * counts tallied per stratum and bin, then the same curve and test computation as the federated
 * kind (kinds/kaplan-meier.ts kmResult), which test/reference/kaplan-meier.R checks against R.
 */
import type { CategoricalColumn, Dataset, NumericColumn } from './dataset.ts';
import { matchRows } from './filter.ts';
import { timeGrid } from './kinds/design.ts';
import { kmResult, kmStrata } from './kinds/kaplan-meier.ts';
import type { BinCounts } from './kinds/km-curve.ts';
import type { KaplanMeierResult } from './kinds/types.ts';
import type { Query } from './query-types.ts';
import { MISSING_LEVEL, type Schema } from './schema.ts';

export function centralKaplanMeier(q: Query, schema: Schema, dataset: Dataset): KaplanMeierResult {
  const edges = timeGrid(q, schema);
  const B = edges.length - 1;
  const strata = kmStrata(q, schema);
  const counts: BinCounts[] = strata.map(() => ({ events: new Float64Array(B), censored: new Float64Array(B), eventVar: new Float64Array(B), censoredVar: new Float64Array(B) }));
  const time = dataset.columns.get(q.time!) as NumericColumn;
  const event = dataset.columns.get(q.event!) as CategoricalColumn;
  const group = q.strata === undefined ? undefined : (dataset.columns.get(q.strata) as CategoricalColumn);
  const mask = matchRows(dataset, q.filter);
  for (let r = 0; r < dataset.rowCount; r++) {
    if (!mask[r]) continue;
    const t = time.values[r]!;
    const e = event.codes[r]!;
    const g = group ? group.codes[r]! : 0;
    if (Number.isNaN(t) || e < 0 || event.levels[e] === MISSING_LEVEL || g < 0) continue;
    let j = 0;
    while (j < B - 1 && t >= edges[j + 1]!) j++;
    if (q.positive!.includes(event.levels[e]!)) counts[g]!.events[j]!++;
    else counts[g]!.censored[j]!++;
  }
  return kmResult(q, schema, counts, false);
}
