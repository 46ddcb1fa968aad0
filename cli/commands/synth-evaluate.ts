/**
 * blindsum synth split | evaluate | fidelity (docs/synth.md § The evaluation report):
 *   - split: a party's operator splits the site's own CSV into the rows it serves to the
 *     federation and the rows it holds out (seeded; `evaluate --holdout-fraction` re-derives it);
 *   - evaluate: the report, run where real rows are — at a party site by its operator, against
 *     the site's own rows (the report leaves the site only if the operator sends it), or by a
 *     data holder with the pooled data; no aggregator is involved;
 *   - fidelity: the analyst's figures without real rows: one- and two-way TVDs between synthetic
 *     data and one charged, noised federated marginal query (labelled as such).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { federatedMeasure } from '../../client/synth-measure.ts';
import { loadSchemaFile } from '../../services/common/schema-file.ts';
import { buildDataset, privacyRho, type Dataset, type Schema } from '../../stats/index.ts';
import { federatedFidelity, fidelityLines } from '../../stats/eval/federated-fidelity.ts';
import { holdoutSplit } from '../../stats/eval/holdout.ts';
import { renderHtml } from '../../stats/eval/html.ts';
import { evaluate, headline, type SyntheticInput } from '../../stats/eval/report.ts';
import { parseThresholds } from '../../stats/eval/verdict.ts';
import { sampleCsv } from '../../stats/synth/sample.ts';
import { analystClient, int, str, UsageError } from '../args.ts';
import { parseWhere } from '../where.ts';
import { loadData, loadModel, modelInfo, pair } from './synth-files.ts';

function dataOf(schema: Schema, text: string, what: string): Dataset {
  const { dataset, report } = buildDataset({ ...schema, maxRowsPerParty: Math.max(schema.maxRowsPerParty, text.split('\n').length) }, text);
  if (report.rejected.length > 0) process.stderr.write(`  ${what}: ${report.rejected.length} invalid row(s) skipped (first: line ${report.rejected[0]!.line}: ${report.rejected[0]!.reason})\n`);
  return dataset;
}

/** A synthetic CSV loaded with the schema, and how many of its rows the schema refused (e.g. values outside its bounds). */
function loadCounted(schema: Schema, path: string): { dataset: Dataset; rejected: number } {
  const text = readFileSync(path, 'utf8');
  const { dataset, report } = buildDataset({ ...schema, maxRowsPerParty: Math.max(schema.maxRowsPerParty, text.split('\n').length) }, text);
  if (report.rejected.length > 0) process.stderr.write(`  ${path}: ${report.rejected.length} invalid row(s) skipped and counted in the report (first: line ${report.rejected[0]!.line}: ${report.rejected[0]!.reason})\n`);
  return { dataset, rejected: report.rejected.length };
}

function fraction(v: unknown): number {
  const f = Number(v);
  if (!(f > 0 && f < 1)) throw new UsageError(`--holdout-fraction: expected a number in (0, 1), got ${JSON.stringify(v)}`);
  return f;
}

export async function splitCmd(v: Record<string, unknown>): Promise<number> {
  const data = str(v['data'], 'data', true);
  const f = fraction(v['holdout-fraction'] ?? '0.2');
  const seed = str(v['holdout-seed'], 'holdout-seed', true);
  const prefix = str(v['out'], 'out') ?? data.replace(/\.csv$/i, '');
  const { train, holdout } = holdoutSplit(readFileSync(data, 'utf8'), f, seed);
  writeFileSync(`${prefix}-train.csv`, train);
  writeFileSync(`${prefix}-holdout.csv`, holdout);
  process.stdout.write(`wrote ${prefix}-train.csv (serve these rows to the federation) and ${prefix}-holdout.csv (keep them at the site); the same --holdout-fraction ${f} --holdout-seed ${JSON.stringify(seed)} re-derives the split\n`);
  return 0;
}

