import { resolveAggregatorConfig } from '../../services/aggregator/config.ts';
import { createAggregator } from '../../services/aggregator/server.ts';
import { loadPartyConfig } from '../../services/party/config.ts';
import { openSource } from '../../services/party/sources/index.ts';
import { createPartyNode } from '../../services/party/node.ts';
import type { Logger } from '../../services/common/errors.ts';
import { createLogger, LOG_LEVEL_ENV, resolveLogLevel, type LogLevel } from '../../services/common/log.ts';
import { formatLoadReport, type LoadReport } from '../../stats/index.ts';
import { exitCodeFor, int, str, TLS_CLIENT_HELP, TLS_CLIENT_OPTIONS, tlsClientFiles, type Command } from '../args.ts';

/** How long a SIGTERM/SIGINT shutdown may take before the process exits anyway (ms). */
const SHUTDOWN_MS = Number(process.env['BLINDSUM_SHUTDOWN_TIMEOUT_MS'] ?? 20_000);

/**
 * Runs until SIGTERM or SIGINT, then closes: new work is refused, running work fails with the
 * signal as its recorded reason, stores are flushed. A close that takes longer than SHUTDOWN_MS
 * (a query held past its point of no return) ends the process anyway, exit 1: everything
 * acknowledged is already durable, and the next start marks what was running as failed. A second
 * signal exits at once.
 */
