/**
 * Measuring marginals: the `marginal` queries the synthesizer asks, the interface through which
 * they are answered (federated through the aggregator: client/synth-measure.ts; or central, on a
 * dataset held by the caller), and the regrouping of measured tables onto the model's values.
 */
import type { RandomSource } from '../../crypto/dp/random.ts';
import { releasedStdDev } from '../../crypto/dp/distributed.ts';
import type { Dataset } from '../dataset.ts';
import { finalize, localStatistics, planQuery } from '../plan.ts';
import { DP_GRID_BITS, noiseShare, planNoise } from '../privacy.ts';
import type { Predicate, Query } from '../query.ts';
import type { Schema } from '../schema.ts';

/** One answered marginal query: a count vector per table (layout order) and its noise. */
export interface MeasuredTables {
  tables: number[][];
  /** Noise variance of every cell (one level for all cells of a marginal query); 0 when exact. */
  variance: number;
  queryId: string;
  /** ρ charged for the query (0 when exact) and ρ of the release given its contributors. */
  rhoCharged: number;
  rhoSpent: number;
  contributors: string[];
}

/** Answers a marginal query at zCDP cost `rho` (undefined: exact, no noise). */
export type Measure = (q: Query, rho: number | undefined, purpose: string) => Promise<MeasuredTables>;

/** A marginal query over every column, with the given per-column edges and tables. */
export function marginalQuery(columns: string[], edges: number[][], tables: number[][], filter: Predicate[]): Query {
  return { kind: 'marginal', columns: [...columns], filter: filter.map((p) => ({ ...p, values: [...p.values] })), edges: edges.map((e) => [...e]), tables: tables.map((t) => [...t]) };
}

/**
 * Central measurement on a dataset the caller holds: the same plan and, with `rho`, the same
 * Skellam mechanism as a federation of one party (threshold 1) adding all the noise itself.
 * Used for the non-private baseline (exact) and for tests and simulations.
 */
export function centralMeasure(schema: Schema, dataset: Dataset, rng?: RandomSource): Measure {
  let counter = 0;
  return async (q, rho, purpose) => {
    const id = `central-${++counter}-${purpose}`;
    if (rho === undefined) {
      const plan = planQuery(q, schema, { parties: 1, ringBits: 64 });
      const { sums } = localStatistics(q, schema, plan, dataset);
      return { ...tablesOf(q, schema, plan, sums), variance: 0, queryId: id, rhoCharged: 0, rhoSpent: 0, contributors: ['central'] };
    }
    if (!rng) throw new TypeError('centralMeasure: a random source is needed for noisy measurements');
    const plan = planQuery(q, schema, { parties: 1, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const np = planNoise(q, schema, plan, { rho, parties: 1, threshold: 1 });
    const { sums } = localStatistics(q, schema, plan, dataset);
    const noise = noiseShare(np, rng);
    const noisy = sums.map((s, i) => s + noise[i]!);
    const sd = releasedStdDev(np.perEntry[0]!.noise, 1) * 2 ** -plan.scaleBits[0]!;
    return { ...tablesOf(q, schema, plan, noisy), variance: sd * sd, queryId: id, rhoCharged: rho, rhoSpent: rho, contributors: ['central'] };
  };
}

function tablesOf(q: Query, schema: Schema, plan: ReturnType<typeof planQuery>, sums: bigint[]): { tables: number[][] } {
  const r = finalize(q, schema, plan, sums);
  if (r.kind !== 'marginal') throw new TypeError('expected a marginal result');
  return { tables: r.tables.map((t) => t.counts) };
}

/** A measured table regrouped onto model values: counts and per-cell noise variance. */
export interface GroupedTable {
  /** Model columns (indices into the model's columns). */
  columns: number[];
  /** Sizes of each column's model domain. */
  shape: number[];
  counts: Float64Array;
  variance: Float64Array;
}

/**
 * Sums the cells of a measured table over the query levels of each model value. `levelToGroup`
 * maps each column's query (or fine) level to its model value. Variances add (independent noise).
 */
export function regroup(counts: number[], cellVariance: number, columns: number[], levelSizes: number[], levelToGroup: Int32Array[], groupSizes: number[]): GroupedTable {
  const shape = columns.map((c) => groupSizes[c]!);
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(size);
  const variance = new Float64Array(size);
  const k = columns.length;
  const idx = new Array<number>(k).fill(0);
  const total = columns.reduce((a, c) => a * levelSizes[c]!, 1);
  if (counts.length !== total) throw new RangeError(`regroup: expected ${total} cells, got ${counts.length}`);
  for (let cell = 0; cell < total; cell++) {
    let g = 0;
    for (let j = 0; j < k; j++) g = g * shape[j]! + levelToGroup[columns[j]!]![idx[j]!]!;
    out[g] += counts[cell]!;
    variance[g] += cellVariance;
    for (let j = k - 1; j >= 0; j--) {
      if (++idx[j]! < levelSizes[columns[j]!]!) break;
      idx[j] = 0;
    }
  }
  return { columns: [...columns], shape, counts: out, variance };
}
