/**
 * covariance and correlation with categorical columns (treatment coding, as linear_regression:
 * an indicator per level but the first listed, "(missing)" missing; numeric-coded levels such as
 * stage "1".."4" work the same way): three parties' sums give R's cov/cor of
 * model.matrix(~ factor(g) + x + y)[, -1] on pbc (test/reference/cor-factor.R) to 1e-6, so does
 * the independent central reference; the DP plan's sensitivity treats an indicator as a 0/1
 * variable, and the noise verdict judges it on its range of 1.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { centralResult } from '../stats/central.ts';
import {
  DP_GRID_BITS, finalize, localStatistics, noiseShare, noiseUncertainty, planNoise, planQuery, splitDataset, validateQuery,
  type CorrelationResult, type CovarianceResult, type Query,
} from '../stats/index.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { noiseVerdict } from '../stats/noise-verdict.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');
type Ref = { n: number; columns: string[]; means: number[]; covariance: number[][]; correlation: number[][] };
const R = JSON.parse(readFileSync('test/reference/cor-factor.json', 'utf8')) as Record<string, Ref>;
const CASES: [string, string[]][] = [
  ['stage_age_albumin', ['stage', 'age', 'albumin']],
  ['sex_edema_bili', ['sex', 'edema', 'bili']],
  ['trt_stage_protime', ['trt', 'stage', 'protime']],
  ['stage_only', ['stage']],
];
const close = (a: number | null, b: number): boolean => a !== null && Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(b), 1e-3);

function federated(q: Query, parties: number, seed: string): ReturnType<typeof finalize> {
  const plan = planQuery(q, pbc.schema, { parties, ringBits: 64 });
  const sums = plan.entries.map(() => 0n);
  for (const part of splitDataset(pbc.dataset, parties, seed)) localStatistics(q, pbc.schema, plan, part).sums.forEach((s, i) => (sums[i]! += s));
  return finalize(q, pbc.schema, plan, sums);
}

describe('covariance and correlation with categorical columns equal R on model.matrix', () => {
  for (const [name, columns] of CASES) {
    const r = R[name]!;
    it(`${name}: cov and cor of ${r.columns.join(', ')} from three parties' sums, and centrally`, () => {
      const qc: Query = { kind: 'covariance', columns, filter: [] };
      const qr: Query = { kind: 'correlation', columns, filter: [] };
      for (const cov of [federated(qc, 3, name) as CovarianceResult, centralResult(qc, pbc.schema, pbc.dataset) as CovarianceResult]) {
        expect(cov.n).toBe(r.n);
        expect(cov.columns).toEqual(r.columns);
        cov.means.forEach((m, i) => expect(close(m, r.means[i]!), `mean ${r.columns[i]}: ${m} vs ${r.means[i]}`).toBe(true));
        cov.matrix.forEach((row, i) => row.forEach((v, j) => expect(close(v, r.covariance[i]![j]!), `cov[${r.columns[i]}, ${r.columns[j]}]: ${v} vs ${r.covariance[i]![j]}`).toBe(true)));
      }
      for (const cor of [federated(qr, 3, name) as CorrelationResult, centralResult(qr, pbc.schema, pbc.dataset) as CorrelationResult]) {
        expect(cor.n).toBe(r.n);
        expect(cor.columns).toEqual(r.columns);
        cor.matrix.forEach((row, i) => row.forEach((v, j) => expect(close(v, r.correlation[i]![j]!), `cor[${r.columns[i]}, ${r.columns[j]}]: ${v} vs ${r.correlation[i]![j]}`).toBe(true)));
      }
    });
  }

  it('the layout widens to the indicators, each bounded by 1 (the DP sensitivity of an indicator\'s sum is one grid step per row)', () => {
    const q: Query = { kind: 'correlation', columns: ['stage', 'age'], filter: [] };
    const plan = planQuery(q, pbc.schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const names = plan.entries.map((e) => e.name);
    // n, 4 sums, 10 products of [stage2, stage3, stage4, age].
    expect(names).toHaveLength(1 + 4 + 10);
    expect(names.slice(0, 5)).toEqual(['n', 'sum(stage2)', 'sum(stage3)', 'sum(stage4)', 'sum(age-59)']);
    const byName = new Map(plan.entries.map((e) => [e.name, e]));
    expect(byName.get('sum(stage2)')).toMatchObject({ bound: 1, integer: true });
    expect(byName.get('sum(stage2*stage3)')).toMatchObject({ bound: 1, integer: true });
    expect(byName.get('sum(stage2*(age-59))')!.bound).toBe(41); // age in [18, 100] shifted by its centre 59;
    const np = planNoise(q, pbc.schema, plan, { rho: 1, parties: 3, threshold: 2 });
    // An indicator entry's grid sensitivity is one row's 0/1 on its grid: 1 (integer, bound 1).
    expect(np.perEntry[1]!.sensitivity.l1).toBe(1n);
  });

  it('under DP the noise verdict judges the indicators on a 0–1 range', () => {
    const q: Query = { kind: 'correlation', columns: ['stage', 'age'], filter: [] };
    const plan = planQuery(q, pbc.schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const np = planNoise(q, pbc.schema, plan, { rho: 1, parties: 3, threshold: 2, collusion: 0 });
    // seeded: the same noise shares every run
    const rng = seededRandomSource(new Uint8Array(32).fill(41));
    const sums = plan.entries.map(() => 0n);
    for (const part of splitDataset(pbc.dataset, 3, 'dp')) {
      const share = noiseShare(np, rng);
      localStatistics(q, pbc.schema, plan, part).sums.forEach((s, i) => (sums[i]! += s + share[i]!));
    }
    const result = finalize(q, pbc.schema, plan, sums) as CorrelationResult;
    expect(result.columns).toEqual(['stage2', 'stage3', 'stage4', 'age']);
    const u = noiseUncertainty(q, pbc.schema, plan, np, sums, 3);
    const v = noiseVerdict(q, pbc.schema, plan, np, sums, 3, result, u)!;
    expect(['ok', 'noise_dominates']).toContain(v.status);
    // The variance of an indicator is judged against a target of 10% of 1²/4.
    const variance = v.quantity.match(/^variance of (stage\d)$/);
    if (variance) expect(v.targetSd).toBeCloseTo(0.1 / 4, 12);
  });

  it('refuses a one-level factor, a single column that gives fewer than two variables, and more than 200 variables', () => {
    const schema = { ...pbc.schema, columns: pbc.schema.columns.map((c) => (c.name === 'sex' ? { ...c, categories: ['f'] } : c)) };
    expect(() => validateQuery({ kind: 'correlation', columns: ['sex', 'age'], filter: [] }, schema)).toThrow(/categorical column "sex" needs at least two levels/);
    expect(() => validateQuery({ kind: 'covariance', columns: ['age'], filter: [] }, pbc.schema)).toThrow(/needs at least two variables/);
    expect(() => validateQuery({ kind: 'covariance', columns: ['sex'], filter: [] }, pbc.schema)).toThrow(/needs at least two variables/);
    expect(() => validateQuery({ kind: 'covariance', columns: ['stage'], filter: [] }, pbc.schema)).not.toThrow();
    // A column of many levels widens the quadratic vector: bounded before any plan is made.
    const wide = { ...pbc.schema, columns: pbc.schema.columns.map((c) => (c.name === 'stage' ? { ...c, categories: Array.from({ length: 300 }, (_, i) => `s${i}`) } : c)) };
    expect(() => validateQuery({ kind: 'correlation', columns: ['stage', 'age'], filter: [] }, wide)).toThrow(/correlation: 300 variables once categorical columns are coded .* more than 200/);
    expect(() => validateQuery({ kind: 'linear_regression', columns: ['stage'], target: 'age', filter: [] }, wide)).toThrow(/linear_regression: 299 variables/);
  });
});
