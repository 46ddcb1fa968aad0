/**
 * The synthesizer's pieces: projection of noisy counts, refined and coarse bins, the network
 * selection, the Private-PGM-style junction-tree fit (it recovers exact marginals), the recorded budget, and
 * seeded sampling (reproducible, within the schema, loadable).
 */
import { describe, expect, it } from 'vitest';
import { rhoFromEpsilonDelta } from '../crypto/dp/accountant.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { buildDataset } from '../stats/index.ts';
import { coarsen, emptyRangeBins, fineColumns, refineEdges } from '../stats/synth/discretize.ts';
import { fineWeights, monotoneTails, pointZ, projectCounts, rowCounts } from '../stats/synth/weights.ts';
import { nonIncreasing as isotonic } from '../stats/isotonic.ts';

const nonIncreasing = (xs: number[]): number[] => Array.from(isotonic(xs));
import { cellMap, fitModel, JunctionTree } from '../stats/synth/junction.ts';
import { centralMeasure } from '../stats/synth/marginals.ts';
import { dropEmptyValues, fitSynthesizer, modelColumn } from '../stats/synth/model.ts';
import { selectNetwork } from '../stats/synth/select.ts';
import { allocate, sampleColumns, sampleCsv } from '../stats/synth/sample.ts';
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
    const e = refineEdges([0, 10, 20, 30, 40], [90, 10, 0, 0], 20);
    expect(e[0]).toBe(0);
    expect(e[e.length - 1]).toBe(40);
    const inFirst = e.filter((x) => x > 0 && x < 10).length;
    expect(inFirst).toBeGreaterThanOrEqual(13);
    expect(e.filter((x) => x > 20 && x < 40)).toEqual([30]);
    const ints = refineEdges([-0.5, 3.5, 7.5], [100, 0], 40, 1);
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

  it('coarsen merges rare categories into one group, a rare (missing) into the largest level, and caps the number of model values', () => {
    const col = { name: 'x', type: 'categorical' as const, levels: ['a', 'b', 'c', 'd', '(missing)'] };
    const c = coarsen(col, [100, 2, 50, -1, 1], { rareCount: 5, maxLevels: 10 });
    expect(c.groups).toEqual([[0, 4], [1, 3], [2]]);
    // a common "(missing)" is a model value of its own
    expect(coarsen(col, [100, 2, 50, -1, 60], { rareCount: 5, maxLevels: 10 }).groups).toEqual([[0], [1, 3], [2], [4]]);
    // a column that is never missing models just its levels
    expect(coarsen({ ...col, levels: ['a', 'b', '(missing)'] }, [30, 20, 0], { rareCount: 5, maxLevels: 10 }).groups).toEqual([[0, 2], [1]]);
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

  it('nonIncreasing is the least-squares non-increasing fit (pool adjacent violators) and keeps the sum', () => {
    expect(nonIncreasing([5, 3, 4, 0, 2])).toEqual([5, 3.5, 3.5, 1, 1]);
    expect(nonIncreasing([1, 2, 3])).toEqual([2, 2, 2]);
    expect(nonIncreasing([3, 2, 1])).toEqual([3, 2, 1]);
    expect(nonIncreasing([])).toEqual([]);
  });

  it('monotoneTails pools an isolated noise spike in an empty tail with the empty bins before it, so projection removes it; the bulk and point-mass bins are untouched', () => {
    // bulk in bins 1-4; bin 11 is a noise spike far above the data; bin 0 is a point-mass bin
    const y = [30, 100, 200, 150, 40, -6, 5, -9, -12, 3, -8, 30, -4];
    const t = [...y];
    monotoneTails(t, y.map((_, j) => j === 0));
    expect(t.slice(0, 5)).toEqual([30, 100, 200, 150, 40]);
    expect(t.reduce((a, b) => a + b, 0)).toBeCloseTo(y.reduce((a, b) => a + b, 0), 9);
    // the spike is pooled with the seven bins from the end of the data: 3 / 7 each
    for (let j = 5; j < 12; j++) expect(t[j]).toBeCloseTo(3 / 7, 12);
    expect(t[12]).toBe(-4);
    const plain = projectCounts(y);
    const fitted = projectCounts(t);
    const far = (w: number[]): number => w.slice(5).reduce((a, b) => a + b, 0);
    expect(far(plain)).toBeGreaterThan(24);
    expect(far(fitted)).toBeLessThan(1);
    // fineWeights applies it to ordered (numeric) columns only, at a tolerance of 2σ (the spike,
    // 29.6 above its fitted value, is within 2σ = 32 of it)
    expect(fineWeights([...y, 0], 16, { ordered: true })).toEqual([...projectCounts(t), 0]);
    expect(fineWeights([...y, 0], 16)).toEqual([...plain, 0]);
    // exact counts (σ = 0) are never changed
    expect(fineWeights([...y, 0], 0, { ordered: true })).toEqual([...plain, 0]);
  });

  it('monotoneTails keeps a real second mode in a tail once the noise is small against it: only residuals within the tolerance (2σ in fineWeights) are pooled', () => {
    // a bump of 60 in the upper tail (bin 6) after a dip of 10; the monotone fit pools both at 35
    const y = [0, 200, 300, 200, 50, 10, 60, 5, 0];
    const flat = [...y];
    monotoneTails(flat);
    expect(flat[5]).toBeCloseTo(35, 12);
    expect(flat[6]).toBeCloseTo(35, 12);
    // tolerance 2: each residual (±25) keeps all but 2 of itself
    const kept = [...y];
    monotoneTails(kept, undefined, 2);
    expect(kept[5]).toBeCloseTo(12, 12);
    expect(kept[6]).toBeCloseTo(58, 12);
    // through fineWeights: σ = 1 keeps the mode, σ = 20 (residuals within 2σ) pools it
    const small = fineWeights([...y, 0], 1, { ordered: true });
    expect(small[6]! - small[5]!).toBeGreaterThan(40);
    const large = fineWeights([...y, 0], 20, { ordered: true });
    expect(large[6]).toBeCloseTo(large[5]!, 9);
  });

  it('the point-mass rule holds the whole fit to a 5 % chance of a point mass from noise: z rises with the number of point-mass columns (Bonferroni)', () => {
    expect(pointZ(0)).toBe(2);
    expect(pointZ(1)).toBe(2);
    // one-sided 1 − 0.05/m quantiles: m = 6 → 2.394, m = 11 → 2.609
    expect(pointZ(6)).toBeCloseTo(2.394, 3);
    expect(pointZ(11)).toBeCloseTo(2.609, 3);
    expect(() => pointZ(-1)).toThrow(RangeError);
    // σ = 5: a zero-bin count of 13 (2.6σ) is kept at one column's z, dropped at 11 columns'
    const zero = [true, false, false];
    expect(fineWeights([13, 100, 200, 0], 5, { ordered: true, fixed: zero })[0]).toBe(13);
    expect(fineWeights([13, 100, 200, 0], 5, { ordered: true, fixed: zero, zPoint: pointZ(11) })).toEqual([0, 106.5, 206.5, 0]);
    // a count above it is kept
    expect(fineWeights([14, 100, 200, 0], 5, { ordered: true, fixed: zero, zPoint: pointZ(11) })[0]).toBe(14);
  });

  it('a point-mass bin (0) keeps its noisy count only at 2σ or more; below, its count goes to the other bins (total kept)', () => {
    const zero = [true, false, false];
    // σ = 3: a noisy count of 5 in the bin of 0 is below 2σ, 6 is kept
    expect(fineWeights([5, 100, 200, 0], 3, { ordered: true, fixed: zero })).toEqual([0, 102.5, 202.5, 0]);
    expect(fineWeights([6, 100, 200, 0], 3, { ordered: true, fixed: zero })).toEqual([6, 100, 200, 0]);
    // the rule is for point-mass bins only: an ordinary first bin of 5 is kept
    expect(fineWeights([5, 100, 200, 0], 3, { ordered: true })).toEqual([5, 100, 200, 0]);
    // exact counts (σ = 0): a real zero count stays 0 and a real point mass of 1 is kept
    expect(fineWeights([1, 100, 200, 0], 0, { ordered: true, fixed: zero })).toEqual([1, 100, 200, 0]);
  });

  it('row counts of a one-way product: a column\'s own total combined with the other columns\' mean total by inverse-variance weights', () => {
    // three columns of 4, 2 and 2 cells (variance 1 per cell): totals 100, 130, 110
    const tables = [[20, 30, 40, 10], [60, 70], [50, 60]];
    const n = rowCounts(tables, 1);
    // column 0: own 100 (variance 4), others (130 + 110) / 2 = 120 (variance (2 + 2) / 4 = 1): (100/4 + 120) / (1/4 + 1) = 116
    expect(n[0]).toBeCloseTo(116, 12);
    // column 1: own 130 (variance 2), others 105 (variance (4 + 2) / 4 = 1.5): (65 + 70) / (0.5 + 2/3)
    expect(n[1]).toBeCloseTo((130 / 2 + 105 / 1.5) / (1 / 2 + 1 / 1.5), 12);
    expect(rowCounts(tables, 0)).toEqual([100, 130, 110]); // exact counts: their own totals
    expect(rowCounts([[5, 6]], 1)).toEqual([11]);
    // fineWeights projects the present bins onto the given present total, even when their own sum is ≤ 0
    expect(fineWeights([10, 20, 30, 5], 0.1, { presentTotal: 90 })).toEqual([20, 30, 40, 5]);
    const w = fineWeights([-30, 10, -5, 40], 5, { presentTotal: 60 });
    expect(w[3]).toBe(40);
    expect(w.slice(0, 3).reduce((a, b) => a + b, 0)).toBeCloseTo(60, 9);
    expect(fineWeights([-30, 10, -5, 40], 5)).toEqual([0, 0, 0, 40]); // without it: every row missing
  });

  it('(missing) keeps its noisy share when it is at least 2σ, inside whatever model value holds it; below 2σ it is 0', () => {
    const col = { name: 'x', type: 'categorical' as const, levels: ['a', 'b', '(missing)'] };
    // σ = 3: a noisy missing count of 5 is below 2σ (taken as 0), 6 is kept
    expect(fineWeights([300, 100, 5], 3)).toEqual([300, 100, 0]);
    expect(fineWeights([300, 100, 6], 3)).toEqual([300, 100, 6]);
    expect(fineWeights([300, -3, -2], 0)).toEqual([297, 0, 0]); // present values projected (total kept), (missing) clipped
    // a bin the range step found empty keeps its weight only at 2σ or more; the kept bins keep the
    // noisy total of all present bins (312), so (missing) is not inflated against them
    expect(fineWeights([300, 5, 7, 0], 3, { emptyRange: [false, true, true] })).toEqual([302.5, 0, 9.5, 0]);
    expect(emptyRangeBins([0, 1, 2, 3, 4], [0, 2, 4], [10, 0])).toEqual([false, false, true, true]);
    const merged = modelColumn(col, coarsen(col, [300, 100, 6], { rareCount: 15, maxLevels: 10 }), fineWeights([300, 100, 6], 3));
    expect(merged.groups).toEqual([{ fine: [0, 2], weights: [300 / 306, 6 / 306] }, { fine: [1], weights: [1] }]);
    const erased = modelColumn(col, coarsen(col, [300, 100, 4], { rareCount: 15, maxLevels: 10 }), fineWeights([300, 100, 4], 3));
    expect(erased.groups[0]).toEqual({ fine: [0, 2], weights: [1, 0] });
    const own = modelColumn(col, coarsen(col, [300, 100, 40], { rareCount: 5, maxLevels: 10 }), [300, 100, 40]);
    expect(own.groups[2]).toEqual({ fine: [2], weights: [1] });
    // a common (missing) merged only to cap the number of model values keeps its share
    const capped = modelColumn(col, coarsen(col, [300, 100, 40], { rareCount: 5, maxLevels: 2 }), [300, 100, 40]);
    expect(capped.groups[1]).toEqual({ fine: [1, 2], weights: [100 / 140, 40 / 140] });
    // a model value whose fine values all have weight 0 is empty: dropEmptyValues gives it no probability
    const empty = modelColumn(col, { queryLevels: [[0], [1], [2]], groups: [[0], [1], [2]] }, [300, 100, 0]);
    expect(empty.groups[2]!.empty).toBe(true);
    const [[row]] = dropEmptyValues([[[0.7, 0.2, 0.1]]], [empty]) as [[number[]]];
    expect(row[0]).toBeCloseTo(0.7 / 0.9, 12);
    expect(row[1]).toBeCloseTo(0.2 / 0.9, 12);
    expect(row[2]).toBe(0);
  });
});

