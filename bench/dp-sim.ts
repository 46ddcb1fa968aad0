/**
 * How often does a DP release fail a test by chance? Simulates many releases of one query on an
 * example dataset exactly as a federation of `parties` (threshold t, collusion c) post-processes
 * them: the exact pooled sums plus Gaussian noise with the released noise sd of each entry
 * (crypto/dp/distributed.ts releasedStdDev for k = parties contributors; the Skellam noise is
 * Gaussian to within its discreteness), then finalize with the released noise sd. Counts the
 * releases whose post-processing throws and those a check rejects.
 *
 *   ./node_modules/.bin/node bench/dp-sim.ts --data pbc --rho 1 --draws 100000 \
 *     --query '{"kind":"linear_regression","columns":["age","sex"],"target":"albumin","filter":[]}'
 *
 * Tests with a check of their own import `simulateReleases` (tests name it in their comments).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { releasedStdDev } from '../crypto/dp/distributed.ts';
import { gaussian } from '../stats/bootstrap.ts';
import {
  buildDataset, DP_GRID_BITS, finalize, localStatistics, noiseStd, parseSchema, parseQueryJson, planNoise, planQuery,
  type NoisePlan, type Plan, type Query, type QueryResult, type Schema, type Dataset,
} from '../stats/index.ts';

export interface SimOptions { rho: number; parties?: number; threshold?: number; collusion?: number; draws: number }
export interface SimOutcome { draws: number; threw: number; rejected: number; firstError: string; firstRejection: string }

export function loadData(name: string): { schema: Schema; dataset: Dataset } {
  const schema = parseSchema(JSON.parse(readFileSync(new URL(`../examples/${name}/schema.json`, import.meta.url), 'utf8')));
  const { dataset } = buildDataset(schema, readFileSync(new URL(`../examples/${name}/${name}.csv`, import.meta.url), 'utf8'), { strict: true });
  return { schema, dataset };
}

/** One simulated release: its noisy sums and the post-processed result (undefined when post-processing threw). */
export interface Release { sums: bigint[]; result?: QueryResult; plan: Plan; np: NoisePlan }

/** `check` returns '' when a release passes, else why it does not; by default a release passes when post-processing did not throw. */
export function simulateReleases(q: Query, schema: Schema, dataset: Dataset, o: SimOptions, check?: (r: Release) => string): SimOutcome {
  const parties = o.parties ?? 3;
  const plan = planQuery(q, schema, { parties, ringBits: 64, dpGridBits: DP_GRID_BITS });
  const np = planNoise(q, schema, plan, { rho: o.rho, parties, threshold: o.threshold ?? 2, collusion: o.collusion ?? 0 });
  const sums = localStatistics(q, schema, plan, dataset).sums;
  const sd = np.perEntry.map((e) => releasedStdDev(e.noise, parties));
  const std = noiseStd(np, plan, parties);
  const out: SimOutcome = { draws: o.draws, threw: 0, rejected: 0, firstError: '', firstRejection: '' };
  for (let d = 0; d < o.draws; d++) {
    const noisy = sums.map((s, i) => s + BigInt(Math.round(gaussian() * sd[i]!)));
    let result: QueryResult | undefined;
    try {
      result = finalize(q, schema, plan, noisy, std);
    } catch (e) {
      out.threw++;
      out.firstError ||= (e as Error).message;
      if (!check) continue;
    }
    const why = check ? check({ sums: noisy, plan, np, ...(result ? { result } : {}) }) : '';
    if (why) {
      out.rejected++;
      out.firstRejection ||= why;
    }
  }
  return out;
}

export function formatOutcome(label: string, o: SimOutcome): string {
  const p = (k: number): string => (k === 0 ? `0 (< ${(3 / o.draws).toExponential(1)} at 95%)` : (k / o.draws).toExponential(2));
  return `${label}: ${o.draws} releases, post-processing threw in ${p(o.threw)}${o.firstError ? ` [${o.firstError.slice(0, 120)}]` : ''}, check rejected ${p(o.rejected)}${o.firstRejection ? ` [${o.firstRejection.slice(0, 120)}]` : ''}`;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { data: { type: 'string', default: 'pbc' }, query: { type: 'string' }, rho: { type: 'string' }, draws: { type: 'string', default: '20000' }, parties: { type: 'string', default: '3' }, threshold: { type: 'string', default: '2' }, collusion: { type: 'string', default: '0' } } });
  if (!values.query || !values.rho) throw new Error('usage: bench/dp-sim.ts --data pbc --rho 1 --query JSON [--draws N] [--parties 3 --threshold 2 --collusion 0]');
  const { schema, dataset } = loadData(values.data);
  const q = parseQueryJson(JSON.parse(values.query));
  const o = simulateReleases(q, schema, dataset, { rho: Number(values.rho), draws: Number(values.draws), parties: Number(values.parties), threshold: Number(values.threshold), collusion: Number(values.collusion) });
  console.log(formatOutcome(`${values.data} ${q.kind} rho ${values.rho}`, o));
}
