/**
 * Iterative models end to end (the aggregator and 3 parties as separate processes, real gRPC,
 * t = 2): a logistic regression through secure aggregation and a Poisson regression through
 * CKKS, each fitted in signed rounds by the analyst's client, equal R's glm
 * (test/reference/glm.json) to 1e-6; a party killed between rounds leaves a job that converges on
 * the other parties' rows; a DP job is charged round by round and refused up front when its total
 * exceeds the budget; the auditor replays every job from the transcript and catches a round
 * evaluated at a state the released rounds do not lead to. A federated evaluation (train_evaluate)
 * after exact training rounds with a held-out split equals the central evaluation through both
 * backends; a DP evaluation, through either backend, is charged like any query and releases clamped
 * noisy counts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalystError } from '../client/analyst.ts';
import { generateAnalystKey, loadAnalystKeyFile, writeAnalystKeyFile, type AnalystCkksKey } from '../client/ckks-analyst.ts';
import { runModelJob } from '../client/jobs.ts';
import { LocalFederation } from '../cli/federation.ts';
import { exportTranscript } from '../services/audit/audit.ts';
import { verifyTranscript } from '../services/audit/verify.ts';
import { loadRoster } from '../services/common/roster.ts';
import { loadAnalystRoster } from '../services/common/analysts.ts';
import { exportedEntries } from '../services/common/transcript-file.ts';
import { AGGREGATOR_KEY_FILE } from '../services/aggregator/transcript-log.ts';
import { loadIdentityFile } from '../services/common/keys.ts';
import { fromUtf8, utf8 } from '../crypto/bytes.ts';
import { EntryKind, type Entry } from '../crypto/transcript.ts';
import { rebuildTranscript, resignEntry } from './transcript-forge.ts';
import { centralGlm } from '../stats/central-glm.ts';
import { encodeFeatures, network, trainCentral } from '../stats/train/index.ts';
import { buildDataset, parseSchema, splitCsvText, type GlmResult, type Query, type TrainEvaluateResult } from '../stats/index.ts';
import { centralTrainEvaluate } from '../stats/central-train-evaluate.ts';
import { centralTrainRound } from '../stats/kinds/train-round.ts';

const schemaPath = 'examples/pbc/schema.json';
const schema = parseSchema(JSON.parse(readFileSync(schemaPath, 'utf8')));
const csv = readFileSync('examples/pbc/pbc.csv', 'utf8');
const parts = splitCsvText(csv, 3, 'e2e-models');
const R = JSON.parse(readFileSync('test/reference/glm.json', 'utf8')) as Record<string, Record<string, number[] | number>>;

const logistic: Query = { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['age', 'bili', 'albumin', 'sex', 'edema'], filter: [] };
const poisson: Query = { kind: 'poisson_regression', target: 'copper', offset: 'time', columns: ['age', 'sex', 'edema', 'bili'], filter: [] };

let fed: LocalFederation;
let dir: string;
let key: AnalystCkksKey;
let metricsPort: number;
let partyMetricsPort: number;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Prometheus text format → samples (name with labels → value), parsed here independently of prom-client. */
function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text format: ${line.slice(0, 80)}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

function rel(a: number | null, b: number): number {
  return a === null ? Infinity : a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}

