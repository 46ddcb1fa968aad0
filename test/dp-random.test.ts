import { describe, expect, it } from 'vitest';
import { toHex } from '../crypto/bytes.ts';
import {
  bernoulliExpNeg,
  bernoulliPrepared,
  bernoulliRational,
  cryptoRandomSource,
  prepareBernoulli,
  seededRandomSource,
  uniformBigInt,
  uniformInt,
} from '../crypto/dp/random.ts';
import { isqrt, toRational } from '../crypto/dp/rational.ts';
import { chiSquareSurvival, chiSquareTest, tally } from './dp-chi-square.ts';

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);

describe('chi-square helper', () => {
  it('matches the 0.05 and 1e-6 critical values of scipy.stats.chi2.isf', () => {
    const table: [number, number, number][] = [
      [1, 3.8414588206941285, 23.928126976934827],
      [10, 18.30703805327515, 46.863046846784385],
      [100, 124.34211340400408, 182.12677711954765],
      [1000, 1074.679448803441, 1227.1524211875756],
    ];
    for (const [df, x05, x6] of table) {
      expect(chiSquareSurvival(x05, df)).toBeCloseTo(0.05, 10);
      expect(chiSquareSurvival(x6, df) / 1e-6).toBeCloseTo(1, 6);
    }
  });
});

describe('seededRandomSource', () => {
  it('is the AES-256-CTR keystream: zero key, zero counter gives AES-256(0, 0) = dc95c078…', () => {
    // FIPS-197-style known answer: AES-256 of the zero block under the zero key.
    const out = seededRandomSource(new Uint8Array(32)).fill(new Uint8Array(16));
    expect(toHex(out)).toBe('dc95c078a2408989ad48a21492842087');
  });
  it('is deterministic per seed and differs across seeds', () => {
    const a = seededRandomSource(seed(1)).fill(new Uint8Array(64));
    const b = seededRandomSource(seed(1)).fill(new Uint8Array(64));
    const c = seededRandomSource(seed(2)).fill(new Uint8Array(64));
    expect(toHex(a)).toBe(toHex(b));
    expect(toHex(a)).not.toBe(toHex(c));
  });
  it('rejects a seed that is not 32 bytes', () => {
    expect(() => seededRandomSource(new Uint8Array(16))).toThrow(RangeError);
    expect(() => seededRandomSource('x' as unknown as Uint8Array)).toThrow(TypeError);
  });
  it('cryptoRandomSource fills bytes and yields uint32 values', () => {
    const rng = cryptoRandomSource();
    const out = rng.fill(new Uint8Array(32));
    expect(out.some((x) => x !== 0)).toBe(true);
    const x = rng.uint32();
    expect(Number.isInteger(x) && x >= 0 && x < 2 ** 32).toBe(true);
  });
});

describe('uniformInt / uniformBigInt', () => {
  it('has no modulo bias: for n = 3·2^30, P[x < 2^30] is 1/3 (naive x mod n would give 1/2)', () => {
    const rng = seededRandomSource(seed(3));
    const n = 3 * 2 ** 30;
    const draws = 200_000;
    let low = 0;
    for (let i = 0; i < draws; i++) if (uniformInt(n, rng) < 2 ** 30) low++;
    // sd of the fraction is √(2/9/draws) ≈ 0.00105; 0.01 is ~10 sd away from 1/3 and 160 from 1/2.
    expect(Math.abs(low / draws - 1 / 3)).toBeLessThan(0.01);
  });
  it('uniformInt(7) fits the uniform pmf (chi-square, 700k draws)', () => {
    const rng = seededRandomSource(seed(4));
    const samples: number[] = [];
    for (let i = 0; i < 700_000; i++) samples.push(uniformInt(7, rng));
    const r = chiSquareTest(tally(samples), samples.length, (k) => (k >= 0 && k < 7 ? 1 / 7 : 0), 3);
    expect(r.pValue).toBeGreaterThan(1e-3);
  });
  it('uniformBigInt below n = 3·2^64 + 1 stays in range and splits evenly into thirds', () => {
    const rng = seededRandomSource(seed(5));
    const n = 3n * 2n ** 64n + 1n;
    const third = 2n ** 64n;
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 90_000; i++) {
      const x = uniformBigInt(n, rng);
      expect(x >= 0n && x < n).toBe(true);
      counts[Number(x / third)]!++;
    }
    expect(counts[3]).toBeLessThanOrEqual(1);
    for (const c of counts.slice(0, 3)) expect(Math.abs(c - 30_000)).toBeLessThan(1_000); // sd ≈ 141
  });
  it('rejects bad ranges naming the field', () => {
    const rng = seededRandomSource(seed(6));
    expect(() => uniformInt(0, rng)).toThrow(/n: expected an integer in \[1, 2\^32\]/);
    expect(() => uniformInt(2 ** 32 + 1, rng)).toThrow(RangeError);
    expect(() => uniformInt(1.5, rng)).toThrow(RangeError);
    expect(() => uniformBigInt(0n, rng)).toThrow(RangeError);
    expect(() => uniformBigInt(5 as unknown as bigint, rng)).toThrow(TypeError);
  });
});

