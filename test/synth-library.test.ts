/**
 * The synthesizer's pieces: projection of noisy counts, refined and coarse bins, the spanning
 * tree, the Private-PGM-style tree fit (it recovers exact marginals), the recorded budget, and
 * seeded sampling (reproducible, within the schema, loadable).
 */
import { describe, expect, it } from 'vitest';
import { rhoFromEpsilonDelta } from '../crypto/dp/accountant.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { buildDataset } from '../stats/index.ts';
import { coarsen, fineColumns, projectCounts, refineEdges } from '../stats/synth/discretize.ts';
import { fitTree } from '../stats/synth/fit.ts';
import { centralMeasure } from '../stats/synth/marginals.ts';
import { fitSynthesizer } from '../stats/synth/model.ts';
import { maximumSpanningTree, rootTree } from '../stats/synth/mst.ts';
import { sampleCsv } from '../stats/synth/sample.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');

describe('discretization', () => {
  it('projectCounts keeps the noisy total, is non-negative and zeroes values within the noise of nothing', () => {
    const x = projectCounts([5, -1, 0.5, 3]);
    // λ = 1/3: [5 − λ, 0, 0.5 − λ, 3 − λ]
    expect(x[0]).toBeCloseTo(14 / 3, 12);
    expect(x[1]).toBe(0);
    expect(x[2]).toBeCloseTo(1 / 6, 12);
    expect(x[3]).toBeCloseTo(8 / 3, 12);
    expect(x.reduce((a, b) => a + b, 0)).toBeCloseTo(7.5, 12);
    expect(projectCounts([-3, 1, 1])).toEqual([0, 0, 0]);
    expect(projectCounts([2, 0, 7])).toEqual([2, 0, 7]);
  });

  it('refineEdges puts narrow bins where the mass is, half-integer cut points for integer columns', () => {
    const e = refineEdges([0, 10, 20, 30, 40], [90, 10, 0, 0], 20, false);
    expect(e[0]).toBe(0);
    expect(e[e.length - 1]).toBe(40);
    const inFirst = e.filter((x) => x > 0 && x < 10).length;
    expect(inFirst).toBeGreaterThanOrEqual(13);
    expect(e.filter((x) => x > 20 && x < 40)).toEqual([30]);
    const ints = refineEdges([-0.5, 3.5, 7.5], [100, 0], 40, true);
    expect(ints).toEqual([-0.5, 0.5, 1.5, 2.5, 3.5, 7.5]);
  });

  it('fine columns cover the schema bounds; every column ends with (missing)', () => {
    for (const c of fineColumns(pbc.schema, 64)) {
      expect(c.levels[c.levels.length - 1]).toBe('(missing)');
      if (c.edges) {
        expect(c.edges[0]!).toBeLessThanOrEqual(c.min!);
        expect(c.edges[c.edges.length - 1]!).toBeGreaterThanOrEqual(c.max!);
        expect(c.edges.length).toBe(c.levels.length);
      }
    }
  });

  it('coarsen merges rare categories into one group and caps the number of model values', () => {
    const col = { name: 'x', type: 'categorical' as const, levels: ['a', 'b', 'c', 'd', '(missing)'] };
    const c = coarsen(col, [100, 2, 50, -1, 1], { rareCount: 5, maxLevels: 10 });
    expect(c.groups).toEqual([[0], [1, 3, 4], [2]]);
    const capped = coarsen(col, [100, 40, 50, 30, 0], { rareCount: 5, maxLevels: 2 });
    expect(capped.groups.length).toBe(2);
    expect(capped.groups.flat().sort()).toEqual([0, 1, 2, 3, 4]);
    const num = { name: 'y', type: 'numeric' as const, levels: ['0', '1', '2', '3', '4', '5', '(missing)'], edges: [0, 1, 2, 3, 4, 5, 6], min: 0, max: 6 };
    const n = coarsen(num, [10, 10, 10, 10, 10, 10, 0.5], { rareCount: 3, maxLevels: 3 });
    expect(n.edges).toEqual([0, 2, 4, 6]);
    // "(missing)" is rare: it joins a group instead of being one
    expect(n.groups.length).toBe(3);
    expect(n.groups.flat().sort()).toEqual([0, 1, 2, 3]);
  });
});

