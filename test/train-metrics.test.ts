/**
 * Evaluation metrics of the training jobs (stats/train/metrics.ts): AUC against R's Mann–Whitney
 * statistic (test/reference/auc.R → auc.json) with ties, AUC from score histograms, accuracy at
 * 0.5, log loss and reliability bins.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { accuracy, auc, aucFromCounts, calibration, evaluate, logLoss } from '../stats/train/index.ts';

type Case = { scores: number[]; labels: number[]; auc: number };
const R = JSON.parse(readFileSync('test/reference/auc.json', 'utf8')) as { ties: Case; fewValues: Case };

describe('AUC', () => {
  for (const name of ['ties', 'fewValues'] as const) {
    it(`equals R's wilcox.test statistic / (n1·n0) with tied scores (${name})`, () => {
      const c = R[name];
      expect(new Set(c.scores).size).toBeLessThan(c.scores.length / 3); // many ties
      expect(auc(c.scores, c.labels)).toBeCloseTo(c.auc, 13);
    });
  }

  it('is 1 for a perfect ranking, 0 for a reversed one, ½ when every score ties, NaN with one class', () => {
    expect(auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(auc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0])).toBe(0);
    expect(auc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0])).toBe(0.5);
    // One tied pair out of 2·2: (3 + ½)/4.
    expect(auc([0.1, 0.5, 0.5, 0.9], [0, 0, 1, 1])).toBe(0.875);
    expect(auc([0.1, 0.2], [1, 1])).toBeNaN();
    expect(() => auc([0.1], [2])).toThrow(/not 0 or 1/);
    expect(() => auc([0.1, 0.2], [1])).toThrow(/2 predictions but 1 labels/);
  });

  it('from per-bin counts (score histograms) equals the AUC of the scores replaced by their bin', () => {
    const c = R.ties;
    const lo = Math.min(...c.scores);
    const bin = (s: number): number => Math.floor((s - lo) / 0.5);
    const nb = Math.max(...c.scores.map(bin)) + 1;
    const pos = new Array<number>(nb).fill(0);
    const neg = new Array<number>(nb).fill(0);
    c.scores.forEach((s, i) => (c.labels[i] === 1 ? pos : neg)[bin(s)]!++);
    expect(aucFromCounts(pos, neg)).toBeCloseTo(auc(c.scores.map(bin), c.labels), 14);
    // Coarser than the scores: binning loses some ranking.
    expect(Math.abs(aucFromCounts(pos, neg) - c.auc)).toBeGreaterThan(1e-4);
    expect(aucFromCounts([0, 1], [1, 0])).toBe(1);
    expect(() => aucFromCounts([1], [1, 2])).toThrow(/1 positive bins but 2 negative bins/);
  });
});

describe('accuracy, log loss, calibration', () => {
  const p = [0.05, 0.15, 0.5, 0.55, 0.95, 1, 0];
  const y = [0, 1, 1, 1, 1, 1, 1];

  it('accuracy counts p > 0.5 as a prediction of 1', () => {
    // Right: 0.05→0, 0.55→1, 0.95→1, 1→1; wrong: 0.15, 0.5, 0.
    expect(accuracy(p, y)).toBeCloseTo(4 / 7, 15);
  });

  it('log loss clamps p to [1e-15, 1 − 1e-15]: a certain mistake costs −log(1e-15)', () => {
    const want = -(Math.log(0.95) + Math.log(0.15) + Math.log(0.5) + Math.log(0.55) + Math.log(0.95) + Math.log(1 - 1e-15) + Math.log(1e-15)) / 7;
    expect(logLoss(p, y)).toBeCloseTo(want, 12);
    expect(logLoss([1e-300], [1])).toBeCloseTo(-Math.log(1e-15), 12);
  });

  it('reliability bins: rows, mean predicted and observed rate per bin (p = 1 in the last bin), and the expected calibration error', () => {
    const { bins, ece } = calibration(p, y, 4);
    expect(bins.map((b) => b.count)).toEqual([3, 0, 2, 2]);
    expect(bins[0]!.meanPredicted).toBeCloseTo(0.2 / 3, 15);
    expect(bins[0]!.observed).toBeCloseTo(2 / 3, 15);
    expect(bins[1]!.meanPredicted).toBeNull();
    expect(bins[2]!.meanPredicted).toBeCloseTo(0.525, 15);
    expect(bins[2]!.observed).toBe(1);
    expect(bins[3]!.meanPredicted).toBeCloseTo(0.975, 15);
    expect([bins[3]!.lo, bins[3]!.hi]).toEqual([0.75, 1]);
    expect(ece).toBeCloseTo((3 * Math.abs(0.2 / 3 - 2 / 3) + 2 * 0.475 + 2 * 0.025) / 7, 14);
    expect(() => calibration([1.5], [1])).toThrow(/not a probability/);
  });

  it('evaluate reports all of them', () => {
    const e = evaluate(p, y, 4);
    expect(e).toMatchObject({ n: 7, accuracy: accuracy(p, y), logLoss: logLoss(p, y), auc: auc(p, y) });
    expect(e.calibration).toHaveLength(4);
  });
});
