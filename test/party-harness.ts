/**
 * Real party nodes' session logic (services/party/) in-process, driven by a test "aggregator" that
 * uses the real secure-aggregation server (crypto/secagg/server.ts): the attack tests insert their
 * deviation between the two. Each party has its own key, roster copy, data (a part of pbc), policy
 * and durable state directory, exactly as `blindsum party` loads them.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../crypto/bytes.ts';
import { ringDecode } from '../crypto/ring.ts';
import { maskedChunk, SecAggServer } from '../crypto/secagg/client.ts';
import { StartSession, type AggregatorMessage, type PartyMessage } from '../gen/blindsum/v1/blindsum.ts';
import { writeNewIdentityFile } from '../services/common/keys.ts';
import { queryToProto } from '../services/common/query-codec.ts';
import type { Logger } from '../services/common/errors.ts';
import { resolvePartyConfig, type PartyConfig } from '../services/party/config.ts';
import { PartyLedger } from '../services/party/ledger.ts';
import { PartySessions, type Reply } from '../services/party/sessions.ts';
import { DP_GRID_BITS, parseSchema, planQuery, splitCsvText, type Query, type Schema } from '../stats/index.ts';
import { authorize, testAnalysts, type TestAnalysts } from './analyst-harness.ts';

export const SCHEMA_PATH = 'examples/pbc/schema.json';
export const pbcSchema: Schema = parseSchema(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')));
export const pbcCsv = readFileSync('examples/pbc/pbc.csv', 'utf8');
export const quiet: Logger = () => {};

export interface PartyFixture {
  dir: string;
  ids: string[];
  configs: PartyConfig[];
  rosterPath: string;
  /** The operator and the analyst whose signed requests start sessions. */
  analysts: TestAnalysts;
}

/** Writes n parties' keys, one roster (threshold t, collusion c), data parts and policies under `dir`. */
export function partyFixture(dir: string, opts: { n?: number; threshold?: number; collusion?: number; policy?: Record<string, unknown>; csvParts?: string[] } = {}): PartyFixture {
  const n = opts.n ?? 3;
  mkdirSync(dir, { recursive: true });
  const parts = opts.csvParts ?? splitCsvText(pbcCsv, n, 'party-harness');
  const ids = Array.from({ length: n }, (_, i) => `hospital-${i + 1}`);
  const entries = ids.map((id) => {
    const { identity } = writeNewIdentityFile(join(dir, `${id}.key`), id);
    return { id, publicKey: toHex(identity.publicKey) };
  });
  const aggregator = writeNewIdentityFile(join(dir, 'aggregator.key'), 'fed-aggregator');
  const analysts = testAnalysts('fed');
  const rosterPath = join(dir, 'roster.json');
  writeFileSync(rosterPath, JSON.stringify({
    federation: 'fed', threshold: opts.threshold ?? Math.floor(n / 2) + 1, collusion: opts.collusion ?? 0, parties: entries,
    aggregator: { id: aggregator.id, publicKey: toHex(aggregator.identity.publicKey) }, operator: analysts.operatorEntry,
  }));
  const configs = ids.map((id, i) => {
    writeFileSync(join(dir, `${id}.csv`), parts[i]!);
    writeFileSync(join(dir, `${id}.policy.json`), JSON.stringify({ allowExact: true, budgetRho: 10, maxRhoPerQuery: 10, minCohort: 5, ...(opts.policy ?? {}) }));
    return resolvePartyConfig({
      aggregator: '127.0.0.1:1', keyPath: join(dir, `${id}.key`), rosterPath, schemaPath: SCHEMA_PATH, dataPath: join(dir, `${id}.csv`),
      policyPath: join(dir, `${id}.policy.json`), quiet: true,
    });
  });
  return { dir, ids, configs, rosterPath, analysts };
}

/**
 * The StartSession an honest aggregator sends for the analyst's signed `query` (plan digest
 * recomputed like the aggregator's); `sessionId` is the UUID the analyst's client chose.
 */
export function startSession(fx: PartyFixture, cfg: PartyConfig, sessionId: string, query: Query, opts: { rho?: number; parties?: string[] } = {}): StartSession {
  const rho = opts.rho ?? 0;
  const n = cfg.roster.parties.length;
  const plan = planQuery(query, cfg.schema, rho > 0 ? { parties: n, ringBits: 64, dpGridBits: DP_GRID_BITS } : { parties: n, ringBits: 64 });
  return StartSession.fromPartial({
    sessionId, query: queryToProto(query), backend: 'secagg', threshold: cfg.roster.threshold, collusion: cfg.roster.collusion, ringBits: 64,
    parties: opts.parties ?? cfg.roster.parties.map((p) => p.id), planDigest: plan.digest, rho,
    ...authorize(fx.analysts, { sessionId, query, backend: 'secagg', rho }),
  });
}