describe('network selection and junction-tree fit', () => {
  // symmetric scores: 0–1 strong, 1–2 and 0–2 next, 3 tied to 2
  const score = [
    [0, 9, 5, 0],
    [9, 0, 6, 1],
    [5, 6, 0, 4],
    [0, 1, 4, 0],
  ];

  it('selectNetwork grows a 2-tree: each new column takes the best parent, and a second from the same family when it scores', () => {
    const net = selectNetwork(score);
    expect(net.order).toEqual([0, 1, 2, 3]);
    expect(net.parents).toEqual([[], [0], [0, 1], [1, 2]]);
  });

  it('selectNetwork with maxParents 1 is the maximum spanning tree', () => {
    expect(selectNetwork(score, { maxParents: 1 }).parents).toEqual([[], [0], [1], [2]]);
  });

  it('selectNetwork with a target makes it a parent of every other column (tree-augmented naive Bayes)', () => {
    const net = selectNetwork(score, { target: 3 });
    expect(net.order[0]).toBe(3);
    for (const v of [0, 1, 2]) expect(net.parents[v]![0]).toBe(3);
    expect(net.parents[3]).toEqual([]);
  });

  it('cellMap sends each cell of a clique to its cell of a grouped sub-table', () => {
    // clique over columns [4, 7] with sizes 3 and 2; the table over [7, 4] with column 4's values {0,1} merged
    const sizes: number[] = [];
    sizes[4] = 3;
    sizes[7] = 2;
    expect(Array.from(cellMap([4, 7], sizes, [7, 4], [null, Int32Array.from([0, 0, 1])]))).toEqual([0, 2, 0, 2, 1, 3]);
  });

  it('fitModel recovers a distribution with a three-way family from its exact two-way tables', () => {
    // x0 → x1, (x0, x1) → x2 with sizes 2, 3, 2: p(x0) p(x1|x0) p(x2|x0,x1)
    const p0 = [0.3, 0.7];
    const p10 = [[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]];
    // a no-three-way-interaction table (log-linear in the pairs), so the pairs determine it
    const p2 = (a: number, b: number): number[] => {
      const l = [0.4 + 1.1 * a - 0.7 * b, 0];
      const z = Math.exp(l[0]!) + 1;
      return [Math.exp(l[0]!) / z, 1 / z];
    };
    const N = 1000;
    const t01 = new Float64Array(6);
    const t02 = new Float64Array(4);
    const t12 = new Float64Array(6);
    for (let a = 0; a < 2; a++) for (let b = 0; b < 3; b++) for (let c = 0; c < 2; c++) {
      const p = p0[a]! * p10[a]![b]! * p2(a, b)[c]!;
      t01[a * 3 + b] += N * p;
      t02[a * 2 + c] += N * p;
      t12[b * 2 + c] += N * p;
    }
    const zero = (n: number): Float64Array => new Float64Array(n);
    const fit = fitModel([2, 3, 2], [[], [0], [0, 1]], [0, 1, 2], [
      { columns: [0, 1], counts: t01, variance: zero(6) },
      { columns: [0, 2], counts: t02, variance: zero(4) },
      { columns: [1, 2], counts: t12, variance: zero(6) },
    ], { iterations: 5000 });
    expect(fit.cliques).toEqual([[0, 1, 2]]);
    expect(fit.total).toBeCloseTo(N, 9);
    fit.cpt[0]![0]!.forEach((x, i) => expect(x).toBeCloseTo(p0[i]!, 3));
    fit.cpt[1]!.forEach((row, a) => row.forEach((x, b) => expect(x).toBeCloseTo(p10[a]![b]!, 3)));
    fit.cpt[2]!.forEach((row, r) => row.forEach((x, c) => expect(x).toBeCloseTo(p2(Math.floor(r / 3), r % 3)[c]!, 2)));
  });

  it('JunctionTree marginals of a chain of families agree on every separator', () => {
    const sizes = [2, 3, 2, 4];
    const jt = new JunctionTree(sizes, [[], [0], [0, 1], [1, 2]], [0, 1, 2, 3]);
    expect(jt.cliques).toEqual([[0, 1, 2], [1, 2, 3]]);
    const rng = seededRandomSource(new Uint8Array(32).fill(3));
    const thetas = jt.cells.map((n) => Float64Array.from({ length: n }, () => (rng.uint32() % 1000) / 250 - 2));
    const [a, b] = jt.marginals(thetas) as [Float64Array, Float64Array];
    const sepA = new Float64Array(6);
    const sepB = new Float64Array(6);
    cellMap([0, 1, 2], sizes, [1, 2]).forEach((k, i) => (sepA[k] += a[i]!));
    cellMap([1, 2, 3], sizes, [1, 2]).forEach((k, i) => (sepB[k] += b[i]!));
    sepA.forEach((x, i) => expect(x).toBeCloseTo(sepB[i]!, 12));
    expect(a.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
  });
});

describe('fitting and sampling (central measurements)', () => {
  const rho = rhoFromEpsilonDelta(4, 1e-6);
  const fitDp = (): ReturnType<typeof fitSynthesizer> => fitSynthesizer(pbc.schema, centralMeasure(pbc.schema, pbc.dataset, seededRandomSource(new Uint8Array(32).fill(7))), { rho, iterations: 200 });

  it('the model records the budget: four queries whose charges add up to rho; ε at δ = 1e-6 is 4', async () => {
    const m = await fitDp();
    expect(m.budget.queries.map((q) => q.purpose)).toEqual(['range', 'one-way', 'select', 'measure']);
    expect(m.budget.rho).toBeCloseTo(rho, 12);
    expect(m.budget.queries.reduce((a, q) => a + q.rhoCharged, 0)).toBeCloseTo(rho, 12);
    expect(m.budget.epsilon!).toBeCloseTo(4, 6);
    expect(m.budget.exact).toBe(false);
    expect(m.parents.filter((p) => p.length > 0)).toHaveLength(m.columns.length - 1);
  });

  it('too few rows for two-way tables at the budget: the rest measures the one-ways again and the model is their product', async () => {
    const small = rhoFromEpsilonDelta(0.2, 1e-6);
    const m = await fitSynthesizer(pbc.schema, centralMeasure(pbc.schema, pbc.dataset, seededRandomSource(new Uint8Array(32).fill(3))), { rho: small });
    expect(m.method).toBe('mst');
    expect(m.budget.queries.map((q) => q.purpose)).toEqual(['range', 'one-way', 'one-way-again']);
    expect(m.budget.queries.reduce((a, q) => a + q.rhoCharged, 0)).toBeCloseTo(small, 12);
    expect(m.parents.every((p) => p.length === 0)).toBe(true);
    // at ε = 4 the same data carry two-way tables; exact measurements always do, whatever maxLevels
    expect((await fitDp()).budget.queries.map((q) => q.purpose)).toContain('measure');
    const exact = await fitSynthesizer(pbc.schema, centralMeasure(pbc.schema, pbc.dataset), { maxLevels: 2, iterations: 50 });
    expect(exact.budget.queries.map((q) => q.purpose)).toEqual(['range', 'one-way', 'select', 'measure']);
  });

  it('naive Bayes (maxParents 1 with a target) skips selection and spends its share on the measure step', async () => {
    const m = await fitSynthesizer(pbc.schema, centralMeasure(pbc.schema, pbc.dataset, seededRandomSource(new Uint8Array(32).fill(5))), { rho, maxParents: 1, target: 'status', iterations: 100 });
    expect(m.budget.queries.map((q) => q.purpose)).toEqual(['range', 'one-way', 'measure']);
    expect(m.budget.queries[2]!.rhoCharged).toBeCloseTo(rho * 0.7, 12);
    const status = m.columns.findIndex((c) => c.name === 'status');
    m.parents.forEach((p, i) => expect(p).toEqual(i === status ? [] : [status]));
  });

  it('the independent baseline spends the same budget on one-way marginals only and has no edges', async () => {
    const m = await fitSynthesizer(pbc.schema, centralMeasure(pbc.schema, pbc.dataset, seededRandomSource(new Uint8Array(32))), { rho, method: 'independent' });
    expect(m.budget.queries.map((q) => q.purpose)).toEqual(['range', 'one-way']);
    expect(m.budget.rho).toBeCloseTo(rho, 12);
    expect(m.parents.every((p) => p.length === 0)).toBe(true);
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
    // numeric columns with a schema resolution are sampled on its grid
    for (const [name, step] of [['bili', 0.1], ['albumin', 0.01], ['protime', 0.1]] as const) {
      const col = dataset.columns.get(name);
      if (col?.kind !== 'numeric') throw new Error(name);
      const off = Array.from(col.values).filter((v) => !Number.isNaN(v) && Math.abs(v / step - Math.round(v / step)) > 1e-6);
      expect(off, name).toEqual([]);
    }
  });

  it('rounded sampling gives each value ⌊m·p⌋ or ⌈m·p⌉ of m records, shuffled; independent draws vary', () => {
    const p = [0.5, 0.25, 0.125, 0.125 - 1e-3, 1e-3];
    const rng = seededRandomSource(new Uint8Array(32).fill(9));
    for (const m of [0, 1, 7, 1000, 1003]) {
      const got = allocate(p, m, rng, 'round');
      expect(got.length).toBe(m);
      p.forEach((x, v) => {
        const n = got.filter((g) => g === v).length;
        expect(n === Math.floor(m * x) || n === Math.ceil(m * x), `m ${m} value ${v}: ${n}`).toBe(true);
      });
    }
    const big = allocate(p, 1000, rng, 'round');
    expect(Array.from(big)).not.toEqual(Array.from(big).sort((a, b) => a - b));
    // independent draws: binomial counts, within ±1 of 500 with probability 0.075 each time
    const drawn = Array.from({ length: 20 }, () => allocate(p, 1000, rng, 'iid').filter((g) => g === 0).length);
    expect(drawn.some((n) => Math.abs(n - 500) > 1)).toBe(true);
  });

  it("a rounded sample follows the model: the root's model values within one record of rows × p", async () => {
    const m = await fitSynthesizer(pbc.schema, centralMeasure(pbc.schema, pbc.dataset), { iterations: 300, target: 'status' });
    const root = m.order[0]!;
    expect(m.columns[root]!.name).toBe('status');
    const rows = 2001;
    const s = sampleColumns(m, rows, 'round');
    const col = m.columns[root]!;
    col.groups.forEach((g, gi) => {
      const n = s.values[root]!.filter((f) => g.fine.includes(f < 0 ? col.levels.length - 1 : f)).length;
      expect(Math.abs(n - rows * m.cpt[root]![0]![gi]!)).toBeLessThan(1);
    });
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
