/**
 * kaplan_meier against R (survfit, print(survfit)'s median, summary(survfit, times), survdiff) on
 * grid-binned times: the committed output of test/reference/kaplan-meier.R. The federated result
 * (3 parties' localStatistics summed, then finalize) must equal R's to 1e-6 relative on every
 * number, and equal the central computation.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  centralResult, compareResults, describeQuery, finalize, formatResult, localStatistics, planQuery, splitDataset, validateQuery,
  type KaplanMeierResult, type Query,
} from '../stats/index.ts';
import { loadExample } from './stats-helpers.ts';

type Num = number | null;
interface RCurve {
  stratum: string | null; n: number; events: number; time: number[]; nRisk: number[]; nEvent: number[]; nCensor: number[];
  surv: number[]; stdErr: Num[]; lower: Num[]; upper: Num[]; median: Num; medianLower: Num; medianUpper: Num; atRisk: number[];
}
interface RCase { n: number; edges: number[]; times: number[]; curves: RCurve[]; logRank: { observed: number[]; expected: number[]; chisq: number; df: number; p: number } | null }
const R = JSON.parse(readFileSync('test/reference/kaplan-meier.json', 'utf8')) as { R: string; survival: string; cases: Record<string, RCase> };

const pbc = loadExample('pbc');
const flchain = loadExample('flchain');
const yearly = Array.from({ length: 29 }, (_, i) => i * 365);
const by250 = Array.from({ length: 41 }, (_, i) => i * 250);

/** The queries of the R script's cases, in the same order. */
const CASES: [string, typeof pbc, Query][] = [
  ['pbc', pbc, { kind: 'kaplan_meier', columns: [], filter: [], time: 'time', event: 'status', positive: ['2'], times: [0, 1000, 2000, 3000, 4000, 10000] }],
  ['pbc-sex', pbc, { kind: 'kaplan_meier', columns: [], filter: [], time: 'time', event: 'status', positive: ['2'], strata: 'sex', times: [1000, 2500] }],
  ['pbc-stage-yearly', pbc, { kind: 'kaplan_meier', columns: [], filter: [], time: 'time', event: 'status', positive: ['2'], strata: 'stage', bins: yearly, times: [365, 1825, 3650] }],
  ['pbc-composite-trt-age40', pbc, {
    kind: 'kaplan_meier', columns: [], filter: [{ column: 'age', op: 'ge', values: [40] }], time: 'time', event: 'status', positive: ['1', '2'], strata: 'trt', times: [500],
  }],
  ['flchain-sex', flchain, { kind: 'kaplan_meier', columns: [], filter: [], time: 'futime', event: 'death', positive: ['1'], strata: 'sex', times: [0, 1000, 3000, 5000] }],
  ['flchain-mgus-250', flchain, { kind: 'kaplan_meier', columns: [], filter: [{ column: 'mgus', op: 'eq', values: ['1'] }], time: 'futime', event: 'death', positive: ['1'], bins: by250, times: [2000] }],
];

function federated(example: typeof pbc, q: Query): KaplanMeierResult {
  const plan = planQuery(q, example.schema, { parties: 3, ringBits: 64 });
  const parts = splitDataset(example.dataset, 3, `km-${q.strata ?? 'all'}`);
  const local = parts.map((p) => localStatistics(q, example.schema, plan, p).sums);
  const summed = local[0]!.map((_, i) => local.reduce((a, l) => a + l[i]!, 0n));
  const r = finalize(q, example.schema, plan, summed);
  if (r.kind !== 'kaplan_meier') throw new TypeError('expected a kaplan_meier result');
  return r;
}

