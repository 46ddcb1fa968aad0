/**
 * The cox kind's query checks, its plan (fixed from the query, the schema and the public state
 * before any data is read, whatever the state), its degenerate rounds and its R-like printing.
 */
import { describe, expect, it } from 'vitest';
import { compareResults, describeQuery, finalize, formatResult, KINDS, localStatistics, matchRows, parseQueryJson, planQuery, validateQuery } from '../stats/index.ts';
import { quantize } from '../stats/fixed.ts';
import type { CoxResult, Query } from '../stats/index.ts';
import { runJob } from '../stats/iterative.ts';
import { COX_MAX_ENTRIES, WEIGHT } from '../stats/kinds/cox-layout.ts';
import { centralCox } from '../stats/kinds/cox-fit.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');
const flchain = loadExample('flchain');
const Q: Query = { kind: 'cox', columns: ['age', 'bili', 'albumin', 'protime', 'edema', 'sex'], time: 'time', event: 'status', positive: ['2'], filter: [] };

async function oneParty(round: Query): Promise<CoxResult> {
  const plan = planQuery(round, pbc.schema, { parties: 1, ringBits: 64 });
  return finalize(round, pbc.schema, plan, localStatistics(round, pbc.schema, plan, pbc.dataset).sums) as CoxResult;
}

describe('cox query checks', () => {
  const cases: [string, Partial<Query>, RegExp][] = [
    ['no time column', { time: undefined }, /cox needs time/],
    ['no event column', { event: undefined }, /cox needs event/],
    ['a numeric event column', { event: 'bili' }, /event: "bili" is numeric/],
    ['no event levels', { positive: undefined }, /cox needs positive: the levels of "status" that are events \(levels: 0, 1, 2\)/],
    ['an unknown event level', { positive: ['3'] }, /positive: "3" is not a level of "status"/],
    ['a duplicate event level', { positive: ['2', '2'] }, /positive: the levels contain a duplicate/],
    ['the missing level as an event', { event: 'trt', positive: ['(missing)'] }, /a missing event status cannot count as an event/],
    ['a categorical time', { time: 'sex' }, /time: "sex" is categorical/],
    ['no predictors', { columns: [] }, /between 1 and 50 predictor columns/],
    ['the time column as a predictor', { columns: ['age', 'time'] }, /columns\[1\]: "time" is the time column/],
    ['an unknown predictor', { columns: ['age', 'weight'] }, /unknown column "weight"/],
    ['a state of the wrong length', { state: [0, 0] }, /state: expected 7 coefficients \(one per term: age, bili, albumin, protime, edema0.5, edema1, sexm\), got 2/],
    ['a state that is not finite', { state: [NaN, 0, 0, 0, 0, 0, 0] }, /state\[0\]: expected a finite number/],
    ['a state beyond the largest coefficient', { state: [0, 1e300, 0, 0, 0, 0, 0] }, /state\[1\]: \|1e\+300\| exceeds 1000000/],
    ['bins that do not cover the time bounds', { bins: [0, 5000, 9000] }, /must cover the bounds of "time" \[0, 10000\]/],
    ['bins that are not finite', { bins: [-Infinity, 0, 10000] }, /bins\[0\]: expected a finite number/],
    ['too many entries', { columns: ['age', 'bili', 'albumin', 'protime', 'chol', 'copper', 'ast', 'trig', 'platelet', 'stage', 'edema'], bins: Array.from({ length: 1001 }, (_, i) => 10 * i) }, new RegExp(`1000 time bins × \\d+ entries per bin \\(14 terms\\) = \\d+ entries, more than ${COX_MAX_ENTRIES}`)],
    ['a target', { target: 'bili' }, /target only applies to .*not cox/],
    ['strata', { strata: 'sex' }, /strata only applies to .*not cox/],
  ];
  for (const [name, change, error] of cases) {
    it(`refuses ${name}`, () => {
      const q = { ...Q, ...change } as Query;
      for (const k of Object.keys(change) as (keyof Query)[]) if (change[k] === undefined) delete q[k];
      expect(() => validateQuery(q, pbc.schema)).toThrow(error);
    });
  }

  it('accepts a cox query from JSON with a state, job and round, and describes it as a formula', () => {
    const q = parseQueryJson(JSON.parse(JSON.stringify({ ...Q, state: [0.1, 0, 0, 0, 0, 0, -0.2], job: 'pbc-cox.1', round: 3 })));
    expect(() => validateQuery(q, pbc.schema)).not.toThrow();
    expect(describeQuery({ ...q, filter: [{ column: 'sex', op: 'eq', values: ['f'] }] })).toBe('cox(Surv(time, status ∈ {2}) ~ age + bili + albumin + protime + edema + sex) where sex = "f"');
  });
});

