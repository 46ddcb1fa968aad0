/**
 * Query lifecycle at the aggregator: validate and plan before any data is touched, persist,
 * run the secure-aggregation session, post-process with the query kind's single definition,
 * persist the result, and publish progress events to watchers. A secure-aggregation query's
 * O(entries) work (planning, the release's computation) runs on the release thread
 * (release-thread.ts); every check and durable write stays here, in the same order.
 */
import { EventEmitter } from 'node:events';
import type { QuerySpec } from '../../gen/blindsum/v1/blindsum.ts';
import {
  DP_GRID_BITS, validateQuery,
  type Query, type Schema,
} from '../../stats/index.ts';
import type { BudgetLedger } from './budget.ts';
import { BlindsumError, ErrorCode, invalidArgument, publicMessage, quote, type Logger } from '../common/errors.ts';
import type { AnalystRoster } from '../common/analysts.ts';
import { sha256Hex } from '../common/ckks.ts';
import { AnalystAuthError, openQueryRequest, REQUEST_SKEW_MS, requestRho, type SessionAuthorization } from '../common/query-request.ts';
import type { AnalystQuotas } from './quotas.ts';
import { queryFromProto, queryToProto } from '../common/query-codec.ts';
import type { Roster } from '../common/roster.ts';
import type { PartyGateway } from './gateway.ts';
import { SecAggSession } from './secagg/session.ts';
import type { CkksBackend, CkksPrepared } from './ckks/backend.ts';
import { CkksSession } from './ckks/session.ts';
import type { AggregatorStore, StoredEvent } from './store.ts';
import { EntryKind } from '../../crypto/transcript.ts';
import { jobRoundsAhead, schemaDigest } from '../../stats/index.ts';
import {
  jsonBody, type BudgetChargeRecord, type BudgetRefundRecord, type FailedRecord, type QuerySubmittedRecord,
} from '../common/transcript-records.ts';
import type { TranscriptLog } from './transcript-log.ts';
import type { RoundDeadlines } from './deadlines.ts';
import type { AggregatorMetrics } from './metrics.ts';
import { ReleaseThread, type PlanArgs, type Release } from './release-thread.ts';
import { setImmediate as nextTurn } from 'node:timers/promises';

export const BACKENDS = ['secagg', 'ckks'] as const;

export interface QueryServiceOptions {
  store: AggregatorStore;
  gateway: PartyGateway;
  roster: Roster;
  schema: Schema;
  ringBits: 32 | 64;
  roundTimeoutMs: number;
  /** Round deadlines sized from the work (services/aggregator/deadlines.ts); roundTimeoutMs alone when absent. */
  deadlines?: RoundDeadlines;
  /** Signed, hash-chained log of every protocol step (docs/transcripts.md). */
  transcript: TranscriptLog;
  budget: BudgetLedger;
  /** The operator-signed analyst roster: every query is a request signed by an analyst on it. */
  analysts: AnalystRoster;
  /** Whether queries without differential privacy may run (tests and demos; off by default). */
  allowExact: boolean;
  /** DP results whose noisy row count is below this get a note (stats/plan.ts flagSmallCohort). */
  minCohort: number;
  log: Logger;
  /** The multiparty CKKS backend (aggregators started with --ckks). */
  ckks?: CkksBackend;
  /** Per-analyst concurrency and rate quotas (services/aggregator/quotas.ts). */
  quotas?: AnalystQuotas;
  /** The release thread, on the store's database (one is started when absent; close() stops it either way). */
  releaseThread?: ReleaseThread;
  /** Prometheus metrics (services/aggregator/metrics.ts), told of every submission and event. */
  metrics?: AggregatorMetrics;
}

const ANALYST = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** Longest query id accepted in GetResult/WatchQuery (ids are UUIDs). */
export const MAX_QUERY_ID = 64;

/** Checks an analyst name from a request before it is used or echoed. */
export function checkAnalyst(analyst: string): string {
  if (!ANALYST.test(analyst)) throw invalidArgument(`analyst: ${quote(analyst)} is not a valid analyst name (letters, digits, . _ @ -; at most 64 characters)`);
  return analyst;
}

/** Bounds a query id from a request before it is used or echoed. */
export function checkQueryId(id: string): string {
  if (id.length === 0 || id.length > MAX_QUERY_ID) throw new BlindsumError(ErrorCode.NotFound, `no query with id ${quote(id)}`);
  return id;
}

