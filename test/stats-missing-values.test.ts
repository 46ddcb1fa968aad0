/**
 * The schema's missingValues (issue 19): a file exported with R's default `NA` loses every row
 * with a missing value unless the schema says "NA" is missing (mgus2: 46 of 1,384 rows); with it,
 * the dataset is the one the empty-field export gives, value for value. Column-level lists
 * override the schema's; a missing-value string that is also a category is refused.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { buildDataset, formatCsv, parseCsv, parseSchema, SchemaError, schemaDigest } from '../stats/index.ts';
import { inferSchema } from '../stats/schema-infer.ts';

const schemaJson = JSON.parse(readFileSync('examples/mgus2/schema.json', 'utf8')) as Record<string, unknown>;
const csv = readFileSync('examples/mgus2/mgus2.csv', 'utf8');
/** The same file as R's write.csv with its default na = "NA". */
const table = parseCsv(csv);
const naCsv = formatCsv(table.header, table.rows.map((r) => r.map((v) => (v.trim() === '' ? 'NA' : v))));

describe('missingValues', () => {
  const plain = buildDataset(parseSchema(schemaJson), csv);
  it('without it, an R export with NA loses every row that has a missing value (the reported 46 of 1,384)', () => {
    const { dataset, report } = buildDataset(parseSchema(schemaJson), naCsv);
    expect(plain.dataset.rowCount).toBe(1384);
    expect(report.rejected.length).toBe(46);
    expect(dataset.rowCount).toBe(1384 - report.rejected.length);
    expect(report.rejected[0]!.reason).toMatch(/"NA" is not a number|unknown category "NA"/);
  });
  it('with missingValues ["NA"], the NA export loads exactly as the empty-field file does', () => {
    const { dataset, report } = buildDataset(parseSchema({ ...schemaJson, missingValues: ['NA'] }), naCsv);
    expect(report.rejected).toHaveLength(plain.report.rejected.length);
    expect(dataset.rowCount).toBe(plain.dataset.rowCount);
    for (const [name, col] of plain.dataset.columns) {
      const other = dataset.columns.get(name)!;
      if (col.kind === 'numeric') expect([...(other as typeof col).values], name).toEqual([...col.values]);
      else expect([...(other as typeof col).codes], name).toEqual([...col.codes]);
    }
  });
  it('a column\'s own list overrides the schema\'s; a schema without the field keeps its digest', () => {
    const cols = (schemaJson['columns'] as { name: string }[]).map((c) => (c.name === 'hgb' ? { ...c, missingValues: ['.'] } : c));
    const s = parseSchema({ ...schemaJson, columns: cols, missingValues: ['NA'] });
    const withDot = formatCsv(table.header, table.rows.map((r) => r.map((v, j) => (v.trim() === '' ? (table.header[j] === 'hgb' ? '.' : 'NA') : v))));
    expect(buildDataset(s, withDot).dataset.rowCount).toBe(plain.dataset.rowCount);
    expect(schemaDigest(parseSchema(schemaJson))).toBe(schemaDigest(parseSchema(JSON.parse(JSON.stringify(schemaJson)))));
    expect(schemaDigest(s)).not.toBe(schemaDigest(parseSchema(schemaJson)));
  });
  it('schema infer declares the NA it finds, and its reviewed draft loads the NA export', () => {
    const { schema: draft } = inferSchema(naCsv, { name: 'mgus2' });
    expect(draft['missingValues']).toEqual(['NA']);
    const { draft: _d, ...reviewed } = draft;
    const { dataset, report } = buildDataset(parseSchema(reviewed), naCsv);
    expect(report.rejected).toHaveLength(0);
    expect(dataset.rowCount).toBe(1384);
  });
  it('refuses a string that is also a category, a repeated string and malformed lists, with the reason', () => {
    const cols = (schemaJson['columns'] as { name: string; type: string }[]);
    const cat = cols.find((c) => c.type === 'categorical')! as unknown as { name: string; categories: string[] };
    expect(() => parseSchema({ ...schemaJson, missingValues: [cat.categories[0]] })).toThrow(/is both a category and a missing value/);
    expect(() => parseSchema({ ...schemaJson, missingValues: ['NA', 'NA'] })).toThrow(/lists a string twice/);
    for (const bad of [['NA '], [''], 'NA', [1], Array.from({ length: 21 }, (_, i) => `x${i}`)]) {
      expect(() => parseSchema({ ...schemaJson, missingValues: bad })).toThrow(SchemaError);
    }
  });
});
