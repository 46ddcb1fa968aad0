/**
 * Chance failures of the tests that run DP jobs through the federation, simulated in process as
 * the federation computes them (three parties' exact sums plus each party's Skellam share, t = 2,
 * c = 0; stats/iterative.ts drives the rounds):
 *   - e2e-models "a DP job … that fits is charged round by round": status ~ bili logistic, 6 rounds
 *     at total rho (32; 8 before), |b1 − exact| < 6 declared sd (the last release's bootstrap) + 10 SE;
 *   - e2e-train-dp "through secagg/ckks … the model separates the classes": DP-FedSGD at (ε 4,
 *     δ 1e-6) over 6 rounds, pooled AUC > 0.6.
 * Prints how many jobs failed the check and the distribution of its margin.
 *
 *   ./node_modules/.bin/node bench/dp-sim-jobs.ts [--jobs 500] [--rho 32]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dpAnswer } from '../client/jobs.ts';
import { cryptoRandomSource } from '../crypto/dp/random.ts';
import { centralGlm } from '../stats/central-glm.ts';
import { runJob, type IterativeRound } from '../stats/iterative.ts';
import { chooseTrainDp, trainDpPlan } from '../stats/kinds/train-dp.ts';
import type { TrainRoundResult } from '../stats/kinds/types.ts';
import {
  buildDataset, DP_GRID_BITS, finalize, localStatistics, noiseShare, noiseUncertainty, parseSchema, planNoise, planQuery, splitCsvText,
  type Dataset, type Query, type QueryResult,
} from '../stats/index.ts';
import { auc, encodeFeatures, network, predict } from '../stats/train/index.ts';

const ROSTER = { parties: 3, threshold: 2, collusion: 0 };
const schema = parseSchema(JSON.parse(readFileSync(new URL('../examples/pbc/schema.json', import.meta.url), 'utf8')));
const csv = readFileSync(new URL('../examples/pbc/pbc.csv', import.meta.url), 'utf8');
const rng = cryptoRandomSource();
const parts = (split: string): Dataset[] => splitCsvText(csv, 3, split).map((p) => buildDataset(schema, p).dataset);

/** One DP round: the parties' sums plus their noise shares, post-processed; `onRelease` sees the release. */
function release<R>(round: Query, data: Dataset[], rho: number, onRelease?: (plan: ReturnType<typeof planQuery>, np: ReturnType<typeof planNoise>, sums: bigint[]) => void): R {
  const plan = planQuery(round, schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
  const np = planNoise(round, schema, plan, { rho, ...ROSTER });
  const sums = plan.entries.map(() => 0n);
  for (const part of data) {
    const noise = noiseShare(np, rng);
    localStatistics(round, schema, plan, part).sums.forEach((x, i) => (sums[i]! += x + noise[i]!));
  }
  onRelease?.(plan, np, sums);
  return finalize(round, schema, plan, sums) as R;
}

/** `low`: the check fails at low values (report the lower tail), else at high values. */
const summary = (name: string, values: number[], failed: number, what: string, low = false): string => {
  const m = [...values].sort((a, b) => (low ? b - a : a - b));
  const q = (p: number): string => m[Math.min(m.length - 1, Math.floor(m.length * p))]!.toFixed(3);
  return `${name}: ${failed} of ${m.length} jobs failed; ${what}: median ${q(0.5)}, ${low ? 'q0.01' : 'q0.99'} ${q(0.99)}, ${low ? 'min' : 'max'} ${q(1)}`;
};

async function modelsJob(jobs: number, rho: number): Promise<string> {
  type Fit = QueryResult & IterativeRound & { coefficients: number[]; standardErrors: (number | null)[] };
  const data = parts('e2e-models');
  const q: Query = { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['bili'], filter: [] };
  const exact = centralGlm(q, schema, buildDataset(schema, csv).dataset);
  const ratios: number[] = [];
  let failed = 0;
  for (let j = 0; j < jobs; j++) {
    let sd = NaN;
    const { result } = await runJob<Fit>(q, schema, async (round) => release<Fit>(round, data, rho / 6, (plan, np, sums) => {
      sd = noiseUncertainty(round, schema, plan, np, sums, 3)['nextCoefficients[1]'] as number;
    }), { maxRounds: 6 });
    const b = dpAnswer(result).coefficients[1]!;
    const ratio = Math.abs(b - exact.coefficients[1]!) / (6 * sd + 10 * exact.standardErrors[1]!);
    ratios.push(ratio);
    if (!(sd > 0 && Number.isFinite(b) && ratio < 1)) failed++;
  }
  return summary(`e2e-models DP job (rho ${rho}, 6 rounds)`, ratios, failed, '|b1 − exact| / (6 sd + 10 SE)');
}

async function trainJob(jobs: number): Promise<string> {
  const data = parts('e2e-train-dp');
  const columns = ['age', 'bili', 'albumin', 'edema'];
  const pooled = encodeFeatures({ columns, target: 'status', positive: ['2'] }, schema, buildDataset(schema, csv).dataset);
  const q: Query = { kind: 'train_round', columns, target: 'status', positive: ['2'], filter: [], train: { model: 'logistic', clip: 1, learningRate: 4, optimizer: 'sgd', expectedBatch: pooled.rows * 0.5, seed: 'e2e-dp', samplingRate: 0.5 } };
  const dp = chooseTrainDp(q, schema, ROSTER, { epsilon: 4, delta: 1e-6, rounds: 6 });
  const job: Query = { ...q, train: { ...q.train!, dp } };
  const { jobRho } = trainDpPlan(job, schema, ROSTER);
  const aucs: number[] = [];
  for (let j = 0; j < jobs; j++) {
    const { result } = await runJob<TrainRoundResult>(job, schema, async (round) => release<TrainRoundResult>(round, data, jobRho / 6), { maxRounds: 6 });
    aucs.push(auc(predict(network({ type: 'logistic' }, pooled.d), Float64Array.from(result.nextState!.slice(0, pooled.d + 1)), pooled.X), pooled.y));
  }
  return summary('e2e-train-dp (ε 4, 6 rounds)', aucs, aucs.filter((a) => !(a > 0.6)).length, 'pooled AUC (must exceed 0.6)', true);
}

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '500' }, rho: { type: 'string', default: '32' } } });
console.log(await modelsJob(Number(values.jobs), Number(values.rho)));
console.log(await trainJob(Number(values.jobs)));
