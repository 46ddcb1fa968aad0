/**
 * The package's `blindsum` bin (cli/bin.mjs): started by whatever Node is on the system (20 on CI
 * machines), from another directory, it runs the CLI on the Node 24 runtime the package depends
 * on, passes arguments, stdout and the exit status through, and prints nothing else on stdout (no
 * npm banner: `--json` output stays parseable).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '..', 'cli', 'bin.mjs');
// The system's Node when there is one (the case the launcher exists for), else this one.
const SYSTEM_NODE = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p)) ?? process.execPath;

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(SYSTEM_NODE, [BIN, ...args], { cwd: tmpdir(), encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the blindsum bin', () => {
  it(`runs the CLI on Node 24 from another directory (started by ${SYSTEM_NODE})`, () => {
    const r = run(['--version']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^blindsum \d+\.\d+\.\d+ \(Node 2[4-9]\.\d+\.\d+\)\n$/);
  });
  it('passes the exit status and stderr through (a usage error exits 2), with nothing on stdout', () => {
    const r = run(['query', '--kind', 'count']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/analyst key/);
  });
});