describe('cox plan: from public data only, before any data is read', () => {
  it('the same entries, bounds and scales at β = 0 and at an extreme state; real entries on the 24-bit grid of a 64-bit ring', () => {
    const extreme = { ...Q, state: [40, -40, 40, -40, 40, -40, 40] };
    const a = planQuery(Q, pbc.schema, { parties: 3, ringBits: 64 });
    const b = planQuery(extreme, pbc.schema, { parties: 3, ringBits: 64 });
    expect(b.entries.map((e) => [e.name, e.bound, e.integer])).toEqual(a.entries.map((e) => [e.name, e.bound, e.integer]));
    expect(b.scaleBits).toEqual(a.scaleBits);
    expect(a.digest).not.toBe(b.digest); // the state is part of the plan
    // 100 bins × (rows, events, 36 weighted sums in two words) + 7 event sums in two words
    expect(a.entries).toHaveLength(100 * (2 + 2 * 36) + 2 * 7);
    expect(new Set(a.entries.map((e) => e.bound))).toEqual(new Set([1, WEIGHT, 0.5]));
    a.entries.forEach((e, i) => expect(a.scaleBits[i], e.name).toBe(e.integer ? 0 : 24));
    // flchain at 10 parties × 20000 rows: still 24 bits.
    const f = planQuery({ kind: 'cox', columns: ['age', 'sex', 'creatinine'], time: 'futime', event: 'death', positive: ['1'], filter: [] }, flchain.schema, { parties: 10, ringBits: 64 });
    expect(Math.min(...f.scaleBits.filter((_, i) => !f.entries[i]!.integer))).toBe(24);
  });

  it('the weight bound counts one dummy per categorical column: a state with large flc.grp coefficients stays within it and equals the central round', () => {
    const q: Query = { kind: 'cox', columns: ['age', 'flc.grp'], time: 'futime', event: 'death', positive: ['1'], filter: [], state: [1, 3, 3, 3, -3, 3, 3, 3, 3, 6] };
    const plan = planQuery(q, flchain.schema, { parties: 1, ringBits: 64 });
    const fed = finalize(q, flchain.schema, plan, localStatistics(q, flchain.schema, plan, flchain.dataset).sums);
    expect(compareResults(fed, centralCox(q, flchain.schema, flchain.dataset)).maxRelDiff).toBeLessThan(1e-9);
  });

  it('the sparse row terms (one bin block per row) give the same sums as the dense ones', () => {
    const q: Query = { ...Q, state: [0.5, 2, -2, 1, 0.3, 1, 0.4], filter: [{ column: 'age', op: 'ge', values: [40] }] };
    const plan = planQuery(q, pbc.schema, { parties: 1, ringBits: 64 });
    const dense = plan.entries.map(() => 0n);
    const terms = KINDS.cox.rowTerms(q, pbc.schema, pbc.dataset);
    const out = new Float64Array(plan.entries.length);
    const mask = matchRows(pbc.dataset, q.filter);
    let used = 0;
    for (let r = 0; r < pbc.dataset.rowCount; r++) {
      out.fill(0);
      if (!mask[r] || !terms(r, out)) continue;
      used++;
      out.forEach((t, i) => (dense[i]! += BigInt(quantize(t, plan.scaleBits[i]!))));
    }
    const local = localStatistics(q, pbc.schema, plan, pbc.dataset);
    expect(local.rowsUsed).toBe(used);
    expect(local.sums).toEqual(dense);
  });

  it('a 32-bit ring leaves the weighted sums a coarse grid, and the result says so', async () => {
    const plan = planQuery(Q, pbc.schema, { parties: 3, ringBits: 32 });
    const res = finalize(Q, pbc.schema, plan, localStatistics(Q, pbc.schema, plan, pbc.dataset).sums);
    expect(res.notes.join()).toMatch(/grid for the weighted sums is 2\^-0, coarser than 2\^-24 \(a 32-bit ring\).*use a 64-bit ring/);
    const ok = finalize(Q, pbc.schema, planQuery(Q, pbc.schema, { parties: 3, ringBits: 64 }), localStatistics(Q, pbc.schema, planQuery(Q, pbc.schema, { parties: 3, ringBits: 64 }), pbc.dataset).sums);
    expect(ok.notes).toEqual([]);
  });

  it('an extreme state neither overflows nor throws: the round reports a non-finite likelihood and no step', async () => {
    const res = await oneParty({ ...Q, state: [40, -40, 40, -40, 40, -40, 40] });
    expect(res.objective).toBeNull();
    expect(res.nextState).toBeNull();
    expect(res.notes.join()).toMatch(/not finite at this state/);
  });
});

