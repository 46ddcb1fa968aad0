/**
 * What an analyst's client signs (docs/architecture.md, "Analyst identities"): the query request
 * (domain "analyst/query-request") and signed reads (domain "analyst/read"). Pure, with no Node
 * import, so that the CLI's client and the web console (web/lib/analyst-client.ts) sign with the
 * same code; the aggregator's checks are in query-request.ts.
 */
import { sha256 } from '../../crypto/sha256.ts';
import { lengthPrefixed } from '../../crypto/bytes.ts';
import { signDomain } from '../../crypto/identity.ts';
import { QueryRequest } from '../../gen/blindsum/v1/blindsum.ts';

export const QUERY_REQUEST_DOMAIN = 'analyst/query-request';
export const READ_DOMAIN = 'analyst/read';

/** Metadata keys of a signed read (binary keys end in -bin; over the Connect protocol: headers, base64). */
export const READ_METADATA = { analyst: 'x-blindsum-analyst', timestamp: 'x-blindsum-timestamp', signature: 'x-blindsum-signature-bin' } as const;

/** Serializes `req` once and signs the exact bytes. */
export function signQueryRequest(secretKey: Uint8Array, req: QueryRequest): { signedRequest: Uint8Array; signature: Uint8Array } {
  const signedRequest = QueryRequest.encode(req).finish();
  return { signedRequest, signature: signDomain(secretKey, QUERY_REQUEST_DOMAIN, signedRequest) };
}

/** A signed read names its federation: a read captured at one federation's aggregator does not open another's. */
export function readBody(federation: string, method: string, analyst: string, timestampMs: string, requestBytes: Uint8Array): Uint8Array {
  return lengthPrefixed(federation, method, analyst, timestampMs, sha256(requestBytes));
}

export function signRead(secretKey: Uint8Array, federation: string, method: string, analyst: string, timestampMs: string, requestBytes: Uint8Array): Uint8Array {
  return signDomain(secretKey, READ_DOMAIN, readBody(federation, method, analyst, timestampMs, requestBytes));
}
