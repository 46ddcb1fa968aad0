/**
 * Query lifecycle at the aggregator: validate and plan before any data is touched, persist,
 * run the secure-aggregation session, post-process with the query kind's single definition,
 * persist the result, and publish progress events to watchers.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { ringDecode } from '../../crypto/ring.ts';
import type { QuerySpec } from '../../gen/blindsum/v1/blindsum.ts';
import { finalize, planQuery, validateQuery, type Plan, type Query, type Schema } from '../../stats/index.ts';
import { BlindsumError, ErrorCode, invalidArgument, publicMessage, type Logger } from '../common/errors.ts';
import { queryFromProto, queryToProto } from '../common/query-codec.ts';
import type { Roster } from '../common/roster.ts';
import type { PartyGateway } from './gateway.ts';
import { SecAggSession } from './secagg-session.ts';
import type { AggregatorStore, StoredEvent } from './store.ts';
import { EntryKind } from '../../crypto/transcript.ts';
import { schemaDigest } from '../../stats/index.ts';
import { jsonBody, type FailedRecord, type QuerySubmittedRecord, type ReleasedRecord } from '../audit/records.ts';
import type { TranscriptLog } from './transcript-log.ts';

export const BACKENDS = ['secagg'] as const;
const ANALYST = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export interface QueryServiceOptions {
  store: AggregatorStore;
  gateway: PartyGateway;
  roster: Roster;
  schema: Schema;
  ringBits: 32 | 64;
  roundTimeoutMs: number;
  /** Signed, hash-chained log of every protocol step (docs/transcripts.md). */
  transcript: TranscriptLog;
  log: Logger;
}

export class QueryService {
  readonly #o: QueryServiceOptions;
  readonly #sessions = new Map<string, SecAggSession>();
  readonly #events = new EventEmitter();
  readonly #running = new Set<Promise<void>>();

  constructor(o: QueryServiceOptions) {
    this.#o = o;
    this.#events.setMaxListeners(0);
    o.gateway.setListener({
      onMessage: (partyId, body, envelope) => {
        const sessionId = 'value' in body && typeof (body.value as { sessionId?: unknown }).sessionId === 'string' ? (body.value as { sessionId: string }).sessionId : '';
        const session = this.#sessions.get(sessionId);
        if (session) session.deliver(partyId, body, envelope);
        else o.log('warn', 'message for an unknown session ignored', { party: partyId, type: body.$case, session: sessionId || undefined });
      },
      onDisconnect: (partyId) => {
        for (const s of this.#sessions.values()) s.disconnected(partyId);
      },
    });
  }

  /** Validates, plans (overflow check) and persists the query, then starts it. */
  submit(spec: QuerySpec | undefined, backend: string, analyst: string): { queryId: string; plan: Plan } {
    const { schema, roster, ringBits, store } = this.#o;
    if (!ANALYST.test(analyst)) throw invalidArgument(`analyst: ${JSON.stringify(analyst)} is not a valid analyst name (letters, digits, . _ @ -)`);
    if (!(BACKENDS as readonly string[]).includes(backend)) throw invalidArgument(`backend "${backend}" is not available; choose one of: ${BACKENDS.join(', ')}`);
    const query: Query = queryFromProto(spec);
    validateQuery(query, schema);
    const plan = planQuery(query, schema, { parties: roster.parties.length, ringBits });
    const queryId = randomUUID();
    const canonical = queryToProto(query);
    const submittedAtMs = Date.now();
    const submitted: QuerySubmittedRecord = {
      queryId, analyst, backend, query, schemaDigest: schemaDigest(schema), planDigest: plan.digest, plannedParties: roster.parties.length,
      ringBits: plan.ringBits, vectorLength: plan.entries.length, submittedAtMs,
    };
    this.#o.transcript.appendAggregator(EntryKind.QuerySubmitted, queryId, jsonBody(submitted));
    store.insertQuery({ id: queryId, analyst, backend, spec: canonical, planDigest: plan.digest, submittedAtMs });
    this.#emit(queryId, 'submitted', `${query.kind} query accepted; ${plan.entries.length} statistics, ring Z_2^${ringBits}`, false);
    const p = this.#run(queryId, query, canonical, plan, backend, analyst).finally(() => this.#running.delete(p));
    this.#running.add(p);
    return { queryId, plan };
  }

  async #run(queryId: string, query: Query, spec: QuerySpec, plan: Plan, backend: string, analyst: string): Promise<void> {
    const { store, gateway, roster, schema, log } = this.#o;
    store.setStatus(queryId, 'running');
    const session = new SecAggSession(
      { gateway, roster, roundTimeoutMs: this.#o.roundTimeoutMs, transcript: this.#o.transcript, log, progress: (stage, message) => this.#emit(queryId, stage, message, false) },
      { sessionId: queryId, query: spec, backend, analyst, ringBits: plan.ringBits, vectorLength: plan.entries.length, planDigest: plan.digest },
    );
    this.#sessions.set(queryId, session);
    try {
      const outcome = await session.run();
      const sums = ringDecode(outcome.sum, plan.ringBits);
      const result = finalize(query, schema, plan, sums);
      const aggregate = sums.map((s, i) => Number(s) / 2 ** plan.scaleBits[i]!);
      const released: ReleasedRecord = {
        queryId, contributors: outcome.contributors, exactSums: sums.map(String), scaleBits: plan.scaleBits, entryNames: plan.entries.map((e) => e.name), resultJson: JSON.stringify(result),
      };
      this.#o.transcript.appendAggregator(EntryKind.Released, queryId, jsonBody(released));
      store.finish(queryId, {
        status: 'done', resultJson: JSON.stringify(result), entryNames: plan.entries.map((e) => e.name), aggregate,
        contributors: outcome.contributors, refusals: outcome.refusals, exactSums: sums.map(String), scaleBits: plan.scaleBits, finishedAtMs: Date.now(),
      });
      this.#emit(queryId, 'done', `released: aggregate of ${outcome.contributors.length} parties (${outcome.contributors.join(', ')})`, true);
    } catch (e) {
      const message = publicMessage(e);
      if (message === 'internal error') log('error', 'query failed', { query: queryId, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      try {
        this.#o.transcript.appendAggregator(EntryKind.Failed, queryId, jsonBody({ queryId, error: message } satisfies FailedRecord));
      } catch (te) {
        log('error', 'cannot log the failure in the transcript', { query: queryId, error: (te as Error).message });
      }
      store.finish(queryId, { status: 'failed', error: message, finishedAtMs: Date.now() });
      this.#emit(queryId, 'failed', message, true);
    } finally {
      this.#sessions.delete(queryId);
    }
  }

  #emit(queryId: string, stage: string, message: string, final: boolean): void {
    const ev = this.#o.store.addEvent(queryId, stage, message, Date.now(), final);
    this.#events.emit(queryId, ev);
  }

  /** Replays stored events then follows live ones until the final event; returns an unsubscribe. */
  watch(queryId: string, onEvent: (ev: StoredEvent) => void): () => void {
    if (!this.#o.store.getQuery(queryId)) throw new BlindsumError(ErrorCode.NotFound, `no query with id ${queryId}`);
    let lastSeq = 0;
    const listener = (ev: StoredEvent): void => {
      if (ev.seq <= lastSeq) return;
      lastSeq = ev.seq;
      onEvent(ev);
    };
    this.#events.on(queryId, listener);
    for (const ev of this.#o.store.events(queryId)) listener(ev);
    return () => this.#events.off(queryId, listener);
  }

  /** Waits for running sessions (used on shutdown and by tests). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#running]);
  }
}
