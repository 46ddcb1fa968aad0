import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ORDERS,
  epsilonFromRdp,
  jobEpsilon,
  jobRdp,
  logErfc,
  noiseMultiplierForEpsilon,
  rdpPoissonSubsampled,
  rdpSampledGaussian,
  rdpSkellam,
} from '../crypto/dp/accountant-subsampled.ts';
import { rhoSkellam } from '../crypto/dp/accountant.ts';

// TF Privacy's README / compute_dp_sgd_privacy example (the MNIST DP-SGD tutorial).
const MNIST = { samplingRate: 256 / 60000, rounds: Math.ceil((60 * 60000) / 256), delta: 1e-5 };

describe('RDP of the Poisson-subsampled Gaussian (Mironov–Talwar–Zhang 2019)', () => {
  it('matches dp_accounting’s published values (q = 0.01, z = 2.5, 50 steps; orders 1.5, 2.5, 5, 50, 100; rtol 1e-4)', () => {
    // google/differential-privacy, python/dp_accounting/rdp/rdp_privacy_accountant_test.py,
    // test_compute_rdp_poisson_sampled_gaussian: [6.5007e-04, 1.0854e-03, 2.1808e-03, 2.3846e-02, 1.6742e+02, inf].
    const orders = [1.5, 2.5, 5, 50, 100];
    const rdp = jobRdp({ mechanism: 'gaussian', noiseMultiplier: 2.5 }, { samplingRate: 0.01, rounds: 50, orders });
    const expected = [6.5007e-4, 1.0854e-3, 2.1808e-3, 2.3846e-2, 1.6742e2];
    for (let i = 0; i < orders.length; i++) expect(Math.abs(rdp[i]! / expected[i]! - 1)).toBeLessThan(1e-4);
  });

  it('fractional orders agree with the integer formula at the integers (continuity of the erfc series)', () => {
    for (const a of [2, 5, 17]) {
      const near = rdpSampledGaussian(0.004, 1.1, a + 1e-7);
      expect(Math.abs(near / rdpSampledGaussian(0.004, 1.1, a) - 1)).toBeLessThan(1e-5);
    }
    expect(logErfc(0)).toBeCloseTo(0, 6);
    expect(logErfc(1)).toBeCloseTo(Math.log(0.15729920705028513), 6);
    expect(logErfc(-1)).toBeCloseTo(Math.log(1.8427007929497148), 6);
    expect(logErfc(30) / (-900 - Math.log(30 * Math.sqrt(Math.PI))) - 1).toBeLessThan(1e-3);
  });

  it('reproduces TF Privacy’s MNIST table (classic conversion, TF orders): z 1.3/15 ep → 1.19, 1.1/60 → 3.01, 0.7/45 → 7.10', () => {
    // tensorflow/privacy tutorials/README.md, "Select Parameters" (batch 256 of N = 60000, δ = 1e-5).
    const tfOrders = [...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10), ...Array.from({ length: 52 }, (_, i) => i + 12)];
    for (const [z, epochs, published] of [
      [1.3, 15, 1.19],
      [1.1, 60, 3.01],
      [0.7, 45, 7.1],
    ] as const) {
      const job = { samplingRate: 256 / 60000, rounds: Math.ceil((epochs * 60000) / 256), delta: 1e-5 };
      const e = jobEpsilon({ mechanism: 'gaussian', noiseMultiplier: z }, { ...job, conversion: 'classic', orders: tfOrders }).epsilon;
      expect(Math.abs(e - published)).toBeLessThan(0.005);
    }
  });

  it('q = 1 is the Gaussian mechanism α/(2z²); q = 0 costs nothing', () => {
    expect(rdpSampledGaussian(1, 2, 7)).toBeCloseTo(7 / 8, 14);
    expect(rdpSampledGaussian(0, 2, 7)).toBe(0);
  });

  it('TF Privacy’s compute_dp_sgd_privacy example: N = 60000, batch 256, z = 1.1, 60 epochs, δ = 1e-5', () => {
    // TF Privacy README: "satisfies differential privacy with eps = 3.01 and delta = 1e-05" —
    // that figure used the classic conversion ε = RDP(α) + ln(1/δ)/(α − 1).
    const classic = jobEpsilon({ mechanism: 'gaussian', noiseMultiplier: 1.1 }, { ...MNIST, conversion: 'classic' });
    expect(classic.epsilon).toBeGreaterThan(3.0);
    expect(classic.epsilon).toBeLessThan(3.015);
    expect(classic.order).toBeCloseTo(8.8, 9);
    // The improved conversion (CKS20 Prop. 12 / Balle et al. 2020; today's TF Privacy and Opacus
    // `get_privacy_spent`), our default: ε ≈ 2.597 at α = 8.1.
    const improved = jobEpsilon({ mechanism: 'gaussian', noiseMultiplier: 1.1 }, MNIST);
    expect(improved.epsilon).toBeGreaterThan(2.59);
    expect(improved.epsilon).toBeLessThan(2.60);
    expect(improved.order).toBeCloseTo(8.1, 9);
  });

  it('the improved conversion matches dp_accounting on a pure-DP curve (orders 2..32, RDP 1.1 → ε = 1.32783806176 at α = 32)', () => {
    const orders = Array.from({ length: 31 }, (_, i) => i + 2);
    const r = epsilonFromRdp(orders, orders.map(() => 1.1), 1e-5);
    expect(r.epsilon).toBeCloseTo(1.32783806176, 9);
    expect(r.order).toBe(32);
  });

  it('noiseMultiplierForEpsilon inverts the accountant: ε(z = 1.1, classic) gives back z ≈ 1.1', () => {
    const target = jobEpsilon({ mechanism: 'gaussian', noiseMultiplier: 1.1 }, { ...MNIST, conversion: 'classic' }).epsilon;
    const z = noiseMultiplierForEpsilon({ ...MNIST, epsilon: target, conversion: 'classic' });
    expect(Math.abs(z - 1.1)).toBeLessThan(1e-3);
    const z2 = noiseMultiplierForEpsilon({ ...MNIST, epsilon: 2 });
    expect(jobEpsilon({ mechanism: 'gaussian', noiseMultiplier: z2 }, MNIST).epsilon).toBeLessThanOrEqual(2);
    expect(jobEpsilon({ mechanism: 'gaussian', noiseMultiplier: z2 * (1 - 1e-4) }, MNIST).epsilon).toBeGreaterThan(2 - 1e-3);
  });

  it('RDP composes additively over rounds', () => {
    const one = jobRdp({ mechanism: 'gaussian', noiseMultiplier: 1.3 }, { samplingRate: 0.05, rounds: 1 });
    const many = jobRdp({ mechanism: 'gaussian', noiseMultiplier: 1.3 }, { samplingRate: 0.05, rounds: 37 });
    for (let i = 0; i < one.length; i++) expect(many[i]).toBeCloseTo(37 * one[i]!, 10);
    expect(DEFAULT_ORDERS[0]).toBe(2);
  });
});

