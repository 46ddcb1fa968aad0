/**
 * blindsum train fit | evaluate | predict — federated training of a logistic regression or an MLP
 * (docs/training.md): fit runs the job through the aggregator (exact, or DP for (ε, δ) over its
 * rounds) and writes the model as a signed artifact; evaluate scores it on a local CSV (a party's
 * own held-out rows, at the site); predict writes probabilities for a local CSV.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runModelJob } from '../../client/jobs.ts';
import { federationFacts } from '../../client/train.ts';
import { loadSchemaFile } from '../../services/common/schema-file.ts';
import { parseQueryJson, schemaDigest, type Query, type TrainEvaluateResult } from '../../stats/index.ts';
import type { TrainSpec } from '../../stats/query-types.ts';
import { signTrainedModel, scoreDataset, trainedNetwork, verifyTrainedModel, type MetricsRecord, type TrainedModel } from '../../stats/train/artifact.ts';
import { evaluate } from '../../stats/train/metrics.ts';
import { ANALYST_KEY_HELP, ANALYST_KEY_OPTION, analystClient, int, str, TLS_CLIENT_HELP, TLS_CLIENT_OPTIONS, UsageError, type Command } from '../args.ts';
import { parseWhere } from '../where.ts';
import { fitterIdentity, loadData } from './synth-files.ts';

function positive(v: unknown, name: string, dflt?: number): number {
  if (v === undefined) {
    if (dflt === undefined) throw new UsageError(`--${name} is required`);
    return dflt;
  }
  const x = Number(v);
  if (!Number.isFinite(x) || x <= 0) throw new UsageError(`--${name}: expected a positive number, got ${JSON.stringify(v)}`);
  return x;
}

function list(v: unknown): string[] {
  return String(v).split(',').map((x) => x.trim()).filter((x) => x !== '');
}

/** The training plan and query from the flags (validated by parseQueryJson like any query). */
function trainingQuery(v: Record<string, unknown>): Query {
  const model = str(v['model'], 'model') ?? 'logistic';
  const rate = v['sampling-rate'] === undefined ? 1 : positive(v['sampling-rate'], 'sampling-rate');
  const plan: Record<string, unknown> = {
    model, clip: positive(v['clip'], 'clip', 1), learningRate: positive(v['learning-rate'], 'learning-rate', model === 'mlp' ? 0.05 : 1),
    optimizer: str(v['optimizer'], 'optimizer') ?? (model === 'mlp' ? 'adam' : 'sgd'), expectedBatch: positive(v['expected-batch'], 'expected-batch'),
    seed: str(v['seed'], 'seed') ?? `seed-${randomUUID().slice(0, 8)}`, samplingRate: rate,
  };
  if (v['hidden'] !== undefined) plan['hidden'] = list(v['hidden']).map(Number);
  if (v['holdout'] !== undefined) plan['holdout'] = Number(v['holdout']);
  if (v['coding'] !== undefined) plan['coding'] = v['coding'];
  return parseQueryJson({
    kind: 'train_round', columns: (v['column'] as string[] | undefined) ?? [], target: str(v['target'], 'target', true),
    ...(v['positive'] !== undefined ? { positive: list(v['positive']) } : {}), filter: ((v['where'] as string[] | undefined) ?? []).map(parseWhere), train: plan,
  });
}

