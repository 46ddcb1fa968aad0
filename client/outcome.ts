/**
 * The outcome of a query as the analyst reads it: the aggregator's GetResult answer, or, for a
 * CKKS release, the answer decrypted with the analyst's key, rounded and post-processed
 * (client/ckks-release.ts). No Node import: `blindsum query` / `blindsum result` and the web
 * console's analyst page build their outcome here.
 */
import type { GetResultResponse } from '../gen/blindsum/v1/blindsum.ts';
import type { NoiseVerdict, Query, QueryResult } from '../stats/index.ts';
import type { AnalystCkksKey } from './ckks-release.ts';

export interface QueryOutcome {
  queryId: string;
  status: string;
  error: string;
  result: QueryResult | undefined;
  contributors: string[];
  refusals: { partyId: string; reason: string }[];
  entryNames: string[];
  aggregate: number[];
  /** Exact integer sums on the fixed-point grid, and each entry's scale (value = sum / 2^scale). */
  exactSums: bigint[];
  scaleBits: number[];
  /** Differential privacy: 0 / empty for exact queries. */
  rhoCharged: number;
  rhoSpent: number;
  /** Noise standard deviation of each entry of `aggregate`. */
  noiseStd: number[];
  /** DP-noise standard deviation of each numeric result field, keyed like `numericFields`. */
  uncertainty: Record<string, number | null>;
  /**
   * DP results of mean, variance, covariance, correlation and linear_regression: whether the noise
   * leaves the result useful (status "ok" or "noise_dominates", with the rho needed;
   * stats/noise-verdict.ts). Absent for exact results and other kinds.
   */
  noise?: NoiseVerdict;
  elapsedMs: number;
  /** Backend "ckks": decrypted here, by the analyst's key (the aggregator holds only ciphertexts). */
  ckks?: {
    params: string;
    level: number;
    limbs: number;
    ciphertexts: number;
    /** Bytes of the encrypted release. */
    bytes: number;
    /** Largest |decrypted value − its rounding| in grid units (rounding is exact below 1/2). */
    maxRawError: number;
    decryptors: string[];
  };
}

/**
 * A CKKS result, decrypted with the analyst's key, rounded and post-processed (client/ckks-release.ts, loaded with node-seal only here);
 * `startedAt` (performance.now() at submission) makes elapsedMs include the decryption.
 */
export async function openCkksOutcome(query: Query, r: GetResultResponse, key: AnalystCkksKey, startedAt?: number): Promise<QueryOutcome> {
  const { openRelease } = await import('./ckks-release.ts');
  const o = await openRelease(query, r, key);
  const base = outcomeFromResponse(r, 0);
  return {
    ...base, result: o.result, error: o.postError || base.error, exactSums: o.sums, aggregate: o.sums.map((s, i) => Number(s) * 2 ** -r.scaleBits[i]!),
    uncertainty: o.uncertainty, ...(o.noise ? { noise: o.noise } : {}), elapsedMs: startedAt === undefined ? 0 : performance.now() - startedAt,
    ckks: { params: r.ckks!.params, level: o.level, limbs: o.limbs, ciphertexts: o.ciphertexts, bytes: o.bytes, maxRawError: o.maxRawError, decryptors: r.ckks!.decryptors },
  };
}

export function outcomeFromResponse(r: GetResultResponse, elapsedMs = 0): QueryOutcome {
  return {
    queryId: r.queryId, status: r.status, error: r.error,
    result: r.resultJson ? (JSON.parse(r.resultJson) as QueryResult) : undefined,
    contributors: r.contributors, refusals: r.refusals, entryNames: r.entryNames, aggregate: r.aggregate,
    exactSums: r.exactSums, scaleBits: r.scaleBits, rhoCharged: r.rhoCharged, rhoSpent: r.rhoSpent, noiseStd: r.noiseStd,
    uncertainty: r.uncertaintyJson ? (JSON.parse(r.uncertaintyJson) as Record<string, number | null>) : {},
    ...(r.noiseJson ? { noise: JSON.parse(r.noiseJson) as NoiseVerdict } : {}), elapsedMs,
  };
}
