/**
 * An operator key, an analyst key and the operator-signed analyst roster, for tests that drive
 * party session logic directly (as a malicious or honest aggregator would): every StartSession
 * must carry the analyst's signed request and the signed analyst roster (docs/architecture.md,
 * "Analyst identities").
 */
import { toHex } from '../crypto/bytes.ts';
import { generateIdentity, type IdentityKeyPair } from '../crypto/identity.ts';
import type { SignedAnalystRoster } from '../gen/blindsum/v1/blindsum.ts';
import { signAnalystRoster, writeAnalystRosterFile } from '../services/common/analysts.ts';
import { writeNewIdentityFile } from '../services/common/keys.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { queryToProto } from '../services/common/query-codec.ts';
import { signQueryRequest } from '../services/common/query-request.ts';
import type { Query } from '../stats/index.ts';

export interface TestAnalysts {
  federation: string;
  operator: IdentityKeyPair;
  analystId: string;
  analyst: IdentityKeyPair;
  roster: SignedAnalystRoster;
  /** The roster.json field naming the operator key. */
  operatorEntry: { id: string; publicKey: string };
}

export function testAnalysts(federation: string, analystId = 'alice'): TestAnalysts {
  const operator = generateIdentity();
  const analyst = generateIdentity();
  const roster = signAnalystRoster(operator.secretKey, {
    federation, version: 1, analysts: [{ id: analystId, publicKey: toHex(analyst.publicKey), role: 'analyst', budgetRho: 100 }],
  });
  return { federation, operator, analystId, analyst, roster, operatorEntry: { id: `${federation}-operator`, publicKey: toHex(operator.publicKey) } };
}

/** The StartSession fields an honest aggregator forwards for the analyst's signed request. */
export function authorize(
  a: TestAnalysts, r: { sessionId: string; query: Query; backend: 'secagg' | 'ckks'; rho: number; analystKeySha256?: string },
): { analyst: string; signedRequest: Uint8Array; requestSignature: Uint8Array; analystRoster: SignedAnalystRoster } {
  const { signedRequest, signature } = signQueryRequest(a.analyst.secretKey, {
    queryId: r.sessionId, federation: a.federation, analyst: a.analystId, query: queryToProto(r.query), backend: r.backend,
    privacy: { rho: r.rho, epsilon: 0, delta: 0 }, analystKeySha256: r.analystKeySha256 ?? '', issuedAtMs: BigInt(Date.now()),
  });
  return { analyst: a.analystId, signedRequest, requestSignature: signature, analystRoster: a.roster };
}

/** Several analysts under one operator (ids → Ed25519 keys), each with role "analyst" and budget 100. */
export function testTeam(federation: string, ids: string[]): { operator: IdentityKeyPair; keys: Map<string, IdentityKeyPair>; roster: SignedAnalystRoster; operatorEntry: { id: string; publicKey: string } } {
  const operator = generateIdentity();
  const keys = new Map(ids.map((id) => [id, generateIdentity()]));
  const roster = signAnalystRoster(operator.secretKey, {
    federation, version: 1, analysts: ids.map((id) => ({ id, publicKey: toHex(keys.get(id)!.publicKey), role: 'analyst' as const, budgetRho: 100 })),
  });
  return { operator, keys, roster, operatorEntry: { id: `${federation}-operator`, publicKey: toHex(operator.publicKey) } };
}

/**
 * The files of a three-party federation "fed" in `dir`, for tests that start an aggregator:
 * hospital-1..3.key, aggregator.key, roster.json (t = 2, with the operator key) and analysts.json
 * (analyst alice).
 */
export function writeFederationFiles(dir: string): void {
  const team = testTeam('fed', ['alice']);
  const entries = ['hospital-1', 'hospital-2', 'hospital-3'].map((id) => ({ id, publicKey: toHex(writeNewIdentityFile(join(dir, `${id}.key`), id).identity.publicKey) }));
  const aggKey = writeNewIdentityFile(join(dir, 'aggregator.key'), 'fed-aggregator');
  writeFileSync(join(dir, 'roster.json'), JSON.stringify({ federation: 'fed', threshold: 2, parties: entries, aggregator: { id: 'fed-aggregator', publicKey: toHex(aggKey.identity.publicKey) }, operator: team.operatorEntry }));
  writeAnalystRosterFile(join(dir, 'analysts.json'), team.roster);
}
