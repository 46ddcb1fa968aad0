/**
 * kaplan_meier: Kaplan–Meier curves with Greenwood confidence intervals, median survival, numbers
 * at risk and (with strata) the log-rank test, from one count table on the public time grid
 * (design.ts timeGrid: `bins`, or 100 equal bins of the time column's schema bounds; never from
 * data). See docs/kaplan-meier.md.
 *
 * Layout: for each stratum (the levels of `strata`, "(missing)" included when the schema makes it a
 * level; one stratum without strata), for each bin j of the grid, two counts: rows whose time falls
 * in bin j with an event (the event column's level is in `positive`), and without (censored). Cell
 * ((s · B) + j) · 2 + (0 event | 1 censored). Every complete-case row (time and event present, and
 * the stratum when given; filters apply) adds 1 to exactly one cell (oneHot). A row whose event is
 * missing (also the "(missing)" level) is left out: an unknown status is not a censoring.
 *
 * finalize turns the table into the curves (km-curve.ts) and the log-rank test (log-rank.ts); on
 * exact sums they equal R's survfit/survdiff on the grid-binned times (test/reference/kaplan-meier.R).
 * Under DP, FixedSums.noiseStd (the released noise per entry) widens the intervals by the noise's
 * share; without it noisy sums still give a valid monotone curve, with Greenwood intervals only.
 */
import type { CategoricalColumn, Dataset, NumericColumn } from '../dataset.ts';
import { fixedValue } from '../fixed.ts';
import { QueryError, quote, type Query } from '../query-types.ts';
import { findColumn, levelsOf, MISSING_LEVEL, type ColumnSpec, type Schema } from '../schema.ts';
import { timeBin, timeGrid } from './design.ts';
import { kmCurve, type BinCounts } from './km-curve.ts';
import { logRank } from './log-rank.ts';
import { CountEntry, termsFromCells, type Entry, type KaplanMeierResult, type KindDef, type RowCells } from './types.ts';

/** Most levels of a strata column (the log-rank test solves a system of that size per query). */
export const MAX_STRATA = 50;
/** Most cells of a kaplan_meier table (strata × bins × 2). */
export const MAX_KM_CELLS = 1 << 20;

function categorical(schema: Schema, name: string | undefined, role: string): ColumnSpec {
  if (name === undefined) throw new QueryError(`kaplan_meier needs ${role}`);
  const c = findColumn(schema, name);
  if (!c) throw new QueryError(`${role}: unknown column ${quote(name)}`);
  if (c.type !== 'categorical') throw new QueryError(`${role}: "${c.name}" is ${c.type}; kaplan_meier needs a categorical column here`);
  return c;
}

/** The strata of a query: the levels of its strata column, or [null] for one overall curve. */
export function kmStrata(q: Query, schema: Schema): (string | null)[] {
  return q.strata === undefined ? [null] : levelsOf(findColumn(schema, q.strata)!);
}

/** Checks the kaplan_meier fields (called by validateQuery). */
export function validateKaplanMeier(q: Query, schema: Schema): void {
  if (q.columns.length !== 0) throw new QueryError('kaplan_meier takes no columns (columns: []); name the follow-up time in time, the status in event, and the grouping in strata');
  if (q.time === undefined) throw new QueryError('kaplan_meier needs time: the follow-up time column (numeric or integer)');
  const edges = timeGrid(q, schema);
  edges.forEach((e, i) => {
    if (!Number.isFinite(e)) throw new QueryError(`bins[${i}]: expected a finite number`);
  });
  const time = findColumn(schema, q.time)!;
  const event = categorical(schema, q.event, 'event: the status column (categorical)');
  const levels = levelsOf(event).filter((l) => l !== MISSING_LEVEL);
  const pos = q.positive;
  if (!pos || pos.length === 0) throw new QueryError(`kaplan_meier needs positive: the levels of "${event.name}" that are events (levels: ${levels.join(', ')})`);
  pos.forEach((l, i) => {
    if (!levels.includes(l)) throw new QueryError(`positive[${i}]: ${quote(l)} is not a level of "${event.name}"; levels: ${levels.join(', ')}`);
  });
  if (new Set(pos).size !== pos.length) throw new QueryError('positive: a level is listed twice');
  if (pos.length === levels.length) throw new QueryError(`positive lists every level of "${event.name}": nothing would be censored; leave at least one level out`);
  if (event.name === time.name) throw new QueryError('event and time name the same column');
  let strata = 1;
  if (q.strata !== undefined) {
    const s = categorical(schema, q.strata, 'strata');
    if (s.name === event.name) throw new QueryError(`strata: "${s.name}" is also the event column`);
    strata = levelsOf(s).length;
    if (strata > MAX_STRATA) throw new QueryError(`strata: "${s.name}" has ${strata} levels; at most ${MAX_STRATA}`);
  }
  const cells = strata * (edges.length - 1) * 2;
  if (cells > MAX_KM_CELLS) throw new QueryError(`kaplan_meier: ${strata} strata × ${edges.length - 1} bins × 2 = ${cells} cells; at most ${MAX_KM_CELLS} (use fewer bins)`);
  (q.times ?? []).forEach((t, i) => {
    if (typeof t !== 'number' || !Number.isFinite(t) || t < time.min! || t > time.max!) {
      throw new QueryError(`times[${i}]: ${quote(t)} is not a finite time within the bounds of "${time.name}" [${time.min}, ${time.max}]`);
    }
  });
  if ((q.times ?? []).length > 1000) throw new QueryError(`times: at most 1000 report times, got ${q.times!.length}`);
}

