/**
 * The noise verdict (stats/noise-verdict.ts) as a function of the plan, the noise plan and the
 * released sums: the rho it asks for is the threshold between "noise_dominates" and "ok" computed
 * from the noise plan; it does not depend on the rho of the release; a DP regression that fails
 * because its predictors are collinear (not because of the noise) is not blamed on the noise.
 */
import { describe, expect, it } from 'vitest';
import {
  buildDataset, DP_GRID_BITS, finalizeReleased, localStatistics, noiseStd, noiseVerdict, parseSchema, planNoise, planQuery, type Query, type Schema,
} from '../stats/index.ts';

const schema: Schema = parseSchema({
  name: 'collinear', maxRowsPerParty: 10000,
  columns: [
    { name: 'x', type: 'numeric', min: 0, max: 10 },
    { name: 'z', type: 'numeric', min: 0, max: 20 },
    { name: 'y', type: 'numeric', min: 0, max: 10 },
  ],
});
// z = 2x exactly: collinear predictors.
const rows = Array.from({ length: 2000 }, (_, i) => {
  const x = (i * 7919) % 1000 / 100;
  return `${x},${2 * x},${((x * 3 + (i % 13)) % 10).toFixed(2)}`;
});
const { dataset } = buildDataset(schema, `x,z,y\n${rows.join('\n')}\n`);

/** The verdict on releasing the exact sums as if at `rho` (plan-based part only: no result given). */
function planOnly(q: Query, rho: number): ReturnType<typeof noiseVerdict> {
  const plan = planQuery(q, schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
  const np = planNoise(q, schema, plan, { rho, parties: 3, threshold: 2 });
  return noiseVerdict(q, schema, plan, np, localStatistics(q, schema, plan, dataset).sums, 3, undefined, {});
}

describe('noise verdict', () => {
  const variance: Query = { kind: 'variance', columns: ['y'], filter: [] };

  it('rhoNeeded is the threshold: just below it the noise dominates, just above it the result is ok; it does not depend on the rho released', () => {
    const a = planOnly(variance, 1e-4)!;
    const b = planOnly(variance, 1)!;
    expect(a.status).toBe('noise_dominates');
    expect(a.rhoNeeded!).toBeGreaterThan(1e-4);
    expect(Math.abs(a.rhoNeeded! / b.rhoNeeded! - 1)).toBeLessThan(0.01);
    expect(planOnly(variance, a.rhoNeeded! * 0.97)!.status).toBe('noise_dominates');
    expect(planOnly(variance, a.rhoNeeded! * 1.03)!.status).toBe('ok');
    expect(a.atLeast).toBe(true); // the result's own field was not given
  });

  it('exact releases and kinds without a rule carry no verdict', () => {
    const plan = planQuery(variance, schema, { parties: 3, ringBits: 64 });
    expect(noiseVerdict(variance, schema, plan, undefined, localStatistics(variance, schema, plan, dataset).sums, 3, undefined, {})).toBeUndefined();
    const hist: Query = { kind: 'histogram', columns: ['y'], bins: [2, 4, 6], filter: [] };
    const hp = planQuery(hist, schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    expect(noiseVerdict(hist, schema, hp, planNoise(hist, schema, hp, { rho: 1, parties: 3, threshold: 2 }), localStatistics(hist, schema, hp, dataset).sums, 3, undefined, {})).toBeUndefined();
  });

  it('a DP regression on collinear predictors at a large rho fails post-processing, names the noise and collinearity, and the verdict says the noise is not the cause', () => {
    const q: Query = { kind: 'linear_regression', columns: ['x', 'z'], target: 'y', filter: [] };
    const plan = planQuery(q, schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const np = planNoise(q, schema, plan, { rho: 50, parties: 3, threshold: 2 });
    const { sums } = localStatistics(q, schema, plan, dataset); // noise-free sums, released as if noisy
    const { result, postError } = finalizeReleased(q, schema, plan, sums, true, undefined, noiseStd(np, plan, 3));
    expect(result).toBeUndefined();
    expect(postError).toMatch(/X'X is not positive definite after the DP noise was added .*collinear/);
    const v = noiseVerdict(q, schema, plan, np, sums, 3, result, {})!;
    expect(v.status).toBe('ok');
    expect(v.message).toMatch(/the post-processing failure is then the data's/);
    // The same release at a tiny rho: the noise dominates, and the rho asked for is a lower bound.
    const tiny = noiseVerdict(q, schema, plan, planNoise(q, schema, plan, { rho: 1e-5, parties: 3, threshold: 2 }), sums, 3, undefined, {})!;
    expect(tiny).toMatchObject({ status: 'noise_dominates', atLeast: true });
    expect(tiny.message).toMatch(/at least/);
  });

  it('a noisy row count below 2 dominates, with a lower bound on the rho needed (the count alone at its upper confidence limit)', () => {
    const plan = planQuery(variance, schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const np = planNoise(variance, schema, plan, { rho: 1e-3, parties: 3, threshold: 2 });
    const sd0 = noiseStd(np, plan, 3)[0]!;
    for (const nHat of [1n, -40n]) {
      const sums = localStatistics(variance, schema, plan, dataset).sums.map((s, i) => (i === 0 ? nHat * 2n ** BigInt(plan.scaleBits[0]!) : s));
      const v = noiseVerdict(variance, schema, plan, np, sums, 3, undefined, {})!;
      expect(v).toMatchObject({ status: 'noise_dominates', quantity: 'n', atLeast: true });
      const nUpper = Math.max(Number(nHat), 0) + 2 * sd0;
      expect(v.rhoNeeded!).toBeCloseTo(1e-3 * (sd0 / (0.1 * nUpper)) ** 2, 12);
      expect(v.rhoNeeded!).toBeGreaterThan(1e-3); // the noise sd exceeds a tenth of any plausible n
      expect(v.message).toMatch(/rho of at least/);
    }
  });
});
