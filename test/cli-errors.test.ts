/**
 * The CLI's failures read as one sentence with the likely cause: `--version`; an aggregator whose
 * port is taken exits 2 naming it (and leaves its data directory unlocked); a second aggregator on a
 * data directory in use exits 2 naming the holder's pid; transport errors seen by the analyst
 * client are explained (TLS mismatch, nothing listening, certificate).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainTransport } from '../client/analyst.ts';
import { writeNewIdentityFile } from '../services/common/keys.ts';
import { writeFederationFiles } from './analyst-harness.ts';

const CLI = join(import.meta.dirname, '..', 'cli', 'blindsum.ts');
let dir: string;
let blocker: Server;
let busyPort: number;

function aggregatorArgs(listen: string, dataDir: string): string[] {
  return [CLI, 'aggregator', '--listen', listen, '--roster', join(dir, 'roster.json'), '--analysts', join(dir, 'analysts.json'), '--schema', 'examples/pbc/schema.json', '--data-dir', dataDir, '--key', join(dir, 'aggregator.key'), '--quiet'];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-cli-errors-'));
  writeFederationFiles(dir);
  blocker = createServer();
  busyPort = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)));
});
afterAll(async () => {
  await new Promise((r) => blocker.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('CLI errors', () => {
  it('--version prints the package version', () => {
    const r = spawnSync(process.execPath, [CLI, '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^blindsum \d+\.\d+\.\d+ \(Node \d+/);
  });

  it('an aggregator whose port is taken exits 2 with one sentence naming the address, and leaves no lock behind', () => {
    const data = join(dir, 'agg-busy');
    const r = spawnSync(process.execPath, aggregatorArgs(`127.0.0.1:${busyPort}`, data), { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`blindsum aggregator: cannot listen on 127\\.0\\.0\\.1:${busyPort}: the address is in use or not available here`));
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(join(data, 'LOCK'))).toBe(false);
  });

  it('a second aggregator on a data directory in use exits 2 naming the first one\'s pid', async () => {
    const data = join(dir, 'agg-shared');
    const first = spawn(process.execPath, aggregatorArgs('127.0.0.1:0', data), { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        first.stdout!.on('data', (b: Buffer) => /listening on port/.test(b.toString()) && resolve());
        first.once('exit', (c) => reject(new Error(`first aggregator exited ${c}`)));
      });
      const r = spawnSync(process.execPath, aggregatorArgs('127.0.0.1:0', data), { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`is in use by process ${first.pid}`));
    } finally {
      first.kill('SIGTERM');
      await new Promise((r) => first.once('exit', r));
    }
    expect(existsSync(join(data, 'LOCK'))).toBe(false); // released on SIGTERM
  }, 60_000);

  it('a party the aggregator refuses for good (another schema, a key not on the roster) stops with exit 2 and the cause and fix, instead of retrying for ever', async () => {
    const data = join(dir, 'agg-parties');
    const agg = spawn(process.execPath, aggregatorArgs('127.0.0.1:0', data), { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        agg.stdout!.on('data', (b: Buffer) => {
          const m = /listening on port (\d+)/.exec(b.toString());
          if (m) resolve(Number(m[1]));
        });
        agg.once('exit', (c) => reject(new Error(`aggregator exited ${c}`)));
      });
      const party = (key: string, schema: string, csv: string): ReturnType<typeof spawnSync> =>
        spawnSync(process.execPath, [CLI, 'party', '--aggregator', `127.0.0.1:${port}`, '--key', key, '--roster', join(dir, 'roster.json'), '--schema', schema, '--data', csv, '--quiet'], { encoding: 'utf8', timeout: 60_000 });
      const wrongSchema = party(join(dir, 'hospital-1.key'), 'examples/flchain/schema.json', 'examples/flchain/flchain.csv');
      expect(wrongSchema.status, String(wrongSchema.stderr)).toBe(2);
      expect(String(wrongSchema.stderr)).toMatch(/blindsum party: the aggregator refused this party: schema mismatch: .*; give --schema the federation's schema\.json/);
      writeNewIdentityFile(join(dir, 'stranger.key'), 'hospital-9');
      const stranger = party(join(dir, 'stranger.key'), 'examples/pbc/schema.json', 'examples/pbc/pbc.csv');
      expect(stranger.status, String(stranger.stderr)).toBe(2);
      expect(String(stranger.stderr)).toMatch(/(not on the roster|is not a roster party|hospital-9)/);
    } finally {
      agg.kill('SIGTERM');
      await new Promise((r) => agg.once('exit', r));
    }
  }, 120_000);

  it('transport errors are explained in one sentence', () => {
    expect(explainTransport(14, 'No connection established. Last error: Error: 1234:error:0A00010B:SSL routines::wrong version number')).toMatch(/^TLS mismatch: this client speaks TLS but the aggregator answers in plaintext/);
    expect(explainTransport(14, 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:7070')).toMatch(/^cannot reach the aggregator: nothing listens at that address/);
    expect(explainTransport(14, 'self-signed certificate in certificate chain')).toMatch(/TLS certificate does not verify against --tls-ca/);
    expect(explainTransport(3, 'query: unknown field "x"')).toBe('query: unknown field "x"');
  });
});
