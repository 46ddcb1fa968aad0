/**
 * The adaptive (AIM-style) synthesizer and the rule that chooses it (stats/synth/adaptive.ts,
 * chordal.ts; docs/synth.md): every measurement is a charged marginal query and the charges sum
 * to the budget; the model stays under its size cap; the plan depends only on n̂, ρ and the
 * domain; noise-free, a planted three-way interaction (XOR) is recovered where the 2-tree cannot;
 * and the 3-way TVD metric (stats/eval/triples.ts).
 */
import { describe, expect, it } from 'vitest';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { sha256 } from '../crypto/sha256.ts';
import { utf8 } from '../crypto/bytes.ts';
import { buildDataset, parseSchema, type Dataset } from '../stats/index.ts';
import { formatCsv } from '../stats/csv.ts';
import { evaluationTriples, tripleCounts } from '../stats/eval/triples.ts';
import { aimRounds, chooseModel, MAX_CLIQUE, MAX_MODEL_CELLS, type RuleInputs } from '../stats/synth/adaptive.ts';
import { chordalNetwork, emptyGraph, isChordal, triangulate, withClique } from '../stats/synth/chordal.ts';
import { centralMeasure, type Measure } from '../stats/synth/marginals.ts';
import { fitSynthesizer, type SynthModel } from '../stats/synth/model.ts';
import { sampledDataset } from '../bench/synth-common.ts';
import { loadExample } from './stats-helpers.ts';

const rngOf = (seed: string): ReturnType<typeof seededRandomSource> => seededRandomSource(sha256(utf8(`synth-adaptive-test|${seed}`)));

interface Asked { kind: string; rho: number | undefined; purpose: string; queryId: string }

/** A central measure that records every query it answers. */
function recording(inner: Measure, asked: Asked[]): Measure {
  return async (q, rho, purpose) => {
    const m = await inner(q, rho, purpose);
    asked.push({ kind: q.kind, rho, purpose, queryId: m.queryId });
    return m;
  };
}

/** Model cells: one table per family (a column and its parents). */
const cells = (m: SynthModel): number => m.order.reduce((a, v) => a + [...m.parents[v]!, v].reduce((x, c) => x * m.columns[c]!.groups.length, 1), 0);

