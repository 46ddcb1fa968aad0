/**
 * Structured logs (services/common/log.ts): every line the aggregator and the parties write to
 * stderr is one JSON object with the fixed keys; a message's fields are nested and cannot change
 * them; --log-level / BLINDSUM_LOG_LEVEL / --quiet choose the lowest level; the aggregator logs
 * every finished query (id, kind, backend, status, contributors, duration) and never its data.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, LocalFederation } from '../cli/federation.ts';
import { ConfigError } from '../services/common/roster.ts';
import { createLogger, formatLogLine, resolveLogLevel } from '../services/common/log.ts';
import { splitCsvText, type Query } from '../stats/index.ts';

const schemaPath = 'examples/pbc/schema.json';
const parts = splitCsvText(readFileSync('examples/pbc/pbc.csv', 'utf8'), 3, 'ops-logs');
const FIXED = ['time', 'level', 'component', 'msg'];

interface Line { time: string; level: string; component: string; msg: string; queryId?: string; fields?: Record<string, unknown> }

/** Every line of a log, parsed as JSON with the fixed keys (throws on the first that is not). */
function parseLog(text: string, name: string): Line[] {
  return text.trimEnd().split('\n').filter((l) => l !== '').map((l, i) => {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(l) as Record<string, unknown>;
    } catch {
      throw new Error(`${name} line ${i + 1} is not JSON: ${l.slice(0, 120)}`);
    }
    for (const k of FIXED) expect(typeof o[k], `${name} line ${i + 1} key ${k}: ${l.slice(0, 120)}`).toBe('string');
    expect(['debug', 'info', 'warn', 'error']).toContain(o['level']);
    expect(Number.isNaN(Date.parse(o['time'] as string))).toBe(false);
    for (const k of Object.keys(o)) expect([...FIXED, 'queryId', 'fields'], `${name} line ${i + 1}`).toContain(k);
    return o as unknown as Line;
  });
}

describe('log lines', () => {
  it('a message field named level, msg, time or component is nested under fields and changes no fixed key; queryId is lifted', () => {
    const line = JSON.parse(formatLogLine('aggregator', 'info', 'hello', { level: 'error', msg: 'forged', time: 'x', component: 'y', queryId: 'q-1', n: 3n, bytes: new Uint8Array(4) })) as Line;
    expect(line).toMatchObject({ level: 'info', msg: 'hello', component: 'aggregator', queryId: 'q-1' });
    expect(line.fields).toEqual({ level: 'error', msg: 'forged', time: 'x', component: 'y', n: '3', bytes: '<4 bytes>' });
    const long = JSON.parse(formatLogLine('p', 'warn', 'm', { queryId: 'z'.repeat(500) })) as Line;
    expect(long.queryId).toHaveLength(64);
  });

  it('the level filter: warn drops debug and info; --log-level beats --quiet beats BLINDSUM_LOG_LEVEL; a bad level is a configuration error', () => {
    const out: string[] = [];
    const log = createLogger('t', { level: 'warn', write: (l) => out.push(l) });
    log('debug', 'a');
    log('info', 'b', { level: 'error' });
    log('warn', 'c');
    log('error', 'd');
    expect(out.map((l) => (JSON.parse(l) as Line).msg)).toEqual(['c', 'd']);
    expect(resolveLogLevel({}, {})).toBe('info');
    expect(resolveLogLevel({ quiet: true }, { BLINDSUM_LOG_LEVEL: 'debug' })).toBe('warn');
    expect(resolveLogLevel({}, { BLINDSUM_LOG_LEVEL: 'ERROR' })).toBe('error');
    expect(resolveLogLevel({ logLevel: 'debug', quiet: true }, { BLINDSUM_LOG_LEVEL: 'error' })).toBe('debug');
    expect(() => resolveLogLevel({ logLevel: 'verbose' }, {})).toThrow(ConfigError);
    expect(() => resolveLogLevel({}, { BLINDSUM_LOG_LEVEL: 'loud' })).toThrow(/BLINDSUM_LOG_LEVEL: expected one of debug, info, warn, error/);
  });
});

