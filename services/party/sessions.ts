/**
 * A party's side of each secure-aggregation session. Every request from the aggregator is
 * checked against the party's own roster, schema and policy before anything is computed:
 * the aggregator is not trusted to have planned the query, chosen the threshold or picked the
 * participants honestly. Protocol-level checks (signatures, stages, never revealing both shares
 * of a peer) live in crypto/secagg/client.ts.
 */
import { ringBytes, ringFromInt64 } from '../../crypto/ring.ts';
import type { MaskStream } from '../../crypto/prg.ts';
import { SecAggClient, type SecAggParams } from '../../crypto/secagg/client.ts';
import type { AggregatorMessage, PartyMessage, StartSession } from '../../gen/blindsum/v1/blindsum.ts';
import { describeQuery } from '../../stats/index.ts';
import type { PartyLedger } from './ledger.ts';
import type { Logger } from '../common/errors.ts';
import { publicMessage } from '../common/errors.ts';
import type { PartyConfig } from './config.ts';
import { prepareContributionOffThread, Refuse, type ThreadContribution } from './contribution.ts';
import { StatsThread } from './stats-thread.ts';

type Body = NonNullable<AggregatorMessage['body']>;
export type Reply = NonNullable<PartyMessage['body']>;

/** What PartySessions.handle answers. */
export interface Handled {
  reply?: Reply;
  /** A reply in several messages (a masked input's chunks), each computed when taken. */
  replies?: Iterable<Reply>;
  stage?: ReplyStage;
}

/** Stage names, as in the transcript and the aggregator's progress events. */
export type ReplyStage = 'AdvertiseKeys' | 'ShareKeys' | 'MaskedInputCollection' | 'ConsistencyCheck' | 'Unmasking';

interface Session {
  client: SecAggClient;
  input: Uint32Array;
  analyst: string;
  /** zCDP ρ charged to this party's ledger before its noisy input leaves (0 = exact). */
  rho: number;
  /** The analyst's budget in the operator-signed analyst roster (this party enforces it too). */
  analystBudgetRho: number;
  ringBits: 32 | 64;
  vectorLength: number;
}

const MAX_SESSIONS = 64;

/** y_u in chunks: each slice of the input masked (in place on a copy) when it is taken. */
function* maskedChunks(sessionId: string, input: Uint32Array, stream: MaskStream, ringBits: 32 | 64, chunkElements: number, alive: () => boolean): Generator<Reply> {
  const per = ringBits / 32;
  const step = chunkElements * per;
  for (let w = 0; w < input.length; w += step) {
    if (!alive()) return; // the session ended (abort, refusal, disconnect): send nothing more
    const chunk = input.slice(w, Math.min(input.length, w + step));
    stream.apply(chunk);
    yield { $case: 'maskedInput', value: { sessionId, masked: ringBytes(chunk), offset: BigInt(w / per) } };
    chunk.fill(0);
  }
}

export class PartySessions {
  readonly #cfg: PartyConfig;
  readonly #log: Logger;
  readonly #sessions = new Map<string, Session>();
  readonly #ledger: PartyLedger;
  readonly #thread: StatsThread;
  /** Sessions being prepared on the statistics thread, and whether they ended meanwhile. */
  readonly #starting = new Map<string, boolean>();

  constructor(cfg: PartyConfig, log: Logger, ledger: PartyLedger) {
    this.#cfg = cfg;
    this.#log = log;
    this.#ledger = ledger;
    this.#thread = new StatsThread(cfg.dataset);
  }

  get active(): number {
    return this.#sessions.size;
  }

  /** The node's statistics thread (the CKKS party prepares its sessions on it too); close() stops it. */
  get statsThread(): StatsThread {
    return this.#thread;
  }

  /**
   * Handles one message; returns the reply (if any) and which protocol stage it completes. A
   * masked input comes as `replies`: its chunks, each masked when the caller takes it. Only
   * StartSession waits (for the statistics thread); every later step answers at once.
   */
  async handle(body: Body): Promise<Handled> {
    if (body.$case !== 'startSession') return this.#step(body);
    const sessionId = body.value.sessionId;
    try {
      const reply = await this.#start(body.value);
      return reply ? { reply, stage: 'AdvertiseKeys' } : {};
    } catch (e) {
      return this.#refusal(body, sessionId, e);
    }
  }

