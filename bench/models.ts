/**
 * Iterative models over real gRPC on loopback (docs/models.md): an aggregator and n party
 * processes (t = ⌊n/2⌋ + 1) on the pbc data, each model fitted to convergence as a job of signed
 * rounds by the analyst's client, on both backends. Prints rounds to converge, seconds per round
 * and per job at n = 3 and n = 10, then the DP error table (bench/models-dp.ts).
 *   npm run bench -- models [--parties 3,10] [--seeds 20]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateAnalystKey } from '../client/ckks-analyst.ts';
import { runModelJob } from '../client/jobs.ts';
import { LocalFederation } from '../cli/federation.ts';
import { describeQuery, splitCsvText, type Query } from '../stats/index.ts';
import { benchModelsDp } from './models-dp.ts';

const EXAMPLES = fileURLToPath(new URL('../examples/pbc/', import.meta.url));

export const BENCH_MODELS: Query[] = [
  { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['age', 'bili', 'albumin', 'sex', 'edema'], filter: [] },
  { kind: 'poisson_regression', target: 'copper', offset: 'time', columns: ['age', 'sex', 'edema', 'bili'], filter: [] },
  { kind: 'cox', time: 'time', event: 'status', positive: ['2'], columns: ['age', 'bili', 'albumin', 'protime', 'edema', 'sex'], filter: [] },
];

export async function benchModels(opts: { parties?: number[]; seeds?: number } = {}): Promise<void> {
  const csv = readFileSync(join(EXAMPLES, 'pbc.csv'), 'utf8');
  console.log(`\n## Iterative models end to end (pbc, loopback gRPC; Node ${process.versions.node}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')})\n`);
  console.log('| parties | model | backend | rounds | s per round (median) | s per job |');
  console.log('|---|---|---|---|---|---|');
  for (const n of opts.parties ?? [3, 10]) {
    const dir = mkdtempSync(join(tmpdir(), 'blindsum-bench-models-'));
    const fed = await LocalFederation.start({ dir, schemaPath: join(EXAMPLES, 'schema.json'), partyData: splitCsvText(csv, n, 'bench-models'), threshold: Math.floor(n / 2) + 1, ckks: true });
    const client = fed.client();
    try {
      await fed.waitCollectiveKey(600_000);
      const key = await generateAnalystKey();
      for (const q of BENCH_MODELS) {
        for (const backend of ['secagg', 'ckks'] as const) {
          const t0 = performance.now();
          const job = await runModelJob(client, q, { backend, ...(backend === 'ckks' ? { ckksKey: key } : {}) });
          const total = (performance.now() - t0) / 1000;
          const per = job.rounds.map((o) => o.elapsedMs / 1000).sort((a, b) => a - b);
          const median = per[Math.floor(per.length / 2)]!;
          console.log(`| ${n} | ${describeQuery(q).replace(/\|/g, '/')} | ${backend} | ${job.rounds.length}${job.result!.converged ? '' : ' (not converged)'} | ${median.toFixed(2)} | ${total.toFixed(1)} |`);
        }
      }
    } finally {
      client.close();
      await fed.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  await benchModelsDp({ ...(opts.seeds !== undefined ? { seeds: opts.seeds } : {}) });
}
