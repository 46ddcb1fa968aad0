/**
 * An in-process CKKS federation for the attack tests: the real aggregator (createAggregator, with
 * its real PartyGateway, key ceremony and CkksSession) on 127.0.0.1 port 0, honest parties as real
 * party nodes (createPartyNode) over real gRPC, and optionally "tampering" parties: a gRPC client
 * holding the party's identity and a real CkksParty, whose replies a test may alter before they
 * are signed and sent — a malicious party that runs the real code and lies where it chooses.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { AnalystClient } from '../client/analyst.ts';
import { toHex } from '../crypto/bytes.ts';
import { signDomain } from '../crypto/identity.ts';
import { signEnvelope } from '../crypto/transcript.ts';
import { PartyGatewayServiceClient, PartyMessage, QueryRequest, type AggregatorMessage, type PCKSRequest, type SignedContribution, type StartSession } from '../gen/blindsum/v1/blindsum.ts';
import { resolveAggregatorConfig } from '../services/aggregator/config.ts';
import { AUTH_DOMAIN, authChallengeBody } from '../services/common/auth.ts';
import { kindOfPartyMessage } from '../services/common/transcript-records.ts';
import { createAggregator, type Aggregator } from '../services/aggregator/server.ts';
import { AGGREGATOR_KEY_FILE } from '../services/aggregator/transcript-log.ts';
import { writeAnalystRosterFile } from '../services/common/analysts.ts';
import type { Logger } from '../services/common/errors.ts';
import { writeNewIdentityFile } from '../services/common/keys.ts';
import { signQueryRequest } from '../services/common/query-request.ts';
import { CkksParty } from '../services/party/ckks-sessions.ts';
import { resolvePartyConfig, type PartyConfig } from '../services/party/config.ts';
import { PartyLedger } from '../services/party/ledger.ts';
import { createPartyNode, type PartyNode } from '../services/party/node.ts';
import { PartySessions, type Reply } from '../services/party/sessions.ts';
import { schemaDigest, splitCsvText } from '../stats/index.ts';
import { testAnalysts, type TestAnalysts } from './analyst-harness.ts';

export const SCHEMA_PATH = 'examples/pbc/schema.json';
const quiet: Logger = () => {};

/** Alters a tampering party's reply (return it unchanged to behave honestly; undefined: send nothing). */
export type Tamper = (body: NonNullable<AggregatorMessage['body']>, reply: Reply) => Reply | undefined | Promise<Reply | undefined>;

export class TamperingParty {
  readonly config: PartyConfig;
  readonly ckks: CkksParty;
  readonly secagg: PartySessions;
  tamper: Tamper = (_b, r) => r;
  /** Alters an aggregator message before the real code sees it (return it unchanged to behave honestly). */
  tamperIn: (body: NonNullable<AggregatorMessage['body']>) => NonNullable<AggregatorMessage['body']> = (b) => b;
  readonly #ledger: PartyLedger;
  readonly #client: PartyGatewayServiceClient;
  #stream: ClientDuplexStream<PartyMessage, AggregatorMessage> | undefined;

