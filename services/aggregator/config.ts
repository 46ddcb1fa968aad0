/** Aggregator configuration: read and validated once. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { schemaDigest, type Schema } from '../../stats/index.ts';
import { loadSchemaFile } from '../common/schema-file.ts';
import { ConfigError, loadRoster, type Roster } from '../common/roster.ts';
import { loadAnalystRoster, type AnalystRoster } from '../common/analysts.ts';
import { DEFAULT_QUOTAS, type QuotaOptions } from './quotas.ts';

export interface AggregatorConfig {
  /** host:port to listen on, e.g. 127.0.0.1:7070 (port 0 picks a free port). */
  listen: string;
  roster: Roster;
  schema: Schema;
  schemaDigest: string;
  /** Directory for the SQLite database. */
  dataDir: string;
  aggregatorId: string;
  /** The aggregator's identity key file (blindsum keygen); default DATA_DIR/aggregator.key. */
  keyPath?: string;
  roundTimeoutMs: number;
  ringBits: 32 | 64;
  quiet: boolean;
  tlsCertPath?: string;
  tlsKeyPath?: string;
  /** Mutual TLS: clients must present a certificate signed by this CA (--tls-client-ca). */
  tlsClientCaPath?: string;
  /** Mutual TLS: admit a party only with a client certificate whose subject CN is its party id (--tls-pin-parties). */
  tlsPinParties?: boolean;
  /** The operator-signed analyst roster (analysts.json): who may query, with which key and zCDP budget. */
  analysts: AnalystRoster;
  /** Allow queries without differential privacy (off by default). */
  allowExact: boolean;
  /** Run the multiparty CKKS backend: key ceremony and backend "ckks" (loads node-seal). */
  ckks: boolean;
  /** DP results whose noisy row count is below this carry a note (post-processing; default 10). */
  minCohort: number;
  /** Overrides the CKKS decryption bound τ(n) (tests only; not settable from the command line). */
  ckksDecryptionBound?: number;
  /** Ciphertexts per CKKS EncryptedInput chunk (tests only; default ~1 MiB per chunk: services/common/ckks.ts). */
  ckksInputChunk?: number;
  /** Per-analyst concurrency and rate quotas, and the cap on running queries (services/aggregator/quotas.ts). */
  quotas: QuotaOptions;
  /** Transcript blobs older than this many days (≥ 1) are deleted; undefined keeps them forever. */
  blobRetentionDays?: number;
  /** Serve Prometheus metrics on this HOST:PORT (GET /metrics); off when absent. */
  metricsListen?: string;
  /** Serve the web console (static pages and the Connect JSON endpoint, docs/web.md) on this HOST:PORT; off when absent. */
  webListen?: string;
  /** The web console's operator status (auditor-signed reads only); off unless --web-operator. */
  webOperator?: boolean;
  /** Where the built pages are (default dist/web; built at start when missing). */
  webRoot?: string;
}

export interface AggregatorConfigInput {
  listen?: string;
  rosterPath: string;
  schemaPath: string;
  dataDir: string;
  aggregatorId?: string;
  keyPath?: string;
  roundTimeoutMs?: number;
  ringBits?: number;
  quiet?: boolean;
  tlsCertPath?: string;
  tlsKeyPath?: string;
  tlsClientCaPath?: string;
  tlsPinParties?: boolean;
  /** analysts.json (blindsum analyst roster); required. */
  analystsPath?: string;
  allowExact?: boolean;
  ckks?: boolean;
  minCohort?: number;
  maxRunningPerAnalyst?: number;
  maxSubmitsPerMinute?: number;
  maxRunning?: number;
  blobRetentionDays?: number;
  metricsListen?: string;
  webListen?: string;
  webOperator?: boolean;
  webRoot?: string;
}