describe('RDP of the subsampled Skellam mechanism (AKL21 + Zhu–Wang 2019 Thm 5)', () => {
  it('the Skellam RDP curve is the Gaussian’s α/(2z²) plus AKL21’s correction, consistent with rhoSkellam', () => {
    const l2 = 100;
    const l1 = 100 * 32;
    const mu = (1.2 * l2) ** 2 / 2; // variance 2μ = (1.2·Δ₂)²
    const gauss = (a: number): number => a / (2 * 1.2 ** 2);
    for (const a of [2, 5, 30]) {
      expect(rdpSkellam(a, l1, l2, mu)).toBeGreaterThan(gauss(a));
      expect(rdpSkellam(a, l1, l2, mu) / gauss(a) - 1).toBeLessThan(1e-2);
    }
    // zCDP ρ of accountant.ts is the RDP slope bound: RDP(α) ≤ α·ρ.
    expect(rdpSkellam(10, l1, l2, mu)).toBeLessThanOrEqual(10 * rhoSkellam(l1, l2, mu));
  });

  it('Zhu–Wang’s general bound applied to the Gaussian curve is ≥ the exact sampled Gaussian (it is an upper bound)', () => {
    for (const a of [2, 3, 8, 20, 64]) {
      const exact = rdpSampledGaussian(0.01, 1.1, a);
      const general = rdpPoissonSubsampled(0.01, a, (l) => l / (2 * 1.1 * 1.1));
      expect(general).toBeGreaterThanOrEqual(exact * (1 - 1e-12));
      expect(general).toBeLessThan(3 * exact + 1e-12);
    }
  });

  it('job ε of the Skellam mechanism approaches the Gaussian’s as μ grows (same z), never below it', () => {
    const job = { samplingRate: 0.01, rounds: 1000, delta: 1e-6 };
    const z = 1.0;
    const g = jobEpsilon({ mechanism: 'gaussian', noiseMultiplier: z }, job).epsilon;
    let prev = Infinity;
    for (const l2 of [10, 100, 1000]) {
      const s = jobEpsilon({ mechanism: 'skellam', mu: (z * l2) ** 2 / 2, l1Sensitivity: l2 * Math.min(32, l2), l2Sensitivity: l2 }, job).epsilon;
      expect(s).toBeGreaterThanOrEqual(g);
      expect(s).toBeLessThanOrEqual(prev);
      prev = s;
    }
    expect(prev / g - 1).toBeLessThan(0.35); // the gap left is Zhu–Wang's general-bound slack
  });
});
