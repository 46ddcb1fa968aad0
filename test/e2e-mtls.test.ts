/**
 * Mutual TLS (issue 17 item 8): an aggregator started with --tls-client-ca admits only clients
 * whose certificate its consortium CA signed. Certificates are made here by `blindsum certs`
 * (the system's openssl): the consortium CA, the aggregator's server certificate for
 * localhost/127.0.0.1, a client certificate per party and one for the analyst; and a second,
 * unrelated CA with a client certificate of its own (an outsider).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalystClient, AnalystError } from '../client/analyst.ts';
import { CLI_PATH, LocalFederation } from '../cli/federation.ts';
import { permanentFailure } from '../services/party/node.ts';
import { explainTlsFailure } from '../services/common/tls.ts';
import { splitCsvText } from '../stats/index.ts';

let fed: LocalFederation;
let dir: string;
let certs: string;
let outsider: string;

function blindsum(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-mtls-'));
  certs = join(dir, 'certs');
  outsider = join(dir, 'outsider');
  const made = blindsum(['certs', '--dir', certs, '--ca-name', 'test consortium CA', '--server', 'aggregator', '--host', 'localhost', '--host', '127.0.0.1',
    '--client', 'hospital-1', '--client', 'hospital-2', '--client', 'analyst']);
  expect(made.status, made.stderr).toBe(0);
  const other = blindsum(['certs', '--dir', outsider, '--client', 'hospital-1', '--client', 'analyst']);
  expect(other.status, other.stderr).toBe(0);
  const parts = splitCsvText(readFileSync('examples/pbc/pbc.csv', 'utf8'), 2, 'mtls');
  fed = await LocalFederation.start({
    dir: join(dir, 'fed'), schemaPath: 'examples/pbc/schema.json', partyData: parts, threshold: 2,
    tls: { certPath: join(certs, 'aggregator.pem'), keyPath: join(certs, 'aggregator.key'), caPath: join(certs, 'ca.pem'), mutual: { clientCaPath: join(certs, 'ca.pem'), certDir: certs } },
    aggregatorArgs: ['--tls-pin-parties'],
  });
}, 180_000);

afterAll(async () => {
  await fed?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A party process of this federation with other TLS flags, on a state directory of its own; resolves to its exit code and stderr. */
function runParty(tlsArgs: string[]): Promise<{ code: number | null; stderr: string }> {
  const p = fed.parties[0]!;
  const args = [...p.args];
  args[args.indexOf('--aggregator') + 1] = fed.address;
  // Drop the federation's own TLS flags; keep key, roster, schema, data and policy.
  for (const flag of ['--tls-ca', '--tls-cert', '--tls-key']) {
    const i = args.indexOf(flag);
    if (i >= 0) args.splice(i, 2);
  }
  const scratch = mkdtempSync(join(dir, 'party-'));
  args.push(...tlsArgs, '--state-dir', join(scratch, 'state'), '--receipts', join(scratch, 'receipts'), '--quiet');
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`the party did not stop within 60 s: ${stderr}`));
    }, 60_000);
    c.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stderr });
    });
  });
}

describe('blindsum certs', () => {
  it('writes the CA, the server and client certificates, keys with mode 0600, the server certificate valid for the given hosts', () => {
    for (const name of ['ca', 'aggregator', 'hospital-1', 'analyst']) {
      expect(statSync(join(certs, `${name}.key`)).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(certs, `${name}.pem`), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    }
    const text = spawnSync('openssl', ['x509', '-in', join(certs, 'aggregator.pem'), '-noout', '-text'], { encoding: 'utf8' }).stdout;
    expect(text).toMatch(/DNS:localhost, IP Address:127\.0\.0\.1/);
    expect(text).toMatch(/TLS Web Server Authentication/);
    const verify = spawnSync('openssl', ['verify', '-CAfile', join(certs, 'ca.pem'), join(certs, 'analyst.pem')], { encoding: 'utf8' });
    expect(verify.stdout).toMatch(/OK/);
    const outside = spawnSync('openssl', ['verify', '-CAfile', join(certs, 'ca.pem'), join(outsider, 'analyst.pem')], { encoding: 'utf8' });
    expect(outside.status).not.toBe(0);
  });

  it('never overwrites a certificate or a key, and reuses the existing CA for new ones', () => {
    const again = blindsum(['certs', '--dir', certs, '--client', 'analyst']);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/analyst\.pem exists; certs never overwrites/);
    const more = blindsum(['certs', '--dir', certs, '--client', 'bob']);
    expect(more.status, more.stderr).toBe(0);
    expect(more.stdout).toMatch(/using the CA in/);
    expect(spawnSync('openssl', ['verify', '-CAfile', join(certs, 'ca.pem'), join(certs, 'bob.pem')], { encoding: 'utf8' }).stdout).toMatch(/OK/);
  });
});

