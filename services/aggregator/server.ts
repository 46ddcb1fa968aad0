/**
 * The aggregator service: PartyGatewayService for parties, AnalystService for analysts.
 * `createAggregator(config)` → `start()` → `close()`.
 */
import { Server, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import {
  AnalystServiceService, PartyGatewayServiceService,
  type GetBudgetRequest, type GetBudgetResponse, type GetCollectiveKeyRequest, type GetCollectiveKeyResponse, type GetResultRequest, type GetResultResponse, type ListPartiesRequest, type ListPartiesResponse,
  type QueryEvent, type SubmitQueryRequest, type SubmitQueryResponse, type WatchQueryRequest,
} from '../../gen/blindsum/v1/blindsum.ts';
import { notFound, quote, toGrpcError, type Logger } from '../common/errors.ts';
import { SERVER_OPTIONS } from '../common/grpc-options.ts';
import { createLogger } from '../common/log.ts';
import { serverCredentials } from '../common/tls.ts';
import { databasePath, type AggregatorConfig } from './config.ts';
import { PartyGateway } from './gateway.ts';
import { QueryService, checkAnalyst, checkQueryId } from './queries.ts';
import { AnalystQuotas } from './quotas.ts';
import { AggregatorStore } from './store.ts';
import { BudgetLedger } from './budget.ts';
import { TranscriptLog, loadAggregatorIdentity } from './transcript-log.ts';
import { CkksBackend } from './ckks-backend.ts';

export interface Aggregator {
  readonly config: AggregatorConfig;
  /** Resolves to the bound port. */
  start(): Promise<number>;
  close(): Promise<void>;
  readonly queries: QueryService;
}

function unary<Req, Res>(log: Logger, fn: (req: Req) => Res): (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void {
  return (call, cb) => {
    try {
      cb(null, fn(call.request));
    } catch (e) {
      cb(toGrpcError(e, log));
    }
  };
}

export function createAggregator(config: AggregatorConfig, log: Logger = createLogger('aggregator', { quiet: config.quiet })): Aggregator {
  const store = new AggregatorStore(databasePath(config));
  const interrupted = store.failInterrupted(Date.now());
  if (interrupted > 0) log('warn', `${interrupted} queries were interrupted by a restart and marked failed`);
  const transcript = TranscriptLog.open(config.dataDir, config.roster.federation, loadAggregatorIdentity(config.dataDir, config.aggregatorId, config.roster, config.keyPath));
  transcript.failInterrupted('the aggregator restarted while this query was running; nothing was released');
  const gateway = new PartyGateway({ roster: config.roster, schemaDigest: config.schemaDigest, aggregatorId: config.aggregatorId, log });
  const budget = new BudgetLedger(store.db, config.budgetRho);
  const ckks = config.ckks
    ? new CkksBackend({ db: store.db, gateway, roster: config.roster, schema: config.schema, transcript, roundTimeoutMs: config.roundTimeoutMs, log })
    : undefined;
  const queries = new QueryService({
    store, gateway, roster: config.roster, schema: config.schema, ringBits: config.ringBits, roundTimeoutMs: config.roundTimeoutMs, transcript, budget,
    allowExact: config.allowExact, log, ...(ckks ? { ckks } : {}), quotas: new AnalystQuotas(config.quotas),
  });
  const server = new Server(SERVER_OPTIONS);

  server.addService(PartyGatewayServiceService, { connect: gateway.connect });
  server.addService(AnalystServiceService, {
    submitQuery: unary<SubmitQueryRequest, SubmitQueryResponse>(log, (req) => {
      const { queryId, plan } = queries.submit(req.query, req.backend || 'secagg', req.analyst || 'anonymous', req.privacy, req.analystPublicKey);
      return { queryId, planDigest: plan.digest };
    }),
    getResult: unary<GetResultRequest, GetResultResponse>(log, (req) => {
      const q = store.getQuery(checkQueryId(req.queryId));
      if (!q) throw notFound(`no query with id ${quote(req.queryId)}`);
      return {
        queryId: q.id, status: q.status, error: q.error, query: q.spec, backend: q.backend, resultJson: q.resultJson,
        entryNames: q.entryNames, aggregate: q.aggregate, contributors: q.contributors, refusals: q.refusals,
        planDigest: q.planDigest, submittedAtMs: BigInt(q.submittedAtMs), finishedAtMs: BigInt(q.finishedAtMs),
        rhoCharged: q.rhoCharged, rhoSpent: q.rhoSpent, noiseStd: q.noiseStd, uncertaintyJson: q.uncertaintyJson,
        exactSums: q.exactSums.map((x) => BigInt(x)), scaleBits: q.scaleBits, ckks: q.backend === 'ckks' ? ckks?.storedRelease(q.id) : undefined,
      };
    }),
    getCollectiveKey: unary<GetCollectiveKeyRequest, GetCollectiveKeyResponse>(log, () => {
      if (!ckks) {
        return { status: 'disabled', message: 'this aggregator runs without the CKKS backend (start it with --ckks)', ceremonyId: '', params: '', publicKey: new Uint8Array(0), publicKeySha256: '', rosterDigest: '', threshold: config.roster.threshold, parties: [], createdAtMs: 0n };
      }
      return ckks.collectiveKey();
    }),
    getBudget: unary<GetBudgetRequest, GetBudgetResponse>(log, (req) => {
      const s = budget.status(checkAnalyst(req.analyst));
      return { ...s, entries: s.entries.map((e) => ({ ...e, atMs: BigInt(e.atMs) })) };
    }),
    listParties: unary<ListPartiesRequest, ListPartiesResponse>(log, () => {
      const connected = new Set(gateway.connectedIds());
      return {
        parties: config.roster.parties.map((p) => ({ partyId: p.id, connected: connected.has(p.id), lastSeenMs: BigInt(gateway.lastSeenMs(p.id)) })),
        threshold: config.roster.threshold,
        schemaDigest: config.schemaDigest,
      };
    }),
    watchQuery: (call: ServerWritableStream<WatchQueryRequest, QueryEvent>) => {
      let unsubscribe: (() => void) | undefined;
      try {
        unsubscribe = queries.watch(call.request.queryId, (ev) => {
          call.write({ queryId: ev.queryId, stage: ev.stage, message: ev.message, atMs: BigInt(ev.atMs), final: ev.final });
          if (ev.final) {
            unsubscribe?.();
            call.end();
          }
        });
      } catch (e) {
        // grpc-js sends the status of an 'error' event on a server stream (destroy() sends none).
        call.emit('error', toGrpcError(e, log));
        return;
      }
      call.on('cancelled', () => unsubscribe?.());
    },
  });

  let closed = false;
  return {
    config,
    queries,
    start: () =>
      new Promise<number>((resolve, reject) => {
        server.bindAsync(config.listen, serverCredentials(config.tlsCertPath, config.tlsKeyPath), (err, port) => {
          if (err) return reject(new Error(`cannot listen on ${config.listen}: ${err.message}`));
          log('info', 'aggregator listening', { address: config.listen, port, federation: config.roster.federation, parties: config.roster.parties.length, threshold: config.roster.threshold });
          resolve(port);
        });
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      gateway.closeAll();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await queries.drain();
      await ckks?.close();
      store.close();
      transcript.close();
    },
  };
}
