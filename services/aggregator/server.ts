/**
 * The aggregator service: PartyGatewayService for parties, AnalystService for analysts.
 * `createAggregator(config)` → `start()` → `close()`.
 */
import { Server, type Metadata, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import {
  AnalystServiceService, GetBudgetRequest, GetResultRequest, WatchQueryRequest,
  type GetBudgetRequest as GetBudgetRequestT, type GetBudgetResponse, type GetCollectiveKeyRequest, type GetCollectiveKeyResponse, type GetResultRequest as GetResultRequestT, type GetResultResponse, type ListPartiesRequest, type ListPartiesResponse,
  type QueryEvent, type SubmitQueryRequest, type SubmitQueryResponse, type WatchQueryRequest as WatchQueryRequestT,
} from '../../gen/blindsum/v1/blindsum.ts';
import { notFound, permissionDenied, quote, toGrpcError, type Logger } from '../common/errors.ts';
import type { AnalystEntry } from '../common/analysts.ts';
import { READ_METADATA, verifyRead } from '../common/query-request.ts';
import { serverOptions } from '../common/grpc-options.ts';
import { addStandardServices, HEALTH } from '../common/standard-services.ts';
import { acquireDirLock, type DirLock } from '../common/dir-lock.ts';
import { startMetricsServer, type MetricsServer } from '../common/metrics-server.ts';
import { AggregatorMetrics } from './metrics.ts';
import { countServer } from '../common/wire-bytes.ts';
import { PartyGatewayService } from './shared-encoding.ts';
import { RoundDeadlines } from './deadlines.ts';
import { createLogger } from '../common/log.ts';
import { serverCredentials } from '../common/tls.ts';
import { databasePath, type AggregatorConfig } from './config.ts';
import { PartyGateway } from './gateway.ts';
import { QueryService, checkAnalyst, checkQueryId } from './queries.ts';
import { AnalystQuotas } from './quotas.ts';
import { AggregatorStore } from './store.ts';
import { BudgetLedger } from './budget.ts';
import { TranscriptLog, loadAggregatorIdentity } from './transcript-log.ts';
import { CkksBackend } from './ckks/backend.ts';
import { ReleaseThread } from './release-thread.ts';
import { resultResponse } from './result-response.ts';

export interface Aggregator {
  readonly config: AggregatorConfig;
  /** Resolves to the bound port. */
  start(): Promise<number>;
  /** Stops: refuses new queries, fails running ones with `reason` (e.g. "SIGTERM") recorded, flushes. */
  close(reason?: string): Promise<void>;
  readonly queries: QueryService;
  /** The port of the metrics endpoint once started with metricsListen. */
  readonly metricsPort: number | undefined;
}

/** A unary handler whose answer is computed asynchronously (on the release thread). */
function unaryAsync<Req, Res>(log: Logger, fn: (req: Req, metadata: Metadata) => Promise<Res>): (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void {
  return (call, cb) => {
    let p: Promise<Res>;
    try {
      p = fn(call.request, call.metadata);
    } catch (e) {
      cb(toGrpcError(e, log));
      return;
    }
    p.then((res) => cb(null, res), (e: unknown) => cb(toGrpcError(e, log)));
  };
}

/**
 * The analyst service, except that GetResult may answer with bytes already encoded on the
 * release thread (a 10^6-entry result takes about a second to encode): they go out as they are.
 */
const ANALYST_SERVICE = {
  ...AnalystServiceService,
  getResult: {
    ...AnalystServiceService.getResult,
    responseSerialize: (value: GetResultResponse | Uint8Array): Buffer =>
      value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : AnalystServiceService.getResult.responseSerialize(value),
  },
};

function unary<Req, Res>(log: Logger, fn: (req: Req, metadata: Metadata) => Res): (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void {
  return (call, cb) => {
    try {
      cb(null, fn(call.request, call.metadata));
    } catch (e) {
      cb(toGrpcError(e, log));
    }
  };
}

export function createAggregator(config: AggregatorConfig, log: Logger = createLogger('aggregator', { quiet: config.quiet })): Aggregator {
  // One process per data directory: refused (naming the holder's pid) before anything is opened.
  const lock = acquireDirLock(config.dataDir, 'the aggregator data directory', (m) => log('warn', m));
  try {
    return buildAggregator(config, log, lock);
  } catch (e) {
    lock.release();
    throw e;
  }
}

function buildAggregator(config: AggregatorConfig, log: Logger, lock: DirLock): Aggregator {
  const store = new AggregatorStore(databasePath(config));
  const interrupted = store.failInterrupted(Date.now());
  if (interrupted > 0) log('warn', `${interrupted} queries were interrupted by a restart and marked failed`);
  const transcript = TranscriptLog.open(config.dataDir, config.roster.federation, loadAggregatorIdentity(config.dataDir, config.aggregatorId, config.roster, config.keyPath), {
    blobRetention: config.blobRetentionDays !== undefined ? { days: config.blobRetentionDays } : {},
  });
  // Blob retention: expired blobs are deleted at start and hourly (their entries and digests stay).
  const pruneBlobs = (): void => {
    try {
      const n = transcript.blobs.prune();
      if (n > 0) log('info', `deleted ${n} transcript blobs older than ${config.blobRetentionDays} days (--blob-retention-days)`);
    } catch (e) {
      log('warn', `cannot prune transcript blobs: ${(e as Error).message}`);
    }
  };
  pruneBlobs();
  const pruneTimer = config.blobRetentionDays !== undefined ? setInterval(pruneBlobs, 3_600_000).unref() : undefined;
  transcript.failInterrupted('the aggregator restarted while this query was running; nothing was released');
  const gateway = new PartyGateway({ roster: config.roster, schemaDigest: config.schemaDigest, aggregatorId: config.aggregatorId, log, pinPartyCertificates: config.tlsPinParties === true });
  const budget = new BudgetLedger(store.db, (analyst) => config.analysts.analysts.get(analyst)?.budgetRho ?? 0);
  /** A signed read (GetResult, WatchQuery, GetBudget): the analyst's roster entry, or UNAUTHENTICATED. */
  const reader = (metadata: Metadata, method: string, requestBytes: Uint8Array): AnalystEntry => {
    const first = (key: string): string | Buffer | undefined => metadata.get(key)[0];
    const sig = first(READ_METADATA.signature);
    return verifyRead(config.analysts, method, {
      analyst: String(first(READ_METADATA.analyst) ?? ''), timestampMs: String(first(READ_METADATA.timestamp) ?? ''),
      signature: Buffer.isBuffer(sig) ? new Uint8Array(sig) : new Uint8Array(0),
    }, requestBytes, Date.now());
  };
  /** Only the query's analyst, or an auditor, reads a query. */
  const mayRead = (who: AnalystEntry, owner: string, queryId: string): void => {
    if (who.role !== 'auditor' && who.id !== owner) throw permissionDenied(`query ${queryId.slice(0, 40)} belongs to another analyst; only its analyst or an auditor may read it`);
  };
  // Round deadlines: --round-timeout-ms plus the work of each round at this host's measured costs.
  const deadlines = new RoundDeadlines(config.roundTimeoutMs, gateway);
  const ckks = config.ckks
    ? new CkksBackend({
      db: store.db, gateway, roster: config.roster, schema: config.schema, transcript, roundTimeoutMs: config.roundTimeoutMs, deadlines, log, minCohort: config.minCohort,
      ...(config.ckksDecryptionBound !== undefined ? { decryptionBound: config.ckksDecryptionBound } : {}),
      ...(config.ckksInputChunk !== undefined ? { inputChunk: config.ckksInputChunk } : {}),
    })
    : undefined;
  const releaseThread = new ReleaseThread(config.schema, store.path);
  const metrics = new AggregatorMetrics({
    connectedParties: () => gateway.connectedIds().length, rosterParties: config.roster.parties.length,
    analysts: () => [...config.analysts.analysts.keys()], spentRho: (a) => budget.status(a).spentRho,
    ...(ckks ? { ckksDecryptions: () => ckks.currentKeyDecryptions() } : {}),
  });
  let metricsServer: MetricsServer | undefined;
  const queries = new QueryService({
    metrics,
    releaseThread, store, gateway, roster: config.roster, schema: config.schema, ringBits: config.ringBits, roundTimeoutMs: config.roundTimeoutMs, deadlines, transcript, budget, analysts: config.analysts,
    allowExact: config.allowExact, minCohort: config.minCohort, log, ...(ckks ? { ckks } : {}), quotas: new AnalystQuotas(config.quotas),
  });
  const server = new Server(serverOptions(config.roster.parties.length));

  // Both services count the bytes of every message they receive and send (metrics).
  server.addService(countServer(PartyGatewayService, metrics.bytes), { connect: gateway.connect });
  server.addService(countServer(ANALYST_SERVICE, metrics.bytes), {
    submitQuery: unaryAsync<SubmitQueryRequest, SubmitQueryResponse>(log, async (req) => {
      const { queryId, planDigest } = await queries.submit(req.signedRequest, req.signature, req.analystPublicKey);
      return { queryId, planDigest };
    }),
    getResult: unaryAsync<GetResultRequestT, GetResultResponse | Uint8Array>(log, async (req, md) => {
      const who = reader(md, 'GetResult', GetResultRequest.encode(req).finish());
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
    }),
    getCollectiveKey: unary<GetCollectiveKeyRequest, GetCollectiveKeyResponse>(log, () => {
      if (!ckks) {
        return { status: 'disabled', message: 'this aggregator runs without the CKKS backend (start it with --ckks)', ceremonyId: '', params: '', publicKey: new Uint8Array(0), publicKeySha256: '', rosterDigest: '', threshold: config.roster.threshold, parties: [], createdAtMs: 0n };
      }
      return ckks.collectiveKey();
    }),
    getBudget: unary<GetBudgetRequestT, GetBudgetResponse>(log, (req, md) => {
      const who = reader(md, 'GetBudget', GetBudgetRequest.encode(req).finish());
      const analyst = req.analyst ? checkAnalyst(req.analyst) : who.id;
      if (analyst !== who.id && who.role !== 'auditor') throw permissionDenied('an analyst may read only their own budget (auditors: anyone\'s)');
      const s = budget.status(analyst);
      return { ...s, entries: s.entries.map((e) => ({ ...e, atMs: BigInt(e.atMs) })) };
    }),
    listParties: unary<ListPartiesRequest, ListPartiesResponse>(log, () => {
      const connected = new Set(gateway.connectedIds());
      return {
        parties: config.roster.parties.map((p) => ({ partyId: p.id, connected: connected.has(p.id), lastSeenMs: BigInt(gateway.lastSeenMs(p.id)) })),
        threshold: config.roster.threshold,
        schemaDigest: config.schemaDigest,
        federation: config.roster.federation,
        collusion: config.roster.collusion,
        schemaJson: JSON.stringify(config.schema),
      };
    }),
    watchQuery: (call: ServerWritableStream<WatchQueryRequestT, QueryEvent>) => {
      let unsubscribe: (() => void) | undefined;
      try {
        const who = reader(call.metadata, 'WatchQuery', WatchQueryRequest.encode(call.request).finish());
        const q = store.queryOwner(call.request.queryId);
        if (q) mayRead(who, q.analyst, q.id);
        unsubscribe = queries.watch(call.request.queryId, (ev) => {
          call.write({ queryId: ev.queryId, stage: ev.stage, message: ev.message, atMs: BigInt(ev.atMs), final: ev.final });
          if (ev.final) {
            unsubscribe?.();
            call.end();
          }
        });
      } catch (e) {
        // emit('error') makes grpc-js send the status and end the call (destroy() would leave the client waiting).
        call.emit('error', Object.assign(new Error('watch failed'), toGrpcError(e, log)));
        return;
      }
      call.on('cancelled', () => unsubscribe?.());
    },
  });

  // grpc.health.v1 and reflection: the whole server and each service are SERVING while it runs; the
  // CKKS backend is SERVING once the collective key is ready.
  const standard = addStandardServices(server, {
    [HEALTH.server]: 'SERVING', [HEALTH.analyst]: 'SERVING', [HEALTH.partyGateway]: 'SERVING',
    ...(ckks ? { [HEALTH.ckks]: 'NOT_SERVING' as const } : {}),
  });
  const healthTimer = ckks
    ? setInterval(() => standard.setStatus(HEALTH.ckks, ckks.collectiveKey().status === 'ready' ? 'SERVING' : 'NOT_SERVING'), 500)
    : undefined;
  healthTimer?.unref();

  let closed = false;
  return {
    config,
    queries,
    get metricsPort() {
      return metricsServer?.port;
    },
    start: () =>
      new Promise<number>((resolve, reject) => {
        server.bindAsync(config.listen, serverCredentials({
          ...(config.tlsCertPath !== undefined ? { certPath: config.tlsCertPath } : {}), ...(config.tlsKeyPath !== undefined ? { keyPath: config.tlsKeyPath } : {}),
          ...(config.tlsClientCaPath !== undefined ? { clientCaPath: config.tlsClientCaPath } : {}),
        }), (err, port) => {
          if (err) {
            const busy = /EADDRINUSE|address already in use|No address added/i.test(err.message);
            return reject(Object.assign(new Error(busy
              ? `cannot listen on ${config.listen}: the address is in use or not available here (another aggregator running? choose another --listen)`
              : `cannot listen on ${config.listen}: ${err.message.slice(0, 200)}`), { name: 'ListenError' }));
          }
          log('info', 'aggregator listening', { address: config.listen, port, federation: config.roster.federation, parties: config.roster.parties.length, threshold: config.roster.threshold });
          if (config.metricsListen === undefined) return resolve(port);
          startMetricsServer(config.metricsListen, metrics.registry).then((m) => {
            metricsServer = m;
            log('info', 'metrics served', { address: config.metricsListen, port: m.port });
            resolve(port);
          }, reject);
        });
      }),
    close: async (reason = 'the aggregator was closed') => {
      if (closed) return;
      closed = true;
      queries.beginShutdown(reason);
      if (pruneTimer) clearInterval(pruneTimer);
      if (healthTimer) clearInterval(healthTimer);
      await metricsServer?.close();
      for (const name of [HEALTH.server, HEALTH.analyst, HEALTH.partyGateway, ...(ckks ? [HEALTH.ckks] : [])]) standard.setStatus(name, 'NOT_SERVING');
      gateway.closeAll();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await queries.close();
      await ckks?.close();
      store.close();
      transcript.close();
      lock.release();
    },
  };
}