/** |a − b| ≤ 1e-6 · max(|a|, |b|) (and both null together). */
function close(a: Num, b: Num, what: string): void {
  if (a === null || b === null) {
    expect(a, what).toBe(b);
    return;
  }
  expect(Math.abs(a - b), `${what}: ${a} vs R ${b}`).toBeLessThanOrEqual(1e-6 * Math.max(Math.abs(a), Math.abs(b)));
}
function closeAll(a: Num[], b: Num[], what: string): void {
  expect(a.length, `${what}: length`).toBe(b.length);
  a.forEach((x, i) => close(x, b[i]!, `${what}[${i}]`));
}

describe('kaplan_meier equals R survfit/survdiff on grid-binned times', () => {
  it(`the reference was made by ${R.R} with survival ${R.survival}`, () => {
    expect(Object.keys(R.cases)).toEqual(CASES.map(([label]) => label));
  });
  for (const [label, example, q] of CASES) {
    it(`${label}: 3-party federated curve, std.err, CI, median and CI, numbers at risk and log-rank equal R's to 1e-6 relative`, () => {
      const ref = R.cases[label]!;
      const r = federated(example, q);
      expect(r.n).toBe(ref.n);
      const curves = r.curves.filter((c) => c.n > 0);
      expect(curves.map((c) => c.stratum).sort()).toEqual(ref.curves.map((c) => c.stratum).sort());
      for (const rc of ref.curves) {
        const c = curves.find((x) => x.stratum === rc.stratum)!;
        const w = `${label} ${rc.stratum ?? 'all'}`;
        expect(c.n, `${w} n`).toBe(rc.n);
        expect(c.events, `${w} events`).toBe(rc.events);
        closeAll(c.time, rc.time, `${w} time`);
        closeAll(c.nRisk, rc.nRisk, `${w} n.risk`);
        closeAll(c.nEvent, rc.nEvent, `${w} n.event`);
        closeAll(c.nCensor, rc.nCensor, `${w} n.censor`);
        closeAll(c.surv, rc.surv, `${w} surv`);
        closeAll(c.stdErr, rc.stdErr, `${w} std.err`);
        closeAll(c.lower, rc.lower, `${w} lower`);
        closeAll(c.upper, rc.upper, `${w} upper`);
        close(c.median, rc.median, `${w} median`);
        close(c.medianLower, rc.medianLower, `${w} median 0.95LCL`);
        close(c.medianUpper, rc.medianUpper, `${w} median 0.95UCL`);
        closeAll(c.atRisk, rc.atRisk, `${w} n at risk at times`);
      }
      if (ref.logRank === null) {
        expect(r.logRank).toBeNull();
      } else {
        const lr = r.logRank!;
        // R orders the groups alphabetically; ours follow the schema's levels.
        const order = [...lr.strata].sort();
        const idx = order.map((s) => lr.strata.indexOf(s));
        closeAll(idx.map((i) => lr.observed[i]!), ref.logRank.observed, `${label} observed`);
        closeAll(idx.map((i) => lr.expected[i]!), ref.logRank.expected, `${label} expected`);
        close(lr.chisq, ref.logRank.chisq, `${label} chisq`);
        expect(lr.df).toBe(ref.logRank.df);
        close(lr.p, ref.logRank.p, `${label} p`);
      }
    });
    it(`${label}: the federated result equals the central computation`, () => {
      const fed = federated(example, q);
      const central = centralResult(q, example.schema, example.dataset);
      expect(compareResults(fed, central).maxRelDiff).toBe(0);
      expect(fed).toEqual(central);
    });
  }
});

