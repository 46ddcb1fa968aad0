import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  buildDataset, DatasetError, formatLoadReport, parseSchema, SchemaError, splitAssignment, splitCsvText, splitDataset, splitDatasetByColumn,
} from '../stats/index.ts';
import type { CategoricalColumn, Dataset, NumericColumn } from '../stats/index.ts';
import { loadCsvFile } from '../stats/dataset-file.ts';
import { loadExample } from './stats-helpers.ts';

const schema = parseSchema({
  name: 't',
  maxRowsPerParty: 5,
  columns: [
    { name: 'id', type: 'identifier' },
    { name: 'x', type: 'numeric', min: 0, max: 10 },
    { name: 'k', type: 'integer', min: -5, max: 5, outOfBounds: 'clip' },
    { name: 'c', type: 'categorical', categories: ['a', 'b'] },
    { name: 'm', type: 'categorical', categories: ['u', 'v'], missing: 'category' },
  ],
});
const HEADER = 'id,x,k,c,m';
const num = (d: Dataset, c: string): number[] => [...(d.columns.get(c) as NumericColumn).values];
const cat = (d: Dataset, c: string): number[] => [...(d.columns.get(c) as CategoricalColumn).codes];

describe('buildDataset', () => {
  it('loads values, missing values, clipping and the (missing) level', () => {
    const { dataset, report } = buildDataset(schema, `${HEADER},extra\n1,2.5,3,a,u,q\n2,,-9,b,,q\n3,1e1,7,,v,q\n`);
    expect(report).toEqual({
      rowsRead: 3, rowsLoaded: 3, rejected: [], extraColumns: ['extra'], clipped: 2,
      patientColumn: 'id', rowsPerPatient: 1, patients: 3, rowsOverPatientBound: 0, patientsOverBound: 0,
      population: { loaded: 3, dropped: { invalid_value: 0, out_of_bounds: 0, identifier: 0, malformed: 0, patient_bound: 0 }, clipped: 2 },
    });
    expect(dataset.rowCount).toBe(3);
    expect(num(dataset, 'x')).toEqual([2.5, NaN, 10]);
    expect(num(dataset, 'k')).toEqual([3, -5, 5]);
    expect(cat(dataset, 'c')).toEqual([0, 1, -1]);
    expect((dataset.columns.get('m') as CategoricalColumn).levels).toEqual(['u', 'v', '(missing)']);
    expect(cat(dataset, 'm')).toEqual([0, 2, 1]);
    expect(dataset.columns.has('id')).toBe(false);
  });

  const bad: [string, string, number, string, RegExp][] = [
    ['malformed row (too few fields)', '1,2,3,a', 2, '', /malformed row: 4 field\(s\), the header has 5/],
    ['malformed row (too many fields)', '1,2,3,a,u,9', 2, '', /malformed row: 6 field\(s\), the header has 5/],
    ['non-numeric value', '1,abc,3,a,u', 2, 'x', /value "abc" is not a number/],
    ['hexadecimal is not a number', '1,0x1,3,a,u', 2, 'x', /value "0x1" is not a number/],
    ['value outside the bounds', '1,10.5,3,a,u', 2, 'x', /value 10.5 outside the allowed range \[0, 10\]; fix the data or widen the schema bounds/],
    ['non-integer in an integer column', '1,1,2.5,a,u', 2, 'k', /value 2.5 is not an integer/],
    ['unknown category', '1,1,1,z,u', 2, 'c', /unknown category "z"; allowed: a, b/],
    ['the reserved level written in the data', '1,1,1,a,(missing)', 2, 'm', /unknown category "\(missing\)"/],
  ];
  it.each(bad)('rejects %s with line, column and reason', (_label, row, line, column, reason) => {
    const { dataset, report } = buildDataset(schema, `${HEADER}\n${row}\n`);
    expect(dataset.rowCount).toBe(0);
    expect(report.rejected).toHaveLength(1);
    expect(report.rejected[0]!.line).toBe(line);
    expect(report.rejected[0]!.column).toBe(column);
    expect(report.rejected[0]!.reason).toMatch(reason);
    let err: unknown;
    try {
      buildDataset(schema, `${HEADER}\n${row}\n`, { strict: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).line).toBe(line);
    expect((err as Error).message).toMatch(reason);
  });

  it('keeps the good rows and reports every rejected one with its physical line', () => {
    const { dataset, report } = buildDataset(schema, `${HEADER}\n1,1,1,a,u\n2,"multi\nline",1,a,u\n3,11,1,a,u\n4,2,1,b,v\n`);
    expect(report.rowsRead).toBe(4);
    expect(report.rowsLoaded).toBe(2);
    expect(report.rejected.map((r) => [r.line, r.column])).toEqual([[3, 'x'], [5, 'x']]);
    expect(num(dataset, 'x')).toEqual([1, 2]);
  });

  it('missing: \'reject\' (a column never missing): a row missing it, or holding a missing-value string, is refused as an invalid value', () => {
    const strict = parseSchema({
      name: 'r', maxRowsPerParty: 10, missingValues: ['NA'],
      columns: [{ name: 'age', type: 'integer', min: 0, max: 120, missing: 'reject' }, { name: 'sex', type: 'categorical', categories: ['f', 'm'], missing: 'reject' }, { name: 'lab', type: 'numeric', min: 0, max: 9 }],
    });
    expect(strict.columns.map((c) => c.missing)).toEqual(['reject', 'reject', 'drop']);
    const { dataset, report } = buildDataset(strict, 'age,sex,lab\n50,f,\n,m,1\nNA,f,2\n60, ,3\n70,m,NA\n');
    expect(dataset.rowCount).toBe(2);
    expect(report.rejected.map((r) => [r.line, r.column])).toEqual([[3, 'age'], [4, 'age'], [5, 'sex']]);
    expect(report.rejected[0]!.reason).toMatch(/missing value; the schema declares this column never missing \(missing: 'reject'\)/);
    expect(report.population.dropped.invalid_value).toBe(3);
    expect(() => buildDataset(strict, 'age,sex,lab\n,f,1\n', { strict: true })).toThrow(DatasetError);
    expect(() => parseSchema({ name: 'r', maxRowsPerParty: 10, columns: [{ name: 'id', type: 'identifier', missing: 'reject' }] })).toThrow(/a row missing its patient identifier is refused already/);
    expect(() => parseSchema({ name: 'r', maxRowsPerParty: 10, columns: [{ name: 'a', type: 'integer', min: 0, max: 1, missing: 'never' }] })).toThrow(/missing: got "never"; use 'drop', 'category' or 'reject'/);
  });

  it('refuses a header lacking a schema column, naming it', () => {
    expect(() => buildDataset(schema, 'id,x,k,c\n1,1,1,a\n')).toThrow(/header lacks schema column\(s\) "m"; add them to the CSV or remove them from the schema/);
  });

  it('enforces maxRowsPerParty', () => {
    const rows = Array.from({ length: 6 }, (_, i) => `${i},1,1,a,u`).join('\n');
    expect(() => buildDataset(schema, `${HEADER}\n${rows}\n`)).toThrow(/6 rows but the schema allows at most maxRowsPerParty = 5/);
  });
});

describe('buildDataset: contribution bounding per patient', () => {
  const visits = parseSchema({
    name: 'v', maxRowsPerParty: 4, rowsPerPatient: 2,
    columns: [{ name: 'pid', type: 'identifier' }, { name: 'x', type: 'numeric', min: 0, max: 10 }],
  });

  it('keeps each patient\'s first k valid rows in file order; a rejected row does not use up the quota', () => {
    const { dataset, report } = buildDataset(visits, 'pid,x\nA,1\nB,2\nA,bad\nA,3\nA,4\nB,5\nB,6\nA,7\n');
    expect(num(dataset, 'x')).toEqual([1, 2, 3, 5]);
    expect(report.rejected.map((r) => [r.line, r.column])).toEqual([[4, 'x']]);
    expect(report).toMatchObject({ rowsRead: 8, rowsLoaded: 4, patients: 2, rowsOverPatientBound: 3, patientsOverBound: 2, patientColumn: 'pid', rowsPerPatient: 2 });
  });

  it('compares identifiers after trimming spaces, as exact strings otherwise', () => {
    const { dataset, report } = buildDataset(visits, 'pid,x\nA,1\n" A",2\n"A  ",3\na,4\n');
    expect(num(dataset, 'x')).toEqual([1, 2, 4]);
    expect(report).toMatchObject({ patients: 2, rowsOverPatientBound: 1, patientsOverBound: 1 });
  });

  it('applies maxRowsPerParty to the rows kept after the bound', () => {
    expect(buildDataset(visits, 'pid,x\nA,1\nA,2\nA,3\nA,4\nB,5\nB,6\n').report.rowsLoaded).toBe(4);
    expect(() => buildDataset(visits, 'pid,x\nA,1\nA,2\nB,3\nB,4\nC,5\n')).toThrow(/5 rows but the schema allows at most maxRowsPerParty = 4/);
  });

  it('k = 1 with an identifier column: one row per patient (duplicates dropped, counted)', () => {
    const { dataset, report } = buildDataset(schema, `${HEADER}\n1,1,1,a,u\n1,2,1,a,u\n2,3,1,a,u\n`);
    expect(num(dataset, 'x')).toEqual([1, 3]);
    expect(report).toMatchObject({ patients: 2, rowsOverPatientBound: 1, patientsOverBound: 1, rowsPerPatient: 1 });
  });

  it('a missing identifier rejects the row (also under strict)', () => {
    const { report } = buildDataset(visits, 'pid,x\n,1\n  ,2\nA,3\n');
    expect(report.rowsLoaded).toBe(1);
    expect(report.rejected.map((r) => [r.line, r.column])).toEqual([[2, 'pid'], [3, 'pid']]);
    expect(() => buildDataset(visits, 'pid,x\n,1\n', { strict: true })).toThrow(/line 2, column "pid": missing patient identifier/);
  });

  it('no identifier column and k = 1: every row is a patient', () => {
    const plain = parseSchema({ name: 'p', maxRowsPerParty: 10, columns: [{ name: 'x', type: 'numeric', min: 0, max: 10 }] });
    const { report } = buildDataset(plain, 'x\n1\n1\n1\n');
    expect(report).toMatchObject({ rowsLoaded: 3, patients: 3, rowsOverPatientBound: 0, patientsOverBound: 0, patientColumn: null });
    expect(formatLoadReport(report, 'p.csv')).toContain('patients: no identifier column, each of the 3 rows counts as one patient (rowsPerPatient 1)');
  });

  it('refuses to load under a schema object whose patients cannot be bounded', () => {
    const plain = parseSchema({ name: 'p', maxRowsPerParty: 10, columns: [{ name: 'x', type: 'numeric', min: 0, max: 10 }] });
    expect(() => buildDataset({ ...plain, rowsPerPatient: 3 }, 'x\n1\n')).toThrow(SchemaError);
  });

  it('quotes at most a short prefix of an over-long raw value', () => {
    const { report } = buildDataset(visits, `pid,x\nA,${'9'.repeat(10_000)}x\n`);
    expect(report.rejected[0]!.reason).toMatch(/^value "9{24}… \(10001 characters\)" is not a number$/);
  });
});

describe('splits', () => {
  const { dataset, csv, schema: pbcSchema } = loadExample('pbc');

  it('splitAssignment is deterministic from the seed, balanced, and differs between seeds', () => {
    const a = splitAssignment(418, 3, 'seed');
    expect(splitAssignment(418, 3, 'seed')).toEqual(a);
    expect(splitAssignment(418, 3, 'other')).not.toEqual(a);
    const sizes = [0, 1, 2].map((p) => a.filter((x) => x === p).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it('splitDataset partitions the rows (every age value appears exactly once)', () => {
    const parts = splitDataset(dataset, 4, 9);
    expect(parts.map((p) => p.rowCount).reduce((a, b) => a + b)).toBe(418);
    const ages = parts.flatMap((p) => num(p, 'age')).sort((x, y) => x - y);
    expect(ages).toEqual(num(dataset, 'age').sort((x, y) => x - y));
  });

  it('splitCsvText gives each party a CSV file with the same rows as splitDataset', () => {
    const texts = splitCsvText(csv, 3, 'demo');
    const fromText = texts.map((t) => buildDataset(pbcSchema, t, { strict: true }).dataset);
    const direct = splitDataset(dataset, 3, 'demo');
    for (let p = 0; p < 3; p++) {
      expect(fromText[p]!.rowCount).toBe(direct[p]!.rowCount);
      for (const c of ['age', 'bili', 'chol']) expect(num(fromText[p]!, c)).toEqual(num(direct[p]!, c));
      expect(cat(fromText[p]!, 'trt')).toEqual(cat(direct[p]!, 'trt'));
    }
  });

  it('splitDatasetByColumn gives one party per sex', () => {
    const parts = splitDatasetByColumn(dataset, 'sex');
    expect(parts.map((p) => new Set(cat(p, 'sex')).size)).toEqual([1, 1]);
    expect(parts.map((p) => p.rowCount)).toEqual([374, 44]);
  });
});

describe('example data', () => {
  const EXPECTED: Record<string, { rows: number; id: string | null }> = {
    pbc: { rows: 418, id: 'id' }, flchain: { rows: 7874, id: null }, rotterdam: { rows: 2982, id: 'pid' }, mgus2: { rows: 1384, id: 'id' },
  };
  it.each(['pbc', 'flchain', 'rotterdam', 'mgus2'] as const)('%s: every row loads under its schema (bounds contain every real value)', (name) => {
    const schemaJson = JSON.parse(readFileSync(new URL(`../examples/${name}/schema.json`, import.meta.url), 'utf8')) as unknown;
    const text = readFileSync(new URL(`../examples/${name}/${name}.csv`, import.meta.url), 'utf8');
    const { report } = buildDataset(parseSchema(schemaJson), text);
    expect(report.rejected).toEqual([]);
    expect(report.extraColumns).toEqual([]);
    expect(report.clipped).toBe(0);
    expect(report.rowsLoaded).toBe(EXPECTED[name]!.rows);
    // pbc, rotterdam, mgus2: one row per patient identifier; flchain: no identifier, every row a patient.
    expect(report.patients).toBe(report.rowsLoaded);
    expect(report.rowsOverPatientBound).toBe(0);
    expect(report.patientColumn).toBe(EXPECTED[name]!.id);
  });

  it.each(['rotterdam', 'mgus2'] as const)('%s: bounds are round values strictly wider than the data, and every declared constraint holds in every row', (name) => {
    const schema = parseSchema(JSON.parse(readFileSync(new URL(`../examples/${name}/schema.json`, import.meta.url), 'utf8')) as unknown);
    const { dataset } = buildDataset(schema, readFileSync(new URL(`../examples/${name}/${name}.csv`, import.meta.url), 'utf8'), { strict: true });
    for (const c of schema.columns) {
      if (c.type !== 'numeric' && c.type !== 'integer') continue;
      const v = (dataset.columns.get(c.name) as { values: Float64Array }).values.filter((x) => !Number.isNaN(x));
      // not the data's own min/max: a round bound with room beyond the most extreme value (0 may be attained)
      expect(Math.max(...v), c.name).toBeLessThan(c.max!);
      if (c.min !== 0) expect(Math.min(...v), c.name).toBeGreaterThan(c.min!);
      expect(c.max! % 5, c.name).toBe(0);
    }
    expect(schema.constraints!.length).toBe(1);
    for (const k of schema.constraints!) {
      const [l, r] = [k.left, k.right].map((n) => (dataset.columns.get(n) as { values: Float64Array }).values);
      let checked = 0;
      for (let i = 0; i < dataset.rowCount; i++) {
        if (Number.isNaN(l![i]!) || Number.isNaN(r![i]!)) continue;
        checked++;
        expect(l![i]!).toBeLessThanOrEqual(r![i]!);
      }
      expect(checked).toBe(dataset.rowCount);
    }
  });
});

describe('loadCsvFile', () => {
  it('reads a CSV file from disk and builds the same dataset as buildDataset', async () => {
    const { schema, dataset } = loadExample('flchain');
    const { dataset: fromFile, report } = await loadCsvFile(new URL('../examples/flchain/flchain.csv', import.meta.url).pathname, schema);
    expect(report.rowsLoaded).toBe(7874);
    expect(num(fromFile, 'kappa')).toEqual(num(dataset, 'kappa'));
    expect(cat(fromFile, 'chapter')).toEqual(cat(dataset, 'chapter'));
  });
});
