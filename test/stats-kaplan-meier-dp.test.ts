/**
 * kaplan_meier under differential privacy: the released counts carry the planned Skellam noise
 * (drawn here by the parties' own noiseShare from a seeded source); the post-processed curve is
 * monotone and within [0, 1], its intervals are wider than those that ignore the noise, and over
 * many noise draws the noise's interval covers the exact survival at about the nominal rate.
 */
import { describe, expect, it } from 'vitest';
import { seededRandomSource } from '../crypto/dp/random.ts';
import {
  centralResult, DP_GRID_BITS, finalize, finalizeReleased, localStatistics, noiseShare, noiseStd, noiseUncertainty, numericFields, planNoise, planQuery,
  type KaplanMeierResult, type Query,
} from '../stats/index.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');
const query: Query = { kind: 'kaplan_meier', columns: [], filter: [], time: 'time', event: 'status', positive: ['2'], strata: 'sex', times: [1000, 3000] };
/** The whole cohort on a grid that ends with the follow-up (100-day bins to 5000, then one bin to the bound). */
const overall: Query = { kind: 'kaplan_meier', columns: [], filter: [], time: 'time', event: 'status', positive: ['2'], bins: [...Array.from({ length: 51 }, (_, i) => i * 100), 10000] };
const plan = planQuery(query, pbc.schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
const exact = centralResult(query, pbc.schema, pbc.dataset) as KaplanMeierResult;
const sums = localStatistics(query, pbc.schema, plan, pbc.dataset).sums;

/** n noisy releases at ρ: each of 3 parties adds its noise share (t = 2). */
function releases(rho: number, n: number, seed: number, q: Query = query): { std: number[]; noisy: bigint[][]; np: ReturnType<typeof planNoise> } {
  const plan = planQuery(q, pbc.schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
  const sums = localStatistics(q, pbc.schema, plan, pbc.dataset).sums;
  const np = planNoise(q, pbc.schema, plan, { rho, parties: 3, threshold: 2 });
  const rng = seededRandomSource(new Uint8Array(32).fill(seed));
  const noisy = Array.from({ length: n }, () => {
    const shares = [0, 1, 2].map(() => noiseShare(np, rng));
    return sums.map((s, i) => s + shares[0]![i]! + shares[1]![i]! + shares[2]![i]!);
  });
  return { std: noiseStd(np, plan, 3), noisy, np };
}

function km(sumsIn: bigint[], std?: number[], q: Query = query): KaplanMeierResult {
  return finalize(q, pbc.schema, q === query ? plan : planQuery(q, pbc.schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS }), sumsIn, std) as KaplanMeierResult;
}

/** The exact curve's survival at time t (a step function). */
function exactAt(g: number, t: number, of: KaplanMeierResult = exact): number {
  const c = of.curves[g]!;
  let s = 1;
  c.time.forEach((x, i) => {
    if (x <= t) s = c.surv[i]!;
  });
  return s;
}

describe('kaplan_meier under DP', () => {
  it('on exact sums, passing a zero noise changes nothing but the DP fields', () => {
    const zero = km(sums, sums.map(() => 0));
    const plain = km(sums);
    zero.curves.forEach((c, g) => {
      const p = plain.curves[g]!;
      // DP reports every bin of the curve; the exact curve the bins with an event or a censoring
      expect(c.time.length).toBeGreaterThanOrEqual(p.time.length);
      p.time.forEach((t, k) => {
        const i = c.time.indexOf(t);
        expect(c.surv[i]).toBe(p.surv[k]);
        expect(c.stdErr[i]).toBe(p.stdErr[k]);
        expect(c.lower[i]).toBe(p.lower[k]);
      });
      expect(c.median).toBe(p.median);
      expect(c.noiseStdErr!.every((x) => x === null || x === 0)).toBe(true);
    });
  });

  it('at every ρ from 0.01 to 4, every noisy curve is non-increasing, within [0, 1], with lower ≤ surv ≤ upper and non-negative counts', () => {
    for (const rho of [0.01, 0.1, 1, 4]) {
      const { std, noisy } = releases(rho, 40, Math.round(rho * 100));
      for (const s of noisy) {
        const r = km(s, std);
        for (const c of r.curves) {
          c.surv.forEach((v, i) => {
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(1);
            if (i > 0) expect(v).toBeLessThanOrEqual(c.surv[i - 1]!);
            if (c.lower[i] !== null) expect(c.lower[i]!).toBeLessThanOrEqual(v);
            if (c.upper[i] !== null) expect(c.upper[i]!).toBeGreaterThanOrEqual(v);
            expect(c.nRisk[i]!).toBeGreaterThanOrEqual(1);
            if (i > 0) expect(c.nRisk[i]!).toBeLessThanOrEqual(c.nRisk[i - 1]!);
            expect(c.nEvent[i]!).toBeGreaterThanOrEqual(0);
            expect(c.nCensor[i]!).toBeGreaterThanOrEqual(0);
          });
          c.atRisk.forEach((x) => expect(x).toBeGreaterThanOrEqual(0));
        }
        expect(r.logRank!.chisq === null || r.logRank!.chisq >= 0).toBe(true);
      }
    }
  });

  it('the interval that accounts for the noise is wider than the Greenwood interval of the same noisy counts, at every time', () => {
    const { std, noisy } = releases(0.5, 10, 3);
    for (const s of noisy) {
      const dp = km(s, std);
      const naive = km(s); // the same counts, finalized as if exact
      dp.curves.forEach((c, g) => {
        const n = naive.curves[g]!;
        c.time.forEach((t, i) => {
          const k = n.time.indexOf(t);
          if (k < 0 || c.surv[i] === 0) return;
          expect(c.stdErr[i]!).toBeGreaterThan(n.stdErr[k]!);
          expect(c.lower[i]!).toBeLessThan(n.lower[k]!);
        });
      });
    }
  });

  it('over 300 noise draws at ρ = 0.5, the noise interval covers the exact survival at 500–3000 days about 95% of the time, and the full interval at least as often', () => {
    const { std, noisy } = releases(0.5, 300, 11, overall);
    const exactAll = centralResult(overall, pbc.schema, pbc.dataset) as KaplanMeierResult;
    const z = 1.959963984540054;
    let n = 0, noiseCover = 0, fullCover = 0;
    for (const s of noisy) {
      const c = km(s, std, overall).curves[0]!;
      for (const t of [500, 1000, 2000, 3000]) {
        const i = c.time.indexOf(t);
        const S = exactAt(0, t, exactAll);
        n++;
        const ns = c.noiseStdErr![i]!;
        if (S >= c.surv[i]! * Math.exp(-z * ns) && S <= c.surv[i]! * Math.exp(z * ns)) noiseCover++;
        if (S >= c.lower[i]! && S <= c.upper[i]!) fullCover++;
      }
    }
    // 1200 intervals: the binomial sd of a rate near 0.95 is ≈ 0.006; a noise sd off by 1.5× covers ≈ 80% or 99.8%.
    expect(n).toBe(1200);
    expect(noiseCover / n).toBeGreaterThan(0.91);
    expect(noiseCover / n).toBeLessThan(0.98);
    expect(fullCover / n).toBeGreaterThanOrEqual(noiseCover / n);
  });

  it('the log-rank test adds the noise covariance of O − E: its χ² never exceeds that of the same noisy counts taken as exact, and it rejects at about its level where the naive test mostly would', () => {
    // pbc by sex: exact χ² = 3.19 (p = 0.074); the noise moves O − E of the 44 men by far more than its sampling sd
    const { std, noisy } = releases(0.5, 200, 13);
    let n = 0, dpReject = 0, naiveReject = 0;
    for (const s of noisy) {
      const dp = km(s, std).logRank!;
      const naive = km(s).logRank!;
      if (dp.chisq === null || naive.chisq === null || dp.strata.length < 2) continue;
      n++;
      expect(dp.chisq).toBeLessThanOrEqual(naive.chisq * (1 + 1e-12));
      if (dp.p! < 0.05) dpReject++;
      if (naive.p! < 0.05) naiveReject++;
    }
    expect(n).toBeGreaterThan(150);
    expect(dpReject / n).toBeLessThan(0.12);
    expect(naiveReject / n).toBeGreaterThan(0.5);
  });

  it('noiseUncertainty reports the noise sd of surv (S · noiseStdErr), of the counts and of the risk sets', () => {
    const { std, noisy, np } = releases(1, 1, 5);
    const r = km(noisy[0]!, std);
    const u = noiseUncertainty(query, pbc.schema, plan, np, noisy[0]!, 3);
    const names = new Set(numericFields(r).map(([k]) => k));
    for (const k of Object.keys(u)) expect(names.has(k), k).toBe(true);
    const c = r.curves[0]!;
    expect(u['curves[0].surv[3]']).toBeCloseTo(c.surv[3]! * c.noiseStdErr![3]!, 12);
    expect(u['curves[0].nEvent[0]']).toBeCloseTo(std[0]!, 12);
    // the first bin's risk set sums all 2 × 100 cells of the stratum
    expect(u['curves[0].nRisk[0]']).toBeCloseTo(std[0]! * Math.sqrt(200), 9);
  });

  it('finalizeReleased passes the noise to the post-processing; without it a noisy release still gives a monotone curve', () => {
    const { std, noisy } = releases(1, 1, 9);
    const withNoise = finalizeReleased(query, pbc.schema, plan, noisy[0]!, true, undefined, std).result as KaplanMeierResult;
    const without = finalizeReleased(query, pbc.schema, plan, noisy[0]!, true).result as KaplanMeierResult;
    expect(withNoise.curves[0]!.noiseStdErr).toBeDefined();
    expect(without.curves[0]!.noiseStdErr).toBeUndefined();
    expect(withNoise.notes.join(' ')).toMatch(/differentially private/);
    for (const c of without.curves) c.surv.forEach((v, i) => i === 0 || expect(v).toBeLessThanOrEqual(c.surv[i - 1]!));
  });
});
