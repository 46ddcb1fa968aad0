/**
 * linear_regression with categorical predictors (treatment coding: an indicator per level but the
 * first listed; "(missing)" counts as missing): three parties' sums give R's lm on pbc
 * (test/reference/lm-factor.R) to 1e-6, so does the independent central reference; the noise
 * verdict judges the indicators' slopes; a one-level factor is refused.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { centralResult } from '../stats/central.ts';
import { DP_GRID_BITS, finalize, localStatistics, noiseShare, noiseUncertainty, planNoise, planQuery, splitDataset, validateQuery, type LinearRegressionResult, type Query } from '../stats/index.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { noiseVerdict } from '../stats/noise-verdict.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');
const R = JSON.parse(readFileSync('test/reference/lm-factor.json', 'utf8')) as Record<string, { n: number; terms: string[]; coefficients: number[]; standardErrors: number[]; rSquared: number; sigma: number }>;
const CASES: [string, Query][] = [
  ['stage_sex', { kind: 'linear_regression', columns: ['age', 'stage', 'sex'], target: 'albumin', filter: [] }],
  ['edema_trt', { kind: 'linear_regression', columns: ['edema', 'trt', 'protime'], target: 'bili', filter: [] }],
];
const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-300);

describe('linear regression with categorical predictors equals R\'s lm', () => {
  for (const [name, q] of CASES) {
    it(`${name}: ${R[name]!.terms.join(' + ')} from three parties' sums, and centrally`, () => {
      const plan = planQuery(q, pbc.schema, { parties: 3, ringBits: 64 });
      const sums = plan.entries.map(() => 0n);
      for (const part of splitDataset(pbc.dataset, 3, name)) localStatistics(q, pbc.schema, plan, part).sums.forEach((s, i) => (sums[i]! += s));
      const fed = finalize(q, pbc.schema, plan, sums) as LinearRegressionResult;
      const central = centralResult(q, pbc.schema, pbc.dataset) as LinearRegressionResult;
      const r = R[name]!;
      for (const fit of [fed, central]) {
        expect(fit.n).toBe(r.n);
        expect(fit.terms.slice(1)).toEqual(r.terms.slice(1));
        fit.coefficients.forEach((b, j) => expect(rel(b!, r.coefficients[j]!), `coefficient ${r.terms[j]}`).toBeLessThan(1e-6));
        fit.standardErrors.forEach((se, j) => expect(rel(se!, r.standardErrors[j]!), `SE ${r.terms[j]}`).toBeLessThan(1e-6));
        expect(rel(fit.rSquared!, r.rSquared)).toBeLessThan(1e-6);
      }
    });
  }

  it('under DP the noise verdict judges each indicator\'s slope on a 0–1 scale', () => {
    const q = CASES[0]![1];
    const plan = planQuery(q, pbc.schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const np = planNoise(q, pbc.schema, plan, { rho: 0.5, parties: 3, threshold: 2, collusion: 0 });
    // seeded: the same noise shares every run
    const rng = seededRandomSource(new Uint8Array(32).fill(43));
    const sums = plan.entries.map(() => 0n);
    for (const part of splitDataset(pbc.dataset, 3, 'dp')) {
      const share = noiseShare(np, rng);
      localStatistics(q, pbc.schema, plan, part).sums.forEach((s, i) => (sums[i]! += s + share[i]!));
    }
    let result;
    try {
      result = finalize(q, pbc.schema, plan, sums);
    } catch {
      result = undefined;
    }
    const u = result ? noiseUncertainty(q, pbc.schema, plan, np, sums, 3) : {};
    const v = noiseVerdict(q, pbc.schema, plan, np, sums, 3, result, u)!;
    expect(['ok', 'noise_dominates']).toContain(v.status);
    expect(v.quantity).toMatch(/(slope of (age|stage[234]|sexm))|variance of/);
  });

  it('refuses a categorical predictor with a single level, with the reason', () => {
    const schema = { ...pbc.schema, columns: pbc.schema.columns.map((c) => (c.name === 'sex' ? { ...c, categories: ['f'] } : c)) };
    expect(() => validateQuery({ kind: 'linear_regression', columns: ['sex'], target: 'albumin', filter: [] }, schema)).toThrow(/categorical predictor "sex" needs at least two levels/);
  });
});