export async function evaluateCmd(v: Record<string, unknown>): Promise<number> {
  const schema = loadSchemaFile(str(v['schema'], 'schema', true));
  const realPath = str(v['real'], 'real', true);
  const holdoutPath = str(v['holdout'], 'holdout');
  let train: Dataset;
  let holdout: Dataset;
  let split = '';
  if (holdoutPath !== undefined) {
    if (v['holdout-fraction'] !== undefined) throw new UsageError('give either --holdout FILE or --holdout-fraction F (which splits --real), not both');
    train = loadData(schema, realPath);
    holdout = loadData(schema, holdoutPath);
  } else {
    if (v['holdout-fraction'] === undefined) throw new UsageError('give --holdout FILE (real rows the synthesizer never saw) or --holdout-fraction F --holdout-seed S (the split of --real made by `blindsum synth split` before the site served its rows)');
    const f = fraction(v['holdout-fraction']);
    const seed = str(v['holdout-seed'], 'holdout-seed', true);
    const parts = holdoutSplit(readFileSync(realPath, 'utf8'), f, seed);
    train = dataOf(schema, parts.train, `${realPath} (training part)`);
    holdout = dataOf(schema, parts.holdout, `${realPath} (held-out part)`);
    split = ` Training and holdout rows are the seeded split of ${realPath} (fraction ${f}, seed ${JSON.stringify(seed)}); the holdout is only unseen if the site served just the training part.`;
  }
  const models = new Map(((v['model'] as string[] | undefined) ?? []).map((s) => pair(s, 'model')));
  const synth = (v['synthetic'] as string[] | undefined) ?? [];
  if (synth.length === 0) throw new UsageError('give at least one --synthetic NAME=FILE.csv (repeat a NAME for repeated fits of one synthesizer)');
  const groups = new Map<string, string[]>();
  for (const s of synth) {
    const [name, path] = pair(s, 'synthetic');
    groups.set(name, [...(groups.get(name) ?? []), path]);
  }
  const repeats = v['repeats'] === undefined ? undefined : int(v['repeats'], 'repeats', 1, 1, 1000);
  if (repeats !== undefined) {
    for (const [name, paths] of groups) if (paths.length !== repeats) throw new UsageError(`--repeats ${repeats}: "${name}" has ${paths.length} --synthetic file(s); give ${repeats} (one per fit or sample)`);
  }
  const inputs: SyntheticInput[] = [...groups].map(([name, paths]) => {
    const loaded = paths.map((p) => loadCounted(schema, p));
    const [first, ...rest] = loaded.map((l) => l.dataset);
    const input: SyntheticInput = {
      name, label: paths.length > 1 ? `${name} (${paths.length} fits)` : name, data: first!, ...(rest.length ? { replicates: rest } : {}),
      rejectedRows: loaded[0]!.rejected,
    };
    const modelPath = models.get(name);
    if (modelPath) input.info = modelInfo(loadModel(modelPath, schema, v['trust-key'] as string[] | undefined));
    return input;
  });
  const outcomeFlag = str(v['outcome'], 'outcome');
  const outcome = outcomeFlag === undefined ? undefined : (() => {
    const [column, positive] = pair(outcomeFlag, 'outcome');
    return { column, positive, exclude: (v['exclude'] as string[] | undefined) ?? [] };
  })();
  const thresholdsPath = str(v['thresholds'], 'thresholds');
  let thresholds;
  try {
    thresholds = parseThresholds(thresholdsPath === undefined ? undefined : JSON.parse(readFileSync(thresholdsPath, 'utf8')));
  } catch (e) {
    throw new UsageError(`--thresholds ${thresholdsPath}: ${(e as Error).message}`);
  }
  const site = str(v['site'], 'site');
  const where = (site !== undefined ? `Evaluated at party site "${site}" by its operator against the site's own rows; no aggregator was involved and this report leaves the site only if the operator sends it.` : '') + split;
  const report = evaluate(schema, train, holdout, inputs, {
    ...(outcome ? { outcome } : {}), thresholds, ...(where ? { where: where.trim() } : {}),
    bootstrap: int(v['bootstrap'], 'bootstrap', 500, 50, 10_000),
  });
  const prefix = str(v['out'], 'out') ?? 'synth-report';
  writeFileSync(`${prefix}.json`, JSON.stringify(report, null, 1) + '\n');
  writeFileSync(`${prefix}.html`, renderHtml(report));
  for (const m of report.methods) process.stdout.write(headline(m) + '\n');
  process.stdout.write(`wrote ${prefix}.json and ${prefix}.html\n`);
  return 0;
}