describe('the logs of a real aggregator and three parties', () => {
  let dir: string;
  let fed: LocalFederation;
  const ids: string[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'blindsum-logs-'));
    fed = await LocalFederation.start({
      dir, schemaPath, partyData: parts, threshold: 2, analysts: ['logger'], aggregatorArgs: ['--log-level', 'debug'],
      partyArgs: { 1: ['--log-level', 'warn'] }, partyEnv: { 2: { BLINDSUM_LOG_LEVEL: 'error' } },
    });
    const c = fed.client('logger');
    try {
      const count: Query = { kind: 'count', columns: [], filter: [] };
      const mean: Query = { kind: 'mean', columns: ['age'], filter: [] };
      for (const [q, privacy] of [[count, undefined], [mean, { rho: 0.5 }]] as const) {
        const o = await c.run(q, privacy ? { privacy } : {});
        expect(o.status, o.error).toBe('done');
        ids.push(o.queryId);
      }
      // An exact count of too few rows: every party refuses (its minCohort), the query fails.
      const few = await c.run({ kind: 'count', columns: [], filter: [{ column: 'age', op: 'ge', values: [99] }] });
      expect(few.status).toBe('failed');
      ids.push(few.queryId);
    } finally {
      c.close();
    }
    await fed.stop(); // SIGTERM: the shutdown lines are logged too
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('every stderr line of the aggregator and of each party is one JSON object with the fixed keys', () => {
    for (const name of ['aggregator.log', 'hospital-1.log', 'hospital-2.log', 'hospital-3.log']) parseLog(readFileSync(join(dir, name), 'utf8'), name);
    const agg = parseLog(readFileSync(join(dir, 'aggregator.log'), 'utf8'), 'aggregator');
    expect(agg.some((l) => l.msg === 'aggregator listening')).toBe(true);
    expect(agg.some((l) => /^SIGTERM: stopping/.test(l.msg))).toBe(true);
    const p1 = parseLog(readFileSync(join(dir, 'hospital-1.log'), 'utf8'), 'hospital-1');
    expect(p1.find((l) => /^loaded \d+ of \d+ rows/.test(l.msg))?.fields).toMatchObject({ rowsLoaded: expect.any(Number) as number });
    expect(p1.every((l) => l.component === 'party:hospital-1')).toBe(true);
  });

  it('the aggregator logs each finished query (done or failed) with its id, kind, backend, status, contributors and duration, and no data or result', () => {
    const agg = parseLog(readFileSync(join(dir, 'aggregator.log'), 'utf8'), 'aggregator');
    for (const [i, kind] of [[0, 'count'], [1, 'mean']] as const) {
      const done = agg.filter((l) => l.queryId === ids[i] && l.msg === 'query done');
      expect(done, `query ${kind}`).toHaveLength(1);
      const f = done[0]!.fields!;
      expect(f).toMatchObject({ kind, backend: 'secagg', status: 'done', parties: 3, analyst: 'logger' });
      expect((f['contributors'] as string[]).sort()).toEqual(['hospital-1', 'hospital-2', 'hospital-3']);
      expect(f['durationMs']).toBeGreaterThanOrEqual(0);
      for (const k of Object.keys(f)) expect(['kind', 'backend', 'analyst', 'status', 'contributors', 'parties', 'rho', 'durationMs']).toContain(k);
    }
    const failed = agg.filter((l) => l.queryId === ids[2] && l.msg === 'query failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 'warn', fields: { kind: 'count', status: 'failed' } });
    expect(failed[0]!.fields!['error']).toMatch(/refused/);
    // Round lines carry the query id in the fixed key; at --log-level debug, so do its progress events.
    expect(agg.some((l) => l.queryId === ids[0] && l.msg === 'round closed')).toBe(true);
    expect(agg.filter((l) => l.queryId === ids[0] && l.level === 'debug' && l.msg === 'query progress').map((l) => l.fields!['stage'])).toContain('done');
  });

  it('--log-level warn (hospital-2) and BLINDSUM_LOG_LEVEL=error (hospital-3) suppress info lines; the default (hospital-1) keeps them', () => {
    const levels = (n: number): string[] => parseLog(readFileSync(join(dir, `hospital-${n}.log`), 'utf8'), `hospital-${n}`).map((l) => l.level);
    expect(levels(1)).toContain('info');
    expect(levels(2).filter((l) => l === 'info' || l === 'debug')).toEqual([]);
    expect(levels(3).filter((l) => l !== 'error')).toEqual([]);
  });

  it('a start-up error (a roster that does not exist) is one JSON line at level error and exit 2', () => {
    const r = spawnSync(process.execPath, [CLI_PATH, 'aggregator', '--roster', join(dir, 'nope.json'), '--analysts', fed.analystsPath, '--schema', schemaPath, '--data-dir', join(dir, 'agg2'), '--listen', '127.0.0.1:0'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(2);
    const lines = parseLog(r.stderr, 'failed aggregator');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', component: 'aggregator' });
    expect(lines[0]!.msg).toMatch(/^blindsum aggregator: .*nope\.json/);
  });
});