async function fit(v: Record<string, unknown>): Promise<number> {
  const out = str(v['out'], 'out', true);
  const rounds = int(v['rounds'], 'rounds', 20, 1, 10_000);
  const exact = v['exact'] === true;
  const epsilon = v['epsilon'] === undefined ? undefined : positive(v['epsilon'], 'epsilon');
  const delta = v['delta'] === undefined ? 1e-6 : positive(v['delta'], 'delta');
  if (exact === (epsilon !== undefined)) throw new UsageError('give the job\'s privacy guarantee --epsilon E [--delta D] (over all its rounds), or --exact (only where the federation allows exact queries)');
  const q = trainingQuery(v);
  const backend = str(v['backend'], 'backend') ?? 'secagg';
  const keyPath = str(v['ckks-key'], 'ckks-key');
  if (backend === 'ckks' && keyPath === undefined) throw new UsageError('--backend ckks needs --ckks-key FILE: the analyst\'s CKKS key pair (create one with: blindsum analyst ckks-keygen --out FILE)');
  const ckksKey = keyPath === undefined ? undefined : (await import('../../client/ckks-analyst.ts')).loadAnalystKeyFile(keyPath);
  const analyst = str(v['analyst'], 'analyst') ?? process.env['USER'] ?? 'analyst';
  const signer = fitterIdentity(str(v['key'], 'key') ?? join(dirname(out), 'fitter.key'), analyst.toLowerCase().replace(/[^a-z0-9._-]/g, '-'));
  const quiet = v['quiet'] === true;
  const holdout = q.train!.holdout ?? 0;
  const every = v['evaluate-every'] === undefined ? (holdout > 0 ? rounds : 0) : int(v['evaluate-every'], 'evaluate-every', rounds, 0, 10_000);
  if (every > 0 && holdout === 0) throw new UsageError('--evaluate-every evaluates on held-out rows: give --holdout F too (e.g. 0.2)');
  const evalRho = v['evaluate-rho'] === undefined ? undefined : positive(v['evaluate-rho'], 'evaluate-rho');
  if (every > 0 && !exact && evalRho === undefined) throw new UsageError('a DP job\'s evaluations are DP queries too: give --evaluate-rho R (the zCDP cost of each evaluation, charged like any query), or --evaluate-every 0');
  const deadlineMs = int(v['timeout-ms'], 'timeout-ms', 600_000, 1000, 86_400_000);
  const bins = int(v['bins'], 'bins', 20, 2, 1000);
  const metrics: MetricsRecord[] = [];
  const client = analystClient(v);
  try {
    const { schema, roster } = await federationFacts(client);
    // A federated evaluation (train_evaluate) of the state a round released, on the held-out rows.
    const evaluateAt = async (round: number, query: Query, state: number[]): Promise<void> => {
      const ev: Query = { kind: 'train_evaluate', columns: query.columns, target: query.target!, ...(query.positive ? { positive: query.positive } : {}), filter: query.filter, train: query.train!, state, bins: [bins] };
      const o = await client.run(ev, { backend, ...(ckksKey ? { ckksKey } : {}), ...(exact ? {} : { privacy: { rho: evalRho! } }), deadlineMs });
      const r = o.result as (TrainEvaluateResult | undefined);
      if (o.status !== 'done' || !r) throw new UsageError(`evaluation after round ${round} (query ${o.queryId}): ${o.status}${o.error ? ` — ${o.error}` : ''}`);
      metrics.push({
        source: `federated train_evaluate on held-out rows after round ${round}`, n: r.n, auc: r.auc, accuracy: r.accuracy, logLoss: r.logLoss,
        details: { round, queryId: o.queryId, rhoCharged: o.rhoCharged, contributors: o.contributors, brier: r.brier, ece: r.ece, noiseSd: o.uncertainty, notes: r.notes },
      });
      if (!quiet) process.stderr.write(`  evaluation after round ${round}: AUC ${r.auc?.toFixed(4) ?? '—'}, accuracy ${r.accuracy?.toFixed(4) ?? '—'}, log loss ${r.logLoss?.toFixed(4) ?? '—'} on ${Math.round(r.n)} held-out rows${o.rhoCharged > 0 ? ` (noisy; rho ${o.rhoCharged.toPrecision(3)})` : ''}; query ${o.queryId}\n`);
    };
    const job = await runModelJob(client, { ...q, job: `train-${randomUUID().slice(0, 8)}` }, {
      backend, maxRounds: rounds, ...(ckksKey ? { ckksKey } : {}), ...(exact ? {} : { privacy: { epsilon: epsilon!, delta } }),
      deadlineMs,
      onRound: async (r, o) => {
        const res = o.result as { meanLoss?: number | null; nextState?: number[]; parameters?: number[] } | undefined;
        const loss = res?.meanLoss;
        if (!quiet) process.stderr.write(`  round ${r}/${rounds}: ${o.status}; ${o.contributors.length} contributors${loss !== undefined && loss !== null ? `; mean loss ${loss.toPrecision(4)}` : ''}; query ${o.queryId}\n`);
        if (every > 0 && (r % every === 0 || r === rounds) && res?.nextState && res.parameters) await evaluateAt(r, q, res.nextState.slice(0, res.parameters.length));
      },
    });
    const result = job.result as unknown as { nextState: number[]; parameters: number[] };
    const plan = (job.training?.query.train ?? q.train) as TrainSpec;
    const P = result.parameters.length;
    const t = job.training;
    const model: TrainedModel = {
      format: 'blindsum-trained-model', version: 1, createdAt: new Date().toISOString(),
      schema: { name: schema.name, digest: schemaDigest(schema) },
      features: { columns: [...q.columns], target: q.target!, positive: q.positive ? [...q.positive] : null, coding: plan.coding ?? 'treatment' },
      model: { type: plan.model, ...(plan.hidden ? { hidden: [...plan.hidden] } : {}), classes: 0, parameterCount: P },
      parameters: result.nextState.slice(0, P),
      training: {
        plan, rounds: job.rounds.length, job: job.job, queryIds: job.rounds.map((o) => o.queryId), backend, lastContributors: [...job.last.contributors],
        roundLoss: job.rounds.map((o) => (o.result as { meanLoss?: number | null } | undefined)?.meanLoss ?? null),
      },
      privacy: t
        ? {
            exact: false, epsilon: t.epsilon, delta: t.delta, rho: t.jobRho, noiseMultiplier: plan.dp!.noiseMultiplier, bitsPerCoordinate: t.bitsPerCoordinate, roster,
            accountant: 'Skellam RDP, Poisson subsampling (Zhu–Wang), RDP→(ε, δ) conversion; docs/training.md',
            evaluationRho: metrics.reduce((a, m) => a + Number(m.details?.['rhoCharged'] ?? 0), 0),
          }
        : { exact: true },
      metrics,
    };
    model.model.classes = trainedNetwork(model, schema).enc.classes;
    writeFileSync(out, JSON.stringify(signTrainedModel(model, signer), null, 1) + '\n');
    process.stdout.write(`wrote ${out}: ${plan.model} model, ${P} parameters, ${job.rounds.length} rounds (job ${job.job}); ` +
      (t ? `differentially private: (ε = ${t.epsilon.toPrecision(3)}, δ = ${t.delta.toExponential(0)}), rho = ${t.jobRho.toPrecision(4)}, noise multiplier ${plan.dp!.noiseMultiplier.toPrecision(4)}, ${t.bitsPerCoordinate} bits per coordinate` : 'exact (not differentially private)') +
      `; signed by ${signer.id}\n`);
    return 0;
  } finally {
    client.close();
  }
}