function expectR(fit: GlmResult, name: string): void {
  const r = R[name]!;
  expect(fit.n).toBe(r.n);
  for (const f of ['coefficients', 'standardErrors', 'zValues', 'pValues'] as const) {
    (r[f] as number[]).forEach((v, j) => expect(rel(fit[f][j]!, v), `${name} ${f}[${j}]`).toBeLessThan(1e-6));
  }
  for (const f of ['deviance', 'nullDeviance', 'aic'] as const) expect(rel(fit[f], r[f] as number), `${name} ${f}`).toBeLessThan(1e-6);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-e2e-models-'));
  metricsPort = await freePort();
  partyMetricsPort = await freePort();
  fed = await LocalFederation.start({
    dir, schemaPath, partyData: parts, threshold: 2, roundTimeoutMs: 15_000, ckks: true, budgetRho: 40, analysts: ['modeller', 'dp-modeller'],
    partyPolicy: [0, 1, 2].map(() => ({ budgetRho: 40 })), // the DP job's rho 32 (see its test)
    aggregatorArgs: ['--metrics-listen', `127.0.0.1:${metricsPort}`], partyArgs: { 0: ['--metrics-listen', `127.0.0.1:${partyMetricsPort}`] },
  });
  await fed.waitCollectiveKey();
  writeAnalystKeyFile(join(dir, 'analyst.ckks.key'), await generateAnalystKey());
  key = loadAnalystKeyFile(join(dir, 'analyst.ckks.key'));
}, 180_000);

