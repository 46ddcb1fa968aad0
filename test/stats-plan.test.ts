import { describe, expect, it } from 'vitest';
import {
  buildDataset, centralResult, compareResults, finalize, finalizeReleased, formatResult, localStatistics, localStatisticsInt64, NAMED_ENTRIES_MAX, parseSchema, planQuery, QueryError, resultEntryNames,
} from '../stats/index.ts';
import type { Query, QueryResult, Schema } from '../stats/index.ts';
import { loadExample } from './stats-helpers.ts';
import { matchRows } from '../stats/filter.ts';
import { KINDS } from '../stats/kinds/index.ts';

const pbc = loadExample('pbc');
const mean = (column: string): Query => ({ kind: 'mean', columns: [column], filter: [] });

function run(schema: Schema, csv: string, q: Query, parties = 1): { fed: QueryResult; central: QueryResult } {
  const { dataset } = buildDataset(schema, csv, { strict: true });
  const plan = planQuery(q, schema, { parties, ringBits: 64 });
  return { fed: finalize(q, schema, plan, localStatistics(q, schema, plan, dataset).sums), central: centralResult(q, schema, dataset) };
}

describe('planQuery', () => {
  it('chooses the largest scale ≤ 24 with parties × maxRows × bound × 2^s < 2^(ring−1)', () => {
    // pbc: maxRowsPerParty 10000, alk.phos ∈ [0, 20000], summed shifted by its centre 10000:
    // 3·10^4 · 10^4 ≈ 2^28.2, so the cap 24 applies; squares: 3·10^4 · 10^8 ≈ 2^41.4, so s = 21 is
    // the largest with the product < 2^63
    const plan = planQuery({ kind: 'variance', columns: ['alk.phos'], filter: [] }, pbc.schema, { parties: 3, ringBits: 64 });
    expect(plan.entries.map((e) => [e.name, e.bound, e.integer])).toEqual([
      ['n', 1, true], ['sum(alk.phos-10000)', 10000, false], ['sum((alk.phos-10000)^2)', 1e8, false],
    ]);
    expect(plan.scaleBits).toEqual([0, 24, 21]);
    expect(3 * 10000 * 1e8 * 2 ** 21).toBeLessThan(2 ** 63);
    expect(3 * 10000 * 1e8 * 2 ** 22).toBeGreaterThanOrEqual(2 ** 63);
    // sum is the released total itself, so it is not shifted
    const sum = planQuery({ kind: 'sum', columns: ['alk.phos'], filter: [] }, pbc.schema, { parties: 3, ringBits: 64 });
    expect(sum.entries.map((e) => [e.name, e.bound])).toEqual([['n', 1], ['sum(alk.phos)', 20000]]);
  });

  it('integer entries use scale 0', () => {
    const plan = planQuery({ kind: 'variance', columns: ['chol'], filter: [] }, pbc.schema, { parties: 3, ringBits: 64 });
    expect(plan.scaleBits).toEqual([0, 0, 0]);
    expect(plan.entries.every((e) => e.integer)).toBe(true);
  });

  it('refuses, before reading data, a plan that could overflow, with the numbers', () => {
    expect(() => planQuery({ kind: 'variance', columns: ['alk.phos'], filter: [] }, pbc.schema, { parties: 3, ringBits: 32 }))
      .toThrow(/entry sum\(\(alk\.phos-10000\)\^2\) could overflow a 32-bit ring even at scale 0: 3 parties × 10000 rows × bound 100000000 ≥ 2\^31/);
    expect(() => planQuery({ kind: 'sum', columns: ['chol'], filter: [] }, pbc.schema, { parties: 200, ringBits: 32 }))
      .toThrow(QueryError);
  });

  it('checks options and the query', () => {
    expect(() => planQuery(mean('age'), pbc.schema, { parties: 0, ringBits: 64 })).toThrow(RangeError);
    expect(() => planQuery(mean('age'), pbc.schema, { parties: 3, ringBits: 16 as 32 })).toThrow(/ringBits: expected 32 or 64/);
    expect(() => planQuery(mean('id'), pbc.schema, { parties: 3, ringBits: 64 })).toThrow(/identifier/);
  });

  it('digest is stable and binds query, parties, ring and schema', () => {
    const d = planQuery(mean('age'), pbc.schema, { parties: 3, ringBits: 64 }).digest;
    expect(d).toMatch(/^[0-9a-f]{64}$/);
    expect(planQuery({ ...mean('age') }, pbc.schema, { parties: 3, ringBits: 64 }).digest).toBe(d);
    expect(planQuery(mean('bili'), pbc.schema, { parties: 3, ringBits: 64 }).digest).not.toBe(d);
    expect(planQuery(mean('age'), pbc.schema, { parties: 4, ringBits: 64 }).digest).not.toBe(d);
    expect(planQuery(mean('age'), pbc.schema, { parties: 3, ringBits: 32 }).digest).not.toBe(d);
    const other = parseSchema({ ...pbc.schema, maxRowsPerParty: 9999 });
    expect(planQuery(mean('age'), other, { parties: 3, ringBits: 64 }).digest).not.toBe(d);
  });

  it('localStatistics and finalize refuse a plan computed for another query or schema', () => {
    const plan = planQuery(mean('age'), pbc.schema, { parties: 3, ringBits: 64 });
    expect(() => localStatistics(mean('bili'), pbc.schema, plan, pbc.dataset)).toThrow(/plan digest mismatch/);
    expect(() => finalize(mean('age'), pbc.schema, plan, [1n])).toThrow(/sums: expected 2 entries for mean, got 1/);
  });
});

