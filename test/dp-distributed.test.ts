import { describe, expect, it } from 'vitest';
import { rhoSkellam } from '../crypto/dp/accountant.ts';
import {
  gridSensitivity,
  perPartyNoise,
  planDistributedNoise,
  planDistributedNoiseForRho,
  releasedRho,
  releasedStdDev,
  releasedVariance,
} from '../crypto/dp/distributed.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { moments } from './dp-chi-square.ts';

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);

describe('gridSensitivity: sensitivity × 2^scale, rounded up, per entry', () => {
  it('rounds Δ·2^s up exactly, with a scale per entry', () => {
    // Entries: a count (Δ = 1, scale 0), a sum of values in [0, 0.1] at scale 16, a sum at scale 8.
    const g = gridSensitivity([1, '0.1', 2.5], [0, 16, 8]);
    // 0.1 · 65536 = 6553.6 → 6554; 2.5 · 256 = 640 exactly.
    expect(g.perEntry).toEqual([1n, 6554n, 640n]);
    expect(g.l1).toBe(1n + 6554n + 640n);
    expect(g.l2Squared).toBe(1n + 6554n * 6554n + 640n * 640n);
    expect(g.l2).toBeGreaterThanOrEqual(Math.sqrt(1 + 6554 ** 2 + 640 ** 2));
    expect(g.l2 / Math.sqrt(1 + 6554 ** 2 + 640 ** 2) - 1).toBeLessThan(1e-9);
  });
  it('uses the exact binary value of a number: 0.1 (slightly above 1/10) at scale 0 rounds up to 1', () => {
    expect(gridSensitivity([0.1], [0]).perEntry).toEqual([1n]);
    expect(gridSensitivity([0], [10]).perEntry).toEqual([0n]);
  });
  it('supports negative scales (coarser grid): 1000 at scale −3 is 125, 1001 rounds up to 126', () => {
    expect(gridSensitivity([1000, 1001], [-3, -3]).perEntry).toEqual([125n, 126n]);
  });
  it('multiplies by rows per patient after the ceiling: two rows at b·2^s = 0.5 can move the sum by 2', () => {
    // Each row's term 0.5 (scale 0) rounds (half away from zero) to 1, so two rows move it by 2,
    // more than ⌈2 · 0.5⌉ = 1.
    expect(gridSensitivity([0.5], [0], 2).perEntry).toEqual([2n]);
    expect(gridSensitivity(['0.1'], [16], 3).perEntry).toEqual([3n * 6554n]);
    expect(() => gridSensitivity([1], [0], 0)).toThrow(/rowsPerPatient/);
  });
  it('rejects mismatched lengths and bad scales, naming the field', () => {
    expect(() => gridSensitivity([1, 2], [0])).toThrow(/scaleBits: expected one scale per entry/);
    expect(() => gridSensitivity([1], [2000])).toThrow(/scaleBits\[0\]/);
    expect(() => gridSensitivity([1], [0.5])).toThrow(/scaleBits\[0\]/);
    expect(() => gridSensitivity([-1], [0])).toThrow(/perEntryBound\[0\]/);
  });
});

