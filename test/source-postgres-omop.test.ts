/**
 * The PostgreSQL source against a real PostgreSQL that this test starts (initdb into a temp
 * directory, a unix socket there, scram passwords) with two small synthetic OMOP CDM instances,
 * one database per hospital. The party reads examples/omop/analysis.sql through a read-only
 * role with a password file; its dataset equals the one loaded from psql's CSV export of the same
 * query, and a real local federation of two `blindsum party --source postgres://…` processes gives
 * the central results on the union of those CSV exports. A connection broken mid-read, a
 * statement timeout, a column of the wrong type and a row limit fail with clear errors, nothing
 * loaded and no password in any message. Skipped (with a printed reason) only when Debian's
 * PostgreSQL binaries are absent (`.ci/run` installs them).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, LocalFederation } from '../cli/federation.ts';
import { loadPartyConfig } from '../services/party/config.ts';
import { ConfigError } from '../services/common/roster.ts';
import { maskUrl, openSource, PostgresSource, readPasswordFile, SourceError } from '../services/party/sources/index.ts';
import {
  buildDataset, centralResult, compareResults, DatasetError, formatLoadReport, localStatistics, parseSchema, planQuery, type Dataset, type Query,
} from '../stats/index.ts';
import { generateOmop, insertOmop } from './omop-synth.ts';
import { partyFixture } from './party-harness.ts';
import { findPostgres, startPostgres, type TestPostgres } from './pg-harness.ts';

const bin = findPostgres();
if (!bin) console.warn('source-postgres-omop: SKIPPED: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (Debian package "postgresql"; .ci/run installs it)');

const SCHEMA_PATH = 'examples/omop/schema.json';
const schema = parseSchema(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')));
const ANALYSIS = 'examples/omop/analysis.sql';
const analysis = readFileSync(ANALYSIS, 'utf8');
const READER_PASSWORD = 'reader-Secret-4711';
const HOSPITALS = ['hospital_a', 'hospital_b'];

let pgs: TestPostgres;
let dir: string;
let pwFile: string;
const csvExports: string[] = [];

function readerUrl(db: string): string {
  return pgs.url(db).replace('user=postgres', 'user=blindsum_reader');
}

/** psql's own CSV export of the analysis query (COPY … TO STDOUT), independent of blindsum's reader. */
function psqlCsv(db: string): string {
  const file = join(dir, `${db}-copy.sql`);
  writeFileSync(file, `COPY (\n${analysis.trim().replace(/;\s*$/, '')}\n) TO STDOUT WITH (FORMAT csv, HEADER)\n`);
  return execFileSync(pgs.psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', pgs.socketDir, '-U', 'blindsum_reader', '-d', db, '-f', file], {
    encoding: 'utf8', env: { ...process.env, PGPASSWORD: READER_PASSWORD },
  });
}

function expectSameDataset(a: Dataset, b: Dataset): void {
  expect(a.rowCount).toBe(b.rowCount);
  for (const [name, col] of a.columns) expect(col, name).toEqual(b.columns.get(name));
}

