/**
 * The steward's report (issue 18 items 4–6): pair statistics against hand-computed values, the
 * validity checks and constraint hook on constructed data, copies with their holdout baseline,
 * DCR against a holdout-sized training sample, the verdict and its thresholds, repeated fits
 * (mean ± sd), the self-contained HTML, and `blindsum synth split / evaluate` at a party site
 * with only the site's CSV.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { synth } from '../cli/commands/synth.ts';
import { buildDataset, parseSchema, selectRows, type Schema } from '../stats/index.ts';
import { formatCsv, parseCsv } from '../stats/csv.ts';
import { columnChecks, constraintChecks } from '../stats/eval/checks.ts';
import { holdoutSplit } from '../stats/eval/holdout.ts';
import { renderHtml } from '../stats/eval/html.ts';
import { correlationRatio, cramersV } from '../stats/eval/pairs.ts';
import { sampleIndices } from '../stats/eval/privacy-metrics.ts';
import { evaluate, type SynthReport } from '../stats/eval/report.ts';
import { DEFAULT_THRESHOLDS, grade, parseThresholds, verdict } from '../stats/eval/verdict.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');
const split = holdoutSplit(pbc.csv, 0.2, 'report-test');
const tr = buildDataset(pbc.schema, split.train).dataset;
const ho = buildDataset(pbc.schema, split.holdout).dataset;
const outcome = { column: 'status', positive: '2' };
const dir = mkdtempSync(join(tmpdir(), 'blindsum-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pair statistics', () => {
  it("Cramér's V: 1 for a one-to-one association, 0 for independence, a hand-computed 2×2 value", () => {
    expect(cramersV(Int32Array.from([0, 1, 2, 0, 1, 2]), 3, Int32Array.from([2, 0, 1, 2, 0, 1]), 3)).toBeCloseTo(1, 12);
    expect(cramersV(Int32Array.from([0, 0, 1, 1]), 2, Int32Array.from([0, 1, 0, 1]), 2)).toBe(0);
    // table [[3, 1], [1, 3]]: χ² = 2, n = 8, V = √(2/8) = 0.5
    expect(cramersV(Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1]), 2, Int32Array.from([0, 0, 0, 1, 0, 1, 1, 1]), 2)).toBeCloseTo(0.5, 12);
    expect(cramersV(Int32Array.from([0, 0]), 2, Int32Array.from([0, 1]), 2)).toBeNull();
  });

  it('correlation ratio: 1 when the category fixes the number, a hand-computed value, NaN ignored', () => {
    expect(correlationRatio(Int32Array.from([0, 0, 1, 1]), 2, Float64Array.from([1, 1, 5, 5]))).toBeCloseTo(1, 12);
    // groups {1, 3} and {3, 5}: means 2 and 4, grand mean 3; SS_between = 4, SS_total = 8 → η = √0.5
    expect(correlationRatio(Int32Array.from([0, 0, 1, 1, 1]), 2, Float64Array.from([1, 3, 3, 5, NaN]))).toBeCloseTo(Math.SQRT1_2, 12);
  });
});

describe('validity checks', () => {
  const schema: Schema = { ...parseSchema({ name: 'c', maxRowsPerParty: 100, columns: [
    { name: 'a', type: 'numeric', min: 0, max: 100 }, { name: 'b', type: 'numeric', min: 0, max: 100 }, { name: 'g', type: 'categorical', categories: ['x', 'y', 'z'] },
  ] }), constraints: [{ type: 'le', left: 'a', right: 'b' }, { type: 'derived', left: 'a', right: 'b' }] } as Schema;
  const real = buildDataset(schema, 'a,b,g\n10,20,x\n20,30,y\n30,40,x\n,50,y\n').dataset;
  const syn = buildDataset(schema, 'a,b,g\n5,20,x\n35,30,z\n25,40,x\n,50,\n31,31,y\n').dataset;

  it('range, categories and missing rates against the real data', () => {
    const [a, b, g] = columnChecks(schema, real, syn);
    expect(a).toMatchObject({ realMin: 10, realMax: 30, belowRealMin: 0.25, aboveRealMax: 0.5, adherence: 0.25, missingReal: 0.25, missingSynthetic: 0.2 });
    expect(b!.adherence).toBe(1);
    expect(g).toMatchObject({ unseenLevels: ['z'], adherence: 0.75, coverage: 1, missingReal: 0, missingSynthetic: 0.2 });
  });

  it('the constraint hook counts rows with left > right (missing is no violation) and says which types it does not check', () => {
    const [le, derived] = constraintChecks(schema, real, syn);
    expect(le).toMatchObject({ syntheticViolations: 1, syntheticShare: 0.2, realViolations: 0 });
    expect(derived!.syntheticViolations).toBeNull();
    expect(derived!.note).toMatch(/"derived" is not checked/);
    const rep = evaluate(schema, real, real, [{ name: 's', label: 's', data: syn }]);
    expect(rep.methods[0]!.criteria.constraintViolations).toBe(0.2);
    expect(rep.methods[0]!.verdict.lines.find((l) => l.criterion === 'constraintViolations')!.grade).toBe('fail');
    expect(evaluate(pbc.schema, tr, ho, [{ name: 't', label: 't', data: ho }]).methods[0]!.criteria.constraintViolations).toBeNull();
  });

  it('an event indicator: rows where it disagrees with the times count as violations, real and synthetic, and the page says so', () => {
    const ev = parseSchema({ name: 'e', maxRowsPerParty: 100, columns: [
      { name: 't', type: 'integer', min: 0, max: 100 }, { name: 'fu', type: 'integer', min: 0, max: 100 }, { name: 'e', type: 'categorical', categories: ['0', '1'] },
    ], constraints: [{ type: 'le', left: 't', right: 'fu', event: { column: 'e', value: '1' } }] });
    // real: one disagreement (event with t = fu); synthetic: two (no event with t < fu; event with t = fu) and one row with t > fu (a violation, not counted twice)
    const r = buildDataset(ev, 't,fu,e\n10,20,1\n30,30,0\n40,40,1\n,50,0\n').dataset;
    const s = buildDataset(ev, 't,fu,e\n10,20,1\n20,30,0\n40,40,1\n50,40,1\n7,9,\n').dataset;
    const [c] = constraintChecks(ev, r, s);
    expect(c).toMatchObject({ realViolations: 0, realEventMismatches: 1, syntheticViolations: 1, syntheticEventMismatches: 2, syntheticShare: 3 / 5 });
    const rep = evaluate(ev, r, r, [{ name: 's', label: 's', data: s }]);
    expect(rep.methods[0]!.criteria.constraintViolations).toBe(0.6);
    expect(renderHtml(rep)).toContain('t &lt; fu exactly when e = 1');
  });
});

describe('the report', () => {
  const order = sampleIndices(ho.rowCount, ho.rowCount, seededRandomSource(new Uint8Array(32).fill(9)));
  const half = Math.floor(ho.rowCount / 2);
  const hoA = selectRows(ho, order.slice(0, half));
  const fresh = selectRows(ho, order.slice(half));
  const report = evaluate(pbc.schema, tr, hoA, [
    { name: 'fresh', label: 'fresh real rows', data: fresh },
    { name: 'copies', label: 'the training data', data: tr },
    { name: 'holdout-copies', label: 'the holdout itself', data: hoA },
  ], { outcome, bootstrap: 200 });
  const [freshM, copyM, holdM] = report.methods;

  it('distances go to a training sample of the holdout size: fresh records are as close to it as to the holdout', () => {
    expect(freshM!.privacy.comparedRows).toBe(hoA.rowCount);
    const ratio = freshM!.privacy.dcrTrainMedian / freshM!.privacy.dcrHoldoutMedian;
    expect(ratio).toBeGreaterThan(0.75);
    expect(ratio).toBeLessThan(1.33);
    expect(Math.abs(freshM!.privacy.nndrMedian - freshM!.privacy.nndrHoldoutMedian)).toBeLessThan(0.15);
  });

  it('exact copies beside their chance baseline: training copies are flagged, holdout copies are the baseline', () => {
    expect(copyM!.privacy.exactCopies).toBe(1);
    expect(copyM!.criteria.copiesBeyondChance).toBeCloseTo(hoA.rowCount / tr.rowCount, 12);
    expect(holdM!.privacy.exactCopiesHoldout).toBe(1);
    expect(holdM!.criteria.copiesBeyondChance).toBeLessThan(0);
    expect(freshM!.criteria.copiesBeyondChance).toBe(0);
    expect(copyM!.verdict.overall).toBe('fail');
  });

  it('TSTR carries a bootstrap interval around its point estimate; training on the real data itself gives a zero gap', () => {
    const u = copyM!.utility!;
    expect(u.tstrAuc).toBe(u.trtrAuc);
    expect(u.gapCi).toEqual([0, 0]);
    expect(u.tstrCi[0]).toBeLessThan(u.tstrAuc);
    expect(u.tstrCi[1]).toBeGreaterThan(u.tstrAuc);
    expect(u.bootstrap).toBe(200);
  });

  it('every pair has a trend; the real data scores 1 on every pair', () => {
    const m = dataCols(report);
    expect(copyM!.fidelity.pairs).toHaveLength((m * (m - 1)) / 2);
    expect(copyM!.fidelity.pairs.every((p) => p.score === 1)).toBe(true);
    expect(new Set(copyM!.fidelity.pairs.map((p) => p.kind))).toEqual(new Set(['pearson', 'cramers-v', 'correlation-ratio']));
    expect(report.realAssociation).toHaveLength(m);
  });

  it('repeated fits give mean ± sd of every headline, and the verdict is judged on the means', () => {
    const single = [fresh, hoA].map((d) => evaluate(pbc.schema, tr, hoA, [{ name: 'x', label: 'x', data: d }], { outcome, bootstrap: 50 }).methods[0]!);
    const rep = evaluate(pbc.schema, tr, hoA, [{ name: 'x', label: 'x', data: fresh, replicates: [hoA] }], { outcome, bootstrap: 50 }).methods[0]!;
    const xs = single.map((m) => m.fidelity.pairTvdMean);
    const mean = (xs[0]! + xs[1]!) / 2;
    expect(rep.repeats!.fits).toBe(2);
    expect(rep.repeats!.metrics['pairTvdMean']!.mean).toBeCloseTo(mean, 12);
    expect(rep.repeats!.metrics['pairTvdMean']!.sd).toBeCloseTo(Math.abs(xs[0]! - xs[1]!) / Math.SQRT2, 12);
    expect(rep.criteria.columnShapes).toBeCloseTo((single[0]!.criteria.columnShapes! + single[1]!.criteria.columnShapes!) / 2, 12);
    expect(rep.verdict.lines.find((l) => l.criterion === 'columnShapes')!.sd).toBeGreaterThan(0);
  });

  it('the HTML is self-contained, has the verdict, a colour scale on every heat map and full titles', () => {
    const html = renderHtml(report);
    expect(html).not.toMatch(/<script|https?:\/\/|<link /i);
    expect(html).toContain('id="verdict"');
    const heatmaps = html.match(/aria-label="(Association[^"]*)"/g) ?? [];
    expect(heatmaps.length).toBe(1 + report.methods.length);
    expect((html.match(/class="colour-scale"/g) ?? []).length).toBe(heatmaps.length);
    for (const c of report.columns) expect(html).toContain(`<figcaption class="chart-title" title="${c.name}: real vs synthetic`);
    for (const name of ['KSComplement', 'TVComplement', 'CorrelationSimilarity', 'ContingencySimilarity', 'BoundaryAdherence', 'CategoryCoverage', 'DCROverfittingProtection', 'NNDR', 'TSTR', 'NewRowSynthesis']) expect(html).toContain(name);
  });
});

describe('hostile text in the report', () => {
  it('labels, model facts and the site name are escaped: a dataset named like markup cannot inject a script', () => {
    const evil = '<script>alert(1)</script><img src=x onerror=alert(2)>';
    const r = evaluate(pbc.schema, tr, ho, [{ name: evil, label: evil, data: ho, info: { method: evil, structure: { cliques: [[evil]], parents: [[evil, [evil]]] } } }], { where: evil });
    const html = renderHtml(r);
    expect(html).not.toMatch(/<script|<img/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});

function dataCols(r: SynthReport): number {
  return r.columns.length;
}

describe('verdict thresholds', () => {
  it('defaults apply where the file is silent; unknown criteria and inverted pairs are refused', () => {
    const t = parseThresholds({ tstrGap: { pass: 0.02 } });
    expect(t.tstrGap).toEqual({ pass: 0.02, fail: DEFAULT_THRESHOLDS.tstrGap.fail });
    expect(t.columnShapes).toEqual(DEFAULT_THRESHOLDS.columnShapes);
    expect(() => parseThresholds({ nope: { pass: 1, fail: 0 } })).toThrow(/unknown criterion "nope"/);
    expect(() => parseThresholds({ columnShapes: { pass: 0.5, fail: 0.9 } })).toThrow(/pass \(0.5\) must be ≥ fail/);
    expect(() => parseThresholds({ membershipInferenceAuc: { pass: 'x' } })).toThrow(/finite numbers/);
    expect(() => parseThresholds([1])).toThrow(/JSON object/);
  });

  it('grades by direction; the overall verdict is the worst criterion that applies', () => {
    expect(grade('columnShapes', 0.9, { pass: 0.85, fail: 0.7 })).toBe('pass');
    expect(grade('columnShapes', 0.8, { pass: 0.85, fail: 0.7 })).toBe('review');
    expect(grade('membershipInferenceAuc', 0.61, { pass: 0.55, fail: 0.6 })).toBe('fail');
    expect(grade('tstrGap', null, DEFAULT_THRESHOLDS.tstrGap)).toBe('n/a');
    const v = { columnShapes: 0.9, pairTrends: 0.9, boundaryAdherence: 1, categoryAdherence: 1, missingRateError: 0, constraintViolations: null, copiesBeyondChance: 0, tstrGap: null, dcrCloserToTrain: 0.5, membershipInferenceAuc: 0.5 };
    expect(verdict(v, DEFAULT_THRESHOLDS).overall).toBe('pass');
    expect(verdict({ ...v, pairTrends: 0.8 }, DEFAULT_THRESHOLDS).overall).toBe('review');
    expect(verdict({ ...v, pairTrends: 0.8, dcrCloserToTrain: 0.7 }, DEFAULT_THRESHOLDS).overall).toBe('fail');
  });
});

describe('blindsum synth split / evaluate at a party site (only the site\'s CSV, no aggregator)', () => {
  const siteCsv = join(dir, 'site.csv');
  writeFileSync(siteCsv, pbc.csv);
  const schemaPath = 'examples/pbc/schema.json';
  const quiet = async (f: () => Promise<number>): Promise<number> => {
    const w = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      return await f();
    } finally {
      process.stdout.write = w;
    }
  };

  it('split writes the rows to serve and to hold out; evaluate --holdout-fraction re-derives the same split', async () => {
    expect(await quiet(() => synth.run({ data: siteCsv, 'holdout-fraction': '0.25', 'holdout-seed': 's1', out: join(dir, 'site') }, ['split']))).toBe(0);
    const again = holdoutSplit(pbc.csv, 0.25, 's1');
    expect(readFileSync(join(dir, 'site-train.csv'), 'utf8')).toBe(again.train);
    expect(readFileSync(join(dir, 'site-holdout.csv'), 'utf8')).toBe(again.holdout);
    // two synthetic "fits" of one NAME: here two halves of the held-out rows stand in for samples
    writeFileSync(join(dir, 'a.csv'), again.holdout);
    writeFileSync(join(dir, 'b.csv'), split.holdout);
    writeFileSync(join(dir, 't.json'), JSON.stringify({ membershipInferenceAuc: { pass: 0.52, fail: 0.58 } }));
    const out = join(dir, 'rep');
    expect(await quiet(() => synth.run({ schema: schemaPath, real: siteCsv, 'holdout-fraction': '0.25', 'holdout-seed': 's1', synthetic: [`s=${join(dir, 'a.csv')}`, `s=${join(dir, 'b.csv')}`], repeats: '2', site: 'hospital-b', thresholds: join(dir, 't.json'), outcome: 'status=2', bootstrap: '50', out }, ['evaluate']))).toBe(0);
    const r = JSON.parse(readFileSync(`${out}.json`, 'utf8')) as SynthReport;
    expect(r.trainRows + r.holdoutRows).toBe(pbc.dataset.rowCount);
    expect(r.holdoutRows).toBe(buildDataset(pbc.schema, again.holdout).dataset.rowCount);
    expect(r.where).toMatch(/party site "hospital-b" by its operator against the site's own rows; no aggregator/);
    expect(r.thresholds.membershipInferenceAuc).toEqual({ pass: 0.52, fail: 0.58 });
    expect(r.methods[0]!.repeats!.fits).toBe(2);
    expect(['pass', 'review', 'fail']).toContain(r.methods[0]!.verdict.overall);
    expect(readFileSync(`${out}.html`, 'utf8')).toContain('hospital-b');
  });

  it('synthetic rows the schema refuses at load (a value outside its bounds) are counted in the report', async () => {
    const t = parseCsv(split.holdout);
    const age = t.header.indexOf('age');
    const bad = t.rows.slice(0, 5).map((r) => r.map((x, j) => (j === age ? '1000' : x)));
    writeFileSync(join(dir, 'bad.csv'), formatCsv(t.header, [...t.rows, ...bad]));
    const out = join(dir, 'rej');
    const err = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      expect(await quiet(() => synth.run({ schema: schemaPath, real: siteCsv, 'holdout-fraction': '0.25', 'holdout-seed': 's1', synthetic: [`s=${join(dir, 'bad.csv')}`], bootstrap: '50', out }, ['evaluate']))).toBe(0);
    } finally {
      process.stderr.write = err;
    }
    const r = JSON.parse(readFileSync(`${out}.json`, 'utf8')) as SynthReport;
    expect(r.methods[0]!.rejectedRows).toBe(5);
    expect(r.methods[0]!.rows).toBe(t.rows.length);
    expect(readFileSync(`${out}.html`, 'utf8')).toContain('rows refused when loading');
  });

  it('refuses a missing holdout, a holdout given twice, a --repeats count that does not match and bad thresholds', async () => {
    const base = { schema: schemaPath, real: siteCsv, synthetic: [`s=${join(dir, 'a.csv')}`], out: join(dir, 'x') };
    await expect(synth.run(base, ['evaluate'])).rejects.toThrow(/--holdout FILE .* or --holdout-fraction F/);
    await expect(synth.run({ ...base, holdout: siteCsv, 'holdout-fraction': '0.2' }, ['evaluate'])).rejects.toThrow(/not both/);
    await expect(synth.run({ ...base, 'holdout-fraction': '0.2', 'holdout-seed': 's', repeats: '3' }, ['evaluate'])).rejects.toThrow(/"s" has 1 --synthetic file/);
    writeFileSync(join(dir, 'bad.json'), '{"columnShapes": {"pass": 0.1, "fail": 0.9}}');
    await expect(synth.run({ ...base, 'holdout-fraction': '0.2', 'holdout-seed': 's', thresholds: join(dir, 'bad.json') }, ['evaluate'])).rejects.toThrow(/--thresholds .*pass \(0.1\) must be ≥ fail/);
  });
});
