/**
 * Issue 13.6 — noise sized for no collusion. Each party used to add σ²/t of the DP noise, so an
 * aggregator colluding with parties (who tell it their own noise) saw the other contributors' sum
 * with less than σ². The roster now declares c, the parties that may collude with the aggregator;
 * every party adds σ²/(t − c), so any release over ≥ t contributors keeps ≥ t − c honest shares:
 * the full σ² even after the colluders' noise is subtracted. The reported ρ is for that worst case.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { rationalToNumber } from '../crypto/dp/rational.ts';
import { releasedVariance } from '../crypto/dp/distributed.ts';
import { DP_GRID_BITS, noiseShare, planNoise, planQuery, spentRho, type Query } from '../stats/index.ts';
import { partyFixture, PartyUnderTest, pbcSchema, startSession } from './party-harness.ts';

const COUNT: Query = { kind: 'count', columns: [], filter: [] };
const RHO = 0.5;
const plan = planQuery(COUNT, pbcSchema, { parties: 5, ringBits: 64, dpGridBits: DP_GRID_BITS });
/** The variance the budget needs (any t contributors without collusion supply exactly this). */
const target = rationalToNumber(planNoise(COUNT, pbcSchema, plan, { rho: RHO, parties: 5, threshold: 4 }).perEntry[0]!.noise.targetVariance);

describe('an aggregator colluding with c parties subtracts their noise from a release', () => {
  it('with c = 2 of n = 5 (t = 4) every party adds σ²/(t − c): the t − c honest shares alone carry σ²', async () => {
    const np = planNoise(COUNT, pbcSchema, plan, { rho: RHO, parties: 5, threshold: 4, collusion: 2 });
    const e = np.perEntry[0]!.noise;
    expect(e.threshold).toBe(2);
    const perParty = rationalToNumber(releasedVariance(e, 2)) / 2;
    expect(perParty * 2).toBeGreaterThanOrEqual(target * (1 - 1e-9));
    // The old sizing (c ignored) leaves the honest pair with half of σ².
    const naive = planNoise(COUNT, pbcSchema, plan, { rho: RHO, parties: 5, threshold: 4 }).perEntry[0]!.noise;
    expect(rationalToNumber(naive.perPartyMu) * 2 * 2).toBeCloseTo(target / 2, 6);
  });

  it('sampled with the real sampler: the honest part of a steered release has variance σ² (the colluders\' shares removed)', async () => {
    const np = planNoise(COUNT, pbcSchema, plan, { rho: RHO, parties: 5, threshold: 4, collusion: 2 });
    const rng = seededRandomSource(new Uint8Array(32).fill(13)); // the same draws every run
    const trials = 4000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < trials; i++) {
      // Release = target + honest + 2 colluders; the aggregator subtracts the colluders' known noise.
      const honest = Number(noiseShare(np, rng)[0]! + noiseShare(np, rng)[0]!);
      s += honest;
      s2 += honest * honest;
    }
    const variance = s2 / trials - (s / trials) ** 2;
    // 4000 draws: the sample variance's relative sd is √(2/4000) = 2.2%, so ±12% is 5.4 sd (a chance
    // failure ~1e-7 unseeded; seeded, none). The old sizing (σ²/2 left to the honest pair) reads ≈ 0.5: > 30 sd out.
    expect(variance / target).toBeGreaterThan(0.88);
    expect(variance / target).toBeLessThan(1.12);
  });

  it('ρ spent is reported for k − c honest contributors, and c ≥ t is refused', async () => {
    const np = planNoise(COUNT, pbcSchema, plan, { rho: RHO, parties: 5, threshold: 4, collusion: 2 });
    expect(spentRho(np, 4)).toBeLessThanOrEqual(RHO * (1 + 1e-9));
    expect(spentRho(np, 4)).toBeGreaterThan(0.9 * RHO);
    expect(spentRho(np, 5)).toBeLessThan(spentRho(np, 4));
    expect(() => planNoise(COUNT, pbcSchema, plan, { rho: RHO, parties: 5, threshold: 4, collusion: 4 })).toThrow(/0 ≤ c < t/);
  });

  it('a party refuses a session that announces another collusion bound than its roster (its noise would be mis-sized)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'blindsum-attack-collusion-'));
    try {
      const fx = partyFixture(dir, { n: 3, threshold: 3, collusion: 1 });
      const p = new PartyUnderTest(fx.configs[0]!);
      try {
        const start = { ...startSession(fx, fx.configs[0]!, randomUUID(), COUNT, { rho: 0.1 }), collusion: 0 };
        const r = await p.handle({ $case: 'startSession', value: start });
        expect(r?.$case === 'refusal' && r.value.reason).toMatch(/collusion bound c = 0 differs from the roster's c = 1/);
        const ok = await p.handle({ $case: 'startSession', value: startSession(fx, fx.configs[0]!, randomUUID(), COUNT, { rho: 0.1 }) });
        expect(ok?.$case).toBe('advertiseKeys');
      } finally {
        await p.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
