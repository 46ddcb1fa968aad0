/**
 * blindsum synth fit | sample | evaluate — differentially private synthetic data (docs/synth.md).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AnalystClient } from '../../client/analyst.ts';
import { federatedMeasure } from '../../client/synth-measure.ts';
import { cryptoRandomSource } from '../../crypto/dp/random.ts';
import { loadSchemaFile } from '../../services/common/schema-file.ts';
import { privacyRho } from '../../stats/index.ts';
import { signModel } from '../../stats/synth/artifact.ts';
import { centralMeasure, type Measure } from '../../stats/synth/marginals.ts';
import { fitSynthesizer } from '../../stats/synth/model.ts';
import { sampleCsv } from '../../stats/synth/sample.ts';
import { ANALYST_KEY_HELP, ANALYST_KEY_OPTION, analystClient, TLS_CLIENT_HELP, TLS_CLIENT_OPTIONS, int, str, UsageError, type Command } from '../args.ts';
import { parseWhere } from '../where.ts';
import { evaluateCmd, fidelityCmd, splitCmd } from './synth-evaluate.ts';
import { fitterIdentity, loadData, loadModel } from './synth-files.ts';

function num(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x) || x <= 0) throw new UsageError(`--${name}: expected a positive number, got ${JSON.stringify(v)}`);
  return x;
}

async function fit(v: Record<string, unknown>): Promise<number> {
  const schema = loadSchemaFile(str(v['schema'], 'schema', true));
  const out = str(v['out'], 'out', true);
  const method = str(v['method'], 'method') ?? 'mst';
  if (method !== 'mst' && method !== 'aim' && method !== 'independent') throw new UsageError(`--method: mst, aim or independent, got ${JSON.stringify(method)}`);
  const exact = v['exact'] === true;
  const target = str(v['target'], 'target');
  const modelled = schema.columns.filter((c) => c.type !== 'identifier').map((c) => c.name);
  if (target !== undefined && !modelled.includes(target)) throw new UsageError(`--target: no column "${target}" in the schema to model (columns: ${modelled.join(', ')})`);
  if (target !== undefined && method === 'independent') throw new UsageError('--target joins the outcome to every column; the independent baseline has no joins');
  const epsilon = num(v['epsilon'], 'epsilon');
  const delta = num(v['delta'], 'delta') ?? 1e-6;
  const rhoFlag = num(v['rho'], 'rho');
  if (exact && (epsilon !== undefined || rhoFlag !== undefined)) throw new UsageError('--exact fits without noise; do not give --epsilon or --rho with it');
  if (!exact && epsilon === undefined && rhoFlag === undefined) throw new UsageError('give the privacy budget of the whole fit: --epsilon E [--delta D] or --rho R (or --exact for the non-private reference)');
  const rho = exact ? undefined : privacyRho(rhoFlag !== undefined ? { rho: rhoFlag } : { epsilon: epsilon!, delta });
  const analyst = str(v['analyst'], 'analyst') ?? process.env['USER'] ?? 'analyst';
  const signer = fitterIdentity(str(v['key'], 'key') ?? join(dirname(out), 'fitter.key'), analyst.toLowerCase().replace(/[^a-z0-9._-]/g, '-'));
  const log = (m: string): void => {
    if (v['quiet'] !== true) process.stderr.write(`  ${m}\n`);
  };
  let measure: Measure;
  let client: AnalystClient | undefined;
  const central = str(v['central'], 'central');
  if (central !== undefined) {
    measure = centralMeasure(schema, loadData(schema, central), rho === undefined ? undefined : cryptoRandomSource());
    log(`central fit on ${central}${rho === undefined ? ' (exact)' : ' (noise added here, as by a single party)'}`);
  } else {
    const backend = str(v['backend'], 'backend') ?? 'secagg';
    const keyPath = str(v['ckks-key'], 'ckks-key');
    if (backend === 'ckks' && keyPath === undefined) throw new UsageError('--backend ckks needs --ckks-key FILE: the analyst\'s CKKS key pair (create one with: blindsum analyst ckks-keygen --out FILE)');
    const ckksKey = keyPath === undefined ? undefined : (await import('../../client/ckks-analyst.ts')).loadAnalystKeyFile(keyPath);
    client = analystClient(v);
    measure = federatedMeasure(client, { backend, ...(ckksKey ? { ckksKey } : {}), deadlineMs: int(v['timeout-ms'], 'timeout-ms', 600_000, 1000, 86_400_000) });
  }
  try {
    const model = await fitSynthesizer(schema, measure, {
      method, ...(rho !== undefined ? { rho } : {}), delta, log,
      filter: ((v['where'] as string[] | undefined) ?? []).map(parseWhere),
      fineBins: int(v['fine-bins'], 'fine-bins', 64, 8, 1000), maxLevels: int(v['max-levels'], 'max-levels', 12, 2, 100),
      ...(target !== undefined ? { target } : {}),
    });
    const signed = signModel(model, signer);
    writeFileSync(out, JSON.stringify(signed, null, 1) + '\n');
    const b = model.budget;
    process.stdout.write(`wrote ${out}: ${model.method} model of ${model.columns.length} columns, ${model.fit.cliques.length} cliques (largest ${Math.max(...model.fit.cliques.map((c) => c.length))} columns); ` +
      (b.exact ? 'exact measurements (not differentially private)' : `budget rho = ${b.rho.toPrecision(4)} (ε = ${b.epsilon!.toPrecision(3)} at δ = ${b.delta.toExponential(0)}) over queries ${b.queries.map((q) => q.queryId).join(', ')}`) +
      `; signed by ${signer.id}\n`);
    return 0;
  } finally {
    client?.close();
  }
}

async function sample(v: Record<string, unknown>): Promise<number> {
  const schema = loadSchemaFile(str(v['schema'], 'schema', true));
  const model = loadModel(str(v['model'], 'model', true), schema, v['trust-key'] as string[] | undefined);
  const rows = int(v['rows'], 'rows', 1000, 1, 10_000_000);
  const sampling = str(v['sampling'], 'sampling') ?? 'round';
  if (sampling !== 'round' && sampling !== 'iid') throw new UsageError(`--sampling: expected round or iid, got ${JSON.stringify(sampling)}`);
  const csv = sampleCsv(model, schema, rows, str(v['seed'], 'seed') ?? 'blindsum', sampling);
  const out = str(v['out'], 'out');
  if (out === undefined) process.stdout.write(csv);
  else {
    writeFileSync(out, csv);
    process.stderr.write(`wrote ${out}: ${rows} synthetic rows (seed ${JSON.stringify(str(v['seed'], 'seed') ?? 'blindsum')}; no privacy cost)\n`);
  }
  return 0;
}

export const synth: Command = {
  name: 'synth',
  summary: 'differentially private synthetic data: fit a model across the federation, sample it, evaluate it (at a site, or federated)',
  usage: [
    'blindsum synth fit --aggregator HOST:PORT --analyst-key alice.key --schema schema.json --epsilon 1 [--delta 1e-6] --out model.json [--method mst|aim|independent] [--key fitter.key]',
    '       blindsum synth fit --central data.csv --schema schema.json --exact --out model.json      (non-private reference)',
    '       blindsum synth sample --model model.json --schema schema.json --rows N [--seed S] [--sampling round|iid] [--out synthetic.csv]',
    '       blindsum synth split --data site.csv --holdout-fraction 0.2 --holdout-seed S [--out PREFIX]      (at a party site: rows to serve, rows to hold out)',
    '       blindsum synth evaluate --schema schema.json --real train.csv (--holdout holdout.csv | --holdout-fraction F --holdout-seed S) --synthetic NAME=synthetic.csv ... [--model NAME=model.json] [--outcome COLUMN=LEVEL] [--thresholds FILE.json] [--repeats K] [--site NAME] [--out PREFIX]',
    '       blindsum synth fidelity --aggregator HOST:PORT --analyst-key alice.key --schema schema.json (--synthetic NAME=FILE.csv | --model NAME=model.json) ... --rho R [--ways 1|2] [--bins B] [--out PREFIX]',
  ].join('\n'),
  allowPositionals: true,
  options: {
    aggregator: { type: 'string' }, ...TLS_CLIENT_OPTIONS, ...ANALYST_KEY_OPTION, analyst: { type: 'string' }, backend: { type: 'string' }, 'ckks-key': { type: 'string' }, 'timeout-ms': { type: 'string' },
    schema: { type: 'string' }, out: { type: 'string' }, method: { type: 'string' }, epsilon: { type: 'string' }, delta: { type: 'string' }, rho: { type: 'string' },
    exact: { type: 'boolean' }, central: { type: 'string' }, key: { type: 'string' }, where: { type: 'string', multiple: true },
    'fine-bins': { type: 'string' }, 'max-levels': { type: 'string' }, target: { type: 'string' }, quiet: { type: 'boolean' },
    model: { type: 'string', multiple: true }, rows: { type: 'string' }, seed: { type: 'string' }, sampling: { type: 'string' }, 'trust-key': { type: 'string', multiple: true },
    real: { type: 'string' }, holdout: { type: 'string' }, synthetic: { type: 'string', multiple: true }, outcome: { type: 'string' }, exclude: { type: 'string', multiple: true },
    'holdout-fraction': { type: 'string' }, 'holdout-seed': { type: 'string' }, data: { type: 'string' }, thresholds: { type: 'string' }, repeats: { type: 'string' },
    site: { type: 'string' }, bootstrap: { type: 'string' }, ways: { type: 'string' }, bins: { type: 'string' },
  },
  help: {
    aggregator: 'fit: aggregator address (default 127.0.0.1:7070)', ...TLS_CLIENT_HELP, analyst: 'fit: name of the model-signing fitter key created if absent (default: $USER)', 'analyst-key': `fit: ${ANALYST_KEY_HELP}; the measurements are charged to this analyst`,
    backend: 'fit/fidelity: secagg (default) or ckks (multiparty CKKS; needs --ckks-key)', 'ckks-key': 'fit/fidelity: the analyst\'s CKKS key pair (blindsum analyst ckks-keygen)', 'timeout-ms': 'fit: give up on a measurement after this long', schema: 'the federation schema',
    out: 'fit: model file; sample: CSV file (default stdout); evaluate: prefix of PREFIX.json and PREFIX.html (default synth-report)',
    method: 'fit: mst (default: the 2-tree, or one-way marginals on small data), aim (the same rule with AIM-style adaptive measurement of one-, two- and three-way marginals where the data support it; not with --target) or independent (the baseline: one-way marginals only)', epsilon: 'fit: privacy budget of the whole fit, ε (with --delta)',
    delta: 'fit: δ (default 1e-6)', rho: 'fit: privacy budget as zCDP rho instead of ε', exact: 'fit: no noise (only where the federation allows exact queries)',
    central: 'fit: fit on this CSV here instead of across the federation', key: 'fit: identity key that signs the model (created if absent; default fitter.key beside --out)',
    where: 'fit: only rows matching this filter (repeatable)', 'fine-bins': 'fit: most fine bins of a numeric column (default 64)',
    'max-levels': 'fit: most model values per column (default 12)', target: 'fit: an outcome column joined to every other column (tree-augmented naive Bayes), for downstream models of it', quiet: 'fit: no progress', model: 'sample: the model file; evaluate: NAME=model.json to report its budget',
    rows: 'sample: number of rows (default 1000)', seed: 'sample: seed (same seed, same rows; default "blindsum")',
    sampling: 'sample: round (default: each parent configuration gets its records\' values in the model\'s proportions, rounded) or iid (independent draws, e.g. for multiple-synthesis inference)', 'trust-key': 'sample/evaluate: refuse models not signed by this hex public key',
    real: 'evaluate: the real data the model was fitted on', holdout: 'evaluate: real data the model never saw', synthetic: 'evaluate: NAME=FILE.csv of a synthetic dataset',
    outcome: 'evaluate: COLUMN=LEVEL, the classifier\'s outcome (TSTR)', exclude: 'evaluate: column left out of the classifier\'s features',
    'holdout-fraction': 'split/evaluate: share of the rows held out (seeded split of --data / --real)', 'holdout-seed': 'split/evaluate: seed of the split (the same seed gives the same rows)',
    data: 'split: the site\'s own CSV', thresholds: 'evaluate: JSON file of verdict thresholds { "<criterion>": { "pass": x, "fail": y } } over the defaults (docs/synth.md)',
    repeats: 'evaluate: each NAME must have K --synthetic files (repeated fits or samples): mean ± sd', site: 'evaluate: the party site evaluating against its own rows (printed in the report)',
    bootstrap: 'evaluate: bootstrap replicates of the AUC intervals (default 500)', ways: 'fidelity: 1 (one-way tables) or 2 (default: one- and two-way)', bins: 'fidelity: equal-width bins of a numeric column over its schema bounds (default 10)',
  },
  async run(v, positionals) {
    const [sub, ...rest] = positionals;
    if (rest.length) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
    if (sub === 'fit') return fit(v);
    if (sub === 'sample') return sample(v);
    if (sub === 'evaluate') return evaluateCmd(v);
    if (sub === 'split') return splitCmd(v);
    if (sub === 'fidelity') return fidelityCmd(v);
    throw new UsageError(`synth: give fit, sample, split, evaluate or fidelity (got ${sub === undefined ? 'nothing' : JSON.stringify(sub)}); see blindsum synth --help`);
  },
};

