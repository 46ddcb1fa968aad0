import { describe, expect, it } from 'vitest';
import {
  centralResult, compareResults, finalize, fromRing, localStatistics, numericFields, planQuery,
  splitDataset, splitDatasetByColumn, toRing,
} from '../stats/index.ts';
import type { Dataset, Query } from '../stats/index.ts';
import { gridTolerance, loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');
const flchain = loadExample('flchain');

const q = (kind: Query['kind'], columns: string[], extra: Partial<Query> = {}): Query => ({ kind, columns, filter: [], ...extra });

const PBC_QUERIES: Query[] = [
  q('count', [], { filter: [{ column: 'age', op: 'ge', values: [50] }] }),
  q('sum', ['chol']),
  q('sum', ['bili']),
  q('mean', ['age'], { filter: [{ column: 'sex', op: 'eq', values: ['f'] }] }),
  q('variance', ['bili']),
  q('variance', ['alk.phos']),
  q('histogram', ['age'], { bins: [30, 40, 50, 60, 70] }),
  q('frequency', ['stage']),
  q('frequency', ['trt']),
  q('contingency', ['status', 'stage']),
  q('contingency', ['trt', 'sex']),
  q('covariance', ['age', 'bili', 'albumin', 'chol']),
  q('correlation', ['age', 'bili', 'albumin', 'protime', 'copper']),
  q('linear_regression', ['age', 'albumin'], { target: 'bili' }),
  q('linear_regression', ['age', 'bili', 'albumin', 'platelet'], { target: 'protime', filter: [{ column: 'status', op: 'in', values: ['0', '2'] }] }),
];

const FLCHAIN_QUERIES: Query[] = [
  q('count', [], { filter: [{ column: 'chapter', op: 'is_missing', values: [] }] }),
  q('sum', ['futime']),
  q('mean', ['kappa'], { filter: [{ column: 'age', op: 'between', values: [60, 80] }] }),
  q('variance', ['creatinine']),
  q('histogram', ['age'], { bins: [50, 60, 70, 80, 90, 100] }),
  q('frequency', ['chapter']),
  q('contingency', ['flc.grp', 'death']),
  q('covariance', ['kappa', 'lambda', 'creatinine']),
  q('correlation', ['age', 'kappa', 'lambda', 'creatinine', 'futime']),
  q('linear_regression', ['age', 'kappa', 'lambda', 'creatinine'], { target: 'futime' }),
];

function checkFederated(example: typeof pbc, query: Query, parts: Dataset[], ringBits: 32 | 64): void {
  const { schema, dataset } = example;
  const plan = planQuery(query, schema, { parties: parts.length, ringBits });
  const local = parts.map((p) => localStatistics(query, schema, plan, p));
  const whole = localStatistics(query, schema, plan, dataset);
  const summed = whole.sums.map((_, i) => local.reduce((a, l) => a + l.sums[i]!, 0n));
  // exact: the parties' integer vectors add up to the whole's, entry by entry
  expect(summed).toEqual(whole.sums);
  expect(local.reduce((a, l) => a + l.rowsUsed, 0)).toBe(whole.rowsUsed);
  // the same sum computed in the ring (as secure aggregation does) decodes to the same vector
  const ring = local.map((l) => toRing(l.sums, ringBits));
  const modulus = 1n << BigInt(ringBits);
  const ringSum = ring[0]!.map((_, i) => ring.reduce((a, r) => (a + r[i]!) % modulus, 0n));
  expect(fromRing(ringSum, ringBits)).toEqual(whole.sums);

  const fed = finalize(query, schema, plan, summed);
  const central = centralResult(query, schema, dataset);
  expect(fed.kind).toBe(central.kind);
  expect(fed.n).toBe(whole.rowsUsed);
  expect(central.n).toBe(whole.rowsUsed);
  const tol = gridTolerance(query, plan, central, dataset, schema);
  const f = numericFields(fed);
  const c = numericFields(central);
  expect(f.map(([k]) => k)).toEqual(c.map(([k]) => k));
  for (let i = 0; i < c.length; i++) {
    const [key, cv] = c[i]!;
    const fv = f[i]![1];
    if (cv === null) {
      expect(fv, key).toBeNull();
      continue;
    }
    expect(fv, key).not.toBeNull();
    expect(Math.abs(fv! - cv), `${key}: federated ${fv} vs central ${cv}, tolerance ${tol[i]}`).toBeLessThanOrEqual(tol[i]!);
  }
}

describe.each([
  ['pbc', pbc, PBC_QUERIES],
  ['flchain', flchain, FLCHAIN_QUERIES],
] as const)('%s: federated sums equal the whole and finalize matches the central reference', (_name, example, queries) => {
  const random3 = splitDataset(example.dataset, 3, 'stats-federated-test');
  const bySex = splitDatasetByColumn(example.dataset, 'sex');

  it('the splits partition the rows', () => {
    expect(random3.reduce((a, d) => a + d.rowCount, 0)).toBe(example.dataset.rowCount);
    expect(bySex.length).toBe(2);
    expect(bySex.reduce((a, d) => a + d.rowCount, 0)).toBe(example.dataset.rowCount);
  });

  for (const query of queries) {
    const label = `${query.kind}(${query.columns.join(', ')}${query.target ? ` → ${query.target}` : ''})${query.filter.length ? ' filtered' : ''}`;
    it(`${label}: 3 random parties, 64-bit ring`, () => checkFederated(example, query, random3, 64));
    it(`${label}: non-IID split by sex, 64-bit ring`, () => checkFederated(example, query, bySex, 64));
  }
});

describe('32-bit ring: coarser grid, same guarantees', () => {
  it('mean of flchain kappa gets a smaller scale and still matches within its grid tolerance', () => {
    const query = q('mean', ['kappa']);
    const plan = planQuery(query, flchain.schema, { parties: 3, ringBits: 32 });
    // kappa ∈ [0, 50] is summed as kappa − 25: 3 × 20000 rows × 25 × 2^s < 2^31  ⇒  s = 10
    expect(plan.scaleBits).toEqual([0, 10]);
    checkFederated(flchain, query, splitDataset(flchain.dataset, 3, 7), 32);
  });

  it('correlation of pbc age and bili in a 32-bit ring', () => {
    checkFederated(pbc, q('correlation', ['age', 'bili']), splitDataset(pbc.dataset, 3, 11), 32);
  });

  it('compareResults reports the federated/central differences as small but not zero for real-valued kinds', () => {
    const query = q('variance', ['age']);
    const plan = planQuery(query, pbc.schema, { parties: 1, ringBits: 64 });
    const fed = finalize(query, pbc.schema, plan, localStatistics(query, pbc.schema, plan, pbc.dataset).sums);
    const d = compareResults(fed, centralResult(query, pbc.schema, pbc.dataset));
    expect(d.maxRelDiff).toBeGreaterThan(0);
    expect(d.maxRelDiff).toBeLessThan(1e-6);
  });
});
