/**
 * `blindsum certs`: a consortium CA and its leaf certificates for TLS and mutual TLS, made by the
 * system's `openssl` binary (no X.509 library is among the dependencies, and none is added). The
 * same steps as plain openssl commands are in the README (§ TLS certificates).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { ConfigError } from '../../services/common/roster.ts';
import { int, str, UsageError, type Command } from '../args.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9*]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;

function openssl(args: string[], what: string): string {
  try {
    return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') {
      throw new ConfigError('blindsum certs needs the openssl command, which is not installed here: install it (Debian/Ubuntu: apt-get install openssl) or make the certificates elsewhere with the openssl recipe in the README (§ TLS certificates)');
    }
    throw new ConfigError(`openssl failed while ${what}: ${String(err.stderr ?? err.message).trim().split('\n')[0]!.slice(0, 200)}`);
  }
}

/** A new P-256 private key (PKCS#8 PEM), written with mode 0600; refuses to overwrite. */
function newKey(path: string): void {
  const pem = openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], `creating the key ${path}`);
  writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
}

/** A positive random 127-bit serial number in hex (RFC 5280: at most 20 octets, unique per CA). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return `0x${b.toString('hex')}`;
}

function subjectAltName(hosts: string[]): string {
  return hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(', ');
}

interface Leaf {
  name: string;
  usage: 'serverAuth' | 'clientAuth';
  hosts: string[];
}

function signLeaf(dir: string, tmp: string, leaf: Leaf, days: number): void {
  const key = join(dir, `${leaf.name}.key`);
  const cert = join(dir, `${leaf.name}.pem`);
  newKey(key);
  const cnf = join(tmp, `${leaf.name}.cnf`);
  writeFileSync(cnf, [
    '[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', `CN = ${leaf.name}`,
    '[leaf]', 'basicConstraints = critical, CA:FALSE', 'keyUsage = critical, digitalSignature, keyEncipherment', `extendedKeyUsage = ${leaf.usage}`,
    'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid',
    ...(leaf.hosts.length ? [`subjectAltName = ${subjectAltName(leaf.hosts)}`] : []), '',
  ].join('\n'));
  const csr = join(tmp, `${leaf.name}.csr`);
  openssl(['req', '-new', '-config', cnf, '-key', key, '-out', csr], `making the request for ${leaf.name}`);
  openssl([
    'x509', '-req', '-in', csr, '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'), '-set_serial', serial(),
    '-days', String(days), '-sha256', '-extfile', cnf, '-extensions', 'leaf', '-out', cert,
  ], `signing the certificate of ${leaf.name}`);
}

export const certs: Command = {
  name: 'certs',
  summary: 'create a consortium TLS CA and certificates for the aggregator (server) and for parties and analysts (mutual TLS clients), with openssl',
  usage: 'blindsum certs --dir certs [--ca-name "myconsortium CA"] [--server aggregator --host agg.example.org --host 10.0.0.5] [--client hospital-a --client alice …] [--days 825]',
  options: {
    dir: { type: 'string' }, 'ca-name': { type: 'string' }, server: { type: 'string' }, host: { type: 'string', multiple: true },
    client: { type: 'string', multiple: true }, days: { type: 'string' },
  },
  help: {
    dir: 'directory of the CA (ca.pem, ca.key: created if absent, reused if present) and the new certificates NAME.pem with their keys NAME.key (mode 0600; never overwritten)',
    'ca-name': 'common name of a new CA (default "blindsum consortium CA")',
    server: 'name of a server certificate to create (the aggregator\'s: --tls-cert NAME.pem --tls-key NAME.key)',
    host: 'a DNS name or IP address the server certificate is valid for (subjectAltName; at least one with --server)',
    client: 'name of a client certificate to create, for a party or an analyst (--tls-cert NAME.pem --tls-key NAME.key, against an aggregator with --tls-client-ca ca.pem)',
    days: 'validity of new certificates in days (default 825; the CA: 10 years)',
  },
  async run(v) {
    const dir = str(v['dir'], 'dir', true);
    const server = str(v['server'], 'server');
    const hosts = (v['host'] as string[] | undefined) ?? [];
    const clients = (v['client'] as string[] | undefined) ?? [];
    const days = int(v['days'], 'days', 825, 1, 36_500);
    if (server !== undefined && hosts.length === 0) throw new UsageError('--server needs at least one --host: the DNS names and IP addresses clients use to reach it');
    if (server === undefined && hosts.length > 0) throw new UsageError('--host goes with --server');
    for (const h of hosts) if (!isIP(h) && !DNS_NAME.test(h)) throw new UsageError(`--host: expected a DNS name or an IP address, got ${JSON.stringify(h.slice(0, 80))}`);
    const leaves: Leaf[] = [...(server !== undefined ? [{ name: server, usage: 'serverAuth' as const, hosts }] : []), ...clients.map((name) => ({ name, usage: 'clientAuth' as const, hosts: [] }))];
    const names = new Set<string>();
    for (const l of leaves) {
      if (!NAME.test(l.name) || l.name === 'ca') throw new UsageError(`certificate name ${JSON.stringify(l.name.slice(0, 80))}: expected letters, digits, . _ - (at most 64; not "ca")`);
      if (names.has(l.name)) throw new UsageError(`certificate name "${l.name}" given twice`);
      names.add(l.name);
      for (const f of [`${l.name}.pem`, `${l.name}.key`]) if (existsSync(join(dir, f))) throw new ConfigError(`${join(dir, f)} exists; certs never overwrites a certificate or a key (delete it first, or choose another name)`);
    }
    openssl(['version'], 'checking the openssl version');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const caPem = join(dir, 'ca.pem');
    const caKey = join(dir, 'ca.key');
    const haveCa = existsSync(caPem) && existsSync(caKey);
    if (!haveCa && (existsSync(caPem) || existsSync(caKey))) throw new ConfigError(`${dir} holds only one of ca.pem and ca.key: restore the other, or delete it to create a new CA`);
    const tmp = mkdtempSync(join(dir, '.certs-'));
    const out: string[] = [];
    try {
      if (!haveCa) {
        newKey(caKey);
        const cnf = join(tmp, 'ca.cnf');
        writeFileSync(cnf, [
          '[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', `CN = ${(str(v['ca-name'], 'ca-name') ?? 'blindsum consortium CA').replace(/[^A-Za-z0-9 ._-]/g, '_').slice(0, 64)}`,
          '[ca]', 'basicConstraints = critical, CA:TRUE, pathlen:0', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = hash', '',
        ].join('\n'));
        openssl(['req', '-new', '-x509', '-config', cnf, '-extensions', 'ca', '-key', caKey, '-sha256', '-days', '3650', '-set_serial', serial(), '-out', caPem], 'creating the CA certificate');
        out.push(`created the CA: ${caPem} (give it to everyone: --tls-ca, and --tls-client-ca on the aggregator) and ${caKey} (secret, mode 0600: keep it offline)`);
      } else {
        out.push(`using the CA in ${dir} (ca.pem, ca.key)`);
      }
      for (const leaf of leaves) {
        signLeaf(dir, tmp, leaf, days);
        const files = `${join(dir, `${leaf.name}.pem`)} and ${join(dir, `${leaf.name}.key`)} (secret, mode 0600)`;
        out.push(leaf.usage === 'serverAuth'
          ? `server certificate for ${leaf.hosts.join(', ')}: ${files}; the aggregator: --tls-cert ${leaf.name}.pem --tls-key ${leaf.name}.key`
          : `client certificate "${leaf.name}": ${files}; its holder: --tls-cert ${leaf.name}.pem --tls-key ${leaf.name}.key --tls-ca ca.pem`);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};
