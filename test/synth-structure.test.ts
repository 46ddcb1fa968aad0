/**
 * Structural fidelity of the synthesizer (docs/synth.md, issue 18 item 3): point masses keep
 * their share, synthetic values stay inside the schema bounds and (up to the width of the
 * outermost bins) the observed range, schema constraints hold in every synthetic row by
 * construction, and missing values keep their rate, in noise-free and noisy fits.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { sha256 } from '../crypto/sha256.ts';
import { utf8 } from '../crypto/bytes.ts';
import { rhoFromEpsilonDelta } from '../crypto/dp/accountant.ts';
import { buildDataset, parseSchema, SchemaError, type Dataset, type Schema } from '../stats/index.ts';
import { formatCsv } from '../stats/csv.ts';
import { constraintChecks, structureChecks } from '../stats/eval/structure.ts';
import { fineColumns, withPointBins } from '../stats/synth/discretize.ts';
import { centralMeasure } from '../stats/synth/marginals.ts';
import { fitSynthesizer, type SynthOptions } from '../stats/synth/model.ts';
import { sampleColumns } from '../stats/synth/sample.ts';
import { BenchArgsError, benchDatasets } from '../bench/synth-common.ts';
import { sampledDataset } from '../bench/synth-common.ts';

function example(name: string): { schema: Schema; data: Dataset } {
  const schema = parseSchema(JSON.parse(readFileSync(new URL(`../examples/${name}/schema.json`, import.meta.url), 'utf8')));
  return { schema, data: buildDataset(schema, readFileSync(new URL(`../examples/${name}/${name}.csv`, import.meta.url), 'utf8')).dataset };
}

async function fitAndSample(schema: Schema, data: Dataset, opts: SynthOptions, seed: string, noisy = false): Promise<Dataset> {
  const rng = seededRandomSource(sha256(utf8(`structure-test|${seed}`)));
  const model = await fitSynthesizer(schema, noisy ? centralMeasure(schema, data, rng) : centralMeasure(schema, data), opts);
  return sampledDataset(schema, model, 2 * data.rowCount, seed);
}

/** 1500 rows of t ≤ fu (both in [0, max]) with the event indicator e ("1": t < fu), from `row(i, u)` (u uniform in [0, 1), seeded by name). */
function eventExample(name: string, type: 'numeric' | 'integer', max: number, row: (i: number, u: () => number) => string[]): { schema: Schema; data: Dataset } {
  const schema = parseSchema({
    name, maxRowsPerParty: 10000,
    columns: [{ name: 't', type, min: 0, max }, { name: 'fu', type, min: 0, max }, { name: 'e', type: 'categorical', categories: ['0', '1'] }],
    constraints: [{ type: 'le', left: 't', right: 'fu', event: { column: 'e', value: '1' } }],
  });
  const rng = seededRandomSource(sha256(utf8(`event-example|${name}`)));
  const u = (): number => rng.uint32() / 2 ** 32;
  return { schema, data: buildDataset(schema, formatCsv(['t', 'fu', 'e'], Array.from({ length: 1500 }, (_, i) => row(i, u)))).dataset };
}