describe('plans in O(size of the query)', () => {
  const e = (lo: number, hi: number, k: number): number[] => Array.from({ length: k + 1 }, (_, i) => lo + ((hi - lo) * i) / k);
  const big: Query = { kind: 'marginal', columns: ['time', 'chol'], edges: [e(0, 10989, 999), e(0, 2997, 999)], filter: [] };

  it('a 10^6-cell marginal plans with one entry per cell and a digest of its header only', () => {
    const plan = planQuery(big, pbc.schema, { parties: 3, ringBits: 64 });
    expect(plan.entries.length).toBe(1000 * 1000);
    expect(plan.entries[1001]!.name).toBe('count(time = [11, 22), chol = [3, 6))');
    expect(plan.entries[999_999]!.name).toBe('count(time = (missing), chol = (missing))');
    // same query with other edges of equal count: another digest (the header holds the query)
    const other = planQuery({ ...big, edges: [e(0, 10989, 999), e(0, 3996, 999)] }, pbc.schema, { parties: 3, ringBits: 64 });
    expect(other.digest).not.toBe(plan.digest);
    // a result of 10^6 entries travels without names (the query's layout names them); a short one with
    expect(resultEntryNames(plan)).toEqual([]);
    const small = planQuery({ kind: 'variance', columns: ['age'], filter: [] }, pbc.schema, { parties: 3, ringBits: 64 });
    expect(resultEntryNames(small)).toEqual(['n', 'sum(age-59)', 'sum((age-59)^2)']);
    expect(NAMED_ENTRIES_MAX).toBe(4096);
  });

  it('plans are frozen, and a plan not made by planQuery is re-planned and refused when it differs', () => {
    const q: Query = { kind: 'variance', columns: ['alk.phos'], filter: [] };
    const plan = planQuery(q, pbc.schema, { parties: 3, ringBits: 64 });
    expect(Object.isFrozen(plan) && Object.isFrozen(plan.scaleBits) && Object.isFrozen(plan.entries)).toBe(true);
    expect(() => (plan.scaleBits as number[]).push(1)).toThrow(TypeError);
    const forged = { ...plan, scaleBits: [0, 24, 20] };
    expect(() => localStatistics(q, pbc.schema, forged, pbc.dataset)).toThrow(/entries or scales are not what planQuery gives/);
    expect(localStatistics(q, pbc.schema, { ...plan }, pbc.dataset)).toEqual(localStatistics(q, pbc.schema, plan, pbc.dataset)); // a faithful copy passes
    expect(() => localStatistics(q, pbc.schema, { ...plan, digest: planQuery(q, pbc.schema, { parties: 4, ringBits: 64 }).digest }, pbc.dataset)).toThrow(/plan digest mismatch/);
  });

  it('count kinds sum their cells sparsely to exactly what their row terms give', () => {
    const queries: Query[] = [
      { kind: 'frequency', columns: ['stage'], filter: [] },
      { kind: 'contingency', columns: ['sex', 'stage'], filter: [{ column: 'age', op: 'ge', values: [50] }] },
      { kind: 'histogram', columns: ['bili'], bins: [0, 1, 2, 5, 10, 20], filter: [] },
      { kind: 'marginal', columns: ['stage', 'age', 'trt'], edges: [[], e(18, 100, 7), []], tables: [[0, 1], [1, 2], [2]], filter: [] },
    ];
    for (const q of queries) {
      const plan = planQuery(q, pbc.schema, { parties: 2, ringBits: 64 });
      const { sums, rowsUsed } = localStatistics(q, pbc.schema, plan, pbc.dataset);
      // the dense definition: every row's terms summed over every entry
      const kind = KINDS[q.kind];
      const terms = kind.rowTerms(q, pbc.schema, pbc.dataset);
      const mask = matchRows(pbc.dataset, q.filter);
      const dense = new Array<number>(plan.entries.length).fill(0);
      const out = new Float64Array(plan.entries.length);
      let used = 0;
      for (let r = 0; r < pbc.dataset.rowCount; r++) {
        out.fill(0);
        if (!mask[r] || !terms(r, out)) continue;
        used++;
        out.forEach((v, i) => (dense[i]! += v));
      }
      expect(kind.rowCells).toBeDefined();
      expect(rowsUsed).toBe(used);
      expect(sums.map(Number)).toEqual(dense);
      // and as signed 64-bit integers (what a party encodes), written without a BigInt per entry
      const typed = localStatisticsInt64(q, pbc.schema, plan, pbc.dataset);
      expect([...typed.sums]).toEqual(sums);
      expect(typed.rowsUsed).toBe(rowsUsed);
      expect(used).toBeGreaterThan(100);
    }
  });
});

