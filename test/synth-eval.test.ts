/**
 * The evaluation metrics against hand-computed values and brute force: TVD, KS, Pearson, AUC
 * (Mann–Whitney with ties), logistic regression (recovers known coefficients), Gower distance,
 * privacy scores on copies vs fresh draws, and the report of the real data against itself.
 */
import { describe, expect, it } from 'vitest';
import { seededRandomSource, type RandomSource } from '../crypto/dp/random.ts';
import { buildDataset, parseSchema, selectRows } from '../stats/index.ts';
import { gower, gowerRows, gowerScales } from '../stats/eval/encode.ts';
import { holdoutSplit } from '../stats/eval/holdout.ts';
import { fitLogistic, logisticScores } from '../stats/eval/logistic.ts';
import { auc, ksStatistic, median, pearson, tvd } from '../stats/eval/metrics.ts';
import { privacyScores, sampleIndices } from '../stats/eval/privacy-metrics.ts';
import { evaluate } from '../stats/eval/report.ts';
import { uniform01 } from '../crypto/dp/random.ts';
import { loadExample } from './stats-helpers.ts';

const rng = (k: number): RandomSource => seededRandomSource(new Uint8Array(32).fill(k));
const normal = (r: RandomSource): number => Math.sqrt(-2 * Math.log(1 - uniform01(r))) * Math.cos(2 * Math.PI * uniform01(r));

describe('metrics', () => {
  it('tvd of normalized counts', () => {
    expect(tvd([1, 1, 2], [2, 2, 4])).toBe(0);
    expect(tvd([1, 0], [0, 5])).toBe(1);
    expect(tvd([3, 1], [1, 1])).toBeCloseTo(0.25, 15); // |.75 − .5| + |.25 − .5| over 2
  });

  it('ksStatistic: disjoint samples 1, identical 0, a hand-computed value with ties, NaN ignored', () => {
    expect(ksStatistic([1, 2, 3], [4, 5, 6])).toBe(1);
    expect(ksStatistic([1, 2, 2, 3], [3, 2, 2, 1])).toBe(0);
    // F_a steps 1/5 at 1..5; F_b steps 1/6 at 3..8: gaps 0.4 (x = 2), 0.6 − 1/6, 0.8 − 2/6, 1 − 3/6 (x = 5)
    expect(ksStatistic([1, 2, 3, 4, 5], [3, 4, 5, 6, 7, 8])).toBeCloseTo(0.5, 12);
    expect(ksStatistic([1, NaN, 2], [1, 2, NaN])).toBe(0);
  });

  it('pearson over pairwise-complete values', () => {
    expect(pearson([1, 2, 3, 4], [2, 4, 6, 8])).toBeCloseTo(1, 15);
    expect(pearson([1, 2, 3, 4], [8, 6, 4, 2])).toBeCloseTo(-1, 15);
    expect(pearson([1, 2, NaN, 3], [1, 3, 100, 2])).toBeCloseTo(0.5, 12);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNull();
  });

  it('auc equals the brute-force pair count with ties counted half', () => {
    expect(auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    const r = rng(1);
    const scores = Array.from({ length: 200 }, () => Math.floor(uniform01(r) * 10));
    const labels = scores.map((s) => uniform01(r) < 0.2 + s / 15);
    let wins = 0;
    let pairs = 0;
    scores.forEach((s, i) => scores.forEach((t, j) => {
      if (!labels[i] || labels[j]) return;
      pairs++;
      wins += s > t ? 1 : s === t ? 0.5 : 0;
    }));
    expect(auc(scores, labels)).toBeCloseTo(wins / pairs, 12);
    expect(median([3, 1, NaN, 2])).toBe(2);
  });

  it('logistic regression recovers known coefficients from 20000 simulated rows', () => {
    const r = rng(2);
    const beta = [-0.5, 1.2, -0.8];
    const X: Float64Array[] = [];
    const y: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const x = Float64Array.from([normal(r), normal(r)]);
      const z = beta[0]! + beta[1]! * x[0]! + beta[2]! * x[1]!;
      X.push(x);
      y.push(uniform01(r) < 1 / (1 + Math.exp(-z)) ? 1 : 0);
    }
    const m = fitLogistic(X, y, { lambda: 1e-6 });
    m.coefficients.forEach((b, i) => expect(Math.abs(b - beta[i]!)).toBeLessThan(0.06));
    expect(auc(logisticScores(m, X), y)).toBeGreaterThan(0.75);
  });
});

