/**
 * Attack: resource abuse by one client (issue 13, item 11), over real gRPC on 127.0.0.1 against
 * an in-process aggregator (createAggregator, temp data dir, captured logger):
 *   - an unauthenticated Hello with a 1 MB party id gets a short rejection (no echo), nothing
 *     large is logged, and the aggregator keeps serving;
 *   - SubmitQuery with 10^5 column names, a 1 MB column name or a 1 MB analyst name gets
 *     INVALID_ARGUMENT with a short message;
 *   - 50 parallel submissions by one analyst: at most the quota run, the rest get
 *     RESOURCE_EXHAUSTED naming the numbers, and another analyst's query still runs;
 *   - WatchQuery and GetResult on an unknown (or 1 MB) id return NOT_FOUND.
 * Two authenticated parties stay silent, so admitted queries stay running (waiting for
 * AdvertiseKeys) while the quota is exercised.
 */
import { credentials, status, type ClientDuplexStream } from '@grpc/grpc-js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalystClient, AnalystError } from '../client/analyst.ts';
import { toHex } from '../crypto/bytes.ts';
import { signDomain } from '../crypto/identity.ts';
import { PartyGatewayServiceClient, type AggregatorMessage, type PartyMessage } from '../gen/blindsum/v1/blindsum.ts';
import { resolveAggregatorConfig } from '../services/aggregator/config.ts';
import { AUTH_DOMAIN, authChallengeBody } from '../services/common/auth.ts';
import { AnalystQuotas } from '../services/aggregator/quotas.ts';
import { createAggregator, type Aggregator } from '../services/aggregator/server.ts';
import type { Logger } from '../services/common/errors.ts';
import { writeNewIdentityFile, type IdentityFile } from '../services/common/keys.ts';
import { parseSchema, schemaDigest, type Query } from '../stats/index.ts';
import { writeAnalystRosterFile } from '../services/common/analysts.ts';
import { queryToProto } from '../services/common/query-codec.ts';
import { signQueryRequest } from '../services/common/query-request.ts';
import { generateIdentity } from '../crypto/identity.ts';
import { randomUUID } from 'node:crypto';
import { testTeam } from './analyst-harness.ts';

const schemaPath = 'examples/pbc/schema.json';
const schema = parseSchema(JSON.parse(readFileSync(schemaPath, 'utf8')));
const MB = 'x'.repeat(1 << 20);
const count: Query = { kind: 'count', columns: [], filter: [] };

let dir: string;
let agg: Aggregator;
let address: string;
let client: AnalystClient;
/** Analysts of the operator-signed roster: every submission is signed (issue 13.10). */
const team = testTeam('fed', ['mallory', 'flooder', 'alice']);
const clients = new Map<string, AnalystClient>();
const as = (id: string): AnalystClient => {
  let c = clients.get(id);
  if (!c) {
    c = new AnalystClient(address, { identity: { id, identity: team.keys.get(id)! }, federation: 'fed' });
    clients.set(id, c);
  }
  return c;
};
const logLines: string[] = [];
const log: Logger = (level, message, fields) => {
  logLines.push(JSON.stringify({ level, message, ...fields }));
};
const parties: IdentityFile[] = [];
const silent: ClientDuplexStream<PartyMessage, AggregatorMessage>[] = [];
const gatewayClients: PartyGatewayServiceClient[] = [];

/** Opens a party stream, sends `hello`, and answers the challenge with `identity` if given; resolves with what the aggregator sent. */
function partyStream(hello: PartyMessage, identity?: IdentityFile, keepOpen = false): Promise<AggregatorMessage[]> {
  const c = new PartyGatewayServiceClient(address, credentials.createInsecure());
  gatewayClients.push(c);
  const s = c.connect();
  const got: AggregatorMessage[] = [];
  return new Promise((resolve) => {
    s.on('data', (m: AggregatorMessage) => {
      got.push(m);
      const b = m.body;
      if (b?.$case === 'challenge' && identity) {
        s.write({ body: { $case: 'auth', value: { signature: signDomain(identity.identity.secretKey, AUTH_DOMAIN, authChallengeBody(b.value.aggregatorId, b.value.nonce, identity.id)) } } });
      } else if (b?.$case === 'welcome' && keepOpen) {
        silent.push(s);
        resolve(got);
      } else if (b?.$case === 'rejected' || (b?.$case === 'challenge' && !identity)) {
        s.end();
        resolve(got);
      }
    });
    s.on('error', () => resolve(got));
    s.on('end', () => resolve(got));
    s.write(hello);
  });
}

