/**
 * Fidelity figures for an analyst who holds no real rows: one charged, noised `marginal` query
 * across the federation (every one-way and, with ways = 2, every two-way table of the data
 * columns on bins fixed from the schema alone: categories, `bins` equal-width bins over each
 * numeric column's schema bounds, "(missing)"), answered like any analyst query (budget charged
 * at the aggregator and at every party, noise added by the parties); the same tables counted
 * exactly on each synthetic dataset (which the analyst holds); and the TVD of each table.
 *
 * These distances are computed AGAINST NOISY MARGINALS: even a perfect synthetic copy of the
 * pooled data shows a TVD of about the noise's own (`noiseFloor`, the expected TVD between the
 * noisy and the true table: cells · σ · √(2/π) / (2 n) before clipping, an approximation). Noisy
 * counts below zero are clipped to zero before the TVD.
 */
import type { Dataset } from '../dataset.ts';
import type { Predicate, Query } from '../query.ts';
import { schemaDigest, type Schema } from '../schema.ts';
import { centralMeasure, marginalQuery, type Measure } from '../synth/marginals.ts';
import { dataColumns } from './encode.ts';
import { tvd } from './metrics.ts';

export const FIDELITY_FORMAT = 'blindsum-synth-fidelity';

export interface FidelityOptions {
  /** zCDP ρ charged for the one query (undefined: exact, only where the federation allows it). */
  rho?: number;
  /** Equal-width bins of a numeric column over its schema bounds (default 10). */
  bins?: number;
  /** 1: one-way tables only; 2 (default): one- and two-way. */
  ways?: 1 | 2;
  filter?: Predicate[];
}

export interface TableDistance {
  columns: string[];
  tvd: number;
  cells: number;
  /** Expected TVD of the noisy table from the true one (noise alone; 0 when exact). */
  noiseFloor: number;
}

export interface FederatedFidelity {
  format: typeof FIDELITY_FORMAT;
  schema: string;
  /** Always says what the distances are computed against. */
  basis: string;
  queryId: string;
  rhoCharged: number;
  rhoSpent: number;
  noiseStd: number;
  contributors: string[];
  /** Real rows as the noisy one-way tables count them (mean over tables). */
  noisyRows: number;
  bins: number;
  ways: 1 | 2;
  results: {
    name: string;
    rows: number;
    oneWayMean: number;
    oneWayMax: number;
    twoWayMean: number | null;
    twoWayMax: number | null;
    oneWayNoiseFloor: number;
    twoWayNoiseFloor: number | null;
    tables: TableDistance[];
  }[];
}

/** Edges of a numeric column from its schema bounds only (no data read). */
export function schemaEdges(min: number, max: number, bins: number): number[] {
  if (!(max > min)) return [min, min + 1];
  const w = (max - min) / bins;
  const e = Array.from({ length: bins + 1 }, (_, k) => (k === bins ? max : min + k * w));
  return e.filter((x, k) => k === 0 || x > e[k - 1]!);
}