function kmCells(q: Query, schema: Schema, dataset: Dataset): RowCells {
  const edges = timeGrid(q, schema);
  const B = edges.length - 1;
  const t = dataset.columns.get(q.time!) as NumericColumn | undefined;
  const ev = dataset.columns.get(q.event!) as CategoricalColumn | undefined;
  if (t?.kind !== 'numeric' || ev?.kind !== 'categorical') throw new TypeError('kaplan_meier: the dataset lacks the time or event column; validate the query first');
  const isEvent = new Int8Array(ev.levels.length).fill(1);
  ev.levels.forEach((l, i) => (isEvent[i] = l === MISSING_LEVEL ? -1 : q.positive!.includes(l) ? 1 : 0));
  let strata: Int32Array | undefined;
  if (q.strata !== undefined) {
    const s = dataset.columns.get(q.strata) as CategoricalColumn | undefined;
    if (s?.kind !== 'categorical') throw new TypeError('kaplan_meier: the dataset lacks the strata column; validate the query first');
    strata = s.codes;
  }
  const times = t.values;
  const events = ev.codes;
  return (row, cells) => {
    const v = times[row]!;
    const e = events[row]!;
    if (Number.isNaN(v) || e < 0 || isEvent[e]! < 0) return 0;
    const s = strata ? strata[row]! : 0;
    if (s < 0) return 0;
    const j = timeBin(edges, v);
    if (j >= B) throw new QueryError(`row ${row}: ${q.time} = ${v} lies outside the time grid [${edges[0]}, ${edges[B]}]; the dataset holds a value outside the schema bounds (load it with buildDataset)`);
    cells[0] = (s * B + j) * 2 + (isEvent[e] === 1 ? 0 : 1);
    return 1;
  };
}

/** Per stratum, the released counts and their noise variances. */
export function kmCounts(q: Query, schema: Schema, value: (i: number) => number, variance: (i: number) => number): BinCounts[] {
  const B = timeGrid(q, schema).length - 1;
  return kmStrata(q, schema).map((_, s) => {
    const c: BinCounts = { events: new Float64Array(B), censored: new Float64Array(B), eventVar: new Float64Array(B), censoredVar: new Float64Array(B) };
    for (let j = 0; j < B; j++) {
      const i = (s * B + j) * 2;
      c.events[j] = value(i);
      c.censored[j] = value(i + 1);
      c.eventVar[j] = variance(i);
      c.censoredVar[j] = variance(i + 1);
    }
    return c;
  });
}

