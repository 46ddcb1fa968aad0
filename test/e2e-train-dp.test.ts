/**
 * DP training end to end (the aggregator and 3 parties as separate processes, real gRPC, t = 2):
 * the analyst's client plans the job's mechanism for (ε, δ) from the federation's roster and
 * schema (and the aggregator refuses up front a round whose job does not fit the budget), every
 * round is a signed query charged 1/rounds of the job's ρ by the aggregator and by
 * every party, through secure aggregation and through CKKS; the trained model separates the
 * classes on the pooled rows; a party killed between rounds leaves the job going with the other
 * two (t = 2) and the job's ε unchanged (the noise is sized for t − c honest contributors); the
 * auditor replays the jobs from the transcript; `blindsum train fit | evaluate | predict` write
 * and use a signed model file.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalystError } from '../client/analyst.ts';
import { generateAnalystKey, loadAnalystKeyFile, writeAnalystKeyFile, type AnalystCkksKey } from '../client/ckks-analyst.ts';
import { runModelJob } from '../client/jobs.ts';
import { LocalFederation } from '../cli/federation.ts';
import { exportTranscript } from '../services/audit/audit.ts';
import { verifyTranscript } from '../services/audit/verify.ts';
import { loadAnalystRoster } from '../services/common/analysts.ts';
import { loadRoster } from '../services/common/roster.ts';
import { buildDataset, chooseTrainDp, parseSchema, splitCsvText, trainDpPlan, type Query } from '../stats/index.ts';
import { auc, encodeFeatures, network, predict } from '../stats/train/index.ts';

const schemaPath = 'examples/pbc/schema.json';
const schema = parseSchema(JSON.parse(readFileSync(schemaPath, 'utf8')));
const csv = readFileSync('examples/pbc/pbc.csv', 'utf8');
const parts = splitCsvText(csv, 3, 'e2e-train-dp');
const COLUMNS = ['age', 'bili', 'albumin', 'edema'];
const pooled = encodeFeatures({ columns: COLUMNS, target: 'status', positive: ['2'] }, schema, buildDataset(schema, csv).dataset);
const train: Query = {
  kind: 'train_round', columns: COLUMNS, target: 'status', positive: ['2'], filter: [],
  train: { model: 'logistic', clip: 1, learningRate: 4, optimizer: 'sgd', expectedBatch: pooled.rows * 0.5, seed: 'e2e-dp', samplingRate: 0.5 },
};

const CLI_PATH = join(import.meta.dirname, '..', 'cli', 'blindsum.ts');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI_PATH, ...args], { cwd: dir, encoding: 'utf8', timeout: 170_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let fed: LocalFederation;
let dir: string;
let key: AnalystCkksKey;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-e2e-train-dp-'));
  fed = await LocalFederation.start({ dir, schemaPath, partyData: parts, threshold: 2, roundTimeoutMs: 15_000, ckks: true, budgetRho: 10, analysts: ['trainer'] });
  await fed.waitCollectiveKey();
  writeAnalystKeyFile(join(dir, 'analyst.ckks.key'), await generateAnalystKey());
  key = loadAnalystKeyFile(join(dir, 'analyst.ckks.key'));
}, 180_000);

afterAll(async () => {
  await fed?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function pooledAuc(params: number[]): number {
  return auc(predict(network({ type: 'logistic' }, pooled.d), Float64Array.from(params), pooled.X), pooled.y);
}

describe('DP training through the real services', () => {
  it('a job refuses --rho (its guarantee is (ε, δ) over all rounds) before any round runs', async () => {
    const c = fed.client('trainer');
    try {
      const err = await runModelJob(c, train, { privacy: { rho: 1 }, maxRounds: 4 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AnalystError);
      expect((err as Error).message).toMatch(/takes its guarantee as --epsilon and --delta/);
      expect((await c.getBudget()).spentRho).toBe(0);
    } finally {
      c.close();
    }
  });

  it('the aggregator refuses a job\'s round up front when the rest of the job does not fit the budget (a client that skips its own check)', async () => {
    const c = fed.client('trainer');
    try {
      const dp = chooseTrainDp(train, schema, { parties: 3, threshold: 2, collusion: 0 }, { epsilon: 40, delta: 1e-6, rounds: 10 });
      const round: Query = { ...train, job: 'job-greedy', round: 1, train: { ...train.train!, dp } };
      const jobRho = trainDpPlan(round, schema, { parties: 3, threshold: 2, collusion: 0 }).jobRho;
      expect(jobRho).toBeGreaterThan(10);
      const err = await c.submit(round, { privacy: { rho: jobRho / 10 } }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/this DP training job has 10 rounds to go \(this one included\) at rho = [\d.]+ each, rho = [\d.]+ in all, but 10\.00 of 10 remains/);
      expect((await c.getBudget()).spentRho).toBe(0);
    } finally {
      c.close();
    }
  });

  for (const backend of ['secagg', 'ckks'] as const) {
    it(`through ${backend}: (ε = 4, δ = 1e-6) over 6 rounds, each charged 1/6 of the job's ρ; the model separates the classes`, async () => {
      const c = fed.client('trainer');
      try {
        const before = (await c.getBudget()).spentRho;
        const job = await runModelJob(c, train, { privacy: { epsilon: 4, delta: 1e-6 }, maxRounds: 6, backend, ...(backend === 'ckks' ? { ckksKey: key } : {}) });
        const t = job.training!;
        expect(t.epsilon).toBeLessThanOrEqual(4);
        expect(t.epsilon).toBeGreaterThan(3.8);
        expect(job.rounds).toHaveLength(6);
        for (const r of job.rounds) {
          expect(r.rhoCharged).toBeCloseTo(t.jobRho / 6, 12);
          expect(r.contributors).toHaveLength(3);
        }
        expect((await c.getBudget()).spentRho - before).toBeCloseTo(t.jobRho, 9);
        const params = job.result!.nextState!.slice(0, pooled.d + 1);
        // It learned: 6 DP rounds at ε = 4 separate the classes (non-private training reaches ~0.8).
        expect(pooledAuc(params)).toBeGreaterThan(0.6);
      } finally {
        c.close();
      }
    }, 240_000);
  }

  it('the auditor replays the DP training jobs from the transcript (plans, noise, charges, each round\'s state from the last release)', () => {
    const file = exportTranscript(fed.aggregatorDataDir, {}, join(dir, 'transcript.json'));
    const roster = loadRoster(fed.rosterPath);
    const report = verifyTranscript(file, roster, { schema, analysts: loadAnalystRoster(fed.analystsPath, roster) });
    expect(report.ok, JSON.stringify(report.failure)).toBe(true);
    expect(report.jobRounds!.checked).toBeGreaterThanOrEqual(5); // the secagg job's rounds 2..6
  });

  it('blindsum train fit writes a signed model with its privacy cost; evaluate and predict use it on a local CSV; an edited model is refused', () => {
    const out = join(dir, 'model.json');
    const fitRun = cli(['train', 'fit', '--aggregator', fed.address, '--analyst-key', fed.analystKeyPath('trainer'), ...COLUMNS.flatMap((c) => ['--column', c]),
      '--target', 'status', '--positive', '2', '--expected-batch', String(pooled.rows * 0.5), '--sampling-rate', '0.5', '--learning-rate', '4', '--rounds', '4',
      '--epsilon', '4', '--delta', '1e-6', '--seed', 'cli', '--holdout', '0.25', '--evaluate-every', '2', '--evaluate-rho', '0.1', '--out', out, '--quiet']);
    expect(fitRun.status, fitRun.stderr).toBe(0);
    expect(fitRun.stdout).toMatch(/wrote .*model\.json: logistic model, 6 parameters, 4 rounds .*differentially private: \(ε = [34]\.\d+, δ = 1e-6\), rho = [\d.]+, noise multiplier [\d.]+, \d+ bits per coordinate; signed by /);
    const model = JSON.parse(readFileSync(out, 'utf8')) as { privacy: { exact: boolean; epsilon: number; roster: unknown }; training: { queryIds: string[] }; parameters: number[] };
    expect(model.privacy.exact).toBe(false);
    expect(model.privacy.epsilon).toBeLessThanOrEqual(4);
    expect(model.privacy.roster).toEqual({ parties: 3, threshold: 2, collusion: 0 });
    expect(model.training.queryIds).toHaveLength(4);
    // Federated evaluations on the held-out rows after rounds 2 and 4, each a DP query at rho 0.1.
    const metrics = (model as unknown as { metrics: { source: string; n: number; auc: number; details: { round: number; rhoCharged: number } }[] }).metrics;
    expect(metrics.map((x) => x.details.round)).toEqual([2, 4]);
    for (const x of metrics) {
      expect(x.source).toMatch(/federated train_evaluate on held-out rows/);
      expect(x.details.rhoCharged).toBeCloseTo(0.1, 12);
      // A noisy AUC on ~100 held-out rows (the model after 2 DP rounds may still be weak): a number in [0, 1].
      expect(x.auc).toBeGreaterThanOrEqual(0);
      expect(x.auc).toBeLessThanOrEqual(1);
      expect(x.n).toBeGreaterThan(50); // about a quarter of 418 rows, noisy
    }
    expect((model.privacy as unknown as { evaluationRho: number }).evaluationRho).toBeCloseTo(0.2, 12);
    const data = join(dir, 'pbc.csv');
    writeFileSync(data, csv);
    const ev = cli(['train', 'evaluate', '--model', out, '--schema', join(process.cwd(), schemaPath), '--data', data, '--json']);
    expect(ev.status, ev.stderr).toBe(0);
    const m = JSON.parse(ev.stdout) as { n: number; auc: number };
    expect(m.n).toBe(pooled.rows);
    expect(m.auc).toBeCloseTo(pooledAuc(model.parameters), 12);
    const pr = cli(['train', 'predict', '--model', out, '--schema', join(process.cwd(), schemaPath), '--data', data]);
    expect(pr.status, pr.stderr).toBe(0);
    const lines = pr.stdout.trim().split('\n');
    expect(lines[0]).toBe('row,probability');
    expect(lines.length - 1).toBeGreaterThanOrEqual(pooled.rows);
    // The model's parameters edited after signing: refused by evaluate and predict.
    const edited = JSON.parse(readFileSync(out, 'utf8')) as { parameters: number[] };
    edited.parameters[0]! += 1;
    writeFileSync(join(dir, 'edited.json'), JSON.stringify(edited));
    const bad = cli(['train', 'predict', '--model', join(dir, 'edited.json'), '--schema', join(process.cwd(), schemaPath), '--data', data]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/digest mismatch .*the file was modified after it was signed/);
  }, 180_000);

  it('a party killed between rounds: training goes on with the other two at the same ε', async () => {
    const c = fed.client('trainer');
    try {
      const job = await runModelJob(c, train, {
        privacy: { epsilon: 4, delta: 1e-6 }, maxRounds: 4,
        onRound: (r) => {
          if (r === 2) void fed.killParty(2);
        },
      });
      expect(job.rounds).toHaveLength(4);
      expect(job.rounds[0]!.contributors).toHaveLength(3);
      expect(job.last.contributors).toHaveLength(2);
      expect(job.last.rhoCharged).toBeCloseTo(job.training!.jobRho / 4, 12);
      expect(job.result!.nextState!.every(Number.isFinite)).toBe(true);
    } finally {
      c.close();
    }
  }, 180_000);
});
