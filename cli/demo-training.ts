/**
 * The demo's training section (docs/training.md): an exact federated training job equal to the
 * central trainer on the contributors' pooled rows, then a DP job for (ε = 4, δ = 1e-6) with a
 * held-out split and a federated DP evaluation of the model on the held-out rows.
 */
import type { AnalystClient } from '../client/analyst.ts';
import { runModelJob } from '../client/jobs.ts';
import { buildDataset, type Query, type Schema, type TrainEvaluateResult } from '../stats/index.ts';
import { centralTrainEvaluate } from '../stats/central-train-evaluate.ts';
import { encodeFeatures, network, trainCentral } from '../stats/train/index.ts';

const COLUMNS = ['age', 'bili', 'albumin', 'edema'];
const EVAL_RHO = 0.05;

export async function trainingDemo(client: AnalystClient, schema: Schema, csvOf: (contributors: string[]) => string): Promise<number> {
  let failures = 0;
  process.stdout.write('Federated training (each round a signed query; docs/training.md)\n\n');
  // 1. Exact: full batches, FedSGD, equal to the central trainer on the contributors' rows.
  const exactPlan = { model: 'logistic' as const, clip: 1, learningRate: 4, optimizer: 'sgd' as const, expectedBatch: 300, seed: 'demo' };
  const exact: Query = { kind: 'train_round', columns: COLUMNS, target: 'status', positive: ['2'], filter: [], train: exactPlan };
  process.stdout.write(`[train] logistic regression of status = 2 on ${COLUMNS.join(', ')}: 10 exact rounds (FedSGD, clip 1, full batches)\n`);
  try {
    const job = await runModelJob(client, exact, { maxRounds: 10 });
    const data = encodeFeatures({ columns: COLUMNS, target: 'status', positive: ['2'] }, schema, buildDataset(schema, csvOf(job.last.contributors)).dataset);
    // The central trainer divides by the pooled rows N, the plan by its public expected batch (300):
    // the same FedSGD step with the learning rate scaled by N/300.
    const central = trainCentral(network({ type: 'logistic' }, data.d), data.X, data.y, { rounds: 10, q: 1, clip: 1, seed: 'demo', optimizer: { kind: 'sgd', lr: (4 * data.rows) / 300 } });
    const fed = job.result!.nextState!.slice(0, data.d + 1);
    const diff = Math.max(...fed.map((x, i) => Math.abs(x - central.params[i]!) / Math.max(1, Math.abs(x))));
    const ok = diff < 1e-9;
    if (!ok) failures++;
    process.stdout.write(`    ${ok ? 'OK' : 'MISMATCH'}: the federated parameters equal the central trainer's on the pooled rows (largest relative difference ${diff.toExponential(2)})\n\n`);
  } catch (e) {
    failures++;
    process.stdout.write(`    FAILED: ${(e as Error).message}\n\n`);
  }
  // 2. DP: (ε = 4, δ = 1e-6) over 10 rounds at sampling rate 0.5, a quarter of the rows held out;
  // then one federated DP evaluation on the held-out rows.
  const dpPlan = { ...exactPlan, samplingRate: 0.5, expectedBatch: 150, holdout: 0.25, seed: 'demo-dp' };
  const dp: Query = { ...exact, train: dpPlan };
  process.stdout.write(`[train, DP] the same model for (ε = 4, δ = 1e-6) over 10 rounds, sampling rate 0.5, 25 % of the rows held out\n`);
  try {
    const job = await runModelJob(client, dp, { maxRounds: 10, privacy: { epsilon: 4, delta: 1e-6 } });
    const t = job.training!;
    process.stdout.write(`    job (ε = ${t.epsilon.toPrecision(3)}, δ = ${t.delta.toExponential(0)}): rho ${t.jobRho.toPrecision(3)} charged over ${job.rounds.length} rounds; noise multiplier ${t.query.train!.dp!.noiseMultiplier.toPrecision(3)}, ${t.bitsPerCoordinate} bits per coordinate\n`);
    const state = job.result!.nextState!;
    const evaluation: Query = { kind: 'train_evaluate', columns: COLUMNS, target: 'status', positive: ['2'], filter: [], train: dpPlan, state, bins: [10] };
    const o = await client.run(evaluation, { privacy: { rho: EVAL_RHO } });
    const r = o.result as TrainEvaluateResult | undefined;
    if (o.status !== 'done' || !r) throw new Error(`evaluation: ${o.status} ${o.error ?? ''}`);
    const central = centralTrainEvaluate(evaluation, schema, buildDataset(schema, csvOf(o.contributors)).dataset);
    process.stdout.write(`    federated evaluation on the held-out rows (DP, rho ${EVAL_RHO}): AUC ${r.auc?.toFixed(3) ?? '—'}, accuracy ${r.accuracy?.toFixed(3) ?? '—'} on ~${Math.round(r.n)} rows; computed centrally on the same rows: AUC ${central.auc?.toFixed(3) ?? '—'}, accuracy ${central.accuracy?.toFixed(3) ?? '—'} on ${central.n}\n\n`);
  } catch (e) {
    failures++;
    process.stdout.write(`    FAILED: ${(e as Error).message}\n\n`);
  }
  return failures;
}
