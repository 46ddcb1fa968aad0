/**
 * The aggregator service: PartyGatewayService for parties, AnalystService for analysts.
 * `createAggregator(config)` → `start()` → `close()`.
 */
import { Server, type Metadata, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import {
  AnalystServiceService,
  type GetBudgetRequest as GetBudgetRequestT, type GetBudgetResponse, type GetCollectiveKeyRequest, type GetCollectiveKeyResponse, type GetResultRequest as GetResultRequestT, type GetResultResponse, type ListPartiesRequest, type ListPartiesResponse,
  type QueryEvent, type SubmitQueryRequest, type SubmitQueryResponse, type WatchQueryRequest as WatchQueryRequestT,
} from '../../gen/blindsum/v1/blindsum.ts';
import { toGrpcError, type Logger } from '../common/errors.ts';
import { READ_METADATA } from '../common/query-signing.ts';
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
import { QueryService } from './queries.ts';
import { AnalystQuotas } from './quotas.ts';
import { AggregatorStore } from './store.ts';
import { BudgetLedger } from './budget.ts';
import { TranscriptLog, loadAggregatorIdentity } from './transcript-log.ts';
import { CkksBackend } from './ckks/backend.ts';
import { ReleaseThread } from './release-thread.ts';
import { analystHandlers, type ReadAuth } from './analyst-service.ts';
import { WebConsole } from './web/console.ts';

export interface Aggregator {
  readonly config: AggregatorConfig;
  /** Resolves to the bound port. */
  start(): Promise<number>;
  /** Stops: refuses new queries, fails running ones with `reason` (e.g. "SIGTERM") recorded, flushes. */
  close(reason?: string): Promise<void>;
  readonly queries: QueryService;
  /** The port of the metrics endpoint once started with metricsListen. */
  readonly metricsPort: number | undefined;
  /** The web console's base URL once started with webListen (e.g. http://127.0.0.1:8080/). */
  readonly webUrl: string | undefined;
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

/** The credentials of a signed read from gRPC metadata. */
function grpcReadAuth(metadata: Metadata): ReadAuth {
  const first = (key: string): string | Buffer | undefined => metadata.get(key)[0];
  const sig = first(READ_METADATA.signature);
  return {
    analyst: String(first(READ_METADATA.analyst) ?? ''), timestampMs: String(first(READ_METADATA.timestamp) ?? ''),
    signature: Buffer.isBuffer(sig) ? new Uint8Array(sig) : new Uint8Array(0),
  };
}

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

  const handlers = analystHandlers({ config, store, gateway, budget, queries, ckks });
  // Both services count the bytes of every message they receive and send (metrics).
  server.addService(countServer(PartyGatewayService, metrics.bytes), { connect: gateway.connect });
  server.addService(countServer(ANALYST_SERVICE, metrics.bytes), {
    submitQuery: unaryAsync<SubmitQueryRequest, SubmitQueryResponse>(log, (req) => handlers.submitQuery(req)),
    getResult: unaryAsync<GetResultRequestT, GetResultResponse | Uint8Array>(log, (req, md) => handlers.getResult(req, grpcReadAuth(md))),
    getCollectiveKey: unary<GetCollectiveKeyRequest, GetCollectiveKeyResponse>(log, () => handlers.getCollectiveKey()),
    getBudget: unary<GetBudgetRequestT, GetBudgetResponse>(log, (req, md) => handlers.getBudget(req, grpcReadAuth(md))),
    listParties: unary<ListPartiesRequest, ListPartiesResponse>(log, () => handlers.listParties()),
    watchQuery: (call: ServerWritableStream<WatchQueryRequestT, QueryEvent>) => {
      let unsubscribe: (() => void) | undefined;
      try {
        unsubscribe = handlers.watchQuery(call.request, grpcReadAuth(call.metadata), (ev) => {
          call.write(ev);
          if (ev.final) call.end();
        });
      } catch (e) {
        // emit('error') makes grpc-js send the status and end the call (destroy() would leave the client waiting).
        call.emit('error', Object.assign(new Error('watch failed'), toGrpcError(e, log)));
        return;
      }
      call.on('cancelled', () => unsubscribe?.());
    },
  });
  const web = config.webListen !== undefined ? new WebConsole({ config, handlers, log, metrics, store, gateway, budget, ...(ckks ? { ckks } : {}) }) : undefined;

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
    get webUrl() {
      return web?.url;
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
          const startMetrics = async (): Promise<void> => {
            if (config.metricsListen === undefined) return;
            metricsServer = await startMetricsServer(config.metricsListen, metrics.registry);
            log('info', 'metrics served', { address: config.metricsListen, port: metricsServer.port });
          };
          startMetrics().then(() => web?.start()).then(() => resolve(port), reject);
        });
      }),
    close: async (reason = 'the aggregator was closed') => {
      if (closed) return;
      closed = true;
      queries.beginShutdown(reason);
      if (pruneTimer) clearInterval(pruneTimer);
      if (healthTimer) clearInterval(healthTimer);
      await metricsServer?.close();
      await web?.close();
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
