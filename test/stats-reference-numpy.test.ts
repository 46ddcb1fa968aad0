/**
 * Reference values computed offline with numpy 2.4.6 (python3, csv module, no pandas) from
 * examples/pbc/pbc.csv and examples/flchain/flchain.csv:
 *   mean/sd: x.mean(), x.std(ddof=1)
 *   OLS: X = [1, age, albumin]; beta = np.linalg.lstsq(X, bili); s2 = RSS / (n − 3);
 *        se = sqrt(diag(inv(X'X)) · s2); R² = 1 − RSS / Σ(y − ȳ)²
 *   correlation: np.corrcoef on the 284 rows with chol present
 *   covariance: np.cov of flchain kappa, lambda
 * Both the federated path (3 parties, 64-bit ring; real entries on a 2^-24 grid, so means are
 * within 2^-25 of the exact value) and the central reference are checked.
 */
import { describe, expect, it } from 'vitest';
import { centralResult, finalize, localStatistics, planQuery, splitDataset } from '../stats/index.ts';
import type { Query, QueryResult } from '../stats/index.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');
const flchain = loadExample('flchain');

function federated(ex: typeof pbc, q: Query): QueryResult {
  const plan = planQuery(q, ex.schema, { parties: 3, ringBits: 64 });
  const parts = splitDataset(ex.dataset, 3, 'numpy');
  const local = parts.map((p) => localStatistics(q, ex.schema, plan, p).sums);
  return finalize(q, ex.schema, plan, local[0]!.map((_, i) => local.reduce((a, s) => a + s[i]!, 0n)));
}

const both = (ex: typeof pbc, q: Query): [string, QueryResult][] => [
  ['federated', federated(ex, q)],
  ['central', centralResult(q, ex.schema, ex.dataset)],
];

describe('reference values from numpy', () => {
  it('pbc age: mean 50.74155147061232, sd 10.447214386177881 (n = 418)', () => {
    for (const [how, r] of both(pbc, { kind: 'variance', columns: ['age'], filter: [] })) {
      if (r.kind !== 'variance') throw new Error(how);
      expect(r.n).toBe(418);
      expect(r.mean, how).toBeCloseTo(50.74155147061232, 7);
      expect(r.sd, how).toBeCloseTo(10.447214386177881, 7);
    }
  });

  it('pbc bili: mean 3.2208133971291866, sd 4.407506384141372', () => {
    for (const [how, r] of both(pbc, { kind: 'variance', columns: ['bili'], filter: [] })) {
      if (r.kind !== 'variance') throw new Error(how);
      expect(r.mean, how).toBeCloseTo(3.2208133971291866, 7);
      expect(r.sd, how).toBeCloseTo(4.407506384141372, 7);
    }
  });

  it('pbc OLS bili ~ 1 + age + albumin: coefficients, standard errors, sigma, R²', () => {
    const beta = [16.209063750708463, -0.0239703906147245, -3.365877584817597];
    const se = [2.155775631921768, 0.019961416885203365, 0.4907179651897282];
    for (const [how, r] of both(pbc, { kind: 'linear_regression', columns: ['age', 'albumin'], target: 'bili', filter: [] })) {
      if (r.kind !== 'linear_regression') throw new Error(how);
      expect(r.terms).toEqual(['(intercept)', 'age', 'albumin']);
      expect(r.n).toBe(418);
      expect(r.dfResidual).toBe(415);
      beta.forEach((b, i) => expect(r.coefficients[i], `${how} beta[${i}]`).toBeCloseTo(b, 6));
      se.forEach((s, i) => expect(r.standardErrors[i], `${how} se[${i}]`).toBeCloseTo(s, 7));
      expect(r.residualStdError, how).toBeCloseTo(4.187131967283174, 7);
      expect(r.rSquared, how).toBeCloseTo(0.10182815004882861, 8);
    }
  });

  it('pbc correlation of age, bili, albumin, chol on complete cases (n = 284)', () => {
    const expected = [
      [1, 0.06908540173254797, -0.23092044076578072, -0.15762038506968182],
      [0.06908540173254797, 1, -0.31310846228997213, 0.39712888854364015],
      [-0.23092044076578072, -0.3131084622899721, 1, -0.06973276833630677],
      [-0.1576203850696818, 0.39712888854364015, -0.06973276833630677, 1],
    ];
    for (const [how, r] of both(pbc, { kind: 'correlation', columns: ['age', 'bili', 'albumin', 'chol'], filter: [] })) {
      if (r.kind !== 'correlation') throw new Error(how);
      expect(r.n).toBe(284);
      expected.forEach((row, i) => row.forEach((v, j) => expect(r.matrix[i]![j], `${how} [${i}][${j}]`).toBeCloseTo(v, 7)));
    }
  });

  it('flchain covariance of kappa and lambda (n = 7874)', () => {
    const expected = [
      [0.8042043925899522, 0.757539760228258],
      [0.757539760228258, 1.0624075026406605],
    ];
    for (const [how, r] of both(flchain, { kind: 'covariance', columns: ['kappa', 'lambda'], filter: [] })) {
      if (r.kind !== 'covariance') throw new Error(how);
      expect(r.n).toBe(7874);
      // 7 digits (5e-8): the federated sums hold kappa − 25 and lambda − 25 (the centre of their
      // bounds [0, 50]), each row rounded to 2^-24; the rounding of Σ(v − 25) enters the covariance
      // scaled by |v̄ − 25| ≈ 23, ~1e-8 here (stats-helpers gridTolerance bounds it per field).
      expected.forEach((row, i) => row.forEach((v, j) => expect(r.matrix[i]![j], `${how} [${i}][${j}]`).toBeCloseTo(v, 7)));
    }
  });
});
