/**
 * A party's check that a session is exactly what an authorized analyst asked for, before it
 * computes anything (docs/architecture.md, "Analyst identities"). The aggregator is not trusted:
 * it forwards, in every StartSession, the analyst's signed QueryRequest and the operator-signed
 * analyst roster, and the party verifies
 *   1. the analyst roster's signature against the operator key in the party's OWN roster file,
 *      its federation, and that its version is not lower than the highest this party has seen
 *      (persisted in the party ledger, so a revoked analyst cannot come back in an old roster);
 *   2. that the request's analyst is listed with role "analyst" and signed the request bytes;
 *   3. that the session id, analyst, backend, query (canonical form), ρ of the signed privacy
 *      parameters and, for CKKS, the analyst key's SHA-256 are exactly the signed ones;
 *   4. that the request was issued within the last hour (and not in the future).
 * Any mismatch is a Refuse naming the check.
 */
import type { StartSession } from '../../gen/blindsum/v1/blindsum.ts';
import { openAnalystRoster, type AnalystEntry, type AnalystRoster } from '../common/analysts.ts';
import { AnalystAuthError, canonicalQuery, openQueryRequest, REQUEST_SKEW_MS, requestRho } from '../common/query-request.ts';
import type { PartyConfig } from './config.ts';
import { Refuse } from './refuse.ts';
import type { PartyLedger } from './ledger.ts';

/** A party accepts a signed request at most this long after it was issued. */
export const PARTY_REQUEST_MAX_AGE_MS = 60 * 60_000;

export interface VerifiedAnalyst {
  analyst: AnalystEntry;
  rosterVersion: number;
}

export function checkAnalystRequest(cfg: PartyConfig, ledger: PartyLedger, req: StartSession, backend: 'secagg' | 'ckks', nowMs: number = Date.now()): VerifiedAnalyst {
  const federation = cfg.roster.federation;
  let analysts: AnalystRoster;
  try {
    analysts = openAnalystRoster(req.analystRoster, cfg.roster);
  } catch (e) {
    throw new Refuse(`analyst roster refused: ${(e as Error).message}`);
  }
  const highest = ledger.analystRosterVersion(federation);
  if (analysts.version < highest) {
    throw new Refuse(`analyst roster version ${analysts.version} is older than version ${highest} this party has already seen (an outdated roster may list revoked analysts)`);
  }
  if (analysts.version > highest) ledger.noteAnalystRosterVersion(federation, analysts.version);
  let opened: ReturnType<typeof openQueryRequest>;
  try {
    opened = openQueryRequest(req.signedRequest, req.requestSignature, analysts);
  } catch (e) {
    if (e instanceof AnalystAuthError) throw new Refuse(`analyst request refused: ${e.message}`);
    throw e;
  }
  const { request, analyst } = opened;
  if (request.queryId !== req.sessionId) throw new Refuse('the session id is not the query id the analyst signed');
  if (req.analyst !== analyst.id) throw new Refuse(`the session names analyst ${JSON.stringify(req.analyst.slice(0, 64))}, the request is signed by "${analyst.id}"`);
  if (request.backend !== req.backend || request.backend !== backend) throw new Refuse(`backend "${req.backend.slice(0, 32)}" differs from the backend the analyst signed ("${request.backend.slice(0, 32)}")`);
  let signed: string;
  try {
    signed = canonicalQuery(request.query);
  } catch (e) {
    throw new Refuse(`the signed query does not parse: ${(e as Error).message}`);
  }
  let asked: string;
  try {
    asked = canonicalQuery(req.query);
  } catch (e) {
    throw new Refuse(`the session's query does not parse: ${(e as Error).message}`);
  }
  if (signed !== asked) throw new Refuse('the query differs from the one the analyst signed (kind, columns, filter, bins or tables were changed)');
  let rho: number;
  try {
    rho = requestRho(request);
  } catch (e) {
    throw new Refuse(`the signed privacy parameters are invalid: ${(e as Error).message}`);
  }
  if (rho !== req.rho) throw new Refuse(`rho = ${req.rho} differs from the privacy cost the analyst signed (rho = ${rho})`);
  if (backend === 'ckks' && request.analystKeySha256 !== req.analystKeySha256) {
    throw new Refuse('the analyst CKKS key the result would be switched to is not the one the analyst signed');
  }
  const age = nowMs - Number(request.issuedAtMs);
  if (!(age <= PARTY_REQUEST_MAX_AGE_MS && age >= -REQUEST_SKEW_MS)) throw new Refuse(`the analyst's request was issued ${Math.round(age / 60_000)} minutes ago; this party accepts requests at most ${PARTY_REQUEST_MAX_AGE_MS / 60_000} minutes old`);
  return { analyst, rosterVersion: analysts.version };
}
