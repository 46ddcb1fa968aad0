/**
 * Bad inputs at every boundary get a clear error and leave the services running: malformed
 * CSV rows and out-of-bounds values at a party, an unknown column in a query, a party that is
 * not on the roster or cannot prove its identity, truncated protobuf messages.
 */
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalystError } from '../client/analyst.ts';
import { LocalFederation } from '../cli/federation.ts';
import { lengthPrefixed } from '../crypto/bytes.ts';
import { generateIdentity, signDomain } from '../crypto/identity.ts';
import { PartyGatewayServiceClient, QueryRequest, SubmitQueryRequest, type AggregatorMessage } from '../gen/blindsum/v1/blindsum.ts';
import { parseSchema, schemaDigest, splitCsvText, type Query } from '../stats/index.ts';

const schemaPath = 'examples/pbc/schema.json';
const schema = parseSchema(JSON.parse(readFileSync(schemaPath, 'utf8')));
const parts = splitCsvText(readFileSync('examples/pbc/pbc.csv', 'utf8'), 3, 'bad-inputs');
const header = parts[2]!.slice(0, parts[2]!.indexOf('\n'));
const goodRow = parts[2]!.split('\n')[1]!;
const fields = goodRow.split(',');
const bili = header.split(',').indexOf('bili');
const outOfBounds = fields.map((f, i) => (i === bili ? '99.5' : f)).join(',');
// Party 3 gets two bad rows appended: a row with too few fields and a bilirubin outside [0, 50].
const badParty3 = parts[2]!.trimEnd() + '\n' + fields.slice(0, 5).join(',') + '\n' + outOfBounds + '\n';
const validRows = parts.reduce((n, p) => n + p.trimEnd().split('\n').length - 1, 0);
const count: Query = { kind: 'count', columns: [], filter: [] };

let fed: LocalFederation;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-bad-'));
  fed = await LocalFederation.start({ dir, schemaPath, partyData: [parts[0]!, parts[1]!, badParty3] });
}, 120_000);

afterAll(async () => {
  await fed?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function stillAnswers(): Promise<void> {
  const c = fed.client();
  try {
    const o = await c.run(count);
    expect(o.status, o.error).toBe('done');
    expect(o.result?.n).toBe(validRows);
  } finally {
    c.close();
  }
}

/** Opens a raw party stream, sends the given messages, returns what the aggregator answered. */
function rawPartyStream(send: (s: ReturnType<PartyGatewayServiceClient['connect']>, got: AggregatorMessage[]) => void): Promise<AggregatorMessage[]> {
  const client = new PartyGatewayServiceClient(fed.address, credentials.createInsecure());
  const got: AggregatorMessage[] = [];
  return new Promise((resolve) => {
    const s = client.connect();
    const done = (): void => {
      client.close();
      resolve(got);
    };
    s.on('data', (m: AggregatorMessage) => {
      got.push(m);
      send(s, got);
    });
    s.on('end', done);
    s.on('error', done);
    send(s, got);
  });
}

describe('bad inputs get clear errors and the services keep running', () => {
  it('a party skips a malformed CSV row and an out-of-bounds value, names them in its log, and answers on the valid rows', async () => {
    await stillAnswers();
    const log = readFileSync(join(dir, 'hospital-3.log'), 'utf8');
    expect(log).toMatch(/2 rejected/);
    expect(log).toMatch(/line \d+, : malformed row: 5 field\(s\), the header has 20/);
    expect(log).toMatch(/line \d+, bili: value 99\.5 outside the allowed range \[0, 50\]/);
  });

  it('a query naming an unknown column is refused with INVALID_ARGUMENT naming the column', async () => {
    const c = fed.client();
    try {
      const err = await c.submit({ kind: 'mean', columns: ['no_such_column'], filter: [] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AnalystError);
      expect((err as AnalystError).code).toBe(status.INVALID_ARGUMENT);
      expect((err as AnalystError).message).toMatch(/no_such_column/);
    } finally {
      c.close();
    }
    await stillAnswers();
  });

  it('a party that is not on the roster is rejected with the reason', async () => {
    const got = await rawPartyStream((s, g) => {
      if (g.length === 0) s.write({ body: { $case: 'hello', value: { partyId: 'intruder', schemaDigest: schemaDigest(schema), softwareVersion: 'test', lastReceiptIndex: 0n, lastReceiptHead: new Uint8Array(0) } } });
    });
    expect(got.at(-1)?.body?.$case).toBe('rejected');
    expect(JSON.stringify(got.at(-1))).toMatch(/not on the roster/);
    await stillAnswers();
  });

  it('a party claiming a roster id without its identity key is rejected and the real party stays connected', async () => {
    const impostor = generateIdentity();
    const got = await rawPartyStream((s, g) => {
      if (g.length === 0) s.write({ body: { $case: 'hello', value: { partyId: 'hospital-1', schemaDigest: schemaDigest(schema), softwareVersion: 'test', lastReceiptIndex: 0n, lastReceiptHead: new Uint8Array(0) } } });
      else if (g.length === 1 && g[0]!.body?.$case === 'challenge') {
        const ch = g[0]!.body.value;
        s.write({ body: { $case: 'auth', value: { signature: signDomain(impostor.secretKey, 'gateway/auth', lengthPrefixed(ch.aggregatorId, ch.nonce, 'hospital-1')) } } });
      }
    });
    expect(JSON.stringify(got.at(-1))).toMatch(/failed to prove its identity/);
    await stillAnswers();
  });

  it('truncated protobuf messages on both services get an error status, not a crash', async () => {
    const raw = new Client(fed.address, credentials.createInsecure());
    const request = QueryRequest.encode(QueryRequest.fromPartial({ queryId: randomUUID(), federation: 'demo', analyst: 'analyst', query: { kind: 'count' }, backend: 'secagg' })).finish();
    const full = SubmitQueryRequest.encode({ signedRequest: request, signature: new Uint8Array(64), analystPublicKey: new Uint8Array(0) }).finish();
    const truncated = Buffer.from(full.subarray(0, 5)); // cut inside the signed request
    const err = await new Promise<ServiceError | null>((resolve) => {
      raw.makeUnaryRequest('/blindsum.v1.AnalystService/SubmitQuery', (b: Buffer) => b, (b: Buffer) => b, truncated, new Metadata(), {}, (e) => resolve(e));
    });
    expect(err).not.toBeNull();
    expect([status.INTERNAL, status.INVALID_ARGUMENT]).toContain(err!.code);
    const stream = raw.makeBidiStreamRequest('/blindsum.v1.PartyGatewayService/Connect', (b: Buffer) => b, (b: Buffer) => b, new Metadata(), {});
    const streamErr = await new Promise<unknown>((resolve) => {
      stream.on('error', resolve);
      stream.on('end', () => resolve('ended'));
      stream.write(Buffer.from([0x0a, 0x20, 0x0a]));
    });
    expect(streamErr).toBeDefined();
    raw.close();
    await stillAnswers();
  });
});