const hello = (partyId: string): PartyMessage => ({
  body: { $case: 'hello', value: { partyId, schemaDigest: schemaDigest(schema), softwareVersion: 'test', lastReceiptIndex: 0n, lastReceiptHead: new Uint8Array(0) } },
});

async function rejected(p: Promise<unknown>): Promise<AnalystError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, 'the call succeeded').toBeInstanceOf(AnalystError);
  return e as AnalystError;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-attack-abuse-'));
  const entries = ['hospital-1', 'hospital-2', 'hospital-3'].map((id) => {
    const k = writeNewIdentityFile(join(dir, `${id}.key`), id);
    parties.push(k);
    return { id, publicKey: toHex(k.identity.publicKey) };
  });
  const aggKey = writeNewIdentityFile(join(dir, 'aggregator.key'), 'fed-aggregator');
  writeFileSync(join(dir, 'roster.json'), JSON.stringify({ federation: 'fed', threshold: 2, parties: entries, aggregator: { id: 'fed-aggregator', publicKey: toHex(aggKey.identity.publicKey) }, operator: team.operatorEntry }));
  writeAnalystRosterFile(join(dir, 'analysts.json'), team.roster);
  const config = resolveAggregatorConfig({
    listen: '127.0.0.1:0', rosterPath: join(dir, 'roster.json'), schemaPath, dataDir: join(dir, 'agg'), keyPath: join(dir, 'aggregator.key'),
    roundTimeoutMs: 600_000, analystsPath: join(dir, 'analysts.json'), quiet: true, maxRunningPerAnalyst: 4, maxSubmitsPerMinute: 30,
  });
  agg = createAggregator(config, log);
  address = `127.0.0.1:${await agg.start()}`;
  client = as('mallory');
  // Two parties connect and then say nothing: admitted queries wait for their AdvertiseKeys.
  await partyStream(hello('hospital-1'), parties[0], true);
  await partyStream(hello('hospital-2'), parties[1], true);
});

