import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CsvError, formatCsv, parseCsv, parseSchema, patientColumn, schemaDigest, SchemaError } from '../stats/index.ts';
import type { Schema } from '../stats/index.ts';

const good = {
  name: 't',
  maxRowsPerParty: 100,
  columns: [
    { name: 'id', type: 'identifier' },
    { name: 'x', type: 'numeric', min: 0, max: 10 },
    { name: 'k', type: 'integer', min: -5, max: 5, outOfBounds: 'clip' },
    { name: 'c', type: 'categorical', categories: ['a', 'b'], missing: 'category' },
  ],
};
const withColumn = (col: unknown) => ({ ...good, columns: [...good.columns.slice(0, 1), col] });

describe('parseSchema', () => {
  it('accepts a valid schema and fills defaults', () => {
    const s = parseSchema(good);
    expect(s.columns[1]).toEqual({ name: 'x', type: 'numeric', min: 0, max: 10, missing: 'drop', outOfBounds: 'reject' });
    expect(s.columns[3]!.missing).toBe('category');
    expect(parseSchema(withColumn({ name: 'z', type: 'numeric', min: 0, max: 15, resolution: 0.1 })).columns[1]!.resolution).toBe(0.1);
  });

  const bad: [string, unknown, RegExp][] = [
    ['not an object', 42, /schema \(root\): expected an object/],
    ['unknown top-level field', { ...good, extra: 1 }, /unknown field "extra"/],
    ['empty name', { ...good, name: '' }, /schema name: expected a non-empty string/],
    ['maxRowsPerParty not an integer', { ...good, maxRowsPerParty: 1.5 }, /maxRowsPerParty: expected an integer in \[1, 2\^31\], got 1.5/],
    ['maxRowsPerParty zero', { ...good, maxRowsPerParty: 0 }, /maxRowsPerParty: expected an integer/],
    ['no columns', { ...good, columns: [] }, /columns: expected a non-empty array/],
    ['column without a name', withColumn({ type: 'numeric', min: 0, max: 1 }), /columns\[1\]\.name: expected a non-empty string/],
    ['unknown type', withColumn({ name: 'z', type: 'float' }), /column "z"\.type: got "float"; use one of numeric, integer, categorical, identifier/],
    ['numeric without min', withColumn({ name: 'z', type: 'numeric', max: 1 }), /column "z"\.min: required for a numeric column/],
    ['numeric with non-finite max', withColumn({ name: 'z', type: 'numeric', min: 0, max: 'inf' }), /column "z"\.max: required for a numeric column: a finite number/],
    ['min not below max', withColumn({ name: 'z', type: 'numeric', min: 3, max: 3 }), /column "z": min \(3\) must be less than max \(3\)/],
    ['integer with fractional bound', withColumn({ name: 'z', type: 'integer', min: 0, max: 2.5 }), /column "z"\.max: must be a \(safe\) integer/],
    ['huge bounds', withColumn({ name: 'z', type: 'numeric', min: 0, max: 1e13 }), /within ±2\^40/],
    ['categorical without categories', withColumn({ name: 'z', type: 'categorical' }), /column "z"\.categories: required for a categorical column/],
    ['duplicate categories', withColumn({ name: 'z', type: 'categorical', categories: ['a', 'a'] }), /categories: contains duplicates/],
    ['reserved (missing) level', withColumn({ name: 'z', type: 'categorical', categories: ['(missing)'] }), /"\(missing\)" is reserved; use missing: 'category'/],
    ['categories on a numeric column', withColumn({ name: 'z', type: 'numeric', min: 0, max: 1, categories: ['a'] }), /categories: only allowed for categorical columns/],
    ['min on a categorical column', withColumn({ name: 'z', type: 'categorical', categories: ['a'], min: 0 }), /min\/max are only allowed for numeric or integer columns/],
    ["missing 'category' on numeric", withColumn({ name: 'z', type: 'numeric', min: 0, max: 1, missing: 'category' }), /'category' is only allowed for categorical columns/],
    ['bad missing policy', withColumn({ name: 'z', type: 'categorical', categories: ['a'], missing: 'zero' }), /missing: got "zero"; use 'drop', 'category' or 'reject'/],
    ['bad outOfBounds policy', withColumn({ name: 'z', type: 'numeric', min: 0, max: 1, outOfBounds: 'wrap' }), /outOfBounds: got "wrap"; use 'reject' or 'clip'/],
    ['resolution on an integer column', withColumn({ name: 'z', type: 'integer', min: 0, max: 9, resolution: 1 }), /resolution: only allowed for numeric columns/],
    ['resolution on a categorical column', withColumn({ name: 'z', type: 'categorical', categories: ['a'], resolution: 1 }), /resolution: only allowed for numeric columns/],
    ['non-positive resolution', withColumn({ name: 'z', type: 'numeric', min: 0, max: 1, resolution: 0 }), /resolution: expected a positive number no larger than max − min, got 0/],
    ['resolution wider than the range', withColumn({ name: 'z', type: 'numeric', min: 0, max: 1, resolution: 2 }), /resolution: expected a positive number/],
    ['unknown column field', withColumn({ name: 'z', type: 'numeric', min: 0, max: 1, unit: 'mg' }), /column "z": unknown field "unit"/],
    ['duplicate column', { ...good, columns: [...good.columns, { name: 'x', type: 'identifier' }] }, /column "x": declared twice/],
  ];
  it.each(bad)('rejects %s', (_label, json, message) => {
    let err: unknown;
    try {
      parseSchema(json);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SchemaError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('patient identifier and rowsPerPatient', () => {
  const data = good.columns.slice(1);
  const rejects = (json: unknown, message: RegExp): void => {
    let err: unknown;
    try {
      parseSchema(json);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SchemaError);
    expect((err as Error).message).toMatch(message);
  };

  it('rowsPerPatient > 1 needs an identifier column', () => {
    rejects({ ...good, rowsPerPatient: 3, columns: data },
      /schema rowsPerPatient: is 3 but the schema declares no identifier column; declare the patient identifier column \(type "identifier"\)/);
  });

  it('at most one identifier column, whatever rowsPerPatient', () => {
    const two = [{ name: 'mrn', type: 'identifier' }, ...good.columns];
    rejects({ ...good, columns: two }, /schema columns: declares 2 identifier columns \("mrn", "id"\); declare exactly one, the patient identifier/);
    rejects({ ...good, rowsPerPatient: 4, columns: two }, /declares 2 identifier columns/);
  });

  it('k = 1 without an identifier: every row is a patient; with one: that column groups the rows', () => {
    expect(patientColumn(parseSchema({ ...good, columns: data }))).toBeUndefined();
    expect(patientColumn(parseSchema(good))?.name).toBe('id');
    expect(parseSchema(good).rowsPerPatient).toBe(1);
    expect(patientColumn(parseSchema({ ...good, rowsPerPatient: 5 }))?.name).toBe('id');
  });

  it('patientColumn also checks a schema object built without parseSchema', () => {
    const built: Schema = { ...parseSchema({ ...good, columns: data }), rowsPerPatient: 2 };
    expect(() => patientColumn(built)).toThrow(SchemaError);
  });

  it.each([['pbc', 'id'], ['flchain', undefined]] as const)('the %s example still parses (patient column %s)', (name, column) => {
    const schema = parseSchema(JSON.parse(readFileSync(new URL(`../examples/${name}/schema.json`, import.meta.url), 'utf8')));
    expect(schema.rowsPerPatient).toBe(1);
    expect(patientColumn(schema)?.name).toBe(column);
  });
});

describe('schemaDigest', () => {
  it('is independent of key order and explicit defaults', () => {
    const reordered = { columns: good.columns.map((c) => Object.fromEntries(Object.entries(c).reverse())), maxRowsPerParty: 100, name: 't' };
    const explicit = { ...good, columns: good.columns.map((c) => (c.type === 'numeric' ? { ...c, missing: 'drop', outOfBounds: 'reject' } : c)) };
    const d = schemaDigest(parseSchema(good));
    expect(d).toMatch(/^[0-9a-f]{64}$/);
    expect(schemaDigest(parseSchema(reordered))).toBe(d);
    expect(schemaDigest(parseSchema(explicit))).toBe(d);
  });
  it('changes when a bound, a category or the row limit changes', () => {
    const d = schemaDigest(parseSchema(good));
    expect(schemaDigest(parseSchema({ ...good, maxRowsPerParty: 101 }))).not.toBe(d);
    expect(schemaDigest(parseSchema({ ...good, columns: good.columns.map((c) => (c.name === 'x' ? { ...c, max: 11 } : c)) }))).not.toBe(d);
    expect(schemaDigest(parseSchema({ ...good, columns: good.columns.map((c) => (c.name === 'c' ? { ...c, categories: ['b', 'a'] } : c)) }))).not.toBe(d);
  });
});

describe('parseCsv (RFC 4180)', () => {
  it('parses quoted fields, escaped quotes, embedded commas and line breaks, CRLF and LF', () => {
    const text = '\uFEFFa,"b c",d\r\n1,"x, ""y""",\n"multi\nline",2,"3"\r\n';
    const t = parseCsv(text);
    expect(t.header).toEqual(['a', 'b c', 'd']);
    expect(t.rows).toEqual([['1', 'x, "y"', ''], ['multi\nline', '2', '3']]);
    expect(t.lines).toEqual([2, 3]);
  });
  it('accepts a missing final line break and skips blank lines', () => {
    expect(parseCsv('a,b\n1,2\n\n3,4').rows).toEqual([['1', '2'], ['3', '4']]);
  });
  it('keeps a record that is a single quoted empty field', () => {
    expect(parseCsv('a\n""\n').rows).toEqual([['']]);
  });
  it('round-trips through formatCsv', () => {
    const header = ['a', 'b'];
    const rows = [['1', 'x, "y"'], ['', 'two\nlines'], [' pad', 'z']];
    expect(parseCsv(formatCsv(header, rows))).toMatchObject({ header, rows });
  });

  const bad: [string, string, number, RegExp][] = [
    ['unterminated quote', 'a,b\n1,"open\n2,3\n', 2, /unterminated quoted field/],
    ['text after a closing quote', 'a,b\n1,"x"y\n', 2, /unexpected character "y" after a closing quote/],
    ['quote inside an unquoted field', 'a,b\n1,x"y\n', 2, /double quote inside an unquoted field/],
    ['bare carriage return', 'a,b\r1,2\n', 1, /bare carriage return/],
    ['empty input', '', 1, /empty input: expected a header row/],
    ['empty header name', 'a,,c\n', 1, /empty column name in the header/],
    ['duplicate header name', 'a,b,a\n', 1, /column "a" appears twice/],
  ];
  it.each(bad)('rejects %s with its line number', (_label, text, line, message) => {
    let err: unknown;
    try {
      parseCsv(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CsvError);
    expect((err as CsvError).line).toBe(line);
    expect((err as Error).message).toMatch(new RegExp(`^CSV line ${line}: `));
    expect((err as Error).message).toMatch(message);
  });
});