/** The result from per-stratum bin counts (shared with the central reference, stats/central-km.ts). */
export function kmResult(q: Query, schema: Schema, counts: BinCounts[], noisy: boolean): KaplanMeierResult {
  const edges = timeGrid(q, schema);
  const strata = kmStrata(q, schema);
  const times = [...(q.times ?? [])];
  const fits = strata.map((s, g) => kmCurve(s, edges, counts[g]!, times, noisy));
  const curves = fits.map((f) => f.curve);
  const notes: string[] = [];
  if (noisy) notes.push('differentially private: counts post-processed into a monotone curve; the intervals include the noise (docs/kaplan-meier.md)');
  fits.forEach((f) => {
    if (f.roughFrom !== null) notes.push(`${f.curve.stratum === null ? 'the curve' : `stratum ${q.strata} = ${f.curve.stratum}`}: from time ${f.roughFrom} the noise of the number at risk exceeds a third of it; intervals there are rough (fewer bins beyond the follow-up help)`);
  });
  let test = null;
  if (q.strata !== undefined) {
    test = logRank(strata.map(String), counts, fits.map((f) => f.nRisk), noisy);
    if (test.strata.length < 2) notes.push(`log-rank test undefined: ${test.strata.length} stratum has rows`);
    else if (test.chisq === null) notes.push('log-rank test undefined: its variance matrix is singular');
  }
  return {
    kind: 'kaplan_meier', n: curves.reduce((a, c) => a + c.n, 0), time: q.time!, event: q.event!, positive: [...q.positive!],
    strata: q.strata ?? null, times, curves, logRank: test, notes,
  };
}

function cellLabel(q: Query, schema: Schema): (i: number) => string {
  const edges = timeGrid(q, schema);
  const strata = kmStrata(q, schema);
  const B = edges.length - 1;
  return (i) => {
    const s = Math.floor(i / (2 * B));
    const j = Math.floor(i / 2) % B;
    const where = strata[s] === null ? '' : `${q.strata} = ${strata[s]}, `;
    return `count(${where}${q.time} in [${edges[j]}, ${edges[j + 1]}${j === B - 1 ? ']' : ')'}, ${i % 2 === 0 ? 'event' : 'censored'})`;
  };
}

export const kaplanMeier: KindDef = {
  oneHot: true,
  layout: (q, schema) => {
    const label = cellLabel(q, schema);
    const total = kmStrata(q, schema).length * (timeGrid(q, schema).length - 1) * 2;
    const out: Entry[] = new Array<Entry>(total);
    for (let i = 0; i < total; i++) out[i] = new CountEntry(label, i);
    return out;
  },
  rowTerms: (q, schema, dataset) => termsFromCells(kmCells(q, schema, dataset), 1),
  rowCells: kmCells,
  finalize: (q, schema, s) => {
    const sd = s.noiseStd;
    return kmResult(q, schema, kmCounts(q, schema, (i) => fixedValue(s, i), (i) => (sd ? sd[i]! ** 2 : 0)), sd !== undefined);
  },
  noiseUncertainty: (q, schema, s, noiseStd) => kmNoiseUncertainty(timeGrid(q, schema), kaplanMeier.finalize(q, schema, { ...s, noiseStd }) as KaplanMeierResult, noiseStd),
};

/**
 * The noise's standard deviation of the result's fields (numericFields names): counts, totals and
 * risk sets from the variances of the cells they sum, surv by the delta method (S · noiseStdErr);
 * other fields (intervals, median, the test) are not listed: their intervals already hold the noise.
 */
function kmNoiseUncertainty(edges: number[], r: KaplanMeierResult, noiseStd: number[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  const B = edges.length - 1;
  const v = (i: number): number => noiseStd[i]! ** 2;
  r.curves.forEach((c, g) => {
    const p = `curves[${g}]`;
    // after[j]: the variance of the risk set of bin j (cells of bins ≥ j)
    const after = new Float64Array(B + 1);
    let events = 0;
    for (let j = B - 1; j >= 0; j--) {
      const i = (g * B + j) * 2;
      after[j] = after[j + 1]! + v(i) + v(i + 1);
      events += v(i);
    }
    out[`${p}.n`] = Math.sqrt(after[0]!);
    out[`${p}.events`] = Math.sqrt(events);
    c.time.forEach((t, k) => {
      const j = edges.indexOf(t) - 1;
      out[`${p}.nRisk[${k}]`] = Math.sqrt(after[j]!);
      out[`${p}.nEvent[${k}]`] = Math.sqrt(v((g * B + j) * 2));
      out[`${p}.nCensor[${k}]`] = Math.sqrt(v((g * B + j) * 2 + 1));
      const ns = c.noiseStdErr?.[k] ?? null;
      out[`${p}.surv[${k}]`] = ns === null ? null : c.surv[k]! * ns;
    });
  });
  return out;
}