describe('tree selection and fit', () => {
  it('maximumSpanningTree takes the heaviest edges that do not close a cycle', () => {
    const t = maximumSpanningTree(4, [
      { a: 0, b: 1, weight: 5 }, { a: 1, b: 2, weight: 4 }, { a: 0, b: 2, weight: 3 }, { a: 2, b: 3, weight: 1 }, { a: 0, b: 3, weight: 2 },
    ]);
    expect(t).toEqual([[0, 1], [1, 2], [0, 3]]);
    expect(rootTree(4, t)).toEqual({ order: [0, 1, 3, 2], parent: [-1, 0, 1, 0] });
  });

  it('fitTree recovers the marginals of a tree distribution from exact measurements', () => {
    // x0 → x1 → x2 with sizes 2, 3, 2: p(x0) p(x1|x0) p(x2|x1)
    const p0 = [0.3, 0.7];
    const p10 = [[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]];
    const p21 = [[0.9, 0.1], [0.4, 0.6], [0.05, 0.95]];
    const N = 1000;
    const m01 = new Float64Array(6);
    const m12 = new Float64Array(6);
    for (let a = 0; a < 2; a++) for (let b = 0; b < 3; b++) for (let c = 0; c < 2; c++) {
      const p = p0[a]! * p10[a]![b]! * p21[b]![c]!;
      m01[a * 3 + b] += N * p;
      m12[b * 2 + c] += N * p;
    }
    const ones = (n: number): Float64Array => new Float64Array(n);
    const fit = fitTree([2, 3, 2], [-1, 0, 1], [0, 1, 2], [
      { columns: [0, 1], counts: m01, variance: ones(6) },
      { columns: [2, 1], counts: Float64Array.from([0, 1, 2, 3, 4, 5], (k) => m12[(k % 3) * 2 + Math.floor(k / 3)]!), variance: ones(6) },
    ], { iterations: 3000 });
    expect(fit.total).toBeCloseTo(N, 9);
    fit.cpt[0]![0]!.forEach((x, i) => expect(x).toBeCloseTo(p0[i]!, 3));
    fit.cpt[1]!.forEach((row, a) => row.forEach((x, b) => expect(x).toBeCloseTo(p10[a]![b]!, 3)));
    fit.cpt[2]!.forEach((row, b) => row.forEach((x, c) => expect(x).toBeCloseTo(p21[b]![c]!, 3)));
  });
});

describe('fitting and sampling (central measurements)', () => {
  const rho = rhoFromEpsilonDelta(1, 1e-6);
  const fitDp = (): ReturnType<typeof fitSynthesizer> => fitSynthesizer(pbc.schema, centralMeasure(pbc.schema, pbc.dataset, seededRandomSource(new Uint8Array(32).fill(7))), { rho, iterations: 200 });

  it('the model records the budget: four queries whose charges add up to rho; ε at δ = 1e-6 is 1', async () => {
    const m = await fitDp();
    expect(m.budget.queries.map((q) => q.purpose)).toEqual(['range', 'one-way', 'select', 'measure']);
    expect(m.budget.rho).toBeCloseTo(rho, 12);
    expect(m.budget.queries.reduce((a, q) => a + q.rhoCharged, 0)).toBeCloseTo(rho, 12);
    expect(m.budget.epsilon!).toBeCloseTo(1, 6);
    expect(m.budget.exact).toBe(false);
    expect(m.fit.tree).toHaveLength(m.columns.length - 1);
  });

  it('the independent baseline spends the same budget on one-way marginals only and has no edges', async () => {
    const m = await fitSynthesizer(pbc.schema, centralMeasure(pbc.schema, pbc.dataset, seededRandomSource(new Uint8Array(32))), { rho, method: 'independent' });
    expect(m.budget.queries.map((q) => q.purpose)).toEqual(['range', 'one-way']);
    expect(m.budget.rho).toBeCloseTo(rho, 12);
    expect(m.parent.every((p) => p === -1)).toBe(true);
  });

  it('sampling is reproducible from a seed, differs across seeds, and stays within the schema', async () => {
    const m = await fitDp();
    const a = sampleCsv(m, pbc.schema, 300, 'seed-1');
    expect(sampleCsv(m, pbc.schema, 300, 'seed-1')).toBe(a);
    expect(sampleCsv(m, pbc.schema, 300, 'seed-2')).not.toBe(a);
    const { dataset, report } = buildDataset(pbc.schema, a, { strict: true });
    expect(report.rejected).toEqual([]);
    expect(dataset.rowCount).toBe(300);
    const time = dataset.columns.get('time');
    if (time?.kind !== 'numeric') throw new Error('time');
    expect(time.values.every((v) => Number.isNaN(v) || Number.isInteger(v))).toBe(true);
  });

  it('an exact fit reproduces the data one-way frequencies of categorical columns in large samples', async () => {
    const m = await fitSynthesizer(pbc.schema, centralMeasure(pbc.schema, pbc.dataset), { iterations: 500 });
    expect(m.budget).toMatchObject({ rho: 0, exact: true, epsilon: null });
    const { dataset } = buildDataset(pbc.schema, sampleCsv(m, pbc.schema, 10_000, 'big'));
    for (const name of ['status', 'stage', 'edema', 'sex']) {
      const real = pbc.dataset.columns.get(name)!;
      const syn = dataset.columns.get(name)!;
      if (real.kind !== 'categorical' || syn.kind !== 'categorical') throw new Error(name);
      for (let k = -1; k < real.levels.length; k++) {
        const pr = real.codes.filter((c) => c === k).length / real.codes.length;
        const ps = syn.codes.filter((c) => c === k).length / syn.codes.length;
        expect(Math.abs(pr - ps), `${name} level ${k}`).toBeLessThan(0.02);
      }
    }
  });
});