describe('distances and privacy scores', () => {
  const schema = parseSchema({ name: 't', maxRowsPerParty: 100, columns: [
    { name: 'x', type: 'numeric', min: 0, max: 100 }, { name: 'c', type: 'categorical', categories: ['a', 'b'] },
  ] });

  it('gower distance: numbers over the real range, categories 0/1, missing 1 against a value', () => {
    const real = buildDataset(schema, 'x,c\n0,a\n50,b\n100,a\n').dataset;
    const other = buildDataset(schema, 'x,c\n25,a\n,b\n').dataset;
    const s = gowerScales(schema, real);
    const g = gowerRows(schema, real, s);
    const o = gowerRows(schema, other, s);
    expect(gower(g, 0, o, 0)).toBeCloseTo(0.125, 15); // (0.25 + 0) / 2
    expect(gower(g, 1, o, 1)).toBe(0.5); // missing vs 50: 1; b = b: 0
    expect(gower(o, 1, o, 1)).toBe(0);
  });

  const pbc = loadExample('pbc');
  const { train, holdout } = holdoutSplit(pbc.csv, 0.25, 'eval-test');
  const tr = buildDataset(pbc.schema, train).dataset;
  const ho = buildDataset(pbc.schema, holdout).dataset;
  const scales = gowerScales(pbc.schema, tr);

  it('copies of the training data: every synthetic record is a training record; the attack wins', () => {
    const p = privacyScores(gowerRows(pbc.schema, tr, scales), gowerRows(pbc.schema, ho, scales), gowerRows(pbc.schema, tr, scales), rng(3), 200);
    expect(p.exactCopies).toBe(1);
    // distances go to a holdout-sized training sample: only the sampled rows are at distance 0
    expect(p.comparedRows).toBe(ho.rowCount);
    expect(p.exactCopiesTrainSample).toBeCloseTo(ho.rowCount / tr.rowCount, 12);
    expect(p.exactCopiesHoldout).toBe(0);
    expect(p.closerToTrainShare).toBeGreaterThan(0.6);
    expect(p.membershipInferenceAuc).toBeGreaterThan(0.65);
  });

  it('fresh real records (a random half of the holdout) are no closer to the training data than to the other half', () => {
    const order = sampleIndices(ho.rowCount, ho.rowCount, rng(5));
    const half = Math.floor(ho.rowCount / 2);
    const a = selectRows(ho, order.slice(0, half));
    const b = selectRows(ho, order.slice(half));
    const p = privacyScores(gowerRows(pbc.schema, tr, scales), gowerRows(pbc.schema, a, scales), gowerRows(pbc.schema, b, scales), rng(4), 200);
    expect(p.exactCopies).toBe(0);
    expect(Math.abs(p.closerToTrainShare - 0.5)).toBeLessThan(0.15);
    expect(Math.abs(p.membershipInferenceAuc - 0.5)).toBeLessThan(0.15);
  });

  it('the report of the real training data against itself: zero TVD, KS and correlation difference', () => {
    const rep = evaluate(pbc.schema, tr, ho, [{ name: 'self', label: 'self', data: tr }], { outcome: { column: 'status', positive: '2' } });
    const m = rep.methods[0]!;
    expect(m.fidelity.pairTvdMean).toBe(0);
    expect(m.fidelity.meanColumnTvd).toBe(0);
    expect(m.fidelity.meanKs).toBe(0);
    expect(m.fidelity.correlation.maxAbsDiff).toBe(0);
    expect(m.utility!.tstrAuc).toBe(m.utility!.trtrAuc);
    expect(m.utility!.trtrAuc).toBeGreaterThan(0.75);
  });
});
