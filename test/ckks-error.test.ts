import { describe, expect, it } from 'vitest';
import { measureCkksError } from '../bench/ckks-error.ts';
import { PARAMETER_SETS } from '../crypto/ckks/params.ts';

const p = PARAMETER_SETS.N4096;

describe('CKKS decryption error after PCKS (N4096, one ciphertext)', () => {
  for (const n of [3, 10]) {
    it(`n = ${n}: error is the flooding noise (σ = 2^30·√n / Δ), far below 1/2, and rounding is exact`, async () => {
      const r = await measureCkksError(p, n, 1000);
      const sigma = (2 ** p.floodingSigmaBits * Math.sqrt(n)) / 2 ** p.scaleBits;
      expect(r.exactAfterRounding).toBe(true);
      expect(r.maxAbsError).toBeLessThan(7 * sigma);
      expect(r.maxAbsError).toBeGreaterThan(sigma); // max of 1000 draws exceeds one σ
      expect(r.stdError).toBeGreaterThan(0.8 * sigma);
      expect(r.stdError).toBeLessThan(1.2 * sigma);
      // without flooding, SEAL's decryption under Σ s_i is off by a few hundred units of 2^-38
      expect(r.freshMaxAbsError).toBeLessThan(2 ** -26);
    });
  }
});