describe('planDistributedNoise: shares sized so that any t survivors supply σ²', () => {
  it('gives each party Skellam μ = σ²/(2t) and reports kσ²/t for k contributors', () => {
    const plan = planDistributedNoise({ targetVariance: 300, parties: 5, threshold: 3 });
    expect(plan.mechanism).toBe('skellam');
    expect(plan.perPartyMu).toEqual({ num: 50n, den: 1n });
    expect(releasedVariance(plan, 3)).toEqual({ num: 300n, den: 1n });
    expect(releasedVariance(plan, 5)).toEqual({ num: 500n, den: 1n });
    expect(releasedStdDev(plan, 4)).toBeCloseTo(20, 12);
  });
  it('keeps σ² exact when it does not divide: σ² = 10, t = 3 → μ = 5/3', () => {
    const plan = planDistributedNoise({ targetVariance: 10, parties: 4, threshold: 3 });
    expect(plan.perPartyMu).toEqual({ num: 5n, den: 3n });
    expect(releasedVariance(plan, 4)).toEqual({ num: 40n, den: 3n });
  });
  it('refuses to report a release with fewer than t contributors, and bad n, t', () => {
    const plan = planDistributedNoise({ targetVariance: 300, parties: 5, threshold: 3 });
    expect(() => releasedVariance(plan, 2)).toThrow(/noise is below target/);
    expect(() => releasedVariance(plan, 6)).toThrow(RangeError);
    expect(() => planDistributedNoise({ targetVariance: 1, parties: 2, threshold: 3 })).toThrow(/threshold/);
    expect(() => planDistributedNoise({ targetVariance: 1, parties: 0, threshold: 1 })).toThrow(/parties/);
    expect(() => planDistributedNoise({ targetVariance: 0, parties: 2, threshold: 1 })).toThrow(/targetVariance/);
  });
  it('the summed noise of t, and of all n, parties has variance σ² and nσ²/t (10^5 coordinates, 6 SE)', () => {
    const plan = planDistributedNoise({ targetVariance: 300, parties: 5, threshold: 3 });
    const length = 100_000;
    const shares = [41, 42, 43, 44, 45].map((b) => perPartyNoise(plan, length, seededRandomSource(seed(b))));
    const sum = (k: number): bigint[] =>
      Array.from({ length }, (_, i) => shares.slice(0, k).reduce((acc, s) => acc + s[i]!, 0n));
    for (const k of [3, 5]) {
      const expected = (300 * k) / 3;
      const m = moments(sum(k));
      expect(Math.abs(m.mean)).toBeLessThan(6 * Math.sqrt(expected / length));
      // Skellam's excess kurtosis 1/(2μ) is negligible here: SE of the variance ≈ σ²√(2/n).
      expect(Math.abs(m.variance / expected - 1)).toBeLessThan(6 * Math.sqrt(2 / length));
    }
  });
  it('released sums of fixed-point values (scale 8) are unbiased with the declared noise scale', () => {
    // Three parties hold 1.25, 2.5, −0.75 on a 2^8 grid; each adds its share; 2000 repetitions.
    const plan = planDistributedNoise({ targetVariance: 4096, parties: 3, threshold: 2 });
    const values = [1.25, 2.5, -0.75];
    const rngs = [51, 52, 53].map((b) => seededRandomSource(seed(b)));
    const reps = 2000;
    const noises = rngs.map((rng) => perPartyNoise(plan, reps, rng));
    const decoded = Array.from({ length: reps }, (_, r) => {
      let total = 0n;
      for (const [i, v] of values.entries()) total += BigInt(Math.round(v * 256)) + noises[i]![r]!;
      return Number(total) / 256;
    });
    const declaredSd = releasedStdDev(plan, 3) / 256; // √(3·4096/2)/256 ≈ 0.306
    const m = moments(decoded);
    expect(Math.abs(m.mean - 3)).toBeLessThan(6 * (declaredSd / Math.sqrt(reps)));
    // SE of a sample sd ≈ sd/√(2n): 6 SE ≈ 9.5%.
    expect(Math.abs(Math.sqrt(m.variance) / declaredSd - 1)).toBeLessThan(6 / Math.sqrt(2 * reps));
  });
});

describe('planDistributedNoiseForRho', () => {
  it('meets ρ exactly at t contributors and costs less when more parties contribute', () => {
    const sensitivity = gridSensitivity([1, 1], [0, 12]); // a count and a sum of values in [0, 1]
    const plan = planDistributedNoiseForRho({ rho: 0.05, sensitivity, parties: 6, threshold: 4 });
    const atT = releasedRho(plan, 4, sensitivity);
    expect(atT).toBeLessThanOrEqual(0.05);
    expect(atT).toBeGreaterThan(0.05 * 0.999);
    expect(releasedRho(plan, 6, sensitivity)).toBeLessThan(atT);
    // Cross-check against the accountant directly: total μ = σ²/2 at t contributors.
    const mu = Number(plan.targetVariance.num) / Number(plan.targetVariance.den) / 2;
    expect(atT).toBeCloseTo(rhoSkellam(Number(sensitivity.l1), sensitivity.l2, mu), 12);
  });
});
