/**
 * Synthetic-data experiments of docs/synth.md: each dataset with 20% of the rows held out and the
 * rest split across a real 3-party LocalFederation (aggregator and party processes, secure
 * aggregation over gRPC, distributed Skellam noise). At each ε (δ = 1e-6) the synthesizer
 * (2-tree; and with the outcome as target), and the independent-marginals baseline are fitted
 * across the federation `reps` times each; the same synthesizer fitted centrally without noise is
 * the other baseline. Every model samples 5 × the training rows; every synthetic dataset is
 * evaluated the same way, plus the structural checks of stats/eval/structure.ts (constraint
 * violations, point-mass and missing-rate errors, share outside the real range).
 *
 *   ./node_modules/.bin/node bench/synth.ts [--reps 3] [--out DIR] [--eps 1,4] [--threshold 2] [--aim]
 *       (--preset pbc,flchain,rotterdam,mgus2 | --data FILE --schema FILE --target COL --positive VALUE [--exclude COL,…])
 *
 * Without --preset or --data it runs the presets pbc and flchain. `--aim` adds the adaptive
 * synthesizer (method 'aim': the rule of stats/synth/adaptive.ts) as a further variant. `--threshold t` is the roster's
 * threshold: each party adds the noise share that makes any t contributions carry the full
 * noise, so with all 3 parties contributing the released noise variance is 3/t times what the
 * budget needs (t = 3: exactly the central noise, but a query then fails if any party drops out).
 *
 * Prints a Markdown table (mean over the repetitions, [min, max]) and writes each report.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFederation } from '../cli/federation.ts';
import { federatedMeasure } from '../client/synth-measure.ts';
import { rhoFromEpsilonDelta } from '../crypto/dp/accountant.ts';
import { buildDataset, splitCsvText } from '../stats/index.ts';
import { holdoutSplit } from '../stats/eval/holdout.ts';
import { renderHtml } from '../stats/eval/html.ts';
import { evaluate, type MethodReport, type SyntheticInput } from '../stats/eval/report.ts';
import { structureChecks, type StructureReport } from '../stats/eval/structure.ts';
import { centralMeasure } from '../stats/synth/marginals.ts';
import { fitSynthesizer, type SynthModel } from '../stats/synth/model.ts';
import { DATA_OPTIONS, parseBenchArgs, sampledDataset } from './synth-common.ts';

const OPTIONS = { reps: { type: 'string' }, out: { type: 'string' }, threshold: { type: 'string' }, eps: { type: 'string' }, aim: { type: 'boolean' }, ...DATA_OPTIONS } as const;
const { values, datasets: DATASETS } = parseBenchArgs('bench/synth.ts', OPTIONS);
const REPS = Number(values.reps ?? 3);
const OUT = values.out ?? mkdtempSync(join(tmpdir(), 'blindsum-synth-bench-'));
const EPSILONS = (values.eps ?? '1,4').split(',').map(Number);
if (EPSILONS.some((e) => !(e > 0 && Number.isFinite(e)))) throw new RangeError(`--eps: expected positive numbers separated by commas, got ${values.eps}`);
if (!(Number.isInteger(REPS) && REPS >= 1)) throw new RangeError(`--reps: expected a positive integer, got ${values.reps}`);
const THRESHOLD = Number(values.threshold ?? 2);
if (!(Number.isInteger(THRESHOLD) && THRESHOLD >= 2 && THRESHOLD <= 3)) throw new RangeError(`--threshold: expected 2 or 3 (3 parties), got ${values.threshold}`);
const DELTA = 1e-6;
mkdirSync(OUT, { recursive: true });

interface Row { dataset: string; method: string; epsilon: number | null; reports: MethodReport[]; structure: StructureReport[]; seconds: number[] }

const table: Row[] = [];
for (const { name, schema, schemaPath, csv, outcome } of DATASETS) {
  const { train, holdout } = holdoutSplit(csv, 0.2, 'bench');
  const trainData = buildDataset(schema, train).dataset;
  const holdoutData = buildDataset(schema, holdout).dataset;
  const rows = 5 * trainData.rowCount;
  const dir = join(OUT, name);
  rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`${name}: ${trainData.rowCount} training rows across 3 parties (threshold ${THRESHOLD}), ${holdoutData.rowCount} held out; ${rows} synthetic rows per model\n`);
  const fed = await LocalFederation.start({ dir, schemaPath, partyData: splitCsvText(train, 3, 'bench'), threshold: THRESHOLD, budgetRho: 100, partyPolicy: { 0: { budgetRho: 100 }, 1: { budgetRho: 100 }, 2: { budgetRho: 100 } } });
  const client = fed.client();
  try {
    const inputs: SyntheticInput[] = [];
    const rowsOf = new Map<string, Row>();
    const add = (method: string, epsilon: number | null, m: SynthModel, rep: number, seconds: number): void => {
      const key = `${method}|${epsilon}`;
      if (!rowsOf.has(key)) rowsOf.set(key, { dataset: name, method, epsilon, reports: [], structure: [], seconds: [] });
      rowsOf.get(key)!.seconds.push(seconds);
      const data = sampledDataset(schema, m, rows, `bench-${key}-${rep}`);
      const st = structureChecks(schema, trainData, data);
      rowsOf.get(key)!.structure.push(st);
      const worst = <T extends { column: string; real: number; synthetic: number; error: number }>(xs: T[]): string => {
        const w = xs.reduce<T | undefined>((a, x) => (a === undefined || x.error > a.error ? x : a), undefined);
        return w ? `${w.column} ${(100 * w.real).toFixed(1)} % → ${(100 * w.synthetic).toFixed(1)} %` : '—';
      };
      process.stderr.write(`    ${key} #${rep + 1}: point mass ${worst(st.pointMasses)}; missing ${worst(st.missingRates)}; outside range ${st.ranges.reduce((a, r) => (r.outside > a.outside ? r : a), { column: '—', outside: 0 }).column} ${(100 * st.maxOutsideRange).toFixed(1)} %; ties ${st.tieShares.map((t) => `${t.column} real ${(100 * t.real).toFixed(1)} % synthetic ${(100 * t.synthetic).toFixed(1)} %`).join(', ') || '—'}\n`);
      inputs.push({ name: `${key}|${rep}`, label: `${method}${epsilon === null ? '' : ` ε=${epsilon}`} #${rep + 1}`, data, info: { method, epsilon, rho: m.budget.rho, delta: DELTA, exact: m.budget.exact } });
    };
    let t = performance.now();
    add('central, no noise', null, await fitSynthesizer(schema, centralMeasure(schema, trainData), {}), 0, (performance.now() - t) / 1000);
    if (values.aim) {
      t = performance.now();
      add('aim, central, no noise', null, await fitSynthesizer(schema, centralMeasure(schema, trainData), { method: 'aim' }), 0, (performance.now() - t) / 1000);
    }
    for (const epsilon of EPSILONS) {
      const rho = rhoFromEpsilonDelta(epsilon, DELTA);
      for (let rep = 0; rep < REPS; rep++) {
        for (const variant of [...(values.aim ? ['aim'] as const : []), '2-tree', '2-tree + target', 'independent'] as const) {
          t = performance.now();
          const method = variant === 'independent' ? 'independent' : variant === 'aim' ? 'aim' : 'mst';
          const m = await fitSynthesizer(schema, federatedMeasure(client), { rho, delta: DELTA, method, ...(variant === '2-tree + target' ? { target: outcome.column } : {}) });
          add(`${variant === '2-tree + target' ? `2-tree, target ${outcome.column}` : variant} (federated)`, epsilon, m, rep, (performance.now() - t) / 1000);
          process.stderr.write(`  ${name} ε=${epsilon} ${variant} #${rep + 1}: ${((performance.now() - t) / 1000).toFixed(1)} s, rho ${m.budget.rho.toPrecision(4)}\n`);
        }
      }
    }
    const report = evaluate(schema, trainData, holdoutData, inputs, { outcome });
    writeFileSync(join(OUT, `${name}-report.json`), JSON.stringify(report, null, 1) + '\n');
    writeFileSync(join(OUT, `${name}-report.html`), renderHtml(report));
    for (const m of report.methods) rowsOf.get(m.name.split('|').slice(0, 2).join('|'))!.reports.push(m);
    table.push(...rowsOf.values());
    const budget = await client.getBudget();
    process.stderr.write(`  ${name}: analyst budget spent rho = ${budget.spentRho.toPrecision(4)} over ${budget.entries.filter((e) => e.kind === 'charge').length} queries\n`);
  } finally {
    client.close();
    await fed.stop();
  }
}

const stat = (xs: number[], d = 3): string => {
  const ok = xs.filter((x) => Number.isFinite(x));
  if (ok.length === 0) return '—';
  const mean = ok.reduce((a, b) => a + b, 0) / ok.length;
  return ok.length === 1 ? mean.toFixed(d) : `${mean.toFixed(d)} [${Math.min(...ok).toFixed(d)}, ${Math.max(...ok).toFixed(d)}]`;
};
const lines = [
  '| data | synthesizer | ε | 2-way TVD | 3-way TVD | column TVD | KS | \\|Δ corr\\| | TSTR AUC (TRTR) | DCR closer-to-train share | MIA AUC | exact copies: training sample / holdout | constraint violations | tie-share error | point-mass error | missing-rate error | outside real range | fit s |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
];
const order = (r: Row): number => (r.epsilon ?? 99) * 10 + (r.method.startsWith('aim') ? -1 : r.method.startsWith('2-tree (') ? 0 : r.method.startsWith('2-tree,') ? 1 : r.method.startsWith('ind') ? 2 : 3);
for (const r of [...table].sort((a, b) => a.dataset.localeCompare(b.dataset) || order(a) - order(b))) {
  const g = (f: (m: MethodReport) => number | null | undefined): number[] => r.reports.map((m) => f(m) ?? NaN);
  const trtr = r.reports[0]?.utility?.trtrAuc;
  const st = (f: (x: StructureReport) => number): number[] => r.structure.map(f);
  const checks = r.structure[0]?.constraints.length ? stat(st((x) => x.constraintViolations), 0) : '—';
  const ties = r.structure[0]?.constraints.length ? stat(st((x) => x.maxTieShareError)) : '—';
  const mean = (xs: number[]): string => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(4);
  const copies = `${mean(g((m) => m.privacy.exactCopiesTrainSample))} / ${mean(g((m) => m.privacy.exactCopiesHoldout))}`;
  lines.push(`| ${r.dataset} | ${r.method} | ${r.epsilon ?? '∞ (no noise)'} | ${stat(g((m) => m.fidelity.pairTvdMean))} | ${stat(g((m) => m.fidelity.tripleTvdMean))} | ${stat(g((m) => m.fidelity.meanColumnTvd))} | ${stat(g((m) => m.fidelity.meanKs))} | ${stat(g((m) => m.fidelity.correlation.meanAbsDiff))} | ${stat(g((m) => m.utility?.tstrAuc))} (${trtr?.toFixed(3) ?? '—'}) | ${stat(g((m) => m.privacy.closerToTrainShare), 2)} | ${stat(g((m) => m.privacy.membershipInferenceAuc))} | ${copies} | ${checks} | ${ties} | ${stat(st((x) => x.maxPointMassError))} | ${stat(st((x) => x.maxMissingRateError))} | ${stat(st((x) => x.maxOutsideRange))} | ${stat(r.seconds, 1)} |`);
}
process.stdout.write(lines.join('\n') + `\n\n${REPS} repetition(s) per ε, 3 parties, threshold ${THRESHOLD}; exact copies: share of synthetic rows equal to a row of a holdout-sized sample of the training rows / of the holdout (the chance baseline), means; tie-share error: the largest |real − synthetic| share of rows with left = right over the schema's constraints; point-mass and missing-rate errors: the largest over the columns (absolute, as shares); outside real range: the largest share of a numeric column's synthetic values outside the training data's [min, max]; reports in ${OUT}\n`);
