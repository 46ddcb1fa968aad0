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
import { renderKmHtml, type KmPanel } from '../stats/eval/km-html.ts';
import type { KaplanMeierResult } from '../stats/kinds/types.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PBC_MODELS: Query[] = [
  { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['age', 'bili', 'albumin', 'sex', 'edema'], filter: [] },
  { kind: 'poisson_regression', target: 'copper', offset: 'time', columns: ['age', 'sex', 'bili'], filter: [] },
  { kind: 'cox', time: 'time', event: 'status', positive: ['2'], columns: ['age', 'bili', 'albumin', 'edema'], filter: [] },
];

/** A DP model of the demo: few coefficients, so that ρ = 2 over 4 rounds gives a useful fit on ~330 rows. */
const DP_MODEL: Query = { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['bili', 'albumin'], filter: [] };
const DP_MODEL_RHO = 2;

/** The survival curves of the demo: Kaplan–Meier by treatment arm, with its log-rank test. */
export const PBC_KM: Query = { kind: 'kaplan_meier', columns: [], time: 'time', event: 'status', positive: ['2'], strata: 'sex', times: [1000, 2000, 3000], bins: Array.from({ length: 51 }, (_, i) => i * 200), filter: [] };
const DP_KM_RHO = 1;

async function survivalDemo(
  client: AnalystClient, schema: Schema, backends: string[], ckksKey: AnalystCkksKey | undefined, csvOf: (contributors: string[]) => string, dir: string,
): Promise<number> {
  let failures = 0;
  const panels: KmPanel[] = [];
  let exact: KaplanMeierResult | undefined;
  for (const backend of backends) {
    process.stdout.write(`[survival] ${describeQuery(PBC_KM)}  — backend ${backend}\n`);
    const o = await client.run(PBC_KM, { backend, ...(backend === 'ckks' && ckksKey ? { ckksKey } : {}) });
    if (o.status !== 'done' || !o.result) {
      failures++;
      process.stdout.write(`    FAILED: ${o.error}\n\n`);
      continue;
    }
    const central = centralResult(PBC_KM, schema, buildDataset(schema, csvOf(o.contributors)).dataset);
    const { maxRelDiff } = compareResults(o.result, central);
    // R's print(survfit) table and the log-rank test (the per-time tables are in the HTML report).
    const text = formatResult(o.result).split('\n');
    const lr = text.findIndex((l) => /log-rank|Chisq|Observed/i.test(l));
    process.stdout.write(indent([...text.slice(0, text.indexOf('')), ...(lr >= 0 ? ['', ...text.slice(lr)] : [])].join('\n')) + '\n');
    const ok = maxRelDiff <= 1e-9;
    if (!ok) failures++;
    process.stdout.write(`    ${ok ? 'OK' : 'MISMATCH'}: largest relative difference from the central computation ${maxRelDiff.toExponential(2)}; ${o.contributors.length} parties, ${o.elapsedMs.toFixed(0)} ms\n\n`);
    exact = o.result as KaplanMeierResult;
    panels.push({ title: `Kaplan–Meier by sex, exact (${backend})`, result: exact, reference: central as KaplanMeierResult, referenceLabel: 'central computation' });
  }
  process.stdout.write(`[survival, DP] the same curves with rho = ${DP_KM_RHO}\n`);
  const o = await client.run(PBC_KM, { privacy: { rho: DP_KM_RHO } });
  if (o.status === 'done' && o.result) {
    const km = o.result as KaplanMeierResult;
    for (const c of km.curves) {
      const e = exact?.curves.find((x) => x.stratum === c.stratum);
      process.stdout.write(`    ${String(c.stratum).padEnd(4)} median ${c.median ?? 'not reached'} (95% CI ${c.medianLower ?? '—'}–${c.medianUpper ?? '—'}); exact median ${e?.median ?? '—'}\n`);
    }
    if (km.logRank) process.stdout.write(`    log-rank chi2 = ${km.logRank.chisq?.toFixed(2) ?? '—'} on ${km.logRank.df} df, p = ${km.logRank.p?.toPrecision(3) ?? '—'} (exact: chi2 = ${exact?.logRank?.chisq?.toFixed(2) ?? '—'})\n`);
    process.stdout.write(`    ${formatPrivacy(o).split('\n')[0]}\n\n`);
    panels.push({ title: `Kaplan–Meier by sex, DP (rho = ${DP_KM_RHO})`, result: km, ...(exact ? { reference: exact, referenceLabel: 'exact release' } : {}) });
  } else {
    failures++;
    process.stdout.write(`    FAILED: ${o.error}\n\n`);
  }
  const path = join(dir, 'survival-report.html');
  writeFileSync(path, renderKmHtml('blindsum demo: survival curves (pbc)', panels));
  process.stdout.write(`  wrote ${path}\n\n`);
  return failures;
}

function indent(text: string): string {
  return text.split('\n').map((l) => `    ${l}`).join('\n');
}

/** Runs the models; `csvOf(contributors)` gives the CSV of those parties' rows. Returns the number of failures. */
export async function modelsDemo(
  client: AnalystClient, schema: Schema, backends: string[], ckksKey: AnalystCkksKey | undefined, csvOf: (contributors: string[]) => string, dir: string,
): Promise<number> {
  let failures = 0;
  failures += await survivalDemo(client, schema, backends, ckksKey, csvOf, dir);
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
