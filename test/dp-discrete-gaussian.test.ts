import { describe, expect, it } from 'vitest';
import {
  sampleDiscreteGaussian,
  sampleDiscreteGaussianVector,
  sampleDiscreteLaplace,
} from '../crypto/dp/discrete-gaussian.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { chiSquareTest, moments, tally } from './dp-chi-square.ts';

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);

/** Exact pmf of N_Z(0, σ²), normalised over |x| ≤ 40σ + 10 (the rest is below 1e-300). */
function discreteGaussianPmf(sigma2: number): (k: number) => number {
  const r = Math.ceil(40 * Math.sqrt(sigma2)) + 10;
  let z = 0;
  for (let x = -r; x <= r; x++) z += Math.exp((-x * x) / (2 * sigma2));
  return (k) => Math.exp((-k * k) / (2 * sigma2)) / z;
}

/** Exact variance of N_Z(0, σ²). */
function discreteGaussianVariance(sigma2: number): number {
  const pmf = discreteGaussianPmf(sigma2);
  const r = Math.ceil(40 * Math.sqrt(sigma2)) + 10;
  let v = 0;
  for (let x = -r; x <= r; x++) v += x * x * pmf(x);
  return v;
}

describe('discrete Gaussian N_Z(0, σ²) (CKS20 Algorithm 3)', () => {
  // 10^6 draws per σ²: ~2-3 s each on one core (measured; see docs/dp.md).
  for (const [label, sigma2, sigma2Number, seedByte] of [
    ['σ² = 7/2 (rational, σ < 2)', '7/2', 3.5, 11],
    ['σ² = 200 (σ ≈ 14.1)', 200, 200, 12],
  ] as const) {
    it(`fits the exact pmf over 10^6 draws by chi-square (p > 0.001), ${label}`, () => {
      const rng = seededRandomSource(seed(seedByte));
      const samples = sampleDiscreteGaussianVector(sigma2, 1_000_000, rng);
      const counts = tally(samples);
      const r = chiSquareTest(counts, samples.length, discreteGaussianPmf(sigma2Number), 0);
      expect(r.pValue).toBeGreaterThan(1e-3);
      // Power: the same draws are firmly rejected against a 3% wider distribution.
      const wrong = chiSquareTest(counts, samples.length, discreteGaussianPmf(sigma2Number * 1.03), 0);
      expect(wrong.pValue).toBeLessThan(1e-6);
      // Mean 0 and the exact variance (slightly below σ² for small σ): 6 standard errors.
      const m = moments(samples);
      const v = discreteGaussianVariance(sigma2Number);
      expect(Math.abs(m.mean)).toBeLessThan(6 * Math.sqrt(v / m.n));
      expect(Math.abs(m.variance - v)).toBeLessThan(6 * v * Math.sqrt(3 / m.n)); // kurtosis ≈ 3
    });
  }

  it('fits N_Z(0, σ²) for a large rational σ² = 1000000007/3 (bigint path) over 2·10^5 draws in bins of 500', () => {
    // σ ≈ 18257: the rejection exponent's denominator 2·p·q·t² ≈ 2·10^18 exceeds 2^32, so the
    // Bernoulli trials take the exact base-2^32 expansion path.
    const sigma2 = 1000000007 / 3;
    const samples = sampleDiscreteGaussianVector('1000000007/3', 200_000, seededRandomSource(seed(18)));
    const width = 500;
    const sigma = Math.sqrt(sigma2);
    // Bucket mass from the continuous-sum approximation is not exact; sum the exact pmf instead.
    // For σ this large the normalising constant is σ√(2π) to within 1e-300 (Poisson summation).
    const z = sigma * Math.sqrt(2 * Math.PI);
    const bucketPmf = (b: number): number => {
      let t = 0;
      for (let k = b * width; k < (b + 1) * width; k++) t += Math.exp((-k * k) / (2 * sigma2));
      return t / z;
    };
    const r = chiSquareTest(tally(samples.map((k) => Math.floor(Number(k) / width))), samples.length, bucketPmf, -0.5);
    expect(r.bins).toBeGreaterThan(100);
    expect(r.pValue).toBeGreaterThan(1e-3);
  });

  it('has variance ≈ σ² for a large σ² = 10^8 (2·10^4 draws, within 6 standard errors)', () => {
    const rng = seededRandomSource(seed(13));
    const m = moments(sampleDiscreteGaussianVector(1e8, 20_000, rng));
    expect(Math.abs(m.mean)).toBeLessThan(6 * Math.sqrt(1e8 / m.n));
    expect(Math.abs(m.variance / 1e8 - 1)).toBeLessThan(6 * Math.sqrt(2 / m.n));
  });

  it('accepts σ² as a number, a fraction string, a decimal string or a Rational, all the same law', () => {
    const a = sampleDiscreteGaussianVector(2.5, 50, seededRandomSource(seed(14)));
    const b = sampleDiscreteGaussianVector('5/2', 50, seededRandomSource(seed(14)));
    const c = sampleDiscreteGaussianVector('2.5', 50, seededRandomSource(seed(14)));
    const d = sampleDiscreteGaussianVector({ num: 10n, den: 4n }, 50, seededRandomSource(seed(14)));
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(d).toEqual(a);
    expect(sampleDiscreteGaussian(2.5, seededRandomSource(seed(14)))).toBe(a[0]);
  });

  it('rejects σ² ≤ 0 and a bad length, naming the field', () => {
    const rng = seededRandomSource(seed(15));
    expect(() => sampleDiscreteGaussian(0, rng)).toThrow(/sigma2: expected a value > 0/);
    expect(() => sampleDiscreteGaussian(-1, rng)).toThrow(RangeError);
    expect(() => sampleDiscreteGaussian(Number.NaN, rng)).toThrow(RangeError);
    expect(() => sampleDiscreteGaussianVector(1, -1, rng)).toThrow(/length/);
    expect(sampleDiscreteGaussianVector(1, 0, rng)).toEqual([]);
  });
});

describe('discrete Laplace Lap_Z(t/s) (CKS20 Algorithm 2)', () => {
  it('fits P[x] ∝ exp(−|x|·s/t) for s = 2, t = 5 over 3·10^5 draws (chi-square p > 0.001)', () => {
    const rng = seededRandomSource(seed(16));
    const samples: bigint[] = [];
    for (let i = 0; i < 300_000; i++) samples.push(sampleDiscreteLaplace(2n, 5n, rng));
    const q = Math.exp(-2 / 5);
    const pmf = (k: number): number => ((1 - q) / (1 + q)) * q ** Math.abs(k);
    const r = chiSquareTest(tally(samples), samples.length, pmf, 0);
    expect(r.pValue).toBeGreaterThan(1e-3);
  });
  it('rejects s or t below 1', () => {
    const rng = seededRandomSource(seed(17));
    expect(() => sampleDiscreteLaplace(0n, 1n, rng)).toThrow(RangeError);
    expect(() => sampleDiscreteLaplace(1n, 0n, rng)).toThrow(RangeError);
  });
});
