/**
 * The Parquet source: the pbc rows written to Parquet (hyparquet-writer, typed columns: DOUBLE,
 * INT32/INT64, STRING, nulls for missing) load into exactly the dataset the CSV gives, through the
 * same validation; values of a type that cannot stand in their column reject their row, naming
 * row and column.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, describe, expect, it } from 'vitest';
import { openSource, ParquetSource } from '../services/party/sources/index.ts';
import { buildDataset, centralResult, DatasetError, findColumn, parseCsv, parseSchema, type Dataset, type Query } from '../stats/index.ts';
import { pbcCsv, pbcSchema } from './party-harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'blindsum-parquet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type ColumnData = { name: string; data: unknown[]; type: 'DOUBLE' | 'INT32' | 'INT64' | 'STRING' | 'BOOLEAN' | 'TIMESTAMP' };

/** The pbc CSV as Parquet columns typed from the schema (time as INT64, to exercise bigint). */
function pbcColumns(): ColumnData[] {
  const t = parseCsv(pbcCsv);
  return t.header.map((name, j) => {
    const raw = t.rows.map((r) => r[j]!.trim());
    const spec = findColumn(pbcSchema, name);
    if (name === 'time') return { name, type: 'INT64', data: raw.map((s) => (s === '' ? null : BigInt(s))) };
    if (!spec || spec.type === 'numeric') return { name, type: 'DOUBLE', data: raw.map((s) => (s === '' ? null : Number(s))) };
    if (spec.type === 'integer' || spec.type === 'identifier') return { name, type: 'INT32', data: raw.map((s) => (s === '' ? null : Number(s))) };
    return { name, type: 'STRING', data: raw.map((s) => (s === '' ? null : s)) };
  });
}

function write(name: string, columns: ColumnData[], rowGroupSize?: number): string {
  const path = join(dir, name);
  writeFileSync(path, new Uint8Array(parquetWriteBuffer({ columnData: columns as never, ...(rowGroupSize ? { rowGroupSize } : {}) })));
  return path;
}

function expectSameDataset(a: Dataset, b: Dataset): void {
  expect(a.rowCount).toBe(b.rowCount);
  expect([...a.columns.keys()]).toEqual([...b.columns.keys()]);
  for (const [name, col] of a.columns) expect(col, name).toEqual(b.columns.get(name));
}

describe('Parquet source', () => {
  it('the pbc rows from Parquet give the dataset, load report and results the CSV gives (batches smaller than row groups smaller than the file)', async () => {
    const path = write('pbc.parquet', pbcColumns(), 100);
    const csv = buildDataset(pbcSchema, pbcCsv);
    const source = openSource({ dataPath: path });
    expect(source).toBeInstanceOf(ParquetSource);
    for (const s of [source, new ParquetSource(path, 37)]) {
      const pq = await s.load(pbcSchema);
      expectSameDataset(pq.dataset, csv.dataset);
      const { unit, ...report } = pq.report;
      expect(unit).toBe('row');
      expect(report).toEqual(csv.report);
      const q: Query = { kind: 'linear_regression', columns: ['age', 'albumin'], target: 'bili', filter: [] };
      expect(centralResult(q, pbcSchema, pq.dataset)).toEqual(centralResult(q, pbcSchema, csv.dataset));
    }
  });

  it('a value of the wrong type rejects its row with row and column named; a short prefix only of a long value', async () => {
    const schema = parseSchema({
      name: 't', maxRowsPerParty: 100, columns: [
        { name: 'x', type: 'numeric', min: 0, max: 10 }, { name: 'g', type: 'categorical', categories: ['true', 'false'] }, { name: 'c', type: 'categorical', categories: ['a'] },
      ],
    });
    const long = 'z'.repeat(5000);
    const path = write('bad.parquet', [
      { name: 'x', type: 'DOUBLE', data: [1, 2, 11, 3, null] },
      { name: 'g', type: 'BOOLEAN', data: [true, false, true, null, true] },
      { name: 'c', type: 'STRING', data: ['a', long, 'a', 'a', 'a'] },
      { name: 'when', type: 'TIMESTAMP', data: [new Date(0), new Date(0), new Date(0), new Date(0), new Date(0)] },
    ]);
    const { dataset, report } = await new ParquetSource(path).load(schema);
    expect(dataset.rowCount).toBe(3);
    expect(report.extraColumns).toEqual(['when']);
    expect(report.rejected.map((r) => [r.line, r.column])).toEqual([[2, 'c'], [3, 'x']]);
    expect(report.rejected[0]!.reason).toMatch(/^unknown category "zzzzzzzzzzzzzzzzzzzzzzzz… \(5000 characters\)"/);
    await expect(new ParquetSource(path).load(schema, { strict: true })).rejects.toThrow(/^row 2, column "c": unknown category/);
    const dates = parseSchema({ name: 't', maxRowsPerParty: 100, columns: [{ name: 'when', type: 'numeric', min: 0, max: 10 }] });
    const r = await new ParquetSource(path).load(dates);
    expect(r.report.rejected[0]).toEqual({ line: 1, column: 'when', reason: expect.stringMatching(/a date\/time value cannot be a numeric value; convert it in the source/) as string, class: 'invalid_value' });
    const boolNum = parseSchema({ name: 't', maxRowsPerParty: 100, columns: [{ name: 'g', type: 'numeric', min: 0, max: 10 }] });
    expect((await new ParquetSource(path).load(boolNum)).report.rejected[0]!.reason).toMatch(/a boolean \(true\) cannot be a numeric value/);
  });

  it('stops as soon as maxRowsPerParty is passed, and refuses a file that is not Parquet or lacks a schema column', async () => {
    const path = write('many.parquet', [{ name: 'x', type: 'DOUBLE', data: Array.from({ length: 500 }, (_, i) => i % 10) }], 50);
    const small = parseSchema({ name: 't', maxRowsPerParty: 120, columns: [{ name: 'x', type: 'numeric', min: 0, max: 10 }] });
    await expect(new ParquetSource(path, 50).load(small)).rejects.toThrow(DatasetError);
    await expect(new ParquetSource(path, 50).load(small)).rejects.toThrow(/at least 121 rows but the schema allows at most maxRowsPerParty = 120 \(reading stopped there\)/);
    const other = parseSchema({ name: 't', maxRowsPerParty: 1000, columns: [{ name: 'y', type: 'numeric', min: 0, max: 10 }] });
    await expect(new ParquetSource(path).load(other)).rejects.toThrow(/header lacks schema column\(s\) "y"; add them to the source/);
    const notParquet = join(dir, 'x.parquet');
    writeFileSync(notParquet, 'id,x\n1,2\n');
    await expect(openSource({ dataPath: notParquet }).load(other)).rejects.toThrow(/cannot read Parquet file .*x\.parquet/);
  });
});