afterAll(async () => {
  // The silent parties leave; the running sessions see it and fail (close() waits for them).
  for (const s of silent) s.cancel();
  while (client && (await client.listParties()).parties.some((p) => p.connected)) await new Promise((r) => setTimeout(r, 50));
  await agg?.queries.drain();
  for (const c of clients.values()) c.close();
  for (const c of gatewayClients) c.close();
  await agg?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('attack: one client abusing the aggregator', () => {
  it('a Hello with a 1 MB party id is rejected with a short reason, nothing large is logged, and the aggregator keeps serving', async () => {
    const before = logLines.length;
    const got = await Promise.all(Array.from({ length: 4 }, () => partyStream(hello(MB))));
    for (const g of got) {
      const last = g.at(-1)?.body;
      expect(last?.$case).toBe('rejected');
      const reason = last?.$case === 'rejected' ? last.value.reason : '';
      expect(reason).toMatch(/^party id "x{32}"… \(1048576 characters\) is not a valid party id/);
      expect(reason.length).toBeLessThan(300);
    }
    const lines = logLines.slice(before);
    expect(lines.length).toBeGreaterThan(0);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(1000);
    // A long schema digest or software version from a roster party is refused the same way.
    const long = hello('hospital-3');
    if (long.body?.$case === 'hello') long.body.value.softwareVersion = MB;
    expect(JSON.stringify((await partyStream(long)).at(-1))).toMatch(/longer than 128 characters/);
    // Still serving parties and analysts.
    expect((await partyStream(hello('hospital-3'))).at(-1)?.body?.$case).toBe('challenge');
    expect((await client.listParties()).parties.filter((p) => p.connected).map((p) => p.partyId)).toEqual(['hospital-1', 'hospital-2']);
  });

  it('SubmitQuery with 10^5 column names, a 1 MB column name or a 1 MB analyst name: INVALID_ARGUMENT or UNAUTHENTICATED with a short message', async () => {
    const before = logLines.length;
    const mallory = as('mallory');
    // Oversized signed requests are refused before they are decoded.
    const many = await rejected(mallory.submit({ kind: 'count', columns: Array.from({ length: 100_000 }, (_, i) => `c${i}`), filter: [] }, { privacy: { rho: 0.01 } }));
    expect(many.code).toBe(status.INVALID_ARGUMENT);
    expect(many.message).toMatch(/signed request larger than 262144 bytes/);
    const big = await rejected(mallory.submit({ kind: 'sum', columns: [MB], filter: [] }, { privacy: { rho: 0.01 } }));
    expect(big.code).toBe(status.INVALID_ARGUMENT);
    // Within the request size, the query shape is bounded before use (stats/query.ts QUERY_LIMITS).
    const wide = await rejected(mallory.submit({ kind: 'count', columns: Array.from({ length: 100 }, (_, i) => `c${i}`), filter: [] }, { privacy: { rho: 0.01 } }));
    expect(wide.code).toBe(status.INVALID_ARGUMENT);
    expect(wide.message).toMatch(/query\.columns: at most 64 column names, got 100/);
    const long = await rejected(mallory.submit({ kind: 'sum', columns: ['y'.repeat(1000)], filter: [] }, { privacy: { rho: 0.01 } }));
    expect(long.message).toMatch(/query\.columns\[0\]: a column name has at most 128 characters, got 1000/);
    const value = await rejected(mallory.submit({ kind: 'count', columns: [], filter: [{ column: 'sex', op: 'eq', values: ['z'.repeat(10_000)] }] }, { privacy: { rho: 0.01 } }));
    expect(value.code).toBe(status.INVALID_ARGUMENT);
    // An analyst name nobody listed (signed by some key): refused without echoing it.
    const stranger = generateIdentity();
    const forged = signQueryRequest(stranger.secretKey, {
      queryId: randomUUID(), federation: 'fed', analyst: 'q'.repeat(100_000), query: queryToProto(count), backend: 'secagg', privacy: { rho: 0.01, epsilon: 0, delta: 0 }, analystKeySha256: '', issuedAtMs: BigInt(Date.now()),
    });
    const who = await rejected(mallory.submitSigned(forged.signedRequest, forged.signature));
    expect([status.UNAUTHENTICATED, status.INVALID_ARGUMENT]).toContain(who.code);
    const backend = await rejected(mallory.submit(count, { backend: MB.slice(0, 100_000), privacy: { rho: 0.01 } }));
    expect(backend.code).toBe(status.INVALID_ARGUMENT);
    for (const e of [many, big, wide, long, value, who, backend]) expect(e.message.length).toBeLessThan(400);
    expect(Math.max(0, ...logLines.slice(before).map((l) => l.length))).toBeLessThan(1000);
  });

  it('50 parallel submissions by one analyst: 4 run, the rest get RESOURCE_EXHAUSTED with the numbers; another analyst still runs', async () => {
    const all = await Promise.allSettled(Array.from({ length: 50 }, () => as('flooder').submit(count, { privacy: { rho: 0.01 } })));
    const ok = all.filter((r): r is PromiseFulfilledResult<{ queryId: string; planDigest: string }> => r.status === 'fulfilled');
    const refused = all.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as AnalystError);
    expect(ok).toHaveLength(4);
    expect(refused).toHaveLength(46);
    for (const e of refused) expect(e.code).toBe(status.RESOURCE_EXHAUSTED);
    const messages = new Set(refused.map((e) => e.message));
    expect([...messages].some((m) => /analyst has 4 queries running, at most 4 at once/.test(m))).toBe(true);
    expect([...messages].some((m) => /analyst submits too fast: at most 30 queries per minute/.test(m))).toBe(true);
    for (const o of ok) expect((await as('flooder').getResult(o.value.queryId)).status).toBe('running');
    // Another analyst is not starved.
    const other = await as('alice').submit(count, { privacy: { rho: 0.01 } });
    expect((await as('alice').getResult(other.queryId)).status).toBe('running');
  });

  it('replaying an analyst\'s stale or already-submitted signed request (as anyone who saw a StartSession or a transcript could) spends none of that analyst\'s rate', async () => {
    const aliceKey = team.keys.get('alice')!.secretKey;
    const stale = signQueryRequest(aliceKey, {
      queryId: randomUUID(), federation: 'fed', analyst: 'alice', query: queryToProto(count), backend: 'secagg', privacy: { rho: 0.01, epsilon: 0, delta: 0 }, analystKeySha256: '', issuedAtMs: BigInt(Date.now() - 2 * 3_600_000),
    });
    const outsider = as('mallory');
    const submitted = await as('alice').submit(count, { privacy: { rho: 0.01 } });
    const firstRequest = (await as('alice').getResult(submitted.queryId)).status;
    expect(firstRequest).toBe('running');
    const replays = await Promise.allSettled(Array.from({ length: 40 }, () => outsider.submitSigned(stale.signedRequest, stale.signature)));
    const codes = new Set(replays.map((r) => (r.status === 'rejected' ? (r.reason as AnalystError).code : -1)));
    expect([...codes]).toEqual([status.UNAUTHENTICATED]);
    // alice still has her rate: her next fresh request is accepted.
    const next = await as('alice').submit(count, { privacy: { rho: 0.01 } });
    expect((await as('alice').getResult(next.queryId)).status).toBe('running');
  });

  it('a 33 KB signed marginal of 2048 × 2046 cells (a plan bomb) is refused before planning: at most 2^20 cells', async () => {
    const edges = (n: number, lo: number, hi: number): number[] => Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
    const bomb = { kind: 'marginal', columns: ['time', 'chol'], filter: [], edges: [edges(2048, 0, 10000), edges(2046, 0, 2000)] } as unknown as Query;
    const e = await rejected(as('mallory').submit(bomb, { privacy: { rho: 0.01 } }));
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.message).toMatch(/marginal: 4\d{6} cells in all; at most 2\^20/);
    expect((await client.listParties()).parties.length).toBe(3); // still serving
  });

  it('WatchQuery and GetResult on an unknown id return NOT_FOUND (also for a 1 MB id, with a short message)', async () => {
    for (const id of ['00000000-0000-0000-0000-000000000000', MB]) {
      const w = await rejected(client.watch(id, () => {}, 30_000));
      expect(w.code).toBe(status.NOT_FOUND);
      expect(w.message.length).toBeLessThan(200);
      const g = await rejected(client.getResult(id));
      expect(g.code).toBe(status.NOT_FOUND);
      expect(g.message).toMatch(/^no query with id "/);
      expect(g.message.length).toBeLessThan(200);
    }
  });
});

describe('analyst quotas (class level, injected clock)', () => {
  it('a token bucket per analyst refills at the configured rate; running slots are released once; the global cap holds across analysts', () => {
    let now = 0;
    const q = new AnalystQuotas({ maxRunningPerAnalyst: 2, maxSubmitsPerMinute: 3, maxRunning: 3 }, () => now);
    for (let i = 0; i < 3; i++) q.take('a');
    expect(() => q.take('a')).toThrow(/at most 3 queries per minute; retry in 20 s/);
    q.take('b'); // another analyst has its own bucket
    now = 20_000; // one token back
    q.take('a');
    expect(() => q.take('a')).toThrow(/per minute/);
    const r1 = q.start('a');
    q.start('a');
    expect(() => q.start('a')).toThrow(/analyst has 2 queries running, at most 2 at once/);
    q.start('b');
    expect(() => q.start('c')).toThrow(/the aggregator runs 3 queries, at most 3 at once/);
    r1();
    r1(); // a second release is a no-op
    expect(q.running).toBe(2);
    q.start('c');
    expect(() => new AnalystQuotas({ maxRunningPerAnalyst: 0, maxSubmitsPerMinute: 3, maxRunning: 3 })).toThrow(RangeError);
  });
});