export async function fidelityCmd(v: Record<string, unknown>): Promise<number> {
  const schema = loadSchemaFile(str(v['schema'], 'schema', true));
  const epsilon = v['epsilon'] === undefined ? undefined : Number(v['epsilon']);
  const rhoFlag = v['rho'] === undefined ? undefined : Number(v['rho']);
  for (const [x, n] of [[epsilon, 'epsilon'], [rhoFlag, 'rho']] as const) if (x !== undefined && !(Number.isFinite(x) && x > 0)) throw new UsageError(`--${n}: expected a positive number`);
  const exact = v['exact'] === true;
  if (exact === (epsilon !== undefined || rhoFlag !== undefined)) throw new UsageError('give the budget of the fidelity query: --rho R or --epsilon E [--delta D] (or --exact where the federation allows exact queries)');
  const delta = v['delta'] === undefined ? 1e-6 : Number(v['delta']);
  const rho = exact ? undefined : privacyRho(rhoFlag !== undefined ? { rho: rhoFlag } : { epsilon: epsilon!, delta });
  const synthetic: { name: string; data: Dataset }[] = ((v['synthetic'] as string[] | undefined) ?? []).map((s) => {
    const [name, path] = pair(s, 'synthetic');
    return { name, data: loadData(schema, path) };
  });
  const rows = int(v['rows'], 'rows', 1000, 1, 10_000_000);
  for (const s of (v['model'] as string[] | undefined) ?? []) {
    const [name, path] = pair(s, 'model');
    const m = loadModel(path, schema, v['trust-key'] as string[] | undefined);
    synthetic.push({ name, data: dataOf(schema, sampleCsv(m, schema, rows, str(v['seed'], 'seed') ?? 'blindsum'), name) });
  }
  if (synthetic.length === 0) throw new UsageError('give --synthetic NAME=FILE.csv or --model NAME=model.json (sampled with --rows)');
  const ways = int(v['ways'], 'ways', 2, 1, 2) as 1 | 2;
  const backend = str(v['backend'], 'backend') ?? 'secagg';
  const keyPath = str(v['ckks-key'], 'ckks-key');
  if (backend === 'ckks' && keyPath === undefined) throw new UsageError('--backend ckks needs --ckks-key FILE: the analyst\'s CKKS key pair (create one with: blindsum analyst ckks-keygen --out FILE)');
  const ckksKey = keyPath === undefined ? undefined : (await import('../../client/ckks-analyst.ts')).loadAnalystKeyFile(keyPath);
  const client = analystClient(v);
  try {
    const measure = federatedMeasure(client, { backend, ...(ckksKey ? { ckksKey } : {}), deadlineMs: int(v['timeout-ms'], 'timeout-ms', 600_000, 1000, 86_400_000) });
    const f = await federatedFidelity(schema, measure, synthetic, {
      ...(rho !== undefined ? { rho } : {}), ways, bins: int(v['bins'], 'bins', 10, 2, 100), filter: ((v['where'] as string[] | undefined) ?? []).map(parseWhere),
    });
    const out = str(v['out'], 'out') ?? 'synth-fidelity';
    writeFileSync(`${out}.json`, JSON.stringify(f, null, 1) + '\n');
    for (const l of fidelityLines(f)) process.stdout.write(l + '\n');
    process.stdout.write(`wrote ${out}.json\n`);
    return 0;
  } finally {
    client.close();
  }
}