function loadTrained(v: Record<string, unknown>): { model: TrainedModel; path: string } {
  const path = str(v['model'], 'model', true);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`model ${path}: ${(e as Error).message}`);
  }
  const trusted = v['trust-key'] as string[] | undefined;
  return { model: verifyTrainedModel(json, { source: path, ...(trusted && trusted.length ? { trustedKeys: trusted } : {}) }), path };
}

async function evaluateCmd(v: Record<string, unknown>): Promise<number> {
  const schema = loadSchemaFile(str(v['schema'], 'schema', true));
  const { model, path } = loadTrained(v);
  const dataPath = str(v['data'], 'data', true);
  const scored = scoreDataset(model, schema, loadData(schema, dataPath));
  if (scored.classes !== 2) throw new UsageError('evaluate: binary models only (a softmax model\'s per-class metrics are not implemented)');
  const keep = [...scored.labels.keys()].filter((i) => !Number.isNaN(scored.labels[i]!));
  if (keep.length === 0) throw new UsageError(`evaluate: no row of ${dataPath} has the predictors and the target ${model.features.target}`);
  const m = evaluate(keep.map((i) => scored.probabilities[i]!), keep.map((i) => scored.labels[i]!), int(v['bins'], 'bins', 10, 2, 100));
  const record: MetricsRecord = { source: `local file ${dataPath}`, n: m.n, auc: m.auc, accuracy: m.accuracy, logLoss: m.logLoss, details: { ece: m.ece, calibration: m.calibration } };
  if (v['json'] === true) process.stdout.write(JSON.stringify({ model: path, ...record }, null, 2) + '\n');
  else {
    process.stdout.write(`${path} on ${dataPath} (${m.n} rows with predictors and target; evaluated here, nothing leaves this machine):\n`);
    process.stdout.write(`  AUC ${m.auc.toFixed(4)}  accuracy ${m.accuracy.toFixed(4)}  log loss ${m.logLoss.toFixed(4)}  ECE ${m.ece.toFixed(4)}\n  calibration (predicted → observed, rows):\n`);
    for (const b of m.calibration) if (b.count > 0) process.stdout.write(`    [${b.lo.toFixed(2)}, ${b.hi.toFixed(2)})  ${b.meanPredicted!.toFixed(3)} → ${b.observed!.toFixed(3)}  (${b.count})\n`);
  }
  return 0;
}

