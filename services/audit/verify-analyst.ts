/**
 * The auditor's check of who asked for each query (docs/transcripts.md): every QuerySubmitted
 * entry carries the analyst's signed QueryRequest and signature; given the operator-signed
 * analyst roster (analysts.json, verified against the roster's operator key when loaded), the
 * verifier checks the signature, the analyst's role, and that the logged query, backend, analyst
 * and ρ are exactly the signed ones; every StartSession must forward that same signed request.
 */
import { equalBytes, fromBase64 } from '../../crypto/bytes.ts';
import type { StartSession } from '../../gen/blindsum/v1/blindsum.ts';
import { canonicalJson, type Query } from '../../stats/index.ts';
import { openAnalystRoster, type AnalystRoster } from '../common/analysts.ts';
import type { Roster } from '../common/roster.ts';
import { AnalystAuthError, canonicalQuery, openQueryRequest, requestRho } from '../common/query-request.ts';
import type { QuerySubmittedRecord } from '../common/transcript-records.ts';

function base64(s: unknown): Uint8Array | undefined {
  if (typeof s !== 'string' || s.length === 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  return fromBase64(s);
}

/** The signed request bytes of a QuerySubmitted record, or undefined when it carries none. */
export function submittedRequest(rec: QuerySubmittedRecord): { signedRequest: Uint8Array; signature: Uint8Array } | undefined {
  const signedRequest = base64(rec.signedRequest);
  const signature = base64(rec.signature);
  return signedRequest && signature ? { signedRequest, signature } : undefined;
}

/** Why the logged submission is not what an analyst on `analysts` signed, or undefined when it is. */
export function checkSubmittedRequest(rec: QuerySubmittedRecord, query: Query, analysts: AnalystRoster): string | undefined {
  const signed = submittedRequest(rec);
  if (!signed) return 'the query carries no analyst-signed request (signedRequest and signature): nothing shows that an analyst asked for it';
  let opened: ReturnType<typeof openQueryRequest>;
  try {
    opened = openQueryRequest(signed.signedRequest, signed.signature, analysts);
  } catch (e) {
    if (e instanceof AnalystAuthError) return `analyst request: ${e.message}`;
    throw e;
  }
  const { request, analyst } = opened;
  if (request.queryId !== rec.queryId) return `the signed request is for query ${request.queryId}, logged as ${rec.queryId}`;
  if (analyst.id !== rec.analyst) return `the request is signed by "${analyst.id}", the query is logged for "${rec.analyst}"`;
  if (request.backend !== rec.backend) return `the analyst signed backend "${request.backend}", the logged backend is "${rec.backend}"`;
  if (canonicalQuery(request.query) !== canonicalJson(query)) return 'the logged query differs from the query the analyst signed';
  if (requestRho(request) !== rec.rho) return `the logged rho = ${rec.rho} differs from the privacy cost the analyst signed (rho = ${requestRho(request)})`;
  if ((rec.analystRosterVersion ?? 0) > analysts.version) {
    return `the query was logged under analyst roster version ${rec.analystRosterVersion}, newer than the analysts.json given to the verifier (version ${analysts.version}): verify with the current analyst roster`;
  }
  if (rec.analystRosterVersion === analysts.version && (!rec.policy || rec.policy.budgetRho !== analyst.budgetRho)) {
    return `the charge limit ${rec.policy?.budgetRho} differs from ${analyst.id}'s budget ${analyst.budgetRho} in analyst roster version ${analysts.version}`;
  }
  return undefined;
}

/**
 * Why a StartSession does not forward the submitted signed request, or undefined when it does.
 * With the federation roster, the operator-signed analyst roster it forwards (what every party
 * verified) must also be the version logged at submission, and the analyst's budget in it the
 * limit the aggregator charged against: the aggregator cannot use another budget than the signed one.
 */
export function checkStartForwardsRequest(rec: QuerySubmittedRecord, start: StartSession, roster?: Roster, given?: AnalystRoster): string | undefined {
  const signed = submittedRequest(rec);
  if (!signed) return undefined;
  if (!equalBytes(start.signedRequest, signed.signedRequest) || !equalBytes(start.requestSignature, signed.signature)) {
    return 'StartSession forwards another analyst request than the one logged at submission';
  }
  if (!roster) return undefined;
  let forwarded: AnalystRoster;
  try {
    forwarded = openAnalystRoster(start.analystRoster, roster);
  } catch (e) {
    return `StartSession forwards an analyst roster that does not verify against the operator key: ${(e as Error).message}`;
  }
  if (forwarded.version !== rec.analystRosterVersion) return `the query was logged under analyst roster version ${rec.analystRosterVersion}, StartSession forwards version ${forwarded.version}`;
  if (given && forwarded.version > given.version) return `StartSession forwards analyst roster version ${forwarded.version}, newer than the analysts.json given to the verifier (version ${given.version}): verify with the current analyst roster`;
  const entry = forwarded.analysts.get(rec.analyst);
  if (!entry) return `analyst "${rec.analyst}" is not in the analyst roster StartSession forwards`;
  if (!rec.policy || rec.policy.budgetRho !== entry.budgetRho) {
    return `the aggregator charged ${rec.analyst} against a limit of ${rec.policy?.budgetRho}, the operator-signed analyst roster (version ${forwarded.version}) gives ${entry.budgetRho}`;
  }
  return undefined;
}
