import { describe, expect, it } from 'vitest';
import { chiSquareTest, tally } from './dp-chi-square.ts';
import { crsCommitment, crsSeed, sampleCrp, xofSource } from '../crypto/ckks/crs.ts';
import { CkksContext, PARAMETER_SETS } from '../crypto/ckks/params.ts';
import { bernoulliExp, discreteGaussianSampler, gaussianVector, powerOfTwoSigma2, SMALL_SIGMA2, ternaryVector, uniformBelowBig, uniformPoly } from '../crypto/ckks/sampler.ts';

function moments(v: readonly bigint[]): { mean: number; variance: number } {
  const xs = v.map(Number);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  return { mean, variance };
}

describe('samplers', () => {
  it('ternary coefficients are in {−1, 0, 1}, each about 1/3 of the time', () => {
    const t = ternaryVector(30000);
    const counts = [0, 0, 0];
    for (const x of t) counts[x + 1]!++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(600); // > 7 standard deviations
  });

  it('discrete Gaussian σ = 3.2 has mean ≈ 0 and variance ≈ 10.24, integer values', () => {
    const v = gaussianVector(20000, SMALL_SIGMA2);
    const { mean, variance } = moments(v);
    expect(Math.abs(mean)).toBeLessThan(0.15);
    expect(Math.abs(variance - 10.24)).toBeLessThan(0.8);
    expect(v.every((x) => typeof x === 'bigint')).toBe(true);
  });

  it('flooding Gaussian σ = 2^30 has standard deviation ≈ 2^30', () => {
    const v = gaussianVector(8192, powerOfTwoSigma2(30));
    const { mean, variance } = moments(v);
    expect(Math.abs(mean) / 2 ** 30).toBeLessThan(0.06);
    expect(Math.abs(Math.sqrt(variance) / 2 ** 30 - 1)).toBeLessThan(0.06);
  });

  it('the float-decided acceptance of the flooding sampler returns exactly what the all-BigInt CKS20 path returns, draw for draw (σ = 2^12, 2^20, 2^30, 2^36)', () => {
    for (const bits of [12, 20, 30, 36]) {
      const seed = new Uint8Array(32).fill(bits);
      const fast = discreteGaussianSampler(...powerOfTwoSigma2(bits), xofSource(seed, 'sampler'));
      const exact = discreteGaussianSampler(...powerOfTwoSigma2(bits), xofSource(seed, 'sampler'), { bigIntOnly: true });
      const a = Array.from({ length: 20000 }, fast);
      const b = Array.from({ length: 20000 }, exact);
      expect(a).toEqual(b);
      const { mean, variance } = moments(a.map(BigInt));
      expect(Math.abs(mean) / 2 ** bits).toBeLessThan(0.05);
      expect(Math.abs(Math.sqrt(variance) / 2 ** bits - 1)).toBeLessThan(0.05);
    }
  });

  it('with the Laplace scale t = σ for an integer σ (σ = 4, 16) the samples fit the exact pmf of D_{Z,σ} by chi-square over 2·10^5 draws, and not a 3 % wider one', () => {
    for (const sigma of [4, 16]) {
      const sample = discreteGaussianSampler(BigInt(sigma * sigma), 1n, xofSource(new Uint8Array(32).fill(sigma), 'chi2'));
      const draws = Array.from({ length: 200_000 }, sample);
      const pmf = (s2: number): ((k: number) => number) => {
        let z = 0;
        for (let x = -40 * sigma; x <= 40 * sigma; x++) z += Math.exp((-x * x) / (2 * s2));
        return (k) => Math.exp((-k * k) / (2 * s2)) / z;
      };
      const counts = tally(draws);
      expect(chiSquareTest(counts, draws.length, pmf(sigma * sigma), 0).pValue).toBeGreaterThan(1e-3);
      expect(chiSquareTest(counts, draws.length, pmf(sigma * sigma * 1.03), 0).pValue).toBeLessThan(1e-3);
    }
  });

  it('Bernoulli(exp(−γ)) hits its probability for small and huge rationals', () => {
    const trials = 20000;
    for (const [n, d] of [[1n, 2n], [3n, 1n], [(1n << 100n) + 7n, 1n << 101n]] as const) {
      let hits = 0;
      for (let i = 0; i < trials; i++) if (bernoulliExp(n, d)) hits++;
      const p = Math.exp(-Number(n) / Number(d));
      expect(Math.abs(hits / trials - p)).toBeLessThan(6 * Math.sqrt((p * (1 - p)) / trials));
    }
  });

  it('uniform integers stay below their bound, including beyond 2^53', () => {
    const m = (1n << 61n) - 1n;
    for (let i = 0; i < 1000; i++) {
      const x = uniformBelowBig(m);
      expect(x >= 0n && x < m).toBe(true);
    }
    expect(() => uniformBelowBig(0n)).toThrow(RangeError);
  });
});

describe('common reference polynomial', () => {
  it('is reproducible from the seed, reduced mod every key-level prime, and changes with the seed or label', async () => {
    using ctx = await CkksContext.create(PARAMETER_SETS.N4096);
    const nonces = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
    const seed = crsSeed(nonces, nonces.map(crsCommitment));
    const a = sampleCrp(ctx, seed, 'ckg');
    expect(sampleCrp(ctx, seed, 'ckg')).toEqual(a);
    expect(sampleCrp(ctx, seed, 'other')).not.toEqual(a);
    const seed2 = crsSeed([nonces[1]!, nonces[0]!], [nonces[1]!, nonces[0]!].map(crsCommitment));
    expect(sampleCrp(ctx, seed2, 'ckg')).not.toEqual(a);
    for (let j = 0; j < ctx.keyLevel; j++) {
      for (let i = 0; i < ctx.N; i++) expect(a[j * ctx.N + i]! < ctx.moduli[j]!).toBe(true);
    }
    // residues use the whole range (top bit set about half the time for a ~60-bit prime)
    const q = ctx.moduli[0]!;
    const high = Array.from(a.subarray(0, ctx.N)).filter((x) => x >= q / 2n).length;
    expect(Math.abs(high - ctx.N / 2)).toBeLessThan(400);
    expect(() => sampleCrp(ctx, new Uint8Array(31), 'ckg')).toThrow(/seed/);
    // an XOF source gives the same stream for the same seed and label
    const u1 = uniformPoly(ctx.moduli, ctx.N, 1, xofSource(seed, 'x'));
    expect(uniformPoly(ctx.moduli, ctx.N, 1, xofSource(seed, 'x'))).toEqual(u1);
  });
});