describe('cox degenerate rounds', () => {
  it('a missing event status excludes the row, also as the level "(missing)" of a missing: category column', async () => {
    // trt as the "event" (1 = D-penicillamine): its 106 missing values are a level, not censoring.
    const q: Query = { ...Q, event: 'trt', positive: ['1'] };
    const res = await oneParty(q);
    expect([res.n, res.events]).toEqual([312, 158]);
    expect(compareResults(res, centralCox(q, pbc.schema, pbc.dataset)).maxRelDiff).toBeLessThan(1e-9);
  });

  it('no events among the rows: a flat likelihood, no coefficients, the job stops after one round', async () => {
    const { result, rounds } = await runJob({ ...Q, filter: [{ column: 'status', op: 'eq', values: ['0'] }] }, pbc.schema, oneParty);
    expect(rounds).toHaveLength(1);
    expect(result.events).toBe(0);
    expect(result.standardErrors.every((s) => s === null)).toBe(true);
    expect(result.converged).toBe(false);
    expect(result.notes.join()).toMatch(/no events among the rows used/);
  });

  it('a predictor constant among the rows (sex within women): singular information, no step, no SEs', async () => {
    const res = await oneParty({ ...Q, filter: [{ column: 'sex', op: 'eq', values: ['f'] }] });
    expect(res.nextState).toBeNull();
    expect(res.standardErrors.every((s) => s === null)).toBe(true);
    expect(res.notes.join()).toMatch(/information matrix is singular/);
  });
});

describe('cox printing', () => {
  it('prints the coefficient table, the hazard ratios with CIs and the three tests as summary(coxph) does', async () => {
    const { result } = await runJob(Q, pbc.schema, oneParty);
    const text = formatResult(result);
    expect(text).toMatch(/n= 416, number of events= 160/);
    expect(text).toMatch(/coef\s+exp\(coef\)\s+se\(coef\)\s+z\s+Pr\(>\|z\|\)/);
    expect(text).toMatch(/bili\s+0\.115102\s+1\.12199\s+0\.0132688\s+8\.675\s+<2e-16/);
    expect(text).toMatch(/exp\(coef\)\s+exp\(-coef\)\s+lower \.95\s+upper \.95/);
    expect(text).toMatch(/edema1\s+2\.8939\s+0\.34556\s+1\.6147\s+5\.1864/);
    expect(text).toMatch(/Likelihood ratio test= 179\.3\s+on 7 df,\s+p=<2e-16/);
    expect(text).toMatch(/Wald test\s+= 210\.9\s+on 7 df/);
    expect(text).toMatch(/Score \(logrank\) test = 309\.6\s+on 7 df/);
    expect(text).toMatch(/rounds, converged/);
  });
});