describe('exact fixed-point sums', () => {
  it('per-row quantization round(term · 2^s), half away from zero, summed exactly beyond 2^53', () => {
    const schema = parseSchema({ name: 'big', maxRowsPerParty: 64, columns: [{ name: 'x', type: 'numeric', min: -(2 ** 27), max: 2 ** 27 }] });
    // 60 values near 2^27 with odd low bits: Σ round(x · 2^24) passes 2^56, so a float64 running sum would lose bits
    const xs = Array.from({ length: 60 }, (_, i) => 2 ** 27 - i * 1234.5678 - ((i * 7) % 5) * 2 ** -24);
    xs.push(2 ** 27 - 2 ** -25, 1.5 * 2 ** -24, -1.5 * 2 ** -24, -(2 ** 25));
    const q: Query = { kind: 'variance', columns: ['x'], filter: [] };
    const plan = planQuery(q, schema, { parties: 1, ringBits: 64 });
    expect(plan.scaleBits).toEqual([0, 24, 2]); // 64 · 2^27 · 2^24 = 2^57 < 2^63; 64 · 2^54 · 2^2 = 2^62 < 2^63 ≤ 64 · 2^54 · 2^3
    const { dataset } = buildDataset(schema, `x\n${xs.join('\n')}\n`, { strict: true });
    const { sums, rowsUsed } = localStatistics(q, schema, plan, dataset);
    expect(rowsUsed).toBe(64);
    const roundAway = (v: number): bigint => (v < 0 ? -BigInt(Math.round(-v)) : BigInt(Math.round(v)));
    expect(sums[1]).toBe(xs.reduce((a, x) => a + roundAway(x * 2 ** 24), 0n));
    expect(sums[2]).toBe(xs.reduce((a, x) => a + roundAway(x * x * 2 ** 2), 0n)); // terms up to 2^56
    expect(sums[1]! > 2n ** 56n).toBe(true);
    let float = 0;
    for (const x of xs) float += Math.round(x * 2 ** 24);
    expect(BigInt(float)).not.toBe(sums[1]); // a plain float64 running sum is not exact here
    expect(sums[2]! > 2n ** 60n).toBe(true); // terms of 2^56 and more go straight to BigInt
    // ±1.5 grid steps round to ±2, not +2 and −1
    const { dataset: pair } = buildDataset(schema, `x\n${1.5 * 2 ** -24}\n${-1.5 * 2 ** -24}\n`, { strict: true });
    expect(localStatistics(q, schema, plan, pair).sums[1]).toBe(0n);
  });
});

