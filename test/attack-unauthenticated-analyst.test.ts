/**
 * Attacks on analyst authentication (issue 13, item 10). An outsider or an analyst tries to run
 * a query without a valid signature from an analyst of the operator-signed analyst roster; a
 * malicious aggregator invents or alters a query in an analyst's name, or presents an outdated
 * analyst roster; a malicious aggregator rewrites the transcript's record of who asked. Every
 * attack fails with a clear reason: at the real aggregator (in-process, real gRPC), at every real
 * party node (in-process createPartyNode behind the real PartyGateway, driven by the test as the
 * malicious aggregator), or in the auditor's verifier.
 */
import { credentials, Metadata, Server, ServerCredentials, status } from '@grpc/grpc-js';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalystClient, AnalystError } from '../client/analyst.ts';
import { CLI_PATH, LocalFederation } from '../cli/federation.ts';
import { fromUtf8, toHex, utf8 } from '../crypto/bytes.ts';
import { generateIdentity } from '../crypto/identity.ts';
import { EntryKind, type Entry } from '../crypto/transcript.ts';
import { exportedEntries } from '../services/common/transcript-file.ts';
import {
  AnalystServiceClient, GetResultRequest, PartyGatewayServiceService, StartSession, type QueryRequest, type SignedAnalystRoster,
} from '../gen/blindsum/v1/blindsum.ts';
import { exportTranscript } from '../services/audit/audit.ts';
import type { QuerySubmittedRecord } from '../services/common/transcript-records.ts';
import { verifyTranscript } from '../services/audit/verify.ts';
import { resolveAggregatorConfig } from '../services/aggregator/config.ts';
import { loadSchemaFile } from '../services/common/schema-file.ts';
import { PartyGateway, type PartyMessageBody } from '../services/aggregator/gateway.ts';
import { createAggregator, type Aggregator } from '../services/aggregator/server.ts';
import { AGGREGATOR_KEY_FILE, TranscriptLog } from '../services/aggregator/transcript-log.ts';
import { loadAnalystRoster, signAnalystRoster, writeAnalystRosterFile, type AnalystRole } from '../services/common/analysts.ts';
import { sha256Hex } from '../services/common/ckks.ts';
import { loadIdentityFile, writeNewIdentityFile, type IdentityFile } from '../services/common/keys.ts';
import { queryFromProto, queryToProto } from '../services/common/query-codec.ts';
import { requestRho, signQueryRequest, signRead } from '../services/common/query-request.ts';
import { loadRoster } from '../services/common/roster.ts';
import { resolvePartyConfig, type PartyConfig } from '../services/party/config.ts';
import { prepareContribution, Refuse } from '../services/party/contribution.ts';
import { PartyLedger } from '../services/party/ledger.ts';
import { createPartyNode, type PartyNode } from '../services/party/node.ts';
import { DP_GRID_BITS, planQuery, schemaDigest, splitCsvText, type Query } from '../stats/index.ts';
import { rebuildTranscript, resignEntry } from './transcript-forge.ts';

const FEDERATION = 'attack';
const PARTIES = ['hospital-1', 'hospital-2', 'hospital-3'];
const schemaPath = 'examples/pbc/schema.json';
const schema = loadSchemaFile(schemaPath);
const COUNT: Query = { kind: 'count', columns: [], filter: [] };
const silent = (): void => {};

let root: string;
let rosterPath: string;
let operator: IdentityFile;
const ids: Record<string, IdentityFile> = {};
let rosterV1: SignedAnalystRoster;
let rosterV2: SignedAnalystRoster;

function analysts(version: number, signer: Uint8Array = operator.identity.secretKey, extra: { id: string; role: AnalystRole }[] = []): SignedAnalystRoster {
  const list = [{ id: 'alice', role: 'analyst' as const }, { id: 'bob', role: 'analyst' as const }, { id: 'carol', role: 'auditor' as const }, ...extra];
  return signAnalystRoster(signer, { federation: FEDERATION, version, analysts: list.map((a) => ({ ...a, publicKey: toHex(ids[a.id]!.identity.publicKey), budgetRho: a.role === 'analyst' ? 10 : 0 })) });
}