describe('the adaptive model (AIM-style rounds)', () => {
  const flchain = loadExample('flchain');
  const rho = 0.5;
  let fitted: { model: SynthModel; asked: Asked[] } | undefined;
  const fit = async (): Promise<{ model: SynthModel; asked: Asked[] }> => {
    if (!fitted) {
      const asked: Asked[] = [];
      const model = await fitSynthesizer(flchain.schema, recording(centralMeasure(flchain.schema, flchain.dataset, rngOf('budget')), asked), { rho, method: 'aim', iterations: 60 });
      fitted = { model, asked };
    }
    return fitted;
  };

  it('measures only through charged marginal queries whose rho sums to the budget, each recorded in the model', async () => {
    const { model, asked } = await fit();
    expect(model.fit.plan).toBe('aim');
    expect(model.method).toBe('aim');
    expect(asked.every((a) => a.kind === 'marginal' && typeof a.rho === 'number' && a.rho > 0)).toBe(true);
    expect(asked.reduce((s, a) => s + a.rho!, 0)).toBeCloseTo(rho, 12);
    expect(model.budget.rho).toBeCloseTo(rho, 12);
    expect(model.budget.queries.map((q) => [q.queryId, q.purpose, q.rhoCharged])).toEqual(asked.map((a) => [a.queryId, a.purpose, a.rho]));
    const d = model.columns.length;
    expect(asked.filter((a) => a.purpose.startsWith('round-')).length).toBe(aimRounds(d));
    expect(asked.map((a) => a.purpose).slice(0, 4)).toEqual(['range', 'one-way', 'select', 'select-3']);
  });

  it('respects the size cap: cliques of at most MAX_CLIQUE columns, at most two parents, cells under MAX_MODEL_CELLS', async () => {
    const { model } = await fit();
    expect(Math.max(...model.fit.cliques.map((c) => c.length))).toBeLessThanOrEqual(MAX_CLIQUE);
    expect(model.fit.cliques.some((c) => c.length > 1)).toBe(true);
    expect(model.parents.every((p) => p.length <= 2)).toBe(true);
    expect(cells(model)).toBeLessThanOrEqual(MAX_MODEL_CELLS);
  });

  it('triangulation gives a chordal supergraph whose search order has clique parent sets', () => {
    // a 5-cycle plus a chord-free square: not chordal until triangulated
    let g = emptyGraph(7);
    for (const [a, b] of [[0, 1], [1, 2], [2, 3], [3, 4], [4, 0], [5, 6]] as const) g = withClique(g, [a, b]);
    expect(isChordal(g)).toBe(false);
    const h = triangulate(g);
    expect(isChordal(h)).toBe(true);
    for (let a = 0; a < 7; a++) for (let b = 0; b < 7; b++) if (g[a]![b]) expect(h[a]![b]).toBe(true);
    const net = chordalNetwork(h);
    expect([...net.order].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    net.order.forEach((v, k) => net.parents[v]!.forEach((p) => expect(net.order.indexOf(p)).toBeLessThan(k)));
  });
});

describe('the rule: one-way product, 2-tree or adaptive model', () => {
  const base: RuleInputs = { nHat: 5000, rho: 0.0162, d: 11, maxLevels: 12, noiseScale: 1, split: [0.3, 0.2, 0.5], selects: true, familyPairs: 19, adaptive: true };

  it('depends only on n̂, ρ and the domain: the small-data end is the one-way product, then the 2-tree, then the adaptive model', () => {
    expect(chooseModel({ ...base, nHat: 300 }).plan).toBe('one-way');
    expect(chooseModel({ ...base, nHat: 700 }).plan).toBe('2-tree');
    expect(chooseModel({ ...base, nHat: 20000 }).plan).toBe('aim');
    expect(chooseModel({ ...base, nHat: 20000, adaptive: false }).plan).toBe('2-tree');
    expect(chooseModel({ ...base, rho: undefined }).plan).toBe('aim');
    // more noise per unit of budget (√(k/t) > 1) moves the choice down like fewer rows
    expect(chooseModel({ ...base, nHat: 2000 }).plan).toBe('aim');
    expect(chooseModel({ ...base, nHat: 2000, noiseScale: 4 }).plan).not.toBe('aim');
    // more columns spread the same budget over more tables
    expect(chooseModel({ ...base, nHat: 700, d: 40, familyPairs: 77 }).plan).toBe('one-way');
    expect(chooseModel(base)).toEqual(chooseModel({ ...base }));
  });

  it('picks the same plan for data of the same size and schema whatever the values', async () => {
    const pbc = loadExample('pbc');
    // the same rows with every column's values rotated by a different offset (joint structure destroyed)
    const all = pbc.csv.trim().split('\n').map((l) => l.split(',').map((f) => f.replace(/^"|"$/g, '')));
    const header = all[0]!;
    const lines = all.slice(1);
    const rotated = lines.map((_, r) => header.map((__, j) => lines[(r + 7 * j) % lines.length]![j]!));
    const shuffled = buildDataset(pbc.schema, formatCsv(header, rotated)).dataset;
    const plans: string[] = [];
    for (const [name, data] of [['pbc', pbc.dataset], ['rotated', shuffled]] as const) {
      for (const r of [0.02, 0.3, 5]) {
        const logs: string[] = [];
        await fitSynthesizer(pbc.schema, centralMeasure(pbc.schema, data, rngOf(`plan-${r}`)), { rho: r, method: 'aim', iterations: 20, log: (m) => logs.push(m) });
        plans.push(`${name} ${r}: ${logs.find((l) => l.startsWith('plan:'))!.split(' ')[1]}`);
      }
    }
    expect(plans.slice(3).map((p) => p.replace('rotated', 'pbc'))).toEqual(plans.slice(0, 3));
    expect(new Set(plans.map((p) => p.split(': ')[1])).size).toBeGreaterThanOrEqual(2);
  }, 120_000);
});

describe('a planted three-way interaction', () => {
  // a, b uniform and independent, c = a XOR b: every pair is independent, only the triple is not
  const schema = parseSchema({
    name: 'xor', maxRowsPerParty: 100000,
    columns: ['a', 'b', 'c', 'x', 'y'].map((name) => ({ name, type: 'categorical', categories: ['0', '1'] })),
  });
  const rng = rngOf('xor-data');
  const rows = Array.from({ length: 4000 }, (_, i) => {
    const a = i % 2;
    const b = (i >> 1) % 2;
    return [a, b, a ^ b, rng.uint32() % 2, rng.uint32() % 2].map(String);
  });
  const data = buildDataset(schema, formatCsv(['a', 'b', 'c', 'x', 'y'], rows)).dataset;
  const xorShare = (d: Dataset): number => {
    const col = (n: string): Int32Array => (d.columns.get(n) as { codes: Int32Array }).codes;
    const [a, b, c] = [col('a'), col('b'), col('c')];
    let hits = 0;
    for (let r = 0; r < d.rowCount; r++) if ((a[r]! ^ b[r]!) === c[r]!) hits++;
    return hits / d.rowCount;
  };

  it('noise-free, the adaptive model recovers c = a XOR b where the 2-tree cannot', async () => {
    expect(xorShare(data)).toBe(1);
    const aim = await fitSynthesizer(schema, centralMeasure(schema, data), { method: 'aim' });
    const tree = await fitSynthesizer(schema, centralMeasure(schema, data), { method: 'mst' });
    expect(aim.fit.plan).toBe('aim');
    expect(aim.fit.cliques.some((c) => [0, 1, 2].every((x) => c.includes(x)))).toBe(true);
    expect(tree.fit.cliques.some((c) => [0, 1, 2].every((x) => c.includes(x)))).toBe(false);
    expect(xorShare(sampledDataset(schema, aim, 4000, 'xor-aim'))).toBeGreaterThan(0.99);
    expect(Math.abs(xorShare(sampledDataset(schema, tree, 4000, 'xor-tree')) - 0.5)).toBeLessThan(0.05);
  });

  it('3-way TVD sees the interaction that every 2-way TVD misses', async () => {
    const tree = await fitSynthesizer(schema, centralMeasure(schema, data), { method: 'mst' });
    const synth = sampledDataset(schema, tree, 4000, 'xor-tree');
    const { evaluate } = await import('../stats/eval/report.ts');
    const rep = evaluate(schema, data, data, [{ name: 'tree', label: 'tree', data: synth }]);
    const f = rep.methods[0]!.fidelity;
    expect(f.pairTvdMean).toBeLessThan(0.02);
    expect(f.triples).toBe(10);
    // the (a, b, c) table: half of the synthetic mass lies where the real data has none
    expect(f.tripleTvdMax!).toBeGreaterThan(0.45);
    expect(f.tripleTvdMean!).toBeGreaterThan(0.04);
  });
});

describe('3-way TVD triples', () => {
  it('uses every triple up to the cap and a fixed seeded sample beyond it', () => {
    expect(evaluationTriples(5)).toHaveLength(10);
    const s = evaluationTriples(30, 100);
    expect(s).toHaveLength(100);
    expect(evaluationTriples(30, 100)).toEqual(s);
    expect(new Set(s.map((t) => t.join(','))).size).toBe(100);
    expect(s.every(([i, j, k]) => i < j && j < k && k < 30)).toBe(true);
    expect(evaluationTriples(30, 100, 'other')).not.toEqual(s);
  });

  it('counts a joint table row-major over the three columns', () => {
    const binners = [2, 3, 2].map((size) => ({ column: { name: '', numeric: false }, size, labels: [] }));
    const bins = [Int32Array.from([0, 1, 1]), Int32Array.from([2, 0, 2]), Int32Array.from([1, 0, 1])];
    expect(Array.from(tripleCounts(bins, binners, [0, 1, 2]))).toEqual([0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1]);
  });
});