/** A party's session logic with its own durable ledger (close() it like a stopped process). */
export class PartyUnderTest {
  readonly cfg: PartyConfig;
  readonly ledger: PartyLedger;
  readonly sessions: PartySessions;
  constructor(cfg: PartyConfig) {
    this.cfg = cfg;
    this.ledger = new PartyLedger(cfg.stateDir, cfg.policy.budgetRho);
    this.sessions = new PartySessions(cfg, quiet, this.ledger);
  }
  /** The reply to `body`; a chunked reply (a masked input) comes back as its first chunk. */
  async handle(body: NonNullable<AggregatorMessage['body']>): Promise<Reply | undefined> {
    return (await this.handleAll(body))[0];
  }
  /** Every message the party sends in answer to `body` (a masked input: all its chunks). */
  async handleAll(body: NonNullable<AggregatorMessage['body']>): Promise<Reply[]> {
    const { reply, replies } = await this.sessions.handle(body);
    return replies ? [...replies] : reply ? [reply] : [];
  }
  async close(): Promise<void> {
    await this.sessions.close();
    this.ledger.close();
  }
}

type ValueOf<C> = Extract<Reply, { $case: C }> extends { value: infer V } ? V : never;

function value<C extends NonNullable<PartyMessage['body']>['$case']>(r: Reply | undefined, c: C): ValueOf<C> {
  if (!r || r.$case !== c) throw new Error(`expected ${c}, got ${r?.$case}${r?.$case === 'refusal' ? `: ${r.value.reason}` : ''}`);
  return (r as { value: unknown }).value as ValueOf<C>;
}

/**
 * Runs one whole secure-aggregation session over the parties' real session logic with the real
 * SecAggServer as the aggregator; returns the decoded sums, or the first refusal's reason.
 */
export async function runSecAggSession(parties: PartyUnderTest[], start: StartSession, vectorLength: number): Promise<{ sums: bigint[] } | { refused: string }> {
  const server = new SecAggServer({ sessionId: start.sessionId, parties: [...start.parties], threshold: start.threshold, ringBits: 64, vectorLength }, parties[0]!.cfg.roster.publicKeys);
  const id = start.sessionId;
  const byId = new Map(parties.map((p) => [p.cfg.identity.id, p]));
  try {
    for (const [party, p] of byId) {
      const r = await p.handle({ $case: 'startSession', value: start });
      if (r?.$case === 'refusal') return { refused: r.value.reason };
      const a = value(r, 'advertiseKeys');
      server.receiveAdvertiseKeys({ party, cPk: a.cPk, sPk: a.sPk, signature: a.signature });
    }
    const u1 = server.closeAdvertiseKeys();
    const keys = u1.map((m) => ({ partyId: m.party, cPk: m.cPk, sPk: m.sPk, signature: m.signature }));
    for (const [party, p] of byId) server.receiveShareKeys({ party, shares: value(await p.handle({ $case: 'advertisedKeys', value: { sessionId: id, keys } }), 'shareKeys').shares });
    const routed = server.closeShareKeys();
    for (const [party, p] of byId) {
      const rs = await p.handleAll({ $case: 'routedShares', value: { sessionId: id, shares: routed.get(party)! } });
      if (rs[0]?.$case === 'refusal') return { refused: rs[0].value.reason };
      for (const r of rs) {
        const m = value(r, 'maskedInput');
        server.receiveMaskedChunk(maskedChunk(party, m.masked, m.offset, { vectorLength, ringBits: 64 }));
      }
    }
    const u3 = server.closeMaskedInputCollection();
    for (const party of u3) server.receiveConsistencyCheck({ party, signature: value(await byId.get(party)!.handle({ $case: 'survivorList', value: { sessionId: id, survivors: u3 } }), 'consistencyCheck').signature });
    const req = server.closeConsistencyCheck();
    const request = { sessionId: id, survivors: req.survivors, dropped: req.dropped, signatures: req.signatures.map((s) => ({ partyId: s.party, signature: s.signature })) };
    for (const s of req.signatures) {
      const u = value(await byId.get(s.party)!.handle({ $case: 'unmaskRequest', value: request }), 'unmasking');
      server.receiveUnmasking({ party: s.party, selfMaskShares: u.selfMaskShares, maskKeyShares: u.maskKeyShares });
    }
    return { sums: ringDecode(server.finish(), 64) };
  } catch (e) {
    return { refused: (e as Error).message };
  }
}
