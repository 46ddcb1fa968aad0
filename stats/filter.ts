/**
 * Row filters: a conjunction of predicates. A predicate on a missing value is false, except
 * is_missing (true) — so `x ne 3` does not select rows where x is missing, as R's `subset(d, x != 3)`
 * drops them (NA != 3 is NA). For a categorical column declared with missing: 'category',
 * "(missing)" is selected only when named: `eq "(missing)"` and `in [..., "(missing)"]` select it,
 * `ne "a"` does not keep it (R-compatible; name it with `in` to keep it), and it counts as missing
 * for is_missing/not_missing.
 */
import type { Dataset } from './dataset.ts';
import type { Predicate } from './query-types.ts';
import { MISSING_LEVEL } from './schema.ts';

function applyPredicate(dataset: Dataset, p: Predicate, out: Uint8Array): void {
  const col = dataset.columns.get(p.column);
  if (!col) throw new TypeError(`filter: column "${p.column}" is not in the dataset (identifier or unknown); validate the query first`);
  const n = dataset.rowCount;
  if (col.kind === 'numeric') {
    const x = col.values;
    const v = p.values as number[];
    const a = v[0]!;
    const set = p.op === 'in' ? new Set(v) : undefined;
    for (let i = 0; i < n; i++) {
      if (!out[i]) continue;
      const xi = x[i]!;
      const miss = Number.isNaN(xi);
      let keep: boolean;
      switch (p.op) {
        case 'is_missing': keep = miss; break;
        case 'not_missing': keep = !miss; break;
        case 'eq': keep = !miss && xi === a; break;
        case 'ne': keep = !miss && xi !== a; break;
        case 'lt': keep = !miss && xi < a; break;
        case 'le': keep = !miss && xi <= a; break;
        case 'gt': keep = !miss && xi > a; break;
        case 'ge': keep = !miss && xi >= a; break;
        case 'between': keep = !miss && xi >= a && xi <= v[1]!; break;
        case 'in': keep = !miss && set!.has(xi); break;
      }
      if (!keep) out[i] = 0;
    }
    return;
  }
  const missingCode = col.levels.indexOf(MISSING_LEVEL);
  const codes = col.codes;
  const wanted = new Set<number>();
  for (const val of p.values) {
    const code = col.levels.indexOf(String(val));
    if (code < 0) throw new TypeError(`filter: ${JSON.stringify(val)} is not a level of "${p.column}"; validate the query first`);
    wanted.add(code);
  }
  for (let i = 0; i < n; i++) {
    if (!out[i]) continue;
    const c = codes[i]!;
    const absent = c < 0;
    const miss = absent || c === missingCode;
    let keep: boolean;
    switch (p.op) {
      case 'is_missing': keep = miss; break;
      case 'not_missing': keep = !miss; break;
      case 'eq': case 'in': keep = !absent && wanted.has(c); break;
      case 'ne': keep = !miss && !wanted.has(c); break;
      default: throw new TypeError(`filter: ${p.op} is not defined for categorical column "${p.column}"`);
    }
    if (!keep) out[i] = 0;
  }
}

/** 1 for each row matching every predicate, 0 otherwise. */
export function matchRows(dataset: Dataset, filter: Predicate[]): Uint8Array {
  const out = new Uint8Array(dataset.rowCount).fill(1);
  for (const p of filter) applyPredicate(dataset, p, out);
  return out;
}

export function countMatching(dataset: Dataset, filter: Predicate[]): number {
  const m = matchRows(dataset, filter);
  let k = 0;
  for (let i = 0; i < m.length; i++) k += m[i]!;
  return k;
}
