/**
 * Property tests on random data (fast-check): for random bounds (including negative ranges),
 * random values with missing entries, random categorical codes and a random number of parties,
 * the parties' localStatistics add up exactly to the whole's, and finalize agrees with the
 * central reference within the grid-derived tolerance.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildDataset, centralResult, finalize, formatCsv, localStatistics, numericFields, parseSchema, planQuery, splitDataset,
} from '../stats/index.ts';
import type { Query } from '../stats/index.ts';
import { gridTolerance } from './stats-helpers.ts';

const arbCase = fc
  .record({
    lo: fc.integer({ min: -1000, max: 999 }),
    width: fc.integer({ min: 1, max: 2000 }),
    parties: fc.integer({ min: 1, max: 5 }),
    seed: fc.integer(),
    ring: fc.constantFrom(32 as const, 64 as const),
    rows: fc.array(
      fc.record({
        x: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 8 }),
        y: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 8 }),
        k: fc.integer({ min: 0, max: 20 }),
        c: fc.option(fc.constantFrom('a', 'b', 'c'), { freq: 6 }),
      }),
      { minLength: 0, maxLength: 60 },
    ),
  });

describe('random data: federated equals central', () => {
  it('exact sums and grid-bounded results for every kind', () => {
    fc.assert(
      fc.property(arbCase, ({ lo, width, parties, seed, ring, rows }) => {
        const hi = lo + width;
        const schema = parseSchema({
          name: 'prop', maxRowsPerParty: 100,
          columns: [
            { name: 'x', type: 'numeric', min: lo, max: hi },
            { name: 'y', type: 'numeric', min: lo, max: hi },
            { name: 'k', type: 'integer', min: 0, max: 20 },
            { name: 'c', type: 'categorical', categories: ['a', 'b', 'c'], missing: 'category' },
            { name: 'g', type: 'categorical', categories: ['p', 'q'] },
          ],
        });
        const csvRows = rows.map((r, i) => [
          r.x === null ? '' : String(lo + r.x * width),
          r.y === null ? '' : String(lo + r.y * width),
          String(r.k), r.c ?? '', i % 3 === 0 ? '' : i % 2 ? 'p' : 'q',
        ]);
        const { dataset } = buildDataset(schema, formatCsv(['x', 'y', 'k', 'c', 'g'], csvRows), { strict: true });
        const parts = splitDataset(dataset, parties, seed);
        const mid = lo + width / 2;
        const queries: Query[] = [
          { kind: 'count', columns: [], filter: [{ column: 'x', op: 'lt', values: [mid] }] },
          { kind: 'sum', columns: ['x'], filter: [] },
          { kind: 'mean', columns: ['y'], filter: [{ column: 'c', op: 'ne', values: ['a'] }] },
          { kind: 'variance', columns: ['x'], filter: [] },
          { kind: 'histogram', columns: ['x'], filter: [], bins: [lo, mid, hi] },
          { kind: 'frequency', columns: ['c'], filter: [] },
          { kind: 'contingency', columns: ['c', 'g'], filter: [] },
          { kind: 'covariance', columns: ['x', 'y', 'k'], filter: [] },
          { kind: 'correlation', columns: ['x', 'y'], filter: [{ column: 'g', op: 'not_missing', values: [] }] },
        ];
        for (const q of queries) {
          let plan;
          try {
            plan = planQuery(q, schema, { parties, ringBits: ring });
          } catch (e) {
            // only a 32-bit ring may be refused, and only by the overflow check
            expect(ring).toBe(32);
            expect(String(e)).toMatch(/could overflow a 32-bit ring/);
            continue;
          }
          const local = parts.map((p) => localStatistics(q, schema, plan, p));
          const whole = localStatistics(q, schema, plan, dataset);
          const summed = whole.sums.map((_, i) => local.reduce((a, l) => a + l.sums[i]!, 0n));
          expect(summed).toEqual(whole.sums);
          const fed = numericFields(finalize(q, schema, plan, summed));
          const centralR = centralResult(q, schema, dataset);
          const central = numericFields(centralR);
          // correlation/variance need a non-degenerate sample for first-order bounds; compare nulls otherwise
          const tol = centralR.n >= 3 ? gridTolerance(q, plan, centralR, dataset, schema) : central.map(() => Infinity);
          central.forEach(([key, v], i) => {
            const f = fed[i]![1];
            if (v === null || f === null) {
              if (centralR.n >= 3 && q.kind !== 'correlation') expect(f, key).toBe(v);
              return;
            }
            expect(Math.abs(f - v), `${q.kind} ${key}: ${f} vs ${v}`).toBeLessThanOrEqual(tol[i]! + 1e-9 * Math.abs(v));
          });
        }
      }),
      { numRuns: 60, seed: 20261123 },
    );
  });
});
