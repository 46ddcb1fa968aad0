import { describe, expect, it } from 'vitest';
import { fwht, paddedDimension, rotate, rotationSigns, unrotate } from '../crypto/dp/hadamard.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);

/** A standard normal vector from a seeded source (Box–Muller; test data only). */
function gaussianVector(n: number, b: number): Float64Array {
  const rng = seededRandomSource(seed(b));
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = (rng.uint32() + 1) / 2 ** 32;
    const v = rng.uint32() / 2 ** 32;
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

const norm = (x: Float64Array): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0));
const maxAbs = (x: Float64Array): number => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('randomized Hadamard rotation', () => {
  it('pads d to the next power of two', () => {
    expect([1, 2, 3, 1000, 1024, 1025].map(paddedDimension)).toEqual([1, 2, 4, 1024, 1024, 2048]);
    expect(() => paddedDimension(0)).toThrow(RangeError);
  });

  it('fwht equals the Sylvester Hadamard matrix product (D = 8)', () => {
    const D = 8;
    const H = (i: number, j: number): number => ((popcount(i & j) & 1) === 1 ? -1 : 1);
    const x = gaussianVector(D, 1);
    const y = fwht(Float64Array.from(x));
    for (let i = 0; i < D; i++) {
      let s = 0;
      for (let j = 0; j < D; j++) s += H(i, j) * x[j]!;
      expect(Math.abs(y[i]! - s)).toBeLessThan(1e-12);
    }
  });

  it('signs come from the public round seed: deterministic, seed-dependent, balanced', () => {
    const a = rotationSigns(seed(3), 4096);
    expect(rotationSigns(seed(3), 4096)).toEqual(a);
    const b = rotationSigns(seed(4), 4096);
    let same = 0;
    let minus = 0;
    for (let i = 0; i < a.length; i++) {
      if (a[i] === b[i]) same++;
      if (a[i] === -1) minus++;
      expect(Math.abs(a[i]!)).toBe(1);
    }
    expect(Math.abs(same - 2048)).toBeLessThan(200); // ±6σ
    expect(Math.abs(minus - 2048)).toBeLessThan(200);
    expect(() => rotationSigns(new Uint8Array(8), 16)).toThrow(RangeError);
  });

  it('is orthogonal: norms and inner products preserved to 1e-12 (d = 1000, D = 1024)', () => {
    const signs = rotationSigns(seed(5), 1024);
    const x = gaussianVector(1000, 6);
    const z = gaussianVector(1000, 7);
    const rx = rotate(x, signs);
    const rz = rotate(z, signs);
    expect(rx.length).toBe(1024);
    expect(Math.abs(norm(rx) / norm(x) - 1)).toBeLessThan(1e-12);
    const dot = (a: Float64Array, b: Float64Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
    expect(Math.abs(dot(rx, rz) - dot(x, z))).toBeLessThan(1e-12 * norm(x) * norm(z));
  });

  it('unrotate is the exact inverse (to 1e-12), truncating the padding', () => {
    const signs = rotationSigns(seed(8), 1024);
    const x = gaussianVector(1000, 9);
    const back = unrotate(rotate(x, signs), signs, 1000);
    expect(back.length).toBe(1000);
    for (let i = 0; i < 1000; i++) expect(Math.abs(back[i]! - x[i]!)).toBeLessThan(1e-12 * norm(x));
  });

  it('flattens a spiky vector: max |y_i| ≈ ‖x‖·√(log D / D), far below the spike', () => {
    const D = 1024;
    // A spiky vector: 8 large entries of random sign and size, the rest tiny.
    const x = gaussianVector(D, 10).map((v) => v * 1e-3);
    const big = gaussianVector(8, 11);
    for (let j = 0; j < 8; j++) x[j * 97] = 10 * big[j]!;
    const scale = norm(x) * Math.sqrt(Math.log(D) / D);
    expect(maxAbs(x) / norm(x)).toBeGreaterThan(0.4);
    for (let r = 0; r < 20; r++) {
      const y = rotate(x, rotationSigns(seed(100 + r), D));
      // Hoeffding + union bound: P(max |y_i| > ‖x‖·√(2 ln(2D/p)/D)) ≤ p; p = 1e-6 here.
      expect(maxAbs(y)).toBeLessThanOrEqual(norm(x) * Math.sqrt((2 * Math.log((2 * D) / 1e-6)) / D));
      expect(maxAbs(y)).toBeGreaterThan(0.3 * scale);
      expect(maxAbs(y)).toBeLessThan(3 * scale);
    }
  });

  it('refuses non-finite entries and a vector longer than D', () => {
    const signs = rotationSigns(seed(1), 8);
    expect(() => rotate(new Float64Array([1, Number.NaN]), signs)).toThrow(RangeError);
    expect(() => rotate(new Float64Array(9), signs)).toThrow(RangeError);
    expect(() => unrotate(new Float64Array(4), signs)).toThrow(RangeError);
  });
});

function popcount(n: number): number {
  let c = 0;
  for (; n; n &= n - 1) c++;
  return c;
}
