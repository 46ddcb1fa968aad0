/**
 * The uncertainty a DP release reports for each field: for count kinds the closed form (each
 * field is a sum of entries, so its variance is the sum of theirs) must agree with the parametric
 * bootstrap it replaces there, field by field, including the row count n that sums a whole table.
 */
import { describe, expect, it } from 'vitest';
import { DP_GRID_BITS, localStatistics, planNoise, planQuery, type Query } from '../stats/index.ts';
import { bootstrapUncertainty, countUncertainty, noiseUncertainty } from '../stats/privacy.ts';
import { releasedStdDev } from '../crypto/dp/distributed.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');
const QUERIES: [string, Query][] = [
  ['histogram', { kind: 'histogram', columns: ['bili'], bins: [0, 1, 2, 5, 10, 20], filter: [] }],
  ['frequency', { kind: 'frequency', columns: ['stage'], filter: [] }],
  ['contingency', { kind: 'contingency', columns: ['sex', 'stage'], filter: [] }],
  ['marginal of three tables', { kind: 'marginal', columns: ['sex', 'stage', 'edema'], filter: [], edges: [[], [], []], tables: [[0, 1], [1, 2], [0]] }],
];

describe('noise uncertainty of count kinds', () => {
  for (const [name, q] of QUERIES) {
    it(`${name}: the closed form agrees with 4000 bootstrap replicates within sampling error`, () => {
      const plan = planQuery(q, pbc.schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
      const np = planNoise(q, pbc.schema, plan, { rho: 0.05, parties: 3, threshold: 2, collusion: 0 });
      const { sums } = localStatistics(q, pbc.schema, plan, pbc.dataset);
      const sd = np.perEntry.map((e) => releasedStdDev(e.noise, 3));
      const closed = countUncertainty(q, pbc.schema, plan, sd);
      const boot = bootstrapUncertainty(q, pbc.schema, plan, sd, sums, 4000);
      expect(Object.keys(closed)).toEqual(Object.keys(boot));
      expect(noiseUncertainty(q, pbc.schema, plan, np, sums, 3)).toEqual(closed);
      for (const [field, c] of Object.entries(closed)) {
        const b = boot[field]!;
        // The bootstrap draws its noise from Math.random (unseeded): a 4000-replicate SD estimate has
        // a relative sd of 1/√(2·4000) = 1.12%. 6% is 5.4 of those sds: with the 64 fields of this
        // file (union bound) a chance failure has probability < 1e-5 per run (at the former 5%,
        // 4.5 sd, ~5e-4). A field whose closed form is off by 10% still fails with probability > 0.999
        // (3.2 sds past the limit when too high, 4 when too low), by 20% always (> 12 sds).
        expect(Math.abs(c! - b) / b, `${field}: closed ${c}, bootstrap ${b}`).toBeLessThan(0.06);
      }
      // n sums every cell of the first table: its SD is √(cells) times one cell's (one noise level).
      expect(closed.n).toBeGreaterThan(closed[Object.keys(closed)[1]!]!);
    });
  }
});

describe('noise uncertainty of linear releases (count, sum): the exact sd from the plan, not a bootstrap', () => {
  for (const q of [{ kind: 'count', columns: [], filter: [] }, { kind: 'sum', columns: ['bili'], filter: [] }] as Query[]) {
    it(`${q.kind}: every field's reported sd is its entry's noise sd exactly, the same on every call, and the bootstrap agrees`, () => {
      const plan = planQuery(q, pbc.schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
      const np = planNoise(q, pbc.schema, plan, { rho: 0.05, parties: 3, threshold: 2, collusion: 0 });
      const { sums } = localStatistics(q, pbc.schema, plan, pbc.dataset);
      const perEntry = np.perEntry.map((e, i) => releasedStdDev(e.noise, 3) * 2 ** -plan.scaleBits[i]!);
      const a = noiseUncertainty(q, pbc.schema, plan, np, sums, 3);
      expect(a).toEqual(noiseUncertainty(q, pbc.schema, plan, np, sums, 3)); // no resampling
      expect(a['n']).toBe(perEntry[0]);
      if (q.kind === 'sum') expect(a['sum']).toBe(perEntry[1]);
      const boot = bootstrapUncertainty(q, pbc.schema, plan, np.perEntry.map((e) => releasedStdDev(e.noise, 3)), sums, 4000);
      // 6%: 5.4 sds of a 4000-replicate SD estimate (1.12%), as above.
      for (const [field, v] of Object.entries(a)) expect(Math.abs(v! - boot[field]!) / v!, field).toBeLessThan(0.06);
    });
  }
});