/** Test-only: hold a query after unmasking, before its release, so a test can SIGKILL there. */
const HOLD_BEFORE_RELEASE = process.env['BLINDSUM_TEST_HOLD_BEFORE_RELEASE'] === '1';

/**
 * A planned query, on either backend: planned on the planning thread, and again from `args` on
 * the release thread (the plan itself is not kept meanwhile; a CKKS query keeps only its value
 * layout, which the CKKS backend needs).
 */
interface Planned {
  args: PlanArgs;
  digest: string;
  vectorLength: number;
  ringBits: 32 | 64;
  planMs: number;
}

export class QueryService {
  readonly #o: QueryServiceOptions;
  readonly #sessions = new Map<string, SecAggSession | CkksSession>();
  readonly #events = new EventEmitter();
  readonly #running = new Set<Promise<void>>();
  #shutdown: string | undefined;
  readonly #thread: ReleaseThread;

  constructor(o: QueryServiceOptions) {
    this.#o = o;
    this.#thread = o.releaseThread ?? new ReleaseThread(o.schema, o.store.path);
    this.#events.setMaxListeners(0);
    o.gateway.setListener({
      onMessage: (partyId, body, envelope) => {
        const sessionId = 'value' in body && typeof (body.value as { sessionId?: unknown }).sessionId === 'string' ? (body.value as { sessionId: string }).sessionId : '';
        const session = this.#sessions.get(sessionId);
        if (session) session.deliver(partyId, body, envelope);
        else if (!o.ckks?.deliver(partyId, body, envelope)) o.log('warn', 'message for an unknown session ignored', { party: partyId, type: body.$case, session: sessionId ? quote(sessionId) : undefined });
      },
      onDisconnect: (partyId) => {
        for (const s of this.#sessions.values()) s.disconnected(partyId);
        o.ckks?.disconnected(partyId);
      },
    });
  }

  /**
   * Verifies the analyst's signed request (services/common/query-request.ts: analyst roster entry
   * with role "analyst", signature, federation, issued within ±10 minutes, a query id never seen),
   * then validates, plans (overflow check; on the release thread for secure aggregation) and
   * persists the query exactly as signed, and starts it.
   */
  async submit(signedRequest: Uint8Array, signature: Uint8Array, analystPublicKey: Uint8Array = new Uint8Array(0), nowMs: number = Date.now()): Promise<{ queryId: string; planDigest: string }> {
    const { schema, roster, ringBits, store } = this.#o;
    if (this.#shutdown !== undefined) throw new BlindsumError(ErrorCode.Unavailable, `the aggregator is shutting down (${this.#shutdown}); submit again when it is back`);
    const { request, analyst: entry } = openQueryRequest(signedRequest, signature, this.#o.analysts);
    const analyst = entry.id;
    const issued = Number(request.issuedAtMs);
    if (!(Math.abs(issued - nowMs) <= REQUEST_SKEW_MS)) {
      throw new AnalystAuthError('unauthenticated', `the request was issued at ${Number.isFinite(issued) && Math.abs(issued) < 8.64e15 ? new Date(issued).toISOString() : '?'}, not within ±${REQUEST_SKEW_MS / 60_000} minutes of the aggregator's clock (stale or replayed request, or a wrong clock)`);
    }
    if (store.queryOwner(request.queryId) || this.#o.transcript.hasSession(request.queryId)) throw new BlindsumError(ErrorCode.AlreadyExists, `query id ${request.queryId} was already submitted: a signed request runs once (replayed request?)`);
    // Quotas count fresh, never-seen requests signed by the analyst only: a replayed or stale
    // request (which anyone who saw a StartSession or a transcript holds) spends nobody's rate.
    this.#o.quotas?.take(analyst);
    const backend = request.backend;
    if (!(BACKENDS as readonly string[]).includes(backend)) throw invalidArgument(`backend ${quote(backend)} is not available; choose one of: ${BACKENDS.join(', ')}`);
    if (backend === 'ckks' && sha256Hex(analystPublicKey) !== request.analystKeySha256) {
      throw invalidArgument('the analyst CKKS public key sent differs from the one whose SHA-256 the analyst signed (analyst_key_sha256)');
    }
    const query: Query = queryFromProto(request.query);
    validateQuery(query, schema);
    const exact = requestRho(request) === 0;
    if (exact && !this.#o.allowExact) {
      throw invalidArgument('this federation releases only differentially private results: give a privacy cost (rho, or epsilon with delta)');
    }
    const n = roster.parties.length;
    const rho = requestRho(request);
    if (backend === 'ckks' && !this.#o.ckks) throw invalidArgument('backend "ckks" is not enabled on this aggregator (start it with --ckks)');
    const queryId = request.queryId;
    const args: PlanArgs = { query, parties: n, ringBits, rho, threshold: roster.threshold, collusion: roster.collusion };
    // The running-query quota is taken before planning: it bounds the plans an analyst can queue.
    const release = this.#o.quotas?.start(analyst) ?? ((): void => {});
    let planned: Planned;
    let ckks: CkksPrepared | undefined;
    try {
      if (backend === 'ckks') {
        // Planned on the planning thread too; only the value layout (O(1)) comes back for the CKKS
        // backend, whose SEAL objects live on this thread and pick the level and ciphertext count.
        let p: Awaited<ReturnType<ReleaseThread['planCkks']>>;
        try {
          p = await this.#thread.planCkks(args);
        } catch (e) {
          if ((e as Error).name === 'RangeError') throw invalidArgument(`this query's sums do not fit CKKS ciphertexts: ${(e as Error).message}`);
          throw e;
        }
        const { ckks: valueLayout, ...rest } = p;
        planned = { args, ...rest };
        ckks = this.#o.ckks!.prepare(valueLayout, analystPublicKey);
        if (store.queryOwner(queryId) || this.#o.transcript.hasSession(queryId)) throw new BlindsumError(ErrorCode.AlreadyExists, `query id ${queryId} was already submitted: a signed request runs once (replayed request?)`);
      } else {
        planned = { args, ...(await this.#thread.plan(args)) };
        // Another submission of the same signed request may have been stored while this one was planned.
        if (store.queryOwner(queryId) || this.#o.transcript.hasSession(queryId)) throw new BlindsumError(ErrorCode.AlreadyExists, `query id ${queryId} was already submitted: a signed request runs once (replayed request?)`);
      }
    } catch (e) {
      release();
      throw e;
    }
    const auth: SessionAuthorization = { signedRequest, requestSignature: signature, analystRoster: this.#o.analysts.signed };
    const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
    const canonical = queryToProto(query);
    const submittedAtMs = Date.now();
    const submitted: QuerySubmittedRecord = {
      queryId, analyst, backend, query, schemaDigest: schemaDigest(schema), planDigest: planned.digest, plannedParties: roster.parties.length,
      ringBits: planned.ringBits, vectorLength: planned.vectorLength, submittedAtMs, rho: exact ? 0 : rho, ...(exact ? {} : { dpGridBits: DP_GRID_BITS }),
      policy: { allowExact: this.#o.allowExact, budgetRho: entry.budgetRho, minCohort: this.#o.minCohort },
      signedRequest: b64(signedRequest), signature: b64(signature), analystRosterVersion: this.#o.analysts.version,
    };
    // The budget charge and the query are written in one durable transaction, before any party is
    // contacted; the transcript logs both, signed, once the charge has passed the ledger's check.
    try {
      store.transaction(() => {
        const spentBefore = this.#o.budget.status(analyst).spentRho;
        // A DP training job is checked up front: this round and the rest of the job must fit in
        // what remains (each round is still charged on its own, below).
        const ahead = exact ? 1 : jobRoundsAhead(query);
        if (ahead > 1 && spentBefore + rho * ahead > entry.budgetRho * (1 + 1e-12)) {
          throw new BlindsumError(ErrorCode.ResourceExhausted, `privacy budget: this DP training job has ${ahead} rounds to go (this one included) at rho = ${rho.toPrecision(4)} each, rho = ${(rho * ahead).toPrecision(4)} in all, but ${Math.max(0, entry.budgetRho - spentBefore).toPrecision(4)} of ${entry.budgetRho} remains; the round is refused before anything more is spent`);
        }
        if (!exact) this.#o.budget.charge(analyst, queryId, rho, submittedAtMs);
        store.insertQuery({ id: queryId, analyst, backend, spec: canonical, planDigest: planned.digest, submittedAtMs, rhoCharged: exact ? 0 : rho });
        this.#o.transcript.appendAggregator(EntryKind.QuerySubmitted, queryId, jsonBody(submitted));
        if (!exact) {
          const charge: BudgetChargeRecord = { queryId, analyst, rho, spentBefore, limitRho: submitted.policy.budgetRho };
          this.#o.transcript.appendAggregator(EntryKind.BudgetCharge, queryId, jsonBody(charge));
        }
      });
    } catch (e) {
      release();
      throw e;
    }
    this.#o.metrics?.submitted(queryId, query.kind, backend, submittedAtMs);
    this.#emit(queryId, 'submitted', `${query.kind} query accepted; ${planned.vectorLength} statistics, ring Z_2^${ringBits}${exact ? '; exact (no DP)' : `; budget charged rho = ${rho.toPrecision(4)}`}`, false);
    const p = this.#run(queryId, canonical, planned, backend, analyst, exact ? 0 : rho, auth, submittedAtMs, ckks).finally(() => {
      this.#running.delete(p);
      release();
    });
    this.#running.add(p);
    return { queryId, planDigest: planned.digest };
  }

  async #run(queryId: string, spec: QuerySpec, planned: Planned, backend: string, analyst: string, rho: number, auth: SessionAuthorization, submittedAtMs: number, ckks?: CkksPrepared): Promise<void> {
    const { store, gateway, roster, log } = this.#o;
    // One line per finished query: what ran and how it ended; never its data, sums or result.
    const finished = (status: 'done' | 'failed', contributors: string[], error?: string): void => log(status === 'done' ? 'info' : 'warn', `query ${status}`, {
      queryId, kind: planned.args.query.kind, backend, analyst, status, contributors, parties: contributors.length, rho, durationMs: Date.now() - submittedAtMs,
      ...(error !== undefined ? { error } : {}),
    });
    store.setStatus(queryId, 'running');
    const progress = (stage: string, message: string): void => this.#emit(queryId, stage, message, false);
    const req = { sessionId: queryId, query: spec, analyst, rho, ringBits: planned.ringBits, planDigest: planned.digest, auth, planMs: planned.planMs };
    const session = ckks ? this.#o.ckks!.session({ progress }, req, ckks) : new SecAggSession(
      { gateway, roster, roundTimeoutMs: this.#o.roundTimeoutMs, ...(this.#o.deadlines ? { deadlines: this.#o.deadlines } : {}), transcript: this.#o.transcript, log, progress: (stage, message) => this.#emit(queryId, stage, message, false) },
      { sessionId: queryId, query: spec, backend, analyst, rho, ringBits: planned.ringBits, vectorLength: planned.vectorLength, planDigest: planned.digest, auth, planMs: planned.planMs },
    );
    this.#sessions.set(queryId, session);
    try {
      if (session instanceof CkksSession) {
        // The aggregate exists only encrypted to the analyst's key: the analyst's client decrypts
        // and post-processes it; the aggregator stores the ciphertexts and the data-independent DP figures.
        const out = await session.run();
        const release = this.#o.ckks!.release(out, ckks!, { parties: planned.args.parties, ringBits: planned.ringBits, dpGridBits: planned.args.rho === 0 ? 0 : DP_GRID_BITS });
        // Entry names, scales, DP figures and the Released record from the plan, on the release thread.
        const f = await this.#thread.ckksRelease({ args: planned.args, digest: planned.digest, queryId, contributors: out.contributors });
        const { entryNames } = f;
        this.#o.transcript.appendAggregator(EntryKind.Released, queryId, f.releasedBody);
        store.transaction(() => {
          this.#o.ckks!.saveRelease(queryId, release);
          store.finish(queryId, {
            status: 'done', entryNames, contributors: out.contributors, refusals: out.refusals, scaleBits: f.scaleBits, finishedAtMs: Date.now(),
            ...(f.rhoSpent !== undefined && f.noiseStd ? { rhoSpent: f.rhoSpent, noiseStd: f.noiseStd } : {}),
          });
        });
        finished('done', out.contributors);
        this.#emit(queryId, 'done', `released encrypted to the analyst's key: aggregate of ${out.contributors.length} parties (${out.contributors.join(', ')}); key switched by ${out.decryptors.join(', ')}`, true);
        return;
      }
      const outcome = await session.run();
      if (HOLD_BEFORE_RELEASE) {
        this.#emit(queryId, 'holding', 'test hook: holding before release', false);
        await new Promise<never>(() => {});
      }
      // Decoding, the range check (a sum outside the plan's range — a party sent out-of-range masked
      // values — is never released), post-processing and the JSON of the release run on the release
      // thread: at 10^6 entries each takes 0.1–0.6 s. Logging and the durable write stay here.
      let r: Release;
      try {
        r = await this.#thread.release({ args: planned.args, digest: planned.digest, queryId, sum: outcome.sum, contributors: outcome.contributors, minCohort: this.#o.minCohort });
      } catch (e) {
        if (e instanceof Error && e.name === 'ReleaseCheckError') throw new BlindsumError(ErrorCode.Aborted, e.message);
        throw e;
      }
      await nextTurn();
      this.#o.transcript.appendAggregator(EntryKind.Released, queryId, r.releasedBody); // a blob: SHA-256 and one file at 10^6 entries
      // The row (~7 MB of JSON at 10^6 entries) is written by the release thread, durably, before the release is announced.
      await this.#thread.finish(queryId, {
        status: 'done', resultJson: r.resultJson, error: r.postError, contributors: outcome.contributors, refusals: outcome.refusals, json: r.json, finishedAtMs: Date.now(),
        ...(r.rhoSpent !== undefined ? { rhoSpent: r.rhoSpent, uncertaintyJson: r.uncertaintyJson ?? '', noiseJson: r.noiseJson ?? '' } : {}),
      });
      finished('done', outcome.contributors);
      this.#emit(queryId, 'done', `released: aggregate of ${outcome.contributors.length} parties (${outcome.contributors.join(', ')})`, true);
    } catch (e) {
      const base = publicMessage(e);
      // The parties' refusals, when the session failed after some refused (also in --json).
      const refusals = (e as { refusals?: { partyId: string; reason: string }[] }).refusals ?? [];
      const message = this.#shutdown !== undefined ? `the aggregator shut down (${this.#shutdown}) during the protocol: ${base}` : base;
      if (base === 'internal error') log('error', 'query failed', { queryId, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      try {
        this.#o.transcript.appendAggregator(EntryKind.Failed, queryId, jsonBody({ queryId, error: message } satisfies FailedRecord));
      } catch (te) {
        log('error', 'cannot log the failure in the transcript', { queryId, error: (te as Error).message });
      }
      // A refund is logged in the transcript first, then made in the ledger: if the transcript
      // cannot take it, the charge stands, and the ledger and the transcript agree that it does.
      let refund = false;
      if (rho > 0 && !session.unmaskingStarted) {
        const reason = `query failed before Unmasking (nothing released): ${message}`;
        try {
          this.#o.transcript.appendAggregator(EntryKind.BudgetRefund, queryId, jsonBody({ queryId, analyst, rho, reason } satisfies BudgetRefundRecord));
          refund = true;
        } catch (te) {
          log('error', 'cannot log the budget refund in the transcript: the charge stands', { queryId, error: (te as Error).message });
        }
        if (refund) {
          store.transaction(() => {
            this.#o.budget.refund(queryId, reason, Date.now());
            store.finish(queryId, { status: 'failed', error: message, refusals, finishedAtMs: Date.now() });
          });
        }
      }
      if (!refund) store.finish(queryId, { status: 'failed', error: message, refusals, finishedAtMs: Date.now() });
      finished('failed', (e as { contributors?: string[] }).contributors ?? [], message);
      this.#emit(queryId, 'failed', message, true);
    } finally {
      this.#sessions.delete(queryId);
    }
  }

  #emit(queryId: string, stage: string, message: string, final: boolean): void {
    const ev = this.#o.store.addEvent(queryId, stage, message, Date.now(), final);
    this.#o.log('debug', 'query progress', { queryId, stage, message }); // what WatchQuery shows the analyst
    this.#o.metrics?.event(queryId, stage, final, ev.atMs);
    this.#events.emit(queryId, ev);
  }

  /** Replays stored events then follows live ones until the final event; returns an unsubscribe. */
  watch(queryId: string, onEvent: (ev: StoredEvent) => void): () => void {
    if (!this.#o.store.queryOwner(checkQueryId(queryId))) throw new BlindsumError(ErrorCode.NotFound, `no query with id ${quote(queryId)}`);
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

  /** From now on: refuse submissions, and record `reason` in the failure of every running query. */
  beginShutdown(reason: string): void {
    this.#shutdown = reason;
  }

  /** Waits for running sessions (used on shutdown and by tests). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#running]);
  }

  /** GetResult's encoded answer for a stored secure-aggregation query, built on the release thread. */
  encodedResult(queryId: string): Promise<Uint8Array | undefined> {
    return this.#thread.getResult(queryId);
  }

  /** Waits for running sessions, then stops the release thread. */
  async close(): Promise<void> {
    await this.drain();
    await this.#thread.close();
  }
}
