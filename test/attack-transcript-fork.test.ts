/**
 * Attack: forked or incomplete transcripts (issue 13, item 9). The malicious aggregator is built
 * from the real classes (TranscriptLog, PartyGateway, QueryService, SecAggSession) with the attack
 * inserted; the parties are real party nodes (createPartyNode, real ReceiptBook) over real gRPC on
 * 127.0.0.1. It
 *   - withholds one party's receipt: that party refuses to go on with the session;
 *   - drops one party's message without logging it: the auditor lists it from the party's sent log;
 *   - rewrites its log after issuing receipts (re-chained, every head re-signed with its own
 *     key) and restarts on it: the parties refuse the next receipt (its head does not extend the
 *     one they hold, whether the aggregator sends no extension proof or a forged one) and every
 *     later session;
 *   - shows two different chains to two parties (same key): the auditor, given both receipt
 *     books, reports the fork with the entry index.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { writeAnalystRosterFile } from '../services/common/analysts.ts';
import { signQueryRequest } from '../services/common/query-request.ts';
import { testTeam } from './analyst-harness.ts';
import { toHex, utf8 } from '../crypto/bytes.ts';
import { EntryKind, entryHash, signEnvelope } from '../crypto/transcript.ts';
import { exportedEntries } from '../services/common/transcript-file.ts';
import { PartyGatewayServiceService, type QuerySpec } from '../gen/blindsum/v1/blindsum.ts';
import { BudgetLedger } from '../services/aggregator/budget.ts';
import { databasePath, resolveAggregatorConfig } from '../services/aggregator/config.ts';
import { PartyConnection, PartyGateway, type GatewayListener, type PartyMessageBody } from '../services/aggregator/gateway.ts';
import { QueryService } from '../services/aggregator/queries.ts';
import { AggregatorStore } from '../services/aggregator/store.ts';
import { TranscriptLog, loadAggregatorIdentity } from '../services/aggregator/transcript-log.ts';
import { exportTranscript, loadReceipts, refundedAfterRelease, verifyFiles } from '../services/audit/audit.ts';
import { verifyTranscript } from '../services/audit/verify.ts';
import type { Logger } from '../services/common/errors.ts';
import { SERVER_OPTIONS } from '../services/common/grpc-options.ts';
import { loadIdentityFile, writeNewIdentityFile, type IdentityFile } from '../services/common/keys.ts';
import { loadRoster, type Roster } from '../services/common/roster.ts';
import { resolvePartyConfig } from '../services/party/config.ts';
import { createPartyNode, type PartyNode } from '../services/party/node.ts';
import { ReceiptBook } from '../services/party/receipts.ts';
import { splitCsvText } from '../stats/index.ts';
import { queryToProto } from '../services/common/query-codec.ts';

const schemaPath = 'examples/pbc/schema.json';
const PARTIES = ['hospital-1', 'hospital-2', 'hospital-3'];
const count: QuerySpec = queryToProto({ kind: 'count', columns: [], filter: [] });

let dir: string;
let rosterPath: string;
let roster: Roster;
let aggKey: IdentityFile;
const partyLogs: string[] = [];
const partyLog: Logger = (level, message, fields) => {
  partyLogs.push(JSON.stringify({ level, message, ...fields }));
};
const quiet: Logger = () => {};
/** The analyst whose signed requests the aggregator runs (issue 13.10). */
const team = testTeam('fed', ['alice']);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-attack-fork-'));
  const parts = splitCsvText(readFileSync('examples/pbc/pbc.csv', 'utf8'), PARTIES.length, 'attack-fork');
  const entries = PARTIES.map((id, i) => {
    writeFileSync(join(dir, `${id}.csv`), parts[i]!);
    const k = writeNewIdentityFile(join(dir, `${id}.key`), id);
    return { id, publicKey: toHex(k.identity.publicKey) };
  });
  aggKey = writeNewIdentityFile(join(dir, 'aggregator.key'), 'fed-aggregator');
  rosterPath = join(dir, 'roster.json');
  writeFileSync(rosterPath, JSON.stringify({ federation: 'fed', threshold: 2, parties: entries, aggregator: { id: 'fed-aggregator', publicKey: toHex(aggKey.identity.publicKey) }, operator: team.operatorEntry }));
  writeAnalystRosterFile(join(dir, 'analysts.json'), team.roster);
  roster = loadRoster(rosterPath);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

