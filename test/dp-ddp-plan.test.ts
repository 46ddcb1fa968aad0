import { describe, expect, it } from 'vitest';
import { decodeSum, describeDdpPlan, encodeUpdate, planDdp, planDdpForEpsilon, planEpsilon, type DdpPlan } from '../crypto/dp/ddp-plan.ts';
import { roundedL1Bound, roundedL2Bound } from '../crypto/dp/rounding.ts';
import { rationalToNumber } from '../crypto/dp/rational.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);

/** Units of norm exactly C pointing the same way (the worst case for the wrap bound). */
function alignedUnits(d: number, count: number, clip: number, b: number): Float64Array[] {
  const rng = seededRandomSource(seed(b));
  const x = Float64Array.from({ length: d }, () => rng.uint32() / 2 ** 32 - 0.5);
  const n = Math.sqrt(x.reduce((s, v) => s + v * v, 0));
  const u = x.map((v) => (v / n) * clip);
  return Array.from({ length: count }, () => u);
}

/** Sums party contributions on the 64-bit ring, as secure aggregation would. */
function ringSum(parts: BigInt64Array[]): BigInt64Array {
  const out = new BigInt64Array(parts[0]!.length);
  for (const p of parts) for (let i = 0; i < out.length; i++) out[i] = BigInt.asIntN(64, out[i]! + p[i]!);
  return out;
}

describe('planDdp: bits per coordinate and scale from n and the noise', () => {
  // The table in docs/training.md § Distributed noise: d = 1000 (D = 1024) and d = 65536, C = 1,
  // z = 1, t = ⌈2n/3⌉, c = 0, one unit per party (client-level, as TFF counts clients).
  const table: [number, number, number, number][] = [];
  for (const d of [1000, 65536]) {
    for (const n of [3, 10, 100, 1000]) {
      const p = planDdp({ d, clip: 1, parties: n, threshold: Math.ceil((2 * n) / 3), noiseMultiplier: 1 });
      table.push([d, n, p.bits, p.scaleBits]);
    }
  }
  it('reproduces the documented table (b, log₂γ)', () => {
    expect(table).toEqual([
      [1000, 3, 12, 7],
      [1000, 10, 12, 7],
      [1000, 100, 13, 7],
      [1000, 1000, 16, 7],
      [65536, 3, 15, 10],
      [65536, 10, 15, 10],
      [65536, 100, 15, 10],
      [65536, 1000, 17, 10],
    ]);
  });
  it('b grows with n and is within 2 bits of TFF’s rule of thumb (~12 at 100 clients, ~16 at 1000)', () => {
    for (const d of [1000, 65536]) {
      const bits = table.filter((r) => r[0] === d).map((r) => r[2]);
      for (let i = 1; i < bits.length; i++) expect(bits[i]!).toBeGreaterThanOrEqual(bits[i - 1]!);
      expect(Math.abs(bits[2]! - 12)).toBeLessThanOrEqual(3);
      expect(Math.abs(bits[3]! - 16)).toBeLessThanOrEqual(2);
    }
  });

  it('sizes each party’s Skellam share so that t − c contributors give z²Δ₂², with Δ₂, Δ₁ of KLS21', () => {
    const p = planDdp({ d: 500, clip: 2, parties: 7, threshold: 5, collusion: 2, noiseMultiplier: 1.3 });
    expect(p.D).toBe(512);
    expect(p.l2Bound).toBeCloseTo(roundedL2Bound(2 * p.gamma, 512), 12);
    expect(p.l1Bound).toBeCloseTo(roundedL1Bound(p.l2Bound, 512), 9);
    expect(p.noise.threshold).toBe(3); // t − c
    const target = (1.3 * p.l2Bound) ** 2;
    const perParty = 2 * rationalToNumber(p.noise.perPartyMu);
    expect(3 * perParty).toBeGreaterThanOrEqual(target);
    expect(3 * perParty / target - 1).toBeLessThan(1e-9);
    expect(p.privacyMu).toBeCloseTo(target / 2, 3);
    expect(p.overhead).toBeLessThanOrEqual(0.05);
    expect(p.wrapBound).toBeLessThanOrEqual(1e-9);
  });

  it('validates its inputs', () => {
    expect(() => planDdp({ d: 10, clip: 1, parties: 3, threshold: 4, noiseMultiplier: 1 })).toThrow(RangeError);
    expect(() => planDdp({ d: 10, clip: 1, parties: 3, threshold: 2, collusion: 2, noiseMultiplier: 1 })).toThrow(RangeError);
    expect(() => planDdp({ d: 10, clip: 0, parties: 3, threshold: 2, noiseMultiplier: 1 })).toThrow(RangeError);
    expect(() => planDdp({ d: 10, clip: 1, parties: 3, threshold: 2, noiseMultiplier: 1, bits: 3 })).toThrow(RangeError);
  });
});

