/**
 * A curious analyst and the federated evaluation (train_evaluate). The query passes the same
 * checks as on the wire (parseQueryJson, then validateQuery as the aggregator and every party run
 * them before any data is read), then the real plan, a party's real local statistics and the real
 * noise plan:
 * - what leaves a party is a histogram of 2B counts: every row adds 1 to exactly one cell, so one
 *   row moves the vector by one unit in one cell (the sensitivity the one-hot noise plan assumes),
 *   and the result has the same fields whatever the rows: nothing per row;
 * - oversized histograms, malformed or extreme states, softmax targets, bad holdouts and job
 *   fields are refused with their reason.
 * The e2e test (test/e2e-models.test.ts) sends some of these through the real client and services.
 */
import { describe, expect, it } from 'vitest';
import {
  DP_GRID_BITS, finalize, localStatistics, numericFields, parseQueryJson, planNoise, planQuery, selectRows, validateQuery, type Query, type TrainEvaluateResult,
} from '../stats/index.ts';
import { loadExample } from './stats-helpers.ts';

const flchain = loadExample('flchain');
const pbc = loadExample('pbc');
const train = { model: 'logistic', clip: 1, learningRate: 1, optimizer: 'sgd', expectedBatch: 1000, seed: 'curious', holdout: 0.2 };
const base = { kind: 'train_evaluate', columns: ['age', 'sex', 'creatinine'], target: 'death', positive: ['1'], filter: [], train, state: [2, 0.3, 1, -1] };

/** As on the wire: the JSON shape check, then the schema check. */
function accept(json: Record<string, unknown>, schema = flchain.schema): Query {
  const q = parseQueryJson(json);
  validateQuery(q, schema);
  return q;
}

describe('a curious analyst learns the counts of a histogram, nothing per row', () => {
  const q = accept({ ...base, train: { ...train, holdout: 0 } });
  const plan = planQuery(q, flchain.schema, { parties: 3, ringBits: 64 });

  it('the vector is 2B count entries; a party\'s counts add up to its rows; removing any row moves one cell by 1', () => {
    expect(plan.entries).toHaveLength(40);
    expect(plan.entries.every((e) => e.bound === 1 && e.integer && e.nonNegative === true)).toBe(true);
    const part = selectRows(flchain.dataset, Array.from({ length: 500 }, (_, i) => i * 7));
    const full = localStatistics(q, flchain.schema, plan, part);
    expect(full.sums.reduce((a, b) => a + b, 0n)).toBe(BigInt(full.rowsUsed));
    for (let k = 0; k < 40; k++) {
      const drop = (k * 37) % 500;
      const without = selectRows(part, Array.from({ length: 499 }, (_, i) => (i < drop ? i : i + 1)));
      const s = localStatistics(q, flchain.schema, plan, without).sums;
      const diff = s.reduce((a, x, i) => a + (x > full.sums[i]! ? x - full.sums[i]! : full.sums[i]! - x), 0n);
      expect(diff).toBeLessThanOrEqual(1n); // 0 when the dropped row is not a complete case
    }
  });

  it('the noise plan treats it as any one-hot count: one noise level, sensitivity of one row per patient', () => {
    const dpPlan = planQuery(q, flchain.schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const np = planNoise(q, flchain.schema, dpPlan, { rho: 0.1, parties: 3, threshold: 2 });
    expect(np.oneHot).toBe(true);
    expect(np.perEntry.every((e) => e.noise === np.perEntry[0]!.noise)).toBe(true);
    expect(np.perEntry[0]!.sensitivity.l1).toBe(BigInt(flchain.schema.rowsPerPatient));
  });

  it('the result has the same fields for 100 rows as for all of them (3B + 7 numbers): no per-row output', () => {
    const few = finalize(q, flchain.schema, plan, localStatistics(q, flchain.schema, plan, selectRows(flchain.dataset, Array.from({ length: 100 }, (_, i) => i))).sums) as TrainEvaluateResult;
    const all = finalize(q, flchain.schema, plan, localStatistics(q, flchain.schema, plan, flchain.dataset).sums) as TrainEvaluateResult;
    expect(numericFields(few).map(([n]) => n)).toEqual(numericFields(all).map(([n]) => n));
    expect(numericFields(all)).toHaveLength(3 * 20 + 7);
    expect(Object.keys(all).sort()).toEqual(['accuracy', 'auc', 'brier', 'calibration', 'ece', 'edges', 'holdout', 'kind', 'logLoss', 'n', 'negativeCounts', 'notes', 'positive', 'positiveCounts', 'positives', 'target']);
  });
});

describe('bad evaluations are refused with their reason before any data is read', () => {
  const refused: [string, Record<string, unknown>, RegExp, typeof flchain.schema?][] = [
    ['B too large', { bins: [1001] }, /train_evaluate: bins is the number of score bins, one integer in \[2, 1000\] \(e\.g\. bins: \[20\]\); got "1001"/],
    ['B of 10^6', { bins: [1e6] }, /one integer in \[2, 1000\]/],
    ['one bin', { bins: [1] }, /one integer in \[2, 1000\]/],
    ['a fractional B', { bins: [20.5] }, /one integer in \[2, 1000\]/],
    ['histogram edges instead of a count', { bins: [0, 0.5, 1] }, /one integer in \[2, 1000\] \(e\.g\. bins: \[20\]\); got 3 numbers/],
    ['no state', { state: undefined }, /train_evaluate needs state: the model's 4 parameters/],
    ['a state of the wrong length', { state: [1, 2] }, /train_evaluate: state: this model has 4 parameters; give them, got 2 numbers/],
    ['a non-finite state (on the wire)', { state: [1, 2, 'x', 4] }, /query\.state\[2\]: expected a finite number/],
    ['an extreme state', { state: [1, 2, 3, -1e7] }, /train_evaluate: state\[3\] is "-10000000"; a parameter must be a finite number of magnitude at most 1000000/],
    ['no training plan', { train: undefined }, /train_evaluate needs train/],
    ['a holdout of 0.95', { train: { ...train, holdout: 0.95 } }, /train\.holdout: the held-out fraction must be a number in \[0, 0\.9\]/],
    ['a job field', { job: 'j1' }, /job only applies to logistic_regression, poisson_regression, cox, train_round queries, not train_evaluate/],
    ['a round field', { round: 2 }, /round only applies to/],
    ['a softmax target (pbc status, 3 classes)', { columns: ['age', 'bili'], target: 'status', positive: undefined, state: [0, 0, 0, 0, 0, 0, 0, 0, 0] }, /train_evaluate evaluates binary classifiers only: target "status" without positive levels makes a softmax model of 3 classes/, pbc.schema],
  ];
  it.each(refused)('refuses %s', (_name, over, re, schema) => {
    const json: Record<string, unknown> = { ...base, ...over };
    for (const k of Object.keys(json)) if (json[k] === undefined) delete json[k];
    expect(() => accept(json, schema ?? flchain.schema)).toThrow(re);
  });

  it('accepts the parameters alone or a FedAdam round\'s whole state (3P + 1 numbers)', () => {
    const adam = { ...train, optimizer: 'adam', learningRate: 0.05 };
    expect(() => accept({ ...base, train: adam, state: [2, 0.3, 1, -1] })).not.toThrow();
    expect(() => accept({ ...base, train: adam, state: new Array<number>(13).fill(0.1) })).not.toThrow();
    expect(() => accept({ ...base, train: adam, state: new Array<number>(12).fill(0.1) })).toThrow(/this model has 4 parameters; give them \(or the round's whole FedAdam state, 13 numbers\), got 12 numbers/);
  });
});