describe.skipIf(!bin)('PostgreSQL source over a synthetic OMOP CDM instance (real PostgreSQL started by the test)', () => {
  beforeAll(async () => {
    pgs = await startPostgres(bin!);
    dir = mkdtempSync(join(tmpdir(), 'blindsum-omop-'));
    pwFile = join(dir, 'reader.password');
    writeFileSync(pwFile, `${READER_PASSWORD}\n`, { mode: 0o600 });
    const admin = await pgs.client();
    await admin.query(`CREATE ROLE blindsum_reader LOGIN PASSWORD '${READER_PASSWORD}'`);
    for (const db of HOSPITALS) await admin.query(`CREATE DATABASE ${db}`);
    await admin.end();
    const ddl = readFileSync('examples/omop/ddl.sql', 'utf8');
    for (const [i, db] of HOSPITALS.entries()) {
      const c = await pgs.client(db);
      await c.query(ddl);
      await insertOmop(c, generateOmop(1000 + i, i === 0 ? 300 : 220, (i + 1) * 100_000));
      await c.query('GRANT SELECT ON ALL TABLES IN SCHEMA public TO blindsum_reader');
      await c.end();
      csvExports.push(psqlCsv(db));
    }
  }, 120_000);

  afterAll(async () => {
    await pgs?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the party reads the OMOP analysis query into the dataset (and load report) that psql\'s CSV export of the same query gives', async () => {
    for (const [i, db] of HOSPITALS.entries()) {
      const source = openSource({ sourceUrl: readerUrl(db), queryFile: ANALYSIS, passwordFile: pwFile });
      expect(source).toBeInstanceOf(PostgresSource);
      const fromPg = await source.load(schema);
      const fromCsv = buildDataset(schema, csvExports[i]!);
      expect(fromPg.dataset.rowCount).toBeGreaterThan(100);
      expectSameDataset(fromPg.dataset, fromCsv.dataset);
      // Same rows rejected (a child at the index date), in query row order (CSV line = row + 1), same clipping.
      expect(fromPg.report.rejected.map((r) => [r.line + 1, r.column, r.reason])).toEqual(fromCsv.report.rejected.map((r) => [r.line, r.column, r.reason]));
      expect(fromPg.report.rejected.length).toBeGreaterThan(0);
      expect(fromPg.report.clipped).toBe(fromCsv.report.clipped);
      expect(fromPg.report.clipped).toBeGreaterThan(0);
      const text = formatLoadReport(fromPg.report, source.label);
      expect(text).toMatch(new RegExp(`loaded ${fromPg.report.rowsLoaded} of ${fromPg.report.rowsRead} rows from postgres:///${db}\\?host=`));
      expect(text).toMatch(/\n {2}row \d+, age: value \d+ outside the allowed range \[18, 110\]/);
      expect(text).not.toContain(READER_PASSWORD);
    }
  });

  it('a real local federation of two parties reading PostgreSQL gives the central results on the union of the CSV exports', async () => {
    const fedDir = join(dir, 'fed');
    const union = csvExports[0]! + csvExports[1]!.slice(csvExports[1]!.indexOf('\n') + 1);
    const { dataset } = buildDataset(schema, union);
    const fed = await LocalFederation.start({
      dir: fedDir, schemaPath: SCHEMA_PATH, partyData: ['', ''], threshold: 2, roundTimeoutMs: 20_000,
      partySource: Object.fromEntries(HOSPITALS.map((db, i) => [i, ['--source', readerUrl(db), '--query-file', ANALYSIS, '--source-password-file', pwFile]])),
    });
    const c = fed.client();
    try {
      const queries: Query[] = [
        { kind: 'count', columns: [], filter: [{ column: 'sex', op: 'eq', values: ['female'] }] },
        { kind: 'mean', columns: ['hba1c'], filter: [] },
        { kind: 'mean', columns: ['bmi'], filter: [{ column: 'hypertension', op: 'eq', values: ['yes'] }] },
        { kind: 'linear_regression', columns: ['age', 'bmi'], target: 'hba1c', filter: [] },
        { kind: 'frequency', columns: ['hypertension'], filter: [] },
        { kind: 'kaplan_meier', columns: [], filter: [], time: 'time', event: 'status', positive: ['1'], strata: 'sex', times: [365, 1095] },
      ];
      for (const q of queries) {
        const o = await c.run(q);
        expect(o.status, o.error).toBe('done');
        const plan = planQuery(q, schema, { parties: 2, ringBits: 64 });
        expect(o.exactSums, q.kind).toEqual(localStatistics(q, schema, plan, dataset).sums);
        expect(compareResults(o.result!, centralResult(q, schema, dataset)).maxRelDiff, q.kind).toBeLessThan(1e-6);
      }
    } finally {
      c.close();
      await fed.stop();
    }
    for (const id of ['hospital-1', 'hospital-2']) {
      const log = readFileSync(join(fedDir, `${id}.log`), 'utf8');
      expect(log).toMatch(/loaded \d+ of \d+ rows from postgres:\/\/\/hospital_[ab]\?host=/);
      expect(log).not.toContain(READER_PASSWORD);
    }
  }, 180_000);

  it('a connection broken mid-read fails with a clear error, nothing loaded, no password in it', async () => {
    const admin = await pgs.client();
    try {
      const source = new PostgresSource({
        url: readerUrl('hospital_a'), query: analysis, password: READER_PASSWORD, batchRows: 20,
        onBatch: async () => {
          await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'blindsum-party'`);
        },
      });
      const err = await source.load(schema).then(() => undefined, (e: unknown) => e as Error);
      expect(err).toBeInstanceOf(SourceError);
      expect(err!.message).toMatch(/^postgres:\/\/\/hospital_a\?host=.*: the query failed after 20 row\(s\): .*terminat.*; nothing was loaded$/s);
      expect(err!.message).not.toContain(READER_PASSWORD);
      // The party's configuration (what `blindsum party` starts from) is never built: no partial contribution.
      const fx = partyFixture(join(dir, 'broken'), { n: 2 });
      const input = {
        aggregator: '127.0.0.1:1', keyPath: join(fx.dir, 'hospital-1.key'), rosterPath: fx.rosterPath, schemaPath: SCHEMA_PATH, dataPath: source.label, quiet: true,
      };
      await expect(loadPartyConfig(input, source)).rejects.toThrow(/the query failed after 20 row\(s\).*nothing was loaded/s);
      const healthy = new PostgresSource({ url: readerUrl('hospital_a'), query: analysis, password: READER_PASSWORD, batchRows: 20 });
      expect((await loadPartyConfig(input, healthy)).dataset.rowCount).toBeGreaterThan(100); // control: the same party starts from an unbroken read
      // The CLI: exit 2 (a configuration/source error), one JSON log line naming the masked source, no password.
      const wrongPw = join(dir, 'wrong.password');
      writeFileSync(wrongPw, 'Wrong-Password-CLI\n', { mode: 0o600 });
      const r = spawnSync(process.execPath, [CLI_PATH, 'party', '--aggregator', '127.0.0.1:1', '--key', input.keyPath, '--roster', fx.rosterPath, '--schema', SCHEMA_PATH,
        '--source', readerUrl('hospital_a'), '--query-file', ANALYSIS, '--source-password-file', wrongPw], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/blindsum party: cannot connect to postgres:\/\/\/hospital_a\?host=.*password authentication failed for user \\"blindsum_reader\\"/);
      expect(r.stderr).not.toContain('Wrong-Password-CLI');
    } finally {
      await admin.end();
    }
  });

  it('the statement timeout bounds the whole read', async () => {
    const slow = `SELECT a.* FROM (${analysis.trim()}) a CROSS JOIN pg_sleep(2)`;
    const source = new PostgresSource({ url: readerUrl('hospital_a'), query: slow, password: READER_PASSWORD, statementTimeoutMs: 300 });
    await expect(source.load(schema)).rejects.toThrow(/the query failed after 0 row\(s\) \(the statement timeout of 300 ms was reached\): canceling statement due to statement timeout; nothing was loaded/);
  });

  it('reads in a read-only transaction: a query that writes is refused', async () => {
    const write = `WITH gone AS (DELETE FROM death RETURNING person_id) SELECT * FROM gone`;
    const source = new PostgresSource({ url: pgs.url('hospital_a'), query: write, password: 'pw-9f3c1e0b7d' });
    await expect(source.load(schema)).rejects.toThrow(/the query failed after 0 row\(s\): cannot execute \w+ in a read-only transaction; nothing was loaded/);
    const c = await pgs.client('hospital_a');
    expect(Number((await c.query('SELECT count(*) AS n FROM death')).rows[0].n)).toBeGreaterThan(0);
    await c.end();
  });

  it('a column whose PostgreSQL type cannot hold the schema type is refused before any row, naming it; a row limit stops the read', async () => {
    const dated = `SELECT person_id::text AS person_id, make_date(year_of_birth, 1, 1) AS age, 'female' AS sex, 5.5 AS hba1c, 25 AS bmi, 'no' AS hypertension, 10 AS time, '0' AS status FROM person`;
    await expect(new PostgresSource({ url: readerUrl('hospital_a'), query: dated, password: READER_PASSWORD }).load(schema))
      .rejects.toThrow(/column "age" of the query is a PostgreSQL date, the schema declares it integer; cast it in the query/);
    const small = parseSchema({ ...JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as object, maxRowsPerParty: 50 });
    await expect(new PostgresSource({ url: readerUrl('hospital_a'), query: analysis, password: READER_PASSWORD, batchRows: 10 }).load(small))
      .rejects.toThrow(DatasetError);
  });

  it('a wrong password or an unreachable server: clear errors that never contain the password; a password file readable by others is refused', async () => {
    const wrong = new PostgresSource({ url: readerUrl('hospital_a'), query: analysis, password: 'Wrong-Password-123' });
    const e1 = await wrong.load(schema).then(() => undefined, (e: unknown) => e as Error);
    expect(e1!.message).toMatch(/^cannot connect to postgres:\/\/\/hospital_a\?host=.*password authentication failed for user "blindsum_reader"/);
    expect(e1!.message).not.toContain('Wrong-Password-123');
    const inUrl = new PostgresSource({ url: 'postgres://reader:Url-Secret-99@127.0.0.1:1/omop', query: 'SELECT 1' });
    expect(inUrl.label).toBe('postgres://reader:***@127.0.0.1:1/omop');
    const e2 = await inUrl.load(schema).then(() => undefined, (e: unknown) => e as Error);
    expect(e2!.message).toMatch(/^cannot connect to postgres:\/\/reader:\*\*\*@127\.0\.0\.1:1\/omop: .*ECONNREFUSED/);
    expect(e2!.message).not.toContain('Url-Secret-99');
    expect(maskUrl('not a url Secret')).not.toContain('Secret');
    expect(new PostgresSource({ url: 'postgres://u:bad%zzSecret@127.0.0.1:1/db', query: 'SELECT 1' }).label).toBe('postgres://u:***@127.0.0.1:1/db');
    const open = join(dir, 'open.password');
    writeFileSync(open, 'x\n', { mode: 0o644 });
    expect(() => readPasswordFile(open)).toThrow(ConfigError);
    expect(() => readPasswordFile(open)).toThrow(/readable by group or others \(mode 644\); run: chmod 600/);
    expect(() => openSource({ sourceUrl: readerUrl('a'), dataPath: 'x.csv', queryFile: ANALYSIS })).toThrow(/either --data or --source/);
    expect(() => openSource({ sourceUrl: readerUrl('a') })).toThrow(/--source needs --query-file/);
  });
});