/** A request as the analyst's client builds it; `over` changes any field before signing. */
function request(who: string, over: Partial<QueryRequest> = {}): QueryRequest {
  return {
    queryId: randomUUID(), federation: FEDERATION, analyst: who, query: queryToProto(COUNT), backend: 'secagg', privacy: { rho: 0.1, epsilon: 0, delta: 0 },
    analystKeySha256: '', issuedAtMs: BigInt(Date.now()), ...over,
  };
}

function sign(signer: IdentityFile, req: QueryRequest): { req: QueryRequest; signedRequest: Uint8Array; signature: Uint8Array } {
  return { req, ...signQueryRequest(signer.identity.secretKey, req) };
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'blindsum-attack-analyst-'));
  const parties = PARTIES.map((id) => {
    const k = writeNewIdentityFile(join(root, `${id}.key`), id);
    return { id, publicKey: toHex(k.identity.publicKey) };
  });
  mkdirSync(join(root, 'agg'), { mode: 0o700 });
  const agg = writeNewIdentityFile(join(root, 'agg', AGGREGATOR_KEY_FILE), 'attack-aggregator');
  operator = writeNewIdentityFile(join(root, 'operator.key'), 'attack-operator');
  for (const id of ['alice', 'bob', 'carol', 'mallory']) ids[id] = writeNewIdentityFile(join(root, `${id}.key`), id);
  rosterPath = join(root, 'roster.json');
  writeFileSync(rosterPath, JSON.stringify({
    federation: FEDERATION, threshold: 2, parties, aggregator: { id: agg.id, publicKey: toHex(agg.identity.publicKey) },
    operator: { id: operator.id, publicKey: toHex(operator.identity.publicKey) },
  }));
  rosterV1 = analysts(1);
  rosterV2 = analysts(2);
  writeAnalystRosterFile(join(root, 'analysts.json'), rosterV1);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the aggregator accepts only queries signed by an analyst of the analyst roster', () => {
  let aggregator: Aggregator;
  let address: string;
  const client = (who?: string): AnalystClient => new AnalystClient(address, who ? { identity: ids[who]!, federation: FEDERATION } : {});
  const refusal = async (p: Promise<unknown>): Promise<AnalystError> => {
    const e = await p.then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(AnalystError);
    return e as AnalystError;
  };
  let aliceQuery = '';

  beforeAll(async () => {
    const config = resolveAggregatorConfig({
      listen: '127.0.0.1:0', rosterPath, schemaPath, dataDir: join(root, 'agg'), analystsPath: join(root, 'analysts.json'), allowExact: true, quiet: true, roundTimeoutMs: 500,
    });
    aggregator = createAggregator(config, silent);
    address = `127.0.0.1:${await aggregator.start()}`;
  });
  afterAll(async () => {
    await aggregator?.close();
  });

  it('refuses to start without an analyst roster, or with a roster that names no operator key', () => {
    const base = { listen: '127.0.0.1:0', rosterPath, schemaPath, dataDir: join(root, 'agg-cfg') };
    expect(() => resolveAggregatorConfig(base)).toThrow(/--analysts is required/);
    const noOperator = join(root, 'roster-no-operator.json');
    const r = JSON.parse(readFileSync(rosterPath, 'utf8')) as Record<string, unknown>;
    delete r['operator'];
    writeFileSync(noOperator, JSON.stringify(r));
    expect(() => resolveAggregatorConfig({ ...base, rosterPath: noOperator, analystsPath: join(root, 'analysts.json') })).toThrow(/names no operator key/);
    const forged = join(root, 'analysts-forged.json');
    writeAnalystRosterFile(forged, analysts(3, ids['mallory']!.identity.secretKey, [{ id: 'mallory', role: 'analyst' }]));
    expect(() => resolveAggregatorConfig({ ...base, analystsPath: forged })).toThrow(/not signed by the federation's operator key/);
  });

  it('an unsigned submission is refused (UNAUTHENTICATED), and a client without a key says how to get one', async () => {
    const e = await refusal(client('alice').submitSigned(new Uint8Array(0), new Uint8Array(0)));
    expect(e.code).toBe(status.UNAUTHENTICATED);
    expect(e.message).toMatch(/not signed/);
    const anonymous = await refusal(client().submit(COUNT, { privacy: { rho: 0.1 } }));
    expect(anonymous.message).toMatch(/no analyst key: create one with `blindsum analyst keygen/);
  });

  it('a request signed with another key than the analyst\'s is refused (UNAUTHENTICATED)', async () => {
    const s = sign(ids['mallory']!, request('alice'));
    const e = await refusal(client('alice').submitSigned(s.signedRequest, s.signature));
    expect(e.code).toBe(status.UNAUTHENTICATED);
    expect(e.message).toMatch(/signature does not verify against the key of analyst "alice"/);
  });

  it('an analyst who is not in the analyst roster is refused (UNAUTHENTICATED)', async () => {
    const s = sign(ids['mallory']!, request('mallory'));
    const e = await refusal(client('mallory').submitSigned(s.signedRequest, s.signature));
    expect(e.code).toBe(status.UNAUTHENTICATED);
    expect(e.message).toMatch(/analyst "mallory" is not in the analyst roster/);
  });

  it('an auditor may not submit queries (PERMISSION_DENIED)', async () => {
    const e = await refusal(client('carol').submit(COUNT, { privacy: { rho: 0.1 } }));
    expect(e.code).toBe(status.PERMISSION_DENIED);
    expect(e.message).toMatch(/role "auditor".*only role "analyst" may submit/);
  });

  it('a stale request (issued 11 minutes ago) and a request for another federation are refused', async () => {
    const stale = sign(ids['alice']!, request('alice', { issuedAtMs: BigInt(Date.now() - 11 * 60_000) }));
    const e = await refusal(client('alice').submitSigned(stale.signedRequest, stale.signature));
    expect(e.code).toBe(status.UNAUTHENTICATED);
    expect(e.message).toMatch(/not within ±10 minutes/);
    const other = sign(ids['alice']!, request('alice', { federation: 'elsewhere' }));
    expect((await refusal(client('alice').submitSigned(other.signedRequest, other.signature))).message).toMatch(/for federation "elsewhere"/);
  });

  it('a signed request runs once: replaying it (same query id) is refused (ALREADY_EXISTS)', async () => {
    const s = sign(ids['alice']!, request('alice'));
    const { queryId } = await client('alice').submitSigned(s.signedRequest, s.signature);
    expect(queryId).toBe(s.req.queryId);
    aliceQuery = queryId;
    const e = await refusal(client('alice').submitSigned(s.signedRequest, s.signature));
    expect(e.code).toBe(status.ALREADY_EXISTS);
    expect(e.message).toMatch(/already submitted.*runs once/);
    await aggregator.queries.drain();
  });

  it('a signed request replayed while its first copy is still being planned (on the release thread) runs once: the copies are refused (ALREADY_EXISTS), the budget charged once', async () => {
    const s = sign(ids['alice']!, request('alice'));
    const before = (await client('alice').getBudget()).entries.filter((e) => e.queryId === s.req.queryId).length;
    // sent together: every copy passes the first replay check before any is stored, the stored one wins
    const outcomes = await Promise.allSettled([0, 1, 2].map(() => client('alice').submitSigned(s.signedRequest, s.signature)));
    const accepted = outcomes.filter((o) => o.status === 'fulfilled');
    expect(accepted).toHaveLength(1);
    for (const o of outcomes) {
      if (o.status === 'rejected') {
        expect(o.reason).toBeInstanceOf(AnalystError);
        expect((o.reason as AnalystError).code).toBe(status.ALREADY_EXISTS);
        expect((o.reason as AnalystError).message).toMatch(/already submitted.*runs once/);
      }
    }
    const charges = (await client('alice').getBudget()).entries.filter((e) => e.queryId === s.req.queryId);
    expect(before).toBe(0);
    expect(charges.filter((e) => e.kind === 'charge')).toHaveLength(1);
    await aggregator.queries.drain();
  });

  it('a query id that names a session already in the transcript (e.g. a CKKS key ceremony\'s public id) is refused (ALREADY_EXISTS)', async () => {
    const dataDir = join(root, 'agg2');
    mkdirSync(dataDir, { mode: 0o700 });
    copyFileSync(join(root, 'agg', AGGREGATOR_KEY_FILE), join(dataDir, AGGREGATOR_KEY_FILE));
    chmodSync(join(dataDir, AGGREGATOR_KEY_FILE), 0o600);
    const ceremonyId = randomUUID();
    const log = TranscriptLog.open(dataDir, FEDERATION, loadIdentityFile(join(dataDir, AGGREGATOR_KEY_FILE)));
    log.appendAggregator('ckks/start-ceremony', ceremonyId, utf8('{}'));
    log.close();
    const second = createAggregator(resolveAggregatorConfig({ listen: '127.0.0.1:0', rosterPath, schemaPath, dataDir, analystsPath: join(root, 'analysts.json'), allowExact: true, quiet: true }), silent);
    const port = await second.start();
    try {
      const s = sign(ids['alice']!, request('alice', { queryId: ceremonyId }));
      const c = new AnalystClient(`127.0.0.1:${port}`, { identity: ids['alice']!, federation: FEDERATION });
      const e = await refusal(c.submitSigned(s.signedRequest, s.signature));
      c.close();
      expect(e.code).toBe(status.ALREADY_EXISTS);
    } finally {
      await second.close();
    }
  });

  it('a CKKS request whose key differs from the signed key digest is refused', async () => {
    const s = sign(ids['alice']!, request('alice', { backend: 'ckks', analystKeySha256: sha256Hex(utf8('the analyst key')) }));
    const e = await refusal(client('alice').submitSigned(s.signedRequest, s.signature, utf8('another key')));
    expect(e.message).toMatch(/differs from the one whose SHA-256 the analyst signed/);
  });

  it('reads are signed: only the query\'s analyst or an auditor reads a result; budgets are one\'s own (auditor: anyone\'s)', async () => {
    expect(aliceQuery).not.toBe('');
    expect((await client('alice').getResult(aliceQuery)).queryId).toBe(aliceQuery);
    expect((await client('carol').getResult(aliceQuery)).queryId).toBe(aliceQuery);
    const bob = await refusal(client('bob').getResult(aliceQuery));
    expect(bob.code).toBe(status.PERMISSION_DENIED);
    expect(bob.message).toMatch(/belongs to another analyst/);
    expect((await refusal(client('bob').watch(aliceQuery, () => {}))).code).toBe(status.PERMISSION_DENIED);
    // A raw gRPC client without the signed-read metadata, and one with a forged signature.
    const raw = new AnalystServiceClient(address, credentials.createInsecure());
    const unsigned = await new Promise<{ code?: number; details?: string } | null>((resolve) => raw.getResult({ queryId: aliceQuery }, (err) => resolve(err)));
    expect(unsigned?.code).toBe(status.UNAUTHENTICATED);
    const md = new Metadata();
    md.set('x-blindsum-analyst', 'alice');
    md.set('x-blindsum-timestamp', String(Date.now()));
    md.set('x-blindsum-signature-bin', Buffer.alloc(64, 1));
    const forged = await new Promise<{ code?: number; details?: string } | null>((resolve) => raw.getResult({ queryId: aliceQuery }, md, (err) => resolve(err)));
    expect(forged?.code).toBe(status.UNAUTHENTICATED);
    expect(forged?.details).toMatch(/signature does not verify/);
    // A read alice really signed, but for another federation's aggregator, replayed here.
    const ts = String(Date.now());
    const elsewhere = new Metadata();
    elsewhere.set('x-blindsum-analyst', 'alice');
    elsewhere.set('x-blindsum-timestamp', ts);
    elsewhere.set('x-blindsum-signature-bin', Buffer.from(signRead(ids['alice']!.identity.secretKey, 'another-federation', 'GetResult', 'alice', ts, GetResultRequest.encode({ queryId: aliceQuery }).finish())));
    const replayed = await new Promise<{ code?: number; details?: string } | null>((resolve) => raw.getResult({ queryId: aliceQuery }, elsewhere, (err) => resolve(err)));
    expect(replayed?.code).toBe(status.UNAUTHENTICATED);
    raw.close();
    const own = await client('alice').getBudget();
    expect(own.analyst).toBe('alice');
    expect(own.limitRho).toBe(10);
    expect((await refusal(client('bob').getBudget('alice'))).code).toBe(status.PERMISSION_DENIED);
    expect((await client('carol').getBudget('alice')).analyst).toBe('alice');
  });

  it('the transcript holds the signed request; audit verify fails a QuerySubmitted entry without a valid analyst signature', () => {
    const file = exportTranscript(join(root, 'agg'), {}, join(root, 'transcript.json'));
    const roster = loadRoster(rosterPath);
    const analystRoster = loadAnalystRoster(join(root, 'analysts.json'), roster);
    const good = verifyTranscript(file, roster, { schema, analysts: analystRoster });
    expect(good.ok, JSON.stringify(good.failure)).toBe(true);
    expect(good.analystsChecked).toBe(true);
    const secret = loadIdentityFile(join(root, 'agg', AGGREGATOR_KEY_FILE)).identity.secretKey;
    const entries: Entry[] = exportedEntries(file);
    const k = entries.findIndex((e) => e.kind === EntryKind.QuerySubmitted && e.session === aliceQuery);
    expect(k).toBeGreaterThanOrEqual(0);
    const original = JSON.parse(fromUtf8(entries[k]!.body)) as QuerySubmittedRecord;
    const forge = (rec: QuerySubmittedRecord): string => {
      const list = [...entries];
      list[k] = resignEntry(secret, entries[k]!, utf8(JSON.stringify(rec)));
      const forged = rebuildTranscript(structuredClone(file), list, secret);
      const r = verifyTranscript(forged, roster, { schema, analysts: analystRoster });
      expect(r.ok).toBe(false);
      expect(r.failure!.index).toBe(file.from + k);
      return r.failure!.reason;
    };
    // The aggregator invents the query: no signed request, or one it signed itself in alice's name.
    const { signedRequest: _s, signature: _g, ...unsigned } = original;
    expect(forge(unsigned)).toMatch(/carries no analyst-signed request/);
    const self = sign(ids['mallory']!, request('alice', { queryId: aliceQuery }));
    expect(forge({ ...original, signedRequest: Buffer.from(self.signedRequest).toString('base64') })).toMatch(/signature does not verify against the key of analyst "alice"/);
    // The logged query, or its rho, is not the signed one.
    expect(forge({ ...original, query: { ...(original.query as object), filter: [{ column: 'age', op: 'ge', values: [50] }] } })).toMatch(/logged query differs from the query the analyst signed/);
    expect(forge({ ...original, rho: 0.05 })).toMatch(/differs from the privacy cost the analyst signed/);
    // The aggregator charges against another budget than the operator signed (logging a higher
    // limit, or another analyst-roster version, with a matching charge): caught at the submission
    // (and, once parties were contacted, at the StartSession that forwards the signed roster).
    const c = entries.findIndex((e) => e.kind === EntryKind.BudgetCharge && e.session === aliceQuery);
    expect(c).toBeGreaterThan(k);
    const overspend = (rec: QuerySubmittedRecord, limit: number): { index: number; reason: string } => {
      const list = [...entries];
      list[k] = resignEntry(secret, entries[k]!, utf8(JSON.stringify(rec)));
      const charge = JSON.parse(fromUtf8(entries[c]!.body)) as { limitRho: number };
      list[c] = resignEntry(secret, entries[c]!, utf8(JSON.stringify({ ...charge, limitRho: limit })));
      const r = verifyTranscript(rebuildTranscript(structuredClone(file), list, secret), roster, { schema, analysts: analystRoster });
      expect(r.ok).toBe(false);
      return { index: r.failure!.index - file.from, reason: r.failure!.reason };
    };
    const raised = overspend({ ...original, policy: { ...original.policy, budgetRho: 100 } }, 100);
    expect(raised).toEqual({ index: k, reason: expect.stringMatching(/the charge limit 100 differs from alice's budget 10 in analyst roster version 1/) as string });
    const newer = overspend({ ...original, analystRosterVersion: 2, policy: { ...original.policy, budgetRho: 100 } }, 100);
    expect(newer).toEqual({ index: k, reason: expect.stringMatching(/logged under analyst roster version 2, newer than the analysts\.json given/) as string });
    const { policy: _p, ...noPolicy } = original;
    expect(overspend(noPolicy as QuerySubmittedRecord, 10).reason).toMatch(/charge limit undefined differs|without the policy/);
  });

  it('a party refuses a contribution that would take an analyst past the budget in the operator-signed roster, whatever the aggregator charged', async () => {
    const { PartyLedger } = await import('../services/party/ledger.ts');
    const ledger = new PartyLedger(join(root, 'budget-ledger'), 100);
    try {
      const alice = { id: 'alice', budgetRho: 0.05 };
      ledger.charge(randomUUID(), 'alice', 0.02, alice.budgetRho);
      ledger.charge(randomUUID(), 'alice', 0.02, alice.budgetRho);
      expect(ledger.check(0.02, alice)).toMatch(/analyst "alice"'s budget in the operator-signed analyst roster would be exceeded at this party: query rho = 0\.02, remaining 0\.01 of 0\.05/);
      expect(() => ledger.charge(randomUUID(), 'alice', 0.02, alice.budgetRho)).toThrow(/operator-signed analyst roster would be exceeded/);
      expect(ledger.check(0.02, { id: 'bob', budgetRho: 0.05 })).toBeUndefined(); // another analyst has its own
    } finally {
      ledger.close();
    }
  });
});

describe('every party refuses a session that is not exactly what an analyst signed', () => {
  let server: Server;
  let gateway: PartyGateway;
  const nodes: PartyNode[] = [];
  const configs: PartyConfig[] = [];
  const replies = new Map<string, Map<string, PartyMessageBody>>();
  const waiters = new Map<string, () => void>();

  function partyConfig(i: number, stateDir?: string): PartyConfig {
    const id = PARTIES[i]!;
    return resolvePartyConfig({
      aggregator: `127.0.0.1:${port}`, keyPath: join(root, `${id}.key`), rosterPath, schemaPath, dataPath: join(root, `${id}.csv`), policyPath: join(root, 'policy.json'),
      quiet: true, stateDir: stateDir ?? join(root, `${id}-state`), receiptsDir: join(root, 'receipts'),
    });
  }
  let port = 0;

  async function startNode(i: number): Promise<void> {
    const node = createPartyNode(configs[i]!, silent);
    nodes[i] = node;
    node.start();
    await node.connected();
  }

  /** Sends StartSession to every party (as a malicious aggregator would) and collects each first answer. */
  async function ask(start: StartSession): Promise<Map<string, PartyMessageBody>> {
    const got = new Map<string, PartyMessageBody>();
    replies.set(start.sessionId, got);
    const done = new Promise<void>((resolve, reject) => {
      waiters.set(start.sessionId, resolve);
      setTimeout(() => reject(new Error(`parties answered ${[...got.keys()].join(', ') || 'nothing'} within 10 s`)), 10_000).unref();
    });
    for (const id of PARTIES) gateway.connection(id)!.send({ $case: 'startSession', value: start });
    await done;
    for (const id of PARTIES) gateway.connection(id)!.send({ $case: 'abort', value: { sessionId: start.sessionId, reason: 'test over' } });
    return got;
  }

  function reasons(got: Map<string, PartyMessageBody>): string[] {
    return PARTIES.map((id) => {
      const b = got.get(id)!;
      return b.$case === 'refusal' ? b.value.reason : `accepted (${b.$case})`;
    });
  }

  /** The StartSession an honest aggregator sends for a signed request; `over` is the attack. */
  function startFor(s: { req: QueryRequest; signedRequest: Uint8Array; signature: Uint8Array }, roster: SignedAnalystRoster, over: Partial<StartSession> = {}): StartSession {
    const query = queryFromProto(s.req.query);
    const rho = requestRho(s.req);
    const plan = planQuery(query, schema, rho > 0 ? { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS } : { parties: 3, ringBits: 64 });
    return StartSession.fromPartial({
      sessionId: s.req.queryId, query: s.req.query, backend: s.req.backend, threshold: 2, ringBits: 64, parties: PARTIES, planDigest: plan.digest,
      analyst: s.req.analyst, rho, analystKeySha256: s.req.analystKeySha256, signedRequest: s.signedRequest, requestSignature: s.signature, analystRoster: roster, ...over,
    });
  }

  beforeAll(async () => {
    const parts = splitCsvText(readFileSync('examples/pbc/pbc.csv', 'utf8'), 3, 'analyst-attack');
    PARTIES.forEach((id, i) => writeFileSync(join(root, `${id}.csv`), parts[i]!));
    writeFileSync(join(root, 'policy.json'), JSON.stringify({ allowedBackends: ['secagg', 'ckks'], budgetRho: 10, maxRhoPerQuery: 1 }));
    const roster = loadRoster(rosterPath);
    gateway = new PartyGateway({ roster, schemaDigest: schemaDigest(schema), aggregatorId: 'attack-aggregator', log: silent });
    gateway.setListener({
      onMessage: (party, body) => {
        const sessionId = (body.value as { sessionId: string }).sessionId;
        const got = replies.get(sessionId);
        if (!got || got.has(party)) return;
        got.set(party, body);
        if (got.size === PARTIES.length) waiters.get(sessionId)?.();
      },
      onDisconnect: silent,
    });
    server = new Server();
    server.addService(PartyGatewayServiceService, { connect: gateway.connect });
    port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    for (let i = 0; i < PARTIES.length; i++) configs[i] = partyConfig(i);
    for (let i = 0; i < PARTIES.length; i++) await startNode(i);
  }, 60_000);
  afterAll(async () => {
    for (const n of nodes) await n?.close();
    gateway?.closeAll();
    await new Promise<void>((resolve) => server?.tryShutdown(() => resolve()));
  });

  it('control: the honest StartSession for alice\'s signed request is accepted by every party', async () => {
    const got = await ask(startFor(sign(ids['alice']!, request('alice')), rosterV1));
    expect(reasons(got)).toEqual(PARTIES.map(() => 'accepted (advertiseKeys)'));
  });

  it('a query the aggregator invents in an analyst\'s name (unsigned, or signed with its own key) is refused by every party', async () => {
    const s = sign(ids['alice']!, request('alice'));
    const unsigned = await ask(startFor(s, rosterV1, { signedRequest: new Uint8Array(0), requestSignature: new Uint8Array(0) }));
    for (const r of reasons(unsigned)) expect(r).toMatch(/analyst request refused: the query is not signed/);
    const invented = await ask(startFor(sign(ids['mallory']!, request('alice')), rosterV1));
    for (const r of reasons(invented)) expect(r).toMatch(/signature does not verify against the key of analyst "alice"/);
  });

  it('a model round whose state the aggregator changes (to weight the rows its way) is refused by every party; the honest round is accepted', async () => {
    const round: Query = { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['age', 'bili'], filter: [], state: [-1, 0.5, 2, 0, 0], job: 'job-attack', round: 2 };
    const s = sign(ids['alice']!, request('alice', { query: queryToProto(round) }));
    expect(reasons(await ask(startFor(s, rosterV1)))).toEqual(PARTIES.map(() => 'accepted (advertiseKeys)'));
    const s2 = sign(ids['alice']!, request('alice', { query: queryToProto(round) }));
    // A state under which one patient's row dominates every weighted sum.
    const got = await ask(startFor(s2, rosterV1, { query: queryToProto({ ...round, state: [-90, 90, 90, 0, 0] }) }));
    for (const r of reasons(got)) expect(r).toMatch(/the query differs from the one the analyst signed/);
  });

  it('an analyst roster forged by the aggregator (not signed by the operator) is refused by every party', async () => {
    const forged = analysts(5, generateIdentity().secretKey, [{ id: 'mallory', role: 'analyst' }]);
    const got = await ask(startFor(sign(ids['mallory']!, request('mallory')), forged));
    for (const r of reasons(got)) expect(r).toMatch(/analyst roster refused: the analyst roster is not signed by the federation's operator key/);
  });

  it('the signed query with its filter changed is refused by every party', async () => {
    const s = sign(ids['alice']!, request('alice'));
    const got = await ask(startFor(s, rosterV1, { query: queryToProto({ ...COUNT, filter: [{ column: 'age', op: 'ge', values: [50] }] }) }));
    for (const r of reasons(got)) expect(r).toMatch(/the query differs from the one the analyst signed/);
  });

  it('a changed rho, backend, analyst name or session id is refused by every party', async () => {
    const s = sign(ids['alice']!, request('alice'));
    for (const r of reasons(await ask(startFor(s, rosterV1, { rho: 0.5 })))) expect(r).toMatch(/rho = 0.5 differs from the privacy cost the analyst signed \(rho = 0.1\)/);
    const ckks = sign(ids['alice']!, request('alice', { backend: 'ckks', analystKeySha256: sha256Hex(utf8('k')) }));
    for (const r of reasons(await ask(startFor(ckks, rosterV1, { backend: 'secagg' })))) expect(r).toMatch(/differs from the backend the analyst signed \("ckks"\)/);
    const s2 = sign(ids['alice']!, request('alice'));
    for (const r of reasons(await ask(startFor(s2, rosterV1, { analyst: 'bob' })))) expect(r).toMatch(/names analyst "bob", the request is signed by "alice"/);
    const s3 = sign(ids['alice']!, request('alice'));
    for (const r of reasons(await ask(startFor(s3, rosterV1, { sessionId: randomUUID() })))) expect(r).toMatch(/session id is not the query id the analyst signed/);
  });

  it('an old signed request (issued two hours ago) replayed under its own query id is refused by every party', async () => {
    const got = await ask(startFor(sign(ids['alice']!, request('alice', { issuedAtMs: BigInt(Date.now() - 2 * 3_600_000) })), rosterV1));
    for (const r of reasons(got)) expect(r).toMatch(/issued 120 minutes ago; this party accepts requests at most 60 minutes old/);
  });

  it('a request signed by an auditor is refused by every party', async () => {
    const got = await ask(startFor(sign(ids['carol']!, request('carol')), rosterV1));
    for (const r of reasons(got)) expect(r).toMatch(/role "auditor".*only role "analyst"/);
  });

  it('a CKKS session switched to another analyst key than the signed one is refused (prepareContribution, which both backends run)', () => {
    const cfg = partyConfig(0, join(root, 'ckks-check-state'));
    const ledger = new PartyLedger(cfg.stateDir, 10);
    try {
      const s = sign(ids['alice']!, request('alice', { backend: 'ckks', analystKeySha256: sha256Hex(utf8('alice ckks key')) }));
      expect(prepareContribution(cfg, ledger, startFor(s, rosterV1), 'ckks').rho).toBe(0.1);
      const swapped = startFor(sign(ids['alice']!, { ...s.req, queryId: randomUUID() }), rosterV1, { analystKeySha256: sha256Hex(utf8('the aggregator\'s key')) });
      expect(() => prepareContribution(cfg, ledger, swapped, 'ckks')).toThrow(Refuse);
      expect(() => prepareContribution(cfg, ledger, swapped, 'ckks')).toThrow(/analyst CKKS key the result would be switched to is not the one the analyst signed/);
    } finally {
      ledger.close();
    }
  });

  it('an older analyst roster version is refused once a newer one was seen, also after the party restarts', async () => {
    expect(reasons(await ask(startFor(sign(ids['alice']!, request('alice')), rosterV2)))).toEqual(PARTIES.map(() => 'accepted (advertiseKeys)'));
    const old = await ask(startFor(sign(ids['alice']!, request('alice')), rosterV1));
    for (const r of reasons(old)) expect(r).toMatch(/analyst roster version 1 is older than version 2 this party has already seen/);
    await nodes[0]!.close();
    await startNode(0);
    const again = await ask(startFor(sign(ids['alice']!, request('alice')), rosterV1));
    for (const r of reasons(again)) expect(r).toMatch(/version 1 is older than version 2/);
  });
});

describe('the CLI signs in with --analyst-key or BLINDSUM_ANALYST_KEY', () => {
  let fed: LocalFederation;
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', env: { ...process.env, BLINDSUM_ANALYST_KEY: '', ...env } });
  beforeAll(async () => {
    const parts = splitCsvText(readFileSync('examples/pbc/pbc.csv', 'utf8'), 2, 'analyst-cli');
    fed = await LocalFederation.start({ dir: join(root, 'cli-fed'), schemaPath, partyData: parts, threshold: 2, federation: 'cli' });
  }, 60_000);
  afterAll(async () => {
    await fed?.stop();
  });

  it('blindsum query without a key exits 2 and says how to create one; with the key in the environment it runs; audit verify --analysts checks it', () => {
    const q = ['query', '--aggregator', fed.address, '--kind', 'count', '--quiet'];
    const none = run(q);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/no analyst key: create one with `blindsum analyst keygen/);
    const ok = run(q, { BLINDSUM_ANALYST_KEY: fed.analystKeyPath('analyst') });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/n = 418|418/);
    const auditor = run([...q, '--analyst-key', fed.analystKeyPath('auditor')]);
    expect(auditor.status).toBe(1);
    expect(auditor.stderr).toMatch(/role "auditor"/);
    const path = join(fed.dir, 'transcript.json');
    expect(run(['audit', 'export', '--data-dir', fed.aggregatorDataDir, '--out', path]).status).toBe(0);
    const verified = run(['audit', 'verify', path, '--roster', fed.rosterPath, '--analysts', fed.analystsPath]);
    expect(verified.status, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/analysts: every submitted query is a request signed by an analyst/);
  }, 60_000);
});
