/**
 * The federation roster: which parties exist, their Ed25519 identity keys, and the secure
 * aggregation threshold t. Both the aggregator and every party load the same file; a party uses
 * it to verify its peers' signatures without trusting the aggregator.
 */
import { nodeFs } from './node-fs.ts';
import { fromHex } from '../../crypto/bytes.ts';
import { SHAMIR_MAX_SHARES } from '../../crypto/shamir.ts';
import { ConfigError, validatePartyId } from './ids.ts';

export interface RosterParty {
  readonly id: string;
  readonly publicKey: Uint8Array;
}

export interface Roster {
  readonly federation: string;
  readonly threshold: number;
  /**
   * c: how many parties may collude with the aggregator (docs/threat-model.md). The roster
   * requires 0 ≤ c < t and 2t > n + c (Bonawitz et al.'s bound for an active server: two
   * disjoint honest groups can never both complete a survivor list with the colluders' help),
   * and every party sizes its DP noise so that any t − c honest contributors supply the full
   * noise (stats/privacy.ts planNoise).
   */
  readonly collusion: number;
  readonly parties: readonly RosterParty[];
  readonly publicKeys: ReadonlyMap<string, Uint8Array>;
  /** The aggregator's identity: signs transcript heads and receipts (docs/transcripts.md). */
  readonly aggregator: RosterParty;
  /** The operator's identity: signs the analyst roster (analysts.json, services/common/analysts.ts). */
  readonly operator?: RosterParty;
}

export { ConfigError, PARTY_ID, validatePartyId } from './ids.ts';

export function parseRoster(json: unknown, source = 'roster'): Roster {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`${source}: expected a JSON object`);
  const o = json as Record<string, unknown>;
  const federation = o['federation'];
  if (typeof federation !== 'string' || federation.length === 0) throw new ConfigError(`${source}: "federation" must be a non-empty string`);
  const list = o['parties'];
  if (!Array.isArray(list) || list.length < 2) throw new ConfigError(`${source}: "parties" must list at least 2 parties`);
  if (list.length > SHAMIR_MAX_SHARES) {
    throw new ConfigError(`${source}: "parties" lists ${list.length} parties; at most ${SHAMIR_MAX_SHARES} (secure aggregation Shamir-shares its keys over GF(2^8), one point per party)`);
  }
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
  const collusion = o['collusion'] ?? 0;
  if (typeof collusion !== 'number' || !Number.isInteger(collusion) || collusion < 0 || collusion >= threshold) {
    throw new ConfigError(`${source}: "collusion" (c, parties that may collude with the aggregator) must be an integer with 0 ≤ c < t = ${threshold}`);
  }
  checkThreshold(parties.length, threshold, collusion, source);
  if (o['aggregator'] === undefined) {
    throw new ConfigError(
      `${source}: "aggregator" is missing: the roster must name the aggregator's identity, which signs transcript heads and receipts. ` +
        'Create its key with `blindsum keygen --id FEDERATION-aggregator --out aggregator.key` and write the roster with ' +
        '`blindsum roster … --aggregator aggregator.key.pub.json` (or add "aggregator": {"id": …, "publicKey": …} from that file); start the aggregator with --key aggregator.key',
    );
  }
  const aggregator = namedKey(o, 'aggregator', source, publicKeys)!;
  const operator = namedKey(o, 'operator', source, publicKeys);
  if (operator && aggregator.id === operator.id) throw new ConfigError(`${source}: the operator and the aggregator must have different ids`);
  return { federation, threshold, collusion, parties, publicKeys, aggregator, ...(operator ? { operator } : {}) };
}

/** The smallest threshold t with 2t > n + c (the default of `blindsum roster`). */
export function minimumThreshold(parties: number, collusion = 0): number {
  return Math.floor((parties + collusion) / 2) + 1;
}

/**
 * 2t > n + c: an aggregator (with c colluding parties) that shows two groups of honest parties
 * different survivor sets needs t signers in each, so with 2t ≤ n + c it could collect one
 * party's self-mask shares from one group and its mask-key shares from the other, and unmask its
 * input (Bonawitz et al., CCS 2017, active security). The same t is the CKKS decryption threshold.
 */
export function checkThreshold(parties: number, threshold: number, collusion: number, source = 'roster'): void {
  if (2 * threshold <= parties + collusion) {
    throw new ConfigError(
      `${source}: threshold t = ${threshold} is too small for ${parties} parties${collusion ? ` and c = ${collusion} colluding` : ''}: ` +
        `secure aggregation against a misbehaving aggregator needs 2t > n + c, i.e. t ≥ ${minimumThreshold(parties, collusion)}`,
    );
  }
}

/** An optional {"id", "publicKey"} entry of the roster (the aggregator's or the operator's key). */
function namedKey(o: Record<string, unknown>, field: 'aggregator' | 'operator', source: string, publicKeys: ReadonlyMap<string, Uint8Array>): RosterParty | undefined {
  if (o[field] === undefined) return undefined;
  const a = o[field] as Record<string, unknown> | null;
  if (typeof a !== 'object' || a === null) throw new ConfigError(`${source}: "${field}" must be an object {"id", "publicKey"}`);
  const id = validatePartyId(a['id'], `${source}: ${field}.id`);
  if (publicKeys.has(id)) throw new ConfigError(`${source}: ${field} id "${id}" is also a party id`);
  let publicKey: Uint8Array;
  try {
    publicKey = fromHex(String(a['publicKey'] ?? ''), 'publicKey');
  } catch {
    throw new ConfigError(`${source}: ${field}.publicKey must be a 64-character hex Ed25519 public key`);
  }
  if (publicKey.length !== 32) throw new ConfigError(`${source}: ${field}.publicKey must be 32 bytes (64 hex characters)`);
  return { id, publicKey };
}

export function loadRoster(path: string): Roster {
  let text: string;
  try {
    text = nodeFs().readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read roster file ${path}: ${(e as Error).message}`);
  }
  return parseRosterText(text, path);
}

/** A roster file's text (`name` names the file in errors), parsed and validated as loadRoster does. */
export function parseRosterText(text: string, name: string): Roster {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`roster file ${name} is not valid JSON: ${(e as Error).message}`);
  }
  return parseRoster(json, `roster ${name}`);
}
