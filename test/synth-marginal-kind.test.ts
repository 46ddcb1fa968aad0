/**
 * The marginal query kind (measurements of the synthesizer): its layout and counts agree with an
 * independent central count, the parties' vectors add up to the whole's, validation names the
 * problem, the wire codec round-trips it, and its DP noise plan has sensitivity √T for T tables.
 */
import { describe, expect, it } from 'vitest';
import { queryFromProto, queryToProto } from '../services/common/query-codec.ts';
import {
  centralResult, DP_GRID_BITS, finalize, localStatistics, parseQueryJson, planNoise, planQuery, QueryError, splitDataset, validateQuery, type Query,
} from '../stats/index.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');
const flchain = loadExample('flchain');
const ageEdges = [18, 40, 50, 60, 70, 100];
const biliEdges = [0, 1, 2, 5, 50];

const QUERIES: [string, typeof pbc, Query][] = [
  ['one table of a categorical and a numeric column', pbc, { kind: 'marginal', columns: ['stage', 'age'], filter: [], edges: [[], ageEdges] }],
  ['three tables over columns with missing values', pbc, {
    kind: 'marginal', columns: ['trt', 'chol', 'ascites', 'bili'], filter: [], edges: [[], [0, 250, 400, 2000], [], biliEdges], tables: [[0, 1], [1, 2], [2, 3, 0]],
  }],
  ['a one-way table with a filter', pbc, { kind: 'marginal', columns: ['bili'], filter: [{ column: 'sex', op: 'eq', values: ['f'] }], edges: [biliEdges] }],
  ['flchain: missing: category column and integer bins', flchain, {
    kind: 'marginal', columns: ['chapter', 'age', 'creatinine'], filter: [], edges: [[], [17.5, 60.5, 70.5, 80.5, 110.5], [0, 1, 1.5, 15]], tables: [[0], [1, 2], [0, 2]],
  }],
];

describe('marginal query kind', () => {
  for (const [name, ex, q] of QUERIES) {
    it(`${name}: counts equal an independent central count, and the parties' sums add up exactly`, () => {
      const plan = planQuery(q, ex.schema, { parties: 3, ringBits: 64 });
      const whole = localStatistics(q, ex.schema, plan, ex.dataset);
      const parts = splitDataset(ex.dataset, 3, 'marginal');
      const summed = whole.sums.map((_, i) => parts.reduce((a, p) => a + localStatistics(q, ex.schema, plan, p).sums[i]!, 0n));
      expect(summed).toEqual(whole.sums);
      const fed = finalize(q, ex.schema, plan, summed);
      const central = centralResult(q, ex.schema, ex.dataset);
      expect(fed).toEqual(central);
      if (fed.kind !== 'marginal') throw new Error('kind');
      // every table counts every row once: all tables have the same total
      for (const t of fed.tables) expect(t.counts.reduce((a, b) => a + b, 0)).toBe(fed.n);
      expect(fed.n).toBe(whole.rowsUsed);
    });
  }

  it('missing values are a level: trt has 106 missing of 418 pbc rows', () => {
    const q: Query = { kind: 'marginal', columns: ['trt'], filter: [], edges: [[]] };
    const r = centralResult(q, pbc.schema, pbc.dataset);
    if (r.kind !== 'marginal') throw new Error('kind');
    expect(r.levels).toEqual([['1', '2', '(missing)']]);
    expect(r.tables[0]!.counts).toEqual([158, 154, 106]);
  });

  it('the noise plan of T tables has L1 sensitivity T and L2 sensitivity √T', () => {
    const q: Query = { kind: 'marginal', columns: ['sex', 'stage', 'edema'], filter: [], edges: [[], [], []], tables: [[0, 1], [1, 2], [0, 2], [0]] };
    const plan = planQuery(q, pbc.schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    expect(plan.scaleBits.every((s) => s === 0)).toBe(true);
    const np = planNoise(q, pbc.schema, plan, { rho: 0.1, parties: 3, threshold: 2 });
    expect(np.oneHot).toBe(true);
    expect(np.perEntry[0]!.sensitivity.l1).toBe(4n);
    expect(np.perEntry[0]!.sensitivity.l2Squared).toBe(4n);
    expect(np.perEntry[0]!.sensitivity.l2).toBeGreaterThanOrEqual(2);
    expect(np.perEntry[0]!.sensitivity.l2).toBeLessThan(2 + 1e-9);
    const q1: Query = { kind: 'marginal', columns: ['sex', 'stage'], filter: [], edges: [[], []] };
    const one = planNoise(q1, pbc.schema, planQuery(q1, pbc.schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS }), { rho: 0.1, parties: 3, threshold: 2 });
    expect(one.perEntry[0]!.sensitivity.l2).toBe(1);
  });

  it('validation names the problem', () => {
    const bad: [Partial<Query>, RegExp][] = [
      [{ columns: ['age'] }, /needs edges/],
      [{ columns: ['age'], edges: [[20, 100]] }, /must cover its schema bounds \[18, 100\]/],
      [{ columns: ['age'], edges: [[18, 50, 40, 100]] }, /strictly increasing/],
      [{ columns: ['sex'], edges: [[0, 1]] }, /is categorical/],
      [{ columns: ['sex', 'stage'], edges: [[], []], tables: [[0, 0]] }, /names a column twice/],
      [{ columns: ['sex', 'stage'], edges: [[], []], tables: [[0, 2]] }, /not a column index/],
      [{ columns: ['sex', 'stage'], edges: [[], []], tables: [[0]] }, /"stage" is in no table/],
      [{ columns: ['id'], edges: [[]] }, /identifier/],
    ];
    for (const [q, re] of bad) {
      expect(() => validateQuery({ kind: 'marginal', filter: [], columns: [], ...q }, pbc.schema)).toThrow(re);
    }
    expect(() => validateQuery({ kind: 'count', columns: [], filter: [], tables: [[0]] }, pbc.schema)).toThrow(QueryError);
  });

  it('round-trips through JSON and the wire QuerySpec', () => {
    const q = QUERIES[1]![2];
    expect(parseQueryJson(JSON.parse(JSON.stringify(q)))).toEqual(q);
    expect(queryFromProto(queryToProto(q))).toEqual(q);
    const single = QUERIES[0]![2];
    expect(queryFromProto(queryToProto(single))).toEqual(single);
  });
});
