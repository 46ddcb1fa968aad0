import { describe, expect, it } from 'vitest';
import { rotate, rotationSigns } from '../crypto/dp/hadamard.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';
import {
  conditionalRound,
  DEFAULT_BETA,
  roundedL1Bound,
  roundedL2Bound,
  RoundingRejectedError,
  stochasticRound,
} from '../crypto/dp/rounding.ts';

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);

/** A random unit vector of dimension D, rotated (as the mechanism sees it), times c. */
function rotatedScaled(D: number, c: number, b: number): Float64Array {
  const rng = seededRandomSource(seed(b));
  const x = new Float64Array(D);
  for (let i = 0; i < D; i++) x[i] = rng.uint32() / 2 ** 32 - 0.5;
  const n = Math.sqrt(x.reduce((s, v) => s + v * v, 0));
  const y = rotate(x, rotationSigns(seed(b + 1), D));
  return y.map((v) => (v / n) * c);
}

describe('KLS21 conditional stochastic rounding', () => {
  it('Δ₂ is the KLS21 Theorem 1 bound: min(√(c² + D/4 + √(2 ln 1/β)(c + √D/2)), c + √D)', () => {
    // c = 100, D = 1024, β = e^(−1/2): √(2 ln(1/β)) = 1, so Δ₂² = 10000 + 256 + (100 + 16) = 10372.
    expect(roundedL2Bound(100, 1024, DEFAULT_BETA)).toBeCloseTo(Math.sqrt(10372), 10);
    // β = 0: the deterministic bound c + √D.
    expect(roundedL2Bound(100, 1024, 0)).toBe(132);
    // Small c, large D: the deterministic bound is the smaller one.
    expect(roundedL2Bound(0.5, 4, 1e-12)).toBe(2.5);
    expect(roundedL1Bound(10, 1024)).toBe(100); // Δ₂² < √D·Δ₂
    expect(roundedL1Bound(100, 16)).toBe(400); // √D·Δ₂
    expect(() => roundedL2Bound(1, 4, 1)).toThrow(RangeError);
  });

  it('stochastic rounding is unbiased (20000 draws, every coordinate within 5 standard errors)', () => {
    const z = Float64Array.from({ length: 16 }, (_, i) => -3.7 + 0.53 * i + 0.011 * i * i);
    const rng = seededRandomSource(seed(1));
    const N = 20000;
    const sum = new Float64Array(z.length);
    const out = new Float64Array(z.length);
    for (let k = 0; k < N; k++) {
      stochasticRound(z, rng, out);
      for (let i = 0; i < z.length; i++) {
        expect(Math.abs(out[i]! - z[i]!)).toBeLessThan(1);
        sum[i]! += out[i]!;
      }
    }
    for (let i = 0; i < z.length; i++) {
      const f = z[i]! - Math.floor(z[i]!);
      const se = Math.sqrt((f * (1 - f)) / N) + 1e-9;
      expect(Math.abs(sum[i]! / N - z[i]!)).toBeLessThan(5 * se + 1e-12);
    }
  });

  it('conditional rounding of a typical (rotated) vector is unbiased to within the rejected mass', () => {
    const D = 256;
    const c = 64;
    const z = rotatedScaled(D, c, 2);
    const bound = roundedL2Bound(c, D);
    const rng = seededRandomSource(seed(3));
    const N = 4000;
    const sum = new Float64Array(D);
    for (let k = 0; k < N; k++) {
      const { rounded } = conditionalRound(z, bound, rng);
      for (let i = 0; i < D; i++) sum[i]! += rounded[i]!;
    }
    let maxDev = 0;
    let meanDev = 0;
    for (let i = 0; i < D; i++) {
      maxDev = Math.max(maxDev, Math.abs(sum[i]! / N - z[i]!));
      meanDev += (sum[i]! / N - z[i]!) / D;
    }
    // Standard error ≤ 0.5/√N = 0.0079 per coordinate; 256 coordinates → max within ~4.5 SE.
    expect(maxDev).toBeLessThan(0.045);
    expect(Math.abs(meanDev)).toBeLessThan(0.005);
  });

  it('the norm bound holds on every accepted draw, also for worst-case inputs (all fractions ½)', () => {
    const D = 1024;
    const rng = seededRandomSource(seed(4));
    for (const c of [4, 32, 128]) {
      const bound = roundedL2Bound(c, D);
      // Every coordinate at fraction ½ (maximal rounding variance), scaled to norm ≤ c where possible.
      const base = Math.floor(c / Math.sqrt(D));
      const z = new Float64Array(D).fill(base + 0.5);
      const zn = Math.sqrt(D) * (base + 0.5);
      const zz = zn <= c ? z : z.map((v) => (v * c) / zn);
      for (let k = 0; k < 100; k++) {
        const { rounded } = conditionalRound(zz, bound, rng);
        let sq = 0;
        let l1 = 0;
        for (const v of rounded) {
          expect(Number.isInteger(v)).toBe(true);
          sq += v * v;
          l1 += Math.abs(v);
        }
        expect(Math.sqrt(sq)).toBeLessThanOrEqual(bound);
        expect(l1).toBeLessThanOrEqual(roundedL1Bound(bound, D));
      }
    }
  });

  it('resampling is rare for β = e^(−1/2) on typical inputs (measured ≈ 1.2% of draws, asserted < 5%; theory ≤ β)', () => {
    const D = 1024;
    const c = 128;
    const rng = seededRandomSource(seed(5));
    let rejected = 0;
    let draws = 0;
    for (let v = 0; v < 20; v++) {
      const z = rotatedScaled(D, c, 10 + v);
      const bound = roundedL2Bound(c, D);
      for (let k = 0; k < 100; k++) {
        const { attempts } = conditionalRound(z, bound, rng);
        rejected += attempts - 1;
        draws += attempts;
      }
    }
    expect(rejected / draws).toBeLessThan(0.05);
  });

  it('refuses an input whose norm is far above the bound (typed error) and oversize coordinates', () => {
    const z = new Float64Array(16).fill(10.5); // norm 42, bound for c = 4 is ~5
    expect(() => conditionalRound(z, roundedL2Bound(4, 16), seededRandomSource(seed(6)))).toThrow(RoundingRejectedError);
    expect(() => conditionalRound(new Float64Array([2 ** 27]), 1e9, seededRandomSource(seed(6)))).toThrow(RangeError);
  });
});
