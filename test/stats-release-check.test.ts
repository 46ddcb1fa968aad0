import { describe, expect, it } from 'vitest';
import { releasedStdDev } from '../crypto/dp/distributed.ts';
import {
  checkReleasedSums, DP_GRID_BITS, localStatistics, planNoise, planQuery, RELEASE_NOISE_MARGIN_SD, releaseRanges, ReleaseCheckError, type Query,
} from '../stats/index.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');
const variance: Query = { kind: 'variance', columns: ['alk.phos'], filter: [] };

describe('release range check (stats/release-check.ts)', () => {
  it('marks counts, rows used and sums of squares non-negative, and nothing else', () => {
    const plan = planQuery(variance, pbc.schema, { parties: 3, ringBits: 64 });
    expect(plan.entries.map((e) => e.nonNegative === true)).toEqual([true, false, true]);
    const cov = planQuery({ kind: 'covariance', columns: ['age', 'bili'], filter: [] }, pbc.schema, { parties: 3, ringBits: 64 });
    expect(cov.entries.filter((e) => e.nonNegative).map((e) => e.name)).toEqual(['n', 'sum((age-59)^2)', 'sum((bili-25)^2)']);
    const freq = planQuery({ kind: 'frequency', columns: ['stage'], filter: [] }, pbc.schema, { parties: 3, ringBits: 64 });
    expect(freq.entries.every((e) => e.nonNegative)).toBe(true);
  });

  it('exact ranges: k contributors × maxRowsPerParty × ⌈bound·2^s⌉, non-negative entries from 0', () => {
    const plan = planQuery(variance, pbc.schema, { parties: 3, ringBits: 64 });
    const r = releaseRanges(plan, pbc.schema, 2);
    expect(r[0]).toEqual({ min: 0n, max: 20000n });
    // Σ(alk.phos − 10000): bound 10000 (alk.phos ∈ [0, 20000] shifted by its centre)
    expect(r[1]).toEqual({ min: -(20000n * 10000n * 2n ** 24n), max: 20000n * 10000n * 2n ** 24n });
    expect(r[2]!.min).toBe(0n);
    // a claimed contributor count above the roster's n is capped at n
    expect(releaseRanges(plan, pbc.schema, 99)[0]!.max).toBe(30000n);
  });

  it('the true sums pass; an out-of-range or negative count is refused with the entry, the value and the range', () => {
    const plan = planQuery(variance, pbc.schema, { parties: 3, ringBits: 64 });
    const { sums } = localStatistics(variance, pbc.schema, plan, pbc.dataset);
    expect(() => checkReleasedSums(plan, pbc.schema, sums, 3)).not.toThrow();
    const big = [30001n, sums[1]!, sums[2]!];
    expect(() => checkReleasedSums(plan, pbc.schema, big, 3)).toThrow(ReleaseCheckError);
    expect(() => checkReleasedSums(plan, pbc.schema, big, 3)).toThrow(/release refused: 1 released sum is outside what the plan allows \(3 contributors × 10000 rows × the per-row bound\): "n" = 30001 is outside \[0, 30000\]/);
    let e: unknown;
    try {
      checkReleasedSums(plan, pbc.schema, [-1n, sums[1]!, -5n], 3);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(ReleaseCheckError);
    {
      expect((e as ReleaseCheckError).entries).toEqual([0, 2]);
      expect((e as Error).message).toMatch(/2 released sums are outside.*"n" = -1 is outside \[0, 30000\]; "sum\(\(alk\.phos-10000\)\^2\)" = -0\.000002384185791015625 \(-5 grid units\) is outside \[0 \(0 grid units\)/);
    }
  });

  it('with DP noise: 10 standard deviations of the released noise of k contributors below zero and above the data bound', () => {
    const q: Query = { kind: 'count', columns: [], filter: [] };
    const plan = planQuery(q, pbc.schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const noise = planNoise(q, pbc.schema, plan, { rho: 0.5, parties: 3, threshold: 2 });
    const margin = BigInt(Math.ceil(RELEASE_NOISE_MARGIN_SD * releasedStdDev(noise.perEntry[0]!.noise, 2)));
    expect(margin).toBeGreaterThan(0n);
    expect(releaseRanges(plan, pbc.schema, 2, noise)[0]).toEqual({ min: -margin, max: 20000n + margin });
    expect(() => checkReleasedSums(plan, pbc.schema, [-margin], 2, noise)).not.toThrow();
    expect(() => checkReleasedSums(plan, pbc.schema, [-margin - 1n], 2, noise)).toThrow(/\+ 10 standard deviations of the DP noise/);
  });
});