export function resolveAggregatorConfig(input: AggregatorConfigInput): AggregatorConfig {
  const listen = input.listen ?? '127.0.0.1:7070';
  if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(listen)) throw new ConfigError(`--listen: expected host:port, got ${JSON.stringify(listen)}`);
  const roster = loadRoster(input.rosterPath);
  const schema = loadSchemaFile(input.schemaPath);
  const roundTimeoutMs = input.roundTimeoutMs ?? 30_000;
  if (!Number.isInteger(roundTimeoutMs) || roundTimeoutMs < 100 || roundTimeoutMs > 3_600_000) {
    throw new ConfigError('--round-timeout-ms: expected an integer between 100 and 3600000');
  }
  const ringBits = input.ringBits ?? 64;
  if (ringBits !== 32 && ringBits !== 64) throw new ConfigError('--ring-bits: expected 32 or 64');
  if (input.analystsPath === undefined) {
    throw new ConfigError('--analysts is required: the operator-signed analyst roster (create it with: blindsum analyst roster --operator-key operator.key …; the roster must name the operator with blindsum roster --operator)');
  }
  if (!roster.operator) throw new ConfigError(`the roster ${input.rosterPath} names no operator key ("operator": {"id", "publicKey"}); analysts cannot be authenticated without it (blindsum roster --operator operator.key.pub.json)`);
  const analysts = loadAnalystRoster(input.analystsPath, roster);
  const minCohort = input.minCohort ?? 10;
  if (!Number.isInteger(minCohort) || minCohort < 0 || minCohort > 1_000_000) throw new ConfigError(`--min-cohort: expected an integer in [0, 10^6], got ${input.minCohort}`);
  const quota = (v: number | undefined, flag: string, d: number): number => {
    const n = v ?? d;
    if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new ConfigError(`--${flag}: expected an integer in [1, 100000], got ${v}`);
    return n;
  };
  const quotas: QuotaOptions = {
    maxRunningPerAnalyst: quota(input.maxRunningPerAnalyst, 'max-running-per-analyst', DEFAULT_QUOTAS.maxRunningPerAnalyst),
    maxSubmitsPerMinute: quota(input.maxSubmitsPerMinute, 'max-submits-per-minute', DEFAULT_QUOTAS.maxSubmitsPerMinute),
    maxRunning: quota(input.maxRunning, 'max-running', DEFAULT_QUOTAS.maxRunning),
  };
  if (input.tlsPinParties === true && input.tlsClientCaPath === undefined) throw new ConfigError('--tls-pin-parties needs mutual TLS: give --tls-client-ca (and --tls-cert, --tls-key)');
  if (input.tlsClientCaPath !== undefined && (input.tlsCertPath === undefined || input.tlsKeyPath === undefined)) throw new ConfigError('--tls-client-ca needs TLS: give the aggregator --tls-cert and --tls-key too');
  const days = input.blobRetentionDays;
  if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 36_500)) throw new ConfigError(`--blob-retention-days: expected an integer in [1, 36500], got ${days}`);
  const hostPort = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;
  if (input.webListen !== undefined && !hostPort.test(input.webListen)) throw new ConfigError(`--web-listen: expected host:port, got ${JSON.stringify(input.webListen.slice(0, 100))}`);
  if (input.webOperator === true && input.webListen === undefined) throw new ConfigError('--web-operator needs --web-listen (the operator page is part of the web console)');
  try {
    mkdirSync(input.dataDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new ConfigError(`cannot create data directory ${input.dataDir}: ${(e as Error).message}`);
  }
  return {
    listen, roster, schema, schemaDigest: schemaDigest(schema), dataDir: input.dataDir,
    aggregatorId: input.aggregatorId ?? roster.aggregator.id, roundTimeoutMs, ringBits, quiet: input.quiet ?? false, analysts, allowExact: input.allowExact ?? false, ckks: input.ckks ?? false, minCohort, quotas,
    ...(input.keyPath !== undefined ? { keyPath: input.keyPath } : {}),
    ...(days !== undefined ? { blobRetentionDays: days } : {}),
    ...(input.metricsListen !== undefined ? { metricsListen: input.metricsListen } : {}),
    ...(input.webListen !== undefined ? { webListen: input.webListen, webOperator: input.webOperator === true } : {}),
    ...(input.webRoot !== undefined ? { webRoot: input.webRoot } : {}),
    ...(input.tlsCertPath !== undefined ? { tlsCertPath: input.tlsCertPath } : {}),
    ...(input.tlsKeyPath !== undefined ? { tlsKeyPath: input.tlsKeyPath } : {}),
    ...(input.tlsClientCaPath !== undefined ? { tlsClientCaPath: input.tlsClientCaPath } : {}),
    ...(input.tlsPinParties === true ? { tlsPinParties: true } : {}),
  };
}

export function databasePath(config: AggregatorConfig): string {
  return join(config.dataDir, 'aggregator.sqlite');
}
