/**
 * Federated evaluation (train_evaluate) and the held-out split: a row's side of the split is the
 * same whether a party or the central reference decides it; training rounds skip held-out rows;
 * the evaluation of three parties' held-out rows equals the central reference on the pooled rows
 * (counts exactly, metrics to 1e-12) on flchain (death) and pbc (status 2 vs not); metrics from
 * counts equal the per-row metrics on bin-centre scores; under DP (the real plan and noise code)
 * the AUC stays within a stated tolerance of the exact one.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { centralTrainEvaluate } from '../stats/central-train-evaluate.ts';
import { centralTrainRound } from '../stats/kinds/train-round.ts';
import {
  DP_GRID_BITS, finalize, formatResult, localStatistics, noiseShare, noiseStd, noiseUncertainty, parseQueryJson, planNoise, planQuery, splitDataset, validateQuery,
  type Dataset, type Query, type Schema, type TrainEvaluateResult, type TrainRoundResult,
} from '../stats/index.ts';
import {
  accuracy, auc, aucFromCounts, calibration, encodeFeatures, evaluationRows, holdoutMask, holdoutUniforms, logLoss, metricsFromCounts, network, predict,
  scoreBin, trainCentral, trainingRows, type ModelSpec,
} from '../stats/train/index.ts';
import { loadExample } from './stats-helpers.ts';

const flchain = loadExample('flchain');
const pbc = loadExample('pbc');

interface Case {
  name: string;
  schema: Schema;
  dataset: Dataset;
  columns: string[];
  target: string;
  positive: string[];
  model: ModelSpec;
  train: NonNullable<Query['train']>;
}

const CASES: Case[] = [
  {
    name: 'flchain (death), logistic regression', schema: flchain.schema, dataset: flchain.dataset, columns: ['age', 'sex', 'creatinine', 'kappa', 'lambda'], target: 'death', positive: ['1'],
    model: { type: 'logistic' }, train: { model: 'logistic', clip: 1, learningRate: 1, optimizer: 'sgd', expectedBatch: 5000, seed: 'eval', holdout: 0.3 },
  },
  {
    name: 'pbc (status 2 vs not), MLP [8] with FedAdam', schema: pbc.schema, dataset: pbc.dataset, columns: ['age', 'bili', 'albumin', 'sex', 'edema'], target: 'status', positive: ['2'],
    model: { type: 'mlp', hidden: [8] }, train: { model: 'mlp', hidden: [8], clip: 2, learningRate: 0.05, optimizer: 'adam', expectedBatch: 300, seed: 'eval', holdout: 0.25 },
  },
];

/** Parameters trained centrally on the training side of the split (30 full-batch rounds), and the FedAdam state. */
function trained(c: Case): { params: number[]; state: number[] } {
  const data = encodeFeatures({ columns: c.columns, target: c.target, positive: c.positive }, c.schema, trainingRows(c.dataset, c.train));
  const net = network(c.model, data.d);
  const r = trainCentral(net, data.X, data.y, { rounds: 30, q: 1, clip: c.train.clip, seed: c.train.seed, optimizer: c.train.optimizer === 'adam' ? { kind: 'adam', lr: c.train.learningRate } : { kind: 'sgd', lr: c.train.learningRate } });
  const state = r.state.m ? [...r.params, ...r.state.m, ...r.state.v!, r.state.step] : [...r.params];
  return { params: [...r.params], state };
}

function evalQuery(c: Case, state: number[], over: Partial<Query> = {}): Query {
  return { kind: 'train_evaluate', columns: c.columns, target: c.target, positive: c.positive, filter: [], train: c.train, state, ...over };
}

/** Three parties' exact sums added up, finalized (noiseStd: a DP release). */
function federated(q: Query, schema: Schema, parts: Dataset[]): { sums: bigint[]; result: TrainEvaluateResult } {
  const plan = planQuery(q, schema, { parties: parts.length, ringBits: 64 });
  const sums = plan.entries.map(() => 0n);
  for (const p of parts) localStatistics(q, schema, plan, p).sums.forEach((s, i) => (sums[i]! += s));
  return { sums, result: finalize(q, schema, plan, sums) as TrainEvaluateResult };
}

