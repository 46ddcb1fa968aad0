/**
 * The AnalystService's handlers, independent of the transport: grpc-js (server.ts) and the web
 * console's Connect endpoint (web-connect.ts) both call these, so a call over either transport
 * runs the same checks (signed requests, signed reads, who may read what) and the same code.
 * A transport only turns its wire form into the request message and the read credentials.
 */
import {
  GetBudgetRequest, GetResultRequest, WatchQueryRequest,
  type GetBudgetResponse, type GetCollectiveKeyResponse, type GetResultResponse, type ListPartiesResponse,
  type QueryEvent, type SubmitQueryRequest, type SubmitQueryResponse,
} from '../../gen/blindsum/v1/blindsum.ts';
import { notFound, permissionDenied, quote } from '../common/errors.ts';
import type { AnalystEntry } from '../common/analysts.ts';
import { verifyRead } from '../common/query-request.ts';
import type { AggregatorConfig } from './config.ts';
import type { PartyGateway } from './gateway.ts';
import { checkAnalyst, checkQueryId, type QueryService } from './queries.ts';
import type { AggregatorStore } from './store.ts';
import type { BudgetLedger } from './budget.ts';
import type { CkksBackend } from './ckks/backend.ts';
import { resultResponse } from './result-response.ts';

/** The credentials of a signed read as the transport received them (empty when absent). */
export interface ReadAuth {
  analyst: string;
  timestampMs: string;
  signature: Uint8Array;
}

export interface AnalystHandlers {
  submitQuery(req: SubmitQueryRequest): Promise<SubmitQueryResponse>;
  /** A secagg result comes as bytes already encoded on the release thread (a GetResultResponse). */
  getResult(req: GetResultRequest, auth: ReadAuth): Promise<GetResultResponse | Uint8Array>;
  getCollectiveKey(): GetCollectiveKeyResponse;
  getBudget(req: GetBudgetRequest, auth: ReadAuth): GetBudgetResponse;
  listParties(): ListPartiesResponse;
  /**
   * Checks the read, then calls `write` with every event (the last has `final`); returns the
   * unsubscribe function. Throws (before any event) when the read is refused.
   */
  watchQuery(req: WatchQueryRequest, auth: ReadAuth, write: (ev: QueryEvent) => void): () => void;
  /** A signed read of another method (the web console's operator status): the reader's roster entry. */
  verifyRead(method: string, auth: ReadAuth, requestBytes: Uint8Array): AnalystEntry;
}

export interface AnalystServiceDeps {
  config: AggregatorConfig;
  store: AggregatorStore;
  gateway: PartyGateway;
  budget: BudgetLedger;
  queries: QueryService;
  ckks: CkksBackend | undefined;
}

export function analystHandlers({ config, store, gateway, budget, queries, ckks }: AnalystServiceDeps): AnalystHandlers {
  /** A signed read (GetResult, WatchQuery, GetBudget): the analyst's roster entry, or UNAUTHENTICATED. */
  const reader = (method: string, auth: ReadAuth, requestBytes: Uint8Array): AnalystEntry => verifyRead(config.analysts, method, auth, requestBytes, Date.now());
  /** Only the query's analyst, or an auditor, reads a query. */
  const mayRead = (who: AnalystEntry, owner: string, queryId: string): void => {
    if (who.role !== 'auditor' && who.id !== owner) throw permissionDenied(`query ${queryId.slice(0, 40)} belongs to another analyst; only its analyst or an auditor may read it`);
  };
  return {
    async submitQuery(req) {
      const { queryId, planDigest } = await queries.submit(req.signedRequest, req.signature, req.analystPublicKey);
      return { queryId, planDigest };
    },
    async getResult(req, auth) {
      const who = reader('GetResult', auth, GetResultRequest.encode(req).finish());
      const owner = store.queryOwner(checkQueryId(req.queryId));
      if (!owner) throw notFound(`no query with id ${quote(req.queryId)}`);
      mayRead(who, owner.analyst, owner.id);
      if (owner.backend === 'ckks') {
        // Small here: the entries travel encrypted in `ckks`, read from the CKKS store on this thread.
        const q = store.getQuery(owner.id);
        if (!q) throw notFound(`no query with id ${quote(req.queryId)}`);
        return resultResponse(q, ckks?.storedRelease(q.id));
      }
      // Read and encoded on the release thread (its own read-only connection: the row is committed).
      const bytes = await queries.encodedResult(owner.id);
      if (!bytes) throw notFound(`no query with id ${quote(req.queryId)}`);
      return bytes;
    },
    getCollectiveKey() {
      if (!ckks) {
        return { status: 'disabled', message: 'this aggregator runs without the CKKS backend (start it with --ckks)', ceremonyId: '', params: '', publicKey: new Uint8Array(0), publicKeySha256: '', rosterDigest: '', threshold: config.roster.threshold, parties: [], createdAtMs: 0n };
      }
      return ckks.collectiveKey();
    },
    getBudget(req, auth) {
      const who = reader('GetBudget', auth, GetBudgetRequest.encode(req).finish());
      const analyst = req.analyst ? checkAnalyst(req.analyst) : who.id;
      if (analyst !== who.id && who.role !== 'auditor') throw permissionDenied('an analyst may read only their own budget (auditors: anyone\'s)');
      const s = budget.status(analyst);
      return { ...s, entries: s.entries.map((e) => ({ ...e, atMs: BigInt(e.atMs) })) };
    },
    listParties() {
      const connected = new Set(gateway.connectedIds());
      return {
        parties: config.roster.parties.map((p) => ({ partyId: p.id, connected: connected.has(p.id), lastSeenMs: BigInt(gateway.lastSeenMs(p.id)) })),
        threshold: config.roster.threshold,
        schemaDigest: config.schemaDigest,
        federation: config.roster.federation,
        collusion: config.roster.collusion,
        schemaJson: JSON.stringify(config.schema),
      };
    },
    watchQuery(req, auth, write) {
      const who = reader('WatchQuery', auth, WatchQueryRequest.encode(req).finish());
      const q = store.queryOwner(req.queryId);
      if (q) mayRead(who, q.analyst, q.id);
      let unsubscribe: (() => void) | undefined;
      let done = false;
      unsubscribe = queries.watch(req.queryId, (ev) => {
        write({ queryId: ev.queryId, stage: ev.stage, message: ev.message, atMs: BigInt(ev.atMs), final: ev.final });
        if (ev.final) {
          done = true;
          unsubscribe?.();
        }
      });
      // An event delivered synchronously during watch() (a finished query) already ended it.
      if (done) unsubscribe();
      return () => unsubscribe?.();
    },
    verifyRead: reader,
  };
}
