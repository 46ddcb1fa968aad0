import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  composeRho,
  deltaFromRho,
  epsilonFromRho,
  epsilonFromRhoStandard,
  rhoFromEpsilonDelta,
  rhoGaussian,
  rhoSkellam,
  RHO_INVERSION_RELATIVE_TOLERANCE,
  sigmaForRho,
  skellamVarianceForRho,
} from '../crypto/dp/accountant.ts';

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

describe('ρ → (ε, δ), CKS20 §2.3 conversion, against OpenDP published values', () => {
  // Source: opendp/opendp, rust/src/combinators/measure_cast/zCDP_to_approxDP/test.rs
  // (test_zCDP_to_approxDP_nontrivial): Gaussian scale 4, sensitivity 1, so ρ = (1/4)²/2 = 1/32.
  it('ρ = 1/32: ε(δ = 1e-3) = 0.6880024554878086', () => {
    expect(rel(epsilonFromRho(1 / 32, 1e-3), 0.6880024554878086)).toBeLessThan(1e-9);
    expect(epsilonFromRho(1 / 32, 1e-3)).toBeGreaterThanOrEqual(0.6880024554878085); // never below
  });
  it('ρ = 1/32: δ(ε = 0) = 0.1508457845622862 and δ(ε = 0.6880024554878085) = 1e-3', () => {
    expect(rel(deltaFromRho(1 / 32, 0), 0.1508457845622862)).toBeLessThan(1e-9);
    expect(rel(deltaFromRho(1 / 32, 0.6880024554878085), 1e-3)).toBeLessThan(1e-9);
  });
  // Source: opendp/opendp, rust/src/combinators/measure_cast/zCDP_to_approxDP/cdp_delta/test.rs.
  it('δ(ρ = 0.05, ε = 0.25) = 8.17727531036956e-2 and δ(ρ = 0.5, ε = 0) = 0.5588356393474351', () => {
    expect(rel(deltaFromRho(0.05, 0.25), 8.17727531036956e-2)).toBeLessThan(1e-9);
    expect(rel(deltaFromRho(0.5, 0), 0.5588356393474351)).toBeLessThan(1e-9);
  });
  it('the improved conversion is never worse than the standard ε = ρ + 2√(ρ ln(1/δ))', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-6, max: 50, noNaN: true }),
        fc.double({ min: 1e-15, max: 0.5, noNaN: true }),
        (rho, delta) => epsilonFromRho(rho, delta) <= epsilonFromRhoStandard(rho, delta),
      ),
      { seed: 20200401, numRuns: 500 },
    );
    // At ρ = 1/32, δ = 1e-3 the standard bound is visibly looser: 0.9605 vs 0.6880.
    expect(rel(epsilonFromRhoStandard(1 / 32, 1e-3), 1 / 32 + 2 * Math.sqrt(Math.log(1000) / 32))).toBeLessThan(1e-11);
  });
  it('ε and δ are consistent: deltaFromRho(ρ, epsilonFromRho(ρ, δ)) ≈ δ', () => {
    for (const [rho, delta] of [
      [0.01, 1e-6],
      [0.5, 1e-9],
      [2, 1e-5],
      [10, 1e-10],
    ]) {
      expect(rel(deltaFromRho(rho!, epsilonFromRho(rho!, delta!)), delta!)).toBeLessThan(1e-6);
    }
  });
});

describe('(ε, δ) → ρ (numerical inversion)', () => {
  it('round-trips: ε(ρ(ε, δ), δ) ≤ ε and within 1e-9 relative of ε', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 20, noNaN: true }),
        fc.double({ min: 1e-12, max: 0.1, noNaN: true }),
        (eps, delta) => {
          const rho = rhoFromEpsilonDelta(eps, delta);
          const back = epsilonFromRho(rho, delta);
          return back <= eps && rel(back, eps) < 1e-9;
        },
      ),
      { seed: 20200402, numRuns: 60 },
    );
  });
  it('is monotone in ε and in δ', () => {
    let prev = 0;
    for (const eps of [0.1, 0.5, 1, 2, 4, 8]) {
      const rho = rhoFromEpsilonDelta(eps, 1e-6);
      expect(rho).toBeGreaterThan(prev);
      prev = rho;
    }
    expect(rhoFromEpsilonDelta(1, 1e-5)).toBeGreaterThan(rhoFromEpsilonDelta(1, 1e-9));
  });
  it('errs low by at most the documented relative tolerance', () => {
    const rho = rhoFromEpsilonDelta(1, 1e-6);
    // A slightly larger ρ already exceeds ε = 1.
    expect(epsilonFromRho(rho * (1 + 10 * RHO_INVERSION_RELATIVE_TOLERANCE), 1e-6)).toBeGreaterThan(1);
  });
});