describe('bernoulliRational / bernoulliExpNeg (CKS20 Algorithm 1)', () => {
  const rate = (f: () => boolean, draws: number): number => {
    let hits = 0;
    for (let i = 0; i < draws; i++) if (f()) hits++;
    return hits / draws;
  };
  it('Bernoulli(num/den) matches num/den for small and > 2^32 denominators', () => {
    const rng = seededRandomSource(seed(7));
    const draws = 200_000;
    for (const [num, den] of [
      [1n, 3n],
      [5n, 7n],
      [10n ** 20n, 3n * 10n ** 20n + 1n],
      [(1n << 100n) - 1n, 1n << 101n],
    ] as const) {
      const p = Number(num) / Number(den);
      const sd = Math.sqrt((p * (1 - p)) / draws);
      expect(Math.abs(rate(() => bernoulliRational(num, den, rng), draws) - p)).toBeLessThan(6 * sd);
    }
    expect(bernoulliRational(0n, 5n, rng)).toBe(false);
    expect(bernoulliRational(5n, 5n, rng)).toBe(true);
    expect(() => bernoulliRational(6n, 5n, rng)).toThrow(RangeError);
  });
  it('a prepared Bernoulli(num/den) (first digit cached) matches num/den, including num = den', () => {
    const rng = seededRandomSource(seed(10));
    const draws = 200_000;
    const big = prepareBernoulli((1n << 200n) / 7n, 1n << 200n); // ≈ 1/7
    const sd = Math.sqrt(((1 / 7) * (6 / 7)) / draws);
    expect(Math.abs(rate(() => bernoulliPrepared(big, rng), draws) - 1 / 7)).toBeLessThan(6 * sd);
    const third = prepareBernoulli(1n, 3n);
    expect(Math.abs(rate(() => bernoulliPrepared(third, rng), draws) - 1 / 3)).toBeLessThan(6 * Math.sqrt(2 / 9 / draws));
    const one = prepareBernoulli(5n, 5n);
    const zero = prepareBernoulli(0n, 5n);
    for (let i = 0; i < 1000; i++) {
      expect(bernoulliPrepared(one, rng)).toBe(true);
      expect(bernoulliPrepared(zero, rng)).toBe(false);
    }
    expect(() => prepareBernoulli(6n, 5n)).toThrow(RangeError);
  });
  it('Bernoulli(exp(−γ)) matches exp(−γ) for γ = 0, 1/2, 1, 3/2, 7/3, 5', () => {
    const rng = seededRandomSource(seed(8));
    const draws = 200_000;
    for (const [num, den] of [
      [0n, 1n],
      [1n, 2n],
      [1n, 1n],
      [3n, 2n],
      [7n, 3n],
      [5n, 1n],
    ] as const) {
      const p = Math.exp(-Number(num) / Number(den));
      const sd = Math.sqrt((p * (1 - p)) / draws) || 1e-9;
      expect(Math.abs(rate(() => bernoulliExpNeg(num, den, rng), draws) - p)).toBeLessThan(6 * sd + 1e-12);
    }
  });
  it('Bernoulli(exp(−γ)) with a denominator above 2^20 takes the bigint path and stays exact in law', () => {
    const rng = seededRandomSource(seed(9));
    const den = (1n << 40n) + 7n;
    const num = den / 3n; // γ ≈ 1/3
    const p = Math.exp(-Number(num) / Number(den));
    const draws = 100_000;
    const sd = Math.sqrt((p * (1 - p)) / draws);
    expect(Math.abs(rate(() => bernoulliExpNeg(num, den, rng), draws) - p)).toBeLessThan(6 * sd);
  });
});

describe('rational helpers', () => {
  it('converts numbers, decimal strings and fractions exactly', () => {
    expect(toRational(0.5)).toEqual({ num: 1n, den: 2n });
    expect(toRational('0.1')).toEqual({ num: 1n, den: 10n });
    expect(toRational('6/4')).toEqual({ num: 3n, den: 2n });
    // 0.1 as a double is 3602879701896397 / 2^55 exactly.
    expect(toRational(0.1)).toEqual({ num: 3602879701896397n, den: 2n ** 55n });
    expect(() => toRational('abc', 'sigma2')).toThrow(/sigma2/);
    expect(() => toRational(Infinity)).toThrow(RangeError);
  });
  it('isqrt is the floor square root', () => {
    for (const n of [0n, 1n, 2n, 3n, 4n, 15n, 16n, 17n, 10n ** 40n - 1n, 10n ** 40n, 2n ** 2001n]) {
      const r = isqrt(n);
      expect(r * r <= n && (r + 1n) * (r + 1n) > n).toBe(true);
    }
  });
});
