/** A deployment with TLS: parties and analysts verify the aggregator's certificate. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalystClient, AnalystError } from '../client/analyst.ts';
import { LocalFederation } from '../cli/federation.ts';
import { splitCsvText } from '../stats/index.ts';

let fed: LocalFederation;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-tls-'));
  // A throw-away self-signed certificate for localhost (openssl is part of the base system).
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'tls.key'),
    '-out', join(dir, 'tls.crt'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'pipe' });
  const parts = splitCsvText(readFileSync('examples/pbc/pbc.csv', 'utf8'), 2, 'tls');
  fed = await LocalFederation.start({
    dir: join(dir, 'fed'), schemaPath: 'examples/pbc/schema.json', partyData: parts, threshold: 2,
    tls: { certPath: join(dir, 'tls.crt'), keyPath: join(dir, 'tls.key'), caPath: join(dir, 'tls.crt') },
  });
}, 120_000);

afterAll(async () => {
  await fed?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('TLS', () => {
  it('parties connect and a query is answered over TLS', async () => {
    const c = fed.client();
    try {
      const o = await c.run({ kind: 'count', columns: [], filter: [] });
      expect(o.status, o.error).toBe('done');
      expect(o.result?.n).toBe(418);
    } finally {
      c.close();
    }
  });

  it('a client that does not speak TLS cannot talk to the aggregator', async () => {
    const plain = new AnalystClient(fed.address);
    try {
      await expect(plain.listParties()).rejects.toBeInstanceOf(AnalystError);
    } finally {
      plain.close();
    }
  });
});
