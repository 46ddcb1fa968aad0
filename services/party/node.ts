/**
 * The party node: dials OUT to the aggregator (hospitals accept no inbound connection), proves
 * its identity, keeps the stream open for work and reconnects with exponential backoff and
 * jitter. `createPartyNode(config)` → `start()` → `close()`.
 */
import { makeGenericClientConstructor, type ClientDuplexStream } from '@grpc/grpc-js';
import { signDomain } from '../../crypto/identity.ts';
import { signEnvelope } from '../../crypto/transcript.ts';
import { PartyGatewayServiceService, PartyMessage, type AggregatorMessage, type PartyGatewayServiceClient } from '../../gen/blindsum/v1/blindsum.ts';
import { countClient } from '../common/wire-bytes.ts';
import { kindOfPartyMessage } from '../common/transcript-records.ts';
import { quote, type Logger } from '../common/errors.ts';
import { clientOptions } from '../common/grpc-options.ts';
import { acquireDirLock, type DirLock } from '../common/dir-lock.ts';
import { startMetricsServer, type MetricsServer } from '../common/metrics-server.ts';
import { PartyMetrics } from './metrics.ts';
import { createLogger } from '../common/log.ts';
import { channelCredentials, explainTlsFailure, type TlsContext } from '../common/tls.ts';
import { AUTH_DOMAIN, authChallengeBody } from '../common/auth.ts';
import type { PartyConfig } from './config.ts';
import { ReceiptBook } from './receipts.ts';
import { PartyLedger } from './ledger.ts';
import { PartySessions, type Reply, type ReplyStage } from './sessions.ts';
import { CkksParty, type CkksReplyStage } from './ckks-sessions.ts';
import { setImmediate as nextTurn } from 'node:timers/promises';

export const SOFTWARE_VERSION = 'blindsum/0.1.0';
const BACKOFF_MIN_MS = 250;
/**
 * The longest wait between reconnection attempts (30 s). Test-only override: the test runner
 * (vitest.config.ts) sets BLINDSUM_TEST_RECONNECT_MAX_MS so that parties find a restarted
 * aggregator within a second instead of after a backoff grown to several seconds; never set in
 * production.
 */
const BACKOFF_MAX_MS = ((): number => {
  const v = Number(process.env['BLINDSUM_TEST_RECONNECT_MAX_MS'] ?? 30_000);
  return Number.isFinite(v) && v >= BACKOFF_MIN_MS ? Math.min(v, 30_000) : 30_000;
})();

/**
 * Test-only fault injection (used by the dropout tests, never set in production): when
 * BLINDSUM_TEST_EXIT_AFTER names a protocol stage, the process exits right after sending its
 * message for that stage, as a crashed hospital node would.
 */
const EXIT_AFTER = process.env['BLINDSUM_TEST_EXIT_AFTER'] as ReplyStage | CkksReplyStage | undefined;

export type PartyState = 'connecting' | 'authenticating' | 'connected' | 'backoff' | 'closed';

export interface PartyNode {
  readonly config: PartyConfig;
  readonly state: PartyState;
  start(): void;
  /** Serves the metrics (hooks.metricsListen); resolves to the bound port, undefined when off. */
  startMetrics(): Promise<number | undefined>;
  close(): Promise<void>;
  /** Resolves once the aggregator has admitted this party (for tests and the demo). */
  connected(): Promise<void>;
}

/** Consecutive handshake cuts (a connection closed during TLS set-up, cause unnamed) after which a party stops. */
export const HANDSHAKE_CUTS_PERMANENT = 3;

/**
 * A rejection or transport failure that retrying cannot fix, as one sentence with its fix; null
 * for a transient one (the node backs off and retries those). `tls`: this party's TLS set-up and
 * how many connection attempts in a row were cut during the handshake; a cut names no cause (TLS
 * 1.3: explainTlsFailure), so it is permanent only after HANDSHAKE_CUTS_PERMANENT in a row.
 */
