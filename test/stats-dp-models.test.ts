/**
 * Differential privacy of model rounds: the round's ρ is split over its entries by their
 * privacyShare and still composes to exactly ρ; the score gets the larger share; a noisy
 * information matrix with a negative eigenvalue is repaired (and only then) by eigenvalue clipping.
 */
import { describe, expect, it } from 'vitest';
import { symmetricEigen, repairNoisyInformation } from '../stats/kinds/psd.ts';
import { cholesky } from '../stats/kinds/regression.ts';
import { DP_GRID_BITS, noiseStd, planNoise, planQuery, spentRho, type Query } from '../stats/index.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');

describe('DP budget of a model round', () => {
  const q: Query = { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['age', 'bili', 'sex'], filter: [], state: [0.5, 1, 2, -0.5] };
  const plan = planQuery(q, pbc.schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
  const np = planNoise(q, pbc.schema, plan, { rho: 0.4, parties: 3, threshold: 2, collusion: 0 });
  it('composes to the round\'s rho with exactly t contributors', () => {
    // ≤ ρ (each entry's Skellam level is rounded towards more noise), and within 1e-5 of it.
    expect(spentRho(np, 2)).toBeLessThanOrEqual(0.4);
    expect(spentRho(np, 2)).toBeGreaterThan(0.4 * (1 - 1e-5));
    expect(spentRho(np, 3)).toBeLessThan(0.4);
  });
  it('gives the score entries less noise relative to their bound than the information entries', () => {
    const sd = noiseStd(np, plan, 2);
    const rel = plan.entries.map((e, i) => sd[i]! / e.bound);
    const score = plan.entries.findIndex((e) => e.name.startsWith('score('));
    const info = plan.entries.findIndex((e) => e.name.startsWith('information('));
    expect(rel[score]!).toBeLessThan(rel[info]!);
    expect(plan.entries.every((e) => e.privacyShare! > 0)).toBe(true);
  });
});

describe('noisy information repair', () => {
  const rnd = (k: number): number => (Math.sin(k * 78.233) * 43758.5453) % 1;
  it('symmetricEigen reconstructs a symmetric matrix and its trace', () => {
    const n = 6;
    const A = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) A[i]![j] = A[j]![i] = rnd(i * n + j + 1);
    const { values, V } = symmetricEigen(A);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      const x = values.reduce((s, l, k) => s + V[i]![k]! * l * V[j]![k]!, 0);
      expect(Math.abs(x - A[i]![j]!)).toBeLessThan(1e-12);
    }
    expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(A.reduce((s, r, i) => s + r[i]!, 0), 12);
  });
  it('leaves positive definite and merely singular matrices alone and makes an indefinite one positive definite', () => {
    expect(repairNoisyInformation([[2, 1], [1, 2]])).toBeNull();
    expect(repairNoisyInformation([[1, 1], [1, 1]])).toBeNull(); // collinear: reported as singular, not repaired
    const bad = [[1, 2], [2, 1]]; // eigenvalues 3 and −1
    expect(cholesky(bad)).toBeNull();
    const fixed = repairNoisyInformation(bad)!;
    expect(cholesky(fixed)).not.toBeNull();
    const { values } = symmetricEigen(fixed);
    expect(Math.min(...values)).toBeCloseTo(0.3, 9); // floor 0.1 × the largest eigenvalue 3
  });
});