describe('the held-out split', () => {
  it('decides a row by its content: three parties\' splits are the pooled split, row for row', () => {
    const parts = splitDataset(flchain.dataset, 3, 'holdout');
    const pooled = [...holdoutUniforms(flchain.dataset, 'eval')].sort((a, b) => a - b);
    const fromParts = parts.flatMap((p) => [...holdoutUniforms(p, 'eval')]).sort((a, b) => a - b);
    expect(fromParts).toEqual(pooled);
    const held = parts.reduce((s, p) => s + holdoutMask(p, 'eval', 0.3)!.reduce((a, b) => a + b, 0), 0);
    expect(held).toBe(holdoutMask(flchain.dataset, 'eval', 0.3)!.reduce((a, b) => a + b, 0));
    // About 30% of 7874 rows (3 binomial standard deviations: ±122).
    expect(Math.abs(held - 0.3 * flchain.dataset.rowCount)).toBeLessThan(3 * Math.sqrt(flchain.dataset.rowCount * 0.21));
    // Another seed, another split; holdout 0 holds out nothing.
    const other = holdoutMask(flchain.dataset, 'other', 0.3)!;
    const mine = holdoutMask(flchain.dataset, 'eval', 0.3)!;
    expect(mine.some((m, i) => m !== other[i])).toBe(true);
    expect(holdoutMask(flchain.dataset, 'eval', 0)).toBeNull();
    expect(() => holdoutMask(flchain.dataset, 'eval', 0.95)).toThrow(/holdout: expected a fraction in \[0, 0.9\]/);
  });

  it('is the documented hash: SHA-256(tag ‖ 0 ‖ u32be(len seed) ‖ seed ‖ each non-identifier column\'s tagged value), first 53 bits', () => {
    // Built here from docs/training.md, byte by byte, for pbc's first rows (numeric, integer,
    // categorical and missing values; the identifier column left out).
    const cols = pbc.schema.columns.filter((c) => c.type !== 'identifier');
    const u = holdoutUniforms(pbc.dataset, 'pbc seed');
    const numeric = [...pbc.dataset.columns.values()].filter((c) => c.kind === 'numeric');
    const missing = Array.from({ length: pbc.dataset.rowCount }, (_, r) => r).find((r) => numeric.some((c) => Number.isNaN(c.values[r]!)))!;
    expect(missing).toBeGreaterThan(0); // a row with a missing value is covered
    for (const r of [0, 1, 2, 3, 4, missing]) {
      const parts: Buffer[] = [Buffer.from('blindsum/v1/train/holdout'), Buffer.from([0]), Buffer.alloc(4), Buffer.from('pbc seed')];
      parts[2]!.writeUInt32BE(Buffer.byteLength('pbc seed'));
      for (const c of cols) {
        const col = pbc.dataset.columns.get(c.name)!;
        const b = Buffer.alloc(9);
        if (col.kind === 'numeric') {
          const v = col.values[r]!;
          if (!Number.isNaN(v)) {
            b[0] = 1;
            b.writeDoubleBE(v === 0 ? 0 : v, 1);
          }
        } else {
          b[0] = 2;
          b.writeInt32BE(col.codes[r]!, 1);
        }
        parts.push(b);
      }
      const h = createHash('sha256').update(Buffer.concat(parts)).digest();
      const want = Number(h.readBigUInt64BE(0) >> 11n) / 2 ** 53;
      expect(u[r]).toBe(want);
    }
  });

  it('a training round skips the held-out rows, federated as centrally (training rows + held-out rows = all rows)', () => {
    const c = CASES[0]!;
    const q: Query = { kind: 'train_round', columns: c.columns, target: c.target, positive: c.positive, filter: [], train: c.train };
    const parts = splitDataset(c.dataset, 3, 'round');
    const plan = planQuery(q, c.schema, { parties: 3, ringBits: 64 });
    const sums = plan.entries.map(() => 0n);
    for (const p of parts) localStatistics(q, c.schema, plan, p).sums.forEach((s, i) => (sums[i]! += s));
    const fed = finalize(q, c.schema, plan, sums) as TrainRoundResult;
    const central = centralTrainRound(q, c.schema, c.dataset);
    expect(fed.n).toBe(central.n);
    fed.nextState!.forEach((x, i) => expect(Math.abs(x - central.nextState![i]!)).toBeLessThan(1e-9 * Math.max(1, Math.abs(x))));
    const all = encodeFeatures({ columns: c.columns, target: c.target, positive: c.positive }, c.schema, c.dataset).rows;
    const heldOut = encodeFeatures({ columns: c.columns, target: c.target, positive: c.positive }, c.schema, evaluationRows(c.dataset, c.train)).rows;
    expect(fed.n + heldOut).toBe(all);
    expect(heldOut).toBeGreaterThan(0.25 * all);
  });

  it.each([[0.95], [-0.1], ['0.3'], [null]])('the plan refuses holdout %j with the reason', (h) => {
    const json = { kind: 'train_round', columns: ['age'], target: 'death', positive: ['1'], train: { model: 'logistic', clip: 1, learningRate: 1, optimizer: 'sgd', expectedBatch: 10, seed: 's', holdout: h } };
    expect(() => parseQueryJson(json)).toThrow(/train.holdout: the held-out fraction must be a number in \[0, 0.9\] \(0: no held-out rows\)/);
  });
});

