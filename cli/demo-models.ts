/**
 * The demo's model section (pbc only): models fitted in rounds through the federation, each
 * beside the same fit computed centrally on the contributors' rows, then a DP fit with the
 * noise's uncertainty of every coefficient.
 */
import type { AnalystCkksKey } from '../client/ckks-analyst.ts';
import type { AnalystClient } from '../client/analyst.ts';
import { runModelJob, type JobOutcome } from '../client/jobs.ts';
import {
  buildDataset, centralResult, compareResults, describeQuery, formatResult, numericFields, type Query, type QueryResult, type Schema,
} from '../stats/index.ts';
import { formatPrivacy } from './commands/query.ts';

export const PBC_MODELS: Query[] = [
  { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['age', 'bili', 'albumin', 'sex', 'edema'], filter: [] },
  { kind: 'poisson_regression', target: 'copper', offset: 'time', columns: ['age', 'sex', 'bili'], filter: [] },
];

/** A DP model of the demo: few coefficients, so that ρ = 2 over 4 rounds gives a useful fit on ~330 rows. */
const DP_MODEL: Query = { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['bili', 'albumin'], filter: [] };
const DP_MODEL_RHO = 2;

function indent(text: string): string {
  return text.split('\n').map((l) => `    ${l}`).join('\n');
}

/** Runs the models; `csvOf(contributors)` gives the CSV of those parties' rows. Returns the number of failures. */
export async function modelsDemo(
  client: AnalystClient, schema: Schema, backends: string[], ckksKey: AnalystCkksKey | undefined, csvOf: (contributors: string[]) => string,
): Promise<number> {
  let failures = 0;
  process.stdout.write('Models fitted in rounds (each round a signed query at the state the previous round released; docs/models.md)\n\n');
  for (const backend of backends) {
    for (const q of PBC_MODELS) {
      process.stdout.write(`[model] ${describeQuery(q)}  — backend ${backend}\n`);
      let job: JobOutcome;
      try {
        job = await runModelJob(client, q, { backend, ...(backend === 'ckks' && ckksKey ? { ckksKey } : {}) });
      } catch (e) {
        failures++;
        process.stdout.write(`    FAILED: ${(e as Error).message}\n\n`);
        continue;
      }
      const central = centralResult(q, schema, buildDataset(schema, csvOf(job.last.contributors)).dataset);
      const { maxRelDiff } = compareResults(job.result as QueryResult, central);
      process.stdout.write(indent(formatResult(job.result as QueryResult)) + '\n');
      const secs = job.rounds.reduce((a, o) => a + o.elapsedMs, 0) / 1000;
      const ok = maxRelDiff <= 1e-6 && job.result!.converged === true;
      if (!ok) failures++;
      process.stdout.write(`    ${ok ? 'OK' : 'MISMATCH'}: ${job.rounds.length} rounds in ${secs.toFixed(1)} s (${(secs / job.rounds.length).toFixed(2)} s per round); largest relative difference from the central fit ${maxRelDiff.toExponential(2)}\n\n`);
    }
  }
  process.stdout.write(`[model, DP] ${describeQuery(DP_MODEL)}: rho = ${DP_MODEL_RHO} for the whole job, split over its 4 rounds\n`);
  try {
    const job = await runModelJob(client, DP_MODEL, { privacy: { rho: DP_MODEL_RHO } });
    const fit = numericFields(job.result as QueryResult);
    const central = numericFields(centralResult(DP_MODEL, schema, buildDataset(schema, csvOf(job.last.contributors)).dataset));
    process.stdout.write(`    ${'coefficient'.padEnd(26)} ${'DP fit'.padStart(12)} ${'± noise sd'.padStart(12)} ${'exact fit'.padStart(12)}\n`);
    for (const [j, [name, x]] of fit.entries()) {
      if (!name.startsWith('coefficients[')) continue;
      const sd = job.coefficientNoise[name];
      process.stdout.write(`    ${name.padEnd(26)} ${(x ?? NaN).toPrecision(5).padStart(12)} ${(sd === null || sd === undefined ? '?' : sd.toPrecision(3)).padStart(12)} ${(central[j]![1] ?? NaN).toPrecision(5).padStart(12)}\n`);
    }
    process.stdout.write(`    ${job.rounds.length} rounds, total rho charged ${job.rhoCharged.toPrecision(4)}; the last round's ${formatPrivacy(job.last).split('\n')[0]!.replace('differential privacy: ', '')}\n\n`);
  } catch (e) {
    failures++;
    process.stdout.write(`    FAILED: ${(e as Error).message}\n\n`);
  }
  return failures;
}
