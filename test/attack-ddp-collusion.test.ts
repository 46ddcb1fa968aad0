/**
 * Attack: an aggregator colluding with c parties learns their noise shares (they hand them over)
 * and subtracts them from the decoded sum of a round in which one party dropped out (exactly t
 * contributors). What is left is the noise of the t − c honest parties, which the plan sized to the
 * target variance z²Δ₂² — the variance the job accountant (planEpsilon) charges for. With c + 1
 * colluders (more than the threat model allows) the residual falls below the target: the
 * collusion parameter is a trust assumption, and the test shows it is the one the plan uses.
 */
import { describe, expect, it } from 'vitest';
import { decodeSum, encodeUpdate, planDdp, planEpsilon } from '../crypto/dp/ddp-plan.ts';
import { rationalToNumber } from '../crypto/dp/rational.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);

function ringSum(parts: BigInt64Array[]): BigInt64Array {
  const out = new BigInt64Array(parts[0]!.length);
  for (const p of parts) for (let i = 0; i < out.length; i++) out[i] = BigInt.asIntN(64, out[i]! + p[i]!);
  return out;
}

function ringSub(a: BigInt64Array, b: BigInt64Array): BigInt64Array {
  return a.map((v, i) => BigInt.asIntN(64, v - b[i]!));
}

describe('attack: aggregator + c colluding parties subtract the colluders’ noise', () => {
  const d = 1000;
  const plan = planDdp({ d, clip: 1, parties: 6, threshold: 5, collusion: 2, noiseMultiplier: 1 });
  const target = plan.noiseMultiplier ** 2 * plan.l2Bound ** 2; // grid units

  /** Residual grid-unit variance per coordinate after removing `colluders` shares, t contributors. */
  function residualVariance(colluders: number, rounds: number, b: number): number {
    let sq = 0;
    let count = 0;
    for (let r = 0; r < rounds; r++) {
      const round = seed(b + r);
      const x = new Float64Array(d);
      x[r % d] = 1; // one patient's unit at party 0 (honest)
      // t = 5 contributors (party 5 dropped); parties 3, 4 (and 2 when c + 1) collude.
      const shares = [0, 1, 2, 3, 4].map((i) => encodeUpdate(plan, i === 0 ? [x] : [], round, seededRandomSource(seed(b * 7 + r * 11 + i))));
      let sum = ringSum(shares);
      for (let j = 0; j < colluders; j++) sum = ringSub(sum, shares[4 - j]!); // the colluders' own contributions, known exactly
      // Decode, remove the known signal, rescale to grid units.
      const got = decodeSum(plan, sum, round, 5);
      got[r % d]! -= 1;
      for (const v of got) sq += (v * plan.gamma) ** 2;
      count += d;
    }
    // The noise is i.i.d. per rotated coordinate, so after the orthogonal inverse rotation every
    // decoded coordinate still carries variance σ²/γ² (rescaled to grid units above).
    return sq / count;
  }

  it('with c colluders the residual noise of the t − c honest parties still has the target variance z²Δ₂²', () => {
    const v = residualVariance(2, 6, 40);
    expect(plan.noise.threshold).toBe(3);
    expect(v / target).toBeGreaterThan(0.93);
    expect(v / target).toBeLessThan(1.07);
    // …and the accountant charges exactly that noise: μ = z²Δ₂²/2 (t − c shares), not the 5 shares present.
    expect(plan.privacyMu / (target / 2) - 1).toBeLessThan(1e-9);
    expect(plan.privacyMu).toBeCloseTo(3 * rationalToNumber(plan.noise.perPartyMu), 6);
  });

  it('with c + 1 colluders (beyond the threat model) the residual is below the target, as the plan states', () => {
    const v = residualVariance(3, 6, 80);
    expect(v / target).toBeLessThan(0.75); // 2 honest shares of 3: ≈ 2/3
  });

  it('a sum from fewer than t contributors is refused at decoding', () => {
    const round = seed(3);
    const shares = [0, 1, 2, 3].map((i) => encodeUpdate(plan, [], round, seededRandomSource(seed(60 + i))));
    expect(() => decodeSum(plan, ringSum(shares), round, 4)).toThrow(/contributors/);
  });

  it('the job ε is computed for the t − c honest shares: a plan counting all n would claim less ε', () => {
    const job = { samplingRate: 0.01, rounds: 500, delta: 1e-6 };
    const honest = planEpsilon(plan, job).epsilon;
    const naive = planEpsilon({ ...plan, privacyMu: plan.privacyMu * (6 / 3) }, job).epsilon;
    expect(naive).toBeLessThan(honest);
  });
});

describe('attack: an aggregator reads the high bits of the 64-bit ring sum', () => {
  // Without the uniform lift, Σ(v_i mod 2^b) over the ring equals Σv_i + 2^b·#{i : v_i < 0}: the
  // aggregator would learn per coordinate how many parties' noised values were negative — a
  // function of individual contributions that the DP analysis of the sum does not cover.
  const plan = planDdp({ d: 256, clip: 1, parties: 3, threshold: 3, noiseMultiplier: 0.5 });
  it('contributions are uniform lifts: ≡ the value mod 2^b, high bits balanced', () => {
    const e = encodeUpdate(plan, [], seed(1), seededRandomSource(seed(2)));
    let odd = 0;
    for (const v of e) if ((BigInt.asUintN(64, v) >> BigInt(plan.bits)) & 1n) odd++;
    expect(Math.abs(odd - 128)).toBeLessThan(50); // ±6σ
  });
  it('the ring sum’s high bits do not reveal the number of negative contributions', () => {
    // Unlifted, S = Σ(v_i mod 2^b) would satisfy ⌊S/2^b⌋ = #{i : v_i < 0} − [Σv_i < 0] ∈ [−1, n]
    // on every coordinate; lifted, ⌊S/2^b⌋ is uniform on 2^(64−b) values.
    let small = 0;
    let total = 0;
    for (let r = 0; r < 10; r++) {
      const shares = [0, 1, 2].map((i) => encodeUpdate(plan, [], seed(200 + r), seededRandomSource(seed(100 + r * 7 + i))));
      const sum = ringSum(shares);
      for (const v of sum) {
        const high = BigInt.asUintN(64, v) >> BigInt(plan.bits);
        if (high <= 3n || high === (1n << BigInt(64 - plan.bits)) - 1n) small++;
        total++;
      }
      // The unlifted version of the same contributions does leak: check the test can see it.
      const unlifted = shares.map((e) => e.map((v) => BigInt.asUintN(plan.bits, v)));
      const leak = ringSum(unlifted);
      let exact = 0;
      for (let k = 0; k < plan.D; k++) {
        const neg = unlifted.filter((e) => BigInt.asIntN(plan.bits, e[k]!) < 0n).length;
        const trueSum = unlifted.reduce((acc, e) => acc + BigInt.asIntN(plan.bits, e[k]!), 0n);
        if (BigInt.asUintN(64, leak[k]!) === BigInt.asUintN(64, trueSum + (BigInt(neg) << BigInt(plan.bits)))) exact++;
      }
      expect(exact).toBe(plan.D);
    }
    expect(small / total).toBeLessThan(1e-3);
  });
});
