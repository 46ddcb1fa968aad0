/**
 * The federation's analyst roster (analysts.json): who may query and audit, with which Ed25519
 * key and which zCDP budget, signed by the operator key that roster.json names. The file holds
 * the exact signed body (a JSON string) and the signature beside it, so nothing depends on
 * re-encoding JSON:
 *   {"type": "blindsum-analyst-roster", "body": "{\"federation\":…,\"version\":3,\"analysts\":[…]}", "signature": "<hex>"}
 * The aggregator loads it at start; it forwards the signed bytes in every StartSession and each
 * party verifies them against its own roster's operator key (services/party/analyst-check.ts).
 */
import { nodeFs } from './node-fs.ts';
import { fromHex, fromUtf8, toHex, utf8 } from '../../crypto/bytes.ts';
import { signDomain, verifyDomain } from '../../crypto/identity.ts';
import type { SignedAnalystRoster } from '../../gen/blindsum/v1/blindsum.ts';
import { ConfigError, validatePartyId, type Roster } from './roster.ts';

export const ANALYST_ROSTER_DOMAIN = 'analysts/roster';
export const ANALYST_ROLES = ['analyst', 'auditor'] as const;
export type AnalystRole = (typeof ANALYST_ROLES)[number];
/** Bounds of the signed body (it travels in every StartSession). */
const MAX_BODY_BYTES = 256 * 1024;
const MAX_ANALYSTS = 1000;

export interface AnalystEntry {
  readonly id: string;
  readonly publicKey: Uint8Array;
  readonly role: AnalystRole;
  /** zCDP budget of the analyst at the aggregator (0 for auditors). */
  readonly budgetRho: number;
}

export interface AnalystRoster {
  readonly federation: string;
  /** Increases with every change; parties refuse a version lower than the highest they have seen. */
  readonly version: number;
  readonly analysts: ReadonlyMap<string, AnalystEntry>;
  /** The exact signed bytes and the operator's signature (forwarded to the parties). */
  readonly signed: SignedAnalystRoster;
}

/** An analyst roster that does not verify or parse (mapped to a refusal or a config error by the caller). */
export class AnalystRosterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AnalystRosterError';
  }
}

export interface AnalystRosterBodyInput {
  federation: string;
  version: number;
  analysts: { id: string; publicKey: string; role: AnalystRole; budgetRho: number }[];
}

function parseBody(bytes: Uint8Array): Omit<AnalystRoster, 'signed'> {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(fromUtf8(bytes)) as Record<string, unknown>;
  } catch {
    throw new AnalystRosterError('analyst roster body is not valid JSON');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new AnalystRosterError('analyst roster body must be a JSON object');
  const federation = o['federation'];
  if (typeof federation !== 'string' || federation.length === 0 || federation.length > 128) throw new AnalystRosterError('analyst roster: "federation" must be a non-empty string');
  const version = o['version'];
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) throw new AnalystRosterError('analyst roster: "version" must be a positive integer');
  const list = o['analysts'];
  if (!Array.isArray(list) || list.length > MAX_ANALYSTS) throw new AnalystRosterError(`analyst roster: "analysts" must be a list of at most ${MAX_ANALYSTS} entries`);
  const analysts = new Map<string, AnalystEntry>();
  list.forEach((x, i) => {
    if (typeof x !== 'object' || x === null) throw new AnalystRosterError(`analyst roster: analysts[${i}] must be an object`);
    const e = x as Record<string, unknown>;
    let id: string;
    try {
      id = validatePartyId(e['id'], `analysts[${i}].id`);
    } catch (err) {
      throw new AnalystRosterError(`analyst roster: ${(err as Error).message}`);
    }
    if (analysts.has(id)) throw new AnalystRosterError(`analyst roster: "${id}" is listed twice`);
    let publicKey: Uint8Array;
    try {
      publicKey = fromHex(String(e['publicKey'] ?? ''), 'publicKey');
    } catch {
      publicKey = new Uint8Array(0);
    }
    if (publicKey.length !== 32) throw new AnalystRosterError(`analyst roster: analysts[${i}].publicKey must be a 64-character hex Ed25519 public key`);
    const role = e['role'];
    if (role !== 'analyst' && role !== 'auditor') throw new AnalystRosterError(`analyst roster: analysts[${i}].role must be "analyst" or "auditor"`);
    const budgetRho = e['budgetRho'] ?? 0;
    if (typeof budgetRho !== 'number' || !Number.isFinite(budgetRho) || budgetRho < 0 || budgetRho > 1000) {
      throw new AnalystRosterError(`analyst roster: analysts[${i}].budgetRho must be a zCDP budget in [0, 1000]`);
    }
    analysts.set(id, { id, publicKey, role, budgetRho });
  });
  return { federation, version, analysts };
}

