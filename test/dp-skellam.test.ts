import { describe, expect, it } from 'vitest';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { samplePoisson, samplePoissonVector, sampleSkellam, sampleSkellamVector } from '../crypto/dp/skellam.ts';
import { chiSquareTest, logGamma, moments, tally } from './dp-chi-square.ts';

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);

function poissonPmf(mu: number): (k: number) => number {
  return (k) => (k < 0 || !Number.isInteger(k) ? 0 : Math.exp(k * Math.log(mu) - mu - logGamma(k + 1)));
}

/** Skellam(μ) pmf: Σ_j Pois(j) Pois(j + |k|). */
function skellamPmf(mu: number): (k: number) => number {
  const pois = poissonPmf(mu);
  const top = Math.ceil(mu + 60 * Math.sqrt(mu) + 60);
  return (k) => {
    let s = 0;
    for (let j = 0; j <= top; j++) s += pois(j) * pois(j + Math.abs(k));
    return s;
  };
}

function poissonDraws(mu: number | string, n: number, seedByte: number): bigint[] {
  return samplePoissonVector(mu, n, seededRandomSource(seed(seedByte)));
}

describe('exact Poisson(μ) sampler (block-envelope rejection)', () => {
  it('fits Poisson(50) over 10^6 draws by chi-square (p > 0.001); rejects Poisson(51)', () => {
    // μ = 50: mode 50, block width 8; the pmf bins (≈ 18..83) reach blocks −4..+4, so both
    // halving branches of the envelope are exercised.
    const samples = poissonDraws(50, 1_000_000, 21);
    const counts = tally(samples);
    const r = chiSquareTest(counts, samples.length, poissonPmf(50), 50);
    expect(r.pValue).toBeGreaterThan(1e-3);
    expect(chiSquareTest(counts, samples.length, poissonPmf(51), 50).pValue).toBeLessThan(1e-6);
    const m = moments(samples);
    expect(Math.abs(m.mean - 50)).toBeLessThan(6 * Math.sqrt(50 / m.n));
    expect(Math.abs(m.variance - 50)).toBeLessThan(6 * 50 * Math.sqrt(2 / m.n));
  });
  it('fits Poisson(0.3) (mode 0, rational μ < 1) over 3·10^5 draws', () => {
    const samples = poissonDraws('3/10', 300_000, 22);
    const r = chiSquareTest(tally(samples), samples.length, poissonPmf(0.3), 0);
    expect(r.pValue).toBeGreaterThan(1e-3);
  });
  it('fits Poisson(10000 + 1/3) over 10^5 draws (p > 0.001)', () => {
    const mu = 10000 + 1 / 3;
    const samples = poissonDraws('30001/3', 100_000, 23);
    const r = chiSquareTest(tally(samples), samples.length, poissonPmf(mu), mu);
    expect(r.pValue).toBeGreaterThan(1e-3);
  });
  it('fits Poisson(10^6 + 1/2) over 10^5 draws in bins of width 50 (grouped-factor path, p > 0.001)', () => {
    // μ ≈ 10^6: block width W = 1001, factor groups of G = 8, so the cached group trials and the
    // prepared "2 × block" tail trials are both exercised.
    const mu = 1e6 + 0.5;
    const samples = poissonDraws('2000001/2', 100_000, 28);
    const width = 50;
    const bucket = (k: number): number => Math.floor((k - 1e6) / width);
    const pois = poissonPmf(mu);
    const bucketPmf = (b: number): number => {
      let s = 0;
      for (let k = 1e6 + b * width; k < 1e6 + (b + 1) * width; k++) s += pois(k);
      return s;
    };
    const r = chiSquareTest(tally(samples.map((k) => bucket(Number(k)))), samples.length, bucketPmf, 0);
    expect(r.bins).toBeGreaterThan(100);
    expect(r.pValue).toBeGreaterThan(1e-3);
    const m = moments(samples);
    expect(Math.abs(m.mean - mu)).toBeLessThan(6 * Math.sqrt(mu / m.n));
  });
});

describe('Skellam(μ) = Poisson(μ) − Poisson(μ)', () => {
  it('fits the Skellam(7/2) pmf over 10^6 draws by chi-square (p > 0.001); mean 0, variance 2μ', () => {
    const rng = seededRandomSource(seed(24));
    const samples = sampleSkellamVector('7/2', 1_000_000, rng);
    const counts = tally(samples);
    const r = chiSquareTest(counts, samples.length, skellamPmf(3.5), 0);
    expect(r.pValue).toBeGreaterThan(1e-3);
    expect(chiSquareTest(counts, samples.length, skellamPmf(3.5 * 1.03), 0).pValue).toBeLessThan(1e-6);
    const m = moments(samples);
    expect(Math.abs(m.mean)).toBeLessThan(6 * Math.sqrt(7 / m.n));
    expect(Math.abs(m.variance - 7)).toBeLessThan(6 * 7 * Math.sqrt(3 / m.n));
  });
  it('a sum of three Skellam(7/6) vectors fits Skellam(7/2) (2·10^5 draws)', () => {
    const n = 200_000;
    const parts = [31, 32, 33].map((b) => sampleSkellamVector('7/6', n, seededRandomSource(seed(b))));
    const sum = parts[0]!.map((x, i) => x + parts[1]![i]! + parts[2]![i]!);
    const r = chiSquareTest(tally(sum), n, skellamPmf(3.5), 0);
    expect(r.pValue).toBeGreaterThan(1e-3);
  });
  it('has variance 2μ at μ = 10^6 (4000 draws, within 6 standard errors)', () => {
    const m = moments(sampleSkellamVector(1e6, 4000, seededRandomSource(seed(25))));
    expect(Math.abs(m.mean)).toBeLessThan(6 * Math.sqrt(2e6 / m.n));
    expect(Math.abs(m.variance / 2e6 - 1)).toBeLessThan(6 * Math.sqrt(2 / m.n));
  });
  it('is reproducible under a seed and rejects μ ≤ 0 or a bad length', () => {
    expect(sampleSkellam(5, seededRandomSource(seed(26)))).toBe(sampleSkellamVector(5, 1, seededRandomSource(seed(26)))[0]);
    expect(samplePoisson(5, seededRandomSource(seed(26)))).toBe(samplePoissonVector(5, 1, seededRandomSource(seed(26)))[0]);
    const rng = seededRandomSource(seed(27));
    expect(() => samplePoisson(0, rng)).toThrow(/mu: expected a value > 0/);
    expect(() => sampleSkellam('-1/2', rng)).toThrow(RangeError);
    expect(() => sampleSkellamVector(1, 1.5, rng)).toThrow(/length/);
  });
});