describe('kaplan_meier queries are checked against the schema', () => {
  const base: Query = { kind: 'kaplan_meier', columns: [], filter: [], time: 'time', event: 'status', positive: ['2'] };
  const bad: [string, Partial<Query>, RegExp][] = [
    ['columns given', { columns: ['age'] }, /takes no columns/],
    ['no time', { time: undefined }, /needs time/],
    ['a categorical time', { time: 'sex' }, /numeric or integer/],
    ['an unknown time column', { time: 'nope' }, /unknown column "nope"/],
    ['no event', { event: undefined }, /needs event/],
    ['a numeric event', { event: 'age' }, /categorical/],
    ['no positive', { positive: undefined }, /needs positive/],
    ['an empty positive', { positive: [] }, /needs positive/],
    ['a positive that is not a level', { positive: ['3'] }, /"3" is not a level of "status"/],
    ['positive listing a level twice', { positive: ['2', '2'] }, /listed twice/],
    ['positive listing every level', { positive: ['0', '1', '2'] }, /nothing would be censored/],
    ['a numeric strata', { strata: 'age' }, /strata: "age" is numeric/],
    ['strata equal to the event', { strata: 'status' }, /also the event column/],
    ['a report time outside the bounds', { times: [20000] }, /times\[0\]: "20000" is not a finite time within the bounds of "time" \[0, 10000\]/],
    ['bins that do not cover the bounds', { bins: [0, 100, 5000] }, /must cover the bounds/],
    ['bins not increasing', { bins: [0, 5000, 5000, 10000] }, /strictly increasing/],
    ['a target (another kind\'s field)', { target: 'age' }, /target only applies to/],
  ];
  for (const [what, patch, message] of bad) {
    it(`refuses ${what} with a clear error`, () => {
      expect(() => validateQuery({ ...base, ...patch }, pbc.schema)).toThrow(message);
    });
  }
  it('accepts a stratified query with report times and a custom grid, and its layout has strata × bins × 2 cells', () => {
    const q: Query = { ...base, strata: 'stage', times: [0, 365, 10000], bins: yearly };
    validateQuery(q, pbc.schema);
    const plan = planQuery(q, pbc.schema, { parties: 3, ringBits: 32 });
    expect(plan.entries).toHaveLength(4 * 28 * 2);
    expect(plan.entries[0]!.name).toBe('count(stage = 1, time in [0, 365), event)');
    expect(plan.entries[4 * 28 * 2 - 1]!.name).toBe('count(stage = 4, time in [9855, 10220], censored)');
    expect(plan.scaleBits.every((b) => b === 0)).toBe(true);
  });
  it('a row adds 1 to exactly one cell: the cells sum to the complete-case rows (missing stage and filtered rows left out)', () => {
    const q: Query = { ...base, strata: 'stage', filter: [{ column: 'age', op: 'lt', values: [60] }] };
    const plan = planQuery(q, pbc.schema, { parties: 1, ringBits: 64 });
    const { sums, rowsUsed } = localStatistics(q, pbc.schema, plan, pbc.dataset);
    expect(sums.reduce((a, b) => a + b, 0n)).toBe(BigInt(rowsUsed));
    expect(rowsUsed).toBe(centralResult(q, pbc.schema, pbc.dataset).n);
    expect(rowsUsed).toBeLessThan(pbc.dataset.rowCount);
  });
});

describe('kaplan_meier prints R-like tables', () => {
  it('print(survfit) summary, the per-stratum survival table, numbers at risk and the log-rank test', () => {
    const r = federated(pbc, CASES[1]![2]);
    const text = formatResult(r);
    expect(text).toContain('Kaplan-Meier: Surv(time, status in {2}) ~ sex');
    expect(text).toMatch(/sex=f\s+374\s+137\s+3600\s+3300\s+NA/);
    expect(text).toMatch(/time\s+n\.risk\s+n\.event\s+n\.censor\s+survival\s+std\.err\s+lower 95% CI\s+upper 95% CI/);
    expect(text).toMatch(/numbers at risk\ntime\s+sex=f\s+sex=m\n1000\s+308\s+35/);
    expect(text).toMatch(/Chisq = 3\.19386 on 1 degrees of freedom, p = 0\.0739152/);
  });
  it('describeQuery names the time, the event levels and the strata', () => {
    expect(describeQuery(CASES[3]![2])).toBe('kaplan_meier(time, status in {1, 2} by trt) where age >= 40');
  });
});