afterAll(async () => {
  await fed?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('iterative models through the real services (3 party processes, t = 2)', () => {
  it('a logistic regression through secure aggregation equals R glm to 1e-6, round by round in signed queries', async () => {
    const c = fed.client('modeller');
    try {
      const seen: number[] = [];
      const job = await runModelJob(c, logistic, { tolerance: 1e-10, onRound: (r, o) => seen.push(r) && expect(o.contributors).toHaveLength(3) });
      expect(job.result!.converged).toBe(true);
      expect(seen).toEqual(job.rounds.map((_, i) => i + 1));
      expectR(job.result as GlmResult, 'pbc logistic');
      expect(job.rhoCharged).toBe(0);
    } finally {
      c.close();
    }
  }, 120_000);

  it('a Poisson regression with an exposure offset through CKKS equals R glm to 1e-6 (decrypted by the analyst each round)', async () => {
    const c = fed.client('modeller');
    try {
      const job = await runModelJob(c, poisson, { backend: 'ckks', ckksKey: key, tolerance: 1e-10 });
      expect(job.result!.converged).toBe(true);
      expect(job.last.ckks!.decryptors.length).toBeGreaterThanOrEqual(2);
      expectR(job.result as GlmResult, 'pbc poisson with exposure');
    } finally {
      c.close();
    }
  }, 300_000);

  it('a DP job is refused before round 1 when its total rho exceeds the remaining budget; one that fits is charged round by round', async () => {
    const c = fed.client('dp-modeller');
    try {
      const simple: Query = { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['bili'], filter: [] };
      const err = await runModelJob(c, simple, { privacy: { rho: 48 }, maxRounds: 4 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AnalystError);
      expect((err as Error).message).toMatch(/job refused before round 1: 4 rounds at rho 12\.00 need rho 48\.00, but 40\.00 of the budget remains/);
      expect((await c.getBudget()).spentRho).toBe(0);
      // rho 32 (6 rounds at 16/3): at rho 8 the bound below failed by chance in ~1e-5 of jobs (2,800
      // simulated jobs: error/bound at most 0.69, tail extrapolated); at 32 at most 0.43 of 1,500.
      const job = await runModelJob(c, simple, { privacy: { rho: 32 }, maxRounds: 6 });
      expect(job.rounds).toHaveLength(6); // a DP job runs its planned rounds
      expect(job.rhoCharged).toBeCloseTo(32, 12);
      expect((await c.getBudget()).spentRho).toBeCloseTo(32, 12);
      const fit = job.result as GlmResult;
      const exact = centralGlm(simple, schema, buildDataset(schema, csv).dataset);
      // bili's coefficient: the noisy fit lands within 6 of its declared noise sd (from the last
      // round's release) of the exact one, plus 10 exact SEs for what the noisy rounds leave
      // unconverged. The declared sd covers the last release only, not the noisy state it was
      // evaluated at: in a CI run (6 rounds at rho 4/3, job rho 8) a noisy step overshot and the fit ended
      // 0.379 from the exact 0.305 with a declared sd of 0.039 (9.7 sds; 6 sd + 1 SE failed it),
      // while three runs here gave errors of 0.9, 0.07 and 0.07 declared sds (sd 0.09–0.13).
      // The bound still fails a mechanism whose noise is several times too large or a job that
      // diverges, not the overshoot of one noisy Newton step.
      const sd = job.coefficientNoise['coefficients[1]']!;
      expect(sd).toBeGreaterThan(0);
      expect(Number.isFinite(fit.coefficients[1]!)).toBe(true);
      expect(Math.abs(fit.coefficients[1]! - exact.coefficients[1]!)).toBeLessThan(6 * sd + 10 * exact.standardErrors[1]!);
    } finally {
      c.close();
    }
  }, 180_000);

  it('training rounds without noise, through secure aggregation and through CKKS, give the central trainer\'s parameters (same seed, full batches)', async () => {
    const data = encodeFeatures({ columns: ['age', 'bili', 'sex'], target: 'status', positive: ['2'] }, schema, buildDataset(schema, csv).dataset);
    const train: Query = { kind: 'train_round', columns: ['age', 'bili', 'sex'], target: 'status', positive: ['2'], filter: [], train: { model: 'mlp', hidden: [4], clip: 2, learningRate: 0.05, optimizer: 'adam', expectedBatch: data.rows, seed: 'e2e' } };
    const net = network({ type: 'mlp', hidden: [4] }, data.d);
    const central = trainCentral(net, data.X, data.y, { rounds: 4, q: 1, clip: 2, seed: 'e2e', optimizer: { kind: 'adam', lr: 0.05 } });
    const c = fed.client('modeller');
    try {
      for (const backend of ['secagg', 'ckks'] as const) {
        const job = await runModelJob(c, train, { backend, maxRounds: 4, ...(backend === 'ckks' ? { ckksKey: key } : {}) });
        expect(job.rounds).toHaveLength(4);
        const params = job.result!.nextState!.slice(0, net.parameterCount);
        params.forEach((x, i) => expect(Math.abs(x - central.params[i]!), `${backend} parameter ${i}`).toBeLessThan(1e-9 * Math.max(1, Math.abs(x))));
      }
    } finally {
      c.close();
    }
  }, 180_000);

  it('an evaluation after 4 exact training rounds with a held-out split, through secure aggregation and CKKS, equals the central evaluation of the pooled held-out rows; a curious analyst\'s oversized or bad evaluation is refused with its reason', async () => {
    const plan = { model: 'mlp' as const, hidden: [4], clip: 2, learningRate: 0.05, optimizer: 'adam' as const, expectedBatch: 300, seed: 'e2e-eval', holdout: 0.3 };
    const train: Query = { kind: 'train_round', columns: ['age', 'bili', 'sex'], target: 'status', positive: ['2'], filter: [], train: plan };
    const pooled = buildDataset(schema, csv).dataset;
    const c = fed.client('modeller');
    try {
      const job = await runModelJob(c, train, { maxRounds: 4 });
      expect(job.rounds).toHaveLength(4);
      // Training used the training side of the split only (the same keyed-hash split as centrally).
      expect(job.result!.n).toBe(centralTrainRound({ ...train, state: job.result!.state }, schema, pooled).n);
      const evaluation: Query = { kind: 'train_evaluate', columns: train.columns, target: 'status', positive: ['2'], filter: [], train: plan, state: job.result!.nextState! };
      const central = centralTrainEvaluate(evaluation, schema, pooled);
      for (const backend of ['secagg', 'ckks'] as const) {
        const o = await c.run(evaluation, { backend, ...(backend === 'ckks' ? { ckksKey: key } : {}) });
        expect(o.status, o.error).toBe('done');
        const r = o.result as TrainEvaluateResult;
        expect(r.kind).toBe('train_evaluate');
        expect(r.positiveCounts).toEqual(central.positiveCounts);
        expect(r.negativeCounts).toEqual(central.negativeCounts);
        expect(Math.abs(r.auc! - central.auc!), backend).toBeLessThan(1e-12);
        expect(r.n).toBeGreaterThan(60); // ≈ 30% of pbc's 418 rows
        expect(r.n).toBeLessThan(200);
        // What was released is the 2B counts, nothing per row.
        expect(o.entryNames).toHaveLength(40);
        expect(o.entryNames.every((n) => /^count\(p in [[(][\d.]+, [\d.]+\], y = [01]\)$/.test(n))).toBe(true);
      }
      const refused: [Partial<Query>, RegExp][] = [
        [{ bins: [5000] }, /bins is the number of score bins, one integer in \[2, 1000\]/],
        [{ state: [1, 2, 3] }, /state: this model has 21 parameters/],
        [{ state: evaluation.state!.map((x, i) => (i === 0 ? 1e300 : x)) }, /state\[0\] is "1e\+300"; a parameter must be a finite number of magnitude at most 1000000/],
        [{ positive: undefined }, /binary classifiers only/],
      ];
      for (const [over, re] of refused) await expect(c.run({ ...evaluation, ...over } as Query)).rejects.toThrow(re);
    } finally {
      c.close();
    }
  }, 240_000);

  it('the metrics endpoint, scraped and parsed: connected parties, queries by kind/backend/status, round and query latency histograms, budget spent, CKKS decryptions, bytes in and out that grow with a query', async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const m = parseProm(await res.text());
    expect(m.get('blindsum_connected_parties')).toBe(3);
    expect(m.get('blindsum_roster_parties')).toBe(3);
    expect(m.get('blindsum_queries_total{kind="logistic_regression",backend="secagg",status="done"}')).toBeGreaterThanOrEqual(7);
    expect(m.get('blindsum_queries_total{kind="poisson_regression",backend="ckks",status="done"}')).toBeGreaterThanOrEqual(9);
    expect(m.get('blindsum_round_seconds_count{stage="done"}')).toBeGreaterThan(0);
    expect(m.get('blindsum_query_seconds_count{backend="ckks"}')).toBeGreaterThan(0);
    expect(m.get('blindsum_budget_spent_rho{analyst="dp-modeller"}')).toBeCloseTo(32, 9);
    expect([...m.keys()].some((k) => k.startsWith('blindsum_ckks_decryptions{key='))).toBe(true);
    expect(m.get('blindsum_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status).toBe(404);
    // A party's own endpoint: connected, its ledger, the replies it sent by kind.
    const p = parseProm(await (await fetch(`http://127.0.0.1:${partyMetricsPort}/metrics`)).text());
    expect(p.get('blindsum_party_connected')).toBe(1);
    expect(p.get('blindsum_party_budget_spent_rho')).toBeCloseTo(32, 9); // the DP job's 6 rounds at rho 16/3
    expect(p.get('blindsum_party_budget_limit_rho')).toBeGreaterThan(0);
    expect(p.get('blindsum_party_replies_total{kind="advertiseKeys"}')).toBeGreaterThan(0);
    // Bytes in and out, per gRPC method at the aggregator and to/from the aggregator at a party: all grow with one more query.
    const scrape = async (port: number): Promise<Map<string, number>> => parseProm(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    const bytes = ['blindsum_grpc_received_bytes_total{method="Connect"}', 'blindsum_grpc_sent_bytes_total{method="Connect"}', 'blindsum_grpc_received_bytes_total{method="SubmitQuery"}', 'blindsum_grpc_sent_bytes_total{method="GetResult"}', 'blindsum_grpc_sent_bytes_total{method="WatchQuery"}'];
    const partyBytes = ['blindsum_party_sent_bytes_total', 'blindsum_party_received_bytes_total'];
    const before = await scrape(metricsPort);
    const pBefore = await scrape(partyMetricsPort);
    for (const k of bytes) expect(before.get(k), k).toBeGreaterThan(0);
    for (const k of partyBytes) expect(pBefore.get(k), k).toBeGreaterThan(0);
    const c = fed.client('modeller');
    try {
      expect((await c.run({ kind: 'mean', columns: ['age'], filter: [] })).status).toBe('done');
    } finally {
      c.close();
    }
    const after = await scrape(metricsPort);
    const pAfter = await scrape(partyMetricsPort);
    for (const k of bytes) expect(after.get(k)!, k).toBeGreaterThan(before.get(k)!);
    for (const k of partyBytes) expect(pAfter.get(k)!, k).toBeGreaterThan(pBefore.get(k)!);
  });

  it('an aggregator killed between rounds ends the job at that round boundary with the reason; after a restart the job resumes from its released rounds and equals R', async () => {
    let c = fed.client('modeller');
    const err = await runModelJob(c, logistic, {
      tolerance: 1e-10,
      onRound: (r) => {
        if (r === 2) void fed.killAggregator();
      },
    }).catch((e: unknown) => e);
    c.close();
    expect(err).toBeInstanceOf(AnalystError);
    const m = /job (job-\w+) round (\d+)(?: \(.*\))?: .*; to go on: --resume (job-\w+):([\w,-]+)$/.exec((err as Error).message);
    expect(m, (err as Error).message).not.toBeNull();
    expect(Number(m![2])).toBe(3); // the round after the kill
    const ids = m![4]!.split(',');
    expect(ids).toHaveLength(2);
    await fed.startAggregator();
    await fed.waitConnected(fed.parties.map((p) => p.id));
    c = fed.client('modeller');
    try {
      const job = await runModelJob(c, logistic, { tolerance: 1e-10, resume: { job: m![3]!, queryIds: ids } });
      expect(job.rounds[0]!.queryId).toBe(ids[0]);
      expect(job.result!.converged).toBe(true);
      expectR(job.result as GlmResult, 'pbc logistic');
      // A resume that names rounds of another job is refused before anything runs.
      await expect(runModelJob(c, logistic, { resume: { job: 'job-other', queryIds: ids } })).rejects.toThrow(/is not round 1 of job job-other/);
    } finally {
      c.close();
    }
  }, 180_000);

  it('the auditor replays every job from the transcript; a round rewritten to another state is caught', () => {
    const file = exportTranscript(fed.aggregatorDataDir, {}, join(dir, 'transcript.json'));
    const roster = loadRoster(fed.rosterPath);
    const analysts = loadAnalystRoster(fed.analystsPath, roster);
    const report = verifyTranscript(file, roster, { schema, analysts });
    expect(report.ok, JSON.stringify(report.failure)).toBe(true);
    expect(report.jobRounds!.checked).toBeGreaterThanOrEqual(4); // the secagg jobs' later rounds
    expect(report.jobRounds!.unchecked).toBeGreaterThanOrEqual(4); // the CKKS job's later rounds
    // The aggregator rewrites round 3 of the secure-aggregation job to another state, re-signs the
    // entry and re-chains the log: the analyst's signature no longer covers the query, and without
    // the analyst roster the job replay still finds a state the released rounds do not lead to.
    const secret = loadIdentityFile(join(fed.aggregatorDataDir, AGGREGATOR_KEY_FILE)).identity.secretKey;
    const entries: Entry[] = exportedEntries(file);
    const k = entries.findIndex((e) => {
      if (e.kind !== EntryKind.QuerySubmitted) return false;
      const rec = JSON.parse(fromUtf8(e.body)) as { backend: string; query: Query };
      return rec.backend === 'secagg' && rec.query.round === 3;
    });
    expect(k).toBeGreaterThan(0);
    const rec = JSON.parse(fromUtf8(entries[k]!.body)) as { query: Query };
    rec.query.state = rec.query.state!.map((b, j) => (j === 1 ? b + 0.5 : b));
    entries[k] = resignEntry(secret, entries[k]!, utf8(JSON.stringify(rec)));
    rebuildTranscript(file, entries, secret);
    const signed = verifyTranscript(file, roster, { schema, analysts });
    expect(signed.ok).toBe(false);
    expect(signed.failure!.index).toBe(file.from + k);
    expect(signed.failure!.reason).toMatch(/differs from the query the analyst signed/);
    const replayed = verifyTranscript(file, roster, { schema });
    expect(replayed.ok).toBe(false);
    expect(replayed.failure!.index).toBe(file.from + k);
    expect(replayed.failure!.reason).toMatch(/round 3 of job job-\w+ is evaluated at a state that is not the job's step from the released rounds before it/);
  });

  it('a party killed between rounds: the job goes on with the other two and converges on their rows', async () => {
    const c = fed.client('modeller');
    try {
      const simple: Query = { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['age', 'bili', 'sex'], filter: [] };
      const job = await runModelJob(c, simple, {
        tolerance: 1e-10,
        onRound: (r) => {
          if (r === 2) void fed.killParty(2);
        },
      });
      expect(job.rounds[0]!.contributors).toHaveLength(3);
      expect(job.last.contributors).toHaveLength(2);
      expect(job.result!.converged).toBe(true);
      const rest = buildDataset(schema, [parts[0]!.trimEnd(), ...parts.slice(1, 2).map((p) => p.split('\n').slice(1).join('\n'))].join('\n')).dataset;
      const central = centralGlm(simple, schema, rest, { epsilon: 1e-10 });
      const fit = job.result as GlmResult;
      expect(fit.n).toBe(central.n);
      fit.coefficients.forEach((b, j) => expect(rel(b, central.coefficients[j]!)).toBeLessThan(1e-6));
    } finally {
      c.close();
    }
  }, 180_000);

  it.each(['secagg', 'ckks'] as const)('a DP evaluation through %s (the last two parties, rho 0.5) is charged like any query and releases noisy counts only, clamped at 0, with the AUC\'s noise uncertainty', async (backend) => {
    const c = fed.client('dp-modeller');
    try {
      const plan = { model: 'logistic' as const, clip: 1, learningRate: 1, optimizer: 'sgd' as const, expectedBatch: 300, seed: 'e2e-dp-eval', holdout: 0.5 };
      const evaluation: Query = { kind: 'train_evaluate', columns: ['bili'], target: 'status', positive: ['2'], filter: [], train: plan, state: [4, -0.5], bins: [10] };
      const before = (await c.getBudget()).spentRho;
      const o = await c.run(evaluation, { privacy: { rho: 0.5 }, backend, ...(backend === 'ckks' ? { ckksKey: key } : {}) });
      expect(o.status, o.error).toBe('done');
      expect(o.contributors).toHaveLength(2);
      expect(o.rhoCharged).toBeCloseTo(0.5, 12);
      expect((await c.getBudget()).spentRho).toBeCloseTo(before + 0.5, 12);
      const r = o.result as TrainEvaluateResult;
      expect(o.entryNames).toHaveLength(20);
      expect(o.noiseStd.every((x) => x > 0 && x === o.noiseStd[0])).toBe(true); // one noise level: a one-hot count kind
      expect([...r.positiveCounts, ...r.negativeCounts].every((x) => x >= 0 && Number.isInteger(x))).toBe(true);
      expect(r.notes.join(' ')).toMatch(/negative noisy counts are clamped at 0/);
      expect(o.uncertainty['auc']).toBeGreaterThan(0);
      // The exact evaluation of the same two parties' held-out rows, centrally.
      const rest = buildDataset(schema, [parts[0]!.trimEnd(), ...parts.slice(1, 2).map((p) => p.split('\n').slice(1).join('\n'))].join('\n')).dataset;
      const exact = centralTrainEvaluate(evaluation, schema, rest);
      expect(Math.abs(r.n - exact.n)).toBeLessThan(20 * 6 * o.noiseStd[0]!);
      expect(Math.abs(r.auc! - exact.auc!)).toBeLessThan(10 * o.uncertainty['auc']! + 0.02);
    } finally {
      c.close();
    }
  }, 120_000);
});
