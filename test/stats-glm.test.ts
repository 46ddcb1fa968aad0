/**
 * Logistic and Poisson regression fitted in federated rounds (stats/iterative.ts runJob over the
 * GLM kinds): every round is three parties' integer sums added and post-processed, exactly what
 * the aggregator releases. The fits equal R's glm (test/reference/glm.R → glm.json) to 1e-6
 * relative on every number it prints, equal the central IRLS (stats/central-glm.ts), keep
 * converging when a party drops out between rounds, and refuse malformed model queries.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { centralGlm } from '../stats/central-glm.ts';
import { runJob } from '../stats/iterative.ts';
import { glmMidpoint } from '../stats/kinds/glm-model.ts';
import {
  buildDataset, finalize, localStatistics, planQuery, splitDataset, validateQuery, type Dataset, type GlmResult, type Query, type Schema,
} from '../stats/index.ts';
import { loadExample } from './stats-helpers.ts';

type RFit = Record<string, number[] | number | string[]>;
const R = JSON.parse(readFileSync('test/reference/glm.json', 'utf8')) as Record<string, RFit>;
const pbc = loadExample('pbc');
const flchain = loadExample('flchain');

const CASES: [string, typeof pbc, Query][] = [
  ['pbc logistic', pbc, { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['age', 'bili', 'albumin', 'sex', 'edema'], filter: [] }],
  ['pbc logistic where stage in 3, 4', pbc, { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['age', 'bili', 'protime'], filter: [{ column: 'stage', op: 'in', values: ['3', '4'] }] }],
  ['pbc poisson with exposure', pbc, { kind: 'poisson_regression', target: 'copper', offset: 'time', columns: ['age', 'sex', 'edema', 'bili'], filter: [] }],
  ['flchain logistic', flchain, { kind: 'logistic_regression', target: 'death', positive: ['1'], columns: ['age', 'sex', 'creatinine', 'kappa', 'lambda'], filter: [] }],
  ['flchain poisson', flchain, { kind: 'poisson_regression', target: 'futime', columns: ['age', 'sex', 'mgus'], filter: [] }],
];

/** One round over the parties present: each party's exact sums, added, post-processed. */
function federatedRound(schema: Schema, parts: Dataset[], present: (round: number) => Dataset[]) {
  return async (round: Query): Promise<GlmResult> => {
    const plan = planQuery(round, schema, { parties: parts.length, ringBits: 64 });
    const sums = plan.entries.map(() => 0n);
    for (const part of present(round.round!)) localStatistics(round, schema, plan, part).sums.forEach((s, i) => (sums[i]! += s));
    return finalize(round, schema, plan, sums) as GlmResult;
  };
}

function rel(a: number | null, b: number | null): number {
  if (a === null || b === null) return a === b ? 0 : Infinity;
  return a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-300);
}

function expectEqualR(fit: GlmResult, r: RFit, tol: number): void {
  expect(fit.terms).toEqual(r.terms);
  expect(fit.n).toBe(r.n);
  expect(fit.dfResidual).toBe(r.dfResidual);
  expect(fit.dfNull).toBe(r.dfNull);
  for (const f of ['coefficients', 'standardErrors', 'zValues', 'pValues'] as const) {
    (r[f] as number[]).forEach((v, j) => expect(rel(fit[f][j]!, v), `${f}[${fit.terms[j]}]: ${fit[f][j]} vs R ${v}`).toBeLessThan(tol));
  }
  for (const f of ['deviance', 'nullDeviance', 'aic'] as const) expect(rel(fit[f], r[f] as number), `${f}: ${fit[f]} vs R ${r[f]}`).toBeLessThan(tol);
}

