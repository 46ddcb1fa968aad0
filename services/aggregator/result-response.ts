/**
 * GetResult's answer for a stored query: built on the release thread for secure-aggregation
 * results (O(entries) to decode and encode at 10^6 entries), on the event loop for CKKS ones
 * (their entries travel encrypted in `ckks`, the rest is small). One definition for both.
 */
import type { CkksRelease, GetResultResponse } from '../../gen/blindsum/v1/blindsum.ts';
import type { StoredQuery } from './store.ts';

export function resultResponse(q: StoredQuery, ckks: CkksRelease | undefined): GetResultResponse {
  return {
    queryId: q.id, status: q.status, error: q.error, query: q.spec, backend: q.backend, resultJson: q.resultJson,
    entryNames: q.entryNames, aggregate: q.aggregate, contributors: q.contributors, refusals: q.refusals,
    planDigest: q.planDigest, submittedAtMs: BigInt(q.submittedAtMs), finishedAtMs: BigInt(q.finishedAtMs),
    rhoCharged: q.rhoCharged, rhoSpent: q.rhoSpent, noiseStd: q.noiseStd, uncertaintyJson: q.uncertaintyJson, noiseJson: q.noiseJson,
    exactSums: q.exactSums.map((x) => BigInt(x)), scaleBits: q.scaleBits, ckks,
  };
}