describe('metrics from a score histogram', () => {
  it('scoreBin: upper-closed bins on the float64 edges k/B; p > 0.5 ⇔ bin ≥ B/2', () => {
    expect(scoreBin(0, 20)).toBe(0);
    expect(scoreBin(0.05, 20)).toBe(0);
    expect(scoreBin(0.05 + 1e-17, 20)).toBe(1); // the next double above the edge 1/20
    expect(scoreBin(0.5, 20)).toBe(9);
    expect(scoreBin(0.5 + 2 ** -53, 20)).toBe(10);
    expect(scoreBin(1, 20)).toBe(19);
    for (let k = 0; k < 2000; k++) {
      const p = (Math.sin(k * 12.9898) * 43758.5453) % 1;
      const q = Math.abs(p);
      const b = scoreBin(q, 7);
      expect(q > b / 7 || b === 0).toBe(true);
      expect(q <= (b + 1) / 7).toBe(true);
    }
  });

  it('aucFromCounts equals the exact AUC of scores on the bin centres; the other metrics equal the per-row ones', () => {
    const B = 10;
    const scores: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < 500; i++) {
      const b = Math.floor(((Math.sin(i * 78.233) * 43758.5453) % 1 + 1) * 5) % B;
      scores.push((b + 0.5) / B);
      y.push(((Math.sin(i * 3.7) + 1) / 2) * 1.3 < (b + 0.5) / B + 0.2 ? 1 : 0);
    }
    const pos = new Array<number>(B).fill(0);
    const neg = new Array<number>(B).fill(0);
    scores.forEach((s, i) => (y[i] === 1 ? pos : neg)[scoreBin(s, B)]!++);
    const m = metricsFromCounts(pos, neg);
    expect(new Set(scores).size).toBeLessThanOrEqual(B); // heavily tied
    expect(Math.abs(aucFromCounts(pos, neg) - auc(scores, y))).toBeLessThan(1e-14);
    expect(Math.abs(m.auc! - auc(scores, y))).toBeLessThan(1e-14);
    expect(Math.abs(m.accuracy! - accuracy(scores, y))).toBeLessThan(1e-14);
    expect(Math.abs(m.logLoss! - logLoss(scores, y))).toBeLessThan(1e-12);
    expect(Math.abs(m.brier! - scores.reduce((s, p, i) => s + (p - y[i]!) ** 2, 0) / y.length)).toBeLessThan(1e-14);
    expect(Math.abs(m.ece! - calibration(scores, y, B).ece)).toBeLessThan(1e-12);
    expect(m.n).toBe(500);
    expect(metricsFromCounts([0, 0], [0, 0])).toMatchObject({ n: 0, auc: null, accuracy: null, logLoss: null });
  });
});