describe('GLM by federated rounds against R glm', () => {
  for (const [name, ex, q] of CASES) {
    it(`${name}: three parties' rounds equal R to 1e-6 and the central IRLS`, async () => {
      const parts = splitDataset(ex.dataset, 3, name);
      const rounds: number[] = [];
      const { result, rounds: all } = await runJob(q, ex.schema, federatedRound(ex.schema, parts, () => parts), {
        epsilon: 1e-10, job: 'glm-test', onRound: (r) => rounds.push(r),
      });
      expect(result.converged).toBe(true);
      expect(result.iterations).toBe(all.length);
      expect(rounds).toEqual(all.map((_, i) => i + 1));
      expectEqualR(result, R[name]!, 1e-6);
      const central = centralGlm(q, ex.schema, ex.dataset, { epsilon: 1e-10 });
      expectEqualR(central, R[name]!, 1e-6);
      // Rounds to converge: at most a few more than R's IRLS iterations (R starts at μ = y-based values).
      expect(all.length).toBeLessThanOrEqual((R[name]!.iter as number) + 4);
    });
  }

  it('a party that drops out after round 2 leaves a fit equal to the central fit on the other two parties', async () => {
    const ex = pbc;
    const q: Query = { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['age', 'bili', 'albumin', 'sex'], filter: [] };
    const parts = splitDataset(ex.dataset, 3, 'dropout');
    const present: number[] = [];
    const { result } = await runJob(q, ex.schema, federatedRound(ex.schema, parts, (r) => (r <= 2 ? parts : parts.slice(0, 2))), {
      epsilon: 1e-10, onRound: (_r, res) => present.push(res.n),
    });
    expect(present[0]).toBe(418);
    expect(present[present.length - 1]).toBeLessThan(418);
    const remaining = parts.slice(0, 2);
    const central = centralGlm(q, ex.schema, concat(remaining, ex.schema), { epsilon: 1e-10 });
    expect(result.converged).toBe(true);
    expect(result.n).toBe(central.n);
    result.coefficients.forEach((b, j) => expect(rel(b, central.coefficients[j]!)).toBeLessThan(1e-6));
    result.standardErrors.forEach((s, j) => expect(rel(s, central.standardErrors[j]!)).toBeLessThan(1e-6));
  });
});

/** The rows of several datasets of one schema, as one dataset. */
function concat(parts: Dataset[], schema: Schema): Dataset {
  const columns = new Map<string, Dataset['columns'] extends Map<string, infer C> ? C : never>();
  for (const [name, col] of parts[0]!.columns) {
    if (col.kind === 'numeric') {
      columns.set(name, { kind: 'numeric', values: Float64Array.from(parts.flatMap((p) => [...(p.columns.get(name) as typeof col).values])) });
    } else {
      columns.set(name, { kind: 'categorical', levels: col.levels, codes: Int32Array.from(parts.flatMap((p) => [...(p.columns.get(name) as typeof col).codes])) });
    }
  }
  return { schema, rowCount: parts.reduce((a, p) => a + p.rowCount, 0), columns };
}

describe('GLM rounds stay inside their plan whatever the state (no data-dependent refusal)', () => {
  it('rows at every corner of the schema box, at 200 random states of both families, never exceed an entry bound', () => {
    // Extreme rows: every predictor at its schema minimum or maximum, the largest count, the
    // smallest and largest exposure. A term beyond its bound would make the party refuse the
    // round — an answer that depends on the data — so the bounds must hold for every state.
    const header = 'id,time,status,trt,age,sex,ascites,hepato,spiders,edema,bili,chol,albumin,copper,alk.phos,ast,trig,platelet,protime,stage';
    const rows: string[] = [];
    let id = 0;
    for (const age of [18, 100]) for (const bili of [0, 50]) for (const sex of ['f', 'm']) for (const edema of ['0', '0.5', '1']) for (const [time, copper, status] of [[1, 1000, '2'], [10000, 0, '0'], [1, 0, '1']] as const) {
      rows.push(`${++id},${time},${status},1,${age},${sex},0,0,0,${edema},${bili},200,3.5,${copper},1000,100,100,200,10,3`);
    }
    const { dataset } = buildDataset(pbc.schema, [header, ...rows].join('\n'), { strict: true });
    const rnd = (k: number): number => (Math.sin(k * 12.9898) * 43758.5453) % 1;
    const models: Query[] = [
      { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['age', 'bili', 'sex', 'edema'], filter: [] },
      { kind: 'poisson_regression', target: 'copper', offset: 'time', columns: ['age', 'bili', 'sex', 'edema'], filter: [] },
    ];
    for (const q of models) {
      for (let k = 0; k < 100; k++) {
        // 6 coefficients, then 5 centres in [−1, 1] (half of the states uncentred).
        const beta = Array.from({ length: 6 }, (_, j) => (q.kind === 'logistic_regression' ? 30 : 3) * rnd(k * 7 + j + 1));
        const state = k % 2 ? [...beta, ...Array.from({ length: 5 }, (_, j) => rnd(k * 11 + j + 3))] : beta;
        const round: Query = { ...q, state };
        for (const ringBits of [64] as const) {
          const plan = planQuery(round, pbc.schema, { parties: 3, ringBits });
          expect(() => localStatistics(round, pbc.schema, plan, dataset), `state ${state.join(', ')}`).not.toThrow();
        }
      }
    }
  });
});

