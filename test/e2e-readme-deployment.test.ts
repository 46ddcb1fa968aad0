/**
 * The README's "Running a real deployment" steps, run as written with the real CLI (separate
 * processes on 127.0.0.1): party, operator and aggregator keys, the roster, analyst keys and the
 * operator-signed analysts.json, the aggregator and three parties, a signed DP query, the budget,
 * and the auditor's export and verify. If a step in the README stops working, this fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH } from '../cli/federation.ts';
import { splitCsvText } from '../stats/index.ts';

const HOSPITALS = ['hospital-a', 'hospital-b', 'hospital-c'];
let dir: string;
const children: ChildProcess[] = [];
let port = 0;

function cli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI_PATH, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[], env: Record<string, string> = {}): string {
  const r = cli(args, env);
  expect(r.status, `blindsum ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

function start(args: string[], log: string): ChildProcess {
  const c = spawn(process.execPath, [CLI_PATH, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  c.on('exit', () => writeFileSync(join(dir, log), out));
  children.push(c);
  return c;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-readme-'));
  copyFileSync('examples/pbc/schema.json', join(dir, 'schema.json'));
  splitCsvText(readFileSync('examples/pbc/pbc.csv', 'utf8'), 3, 'readme').forEach((part, i) => writeFileSync(join(dir, `${HOSPITALS[i]}.csv`), part));
});

afterAll(async () => {
  await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise<void>((resolve) => {
    const t = setTimeout(() => c.kill('SIGKILL'), 5000);
    c.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    c.kill('SIGTERM');
  })));
  rmSync(dir, { recursive: true, force: true });
});

describe('README: running a real deployment, step by step', () => {
  it('steps 2–4: keys, the roster (smallest safe t for c = 0) and the operator-signed analysts.json', () => {
    for (const h of HOSPITALS) ok(['keygen', '--id', h, '--out', `${h}.key`]);
    ok(['keygen', '--id', 'operator', '--out', 'operator.key']);
    ok(['keygen', '--id', 'myconsortium-aggregator', '--out', 'aggregator.key']);
    const roster = ok(['roster', '--federation', 'myconsortium', '--operator', 'operator.key.pub.json', '--aggregator', 'aggregator.key.pub.json', '--out', 'roster.json', ...HOSPITALS.map((h) => `${h}.key.pub.json`)]);
    expect(roster).toMatch(/threshold t = 2, collusion c = 0/);
    ok(['analyst', 'keygen', '--id', 'alice', '--out', 'alice.key']);
    ok(['analyst', 'keygen', '--id', 'bob', '--out', 'bob.key']);
    expect(ok(['analyst', 'roster', '--operator-key', 'operator.key', '--federation', 'myconsortium', '--roster', 'roster.json', '--out', 'analysts.json', 'alice.key.pub.json:analyst:1', 'bob.key.pub.json:auditor'])).toMatch(/version 1/);
  });

  it('steps 5–7: the aggregator and three parties run; alice\'s signed DP query is answered, her budget charged; an unsigned query is refused', async () => {
    const agg = start(['aggregator', '--roster', 'roster.json', '--analysts', 'analysts.json', '--schema', 'schema.json', '--data-dir', './agg', '--key', 'aggregator.key', '--listen', '127.0.0.1:0'], 'aggregator.log');
    port = await new Promise<number>((resolve, reject) => {
      let buf = '';
      agg.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /listening on port (\d+)/.exec(buf);
        if (m) resolve(Number(m[1]));
      });
      agg.once('exit', (code) => reject(new Error(`aggregator exited with ${code}`)));
    });
    writeFileSync(join(dir, 'policy.json'), JSON.stringify({ allowedBackends: ['secagg'], minCohort: 10, allowExact: false, budgetRho: 1, maxRhoPerQuery: 0.25 }));
    for (const h of HOSPITALS) {
      start(['party', '--aggregator', `127.0.0.1:${port}`, '--key', `${h}.key`, '--roster', 'roster.json', '--schema', 'schema.json', '--data', `${h}.csv`, '--policy', 'policy.json', '--quiet'], `${h}.log`);
    }
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = cli(['parties', '--aggregator', `127.0.0.1:${port}`, '--json']);
      if (r.status === 0 && (JSON.parse(r.stdout) as { parties: { connected: boolean }[] }).parties.every((p) => p.connected)) break;
      if (Date.now() > deadline) throw new Error('parties did not connect');
      await new Promise((res) => setTimeout(res, 200));
    }
    const q = ok(['query', '--aggregator', `127.0.0.1:${port}`, '--analyst-key', 'alice.key', '--kind', 'mean', '--column', 'age', '--where', 'sex = f', '--epsilon', '1', '--delta', '1e-6', '--quiet']);
    expect(q).toMatch(/contributors: hospital-a, hospital-b, hospital-c/);
    expect(q).toMatch(/charged rho = 0\.02436/);
    const km = ok(['query', '--aggregator', `127.0.0.1:${port}`, '--analyst-key', 'alice.key', '--kind', 'kaplan_meier', '--time', 'time', '--event', 'status', '--positive', '2', '--strata', 'sex', '--bins', '0,1000,2000,3000,4000,10000', '--rho', '0.2', '--quiet']);
    expect(km).toMatch(/Kaplan-Meier: Surv\(time, status in \{2\}\) ~ sex/);
    expect(km).toMatch(/charged rho = 0\.2000/);
    const model = ok(['query', '--aggregator', `127.0.0.1:${port}`, '--analyst-key', 'alice.key', '--kind', 'logistic_regression', '--target', 'status', '--positive', '2', '--column', 'bili', '--rho', '0.4', '--max-rounds', '2', '--quiet']);
    expect(model).toMatch(/logistic regression of status/);
    expect(model).toMatch(/differential privacy: 2 rounds, total rho = 0\.4000/);
    expect(model).toMatch(/job job-[0-9a-f]{8}: 2 rounds/);
    const budget = ok(['budget', '--aggregator', `127.0.0.1:${port}`], { BLINDSUM_ANALYST_KEY: 'alice.key' });
    expect(budget).toMatch(/analyst alice: zCDP budget rho = 1; spent 0\.6244/);
    const unsigned = cli(['query', '--aggregator', `127.0.0.1:${port}`, '--kind', 'count', '--rho', '0.01', '--quiet'], { BLINDSUM_ANALYST_KEY: '' });
    expect(unsigned.status).not.toBe(0);
    expect(unsigned.stderr).toMatch(/analyst key/);
  }, 180_000);

  it('step 8: the auditor exports the transcript and verifies it with the roster, analysts.json, the schema and the parties\' receipts', () => {
    ok(['audit', 'export', '--data-dir', './agg', '--out', 'transcript.json']);
    const v = ok(['audit', 'verify', 'transcript.json', '--roster', 'roster.json', '--analysts', 'analysts.json', '--schema', 'schema.json', '--receipts', 'receipts']);
    expect(v).toMatch(/receipts: \d+ checked against the chain/);
    expect(v).toMatch(/analysts: every submitted query is a request signed by an analyst/);
    expect(v).toMatch(/^VERIFIED/m);
  });
});