/** The fidelity query: every one-way (and two-way) table of the data columns. */
export function fidelityQuery(schema: Schema, opts: FidelityOptions = {}): Query {
  const bins = opts.bins ?? 10;
  const cols = dataColumns(schema);
  if (cols.length > 64) throw new RangeError(`fidelity: ${cols.length} data columns; a marginal query takes at most 64`);
  const edges = cols.map((c) => {
    if (!c.numeric) return [];
    const s = schema.columns.find((x) => x.name === c.name)!;
    return schemaEdges(s.min!, s.max!, bins);
  });
  const tables: number[][] = cols.map((_, i) => [i]);
  if ((opts.ways ?? 2) === 2) for (let i = 0; i < cols.length; i++) for (let j = i + 1; j < cols.length; j++) tables.push([i, j]);
  return marginalQuery(cols.map((c) => c.name), edges, tables, opts.filter ?? []);
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Runs the one charged query through `measure` and compares each synthetic dataset with it. */
export async function federatedFidelity(schema: Schema, measure: Measure, synthetic: { name: string; data: Dataset }[], opts: FidelityOptions = {}): Promise<FederatedFidelity> {
  if (synthetic.length === 0) throw new RangeError('fidelity: give at least one synthetic dataset');
  const q = fidelityQuery(schema, opts);
  const tables = q.tables!;
  const real = await measure(q, opts.rho, 'fidelity');
  const sd = Math.sqrt(real.variance);
  const names = q.columns;
  const oneWay = tables.filter((t) => t.length === 1).length;
  const noisyRows = mean(real.tables.slice(0, oneWay).map((t) => t.reduce((a, b) => a + b, 0)));
  const clipped = real.tables.map((t) => t.map((x) => Math.max(0, x)));
  const floor = (cells: number): number => (sd > 0 && noisyRows > 0 ? Math.min(1, (cells * sd * Math.sqrt(2 / Math.PI)) / (2 * noisyRows)) : 0);
  const federation = schemaDigest(schema);
  const results = await Promise.all(synthetic.map(async (s) => {
    // a synthetic sample may hold more rows than the federation's maxRowsPerParty: it is loaded with
    // that bound raised (cli synth-files.ts), otherwise with the federation's schema
    const own = s.data.schema;
    if (schemaDigest({ ...own, maxRowsPerParty: schema.maxRowsPerParty }) !== federation) {
      throw new RangeError(`fidelity: synthetic dataset "${s.name.slice(0, 40)}" was loaded with another schema than the federation's`);
    }
    const exact = await centralMeasure(own, s.data)(q, undefined, 'fidelity-synthetic');
    const dists: TableDistance[] = tables.map((t, k) => ({ columns: t.map((i) => names[i]!), tvd: tvd(clipped[k]!, exact.tables[k]!), cells: clipped[k]!.length, noiseFloor: floor(clipped[k]!.length) }));
    const one = dists.filter((d) => d.columns.length === 1);
    const two = dists.filter((d) => d.columns.length === 2);
    return {
      name: s.name, rows: s.data.rowCount,
      oneWayMean: mean(one.map((d) => d.tvd)), oneWayMax: Math.max(...one.map((d) => d.tvd)),
      twoWayMean: two.length ? mean(two.map((d) => d.tvd)) : null, twoWayMax: two.length ? Math.max(...two.map((d) => d.tvd)) : null,
      oneWayNoiseFloor: mean(one.map((d) => d.noiseFloor)), twoWayNoiseFloor: two.length ? mean(two.map((d) => d.noiseFloor)) : null,
      tables: dists,
    };
  }));
  return {
    format: FIDELITY_FORMAT, schema: schema.name,
    basis: real.rhoCharged > 0
      ? `computed against noisy federated marginals (query ${real.queryId}, ρ = ${real.rhoCharged.toPrecision(4)} charged, noise σ = ${sd.toPrecision(3)} per cell), not against the real rows`
      : `computed against exact federated marginals (query ${real.queryId}, no noise: the federation allowed an exact query)`,
    queryId: real.queryId, rhoCharged: real.rhoCharged, rhoSpent: real.rhoSpent, noiseStd: sd, contributors: real.contributors,
    noisyRows, bins: opts.bins ?? 10, ways: opts.ways ?? 2, results,
  };
}

/** One line per synthetic dataset. */
export function fidelityLines(f: FederatedFidelity): string[] {
  const x = (v: number | null, d = 3): string => (v === null ? '—' : v.toFixed(d));
  return [`federated fidelity, ${f.basis}; ${f.contributors.length} parties, ≈ ${Math.round(f.noisyRows)} real rows`,
    ...f.results.map((r) => `  ${r.name} (${r.rows} rows): 1-way TVD ${x(r.oneWayMean)} (max ${x(r.oneWayMax)}; noise alone ≈ ${x(r.oneWayNoiseFloor)})` +
      (r.twoWayMean !== null ? `, 2-way TVD ${x(r.twoWayMean)} (max ${x(r.twoWayMax)}; noise alone ≈ ${x(r.twoWayNoiseFloor)})` : ''))];
}