describe('mechanisms and composition', () => {
  it('Gaussian / discrete Gaussian: ρ = Δ²/(2σ²), and sigmaForRho inverts it', () => {
    expect(rel(rhoGaussian(1, 16), 1 / 32)).toBeLessThan(1e-11);
    expect(rel(rhoGaussian(3, 2), 9 / 4)).toBeLessThan(1e-11);
    const sigma = sigmaForRho(0.1, 5);
    expect(sigma).toBeGreaterThanOrEqual(5 / Math.sqrt(0.2));
    expect(rhoGaussian(5, sigma * sigma)).toBeLessThanOrEqual(0.1 * (1 + 1e-11));
  });
  it('composition adds ρ: k Gaussian releases at σ cost the same as one at σ/√k', () => {
    const k = 7;
    const composed = composeRho(...Array.from({ length: k }, () => rhoGaussian(1, 25)));
    expect(rel(composed, rhoGaussian(1, 25 / k))).toBeLessThan(1e-11);
    expect(rel(epsilonFromRho(composed, 1e-6), epsilonFromRho(rhoGaussian(1, 25 / k), 1e-6))).toBeLessThan(1e-9);
    expect(composeRho()).toBe(0);
    expect(() => composeRho(0.1, -0.1)).toThrow(/rhos\[1\]/);
  });
  it('Skellam (AKL21): ρ = Δ₂²/(4μ) + min((2Δ₂² + 6Δ₁)/(16μ²), 3Δ₁/(4μ)), → Gaussian ρ as μ grows', () => {
    // Δ₁ = Δ₂ = 1, μ = 10: 1/40 + min(8/1600, 3/40) = 0.025 + 0.005 = 0.03.
    expect(rel(rhoSkellam(1, 1, 10), 0.03)).toBeLessThan(1e-11);
    // Δ₁ = 100, Δ₂ = 10, μ = 20: 100/80 + min((200 + 600)/6400, 300/80) = 1.25 + 0.125.
    expect(rel(rhoSkellam(100, 10, 20), 1.375)).toBeLessThan(1e-11);
    // Variance 2μ = 10^6: within 0.01% of the Gaussian ρ with σ² = 2μ.
    expect(rel(rhoSkellam(1, 1, 5e5), rhoGaussian(1, 1e6))).toBeLessThan(1e-4);
    expect(() => rhoSkellam(1, 2, 10)).toThrow(/l2Sensitivity/);
  });
  it('skellamVarianceForRho returns the smallest variance meeting ρ (rounded up)', () => {
    for (const [rho, l1, l2] of [
      [0.5, 1, 1],
      [0.01, 65536, 65536],
      [1, 3000, 1000],
    ] as const) {
      const v = skellamVarianceForRho(rho, l1, l2);
      expect(rhoSkellam(l1, l2, v / 2)).toBeLessThanOrEqual(rho);
      expect(rhoSkellam(l1, l2, (v / 2) * (1 - 1e-6))).toBeGreaterThan(rho);
    }
  });
  it('rejects out-of-range inputs naming the field', () => {
    expect(() => epsilonFromRho(0.1, 0)).toThrow(/delta/);
    expect(() => epsilonFromRho(0.1, 1)).toThrow(/delta/);
    expect(() => epsilonFromRho(-1, 1e-6)).toThrow(/rho/);
    expect(() => rhoFromEpsilonDelta(0, 1e-6)).toThrow(/epsilon/);
    expect(() => rhoGaussian(1, 0)).toThrow(/sigma2/);
    expect(() => sigmaForRho(0, 1)).toThrow(/rho/);
    expect(epsilonFromRho(0, 1e-6)).toBe(0);
  });
});
