/**
 * The README's "Running a real deployment" steps, run as written with the real CLI (separate
 * processes on 127.0.0.1, over mutual TLS): party, operator and aggregator keys, the roster,
 * analyst keys and the operator-signed analysts.json, the consortium CA and certificates
 * (`blindsum certs`), the aggregator and three parties, signed DP queries, the budget, and the
 * auditor's export and verify.
 *
 * The commands are READ FROM README.md (the `blindsum …` code spans of that section) and run by
 * /bin/sh with a `blindsum` on PATH, so quoting, globs and `$TLS` work as for a reader. The only
 * substitutions (SUBSTITUTIONS below): the aggregator's host name becomes localhost, its address
 * 127.0.0.1 with a free port, /var/lib/blindsum a directory here, hospital-a the hospital at
 * hand, patients.csv its part of the example data, and "blindsum query …" the first query's
 * connection flags. If a step in the README stops working, or a command the test needs is no
 * longer in the README, this fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH } from '../cli/federation.ts';
import { splitCsvText } from '../stats/index.ts';

const HOSPITALS = ['hospital-a', 'hospital-b', 'hospital-c'];
let dir: string;
let bin: string;
const children: ChildProcess[] = [];
let port = 0;

/** The README section the commands come from, and its `blindsum …` code spans. */
const SECTION = (() => {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('## Running a real deployment');
  const end = readme.indexOf('\n## ', start + 1);
  expect(start).toBeGreaterThan(0);
  return readme.slice(start, end);
})();
const SPANS = [...SECTION.matchAll(/`(blindsum [^`]+)`/g)].map((m) => m[1]!);
/** The README's `TLS="…"` assignment (the analyst's TLS flags). */
const TLS_ASSIGNMENT = /`(TLS="[^"`]+")`/.exec(SECTION)?.[1];

/** The one README command that starts with `prefix` (fails when there is none, or more than one). */
function readme(prefix: string): string {
  const found = SPANS.filter((s) => s.startsWith(prefix));
  expect(found, `README "Running a real deployment": one command starting with ${JSON.stringify(prefix)}; commands: ${SPANS.join('\n')}`).toHaveLength(1);
  return found[0]!;
}

/** Test-side substitutions, the only differences from the README (see the file comment). */
function substitute(cmd: string, hospital = 'hospital-a'): string {
  const firstQuery = readme('blindsum query --aggregator');
  const connection = firstQuery.slice(0, firstQuery.indexOf(' --kind'));
  return cmd
    .replace(/^blindsum query …/, connection)
    .replaceAll('agg.example.org:7070', `localhost:${port}`)
    .replaceAll('--host agg.example.org', '--host localhost')
    .replaceAll('0.0.0.0:7070', '127.0.0.1:0')
    .replaceAll('/var/lib/blindsum', './agg')
    .replaceAll('patients.csv', `${hospital}.csv`)
    .replaceAll('hospital-a', hospital);
}

/** Runs a README command line with /bin/sh in the test directory, after the README's TLS assignment. */
function sh(cmd: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('/bin/sh', ['-c', `${TLS_ASSIGNMENT ?? ''}\n${cmd}`], { cwd: dir, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env['PATH']}`, ...env }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(cmd: string, env: Record<string, string> = {}): string {
  const r = sh(cmd, env);
  expect(r.status, `${cmd}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

function start(cmd: string, log: string): ChildProcess {
  const c = spawn('/bin/sh', ['-c', `exec ${cmd}`], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: `${bin}:${process.env['PATH']}` } });
  let out = '';
  c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  c.on('exit', () => writeFileSync(join(dir, log), out));
  children.push(c);
  return c;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-readme-'));
  // `blindsum` as the README's reader has it (npm link / npx): this repository's CLI on this Node.
  bin = join(dir, '.bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'blindsum'), `#!/bin/sh\nexec '${process.execPath}' '${CLI_PATH}' "$@"\n`);
  chmodSync(join(bin, 'blindsum'), 0o755);
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

describe('README: running a real deployment, step by step, with mutual TLS', () => {
  it('the section has the analyst\'s TLS flags and every command the steps need', () => {
    expect(TLS_ASSIGNMENT).toMatch(/--tls-ca certs\/ca\.pem --tls-cert certs\/alice\.pem --tls-key certs\/alice\.key/);
    expect(readme('blindsum aggregator')).toMatch(/--tls-cert certs\/aggregator\.pem --tls-key certs\/aggregator\.key --tls-client-ca certs\/ca\.pem --tls-pin-parties/);
    expect(readme('blindsum party')).toMatch(/--tls-ca certs\/ca\.pem --tls-cert certs\/hospital-a\.pem --tls-key certs\/hospital-a\.key/);
  });

  it('steps 2–4: keys, the roster (smallest safe t for c = 0) and the operator-signed analysts.json', () => {
    for (const h of HOSPITALS) ok(substitute(readme('blindsum keygen --id hospital-a'), h));
    ok(readme('blindsum keygen --id operator'));
    ok(readme('blindsum keygen --id myconsortium-aggregator'));
    expect(ok(readme('blindsum roster --federation'))).toMatch(/wrote roster with 3 parties, threshold t = 2, collusion c = 0/);
    ok(readme('blindsum analyst keygen --id alice'));
    ok(readme('blindsum analyst keygen --id alice').replaceAll('alice', 'bob'));
    expect(ok(readme('blindsum analyst roster'))).toMatch(/version 1/);
  });

  it('step 5: blindsum certs makes the consortium CA, the aggregator\'s certificate and one per hospital and analyst', () => {
    const out = ok(substitute(readme('blindsum certs')));
    expect(out).toMatch(/created the CA/);
    expect(out).toMatch(/server certificate for localhost/);
    for (const name of [...HOSPITALS, 'alice', 'bob']) expect(out).toContain(`client certificate "${name}"`);
  });

  it('steps 6–8: the aggregator (mutual TLS) and three parties run; alice\'s signed DP queries are answered, her budget charged; a client without a certificate and an unsigned query are refused', async () => {
    const agg = start(substitute(readme('blindsum aggregator')), 'aggregator.log');
    port = await new Promise<number>((resolve, reject) => {
      let buf = '';
      agg.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /listening on port (\d+)/.exec(buf);
        if (m) resolve(Number(m[1]));
      });
      agg.once('exit', (code) => reject(new Error(`aggregator exited with ${code}: ${readFileSync(join(dir, 'aggregator.log'), 'utf8').slice(-2000)}`)));
    });
    writeFileSync(join(dir, 'policy.json'), JSON.stringify({ allowedBackends: ['secagg'], minCohort: 10, allowExact: false, budgetRho: 1, maxRhoPerQuery: 0.25 }));
    for (const h of HOSPITALS) start(substitute(readme('blindsum party'), h), `${h}.log`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = sh(`${substitute(readme('blindsum parties'))} --json`);
      if (r.status === 0 && (JSON.parse(r.stdout) as { parties: { connected: boolean }[] }).parties.every((p) => p.connected)) break;
      if (Date.now() > deadline) throw new Error(`parties did not connect: ${r.stderr}`);
      await new Promise((res) => setTimeout(res, 300));
    }
    const q = ok(substitute(readme('blindsum query --aggregator')));
    expect(q).toMatch(/contributors: hospital-a, hospital-b, hospital-c/);
    expect(q).toMatch(/charged rho = 0\.02436/);
    const km = ok(substitute(readme('blindsum query … --kind kaplan_meier')));
    expect(km).toMatch(/Kaplan-Meier: Surv\(time, status in \{2\}\) ~ sex/);
    expect(km).toMatch(/charged rho = 0\.2000/);
    const model = ok(substitute(readme('blindsum query … --kind logistic_regression')));
    expect(model).toMatch(/logistic regression of status/);
    expect(model).toMatch(/differential privacy: 2 rounds, total rho = 0\.4000/);
    expect(model).toMatch(/job job-[0-9a-f]{8}: 2 rounds/);
    const budget = ok(substitute(readme('blindsum budget')));
    expect(budget).toMatch(/analyst alice: zCDP budget rho = 1; spent 0\.6244/);
    // Not README steps: what the README's set-up refuses.
    const noCert = sh(`blindsum parties --aggregator localhost:${port} --tls-ca certs/ca.pem`);
    expect(noCert.status).not.toBe(0);
    expect(noCert.stderr).toMatch(/requires a client certificate/);
    const unsigned = sh(`blindsum query --aggregator localhost:${port} $TLS --kind count --rho 0.01 --quiet`, { BLINDSUM_ANALYST_KEY: '' });
    expect(unsigned.status).not.toBe(0);
    expect(unsigned.stderr).toMatch(/analyst key/);
  }, 240_000);

  it('step 9: the auditor exports the transcript and verifies it with the roster, analysts.json, the schema and the parties\' receipts', () => {
    ok(substitute(readme('blindsum audit export')));
    const v = ok(substitute(readme('blindsum audit verify')));
    expect(v).toMatch(/receipts: \d+ checked against the chain/);
    expect(v).toMatch(/analysts: every submitted query is a request signed by an analyst/);
    expect(v).toMatch(/^VERIFIED/m);
  });
});
