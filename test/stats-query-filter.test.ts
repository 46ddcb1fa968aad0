import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadExample } from './stats-helpers.ts';
import {
  buildDataset, countMatching, describeQuery, matchRows, parseQueryJson, parseSchema, QueryError, validateQuery,
} from '../stats/index.ts';
import type { Predicate, Query } from '../stats/index.ts';

const schema = parseSchema({
  name: 't',
  maxRowsPerParty: 100,
  columns: [
    { name: 'id', type: 'identifier' },
    { name: 'x', type: 'numeric', min: 0, max: 10 },
    { name: 'k', type: 'integer', min: 0, max: 5 },
    { name: 'c', type: 'categorical', categories: ['a', 'b', 'c'] },
    { name: 'm', type: 'categorical', categories: ['u', 'v'], missing: 'category' },
  ],
});

// rows:            0    1    2    3    4    5
const csv = ['id,x,k,c,m', '0,1,0,a,u', '1,2.5,1,b,v', '2,,2,c,', '3,5,,a,u', '4,7.5,4,,v', '5,10,5,b,'].join('\n');
const { dataset } = buildDataset(schema, csv, { strict: true });
const rows = (filter: Predicate[]): number[] => [...matchRows(dataset, filter)].flatMap((v, i) => (v ? [i] : []));
const p = (column: string, op: Predicate['op'], values: (string | number)[] = []): Predicate => ({ column, op, values });

describe('matchRows: every operator, missing values are false except for is_missing', () => {
  const cases: [string, Predicate[], number[]][] = [
    ['no predicate', [], [0, 1, 2, 3, 4, 5]],
    ['x eq 5', [p('x', 'eq', [5])], [3]],
    ['x ne 5 (missing x excluded)', [p('x', 'ne', [5])], [0, 1, 4, 5]],
    ['x lt 5', [p('x', 'lt', [5])], [0, 1]],
    ['x le 5', [p('x', 'le', [5])], [0, 1, 3]],
    ['x gt 5', [p('x', 'gt', [5])], [4, 5]],
    ['x ge 5', [p('x', 'ge', [5])], [3, 4, 5]],
    ['x between 2.5 and 7.5 (inclusive)', [p('x', 'between', [2.5, 7.5])], [1, 3, 4]],
    ['x in {1, 10}', [p('x', 'in', [1, 10])], [0, 5]],
    ['x is_missing', [p('x', 'is_missing')], [2]],
    ['x not_missing', [p('x', 'not_missing')], [0, 1, 3, 4, 5]],
    ['k is_missing', [p('k', 'is_missing')], [3]],
    ['c eq a', [p('c', 'eq', ['a'])], [0, 3]],
    ['c ne a (missing c excluded)', [p('c', 'ne', ['a'])], [1, 2, 5]],
    ['c in {b, c}', [p('c', 'in', ['b', 'c'])], [1, 2, 5]],
    ['c is_missing', [p('c', 'is_missing')], [4]],
    ['c not_missing', [p('c', 'not_missing')], [0, 1, 2, 3, 5]],
    ['m eq (missing) — a level under missing: category', [p('m', 'eq', ['(missing)'])], [2, 5]],
    ['m ne u drops the (missing) level, as R\'s subset(d, m != "u") drops NA', [p('m', 'ne', ['u'])], [1, 4]],
    ['m in {v, (missing)} keeps it when named', [p('m', 'in', ['v', '(missing)'])], [1, 2, 4, 5]],
    ['m is_missing also sees the (missing) level', [p('m', 'is_missing')], [2, 5]],
    ['m not_missing', [p('m', 'not_missing')], [0, 1, 3, 4]],
    ['conjunction x ge 2 and c eq b', [p('x', 'ge', [2]), p('c', 'eq', ['b'])], [1, 5]],
  ];
  it.each(cases)('%s', (_label, filter, expected) => {
    expect(rows(filter)).toEqual(expected);
    expect(countMatching(dataset, filter)).toBe(expected.length);
  });
});

