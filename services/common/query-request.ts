/**
 * The analyst's signed query request and signed reads (docs/architecture.md, "Analyst identities").
 *
 * A query runs only from a QueryRequest the analyst's client serialized once and signed with the
 * analyst's Ed25519 key (domain "analyst/query-request"); the aggregator and every party verify
 * the same bytes against the operator-signed analyst roster, and read what to compute from them.
 * Reads (GetResult, WatchQuery, GetBudget) carry metadata: the analyst id, a timestamp and a
 * signature (domain "analyst/read") over (method, analyst, timestamp, SHA-256 of the request bytes).
 */
import { verifyDomain } from '../../crypto/identity.ts';
import { QueryRequest, type QuerySpec, type SignedAnalystRoster } from '../../gen/blindsum/v1/blindsum.ts';
import { canonicalJson, privacyRho } from '../../stats/index.ts';
import type { AnalystEntry, AnalystRoster } from './analysts.ts';
import { queryFromProto } from './query-codec.ts';
import { QUERY_REQUEST_DOMAIN, READ_DOMAIN, READ_METADATA, readBody } from './query-signing.ts';

// The signing side (pure, shared with the web console) lives in query-signing.ts.
export { QUERY_REQUEST_DOMAIN, READ_DOMAIN, READ_METADATA, signQueryRequest, signRead } from './query-signing.ts';
/** Largest signed request accepted (a query spec with its filter and bins is far smaller). */
export const MAX_SIGNED_REQUEST_BYTES = 256 * 1024;
/** The aggregator accepts a request issued at most this far from its clock. */
export const REQUEST_SKEW_MS = 10 * 60_000;
/** Signed reads are accepted within this window. */
export const READ_SKEW_MS = 5 * 60_000;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What the aggregator forwards in every StartSession so that each party can verify the analyst (StartSession fields 12–14). */
export interface SessionAuthorization {
  signedRequest: Uint8Array;
  requestSignature: Uint8Array;
  analystRoster: SignedAnalystRoster;
}

/** Why a signed request or read is not accepted; `kind` picks the gRPC status. */
export class AnalystAuthError extends Error {
  readonly kind: 'unauthenticated' | 'permission' | 'invalid';
  constructor(kind: 'unauthenticated' | 'permission' | 'invalid', message: string) {
    super(message);
    this.name = 'AnalystAuthError';
    this.kind = kind;
  }
}

/**
 * Decodes a signed request and verifies it against the analyst roster: the analyst is listed with
 * role "analyst" (an auditor may not query), the signature is by that analyst's key, and the
 * federation is the roster's. Freshness and uniqueness are the caller's (they differ by role).
 */
export function openQueryRequest(signedRequest: Uint8Array, signature: Uint8Array, analysts: AnalystRoster): { request: QueryRequest; analyst: AnalystEntry } {
  if (signedRequest.length === 0) throw new AnalystAuthError('unauthenticated', 'the query is not signed: no signed request (create an analyst key with blindsum analyst keygen and sign with --analyst-key)');
  if (signedRequest.length > MAX_SIGNED_REQUEST_BYTES) throw new AnalystAuthError('invalid', `signed request larger than ${MAX_SIGNED_REQUEST_BYTES} bytes`);
  let request: QueryRequest;
  try {
    request = QueryRequest.decode(signedRequest);
  } catch {
    throw new AnalystAuthError('invalid', 'signed request does not decode as a QueryRequest');
  }
  const who = JSON.stringify(request.analyst.slice(0, 64));
  const analyst = analysts.analysts.get(request.analyst);
  if (!analyst) throw new AnalystAuthError('unauthenticated', `analyst ${who} is not in the analyst roster (version ${analysts.version})`);
  if (!verifyDomain(analyst.publicKey, QUERY_REQUEST_DOMAIN, signedRequest, signature)) {
    throw new AnalystAuthError('unauthenticated', `the request's signature does not verify against the key of analyst ${who} in the analyst roster`);
  }
  if (analyst.role !== 'analyst') throw new AnalystAuthError('permission', `${who} has role "${analyst.role}" in the analyst roster; only role "analyst" may submit queries`);
  if (request.federation !== analysts.federation) throw new AnalystAuthError('permission', `the request is for federation ${JSON.stringify(request.federation.slice(0, 64))}, this is "${analysts.federation}"`);
  if (!UUID.test(request.queryId)) throw new AnalystAuthError('invalid', 'the request\'s query id must be a random UUID (lowercase, as crypto.randomUUID)');
  return { request, analyst };
}

/** zCDP ρ of a request's privacy parameters (0 = exact). The one computation the aggregator and parties share. */
export function requestRho(request: QueryRequest): number {
  const p = request.privacy;
  if (!p || (!p.rho && !p.epsilon && !p.delta)) return 0;
  return privacyRho(p);
}

/** The canonical form of a wire query, for comparing what was signed with what a party is asked. */
export function canonicalQuery(spec: QuerySpec | undefined): string {
  return canonicalJson(queryFromProto(spec));
}

/** Checks a signed read; returns the analyst's roster entry. */
export function verifyRead(
  analysts: AnalystRoster, method: string, auth: { analyst: string; timestampMs: string; signature: Uint8Array }, requestBytes: Uint8Array, nowMs: number,
): AnalystEntry {
  if (!auth.analyst) throw new AnalystAuthError('unauthenticated', `${method} needs a signed read (metadata ${READ_METADATA.analyst}, ${READ_METADATA.timestamp}, ${READ_METADATA.signature}); use an AnalystClient with an analyst key`);
  const who = JSON.stringify(auth.analyst.slice(0, 64));
  const entry = analysts.analysts.get(auth.analyst);
  if (!entry) throw new AnalystAuthError('unauthenticated', `analyst ${who} is not in the analyst roster`);
  const ts = Number(auth.timestampMs);
  if (!/^\d{1,16}$/.test(auth.timestampMs) || Math.abs(ts - nowMs) > READ_SKEW_MS) {
    throw new AnalystAuthError('unauthenticated', `the read's timestamp is not within ±${READ_SKEW_MS / 60_000} minutes of the aggregator's clock`);
  }
  if (!verifyDomain(entry.publicKey, READ_DOMAIN, readBody(analysts.federation, method, auth.analyst, auth.timestampMs, requestBytes), auth.signature)) {
    throw new AnalystAuthError('unauthenticated', `the read's signature does not verify against the key of analyst ${who}`);
  }
  return entry;
}