async function predictCmd(v: Record<string, unknown>): Promise<number> {
  const schema = loadSchemaFile(str(v['schema'], 'schema', true));
  const { model } = loadTrained(v);
  const data = loadData(schema, str(v['data'], 'data', true));
  const scored = scoreDataset(model, schema, data);
  const K = scored.classes;
  const head = K === 2 ? 'row,probability' : `row,${Array.from({ length: K }, (_, k) => `p${k}`).join(',')}`;
  const lines = [head];
  scored.rows.forEach((r, i) => {
    const p = K === 2 ? [scored.probabilities[i]!] : Array.from(scored.probabilities.subarray(i * K, (i + 1) * K));
    lines.push(`${r + 1},${p.map((x) => Number(x.toPrecision(8))).join(',')}`);
  });
  const out = str(v['out'], 'out');
  if (out === undefined) process.stdout.write(lines.join('\n') + '\n');
  else {
    writeFileSync(out, lines.join('\n') + '\n');
    process.stderr.write(`wrote ${out}: ${scored.rows.length} of ${data.rowCount} rows scored (rows with a missing predictor are left out; "row" is the data row number, 1 = first)\n`);
  }
  return 0;
}

export const train: Command = {
  name: 'train',
  summary: 'federated training with distributed DP: fit a model across the federation, evaluate it, predict with it',
  usage: [
    'blindsum train fit --aggregator HOST:PORT --analyst-key alice.key --column age --column bili --target status --positive 2 --expected-batch 200 --sampling-rate 0.5 --rounds 20 --epsilon 4 [--delta 1e-6] --out model.json',
    '       [--holdout 0.2 --evaluate-every 5 --evaluate-rho 0.05]',
    '       [--model logistic|mlp] [--hidden 16,8] [--clip 1] [--learning-rate 1] [--optimizer sgd|adam] [--backend secagg|ckks --ckks-key F] [--seed S] [--key fitter.key] | --exact',
    '       blindsum train evaluate --model model.json --schema schema.json --data heldout.csv [--json] [--trust-key HEX]',
    '       blindsum train predict --model model.json --schema schema.json --data patients.csv [--out predictions.csv] [--trust-key HEX]',
  ].join('\n'),
  allowPositionals: true,
  options: {
    aggregator: { type: 'string' }, ...TLS_CLIENT_OPTIONS, ...ANALYST_KEY_OPTION, analyst: { type: 'string' }, backend: { type: 'string' }, 'ckks-key': { type: 'string' }, 'timeout-ms': { type: 'string' },
    column: { type: 'string', multiple: true }, target: { type: 'string' }, positive: { type: 'string' }, where: { type: 'string', multiple: true },
    model: { type: 'string' }, hidden: { type: 'string' }, clip: { type: 'string' }, 'sampling-rate': { type: 'string' }, 'learning-rate': { type: 'string' }, optimizer: { type: 'string' },
    'expected-batch': { type: 'string' }, rounds: { type: 'string' }, seed: { type: 'string' }, coding: { type: 'string' },
    holdout: { type: 'string' }, 'evaluate-every': { type: 'string' }, 'evaluate-rho': { type: 'string' },
    epsilon: { type: 'string' }, delta: { type: 'string' }, exact: { type: 'boolean' }, out: { type: 'string' }, key: { type: 'string' }, quiet: { type: 'boolean' },
    schema: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' }, bins: { type: 'string' }, 'trust-key': { type: 'string', multiple: true },
  },
  help: {
    aggregator: 'fit: aggregator address (default 127.0.0.1:7070)', ...TLS_CLIENT_HELP, 'analyst-key': `fit: ${ANALYST_KEY_HELP}; every round is charged to this analyst`,
    analyst: 'fit: name of the model-signing key created if absent (default: $USER)', backend: 'fit: secagg (default) or ckks (needs --ckks-key)', 'ckks-key': 'fit: the analyst\'s CKKS key pair', 'timeout-ms': 'fit: give up on a round after this long',
    column: 'fit: a predictor column (repeatable)', target: 'fit: the categorical outcome', positive: 'fit: its level(s) counted as 1 (binary); omitted: one class per level (softmax)', where: 'fit: only rows matching this filter (repeatable)',
    model: 'fit: logistic (default) or mlp; evaluate/predict: the model file', hidden: 'fit: MLP hidden layer sizes, e.g. 16,8', clip: 'fit: L2 clip norm of one example\'s gradient (default 1)',
    'sampling-rate': 'fit: Poisson sampling rate of each party\'s rows per round (default 1)', 'learning-rate': 'fit: server learning rate (default 1 for sgd, 0.05 for adam)', optimizer: 'fit: sgd (FedSGD, default for logistic) or adam (FedAdam, default for mlp)',
    'expected-batch': 'fit: the public expected number of sampled rows per round over all parties (sampling rate × rows; a DP count gives it: blindsum query --kind count); the update is divided by it',
    rounds: 'fit: rounds of the job (default 20; a DP job runs all of them)', seed: 'fit: seed of the initial parameters (default random)', coding: 'fit: treatment (default) or one-hot coding of categorical predictors',
    holdout: 'fit: fraction of every party\'s rows held out of training for evaluation (decided by each row\'s content and --seed)',
    'evaluate-every': 'fit: evaluate the model on the held-out rows every K rounds and after the last (default: after the last when --holdout is given; 0: never)',
    'evaluate-rho': 'fit: zCDP rho of each federated evaluation of a DP job (charged like any query, on top of the job\'s ε)',
    epsilon: 'fit: the job\'s ε over all its rounds (with --delta)', delta: 'fit: δ (default 1e-6)', exact: 'fit: no noise (only where the federation allows exact queries)',
    out: 'fit: the model file; predict: CSV of probabilities (default stdout)', key: 'fit: identity key that signs the model (created if absent; default fitter.key beside --out)', quiet: 'fit: no progress',
    schema: 'evaluate/predict: the federation schema', data: 'evaluate/predict: a local CSV (e.g. this site\'s held-out rows)', json: 'evaluate: machine-readable output', bins: 'evaluate: calibration bins (default 10)',
    'trust-key': 'evaluate/predict: refuse models not signed by this hex public key',
  },
  async run(v, positionals) {
    const [sub, ...rest] = positionals;
    if (rest.length) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
    if (sub === 'fit') return fit(v);
    if (sub === 'evaluate') return evaluateCmd(v);
    if (sub === 'predict') return predictCmd(v);
    throw new UsageError(`train: give fit, evaluate or predict (got ${sub === undefined ? 'nothing' : JSON.stringify(sub)}); see blindsum train --help`);
  },
};
