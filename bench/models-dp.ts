/**
 * Error of differentially private model fits against the exact pooled fit (docs/models.md):
 * each DP job is simulated in process exactly as the federation runs it — three parties' exact
 * integer sums plus each party's Skellam noise share (stats/privacy.ts noiseShare, threshold 2,
 * no collusion), post-processed by the kind, rounds driven by stats/iterative.ts — for
 * ρ ∈ {0.1, 0.5, 1, 4} (the job's total, split equally over its rounds) and several round counts.
 * Prints, per model, ρ and rounds, the median and mean over seeds and coefficients of
 * |β̂_j − β_j| / SE_j (error in units of the exact fit's standard error), the RMSE of the coefficients,
 * and how many jobs failed (noisy information not positive definite, or a state out of range).
 *
 *   ./node_modules/.bin/node bench/models-dp.ts [--seeds 20] [--rho 0.1,0.5,1,4] [--rounds 3,4,6]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { utf8 } from '../crypto/bytes.ts';
import { dpAnswer } from '../client/jobs.ts';
import { centralResult } from '../stats/central.ts';
import { runJob, type IterativeRound } from '../stats/iterative.ts';
import {
  buildDataset, DP_GRID_BITS, finalize, localStatistics, noiseShare, parseSchema, planNoise, planQuery, splitDataset,
  type Dataset, type Query, type QueryResult, type Schema,
} from '../stats/index.ts';

interface Model { name: string; data: 'pbc' | 'flchain'; query: Query }

export const DP_MODELS: Model[] = [
  { name: 'pbc logistic', data: 'pbc', query: { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['age', 'bili', 'albumin', 'sex'], filter: [] } },
  { name: 'flchain logistic', data: 'flchain', query: { kind: 'logistic_regression', target: 'death', positive: ['1'], columns: ['age', 'sex', 'creatinine'], filter: [] } },
  { name: 'flchain poisson', data: 'flchain', query: { kind: 'poisson_regression', target: 'futime', columns: ['age', 'sex', 'mgus'], filter: [] } },
];

type Fit = QueryResult & IterativeRound & { coefficients: number[]; standardErrors: (number | null)[] };

/** One DP job simulated: rounds of 3 parties' sums plus their noise shares. */
export async function simulateDpJob(q: Query, schema: Schema, parts: Dataset[], rho: number, rounds: number, seed: string): Promise<Fit> {
  const rng = seededRandomSource(utf8(seed.padEnd(32, '.').slice(0, 32)));
  const { result } = await runJob<Fit>(q, schema, async (round) => {
    const plan = planQuery(round, schema, { parties: parts.length, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const np = planNoise(round, schema, plan, { rho: rho / rounds, parties: parts.length, threshold: 2, collusion: 0 });
    const sums = plan.entries.map(() => 0n);
    for (const part of parts) {
      const local = localStatistics(round, schema, plan, part).sums;
      const noise = noiseShare(np, rng);
      local.forEach((s, i) => (sums[i]! += s + noise[i]!));
    }
    return finalize(round, schema, plan, sums) as Fit;
  }, { maxRounds: rounds });
  return dpAnswer(result);
}

export async function benchModelsDp(opts: { seeds?: number; rhos?: number[]; rounds?: number[] } = {}): Promise<void> {
  const seeds = opts.seeds ?? 20;
  const rhos = opts.rhos ?? [0.1, 0.5, 1, 4];
  const roundCounts = opts.rounds ?? [3, 4, 6];
  console.log(`\n## DP model fits vs the exact pooled fit (3 parties, t = 2; ${seeds} seeds; rho is the job's total)\n`);
  console.log('| model | rho | rounds | median abs(error)/SE | mean abs(error)/SE | coefficient RMSE | failed jobs |');
  console.log('|---|---|---|---|---|---|---|');
  for (const m of DP_MODELS) {
    const schema = parseSchema(JSON.parse(readFileSync(new URL(`../examples/${m.data}/schema.json`, import.meta.url), 'utf8')));
    const { dataset } = buildDataset(schema, readFileSync(new URL(`../examples/${m.data}/${m.data}.csv`, import.meta.url), 'utf8'));
    const exact = centralResult(m.query, schema, dataset) as Fit;
    const parts = splitDataset(dataset, 3, 'models-dp');
    for (const rho of rhos) {
      for (const rounds of roundCounts) {
        let failed = 0;
        let zsum = 0;
        const zs: number[] = [];
        let sq = 0;
        let count = 0;
        for (let s = 0; s < seeds; s++) {
          try {
            const fit = await simulateDpJob(m.query, schema, parts, rho, rounds, `${m.name}/${rho}/${rounds}/${s}`);
            fit.coefficients.forEach((b, j) => {
              const d = b - exact.coefficients[j]!;
              zsum += Math.abs(d) / exact.standardErrors[j]!;
              zs.push(Math.abs(d) / exact.standardErrors[j]!);
              sq += d * d;
              count++;
            });
          } catch {
            failed++;
          }
        }
        const z = count ? (zsum / count).toFixed(2) : '—';
        const rmse = count ? Math.sqrt(sq / count).toPrecision(3) : '—';
        zs.sort((a, b) => a - b);
        const med = zs.length ? zs[Math.floor(zs.length / 2)]!.toFixed(2) : '—';
        console.log(`| ${m.name} | ${rho} | ${rounds} | ${med} | ${z} | ${rmse} | ${failed}/${seeds} |`);
      }
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { seeds: { type: 'string' }, rho: { type: 'string' }, rounds: { type: 'string' } } });
  await benchModelsDp({
    ...(values.seeds ? { seeds: Number(values.seeds) } : {}),
    ...(values.rho ? { rhos: values.rho.split(',').map(Number) } : {}),
    ...(values.rounds ? { rounds: values.rounds.split(',').map(Number) } : {}),
  });
}