/** Verifies the operator's signature, then parses the body; throws AnalystRosterError. */
export function openAnalystRoster(signed: SignedAnalystRoster | undefined, roster: Roster): AnalystRoster {
  if (!signed || signed.body.length === 0) throw new AnalystRosterError('no analyst roster');
  if (signed.body.length > MAX_BODY_BYTES) throw new AnalystRosterError(`analyst roster larger than ${MAX_BODY_BYTES} bytes`);
  const operator = roster.operator;
  if (!operator) throw new AnalystRosterError('the federation roster names no operator key ("operator": {"id", "publicKey"}), so the analyst roster cannot be verified');
  if (!verifyDomain(operator.publicKey, ANALYST_ROSTER_DOMAIN, signed.body, signed.signature)) {
    throw new AnalystRosterError(`the analyst roster is not signed by the federation's operator key (${operator.id})`);
  }
  const body = parseBody(signed.body);
  if (body.federation !== roster.federation) throw new AnalystRosterError(`analyst roster of federation "${body.federation.slice(0, 64)}", this federation is "${roster.federation}"`);
  return { ...body, signed: { body: signed.body, signature: signed.signature } };
}

/** Signs a roster body with the operator's secret key (blindsum analyst roster). */
export function signAnalystRoster(operatorSecretKey: Uint8Array, input: AnalystRosterBodyInput): SignedAnalystRoster {
  const bodyText = JSON.stringify({ federation: input.federation, version: input.version, analysts: input.analysts });
  const body = utf8(bodyText);
  parseBody(body);
  return { body, signature: signDomain(operatorSecretKey, ANALYST_ROSTER_DOMAIN, body) };
}

export function writeAnalystRosterFile(path: string, signed: SignedAnalystRoster): void {
  nodeFs().writeFileSync(path, JSON.stringify({ type: 'blindsum-analyst-roster', body: fromUtf8(signed.body), signature: toHex(signed.signature) }, null, 2) + '\n', { mode: 0o644 });
}

/** Reads analysts.json and verifies it against the federation roster (ConfigError on any problem). */
export function loadAnalystRoster(path: string, roster: Roster): AnalystRoster {
  let text: string;
  try {
    text = nodeFs().readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read analyst roster ${path}: ${(e as Error).message}`);
  }
  return parseAnalystRosterText(text, roster, path);
}

/** An analysts.json file's text (`path` names it in errors), verified against the federation roster as loadAnalystRoster does. */
export function parseAnalystRosterText(text: string, roster: Roster, path: string): AnalystRoster {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`cannot read analyst roster ${path}: ${(e as Error).message}`);
  }
  if (o?.['type'] !== 'blindsum-analyst-roster' || typeof o['body'] !== 'string' || typeof o['signature'] !== 'string') {
    throw new ConfigError(`analyst roster ${path}: expected {"type": "blindsum-analyst-roster", "body", "signature"} (create it with: blindsum analyst roster)`);
  }
  let signature: Uint8Array;
  try {
    signature = fromHex(o['signature'], 'signature');
  } catch {
    throw new ConfigError(`analyst roster ${path}: signature is not hex`);
  }
  try {
    return openAnalystRoster({ body: utf8(o['body']), signature }, roster);
  } catch (e) {
    throw new ConfigError(`analyst roster ${path}: ${(e as Error).message}`);
  }
}

/** Short, printable fingerprint of a public key (first 16 hex digits). */
export function keyFingerprint(publicKey: Uint8Array): string {
  return toHex(publicKey).slice(0, 16);
}