describe('the openssl recipe of docs/operations.md', () => {
  it('runs as written and makes a CA, a server certificate for the aggregator and a client certificate that verify for their purposes', () => {
    const doc = readFileSync('docs/operations.md', 'utf8');
    const block = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('openssl genpkey'));
    expect(block).toBeDefined();
    const where = mkdtempSync(join(dir, 'recipe-'));
    const r = spawnSync('/bin/sh', ['-e', '-c', block!], { cwd: where, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const verify = (purpose: string, cert: string): string => spawnSync('openssl', ['verify', '-purpose', purpose, '-CAfile', join(where, 'certs', 'ca.pem'), join(where, 'certs', cert)], { encoding: 'utf8' }).stdout;
    expect(verify('sslserver', 'aggregator.pem')).toMatch(/: OK/);
    expect(verify('sslclient', 'hospital-a.pem')).toMatch(/: OK/);
    for (const key of ['ca.key', 'aggregator.key', 'hospital-a.key']) expect(statSync(join(where, 'certs', key)).mode & 0o777).toBe(0o600);
  });
});

describe('mutual TLS', () => {
  it('parties with certificates of the consortium CA connect, and a query runs end to end under mutual TLS', async () => {
    const c = fed.client();
    try {
      const o = await c.run({ kind: 'count', columns: [], filter: [] });
      expect(o.status, o.error).toBe('done');
      expect(o.result?.n).toBe(418);
      expect(o.contributors).toEqual(['hospital-1', 'hospital-2']);
    } finally {
      c.close();
    }
  });

  it('an analyst without a client certificate is refused, in one sentence naming the fix', async () => {
    const c = new AnalystClient(fed.address, { identity: fed.identity(), tlsCaPath: join(certs, 'ca.pem') });
    try {
      const e = await c.listParties().then(() => undefined, (err: unknown) => err);
      expect(e).toBeInstanceOf(AnalystError);
      expect((e as Error).message).toMatch(/requires a client certificate.*give --tls-cert and --tls-key/);
    } finally {
      c.close();
    }
  });

  it('an analyst whose certificate another CA signed is refused, the message naming the certificate as the likely cause', async () => {
    const c = new AnalystClient(fed.address, { identity: fed.identity(), tlsCaPath: join(certs, 'ca.pem'), tlsCertPath: join(outsider, 'analyst.pem'), tlsKeyPath: join(outsider, 'analyst.key') });
    try {
      const e = await c.listParties().then(() => undefined, (err: unknown) => err);
      expect(e).toBeInstanceOf(AnalystError);
      expect((e as Error).message).toMatch(/(refused this client's TLS certificate|most likely it refused this client's certificate).*--tls-client-ca/);
    } finally {
      c.close();
    }
  });

  it('a party without a client certificate stops with exit 2 and the fix, instead of retrying', async () => {
    const r = await runParty(['--tls-ca', join(certs, 'ca.pem')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/blindsum party: .*(requires a client certificate|most likely it requires a client certificate).*give --tls-cert and --tls-key/);
  }, 90_000);

  it('a party whose certificate another CA signed stops with exit 2, naming its certificate', async () => {
    const r = await runParty(['--tls-ca', join(certs, 'ca.pem'), '--tls-cert', join(outsider, 'hospital-1.pem'), '--tls-key', join(outsider, 'hospital-1.key')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/blindsum party: .*(refused this party's TLS certificate|most likely it refused this party's certificate)/);
  }, 90_000);

  it('parties are pinned (--tls-pin-parties): a party presenting another member\'s certificate is refused and stops with exit 2, naming the certificate', async () => {
    const r = await runParty(['--tls-ca', join(certs, 'ca.pem'), '--tls-cert', join(certs, 'hospital-2.pem'), '--tls-key', join(certs, 'hospital-2.key')]);
    expect(r.code, r.stderr).toBe(2);
    // The party's log lines are JSON: the stopping line's msg names the certificate.
    const msgs = r.stderr.trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs.join('\n')).toMatch(/blindsum party: the aggregator refused this party's TLS certificate: party "hospital-1" presented a TLS client certificate for "hospital-2": this aggregator pins parties/);
    // The real hospital-1 stays connected.
    const c = fed.client();
    try {
      expect((await c.listParties()).parties.find((p) => p.partyId === 'hospital-1')?.connected).toBe(true);
    } finally {
      c.close();
    }
  }, 90_000);

  it('blindsum health answers SERVING with a client certificate and exits 1 with the reason without one', () => {
    const good = blindsum(['health', '--aggregator', fed.address, '--tls-ca', join(certs, 'ca.pem'), '--tls-cert', join(certs, 'analyst.pem'), '--tls-key', join(certs, 'analyst.key')]);
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/: SERVING/);
    const none = blindsum(['health', '--aggregator', fed.address, '--tls-ca', join(certs, 'ca.pem')]);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/requires a client certificate/);
  });

  it('client flags are checked together: --tls-cert without --tls-key, or without --tls-ca, exits 2 with the rule', () => {
    const noKey = blindsum(['parties', '--aggregator', fed.address, '--tls-ca', join(certs, 'ca.pem'), '--tls-cert', join(certs, 'analyst.pem')]);
    expect(noKey.status).toBe(2);
    expect(noKey.stderr).toMatch(/--tls-cert and --tls-key go together/);
    const noCa = blindsum(['parties', '--aggregator', fed.address, '--tls-cert', join(certs, 'analyst.pem'), '--tls-key', join(certs, 'analyst.key')]);
    expect(noCa.status).toBe(2);
    expect(noCa.stderr).toMatch(/--tls-cert needs --tls-ca/);
    const ok = blindsum(['parties', '--aggregator', fed.address, '--tls-ca', join(certs, 'ca.pem'), '--tls-cert', join(certs, 'analyst.pem'), '--tls-key', join(certs, 'analyst.key'), '--json']);
    expect(ok.status, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as { parties: { connected: boolean }[] }).parties.every((p) => p.connected)).toBe(true);
  });
});