describe('point masses', () => {
  // 2000 rows: a count column 20 % zeros (the rest 1..800), a measurement 20 % exactly 0.0
  const schema = parseSchema({
    name: 'pm', maxRowsPerParty: 10000,
    columns: [
      { name: 'count', type: 'integer', min: 0, max: 1000 },
      { name: 'level', type: 'numeric', min: 0, max: 100 },
      { name: 'group', type: 'categorical', categories: ['a', 'b'] },
    ],
  });
  const rng = seededRandomSource(sha256(utf8('point-mass-data')));
  const u = (): number => rng.uint32() / 2 ** 32;
  const rows = Array.from({ length: 2000 }, (_, i) => {
    const zero = i % 5 === 0;
    return [String(zero ? 0 : 1 + Math.floor(u() * 800)), zero ? '0' : (0.5 + u() * 60).toFixed(3), u() < 0.5 ? 'a' : 'b'];
  });
  const data = buildDataset(schema, formatCsv(['count', 'level', 'group'], rows)).dataset;

  it('zero gets a fine bin of its own on a grid ([−0.5, 0.5)) and without one ([0, 1e-7))', () => {
    const cols = fineColumns(schema, 64);
    expect(cols[0]!.edges!.slice(0, 2)).toEqual([-0.5, 0.5]);
    expect(cols[1]!.edges![0]).toBe(0);
    expect(cols[1]!.edges![1]).toBeCloseTo(1e-7, 12);
    expect(withPointBins([10, 20, 30], 10, 30, 1)).toEqual([10, 20, 30]); // 0 outside the bounds: no bin
  });

  it('a column that is 20 % zeros comes out 20 % ± 2 points zeros in a noise-free fit (2-tree and independent)', async () => {
    for (const method of ['mst', 'independent'] as const) {
      const s = await fitAndSample(schema, data, { method }, `pm-${method}`);
      const r = structureChecks(schema, data, s);
      for (const p of r.pointMasses) {
        expect(p.real, p.column).toBeCloseTo(0.2, 6);
        expect(Math.abs(p.synthetic - 0.2), `${method} ${p.column} ${p.synthetic}`).toBeLessThan(0.02);
      }
    }
  });

  it('keeps the point mass at ε = 4 within 3 points (central noise)', async () => {
    const s = await fitAndSample(schema, data, { rho: rhoFromEpsilonDelta(4, 1e-6) }, 'pm-eps4', true);
    for (const p of structureChecks(schema, data, s).pointMasses) expect(Math.abs(p.synthetic - 0.2), p.column).toBeLessThan(0.03);
  });

  it('rotterdam, noise-free: nodes (48 % zeros), pgr (20 %) and er (13 %) keep their zeros within 2 points', async () => {
    const { schema: rs, data: rd } = example('rotterdam');
    const s = await fitAndSample(rs, rd, {}, 'rot-pm');
    const pm = structureChecks(rs, rd, s).pointMasses.filter((p) => p.real > 0.05);
    expect(pm.map((p) => p.column).sort()).toEqual(['er', 'nodes', 'pgr']);
    for (const p of pm) expect(p.error, p.column).toBeLessThan(0.02);
  });
});

describe('ranges', () => {
  it.each(['rotterdam', 'mgus2'])('%s: no synthetic value outside the schema bounds; at most 0.5 %% of a column outside the real range (noise-free and ε = 1)', async (name) => {
    const { schema, data } = example(name);
    for (const noisy of [false, true]) {
      const s = await fitAndSample(schema, data, noisy ? { rho: rhoFromEpsilonDelta(1, 1e-6) } : {}, `range-${name}-${noisy}`, noisy);
      const r = structureChecks(schema, data, s);
      for (const c of r.ranges) {
        expect(c.outsideBounds, c.column).toBe(0);
        if (!noisy) expect(c.outside, `${c.column} noise-free`).toBeLessThan(0.005);
      }
    }
  });
});