  #refusal(body: Body, sessionId: string, e: unknown): Handled {
    const reason = e instanceof Refuse ? e.message : publicMessage(e) === 'internal error' ? 'internal error at the party' : publicMessage(e);
    if (!(e instanceof Refuse)) this.#log('warn', 'protocol step refused', { queryId: sessionId, step: body.$case, error: (e as Error).message });
    this.#end(sessionId);
    return sessionId ? { reply: { $case: 'refusal', value: { sessionId, reason } } } : {};
  }

  #step(body: Body): Handled {
    const sessionId = (body.value as { sessionId?: string }).sessionId ?? '';
    try {
      switch (body.$case) {
        case 'advertisedKeys': {
          const s = this.#get(sessionId);
          const msg = s.client.shareKeys(body.value.keys.map((k) => ({ party: k.partyId, cPk: k.cPk, sPk: k.sPk, signature: k.signature })));
          return { reply: { $case: 'shareKeys', value: { sessionId, shares: msg.shares } }, stage: 'ShareKeys' };
        }
        case 'routedShares': {
          const s = this.#get(sessionId);
          if (s.rho > 0) {
            // Charge this party's own ledger durably before its noisy contribution leaves.
            try {
              this.#ledger.charge(sessionId, s.analyst, s.rho, s.analystBudgetRho);
            } catch (e) {
              throw new Refuse((e as Error).message);
            }
          }
          const stream = s.client.maskedInputStream(body.value.shares.map((e) => ({ from: e.from, to: e.to, ciphertext: e.ciphertext })));
          return { replies: maskedChunks(sessionId, s.input, stream, s.ringBits, this.#cfg.maskedChunkElements, () => this.#sessions.get(sessionId) === s), stage: 'MaskedInputCollection' };
        }
        case 'survivorList': {
          const s = this.#get(sessionId);
          const msg = s.client.consistencyCheck(body.value.survivors);
          return { reply: { $case: 'consistencyCheck', value: { sessionId, signature: msg.signature } }, stage: 'ConsistencyCheck' };
        }
        case 'unmaskRequest': {
          const s = this.#get(sessionId);
          const msg = s.client.unmask({ survivors: body.value.survivors, dropped: body.value.dropped, signatures: body.value.signatures.map((x) => ({ party: x.partyId, signature: x.signature })) });
          this.#end(sessionId);
          return { reply: { $case: 'unmasking', value: { sessionId, selfMaskShares: msg.selfMaskShares, maskKeyShares: msg.maskKeyShares } }, stage: 'Unmasking' };
        }
        case 'abort':
          this.#log('info', 'session aborted by the aggregator', { queryId: sessionId, reason: body.value.reason });
          this.#end(sessionId);
          return {};
        default:
          return {};
      }
    } catch (e) {
      return this.#refusal(body, sessionId, e);
    }
  }

  abortAll(): void {
    for (const id of [...this.#sessions.keys()]) this.#end(id);
    for (const id of this.#starting.keys()) this.#starting.set(id, true);
  }

  /** Stops the statistics thread (the node is closing). */
  close(): Promise<void> {
    this.abortAll();
    return this.#thread.close();
  }

  #get(sessionId: string): Session {
    const s = this.#sessions.get(sessionId);
    if (!s) throw new Refuse(`no active session ${JSON.stringify(sessionId)} at this party`);
    return s;
  }

  #end(sessionId: string): void {
    if (this.#starting.has(sessionId)) this.#starting.set(sessionId, true); // ended while being prepared
    const s = this.#sessions.get(sessionId);
    if (!s) return;
    s.client.abort();
    s.input.fill(0);
    this.#sessions.delete(sessionId);
  }

  /** Prepares a session (statistics on the statistics thread); undefined when it ended meanwhile. */
  async #start(req: StartSession): Promise<Reply | undefined> {
    const { roster, identity } = this.#cfg;
    const self = identity.id;
    if (this.#sessions.has(req.sessionId) || this.#starting.has(req.sessionId)) throw new Refuse('session id already in use');
    if (this.#sessions.size + this.#starting.size >= MAX_SESSIONS) throw new Refuse(`too many concurrent sessions (${MAX_SESSIONS})`);
    this.#starting.set(req.sessionId, false);
    let c: ThreadContribution;
    let ended: boolean;
    try {
      c = await prepareContributionOffThread(this.#cfg, this.#ledger, req, 'secagg', this.#thread);
    } finally {
      ended = this.#starting.get(req.sessionId) === true;
      this.#starting.delete(req.sessionId);
    }
    if (ended) {
      c.sums.fill(0n);
      return undefined; // aborted (or disconnected) while being prepared: answer nothing
    }
    const ringBits = req.ringBits as 32 | 64;
    const input = ringFromInt64(c.sums, ringBits); // may share c.sums' memory; wiped at the session's end
    if (input.buffer !== c.sums.buffer) c.sums.fill(0n);
    const params: SecAggParams = { sessionId: req.sessionId, parties: c.parties, threshold: roster.threshold, ringBits, vectorLength: c.vectorLength };
    const client = new SecAggClient(params, self, identity.identity.secretKey, roster.publicKeys);
    this.#sessions.set(req.sessionId, { client, input, analyst: req.analyst, rho: c.rho, analystBudgetRho: c.analystBudgetRho, ringBits, vectorLength: c.vectorLength });
    this.#log('info', 'session accepted', { queryId: req.sessionId, query: describeQuery(c.query), analyst: req.analyst, rowsUsed: c.rowsUsed });
    const msg = client.advertiseKeys();
    return { $case: 'advertiseKeys', value: { sessionId: req.sessionId, cPk: msg.cPk, sPk: msg.sPk, signature: msg.signature } };
  }
}
