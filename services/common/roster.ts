/**
 * The federation roster: which parties exist, their Ed25519 identity keys, and the secure
 * aggregation threshold t. Both the aggregator and every party load the same file; a party uses
 * it to verify its peers' signatures without trusting the aggregator.
 */
import { readFileSync } from 'node:fs';
import { fromHex } from '../../crypto/bytes.ts';

export interface RosterParty {
  readonly id: string;
  readonly publicKey: Uint8Array;
}

export interface Roster {
  readonly federation: string;
  readonly threshold: number;
  readonly parties: readonly RosterParty[];
  readonly publicKeys: ReadonlyMap<string, Uint8Array>;
  /** The aggregator's identity: signs transcript heads and receipts (docs/transcripts.md). */
  readonly aggregator: RosterParty;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const PARTY_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function validatePartyId(id: unknown, field = 'party id'): string {
  if (typeof id !== 'string' || !PARTY_ID.test(id)) {
    throw new ConfigError(`${field}: ${JSON.stringify(id)} is not a valid party id (lowercase letters, digits, '.', '_', '-', at most 64 characters)`);
  }
  return id;
}

export function parseRoster(json: unknown, source = 'roster'): Roster {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`${source}: expected a JSON object`);
  const o = json as Record<string, unknown>;
  const federation = o['federation'];
  if (typeof federation !== 'string' || federation.length === 0) throw new ConfigError(`${source}: "federation" must be a non-empty string`);
  const list = o['parties'];
  if (!Array.isArray(list) || list.length < 2) throw new ConfigError(`${source}: "parties" must list at least 2 parties`);
  const parties: RosterParty[] = [];
  const publicKeys = new Map<string, Uint8Array>();
  list.forEach((p, i) => {
    if (typeof p !== 'object' || p === null) throw new ConfigError(`${source}: parties[${i}] must be an object`);
    const e = p as Record<string, unknown>;
    const id = validatePartyId(e['id'], `${source}: parties[${i}].id`);
    if (publicKeys.has(id)) throw new ConfigError(`${source}: party "${id}" is listed twice`);
    let publicKey: Uint8Array;
    try {
      publicKey = fromHex(String(e['publicKey'] ?? ''), 'publicKey');
    } catch {
      throw new ConfigError(`${source}: parties[${i}].publicKey must be a 64-character hex Ed25519 public key`);
    }
    if (publicKey.length !== 32) throw new ConfigError(`${source}: parties[${i}].publicKey must be 32 bytes (64 hex characters)`);
    parties.push({ id, publicKey });
    publicKeys.set(id, publicKey);
  });
  parties.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const threshold = o['threshold'];
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 2 || threshold > parties.length) {
    throw new ConfigError(`${source}: "threshold" must be an integer t with 2 ≤ t ≤ ${parties.length} (number of parties)`);
  }
  if (o['aggregator'] === undefined) {
    throw new ConfigError(
      `${source}: "aggregator" is missing: the roster must name the aggregator's identity, which signs transcript heads and receipts. ` +
        'Create its key with `blindsum keygen --id FEDERATION-aggregator --out aggregator.key` and write the roster with ' +
        '`blindsum roster … --aggregator aggregator.key.pub.json` (or add "aggregator": {"id": …, "publicKey": …} from that file); start the aggregator with --key aggregator.key',
    );
  }
  let aggregator: RosterParty;
  {
    const a = o['aggregator'] as Record<string, unknown> | null;
    if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new ConfigError(`${source}: "aggregator" must be an object {"id", "publicKey"}`);
    const id = validatePartyId(a['id'], `${source}: aggregator.id`);
    if (publicKeys.has(id)) throw new ConfigError(`${source}: aggregator id "${id}" is also a party id`);
    let publicKey: Uint8Array;
    try {
      publicKey = fromHex(String(a['publicKey'] ?? ''), 'publicKey');
    } catch {
      throw new ConfigError(`${source}: aggregator.publicKey must be a 64-character hex Ed25519 public key`);
    }
    if (publicKey.length !== 32) throw new ConfigError(`${source}: aggregator.publicKey must be 32 bytes (64 hex characters)`);
    aggregator = { id, publicKey };
  }
  return { federation, threshold, parties, publicKeys, aggregator };
}

export function loadRoster(path: string): Roster {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read roster file ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`roster file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return parseRoster(json, `roster ${path}`);
}