function untilSignal(log: Logger, close: (reason: string) => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log('warn', `second ${signal}: exiting now`, { signal });
        process.exit(1);
      }
      stopping = true;
      log('info', `${signal}: stopping (refusing new work, failing running work, flushing; at most ${SHUTDOWN_MS / 1000} s)`, { signal, timeoutMs: SHUTDOWN_MS });
      const timer = setTimeout(() => {
        log('error', `shutdown did not finish in ${SHUTDOWN_MS / 1000} s; exiting (what was running is marked failed at the next start)`, { timeoutMs: SHUTDOWN_MS });
        process.exit(1);
      }, SHUTDOWN_MS);
      timer.unref();
      void close(signal).then(() => {
        clearTimeout(timer);
        log('info', 'stopped', { signal });
        resolve(0);
      }, (e: unknown) => {
        log('error', `error while stopping: ${(e as Error).message}`, { signal });
        resolve(1);
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * Runs a service command with its logger: an error before or during start (a bad configuration,
 * a busy port, a data directory in use) is logged as one JSON line, "blindsum COMMAND: …", and
 * gives the CLI's exit code for it (2: configuration, 1: unexpected), instead of plain text.
 */
async function asService(component: string, level: LogLevel, run: (log: Logger) => Promise<number>): Promise<number> {
  const log = createLogger(component, { level });
  try {
    return await run(log);
  } catch (e) {
    const err = e as Error;
    const code = exitCodeFor(err);
    log('error', `blindsum ${component}: ${code === 2 ? err.message : `unexpected error: ${err.message}`}`, code === 2 ? { error: err.name } : { error: err.name, stack: err.stack });
    return code;
  }
}

const LOG_LEVEL_HELP = `debug, info, warn or error: the lowest level logged (default info, or $${LOG_LEVEL_ENV}); logs are JSON lines on stderr`;

/** The party's data load report as log lines: a summary, then one warning per rejected row (as formatLoadReport lists them). */
function logLoadReport(log: Logger, report: LoadReport, source: string): void {
  const lines = formatLoadReport(report, source).trimEnd().split('\n');
  const summary = {
    rowsRead: report.rowsRead, rowsLoaded: report.rowsLoaded, rejected: report.rejected.length, clipped: report.clipped,
    patients: report.patients, rowsOverPatientBound: report.rowsOverPatientBound, extraColumns: report.extraColumns,
    population: report.population,
  };
  lines.forEach((line, i) => log(line.startsWith('  ') ? 'warn' : 'info', line.trim(), i === 0 ? summary : undefined));
}

export const aggregator: Command = {
  name: 'aggregator',
  summary: 'run the aggregator (party gateway + analyst API)',
  usage: 'blindsum aggregator --roster roster.json --analysts analysts.json --schema schema.json --data-dir ./agg --key aggregator.key [--listen 127.0.0.1:7070]',
  options: {
    listen: { type: 'string' }, roster: { type: 'string' }, schema: { type: 'string' }, 'data-dir': { type: 'string' },
    'round-timeout-ms': { type: 'string' }, 'ring-bits': { type: 'string' }, 'aggregator-id': { type: 'string' }, key: { type: 'string' }, quiet: { type: 'boolean' },
    'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'tls-client-ca': { type: 'string' }, 'tls-pin-parties': { type: 'boolean' }, analysts: { type: 'string' }, 'allow-exact': { type: 'boolean' }, ckks: { type: 'boolean' }, 'min-cohort': { type: 'string' },
    'max-running-per-analyst': { type: 'string' }, 'max-submits-per-minute': { type: 'string' }, 'max-running': { type: 'string' },
    'blob-retention-days': { type: 'string' }, 'metrics-listen': { type: 'string' }, 'log-level': { type: 'string' },
    'web-listen': { type: 'string' }, 'web-operator': { type: 'boolean' }, 'web-root': { type: 'string' },
  },
  help: {
    'web-listen': 'serve the web console on HOST:PORT (analyst and auditor pages, and the Connect JSON endpoint of the analyst service; HTTPS with --tls-cert/--tls-key, docs/web.md); off by default',
    'web-root': 'with --web-listen: serve the pages built in DIR (default dist/web of the installation; built there at start when missing)',
    'web-operator': 'with --web-listen: also serve the operator status page (parties, roster, key ceremony, recent failures, metrics) to auditor-signed reads; off by default',
    listen: 'host:port to listen on (default 127.0.0.1:7070; port 0 = any free port, printed on stdout)',
    roster: 'federation roster (parties, identity keys, threshold)', schema: 'the federation\'s data schema',
    'data-dir': 'directory for the durable state (SQLite)', 'round-timeout-ms': 'base deadline of each protocol round, ms (default 30000); secure-aggregation and key-ceremony rounds add time sized from their work (parties, vector length, host load)',
    'ring-bits': '32 or 64: secure-aggregation ring Z_2^k (default 64)', 'aggregator-id': 'name bound into party authentication (default: the roster\'s aggregator id)',
    key: 'the aggregator\'s identity key (from blindsum keygen --id ID --out FILE; its FILE.pub.json is the roster\'s "aggregator"); default DATA_DIR/aggregator.key',
    quiet: 'log warnings and errors only (--log-level warn)', 'log-level': LOG_LEVEL_HELP, 'tls-cert': 'PEM certificate chain for TLS (with --tls-key); without both, plaintext (loopback only!)',
    'tls-key': 'PEM private key for TLS',
    'tls-client-ca': 'mutual TLS: require every client (party, analyst, probe) to present a certificate signed by this PEM CA (blindsum certs); others are refused at the handshake',
    'tls-pin-parties': 'with --tls-client-ca: admit a party only with a client certificate that names it (subject CN = its party id, as blindsum certs --client ID makes)',
    analysts: 'the operator-signed analyst roster analysts.json (blindsum analyst roster): analysts\' keys, roles and zCDP budgets (required)',
    'allow-exact': 'also run queries without differential privacy (exact aggregates; for testing and trusted settings only)',
    ckks: 'enable the multiparty CKKS backend: run the key ceremony once every roster party is connected, accept --backend ckks',
    'min-cohort': 'DP results whose noisy row count is below this carry a note (default 10; parties never refuse DP queries on their local counts)',
    'max-running-per-analyst': 'queries one analyst may have running at once (default 4); more get RESOURCE_EXHAUSTED',
    'max-submits-per-minute': 'queries one analyst may submit per minute, invalid ones included (default 30)',
    'max-running': 'queries running at once in all (default 32, below the parties\' 64 concurrent sessions)',
    'metrics-listen': 'serve Prometheus metrics on HOST:PORT (GET /metrics; plain HTTP: a management network or loopback); off by default',
    'blob-retention-days': 'delete transcript blobs (masked inputs, CKKS ciphertexts and PCKS shares, logged by digest) older than N ≥ 1 days, checked at start and hourly (audit verify then says which sums it cannot recompute); default: keep forever (docs/transcripts.md)',
  },
  async run(v) {
    const level = resolveLogLevel({ logLevel: str(v['log-level'], 'log-level'), quiet: v['quiet'] === true });
    return asService('aggregator', level, (log) => runAggregator(v, log));
  },
};

async function runAggregator(v: Record<string, unknown>, log: Logger): Promise<number> {
  const config = resolveAggregatorConfig({
    tlsCertPath: str(v['tls-cert'], 'tls-cert'), tlsKeyPath: str(v['tls-key'], 'tls-key'), tlsClientCaPath: str(v['tls-client-ca'], 'tls-client-ca'), tlsPinParties: v['tls-pin-parties'] === true,
    analystsPath: str(v['analysts'], 'analysts'), allowExact: v['allow-exact'] === true,
    listen: str(v['listen'], 'listen'), rosterPath: str(v['roster'], 'roster', true), schemaPath: str(v['schema'], 'schema', true),
    dataDir: str(v['data-dir'], 'data-dir', true), roundTimeoutMs: int(v['round-timeout-ms'], 'round-timeout-ms', 30_000, 100, 3_600_000),
    ringBits: int(v['ring-bits'], 'ring-bits', 64, 32, 64), aggregatorId: str(v['aggregator-id'], 'aggregator-id'), keyPath: str(v['key'], 'key'), quiet: v['quiet'] === true, ckks: v['ckks'] === true,
    minCohort: int(v['min-cohort'], 'min-cohort', 10, 0, 1_000_000),
    maxRunningPerAnalyst: int(v['max-running-per-analyst'], 'max-running-per-analyst', 4, 1, 100_000),
    maxSubmitsPerMinute: int(v['max-submits-per-minute'], 'max-submits-per-minute', 30, 1, 100_000),
    maxRunning: int(v['max-running'], 'max-running', 32, 1, 100_000),
    ...(v['blob-retention-days'] !== undefined ? { blobRetentionDays: int(v['blob-retention-days'], 'blob-retention-days', 1, 1, 36_500) } : {}),
    ...(v['metrics-listen'] !== undefined ? { metricsListen: str(v['metrics-listen'], 'metrics-listen', true) } : {}),
    ...(v['web-listen'] !== undefined ? { webListen: str(v['web-listen'], 'web-listen', true) } : {}), webOperator: v['web-operator'] === true,
    ...(v['web-root'] !== undefined ? { webRoot: str(v['web-root'], 'web-root', true) } : {}),
  });
  const agg = createAggregator(config, log);
  let port: number;
  try {
    port = await agg.start();
  } catch (e) {
    await agg.close('it could not listen'); // releases the data directory's lock
    throw e;
  }
  process.stdout.write(`listening on port ${port}\n`);
  if (agg.webUrl !== undefined) process.stdout.write(`web console at ${agg.webUrl}\n`);
  return untilSignal(log, (reason) => agg.close(reason));
}

export const party: Command = {
  name: 'party',
  summary: 'run a party node next to its data; dials out to the aggregator',
  usage: 'blindsum party --aggregator HOST:PORT --key hospital-a.key --roster roster.json --schema schema.json (--data data.csv|data.parquet | --source postgres://USER@HOST:PORT/DB --query-file q.sql) [--policy policy.json]',
  options: {
    aggregator: { type: 'string' }, key: { type: 'string' }, roster: { type: 'string' }, schema: { type: 'string' },
    data: { type: 'string' }, source: { type: 'string' }, 'query-file': { type: 'string' }, 'source-password-file': { type: 'string' }, 'source-timeout-ms': { type: 'string' },
    policy: { type: 'string' }, strict: { type: 'boolean' }, quiet: { type: 'boolean' }, ...TLS_CLIENT_OPTIONS,
    receipts: { type: 'string' }, 'state-dir': { type: 'string' }, 'metrics-listen': { type: 'string' }, 'log-level': { type: 'string' },
  },
  help: {
    aggregator: 'aggregator address host:port', key: 'identity key file (from blindsum keygen; must be mode 0600)',
    roster: 'federation roster (the same file as the aggregator\'s)', schema: 'data schema (must match the federation\'s)',
    data: 'local data file: CSV, or Parquet when it ends in .parquet (docs/data-sources.md)',
    source: 'instead of --data: a PostgreSQL URL postgres://USER@HOST:PORT/DB (unix socket: postgres:///DB?host=/run/postgresql); password from --source-password-file, PGPASSWORD or ~/.pgpass (never logged)',
    'query-file': 'with --source: a file holding the one SELECT that yields the analysis table (run in a read-only transaction, streamed with a cursor)',
    'source-password-file': 'with --source: a file holding the database password (must be mode 0600)',
    'source-timeout-ms': 'with --source: server-side statement timeout for the whole read, ms (default 300000)',
    policy: 'local policy JSON: allowedKinds, allowedBackends, minCohort (default: all kinds, secagg, minCohort 5)',
    strict: 'refuse to start if any row (CSV, Parquet or query result) is invalid, incl. a missing or over-long patient identifier (default: skip and report invalid rows); rows beyond rowsPerPatient per patient are always dropped and counted, never an error', quiet: 'log warnings and errors only (--log-level warn)', 'log-level': LOG_LEVEL_HELP,
    ...TLS_CLIENT_HELP,
    receipts: 'directory for the aggregator\'s signed transcript receipts (default: DIR_OF_KEY/receipts); give it to the auditor',
    'state-dir': 'directory for this party\'s durable state: its own privacy-budget ledger (default: DIR_OF_KEY/ID-state)',
    'metrics-listen': 'serve Prometheus metrics on HOST:PORT (GET /metrics; plain HTTP: loopback or a management network); off by default',
  },
  async run(v) {
    const level = resolveLogLevel({ logLevel: str(v['log-level'], 'log-level'), quiet: v['quiet'] === true });
    return asService('party', level, () => runParty(v, level));
  },
};

async function runParty(v: Record<string, unknown>, level: LogLevel): Promise<number> {
  const dataPath = str(v['data'], 'data');
  const sourceUrl = str(v['source'], 'source');
  const queryFile = str(v['query-file'], 'query-file');
  const passwordFile = str(v['source-password-file'], 'source-password-file');
  const source = openSource({
    ...(dataPath !== undefined ? { dataPath } : {}), ...(sourceUrl !== undefined ? { sourceUrl } : {}),
    ...(queryFile !== undefined ? { queryFile } : {}), ...(passwordFile !== undefined ? { passwordFile } : {}),
    ...(v['source-timeout-ms'] !== undefined ? { statementTimeoutMs: int(v['source-timeout-ms'], 'source-timeout-ms', 300_000, 1, 86_400_000) } : {}),
  });
  const config = await loadPartyConfig({
    aggregator: str(v['aggregator'], 'aggregator', true), keyPath: str(v['key'], 'key', true), rosterPath: str(v['roster'], 'roster', true),
    schemaPath: str(v['schema'], 'schema', true), dataPath: source.label, policyPath: str(v['policy'], 'policy'),
    strict: v['strict'] === true, quiet: v['quiet'] === true, ...tlsClientFiles(v),
    receiptsDir: str(v['receipts'], 'receipts'), stateDir: str(v['state-dir'], 'state-dir'),
  }, source);
  // From here on the party's lines name it (component "party:ID").
  const log = createLogger(`party:${config.identity.id}`, { level });
  if (!config.roster.operator) log('warn', 'the roster names no operator key ("operator"); this party will refuse every query, because it cannot verify the analyst roster (blindsum roster --operator)');
  logLoadReport(log, config.loadReport, source.label);
  let fatal: ((code: number) => void) | undefined;
  const metricsListen = str(v['metrics-listen'], 'metrics-listen');
  const node = createPartyNode(config, log, {
    ...(metricsListen !== undefined ? { metricsListen } : {}),
    onPermanentError: (message) => {
      log('error', `blindsum party: ${message}`);
      void node.close().then(() => fatal?.(2));
    },
  });
  node.start();
  try {
    const mport = await node.startMetrics();
    if (mport !== undefined) log('info', `metrics on port ${mport} (GET /metrics)`, { port: mport });
  } catch (e) {
    await node.close();
    throw e;
  }
  return Promise.race([untilSignal(log, () => node.close()), new Promise<number>((resolve) => (fatal = resolve))]);
}