export function permanentFailure(reason: string, federation: string, tls: TlsContext & { handshakeCuts?: number } = { tls: false, clientCert: false }): string | null {
  if (/^schema mismatch/.test(reason)) return `the aggregator refused this party: ${reason.slice(0, 160)}; give --schema the federation's schema.json`;
  if (/is not on the roster/.test(reason)) return `the aggregator refused this party: ${reason.slice(0, 160)}; check --key (this party's identity) against --roster`;
  if (/failed to prove its identity|bad signature over the challenge/.test(reason)) {
    return `the aggregator could not verify this party's identity: its key does not match its entry in the aggregator's roster, or --aggregator points to another federation than "${federation}" (check --key, --roster, --aggregator)`;
  }
  if (/is not a valid party id/.test(reason)) return `the aggregator refused this party: ${reason.slice(0, 160)}`;
  if (/presented a TLS client certificate for/.test(reason)) return `the aggregator refused this party's TLS certificate: ${reason.slice(0, 300)}; give --tls-cert this party's own certificate`;
  if (/ECONNREFUSED/i.test(reason)) return null;
  const failure = explainTlsFailure(reason, tls, 'party');
  if (failure && (failure.certain || (tls.handshakeCuts ?? 0) >= HANDSHAKE_CUTS_PERMANENT)) return failure.sentence;
  return null;
}

/** True when a failure is a connection cut during TLS set-up (explainTlsFailure, not certain). */
function isHandshakeCut(reason: string, tls: TlsContext): boolean {
  return !/ECONNREFUSED/i.test(reason) && explainTlsFailure(reason, tls, 'party')?.certain === false;
}

export interface PartyHooks {
  /** A failure retrying cannot fix (permanentFailure): the node has stopped; the CLI exits 2 with this sentence. */
  onPermanentError?(message: string): void;
  /** Serve Prometheus metrics on this HOST:PORT (services/party/metrics.ts). */
  metricsListen?: string;
}

export function createPartyNode(config: PartyConfig, log: Logger = createLogger(`party:${config.identity.id}`, { quiet: config.quiet }), hooks: PartyHooks = {}): PartyNode {
  // One process per state directory (its ledger and CKKS key share): refused, naming the holder's pid.
  const lock = acquireDirLock(config.stateDir, 'the party state directory', (m) => log('warn', m));
  try {
    return buildPartyNode(config, log, lock, hooks);
  } catch (e) {
    lock.release();
    throw e;
  }
}