  constructor(config: PartyConfig) {
    this.config = config;
    this.#ledger = new PartyLedger(config.stateDir, config.policy.budgetRho);
    this.ckks = new CkksParty(config, quiet, this.#ledger);
    this.secagg = new PartySessions(config, quiet, this.#ledger);
    this.#client = new PartyGatewayServiceClient(config.aggregator, credentials.createInsecure());
  }

  connect(): Promise<void> {
    const id = this.config.identity;
    const stream = this.#client.connect();
    this.#stream = stream;
    return new Promise<void>((resolve) => {
      stream.on('data', (m: AggregatorMessage) => {
        const b0 = m.body;
        if (!b0) return;
        const b = this.tamperIn(b0);
        const send = async (reply: Reply | undefined): Promise<void> => {
          if (!reply) return;
          const out = reply.$case === 'refusal' ? reply : await this.tamper(b, reply);
          if (!out) return;
          const kind = kindOfPartyMessage(out.$case)!;
          const sessionId = (out.value as { sessionId: string }).sessionId;
          const body = PartyMessage.encode({ body: out }).finish();
          const env = signEnvelope(id.identity.secretKey, kind, sessionId, id.id, body);
          stream.write({ body: { $case: 'envelope', value: { kind, sessionId, body, signature: env.signature } } });
        };
        if (b.$case === 'challenge') {
          stream.write({ body: { $case: 'auth', value: { signature: signDomain(id.identity.secretKey, AUTH_DOMAIN, authChallengeBody(b.value.aggregatorId, b.value.nonce, id.id)) } } });
        } else if (b.$case === 'welcome') resolve();
        else if (this.ckks.accepts(b)) {
          void this.ckks.handle(b).then(async (r) => {
            for (const x of r.replies ?? [r.reply]) await send(x); // chunks in order
          });
        }
        else if (b.$case !== 'receipt' && b.$case !== 'rejected') {
          void this.secagg.handle(b).then(async (r) => {
            for (const x of r.replies ?? [r.reply]) await send(x); // chunks in order
          });
        }
      });
      stream.on('error', () => {});
      // It keeps no receipt book (a malicious party may ignore receipts): it announces none.
      stream.write({ body: { $case: 'hello', value: { partyId: id.id, schemaDigest: schemaDigest(this.config.schema), softwareVersion: 'test-tampering', lastReceiptIndex: 0n, lastReceiptHead: new Uint8Array(0) } } });
    });
  }

  close(): void {
    this.#stream?.end();
    this.#stream?.cancel();
    this.#client.close();
    this.ckks.close();
    this.secagg.abortAll();
    this.#ledger.close();
  }
}

export interface InProcessFederation {
  dir: string;
  aggregator: Aggregator;
  address: string;
  rosterPath: string;
  aggregatorDataDir: string;
  /** The operator and the analyst ("attack") of the signed analyst roster the aggregator loads; client() signs in as this analyst. */
  analysts: TestAnalysts;
  ids: string[];
  /** Every party's resolved config (honest and tampering), by index. */
  configs: PartyConfig[];
  nodes: PartyNode[];
  tampering: Map<number, TamperingParty>;
  client(): AnalystClient;
  stop(): Promise<void>;
}

/**
 * Writes identities, roster, data (examples/pbc split n ways, or `csvParts`) and policies (CKKS allowed, exact
 * queries allowed) under a temp dir, starts the aggregator with --ckks and the parties; party
 * indices in `tampering` connect as TamperingParty. Resolves once every party is connected.
 */
export async function startFederation(opts: { n: number; threshold: number; tampering?: number[]; roundTimeoutMs?: number; maskedChunkElements?: number; ckksInputChunk?: number; csvParts?: string[] }): Promise<InProcessFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'blindsum-inproc-'));
  const ids = Array.from({ length: opts.n }, (_, i) => `hospital-${i + 1}`);
  const parts = opts.csvParts ?? splitCsvText(readFileSync('examples/pbc/pbc.csv', 'utf8'), opts.n, 'inproc');
  const entries = ids.map((id, i) => {
    const f = writeNewIdentityFile(join(dir, `${id}.key`), id);
    writeFileSync(join(dir, `${id}.csv`), parts[i]!);
    writeFileSync(join(dir, `${id}.policy.json`), JSON.stringify({ allowExact: true, budgetRho: 10, maxRhoPerQuery: 10, minCohort: 5, allowedBackends: ['secagg', 'ckks'] }));
    return { id, publicKey: toHex(f.identity.publicKey) };
  });
  const aggregatorDataDir = join(dir, 'aggregator');
  mkdirSync(aggregatorDataDir, { recursive: true, mode: 0o700 });
  const agg = writeNewIdentityFile(join(aggregatorDataDir, AGGREGATOR_KEY_FILE), 'demo-aggregator');
  const rosterPath = join(dir, 'roster.json');
  const analysts = testAnalysts('demo', 'attack');
  writeFileSync(rosterPath, JSON.stringify({
    federation: 'demo', threshold: opts.threshold, parties: entries, aggregator: { id: agg.id, publicKey: toHex(agg.identity.publicKey) }, operator: analysts.operatorEntry,
  }));
  const analystsPath = join(dir, 'analysts.json');
  writeAnalystRosterFile(analystsPath, analysts.roster);
  const aggregator = createAggregator(
    {
      ...resolveAggregatorConfig({ listen: '127.0.0.1:0', rosterPath, analystsPath, schemaPath: SCHEMA_PATH, dataDir: aggregatorDataDir, roundTimeoutMs: opts.roundTimeoutMs ?? 20_000, allowExact: true, ckks: true, quiet: true }),
      ...(opts.ckksInputChunk !== undefined ? { ckksInputChunk: opts.ckksInputChunk } : {}),
    },
    quiet,
  );
  const port = await aggregator.start();
  const address = `127.0.0.1:${port}`;
  const configs = ids.map((id) =>
    resolvePartyConfig({
      aggregator: address, keyPath: join(dir, `${id}.key`), rosterPath, schemaPath: SCHEMA_PATH, dataPath: join(dir, `${id}.csv`), policyPath: join(dir, `${id}.policy.json`), quiet: true,
      ...(opts.maskedChunkElements !== undefined ? { maskedChunkElements: opts.maskedChunkElements } : {}),
    }),
  );
  const nodes: PartyNode[] = [];
  const tampering = new Map<number, TamperingParty>();
  const waits: Promise<void>[] = [];
  configs.forEach((cfg, i) => {
    if (opts.tampering?.includes(i)) {
      const t = new TamperingParty(cfg);
      tampering.set(i, t);
      waits.push(t.connect());
    } else {
      const node = createPartyNode(cfg, quiet);
      node.start();
      nodes.push(node);
      waits.push(node.connected());
    }
  });
  await Promise.all(waits);
  const clients: AnalystClient[] = [];
  return {
    dir, aggregator, address, rosterPath, aggregatorDataDir, analysts, ids, configs, nodes, tampering,
    client() {
      const c = new AnalystClient(address, { identity: { id: analysts.analystId, identity: analysts.analyst }, federation: analysts.federation });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.close();
      for (const t of tampering.values()) t.close();
      await Promise.all(nodes.map((n) => n.close()));
      await aggregator.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the aggregator's key ceremony has produced the collective key; returns its SHA-256. */
export async function waitCollectiveKey(f: InProcessFederation, timeoutMs = 120_000): Promise<string> {
  const c = f.client();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const k = await c.getCollectiveKey();
    if (k.status === 'ready') return k.publicKeySha256;
    if (Date.now() > deadline) throw new Error(`no collective key: ${k.status}: ${k.message}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A party's reply signed as its node signs it: the SignedContribution a list or request carries. */
export function signedContribution(cfg: PartyConfig, reply: Reply): SignedContribution {
  if (reply.$case === 'refusal') throw new Error(`refused: ${reply.value.reason}`);
  const kind = kindOfPartyMessage(reply.$case);
  if (!kind) throw new Error(`${reply.$case} is not signed`);
  const body = PartyMessage.encode({ body: reply }).finish();
  const sessionId = (reply.value as { sessionId: string }).sessionId;
  const env = signEnvelope(cfg.identity.identity.secretKey, kind, sessionId, cfg.identity.id, body);
  return { partyId: cfg.identity.id, kind: env.kind, sessionId: env.session, body, signature: env.signature };
}

/**
 * `template` (a StartSession the real aggregator sent) for a new session `sessionId` (a random
 * UUID): the analyst signs the same request again under the new query id, issued now, since the
 * signature covers the session id (services/party/analyst-check.ts): the analyst asking the same
 * query again. A driver playing a malicious aggregator deviates only after this authorized start.
 */
export function resign(analysts: TestAnalysts, template: StartSession, sessionId: string): StartSession {
  const request = QueryRequest.decode(template.signedRequest);
  const { signedRequest, signature } = signQueryRequest(analysts.analyst.secretKey, { ...request, queryId: sessionId, issuedAtMs: BigInt(Date.now()) });
  return { ...template, sessionId, signedRequest, requestSignature: signature };
}

/**
 * Real CkksParty objects for every party of a federation whose key ceremony has run (each loads
 * its key share from its state directory): what a malicious aggregator driver talks to directly.
 * Sessions it starts replay a real StartSession under a fresh UUID, signed again by the analyst.
 */
export class DirectParties {
  readonly configs: PartyConfig[];
  readonly parties: CkksParty[];
  readonly #analysts: TestAnalysts;
  readonly #ledgers: PartyLedger[];

  constructor(configs: PartyConfig[], analysts: TestAnalysts) {
    this.configs = configs;
    this.#analysts = analysts;
    this.#ledgers = configs.map((c) => new PartyLedger(c.stateDir, c.policy.budgetRho));
    this.parties = configs.map((c, i) => new CkksParty(c, quiet, this.#ledgers[i]!));
  }

  /** Every party answers `template` under `sessionId` (a fresh UUID): their signed InputCommits, by index. */
  async commit(template: StartSession, sessionId: string): Promise<SignedContribution[]> {
    const start = resign(this.#analysts, template, sessionId);
    const out: SignedContribution[] = [];
    for (let i = 0; i < this.parties.length; i++) {
      const { reply } = await this.parties[i]!.handle({ $case: 'startSession', value: start });
      out.push(signedContribution(this.configs[i]!, reply!));
    }
    return out;
  }

  /** Party `i`'s answer to a commitment list: its EncryptedInput (one chunk: the tests' inputs are short), or its refusal. */
  async reveal(i: number, sessionId: string, commits: SignedContribution[]): Promise<Reply> {
    const chunks = await this.revealChunks(i, sessionId, commits);
    if (chunks.length !== 1) throw new Error(`expected one reply, got ${chunks.length}`);
    return chunks[0]!;
  }

  /** Party `i`'s answer to a commitment list: the chunks of its EncryptedInput, or its refusal. */
  async revealChunks(i: number, sessionId: string, commits: SignedContribution[]): Promise<Reply[]> {
    const { reply, replies } = await this.parties[i]!.handle({ $case: 'inputCommitments', value: { sessionId, commits } });
    const out = replies ? [...replies] : reply ? [reply] : [];
    if (out.length === 0) throw new Error('no reply');
    return out;
  }

  /** An honest commit round: every party commits, sees every commitment, reveals; their signed inputs. */
  async start(template: StartSession, sessionId: string): Promise<SignedContribution[]> {
    const commits = await this.commit(template, sessionId);
    const out: SignedContribution[] = [];
    for (let i = 0; i < this.parties.length; i++) out.push(signedContribution(this.configs[i]!, await this.reveal(i, sessionId, commits)));
    return out;
  }

  /** Party `i`'s answer to a PCKS request: its share, or its refusal. */
  async pcks(i: number, m: PCKSRequest): Promise<Reply> {
    const { reply } = await this.parties[i]!.handle({ $case: 'pcksRequest', value: m });
    if (!reply) throw new Error('no reply');
    return reply;
  }

  close(): void {
    for (const p of this.parties) p.close();
    for (const l of this.#ledgers) l.close();
  }
}
