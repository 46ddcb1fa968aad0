/**
 * The range check of released sums against the plan, the same for every backend (the analyst's
 * client for CKKS releases, the aggregator for secure-aggregation releases): a sum the honest
 * protocol cannot produce is refused, never shown as a result.
 *
 * Honest releases satisfy, for entry i on its grid (scale s_i, per-row bound b_i),
 *   |sum_i| ≤ k · maxRowsPerParty · ⌈b_i · 2^s_i⌉ + margin_i,   and   sum_i ≥ −margin_i
 * when the entry is non-negative (counts, rows used, sums of squares), with k the number of
 * contributors and margin_i = 10 standard deviations of the released DP noise on entry i
 * (0 for exact queries: then any violation is certain corruption; with DP a false alarm on an
 * entry has probability below 2·10^-11 — the Skellam tail beyond 10 σ: 1.3·10^-11 at σ = 0.7,
 * 1.5·10^-14 at σ = 1.4, 1.8·10^-21 at σ = 6.3). A party that encrypts huge values, or a decryptor whose
 * PCKS share is shifted by a large amount, lands outside with overwhelming probability; a lie
 * that stays inside the range cannot be told from data (docs/ckks-backend.md §5).
 */
import { releasedStdDev } from '../crypto/dp/distributed.ts';
import type { Plan } from './plan.ts';
import type { NoisePlan } from './privacy.ts';
import type { Schema } from './schema.ts';

/**
 * Largest |decrypted value − its rounding| (grid units) an honest decryption shows: the flooding
 * noise of t PCKS shares has σ = 2^floodingSigmaBits·√t/Δ ≈ 0.004·√t (N8192: 2^36/2^44), so 0.25
 * is over 60 σ at t = 1 and over 6 σ at t = 100 (docs/ckks-parameters.md). Beyond it a decryption
 * share is malformed (or shifted): the release is refused rather than rounded.
 */
export const MAX_RAW_DECRYPTION_ERROR = 0.25;

/** Standard deviations of the released noise tolerated beyond the data bound. */
export const RELEASE_NOISE_MARGIN_SD = 10;

export class ReleaseCheckError extends Error {
  /** Indices of the entries outside their range. */
  readonly entries: number[];
  constructor(message: string, entries: number[]) {
    super(message);
    this.name = 'ReleaseCheckError';
    this.entries = entries;
  }
}

export interface EntryRange {
  /** Smallest and largest value an honest release can hold, in grid units. */
  min: bigint;
  max: bigint;
}

/**
 * The honest range of every entry for `contributors` contributors (noise: the DP plan, if any).
 * Entries with the same bound, scale, sign and noise share one range object (a 10^6-cell table
 * computes it once).
 */
export function releaseRanges(plan: Plan, schema: Schema, contributors: number, noise?: NoisePlan): EntryRange[] {
  const k = Math.max(1, Math.min(Math.floor(contributors), plan.parties));
  const rows = BigInt(k) * BigInt(schema.maxRowsPerParty);
  let last: { bound: number; scale: number; nonNegative: boolean; noise: unknown; range: EntryRange } | undefined;
  return plan.entries.map((e, i) => {
    const scale = plan.scaleBits[i]!;
    const entryNoise = noise ? noise.perEntry[i]!.noise : undefined;
    const nonNegative = e.nonNegative === true;
    if (last && last.bound === e.bound && last.scale === scale && last.nonNegative === nonNegative && last.noise === entryNoise) return last.range;
    const term = BigInt(Math.ceil(e.bound * 2 ** scale));
    const margin = entryNoise ? BigInt(Math.ceil(RELEASE_NOISE_MARGIN_SD * releasedStdDev(entryNoise, k))) : 0n;
    const max = rows * term + margin;
    const range = { min: nonNegative ? -margin : -max, max };
    last = { bound: e.bound, scale, nonNegative, noise: entryNoise, range };
    return range;
  });
}

/**
 * Throws ReleaseCheckError naming every entry outside its honest range (at most 5 in the message)
 * and the range; returns nothing when every entry is inside.
 */
export function checkReleasedSums(plan: Plan, schema: Schema, sums: readonly bigint[], contributors: number, noise?: NoisePlan): void {
  if (sums.length !== plan.entries.length) throw new ReleaseCheckError(`the release holds ${sums.length} sums, the plan ${plan.entries.length}`, []);
  const ranges = releaseRanges(plan, schema, contributors, noise);
  const bad: number[] = [];
  sums.forEach((v, i) => {
    const r = ranges[i]!;
    if (v < r.min || v > r.max) bad.push(i);
  });
  if (bad.length === 0) return;
  const scaled = (x: bigint, i: number): string => {
    const s = plan.scaleBits[i]!;
    return s === 0 ? x.toString() : `${Number(x) * 2 ** -s} (${x} grid units)`;
  };
  const shown = bad.slice(0, 5).map((i) => `${JSON.stringify(plan.entries[i]!.name)} = ${scaled(sums[i]!, i)} is outside [${scaled(ranges[i]!.min, i)}, ${scaled(ranges[i]!.max, i)}]`);
  const more = bad.length > 5 ? ` and ${bad.length - 5} more` : '';
  const why = `${Math.max(1, Math.min(contributors, plan.parties))} contributors × ${schema.maxRowsPerParty} rows × the per-row bound${noise ? ` + ${RELEASE_NOISE_MARGIN_SD} standard deviations of the DP noise` : ''}`;
  throw new ReleaseCheckError(
    `release refused: ${bad.length} released sum${bad.length > 1 ? 's are' : ' is'} outside what the plan allows (${why}): ${shown.join('; ')}${more}. ` +
      'An honest federation cannot produce this: a party sent an out-of-range input or a decryption share is malformed.',
    bad,
  );
}
