/**
 * The demo's synthetic-data step: fit the DP synthesizer across the demo federation at ε = 1
 * (δ = 1e-6), sample it, and evaluate it against the rows held out of the federation, beside two
 * baselines computed the same way (independent noisy marginals at the same ε, and the same
 * synthesizer fitted centrally without noise). Writes the model, the synthetic CSV and the report
 * (JSON and HTML, with its verdict) into the demo's working directory (docs/synth.md). Then the
 * analyst's own view, without real rows: federated fidelity figures of the DP synthesizer's sample
 * against one charged, noised marginal query (synth-fidelity.json).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AnalystClient } from '../client/analyst.ts';
import { federatedMeasure } from '../client/synth-measure.ts';
import { rhoFromEpsilonDelta } from '../crypto/dp/accountant.ts';
import { buildDataset, type Schema } from '../stats/index.ts';
import { renderHtml } from '../stats/eval/html.ts';
import { federatedFidelity, fidelityLines } from '../stats/eval/federated-fidelity.ts';
import { evaluate, headline, type SyntheticInput } from '../stats/eval/report.ts';
import { signModel } from '../stats/synth/artifact.ts';
import { centralMeasure } from '../stats/synth/marginals.ts';
import { fitSynthesizer, type SynthModel } from '../stats/synth/model.ts';
import { sampleCsv } from '../stats/synth/sample.ts';
import { fitterIdentity, modelInfo } from './commands/synth-files.ts';

export const SYNTH_EPSILON = 1;
export const SYNTH_DELTA = 1e-6;
/** Synthetic rows per training row (sampling costs no budget; larger samples measure the model, not sampling noise). */
const ROWS_PER_TRAINING_ROW = 5;
/** zCDP ρ of the analyst's federated fidelity query (one- and two-way tables against noisy marginals). */
export const FIDELITY_RHO = 0.5;

/** Outcome of the report's classifier for the shipped examples; other data: none. */
export function outcomeFor(schema: Schema): { column: string; positive: string; exclude?: string[] } | undefined {
  if (schema.name === 'pbc') return { column: 'status', positive: '2' };
  if (schema.name === 'flchain') return { column: 'death', positive: '1', exclude: ['chapter'] };
  if (schema.name === 'rotterdam' || schema.name === 'mgus2') return { column: 'death', positive: '1' };
  return undefined;
}

/** Returns the number of failures (0 or 1). */
export async function synthDemo(client: AnalystClient, schema: Schema, trainCsv: string, holdoutCsv: string, dir: string): Promise<number> {
  const t0 = performance.now();
  const rho = rhoFromEpsilonDelta(SYNTH_EPSILON, SYNTH_DELTA);
  process.stdout.write(`Synthetic data: the synthesizer (2-tree graphical model) fitted across the federation at ε = ${SYNTH_EPSILON} (δ = ${SYNTH_DELTA.toExponential(0)}, rho = ${rho.toPrecision(3)}), charged to analyst "${client.analyst}"\n`);
  const log = (m: string): void => void process.stdout.write(`    ${m}\n`);
  try {
    const target = outcomeFor(schema)?.column;
    const mst = await fitSynthesizer(schema, federatedMeasure(client), { rho, delta: SYNTH_DELTA, log, ...(target ? { target } : {}) });
    process.stdout.write('  baseline: independent noisy marginals at the same ε, across the federation\n');
    const independent = await fitSynthesizer(schema, federatedMeasure(client), { rho, delta: SYNTH_DELTA, method: 'independent' });
    process.stdout.write('  baseline: the same synthesizer fitted centrally on the pooled training rows, without noise\n');
    const train = buildDataset(schema, trainCsv).dataset;
    const holdout = buildDataset(schema, holdoutCsv).dataset;
    const exact = await fitSynthesizer(schema, centralMeasure(schema, train), target ? { target } : {});
    const signer = fitterIdentity(join(dir, 'fitter.key'), 'demo');
    const rows = ROWS_PER_TRAINING_ROW * train.rowCount;
    const big = { ...schema, maxRowsPerParty: Math.max(schema.maxRowsPerParty, rows) };
    const inputs: SyntheticInput[] = [];
    const save = (name: string, label: string, m: SynthModel): void => {
      writeFileSync(join(dir, `synth-${name}.model.json`), JSON.stringify(signModel(m, signer), null, 1) + '\n');
      const csv = sampleCsv(m, schema, rows, `demo-${name}`);
      writeFileSync(join(dir, `synth-${name}.csv`), csv);
      inputs.push({ name, label, data: buildDataset(big, csv).dataset, info: modelInfo(m) });
    };
    // on small data the synthesizer falls back to one-ways (docs/synth.md): say which model this is
    const pairs = mst.parents.some((p) => p.length > 0);
    save('mst', `${pairs ? `2-tree${target ? ` (target ${target})` : ''}` : 'one-way marginals (too few rows for two-way tables at this ε)'}, federated, ε = ${SYNTH_EPSILON}`, mst);
    save('independent', `independent marginals, federated, ε = ${SYNTH_EPSILON}`, independent);
    save('central-exact', 'same synthesizer, central, no noise', exact);
    const outcome = outcomeFor(schema);
    const report = evaluate(schema, train, holdout, inputs, {
      ...(outcome ? { outcome } : {}),
      where: 'Computed by the demo, which holds the pooled rows of its simulated parties; in a deployment the report is computed where rows are (at a party site, blindsum synth evaluate) and the analyst gets the federated fidelity figures (blindsum synth fidelity).',
    });
    writeFileSync(join(dir, 'synth-report.json'), JSON.stringify(report, null, 1) + '\n');
    writeFileSync(join(dir, 'synth-report.html'), renderHtml(report));
    const b = mst.budget;
    process.stdout.write(`  model: ${mst.columns.length} columns, junction tree of ${mst.fit.cliques.length} cliques; budget rho = ${b.rho.toPrecision(4)} (ε = ${b.epsilon!.toPrecision(3)} at δ = ${b.delta.toExponential(0)}) over ${b.queries.length} federated queries; signed by "${signer.id}"\n`);
    process.stdout.write(`  sampled ${rows} rows per model (seeded, no privacy cost); evaluated against ${train.rowCount} training rows and ${holdout.rowCount} held-out rows${outcome ? ` (classifier outcome ${outcome.column} = ${outcome.positive})` : ''}:\n`);
    for (const m of report.methods) process.stdout.write(`    ${headline(m)}\n`);
    process.stdout.write(`  verdict against the default thresholds (docs/synth.md): ${report.methods.map((m) => `${m.name} ${m.verdict.overall.toUpperCase()}`).join(', ')}\n`);
    process.stdout.write(`  wrote ${join(dir, 'synth-report.html')} (and .json, models, synthetic CSVs)\n`);
    // the analyst has no real rows: fidelity against one charged, noised federated marginal query
    const fidelity = await federatedFidelity(schema, federatedMeasure(client), [{ name: 'mst', data: inputs[0]!.data }], { rho: FIDELITY_RHO });
    writeFileSync(join(dir, 'synth-fidelity.json'), JSON.stringify(fidelity, null, 1) + '\n');
    for (const l of fidelityLines(fidelity)) process.stdout.write(`  ${l}\n`);
    process.stdout.write(`  wrote ${join(dir, 'synth-fidelity.json')}; synthetic-data step took ${((performance.now() - t0) / 1000).toFixed(1)} s\n\n`);
    return 0;
  } catch (e) {
    process.stdout.write(`  FAILED: ${(e as Error).message}\n\n`);
    return 1;
  }
}