describe('federated evaluation without noise equals the central reference', () => {
  for (const c of CASES) {
    it(`${c.name}: three parties' held-out rows give the central counts exactly and its metrics to 1e-12`, () => {
      const { state, params } = trained(c);
      const q = evalQuery(c, state); // the FedAdam state is accepted whole: its first P numbers are the model
      validateQuery(q, c.schema);
      const parts = splitDataset(c.dataset, 3, c.name);
      const { result: fed } = federated(q, c.schema, parts);
      const central = centralTrainEvaluate(q, c.schema, c.dataset);
      expect(fed.positiveCounts).toEqual(central.positiveCounts);
      expect(fed.negativeCounts).toEqual(central.negativeCounts);
      expect(fed.n).toBe(central.n);
      expect(fed.positives).toBe(central.positives);
      for (const f of ['auc', 'accuracy', 'logLoss', 'brier', 'ece'] as const) expect(Math.abs(fed[f]! - central[f]!), f).toBeLessThan(1e-12);
      fed.calibration.forEach((b, i) => {
        expect(b.count).toBe(central.calibration[i]!.count);
        expect(b.observed === null ? null : Math.abs(b.observed - central.calibration[i]!.observed!)).toBe(central.calibration[i]!.observed === null ? null : 0);
      });
      // Only the held-out rows were evaluated, and the model is better than chance on them.
      const heldOut = encodeFeatures({ columns: c.columns, target: c.target, positive: c.positive }, c.schema, evaluationRows(c.dataset, c.train));
      expect(fed.n).toBe(heldOut.rows);
      expect(fed.auc!).toBeGreaterThan(0.7);
      // The Brier score from bin centres is within 1/B of the rows' own; the binned AUC close to the exact AUC.
      const p = predict(network(c.model, heldOut.d), Float64Array.from(params), heldOut.X);
      const brier = p.reduce((s, x, i) => s + (x - heldOut.y[i]!) ** 2, 0) / heldOut.rows;
      expect(Math.abs(fed.brier! - brier)).toBeLessThanOrEqual(1 / 20);
      expect(Math.abs(fed.auc! - auc(p, heldOut.y))).toBeLessThan(0.02);
      expect(Math.abs(fed.logLoss! - logLoss(p, heldOut.y))).toBeLessThan(0.05);
      expect(fed.notes.join(' ')).toMatch(/log loss and Brier score are computed from the bin centres/);
      expect(formatResult(fed)).toMatch(/^evaluation of P\(.+\) on the held-out rows \(fraction 0\.(3|25)\): n = \d+, positives \d+\nAUC 0\.\d+/);
      // The parameters alone (P numbers) give the same evaluation.
      expect(federated(evalQuery(c, params), c.schema, parts).result.positiveCounts).toEqual(fed.positiveCounts);
    });
  }

  it('with holdout 0 every row is evaluated, with a note that these are training rows', () => {
    const c = { ...CASES[0]!, train: { ...CASES[0]!.train, holdout: 0 } };
    const { params } = trained(c);
    const q = evalQuery(c, params, { bins: [50] });
    const { result } = federated(q, c.schema, splitDataset(c.dataset, 3, 'h0'));
    expect(result.n).toBe(encodeFeatures({ columns: c.columns, target: c.target, positive: c.positive }, c.schema, c.dataset).rows);
    expect(result.positiveCounts).toHaveLength(50);
    expect(result.positiveCounts).toEqual(centralTrainEvaluate(q, c.schema, c.dataset).positiveCounts);
    expect(result.notes.join(' ')).toMatch(/holdout is 0: the evaluation is on the training rows/);
  });

  it('a filter restricts the evaluated rows as centrally (held-out rows with age ≥ 70, odd B = 7)', () => {
    const c = CASES[0]!;
    const { params } = trained(c);
    const q = evalQuery(c, params, { bins: [7], filter: [{ column: 'age', op: 'ge', values: [70] }] });
    validateQuery(q, c.schema);
    const { result } = federated(q, c.schema, splitDataset(c.dataset, 3, 'filter'));
    const central = centralTrainEvaluate(q, c.schema, c.dataset);
    expect(result.positiveCounts).toEqual(central.positiveCounts);
    expect(result.negativeCounts).toEqual(central.negativeCounts);
    expect(Math.abs(result.accuracy! - central.accuracy!)).toBeLessThan(1e-12);
    expect(result.n).toBeLessThan(federated(evalQuery(c, params, { bins: [7] }), c.schema, splitDataset(c.dataset, 3, 'filter')).result.n);
    expect(result.notes.join(' ')).toMatch(/odd number of bins \(7\)/);
  });
});