describe('encodeUpdate / decodeSum: the mechanism end to end', () => {
  const d = 300;
  const plan = planDdp({ d, clip: 1, parties: 4, threshold: 3, collusion: 1, units: 400, noiseMultiplier: 0.8 });

  it('the decoded sum is the true sum within the stated error', () => {
    const rng = seededRandomSource(seed(20));
    const round = seed(21);
    const unitsPerParty = alignedUnits(d, 100, 1, 22);
    const parts = [0, 1, 2, 3].map(() => encodeUpdate(plan, unitsPerParty, round, rng));
    const got = decodeSum(plan, ringSum(parts), round, 4);
    const truth = unitsPerParty[0]!.map((v) => 400 * v);
    let sq = 0;
    for (let i = 0; i < d; i++) sq += (got[i]! - truth[i]!) ** 2;
    const rms = Math.sqrt(sq / d);
    // RMS error per coordinate ≈ totalStd (noise of 4 shares + rounding of 400 units).
    expect(rms).toBeGreaterThan(0.8 * plan.expectedError.totalStd);
    expect(rms).toBeLessThan(1.2 * plan.expectedError.totalStd);
  });

  it('a party that dropped out leaves t contributors: decoding works, the noise is (t/(t − c))·z²Δ₂²', () => {
    const rng = seededRandomSource(seed(23));
    const round = seed(24);
    const parts = [0, 1, 2].map(() => encodeUpdate(plan, [], round, rng));
    const got = decodeSum(plan, ringSum(parts), round, 3);
    const v = got.reduce((s, x) => s + x * x, 0) / d;
    const expected = (3 * 2 * rationalToNumber(plan.noise.perPartyMu)) / plan.gamma ** 2;
    expect(v / expected).toBeGreaterThan(0.8);
    expect(v / expected).toBeLessThan(1.2);
    expect(() => decodeSum(plan, ringSum(parts), round, 2)).toThrow(RangeError);
  });

  it('the worst-case aligned sum does not wrap at the planned b, and wraps when b is cut by 6 bits', () => {
    const rng = seededRandomSource(seed(25));
    const round = seed(26);
    const small: DdpPlan = { ...plan, bits: plan.bits - 6 };
    const units = alignedUnits(d, 100, 1, 27);
    const parts = [0, 1, 2, 3].map(() => encodeUpdate(plan, units, round, rng));
    const truth = units[0]!.map((v) => 400 * v);
    const ok = decodeSum(plan, ringSum(parts), round, 4);
    const bad = decodeSum(small, ringSum(parts), round, 4);
    const err = (x: Float64Array): number => Math.max(...x.map((v, i) => Math.abs(v - truth[i]!)));
    expect(err(ok)).toBeLessThan(8 * plan.expectedError.totalStd);
    expect(err(bad)).toBeGreaterThan(20 * plan.expectedError.totalStd);
  });

  it('refuses a unit above the clip, a wrong length, and more units than the plan bounds', () => {
    const rng = seededRandomSource(seed(28));
    const big = new Float64Array(d);
    big[0] = 1.01;
    expect(() => encodeUpdate(plan, big, seed(1), rng)).toThrow(/exceeds the clip/);
    expect(() => encodeUpdate(plan, new Float64Array(d + 1), seed(1), rng)).toThrow(RangeError);
    expect(() => encodeUpdate(plan, alignedUnits(d, 401, 1, 1), seed(1), rng)).toThrow(RangeError);
  });
});

describe('planDdpForEpsilon: the job accountant picks the noise', () => {
  it('meets the target ε at δ with the least noise multiplier (to 1e-4)', () => {
    const job = { samplingRate: 0.02, rounds: 200, delta: 1e-6 };
    const p = planDdpForEpsilon({ d: 300, clip: 1, parties: 3, threshold: 3, units: 600, epsilon: 4, ...job });
    expect(planEpsilon(p, job).epsilon).toBeLessThanOrEqual(4);
    const lower = planDdp({ d: 300, clip: 1, parties: 3, threshold: 3, units: 600, noiseMultiplier: p.noiseMultiplier * (1 - 1e-3) });
    expect(planEpsilon(lower, job).epsilon).toBeGreaterThan(4);
  });
});

describe('describeDdpPlan', () => {
  it('is JSON-safe and identical for the same options (parties recompute and compare)', () => {
    const o = { d: 100, clip: 1, parties: 5, threshold: 4, collusion: 1, noiseMultiplier: 1.1 };
    const a = JSON.stringify(describeDdpPlan(planDdp(o)));
    expect(JSON.stringify(describeDdpPlan(planDdp({ ...o })))).toBe(a);
    expect(JSON.stringify(describeDdpPlan(planDdp({ ...o, noiseMultiplier: 1.2 })))).not.toBe(a);
  });
});