describe('degenerate cases give null fields with a reason, or a QueryError', () => {
  const schema = parseSchema({
    name: 'd', maxRowsPerParty: 100,
    columns: [
      { name: 'x', type: 'numeric', min: 0, max: 10 },
      { name: 'y', type: 'numeric', min: 0, max: 10 },
      { name: 'z', type: 'numeric', min: 0, max: 10 },
    ],
  });
  const csv = 'x,y,z\n1,2,3\n2,4,3\n3,6,3\n4,8.5,3\n';

  it('mean of no rows is null', () => {
    const { fed, central } = run(schema, csv, { kind: 'mean', columns: ['x'], filter: [{ column: 'x', op: 'gt', values: [9] }] });
    expect(fed).toMatchObject({ n: 0, mean: null, notes: ['mean undefined: no rows (n = 0)'] });
    expect(central).toMatchObject({ n: 0, mean: null });
  });

  it('variance of one row is null, mean is defined', () => {
    const { fed } = run(schema, csv, { kind: 'variance', columns: ['x'], filter: [{ column: 'x', op: 'eq', values: [2] }] });
    expect(fed).toMatchObject({ n: 1, mean: 2, variance: null, sd: null });
    expect(fed.notes).toContain('variance undefined: needs n >= 2, got n = 1');
  });

  it('correlation with a constant column is null for that column', () => {
    const { fed, central } = run(schema, csv, { kind: 'correlation', columns: ['x', 'z'], filter: [] });
    if (fed.kind !== 'correlation') throw new Error('kind');
    expect(fed.matrix).toEqual([[1, null], [null, null]]);
    expect(fed.notes).toContain('correlations with z undefined: zero variance');
    expect(compareResults(fed, central).maxAbsDiff).toBe(0);
  });

  it('regression with a constant predictor is refused as singular', () => {
    const q: Query = { kind: 'linear_regression', columns: ['x', 'z'], target: 'y', filter: [] };
    const { dataset } = buildDataset(schema, csv, { strict: true });
    const plan = planQuery(q, schema, { parties: 1, ringBits: 64 });
    expect(() => finalize(q, schema, plan, localStatistics(q, schema, plan, dataset).sums)).toThrow(/X'X is singular/);
    expect(() => centralResult(q, schema, dataset)).toThrow(/rank deficient/);
  });

  it('finalizeReleased: noisy sums that fail post-processing are released with the reason; exact ones throw', () => {
    const q: Query = { kind: 'linear_regression', columns: ['x', 'z'], target: 'y', filter: [] };
    const { dataset } = buildDataset(schema, csv, { strict: true });
    const plan = planQuery(q, schema, { parties: 1, ringBits: 64 });
    const sums = localStatistics(q, schema, plan, dataset).sums;
    expect(finalizeReleased(q, schema, plan, sums, true)).toEqual({ postError: expect.stringMatching(/^post-processing of the noisy statistics failed: .*X'X is singular.*; the noisy sufficient statistics are released$/) });
    expect(finalizeReleased(q, schema, plan, sums, true, () => 'internal error').postError).toContain('failed: internal error;');
    expect(() => finalizeReleased(q, schema, plan, sums, false)).toThrow(/X'X is singular/);
    const ok: Query = { kind: 'count', columns: [], filter: [] };
    const okPlan = planQuery(ok, schema, { parties: 1, ringBits: 64 });
    expect(finalizeReleased(ok, schema, okPlan, localStatistics(ok, schema, okPlan, dataset).sums, true)).toEqual({ result: finalize(ok, schema, okPlan, localStatistics(ok, schema, okPlan, dataset).sums), postError: '' });
  });

  it('regression with fewer rows than coefficients is refused; with n = p, standard errors are null', () => {
    const q: Query = { kind: 'linear_regression', columns: ['x'], target: 'y', filter: [{ column: 'x', op: 'le', values: [1] }] };
    expect(() => run(schema, csv, q)).toThrow(/2 coefficients need at least 2 complete rows, got n = 1/);
    const { fed, central } = run(schema, csv, { ...q, filter: [{ column: 'x', op: 'le', values: [2] }] });
    expect(fed).toMatchObject({ n: 2, dfResidual: 0, standardErrors: [null, null], residualStdError: null });
    expect(compareResults(fed, central).maxAbsDiff).toBeLessThan(1e-6);
  });
});

describe('histogram bins and formatting', () => {
  const schema = parseSchema({ name: 'h', maxRowsPerParty: 100, columns: [{ name: 'x', type: 'numeric', min: 0, max: 10 }] });
  it('bins are [e_i, e_{i+1}), the last closed; values outside go to below/above; missing excluded', () => {
    const { fed, central } = run(schema, 'x\n0\n1\n2\n2.5\n3\n4\n9\n\n', { kind: 'histogram', columns: ['x'], filter: [], bins: [1, 2, 3] });
    expect(fed).toMatchObject({ n: 7, edges: [1, 2, 3], counts: [1, 3], below: 1, above: 2 });
    expect(central).toEqual(fed);
    expect(formatResult(fed)).toBe(['x bin   count', '< 1         1', '[1, 2)      1', '[2, 3]      3', '> 3         2', 'n = 7'].join('\n'));
  });

  it('formats a regression as a table with notes', () => {
    const q: Query = { kind: 'linear_regression', columns: ['age', 'albumin'], target: 'bili', filter: [] };
    const plan = planQuery(q, pbc.schema, { parties: 1, ringBits: 64 });
    const text = formatResult(finalize(q, pbc.schema, plan, localStatistics(q, pbc.schema, plan, pbc.dataset).sums));
    expect(text).toMatch(/^linear regression of bili\nterm +estimate +std\. error\n\(intercept\) +16\.2091 +2\.15578\nage +-0\.0239704 +0\.0199614\nalbumin +-3\.36588 +0\.490718\nresidual std\. error 4\.18713 on 415 df; R² = 0\.101828; n = 418$/);
  });

  it('compareResults flags a field that is null on one side only', () => {
    const a: QueryResult = { kind: 'mean', column: 'x', n: 0, mean: null, notes: [] };
    const b: QueryResult = { kind: 'mean', column: 'x', n: 0, mean: 1, notes: [] };
    expect(compareResults(a, b)).toEqual({ maxAbsDiff: Infinity, maxRelDiff: Infinity });
    expect(() => compareResults(a, { kind: 'count', n: 0, notes: [] })).toThrow(/kinds differ/);
  });
});

describe('localStatistics guards the overflow check', () => {
  it('refuses a hand-built dataset with a value outside the schema bounds', () => {
    const schema = parseSchema({ name: 'g', maxRowsPerParty: 10, columns: [{ name: 'x', type: 'numeric', min: 0, max: 10 }] });
    const q: Query = { kind: 'sum', columns: ['x'], filter: [] };
    const plan = planQuery(q, schema, { parties: 1, ringBits: 64 });
    const dataset = { schema, rowCount: 2, columns: new Map([['x', { kind: 'numeric' as const, values: Float64Array.of(3, 11) }]]) };
    expect(() => localStatistics(q, schema, plan, dataset)).toThrow(/row 1: contribution to sum\(x\) exceeds its bound 10/);
  });
});