describe('constraints between columns', () => {
  it.each(['rotterdam', 'mgus2'])('%s: 0 violations of the schema constraint in synthetic samples (noise-free, ε = 1, ε = 4, independent)', async (name) => {
    const { schema, data } = example(name);
    expect(constraintChecks(schema, data)[0]!.violations).toBe(0);
    const runs: [SynthOptions, boolean][] = [[{}, false], [{ rho: rhoFromEpsilonDelta(1, 1e-6) }, true], [{ rho: rhoFromEpsilonDelta(4, 1e-6) }, true], [{ method: 'independent', rho: rhoFromEpsilonDelta(1, 1e-6) }, true]];
    for (const [opts, noisy] of runs) {
      const s = await fitAndSample(schema, data, opts, `c-${name}-${JSON.stringify(opts)}`, noisy);
      const [c] = constraintChecks(schema, s);
      expect(c!.checked).toBeGreaterThan(s.rowCount * 0.9);
      expect(c!.violations, JSON.stringify(opts)).toBe(0);
    }
  });

  it('without the constraint the same independent model violates it in many rows (the check can fail)', async () => {
    const { schema } = example('rotterdam');
    const bare = parseSchema({ ...JSON.parse(readFileSync(new URL('../examples/rotterdam/schema.json', import.meta.url), 'utf8')), constraints: undefined });
    const data = buildDataset(bare, readFileSync(new URL('../examples/rotterdam/rotterdam.csv', import.meta.url), 'utf8')).dataset;
    const model = await fitSynthesizer(bare, centralMeasure(bare, data), { method: 'independent' });
    const s = sampledDataset(bare, model, data.rowCount, 'bare');
    expect(constraintChecks(schema, s)[0]!.violations).toBeGreaterThan(data.rowCount * 0.1);
  });

  it('event indicator: every synthetic row agrees with it (left < right with the event, left = right without), so the tie share follows the indicator (noise-free and ε = 1)', async () => {
    for (const [name, realMismatches] of [['rotterdam', 56], ['mgus2', 9]] as const) {
      const { schema, data } = example(name);
      expect(schema.constraints![0]!.event).toBeDefined();
      expect(schema.constraints![0]!.ties).toBe(true); // implied
      expect(constraintChecks(schema, data)[0]!.eventMismatches).toBe(realMismatches); // the real data disagree in a few rows
      for (const noisy of [false, true]) {
        const s = await fitAndSample(schema, data, noisy ? { rho: rhoFromEpsilonDelta(1, 1e-6) } : {}, `event-${name}-${noisy}`, noisy);
        const r = structureChecks(schema, data, s);
        expect(r.constraints[0]!.eventMismatches, `${name} noisy=${noisy}`).toBe(0);
        expect(r.constraintViolations).toBe(0);
        // real 48 % (rotterdam) and 92 % (mgus2) ties; the synthetic share is the share without the event
        expect(r.tieShares[0]!.error, `${name} noisy=${noisy}: real ${r.tieShares[0]!.real}, synthetic ${r.tieShares[0]!.synthetic}`).toBeLessThan(noisy ? 0.05 : 0.03);
      }
    }
  });

  it('event indicator on continuous columns: left stays strictly below right in the written CSV for the event rows', async () => {
    const { schema, data } = eventExample('ev', 'numeric', 10, (_, u) => {
      const fu = 0.5 + 9 * u();
      const ev = u() < 0.4;
      return [(ev ? fu * u() : fu).toFixed(4), fu.toFixed(4), ev ? '1' : '0'];
    });
    expect(constraintChecks(schema, data)[0]!.eventMismatches).toBe(0);
    for (const method of ['mst', 'independent'] as const) {
      const s = await fitAndSample(schema, data, { method }, `ev-${method}`); // sampledDataset goes through the CSV text
      const [c] = constraintChecks(schema, s);
      expect(c!.violations + c!.eventMismatches, method).toBe(0);
      expect(Math.abs(c!.ties / c!.checked - 0.6), method).toBeLessThan(0.05);
    }
  });

  it('event indicator where right is at left\'s min: no time lies below it, so the row is censored (left = right, the other level), never a disagreement', async () => {
    // 20 % of the rows have fu = 0; the event in 40 % of all rows, so some real rows have the event at fu = 0 (t = 0)
    const { schema, data } = eventExample('ev0', 'integer', 50, (i, u) => {
      const fu = i % 5 === 0 ? 0 : 1 + Math.floor(u() * 50);
      const ev = u() < 0.4;
      return [String(ev ? Math.floor(fu * u() * 0.99) : fu), String(fu), ev ? '1' : '0'];
    });
    expect(constraintChecks(schema, data)[0]!.eventMismatches).toBeGreaterThan(60);
    const s = await fitAndSample(schema, data, {}, 'ev-at-min');
    const [c] = constraintChecks(schema, s);
    expect(c!.violations + c!.eventMismatches).toBe(0);
    const [fu, e] = [s.columns.get('fu')!, s.columns.get('e')!];
    if (fu.kind !== 'numeric' || e.kind !== 'categorical') throw new Error('kinds');
    let atZero = 0;
    for (let r = 0; r < s.rowCount; r++) {
      if (fu.values[r] !== 0) continue;
      atZero++;
      expect(e.levels[e.codes[r]!]).toBe('0');
    }
    expect(atZero).toBeGreaterThan(0.15 * s.rowCount);
  });

  it('ties without an indicator: "ties": true keeps the share of rows with left = right near the real one (noise-free); without it they are lost', async () => {
    for (const [name, within] of [['rotterdam', 0.1], ['mgus2', 0.35]] as const) {
      const { schema: withEvent, data } = example(name);
      const schema = { ...withEvent, constraints: withEvent.constraints!.map(({ event: _, ...k }) => ({ ...k, ties: true })) };
      const real = structureChecks(schema, data, data).tieShares[0]!;
      expect(real.real).toBeGreaterThan(0.45);
      // the model is fitted with the example's schema (the digest covers the constraints); sampling reads the constraints given
      const model = await fitSynthesizer(withEvent, centralMeasure(withEvent, data), {});
      const tied = structureChecks(schema, data, sampledDataset(schema, model, 2 * data.rowCount, `ties-${name}`)).tieShares[0]!;
      expect(tied.error, `${name}: real ${tied.real}, synthetic ${tied.synthetic}`).toBeLessThan(within);
      // the same model sampled without the ties flag: almost no row has left = right
      const bare = { ...schema, constraints: schema.constraints.map((k) => ({ ...k, ties: false })) };
      const untied = structureChecks(schema, data, sampledDataset(bare, model, 2 * data.rowCount, `ties-${name}`)).tieShares[0]!;
      expect(untied.synthetic, name).toBeLessThan(0.2);
      expect(untied.error).toBeGreaterThan(2 * tied.error);
      expect(constraintChecks(schema, sampledDataset(bare, model, data.rowCount, 'x'))[0]!.violations).toBe(0);
    }
  });

  it('the schema validates constraints with clear errors', () => {
    const base = {
      name: 'c', maxRowsPerParty: 10,
      columns: [
        { name: 'a', type: 'integer', min: 0, max: 10 }, { name: 'b', type: 'integer', min: 0, max: 10 },
        { name: 'c', type: 'numeric', min: 5, max: 10 }, { name: 'k', type: 'categorical', categories: ['x'] },
      ],
    };
    const bad = (constraints: unknown): string => {
      try {
        parseSchema({ ...base, constraints });
      } catch (e) {
        expect(e).toBeInstanceOf(SchemaError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(parseSchema({ ...base, constraints: [{ type: 'le', left: 'a', right: 'b' }] }).constraints).toEqual([{ type: 'le', left: 'a', right: 'b' }]);
    expect(parseSchema(base).constraints).toBeUndefined();
    expect(bad({})).toMatch(/constraints: expected an array/);
    expect(bad([{ type: 'ge', left: 'a', right: 'b' }])).toMatch(/type: got "ge"; use one of le/);
    expect(bad([{ type: 'le', left: 'a', right: 'zz' }])).toMatch(/right: no column "zz"/);
    expect(bad([{ type: 'le', left: 'k', right: 'b' }])).toMatch(/"k" is categorical/);
    expect(bad([{ type: 'le', left: 'a', right: 'a' }])).toMatch(/same column "a"/);
    expect(bad([{ type: 'le', left: 'c', right: 'a' }])).toMatch(/cannot hold for "a" below 5/);
    expect(bad([{ type: 'le', left: 'a', right: 'b', extra: 1 }])).toMatch(/unknown field "extra"/);
    expect(bad([{ type: 'le', left: 'a', right: 'b' }, { type: 'le', left: 'a', right: 'c' }])).toMatch(/already the left side/);
    expect(bad([{ type: 'le', left: 'a', right: 'b' }, { type: 'le', left: 'b', right: 'a' }])).toMatch(/cycle/);
    // ties: a tie copies the right value into the left column, so it must be a valid left value
    expect(parseSchema({ ...base, constraints: [{ type: 'le', left: 'a', right: 'b', ties: true }] }).constraints).toEqual([{ type: 'le', left: 'a', right: 'b', ties: true }]);
    expect(parseSchema({ ...base, constraints: [{ type: 'le', left: 'a', right: 'b', ties: false }] }).constraints).toEqual([{ type: 'le', left: 'a', right: 'b' }]);
    expect(bad([{ type: 'le', left: 'a', right: 'b', ties: 'yes' }])).toMatch(/ties: expected true or false, got "yes"/);
    expect(bad([{ type: 'le', left: 'a', right: 'c', ties: true }])).toMatch(/"c" \(numeric\) and "a" \(integer\) differ in type or resolution/);
    const wider = { ...base, columns: [...base.columns, { name: 'd', type: 'integer', min: 0, max: 20 }] };
    expect(() => parseSchema({ ...wider, constraints: [{ type: 'le', left: 'a', right: 'd', ties: true }] })).toThrow(/"d" may exceed the max of "a" \(20 > 10\)/);
    expect(parseSchema({ ...wider, constraints: [{ type: 'le', left: 'a', right: 'd' }] }).constraints).toHaveLength(1); // fine without ties
    // event: a categorical indicator and its event level; implies ties (and their checks)
    const withK = { ...base, columns: [...base.columns.slice(0, 3), { name: 'k', type: 'categorical', categories: ['0', '1'] }, { name: 'j', type: 'categorical', categories: ['0', '1'] }] };
    const ev = (event: unknown, extra: Record<string, unknown> = {}): unknown => [{ type: 'le', left: 'a', right: 'b', event, ...extra }];
    expect(parseSchema({ ...withK, constraints: ev({ column: 'k', value: '1' }) }).constraints).toEqual([{ type: 'le', left: 'a', right: 'b', ties: true, event: { column: 'k', value: '1' } }]);
    const badK = (constraints: unknown): string => {
      try {
        parseSchema({ ...withK, constraints });
      } catch (e) {
        expect(e).toBeInstanceOf(SchemaError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(badK(ev('k'))).toMatch(/event: expected an object \{ column, value \}, got "k"/);
    expect(badK(ev({ column: 'zz', value: '1' }))).toMatch(/event.column: no column "zz"/);
    expect(badK(ev({ column: 'a', value: '1' }))).toMatch(/column "a" is integer; an event indicator is a categorical column/);
    expect(badK(ev({ column: 'k', value: 'yes' }))).toMatch(/event.value: got "yes"; use one of the categories of "k" \("0", "1"\)/);
    expect(badK(ev({ column: 'k', value: 1 }))).toMatch(/event.value: got 1/);
    expect(badK(ev({ column: 'k', value: '1', when: 'x' }))).toMatch(/unknown field "when"; allowed: column, value/);
    expect(badK(ev({ column: 'k', value: '1' }, { ties: false }))).toMatch(/ties: is false, but an "event" makes left = right/);
    expect(badK([{ type: 'le', left: 'a', right: 'c', event: { column: 'k', value: '1' } }])).toMatch(/event: "c" \(numeric\) and "a" \(integer\) differ/);
    expect(badK([...ev({ column: 'k', value: '1' }) as unknown[], { type: 'le', left: 'b', right: 'c', event: { column: 'k', value: '0' } }])).toMatch(/"k" already indicates the event of "a"/);
    expect(badK(ev({ column: 'k', value: 'x'.repeat(5000) }))).not.toMatch(/x{50}/); // long input quoted by a short prefix only
    expect(bad(ev({ column: 'k', value: 'x' }))).toMatch(/column "k" has one category/);
  });
});

describe('missing values', () => {
  it('a column declared never missing (missing: \'reject\') gets no missing value, whatever its measured (missing) cell holds', async () => {
    const schema = parseSchema({
      name: 'nm', maxRowsPerParty: 10000,
      columns: [
        { name: 'a', type: 'integer', min: 0, max: 100, missing: 'reject' }, { name: 'g', type: 'categorical', categories: ['x', 'y'], missing: 'reject' },
        { name: 'h', type: 'categorical', categories: ['x', 'y'] },
      ],
    });
    const rng = seededRandomSource(sha256(utf8('never-missing')));
    const u = (): number => rng.uint32() / 2 ** 32;
    const data = buildDataset(schema, formatCsv(['a', 'g', 'h'], Array.from({ length: 1000 }, () => [String(Math.floor(u() * 100)), u() < 0.3 ? 'x' : 'y', u() < 0.5 ? 'x' : 'y']))).dataset;
    // the one-way step reports 200 missing rows in every column (as noise might): the measured cell is ignored where the schema rules it out
    const exact = centralMeasure(schema, data);
    const inflated: typeof exact = async (q, rho, purpose) => {
      const m = await exact(q, rho, purpose);
      return purpose.startsWith('one-way') ? { ...m, tables: m.tables.map((t) => [...t.slice(0, -1), t[t.length - 1]! + 200]) } : m;
    };
    for (const method of ['mst', 'independent'] as const) {
      const model = await fitSynthesizer(schema, inflated, { method });
      // the sampled values themselves (loading a CSV with this schema would refuse rows missing a or g)
      const s = sampleColumns(model, 2000, `nm-${method}`);
      const rate = (c: string): number => s.missing[s.names.indexOf(c)]!.filter(Boolean).length / 2000;
      expect(rate('a'), method).toBe(0);
      expect(rate('g'), method).toBe(0);
      expect(rate('h'), method).toBeGreaterThan(0.03); // the column that may be missing takes (some of) the measured count
    }
  });


  it.each(['mgus2', 'pbc', 'flchain'])('%s: missing rates within 2 points in noise-free fits (2-tree and independent), none invented', async (name) => {
    const { schema, data } = example(name);
    for (const method of ['mst', 'independent'] as const) {
      const s = await fitAndSample(schema, data, { method }, `miss-${name}-${method}`);
      for (const m of structureChecks(schema, data, s).missingRates) {
        expect(m.error, `${method} ${m.column} real ${m.real} synthetic ${m.synthetic}`).toBeLessThan(0.02);
        if (m.real === 0) expect(m.synthetic, `${method} ${m.column}`).toBe(0);
      }
    }
  });

  it('mgus2 at ε = 4: rare missing values (0.8–2.2 %) are neither erased nor inflated beyond 2 points on average over fits', async () => {
    const { schema, data } = example('mgus2');
    const errs: number[] = [];
    let synthMissing = 0;
    for (let k = 0; k < 3; k++) {
      const s = await fitAndSample(schema, data, { rho: rhoFromEpsilonDelta(4, 1e-6) }, `miss-eps4-${k}`, true);
      const r = structureChecks(schema, data, s).missingRates.filter((m) => m.real > 0);
      errs.push(...r.map((m) => m.error));
      synthMissing += r.reduce((a, m) => a + m.synthetic, 0);
    }
    expect(errs.reduce((a, b) => a + b, 0) / errs.length).toBeLessThan(0.02);
    expect(synthMissing).toBeGreaterThan(0);
  });
});

describe('bench datasets', () => {
  it('take any dataset by --data/--schema/--target/--positive or a preset, with clear errors', () => {
    const dir = new URL('../examples/mgus2/', import.meta.url).pathname;
    const [d] = benchDatasets({ data: `${dir}mgus2.csv`, schema: `${dir}schema.json`, target: 'death', positive: '1' }, []);
    expect(d!.name).toBe('mgus2');
    expect(d!.outcome).toEqual({ column: 'death', positive: '1' });
    expect(benchDatasets({ preset: 'rotterdam,mgus2' }, []).map((x) => x.name)).toEqual(['rotterdam', 'mgus2']);
    expect(benchDatasets({}, ['pbc']).map((x) => x.outcome.column)).toEqual(['status']);
    const err = (v: Record<string, string>): string => {
      try {
        benchDatasets(v, []);
      } catch (e) {
        expect(e).toBeInstanceOf(BenchArgsError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(err({ data: `${dir}mgus2.csv` })).toMatch(/--schema is missing/);
    expect(err({ data: `${dir}nope.csv`, schema: `${dir}schema.json`, target: 'death', positive: '1' })).toMatch(/--data: no file/);
    expect(err({ data: `${dir}mgus2.csv`, schema: `${dir}schema.json`, target: 'age', positive: '1' })).toMatch(/"age" is integer; the outcome must be a categorical column/);
    expect(err({ data: `${dir}mgus2.csv`, schema: `${dir}schema.json`, target: 'death', positive: 'yes' })).toMatch(/not a category of "death"/);
    expect(err({ preset: 'nope' })).toMatch(/unknown dataset "nope"/);
    expect(err({ preset: 'pbc', data: 'x' })).toMatch(/not both/);
  });
});