type Send = PartyConnection['send'];
/** A gateway whose outgoing messages to some parties pass through `alter` (the attack). */
class MaliciousGateway extends PartyGateway {
  alter: ((party: string, body: Parameters<Send>[0], send: Send) => boolean) | undefined;
  /** Messages for which this returns true never reach the protocol (nor the transcript). */
  drop: ((party: string, body: PartyMessageBody) => boolean) | undefined;
  override setListener(l: GatewayListener): void {
    super.setListener({
      onMessage: (party, body, envelope) => {
        if (!this.drop?.(party, body)) l.onMessage(party, body, envelope);
      },
      onDisconnect: (party) => l.onDisconnect(party),
    });
  }
  override connection(partyId: string): PartyConnection | undefined {
    const c = super.connection(partyId);
    const alter = this.alter;
    if (!c || !alter) return c;
    return new Proxy(c, {
      get(target, prop) {
        if (prop === 'send') return (body: Parameters<Send>[0]) => alter(partyId, body, target.send.bind(target));
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
      set(target, prop, value) {
        return Reflect.set(target, prop, value, target);
      },
    });
  }
}

interface Agg {
  port: number;
  gateway: MaliciousGateway;
  queries: QueryService;
  store: AggregatorStore;
  transcript: TranscriptLog;
  close(): Promise<void>;
}

/** The real aggregator assembly (as services/aggregator/server.ts builds it) with a malicious gateway. */
async function startAggregator(dataDir: string, port = 0): Promise<Agg> {
  mkdirSync(dataDir, { recursive: true });
  const config = resolveAggregatorConfig({ listen: `127.0.0.1:${port}`, rosterPath, schemaPath, dataDir, roundTimeoutMs: 5_000, analystsPath: join(dir, 'analysts.json'), keyPath: join(dir, 'aggregator.key') });
  const store = new AggregatorStore(databasePath(config));
  const transcript = TranscriptLog.open(dataDir, roster.federation, loadAggregatorIdentity(dataDir, config.aggregatorId, roster, config.keyPath));
  const gateway = new MaliciousGateway({ roster, schemaDigest: config.schemaDigest, aggregatorId: config.aggregatorId, log: quiet });
  const queries = new QueryService({
    store, gateway, roster, schema: config.schema, ringBits: 64, roundTimeoutMs: config.roundTimeoutMs, transcript, budget: new BudgetLedger(store.db, () => 100), analysts: config.analysts, minCohort: 10, allowExact: false, log: quiet,
  });
  const server = new Server(SERVER_OPTIONS);
  server.addService(PartyGatewayServiceService, { connect: gateway.connect });
  const bound = await new Promise<number>((resolve, reject) => server.bindAsync(config.listen, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return {
    port: bound, gateway, queries, store, transcript,
    async close() {
      gateway.closeAll();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
      await queries.drain();
      store.close();
      transcript.close();
    },
  };
}

function startParties(port: number): PartyNode[] {
  return PARTIES.map((id) => {
    const node = createPartyNode(
      resolvePartyConfig({
        aggregator: `127.0.0.1:${port}`, keyPath: join(dir, `${id}.key`), rosterPath, schemaPath, dataPath: join(dir, `${id}.csv`),
        receiptsDir: join(dir, 'receipts'), stateDir: join(dir, `${id}-state`), quiet: true,
      }),
      partyLog,
    );
    node.start();
    return node;
  });
}

async function allConnected(agg: Agg): Promise<void> {
  while (agg.gateway.connectedIds().length < PARTIES.length) await new Promise((r) => setTimeout(r, 50));
}

async function runQuery(agg: Agg): Promise<{ queryId: string; status: string; error: string; refusals: { partyId: string; reason: string }[]; contributors: string[] }> {
  const signed = signQueryRequest(team.keys.get('alice')!.secretKey, {
    queryId: randomUUID(), federation: 'fed', analyst: 'alice', query: count, backend: 'secagg', privacy: { rho: 0.01, epsilon: 0, delta: 0 }, analystKeySha256: '', issuedAtMs: BigInt(Date.now()),
  });
  const { queryId } = await agg.queries.submit(signed.signedRequest, signed.signature);
  await new Promise<void>((resolve) => {
    agg.queries.watch(queryId, (ev) => {
      if (ev.final) resolve();
    });
  });
  const q = agg.store.getQuery(queryId)!;
  return { queryId, status: q.status, error: q.error, refusals: q.refusals, contributors: q.contributors };
}

describe('attack: an aggregator that withholds or forks transcript receipts', () => {
  let agg: Agg;
  let nodes: PartyNode[];

  it('a missing receipt: the party refuses to go on with the session, naming the reason; the others finish it', async () => {
    agg = await startAggregator(join(dir, 'agg-1'));
    nodes = startParties(agg.port);
    await allConnected(agg);
    const honest = await runQuery(agg);
    expect(honest.status, honest.error).toBe('done');
    expect(honest.contributors).toEqual(PARTIES);

    // Withhold hospital-1's receipts: its AdvertiseKeys is logged, but it never gets the receipt.
    agg.gateway.alter = (party, body, send) => (party === 'hospital-1' && body.$case === 'receipt' ? true : send(body));
    const o = await runQuery(agg);
    agg.gateway.alter = undefined;
    expect(o.status, o.error).toBe('done');
    expect(o.contributors).toEqual(['hospital-2', 'hospital-3']);
    expect(o.refusals).toEqual([{ partyId: 'hospital-1', reason: expect.stringMatching(/no valid transcript receipt for this party's secagg\/advertise-keys envelope of this session \(receipts are mandatory\)/) }]);
    // The party recorded what it sent (digests, fsync'd before sending), receipted or not.
    const sent = readFileSync(join(dir, 'receipts', 'hospital-1.sent.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string });
    expect(sent.filter((s) => s.kind === EntryKind.AdvertiseKeys).length).toBe(2);
    expect(sent.at(-1)!.kind).toBe(EntryKind.Refusal);
  }, 60_000);

  it("a message dropped by the aggregator (never logged): the auditor lists it from the party's sent log", async () => {
    agg.gateway.drop = (party, body) => party === 'hospital-1' && body.$case === 'advertiseKeys';
    const o = await runQuery(agg);
    agg.gateway.drop = undefined;
    expect(o.status, o.error).toBe('done');
    expect(o.contributors).toEqual(['hospital-2', 'hospital-3']);
    const path = join(dir, 'censored.json');
    exportTranscript(join(dir, 'agg-1'), { queries: [o.queryId] }, path);
    const report = await verifyFiles({ transcriptPath: path, rosterPath, receiptPaths: [join(dir, 'receipts')] });
    expect(report.failure).toBeUndefined();
    expect(report.unlogged).toEqual([{ party: 'hospital-1', session: o.queryId, kind: EntryKind.AdvertiseKeys }]);
  }, 60_000);

  it('a log rewritten after receipts were issued: every party refuses the next receipt (no extension proof, or a forged one) and every later session', async () => {
    // The aggregator stops, rewrites its log (entry 0 re-timed; chain re-hashed, every head
    // re-signed with its key) into a new data directory and restarts on the same port.
    const file = agg.transcript.export();
    await agg.close();
    const forged = join(dir, 'agg-forged');
    mkdirSync(forged, { recursive: true });
    copyFileSync(join(dir, 'aggregator.key'), join(forged, 'aggregator.key'));
    const rewritten = TranscriptLog.open(forged, 'fed', aggKey);
    exportedEntries(file).forEach((e, k) => {
      rewritten.append(e, k === 0 ? e.atMs + 1 : e.atMs);
    });
    rewritten.close();
    agg = await startAggregator(forged, agg.port);
    // hospital-1 gets a forged extension proof: the entry hashes of the rewritten log.
    agg.gateway.alter = (party, body, send) => {
      if (party !== 'hospital-1' || body.$case !== 'receipt') return send(body);
      const all = agg.transcript.export().entries.map((l) => entryHash(l.entry));
      const start = Number(body.value.extensionStart);
      return send({ ...body, value: { ...body.value, extension: all.slice(start, Number(body.value.index) + 1) } });
    };
    await allConnected(agg);
    const o = await runQuery(agg);
    expect(o.status).toBe('failed');
    // A failed query names every party's refusal in its error.
    expect(o.error).toMatch(/hospital-1: receipt for entry \d+: its head does not extend the head this party holds at entry \d+ \(a forked or rewritten transcript\)/);
    expect(o.error).toMatch(/hospital-2: receipt for entry \d+: the aggregator sent 0 entry hashes from entry \d+, not the \d+ after the head this party holds at entry \d+: it cannot show that its head extends it/);
    expect(o.error).toMatch(/hospital-3: receipt for entry \d+: /);
    expect(partyLogs.some((l) => /"level":"error".*does not extend the last one this party holds/.test(l))).toBe(true);
    // Until restarted, the parties refuse every new session at its first message.
    const again = await runQuery(agg);
    expect(again.status).toBe('failed');
    expect(again.error.match(/hospital-\d: receipt for entry \d+: .*?\(a forked or rewritten transcript\)/g)?.length).toBe(3);
    await Promise.all(nodes.map((n) => n.close()));
    await agg.close();
    // The head a party holds survives a restart (it is sent in Hello).
    const book = new ReceiptBook(join(dir, 'receipts'), 'hospital-2', roster);
    const lastLine = readFileSync(book.path, 'utf8').trim().split('\n').at(-1)!;
    expect(book.anchor?.index).toBe((JSON.parse(lastLine) as { index: number }).index);
    book.close();
  }, 90_000);
});

describe('attack: two chains shown to two parties under one aggregator key', () => {
  /** An export with no entries (a time range after everything): only the signed head before it. */
  const nothing = { fromMs: 4_000_000_000_000, toMs: 4_000_000_000_001 };
  /** Party `id` sends one envelope into `log`; its real receipt book checks and stores the receipt. */
  function round(log: TranscriptLog, book: ReceiptBook, id: string, session: string, anchor: { index: number; head: Uint8Array } | undefined): { index: number; head: Uint8Array } {
    const env = signEnvelope(loadIdentityFile(join(dir, `${id}.key`)).identity.secretKey, EntryKind.Refusal, session, id, utf8(`refusal of ${id}`));
    book.expect(env);
    const r = log.appendParty(env);
    const ext = log.extension(anchor, r.index);
    expect(book.accept(r, { start: ext.start, hashes: ext.hashes })).toBeUndefined();
    return { index: r.index, head: r.head };
  }

  it('the auditor with both receipt books reports the fork, with the entry index', () => {
    const [a, b] = [new TranscriptLog(join(dir, 'fork-a.sqlite'), 'fed', aggKey), new TranscriptLog(join(dir, 'fork-b.sqlite'), 'fed', aggKey)];
    const booksDir = join(dir, 'fork-books');
    const bookA = new ReceiptBook(join(booksDir, 'a'), 'hospital-1', roster);
    const bookB = new ReceiptBook(join(booksDir, 'b'), 'hospital-2', roster);
    // Chain A shows hospital-1 an extra aggregator entry that chain B does not have.
    a.appendAggregator(EntryKind.Failed, 'q-0', utf8('{"queryId":"q-0","error":"shown to hospital-1 only"}'));
    let anchorA = round(a, bookA, 'hospital-1', 'q-1', undefined);
    let anchorB = round(b, bookB, 'hospital-2', 'q-1', undefined);
    anchorA = round(a, bookA, 'hospital-1', 'q-2', anchorA);
    anchorB = round(b, bookB, 'hospital-2', 'q-2', anchorB);
    round(b, bookB, 'hospital-2', 'q-3', anchorB);
    bookA.close();
    bookB.close();
    expect(anchorA.index).toBe(2);
    const books = loadReceipts([join(booksDir, 'a'), join(booksDir, 'b')]);
    expect(books.length).toBe(5);
    // Each book alone is consistent with its own chain…
    const onlyA = verifyTranscript(a.export(nothing), roster, { receipts: books.filter((r) => r.party === 'hospital-1') });
    expect(onlyA.failure).toBeUndefined();
    // (A book handed in twice is not a fork.)
    expect(verifyTranscript(a.export(nothing), roster, { receipts: loadReceipts([join(booksDir, 'a'), join(booksDir, 'a')]) }).failure).toBeUndefined();
    // …but together, without any exported entry, they cannot be on one chain.
    const both = verifyTranscript(a.export(nothing), roster, { receipts: books });
    expect(both.ok).toBe(false);
    expect(both.failure!.index).toBe(1);
    expect(both.failure!.reason).toMatch(/^fork: .* name entry 1 with different (chain heads|entry hashes)/);
    a.close();
    b.close();
  });

  it('heads at different indices that cannot be on one chain are a fork', () => {
    const [a, b] = [new TranscriptLog(join(dir, 'fork-c.sqlite'), 'fed', aggKey), new TranscriptLog(join(dir, 'fork-d.sqlite'), 'fed', aggKey)];
    const booksDir = join(dir, 'fork-books-2');
    const bookA = new ReceiptBook(join(booksDir, 'a'), 'hospital-1', roster);
    const bookB = new ReceiptBook(join(booksDir, 'b'), 'hospital-2', roster);
    round(a, bookA, 'hospital-1', 'q-1', undefined); // entry 0 of chain A
    b.appendAggregator(EntryKind.Failed, 'q-0', utf8('{"queryId":"q-0","error":"x"}'));
    round(b, bookB, 'hospital-2', 'q-1', undefined); // entry 1 of chain B: its head does not follow from A's h_0
    bookA.close();
    bookB.close();
    const r = verifyTranscript(a.export(nothing), roster, { receipts: loadReceipts([join(booksDir, 'a'), join(booksDir, 'b')]) });
    expect(r.ok).toBe(false);
    expect(r.failure!.index).toBe(1);
    expect(r.failure!.reason).toMatch(/^fork: the head .* does not follow from the head .* cannot be on one chain/);
    a.close();
    b.close();
  });
});

describe('attack: an aggregator that withholds the Unmasking it received and refunds the query', () => {
  it('the auditor fails the refund when a party\'s sent log shows its Unmasking for that query (not merely a finding)', () => {
    const dataDir = join(dir, 'refund-log');
    mkdirSync(dataDir, { recursive: true });
    const log = TranscriptLog.open(dataDir, roster.federation, loadAggregatorIdentity(dataDir, 'fed-aggregator', roster, join(dir, 'aggregator.key')));
    try {
      log.appendAggregator(EntryKind.BudgetRefund, 'q-refunded', new TextEncoder().encode(JSON.stringify({ queryId: 'q-refunded', analyst: 'alice', rho: 0.1, reason: 'failed' })));
      const file = log.export();
      const summary = { queryId: 'q-refunded', kind: 'count', status: 'failed' as const, rho: 0.1, refunded: true, contributors: [], unmaskers: 0, refusals: [], resultChecked: false };
      const honest = { ok: true, from: 0, entries: 1, sessions: [summary], receiptsChecked: 0, receiptsOutside: 0, analystsChecked: true, unlogged: [{ party: 'hospital-1', session: 'q-refunded', kind: EntryKind.MaskedInput }] };
      refundedAfterRelease(file, honest);
      expect(honest.ok).toBe(true); // a masked input alone reveals nothing: a finding to examine
      const withheld = { ...honest, unlogged: [{ party: 'hospital-1', session: 'q-refunded', kind: EntryKind.Unmasking }] };
      refundedAfterRelease(file, withheld);
      expect(withheld.ok).toBe(false);
      expect((withheld as { failure?: { index: number; reason: string } }).failure).toMatchObject({ index: 0, reason: expect.stringMatching(/hospital-1's sent log shows its secagg\/unmasking for query q-refunded.*yet the query is refunded/) as string });
    } finally {
      log.close();
    }
  });
});