describe('filters equal R\'s subset() on pbc (test/reference/filter-ne.R)', () => {
  const R = JSON.parse(readFileSync('test/reference/filter-ne.json', 'utf8')) as Record<string, number>;
  const pbc = loadExample('pbc');
  it('trt != 1 drops the rows where trt is missing (trt has missing: category); naming (missing) keeps them', () => {
    expect(countMatching(pbc.dataset, [p('trt', 'ne', ['1'])])).toBe(R['trt_ne_1']);
    expect(countMatching(pbc.dataset, [p('trt', 'in', ['2', '(missing)'])])).toBe(R['trt_ne_1_or_missing']);
    expect(countMatching(pbc.dataset, [p('stage', 'ne', ['4'])])).toBe(R['stage_ne_4']);
  });
});

const base: Query = { kind: 'mean', columns: ['x'], filter: [] };
describe('validateQuery', () => {
  it('accepts a valid query of every kind', () => {
    const ok: Query[] = [
      { kind: 'count', columns: [], filter: [p('c', 'in', ['a', 'b'])] },
      { kind: 'sum', columns: ['k'], filter: [] },
      { kind: 'variance', columns: ['x'], filter: [p('x', 'between', [1, 2])] },
      { kind: 'histogram', columns: ['x'], filter: [], bins: [0, 5, 10] },
      { kind: 'frequency', columns: ['m'], filter: [] },
      { kind: 'contingency', columns: ['c', 'm'], filter: [] },
      { kind: 'covariance', columns: ['x', 'k'], filter: [] },
      { kind: 'correlation', columns: ['x', 'k'], filter: [] },
      { kind: 'linear_regression', columns: ['k'], target: 'x', filter: [p('m', 'eq', ['(missing)'])] },
    ];
    for (const q of ok) expect(() => validateQuery(q, schema)).not.toThrow();
  });

  const bad: [string, Query, RegExp][] = [
    ['unknown column', { ...base, columns: ['y'] }, /columns\[0\]: unknown column "y"; schema "t" has x, k, c, m/],
    ['identifier column', { ...base, columns: ['id'] }, /column "id" is an identifier; identifiers are never aggregated or filtered on/],
    ['filter on an identifier', { ...base, filter: [p('id', 'eq', [3])] }, /filter\[0\]: column "id" is an identifier/],
    ['categorical column for mean', { ...base, columns: ['c'] }, /mean needs numeric or integer columns; "c" is categorical/],
    ['numeric column for frequency', { kind: 'frequency', columns: ['x'], filter: [] }, /frequency needs categorical columns; "x" is numeric \(use a histogram/],
    ['count with a column', { kind: 'count', columns: ['x'], filter: [] }, /count takes no columns/],
    ['contingency with one column', { kind: 'contingency', columns: ['c'], filter: [] }, /contingency takes two categorical columns/],
    ['covariance with one column', { kind: 'covariance', columns: ['x'], filter: [] }, /covariance needs at least two variables/],
    ['duplicate columns', { kind: 'covariance', columns: ['x', 'x'], filter: [] }, /contain a duplicate/],
    ['histogram without bins', { kind: 'histogram', columns: ['x'], filter: [] }, /histogram needs bins/],
    ['histogram with unordered bins', { kind: 'histogram', columns: ['x'], filter: [], bins: [0, 5, 5] }, /strictly increasing; bins\[2\] = 5 after 5/],
    ['histogram with a NaN edge', { kind: 'histogram', columns: ['x'], filter: [], bins: [0, NaN] }, /bins\[1\]: expected a finite number/],
    ['bins on another kind', { ...base, bins: [0, 1] }, /bins only applies to histogram(, [a-z_]+)* queries, not mean/],
    ['a round state on a one-shot kind', { ...base, state: [0, 1] }, /state only applies to .*queries, not mean/],
    ['an offset on linear_regression', { kind: 'linear_regression', columns: ['k'], target: 'x', offset: 'k', filter: [] }, /offset only applies to .*not linear_regression/],
    ['regression without target', { kind: 'linear_regression', columns: ['k'], filter: [] }, /needs target/],
    ['regression with a categorical target', { kind: 'linear_regression', columns: ['k'], target: 'c', filter: [] }, /"c" is categorical/],
    ['regression target among predictors', { kind: 'linear_regression', columns: ['k', 'x'], target: 'x', filter: [] }, /target "x" is also a predictor/],
    ['string value for a numeric column', { ...base, filter: [p('x', 'eq', ['5'])] }, /column "x" is numeric; values must be finite numbers, got "5"/],
    ['unknown level', { ...base, filter: [p('c', 'eq', ['z'])] }, /"z" is not a level of "c"; levels: a, b, c/],
    ['ordered op on categorical', { ...base, filter: [p('c', 'lt', ['b'])] }, /lt needs a numeric or integer column; "c" is categorical/],
    ['between with one value', { ...base, filter: [p('x', 'between', [1])] }, /takes exactly two values \[lo, hi\]/],
    ['between reversed', { ...base, filter: [p('x', 'between', [3, 1])] }, /lo \(3\) must not exceed hi \(1\)/],
    ['in with no values', { ...base, filter: [p('x', 'in', [])] }, /takes a non-empty list/],
    ['is_missing with a value', { ...base, filter: [p('x', 'is_missing', [1])] }, /takes no values/],
    ['eq with two values', { ...base, filter: [p('x', 'eq', [1, 2])] }, /takes exactly one value, got 2/],
  ];
  it.each(bad)('rejects %s', (_label, q, message) => {
    let err: unknown;
    try {
      validateQuery(q, schema);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(QueryError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('parseQueryJson and describeQuery', () => {
  it('parses a JSON query with defaults for filter and columns', () => {
    expect(parseQueryJson({ kind: 'count' })).toEqual({ kind: 'count', columns: [], filter: [] });
    const q = parseQueryJson({ kind: 'linear_regression', columns: ['k'], target: 'x', filter: [{ column: 'c', op: 'in', values: ['a', 'b'] }] });
    expect(describeQuery(q)).toBe('linear_regression(x ~ 1 + k) where c in {"a", "b"}');
  });
  it('describes filters and histograms in one line', () => {
    expect(describeQuery({ kind: 'histogram', columns: ['x'], bins: [0, 5, 10], filter: [p('x', 'not_missing'), p('k', 'between', [1, 3])] }))
      .toBe('histogram(x; edges 0, 5, 10) where x is not missing and k between 1 and 3');
  });
  const bad: [string, unknown, RegExp][] = [
    ['not an object', [], /expected an object/],
    ['unknown kind', { kind: 'median' }, /query.kind: got "median"/],
    ['unknown field', { kind: 'count', limit: 3 }, /unknown field "limit"/],
    ['columns not strings', { kind: 'mean', columns: [1] }, /query.columns: expected an array of column names/],
    ['bad op', { kind: 'count', filter: [{ column: 'x', op: 'like', values: [] }] }, /filter\[0\].op: got "like"/],
    ['bad values', { kind: 'count', filter: [{ column: 'x', op: 'eq', values: [null] }] }, /filter\[0\].values: expected an array of strings or numbers/],
    ['bins not numbers', { kind: 'histogram', columns: ['x'], bins: ['a'] }, /query.bins: expected an array of numbers/],
    ['a state with a non-finite number', { kind: 'count', state: [0, 'x'] }, /query.state\[1\]: expected a finite number/],
    ['a job identifier with a space', { kind: 'count', job: 'a b' }, /query.job: expected 1 to 64 characters/],
    ['a round of 0', { kind: 'count', round: 0 }, /query.round: expected an integer in \[1, 1000\], got "0"/],
    ['a positive level that is not a string', { kind: 'count', positive: [2] }, /query.positive\[0\]: expected a level/],
  ];
  it.each(bad)('rejects %s', (_label, json, message) => {
    expect(() => parseQueryJson(json)).toThrow(QueryError);
    expect(() => parseQueryJson(json)).toThrow(message);
  });
});