describe('TLS failures, classified', () => {
  // The texts grpc-js gives (TLS 1.3): an alert the client read, or a connection cut before it could.
  const required = 'No connection established. Last error: 400DC3863C7F0000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:918:SSL alert number 116';
  const unknownCa = 'No connection established. Last error: 40:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:SSL alert number 48';
  const cut = 'No connection established. Last error: read ECONNRESET (2026-12-02T00:05:42.384Z). Resolution note: ';

  it('an alert naming the certificate is permanent at once; a handshake cut only after three in a row', () => {
    const mtls = { tls: true, clientCert: true };
    expect(permanentFailure(`14 UNAVAILABLE: ${required}`, 'f', { tls: true, clientCert: false })).toMatch(/requires a client certificate/);
    expect(permanentFailure(`14 UNAVAILABLE: ${unknownCa}`, 'f', mtls)).toMatch(/refused this party's TLS certificate/);
    expect(permanentFailure(`14 UNAVAILABLE: ${cut}`, 'f', { ...mtls, handshakeCuts: 1 })).toBeNull();
    expect(permanentFailure(`14 UNAVAILABLE: ${cut}`, 'f', { ...mtls, handshakeCuts: 3 })).toMatch(/most likely it refused this party's certificate/);
    expect(permanentFailure('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:7070', 'f', { ...mtls, handshakeCuts: 9 })).toBeNull();
  });

  it('a plaintext client cut at once by a TLS aggregator is told to speak TLS', () => {
    expect(explainTlsFailure('No connection established. Last error: Failed to connect (…)', { tls: false, clientCert: false })?.sentence).toMatch(/most likely it speaks TLS and this client does not \(give --tls-ca/);
  });
});