describe('GLM states', () => {
  it('step halving between states with other centres is the midpoint of their linear predictors', () => {
    // η = b0 + b1 (x − c): a = (1, 2; c 0), b = (3, 4; c 0.5) → uncentred a (1, 2), b (3 − 2, 4) = (1, 4)
    const mid = glmMidpoint([1, 2, 0], [3, 4, 0.5]);
    expect(mid[2]).toBe(0.5); // b's centre
    // uncentred midpoint (1, 3), in centre 0.5: b0 = 1 + 0.5·3 = 2.5
    expect(mid[0]).toBeCloseTo(2.5, 15);
    expect(mid[1]).toBeCloseTo(3, 15);
  });
  it('rounds after the first are centred at the released weighted means, and the fit is the same', async () => {
    const q = CASES[0]![2];
    const parts = splitDataset(pbc.dataset, 3, 'centres');
    const { rounds } = await runJob(q, pbc.schema, federatedRound(pbc.schema, parts, () => parts), { epsilon: 1e-10 });
    expect(rounds[0]!.state.slice(7).every((c) => c === 0)).toBe(true);
    expect(rounds[1]!.state.slice(7).some((c) => c !== 0)).toBe(true);
    expect(rounds[2]!.state.slice(7)).toEqual(rounds[1]!.state.slice(7)); // centred once, after round 1
  });
});

describe('GLM queries refused before any data is read', () => {
  const bad: [string, Query, RegExp][] = [
    ['a logistic target that is numeric', { kind: 'logistic_regression', target: 'age', positive: ['1'], columns: ['bili'], filter: [] }, /target "age" is numeric/],
    ['a logistic regression without positive levels', { kind: 'logistic_regression', target: 'status', columns: ['bili'], filter: [] }, /needs positive/],
    ['a positive level that does not exist', { kind: 'logistic_regression', target: 'status', positive: ['9'], columns: ['bili'], filter: [] }, /"9" is not a level of "status"/],
    ['every level positive', { kind: 'logistic_regression', target: 'sex', positive: ['f', 'm'], columns: ['bili'], filter: [] }, /response would be constant/],
    ['a Poisson target that is not an integer count', { kind: 'poisson_regression', target: 'bili', columns: ['age'], filter: [] }, /must be an integer column/],
    ['an exposure without a positive minimum or a resolution', { kind: 'poisson_regression', target: 'copper', offset: 'alk.phos', columns: ['age'], filter: [] }, /positive minimum or a resolution/],
    ['a state of the wrong length', { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['age', 'sex'], state: [0, 0], filter: [] }, /has 3 coefficients \(intercept, age, sexm\), optionally followed by 2 centres; got 2 numbers/],
    ['a centre outside the standardized range', { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['age'], state: [0, 1, 1.5], filter: [] }, /centre outside \[−1, 1\]/],
    ['a diverged state', { kind: 'logistic_regression', target: 'status', positive: ['2'], columns: ['age'], state: [0, 500], filter: [] }, /beyond ±100/],
    ['an offset on a logistic regression', { kind: 'logistic_regression', target: 'status', positive: ['2'], offset: 'time', columns: ['age'], filter: [] }, /offset only applies to poisson_regression/],
  ];
  it.each(bad)('refuses %s', (_label, q, message) => {
    expect(() => validateQuery(q, pbc.schema)).toThrow(message);
  });
});
