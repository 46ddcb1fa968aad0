/**
 * One process per data directory: a second aggregator (or party) on a directory another live
 * process holds refuses to start and names that process; a lock left by a dead process is taken
 * over (and said so); the lock is released on close, so a restart in the same process works.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveAggregatorConfig, type AggregatorConfig } from '../services/aggregator/config.ts';
import { createAggregator } from '../services/aggregator/server.ts';
import { acquireDirLock, DirLockError } from '../services/common/dir-lock.ts';
import { writeFederationFiles } from './analyst-harness.ts';

let dir: string;
let config: AggregatorConfig;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-lock-'));
  writeFederationFiles(dir);
  config = resolveAggregatorConfig({
    listen: '127.0.0.1:0', rosterPath: join(dir, 'roster.json'), schemaPath: 'examples/pbc/schema.json', dataDir: join(dir, 'agg'), keyPath: join(dir, 'aggregator.key'),
    analystsPath: join(dir, 'analysts.json'), quiet: true,
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('data directory lock', () => {
  it('a second aggregator on the same data directory in this process is refused until the first closes', async () => {
    const a = createAggregator(config, () => {});
    expect(() => createAggregator(config, () => {})).toThrow(/the aggregator data directory .* is already in use by this process/);
    await a.close();
    expect(existsSync(join(config.dataDir, 'LOCK'))).toBe(false);
    const b = createAggregator(config, () => {}); // a restart after close works
    await b.close();
  });

  it('an aggregator is refused on a data directory that another live process holds, naming its pid', async () => {
    // Another process takes the lock with the real module and waits.
    const child = spawn(process.execPath, ['-e', `import('${new URL('../services/common/dir-lock.ts', import.meta.url).href}').then((m) => { m.acquireDirLock(${JSON.stringify(config.dataDir)}, 'x'); console.log('held'); setTimeout(() => {}, 60000); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
      expect(readFileSync(join(config.dataDir, 'LOCK'), 'utf8').trim()).toBe(String(child.pid));
      expect(() => createAggregator(config, () => {})).toThrow(new RegExp(`is in use by process ${child.pid} \\(its lock file .*LOCK\\); stop that process first`));
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    // The holder died without releasing: its lock is stale and is taken over, with a warning.
    const warnings: string[] = [];
    const a = createAggregator(config, (_level, msg) => warnings.push(String(msg)));
    expect(warnings.some((w) => new RegExp(`taking over the lock .* its holder \\(pid ${child.pid}\\) is gone`).test(w))).toBe(true);
    await a.close();
  });

  it('acquireDirLock: a lock with an unreadable or foreign content and no live holder is taken over; a held one refused with DirLockError', () => {
    const d = join(dir, 'plain');
    const dead = spawnSync(process.execPath, ['-e', 'process.pid']).pid!; // a pid that has exited
    const first = acquireDirLock(d, 'the test directory');
    expect(() => acquireDirLock(d, 'the test directory')).toThrow(DirLockError);
    first.release();
    writeFileSync(join(d, 'LOCK'), `${dead}\n`);
    const second = acquireDirLock(d, 'the test directory');
    expect(readFileSync(join(d, 'LOCK'), 'utf8').trim()).toBe(String(process.pid));
    second.release();
    writeFileSync(join(d, 'LOCK'), 'garbage');
    acquireDirLock(d, 'the test directory').release();
  });
});
