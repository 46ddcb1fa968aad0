/**
 * population: the population the parties' loads used — how many rows each source gave, how many
 * the schema's validation dropped and why, how many were loaded with a value clipped to its
 * bounds — summed over the federation. Statistic vector (one count per entry, integer grid):
 *   [loaded, dropped(invalid_value), dropped(out_of_bounds), dropped(identifier),
 *    dropped(malformed), dropped(patient_bound), clipped]
 * from each party's load figures (Dataset.population, made by stats/dataset-builder.ts), not from
 * the loaded rows: a dropped row is in no dataset. It takes no columns and no filter. Each party's
 * count is capped at the schema's maxRowsPerParty (a source may drop more rows than that; the
 * loaded ones never exceed it), so the plan's overflow and release checks hold.
 *
 * Sensitivity (record level, rowsPerPatient 1). Every row read is in exactly one of loaded or one
 * dropped class, and a loaded row may also count in clipped: adding or removing one row moves the
 * vector by at most 2 entries by 1 each: L1 = 2, L2 = √2 (rowEntries = 2: stats/privacy.ts gives
 * such vectors one Skellam level with those sensitivities).
 *
 * Under rowsPerPatient = k, each of a patient's rows moves it as above, so L1 = 2k, L2 = √2·k —
 * ASSUMING the schema's declaration holds for every row of the source, valid or not: a patient
 * has at most k rows read from the source. The loaded rows are bounded by construction (at most k
 * per patient are kept), but the dropped ones are not: a patient with more than k rows adds the
 * excess to dropped(patient_bound), a patient's invalid rows each add to their class, and a row
 * without a usable identifier (dropped(identifier)) cannot be attributed to anyone, so it is
 * assumed to be one of some patient's k rows. A source that breaks the declaration makes the
 * release's privacy guarantee weaker than its ρ by the factor by which a patient's rows exceed k
 * (docs/dp.md); the party's operator sees those figures in its load report.
 */
import { DROP_REASONS, type DropReason } from '../dataset.ts';
import { fixedValue } from '../fixed.ts';
import { QueryError } from '../query-types.ts';
import type { Entry, KindDef, PopulationResult } from './types.ts';

/** The entries' names, in the vector's order. */
export const POPULATION_ENTRIES: readonly string[] = ['loaded', ...DROP_REASONS.map((r) => `dropped(${r})`), 'clipped'];
const CLIPPED = 1 + DROP_REASONS.length;

function result(s: { sums: bigint[]; scaleBits: number[] }, noisy: boolean): PopulationResult {
  const v = (i: number): number => fixedValue(s, i);
  const dropped = Object.fromEntries(DROP_REASONS.map((r, i) => [r, v(1 + i)])) as Record<DropReason, number>;
  const droppedTotal = DROP_REASONS.reduce((a, _r, i) => a + v(1 + i), 0);
  const loaded = v(0);
  const clipped = v(CLIPPED);
  const notes: string[] = [];
  const say = noisy ? 'about ' : '';
  if (droppedTotal > 0) notes.push(`${say}${fmt(droppedTotal)} row(s) read from the sources were excluded by the schema (${DROP_REASONS.filter((r) => dropped[r] !== 0).map((r) => `${r}: ${fmt(dropped[r])}`).join(', ')}): every query runs on the ${say}${fmt(loaded)} loaded rows`);
  if (clipped > 0) notes.push(`${say}${fmt(clipped)} loaded row(s) have a value clipped to its column's bounds (outOfBounds: 'clip')`);
  if (noisy) notes.push('every figure is noisy (differential privacy): small or negative values are within the noise');
  return { kind: 'population', n: loaded, loaded, dropped, droppedTotal, clipped, notes };
}

const fmt = (x: number): string => String(Number(x.toPrecision(6)));

export const population: KindDef = {
  // A row adds 1 to its status entry (loaded or its drop class) and, when loaded with a clipped value, 1 to clipped.
  rowEntries: () => 2,
  layout: (): Entry[] => POPULATION_ENTRIES.map((name) => ({ name, bound: 1, integer: true, nonNegative: true })),
  loadCounts: (_q, schema, dataset) => {
    const p = dataset.population;
    if (!p) throw new QueryError('population: this dataset carries no load figures (it was not built from a source by the DatasetBuilder)');
    // Loaded (and so clipped) rows are at most maxRowsPerParty (the load stops beyond); dropped rows
    // are not bounded by the load, so each count is capped there: the plan's overflow and release
    // checks (parties × maxRowsPerParty per entry) hold, and min(x, M) moves no more than x does.
    const cap = (x: number): number => Math.min(x, schema.maxRowsPerParty);
    return [cap(p.loaded), ...DROP_REASONS.map((r) => cap(p.dropped[r])), cap(p.clipped)];
  },
  rowTerms: () => {
    // The vector counts rows that are in no dataset (the dropped ones): it comes from loadCounts.
    throw new TypeError('population has no per-row terms: its vector is the load\'s counts (KindDef.loadCounts)');
  },
  finalize: (_q, _schema, s) => result(s, s.noiseStd !== undefined),
  // A linear release: every field is an entry or a sum of entries with independent noise, so its
  // noise sd is exact from the plan (no bootstrap).
  noiseUncertainty: (_q, _schema, _s, noiseStd) => {
    const sd = (i: number): number => noiseStd[i]!;
    const out: Record<string, number | null> = { n: sd(0), loaded: sd(0) };
    DROP_REASONS.forEach((r, i) => (out[`dropped.${r}`] = sd(1 + i)));
    out['droppedTotal'] = Math.sqrt(DROP_REASONS.reduce((a, _r, i) => a + sd(1 + i) ** 2, 0));
    out['clipped'] = sd(CLIPPED);
    return out;
  },
};
