/** Party node configuration: read and validated once, data loaded and checked at start. */
import { buildDataset, schemaDigest, type Dataset, type LoadReport, type Schema } from '../../stats/index.ts';
import type { DataSource } from './sources/index.ts';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadIdentityFile, type IdentityFile } from '../common/keys.ts';
import { ConfigError, loadRoster, type Roster } from '../common/roster.ts';
import { loadSchemaFile } from '../common/schema-file.ts';
import { loadPolicy, type PartyPolicy } from './policy.ts';

/**
 * Ring elements per MaskedInput chunk: 2^17 (1 MiB of a 64-bit ring). A party masks and sends one
 * chunk at a time, so neither side holds a second copy of a long vector or blocks its event loop
 * for the whole of it.
 */
export const MASKED_CHUNK_ELEMENTS = 1 << 17;

export interface PartyConfigInput {
  aggregator: string;
  keyPath: string;
  rosterPath: string;
  schemaPath: string;
  dataPath: string;
  policyPath?: string;
  strict?: boolean;
  quiet?: boolean;
  tlsCaPath?: string;
  /** Mutual TLS: this party's client certificate and key (for an aggregator started with --tls-client-ca). */
  tlsCertPath?: string;
  tlsKeyPath?: string;
  /** Directory for the aggregator's signed receipts (default: DIR_OF_KEY/receipts). */
  receiptsDir?: string;
  /** Directory for the party's durable state, e.g. its privacy-budget ledger (default: DIR_OF_KEY/ID-state). */
  stateDir?: string;
  /** Ring elements per streamed MaskedInput chunk (default 2^17; tests use small ones). */
  maskedChunkElements?: number;
}

export interface PartyConfig {
  aggregator: string;
  identity: IdentityFile;
  roster: Roster;
  schema: Schema;
  schemaDigest: string;
  dataset: Dataset;
  loadReport: LoadReport;
  policy: PartyPolicy;
  quiet: boolean;
  tlsCaPath?: string;
  tlsCertPath?: string;
  tlsKeyPath?: string;
  receiptsDir: string;
  stateDir: string;
  /** Ring elements per streamed MaskedInput chunk (services/party/sessions.ts). */
  maskedChunkElements: number;
}

/** The party's configuration with its data read from a CSV file (input.dataPath), synchronously. */
export function resolvePartyConfig(input: PartyConfigInput): PartyConfig {
  const { schema, finish } = checkPartyInput(input);
  let csv: string;
  try {
    csv = readFileSync(input.dataPath, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read data file ${input.dataPath}: ${(e as Error).message}`);
  }
  return finish(buildDataset(schema, csv, { strict: input.strict ?? false }));
}

/**
 * The party's configuration with its data read from any source (CSV, Parquet, PostgreSQL:
 * services/party/sources/). Keys, roster and schema are checked before the source is opened; a
 * read that fails (a broken connection, a row limit passed) throws and nothing is kept.
 * input.dataPath is then only a label.
 */
export async function loadPartyConfig(input: PartyConfigInput, source: DataSource): Promise<PartyConfig> {
  const { schema, finish } = checkPartyInput(input);
  return finish(await source.load(schema, { strict: input.strict ?? false }));
}

function checkPartyInput(input: PartyConfigInput): { schema: Schema; finish: (loaded: { dataset: Dataset; report: LoadReport }) => PartyConfig } {
  if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(input.aggregator)) {
    throw new ConfigError(`--aggregator: expected host:port, got ${JSON.stringify(input.aggregator)}`);
  }
  const identity = loadIdentityFile(input.keyPath);
  const roster = loadRoster(input.rosterPath);
  const listed = roster.publicKeys.get(identity.id);
  if (!listed) throw new ConfigError(`party "${identity.id}" (from ${input.keyPath}) is not on the roster ${input.rosterPath}`);
  if (Buffer.compare(Buffer.from(listed), Buffer.from(identity.identity.publicKey)) !== 0) {
    throw new ConfigError(`the roster lists a different public key for "${identity.id}" than the key file ${input.keyPath} holds`);
  }
  const chunk = input.maskedChunkElements ?? MASKED_CHUNK_ELEMENTS;
  if (!Number.isSafeInteger(chunk) || chunk < 1 || chunk > 1 << 24) throw new ConfigError(`maskedChunkElements: expected an integer in [1, 2^24], got ${chunk}`);
  const schema = loadSchemaFile(input.schemaPath);
  const policy = loadPolicy(input.policyPath);
  return { schema, finish: ({ dataset, report }) => ({
    aggregator: input.aggregator, identity, roster, schema, schemaDigest: schemaDigest(schema), dataset, loadReport: report,
    policy, quiet: input.quiet ?? false, receiptsDir: input.receiptsDir ?? join(dirname(input.keyPath), 'receipts'),
    stateDir: input.stateDir ?? join(dirname(input.keyPath), `${identity.id}-state`), maskedChunkElements: chunk,
    ...(input.tlsCaPath !== undefined ? { tlsCaPath: input.tlsCaPath } : {}),
    ...(input.tlsCertPath !== undefined ? { tlsCertPath: input.tlsCertPath } : {}),
    ...(input.tlsKeyPath !== undefined ? { tlsKeyPath: input.tlsKeyPath } : {}),
  }) };
}