describe('federated evaluation under DP (the real plan and noise code)', () => {
  it('flchain at rho = 0.5: the noisy AUC is within 0.025 of the exact one in 20 draws, counts clamped at 0, one noise level for all counts', () => {
    const c = CASES[0]!;
    const { params } = trained(c);
    const q = evalQuery(c, params);
    const plan = planQuery(q, c.schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const np = planNoise(q, c.schema, plan, { rho: 0.5, parties: 3, threshold: 2 });
    expect(np.oneHot).toBe(true);
    const parts = splitDataset(c.dataset, 3, 'dp');
    const sums = plan.entries.map(() => 0n);
    for (const p of parts) localStatistics(q, c.schema, plan, p).sums.forEach((s, i) => (sums[i]! += s));
    const exact = finalize(q, c.schema, plan, sums) as TrainEvaluateResult;
    const std = noiseStd(np, plan, 3);
    // One-hot: every count gets the same noise (≈ 2 with all three parties' shares, sized for t = 2).
    expect(std.every((x) => x === std[0])).toBe(true);
    expect(std[0]!).toBeGreaterThan(1);
    expect(std[0]!).toBeLessThan(3);
    const rng = seededRandomSource(new Uint8Array(32).fill(7));
    // AUC tolerance 0.025: measured over 200 draws on these ~1950 held-out rows, |ΔAUC| has median
    // 0.005, 95th percentile 0.012 and maximum 0.019 (docs/training.md); most of it is the clamped
    // noise of the empty bins (≈ 0.8σ of spurious rows each), which the top bins weigh most.
    let clampedSeen = false;
    for (let draw = 0; draw < 20; draw++) {
      const shares = [0, 1, 2].map(() => noiseShare(np, rng));
      const noisy = sums.map((s, i) => s + shares[0]![i]! + shares[1]![i]! + shares[2]![i]!);
      const r = finalize(q, c.schema, plan, noisy, std) as TrainEvaluateResult;
      expect(Math.abs(r.auc! - exact.auc!), `draw ${draw}`).toBeLessThan(0.025);
      expect(Math.abs(r.n - exact.n)).toBeLessThan(40 * 5 * std[0]!);
      expect([...r.positiveCounts, ...r.negativeCounts].every((x) => x >= 0)).toBe(true);
      expect(r.notes.join(' ')).toMatch(/negative noisy counts are clamped at 0/);
      if (noisy.some((x) => x < 0n)) clampedSeen = true;
      if (draw === 0) {
        const u = noiseUncertainty(q, c.schema, plan, np, noisy, 3);
        expect(u['auc']!).toBeGreaterThan(0);
        expect(u['auc']!).toBeLessThan(0.025);
      }
    }
    // The empty extreme bins make negative noisy counts likely: the clamp is exercised.
    expect(clampedSeen).toBe(true);
  });
});