function buildPartyNode(config: PartyConfig, log: Logger, lock: DirLock, hooks: PartyHooks): PartyNode {
  const ledger = new PartyLedger(config.stateDir, config.policy.budgetRho);
  let state: PartyState = 'closed';
  const metrics = hooks.metricsListen !== undefined ? new PartyMetrics({ connected: () => state === 'connected', spentRho: () => ledger.spent(), limitRho: config.policy.budgetRho, population: config.loadReport.population }) : undefined;
  // The gateway client, counting the bytes of every message to and from the aggregator when metrics are on.
  const Client = makeGenericClientConstructor(metrics ? countClient(PartyGatewayServiceService, metrics.bytes) : PartyGatewayServiceService, 'blindsum.v1.PartyGatewayService');
  const client = new Client(config.aggregator, channelCredentials({
    ...(config.tlsCaPath !== undefined ? { caPath: config.tlsCaPath } : {}),
    ...(config.tlsCertPath !== undefined ? { certPath: config.tlsCertPath } : {}), ...(config.tlsKeyPath !== undefined ? { keyPath: config.tlsKeyPath } : {}),
  }), clientOptions(config.roster.parties.length)) as unknown as PartyGatewayServiceClient;
  const sessions = new PartySessions(config, log, ledger);
  const ckks = new CkksParty(config, log, ledger, { statsThread: sessions.statsThread }); // one statistics thread per node
  const receipts = new ReceiptBook(config.receiptsDir, config.identity.id, config.roster);
  let metricsServer: MetricsServer | undefined;
  let call: ClientDuplexStream<PartyMessage, AggregatorMessage> | undefined;
  let attempt = 0;
  const tls: TlsContext = { tls: config.tlsCaPath !== undefined, clientCert: config.tlsCertPath !== undefined };
  let handshakeCuts = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  let waiters: (() => void)[] = [];
  let dying = false;

  const send = (body: NonNullable<PartyMessage['body']>, then?: () => void): void => {
    if (!call) return;
    call.write({ body }, then);
  };

  /** Wraps a round message in a SignedEnvelope (docs/transcripts.md) and expects its receipt. */
  const seal = (reply: Reply): NonNullable<PartyMessage['body']> => {
    const kind = kindOfPartyMessage(reply.$case);
    if (kind === undefined) return reply;
    const sessionId = (reply.value as { sessionId: string }).sessionId;
    const body = PartyMessage.encode({ body: reply }).finish();
    const envelope = signEnvelope(config.identity.identity.secretKey, kind, sessionId, config.identity.id, body);
    receipts.expect(envelope);
    return { $case: 'envelope', value: { kind, sessionId, body, signature: envelope.signature } };
  };

  /**
   * Sends a reply that comes in chunks (a long masked input): one chunk at a time, each sealed in
   * its own envelope, waiting for the stream to drain and letting the event loop run between
   * chunks, so keepalives, receipts and other sessions are served while a 10^6-entry vector goes.
   */
  const sendChunks = async (stream: ClientDuplexStream<PartyMessage, AggregatorMessage>, replies: Iterable<Reply>, stage: string | undefined): Promise<void> => {
    let last: Reply | undefined;
    for (const reply of replies) {
      if (call !== stream || dying) return;
      last = reply;
      const flushed = stream.write({ body: seal(reply) });
      if (!flushed) {
        // until the stream drains, or ends (then the loop stops at the check above)
        await new Promise<void>((resolve) => {
          const done = (): void => {
            stream.off('drain', done).off('close', done).off('error', done);
            resolve();
          };
          stream.on('drain', done).on('close', done).on('error', done);
        });
      }
      await nextTurn();
    }
    if (EXIT_AFTER !== undefined && stage === EXIT_AFTER && last && last.$case !== 'refusal' && call === stream) {
      dying = true;
      log('warn', `test fault injection: exiting after ${stage}`);
      setTimeout(() => process.exit(75), 200);
    }
  };

  /** Ends this party's side of a session and sends a Refusal naming the reason. */
  const refuseSession = (body: NonNullable<AggregatorMessage['body']>, sessionId: string, reason: string): void => {
    log('warn', 'session refused: transcript receipts', { queryId: sessionId, step: body.$case, reason });
    const abort: NonNullable<AggregatorMessage['body']> = { $case: 'abort', value: { sessionId, reason: `refused by this party: ${reason}` } };
    if (ckks.accepts(abort)) void ckks.handle(abort);
    else void sessions.handle(abort);
    receipts.forget(sessionId);
    send(seal({ $case: 'refusal', value: { sessionId, reason } }));
    metrics?.reply('refusal');
  };

  const scheduleReconnect = (why: string): void => {
    call = undefined;
    receipts.forgetAll();
    sessions.abortAll();
    ckks.abortAll();
    if (stopping) return;
    handshakeCuts = isHandshakeCut(why, tls) ? handshakeCuts + 1 : 0;
    const fatal = hooks.onPermanentError ? permanentFailure(why, config.roster.federation, { ...tls, handshakeCuts }) : null;
    if (fatal) {
      // Retrying cannot fix it: stop, and let the operator read the cause and the fix.
      stopping = true;
      state = 'closed';
      log('error', 'stopping: a failure that retrying cannot fix', { reason: fatal });
      hooks.onPermanentError!(fatal);
      return;
    }
    state = 'backoff';
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 10));
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    attempt++;
    log(attempt > 3 ? 'warn' : 'info', 'disconnected from the aggregator; retrying', { why, retryInMs: delay, attempt });
    timer = setTimeout(connect, delay);
  };

  const connect = (): void => {
    if (stopping) return;
    state = 'connecting';
    const stream = client.connect();
    call = stream;
    let lastRejection: string | undefined;
    let ended = false;
    const end = (why: string): void => {
      if (ended) return;
      ended = true;
      if (call === stream) scheduleReconnect(why);
    };
    /**
     * Sends a handler's answer on this stream: one sealed reply, or its chunks one at a time
     * (sendChunks); nothing once the process is dying or the stream was replaced. Test fault
     * injection (BLINDSUM_TEST_EXIT_AFTER) exits after the named stage's reply is flushed.
     */
    const answer = async ({ reply, replies, stage }: { reply?: Reply; replies?: Iterable<Reply>; stage?: string }): Promise<void> => {
      if (dying || call !== stream) return;
      if (replies) {
        metrics?.reply(stage ?? 'chunks');
        await sendChunks(stream, replies, stage);
        return;
      }
      if (!reply) return;
      metrics?.reply(reply.$case);
      const crash = EXIT_AFTER !== undefined && stage === EXIT_AFTER && reply.$case !== 'refusal';
      if (crash) dying = true; // answer nothing more, as if the process were already gone
      send(seal(reply), () => {
        if (crash) {
          log('warn', `test fault injection: exiting after ${stage}`);
          setTimeout(() => process.exit(75), 200);
        }
      });
    };
    stream.on('data', (msg: AggregatorMessage) => {
      const body = msg.body;
      if (!body || dying) return;
      try {
        switch (body.$case) {
          case 'challenge':
            state = 'authenticating';
            send({ $case: 'auth', value: { signature: signDomain(config.identity.identity.secretKey, AUTH_DOMAIN, authChallengeBody(body.value.aggregatorId, body.value.nonce, config.identity.id)) } });
            return;
          case 'welcome':
            state = 'connected';
            attempt = 0;
            log('info', 'connected to the aggregator', { aggregator: config.aggregator, rows: config.dataset.rowCount });
            for (const w of waiters) w();
            waiters = [];
            return;
          case 'rejected':
            log('error', 'the aggregator rejected this party', { reason: body.value.reason });
            lastRejection = body.value.reason;
            return;
          case 'receipt': {
            const r = body.value;
            const trusted = receipts.distrust === undefined;
            const refused = r.index > BigInt(Number.MAX_SAFE_INTEGER) || r.extensionStart > BigInt(Number.MAX_SAFE_INTEGER)
              ? 'receipt index out of range'
              : receipts.accept(
                { party: config.identity.id, session: r.sessionId, kind: r.kind, index: Number(r.index), entryHash: r.entryHash, head: r.head, envelopeDigest: r.envelopeDigest, signature: r.signature },
                { start: Number(r.extensionStart), hashes: r.extension },
              );
            if (refused && trusted && receipts.distrust !== undefined) {
              log('error', 'the aggregator showed a transcript head that does not extend the last one this party holds: refusing every session until this node is restarted', { reason: receipts.distrust, receipts: receipts.path });
            } else if (refused) {
              log('warn', 'transcript receipt refused; the session will be refused at its next message', { queryId: r.sessionId, kind: quote(r.kind), reason: refused });
            }
            return;
          }
          default: {
            const sessionId = (body.value as { sessionId?: unknown }).sessionId;
            if (typeof sessionId === 'string' && sessionId !== '' && body.$case !== 'abort') {
              // Receipts are mandatory: no step of a session before the last envelope of it is receipted.
              const why = receipts.distrust ?? receipts.missing(sessionId);
              if (why) {
                refuseSession(body, sessionId, why);
                return;
              }
            } else if (body.$case === 'abort' && typeof sessionId === 'string') {
              receipts.forget(sessionId);
            }
            if (ckks.accepts(body)) {
              // CKKS steps are asynchronous (node-seal loads on first use); replies keep message order.
              void ckks.handle(body).then(answer).catch((e: unknown) => log('error', 'failed to answer a CKKS message', { type: body.$case, error: (e as Error).message }));
              return;
            }
            // Secure-aggregation steps; StartSession waits for the statistics thread.
            void sessions.handle(body).then(answer).catch((e: unknown) => log('error', 'failed to answer a secure-aggregation message', { type: body.$case, error: (e as Error).message }));
          }
        }
      } catch (e) {
        log('error', 'failed to handle a message from the aggregator', { type: body.$case, error: (e as Error).message });
      }
    });
    stream.on('error', (e: Error) => end(lastRejection ?? e.message));
    stream.on('end', () => end(lastRejection ?? 'stream ended by the aggregator'));
    const anchor = receipts.anchor;
    send({
      $case: 'hello',
      value: {
        partyId: config.identity.id, schemaDigest: config.schemaDigest, softwareVersion: SOFTWARE_VERSION,
        lastReceiptIndex: BigInt(anchor?.index ?? 0), lastReceiptHead: anchor?.head ?? new Uint8Array(0),
      },
    });
  };

  return {
    config,
    get state() {
      return state;
    },
    start() {
      stopping = false;
      if (state === 'closed') connect();
    },
    async startMetrics() {
      if (!metrics || hooks.metricsListen === undefined) return undefined;
      metricsServer ??= await startMetricsServer(hooks.metricsListen, metrics.registry);
      return metricsServer.port;
    },
    connected() {
      if (state === 'connected') return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    async close() {
      stopping = true;
      if (timer) clearTimeout(timer);
      await sessions.close();
      ckks.close();
      const c = call;
      call = undefined;
      if (c) {
        c.end();
        c.cancel();
      }
      client.close();
      await metricsServer?.close();
      ledger.close();
      receipts.close();
      lock.release();
      state = 'closed';
    },
  };
}
