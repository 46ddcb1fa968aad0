/**
 * The population kind (issue 19.4): the parties' load figures — rows loaded, dropped per reason
 * class, loaded with a clipped value — as a federated count vector. Noise-free, the federated
 * vector equals the sum of what each party's DatasetBuilder reported, and the central reference
 * on the pooled source; under DP its sensitivity is L1 = 2, L2 = √2 per row (×k under
 * rowsPerPatient = k), and the noise sd it reports is the plan's, exactly.
 */
import { describe, expect, it } from 'vitest';
import { centralResult } from '../stats/central.ts';
import {
  buildDataset, DP_GRID_BITS, finalize, formatLoadReport, formatResult, localStatistics, noiseShare, noiseStd, noiseUncertainty, parseSchema, planNoise, planQuery,
  validateQuery, type Dataset, type PopulationResult, type Query,
} from '../stats/index.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { PartyMetrics } from '../services/party/metrics.ts';

const schemaOf = (rowsPerPatient: number, maxRowsPerParty = 100) => parseSchema({
  name: 'pop', maxRowsPerParty, rowsPerPatient,
  columns: [
    { name: 'pid', type: 'identifier' },
    { name: 'x', type: 'numeric', min: 0, max: 10, outOfBounds: 'clip' },
    { name: 'k', type: 'integer', min: 0, max: 5 },
    { name: 'c', type: 'categorical', categories: ['a', 'b'] },
  ],
});
const schema = schemaOf(2);
const HEADER = 'pid,x,k,c';
// Three parties' sources; each patient's rows are in one of them.
const PARTS = [
  [HEADER, '1,2,3,a', '1,20,3,b', '1,3,3,a', '2,abc,1,a', '2,1,9,a'].join('\n') + '\n', // loaded, loaded+clipped, patient_bound, invalid_value, out_of_bounds
  [HEADER, ',1,1,a', '3,1,1,z', '3,1', '3,-4,2,b'].join('\n') + '\n', // identifier, invalid_value, malformed, loaded+clipped
  [HEADER, '4,,,', '5,1,1,b', '5,7,1,b', '5,1.5,2,a'].join('\n') + '\n', // loaded, loaded, loaded, patient_bound
];
const POOLED = HEADER + '\n' + PARTS.map((p) => p.split('\n').slice(1).join('\n')).join('');
const EXPECTED = { loaded: 6, dropped: { invalid_value: 2, out_of_bounds: 1, identifier: 1, malformed: 1, patient_bound: 2 }, clipped: 2 };
const Q: Query = { kind: 'population', columns: [], filter: [] };

describe('population: the load figures as a federated count vector', () => {
  it('each row read is in exactly one class; the builder counts them (and the load report says so to the operator)', () => {
    const { report } = buildDataset(schema, POOLED);
    expect(report.population).toEqual(EXPECTED);
    const dropped = Object.values(report.population.dropped).reduce((a, b) => a + b, 0);
    expect(report.population.loaded + dropped).toBe(report.rowsRead);
    expect(report.rejected.map((r) => r.class)).toEqual(['invalid_value', 'out_of_bounds', 'identifier', 'invalid_value', 'malformed']);
    expect(formatLoadReport(report, 'p.csv')).toContain('population (exact, this party only; analysts see it only as a noisy, charged release: query kind population): 6 row(s) loaded; 7 dropped (invalid_value 2, out_of_bounds 1, identifier 1, malformed 1, patient_bound 2); 2 loaded with a clipped value');
  });

  it('noise-free: three parties\' sums equal the sum of their builders\' counts and the central reference on the pooled source', () => {
    const loads = PARTS.map((csv) => buildDataset(schema, csv));
    const plan = planQuery(Q, schema, { parties: 3, ringBits: 64 });
    expect(plan.entries.map((e) => e.name)).toEqual(['loaded', 'dropped(invalid_value)', 'dropped(out_of_bounds)', 'dropped(identifier)', 'dropped(malformed)', 'dropped(patient_bound)', 'clipped']);
    const sums = plan.entries.map(() => 0n);
    for (const { dataset } of loads) localStatistics(Q, schema, plan, dataset).sums.forEach((s, i) => (sums[i]! += s));
    const fed = finalize(Q, schema, plan, sums) as PopulationResult;
    const central = centralResult(Q, schema, buildDataset(schema, POOLED).dataset) as PopulationResult;
    const fromReports = {
      loaded: loads.reduce((a, l) => a + l.report.rowsLoaded, 0),
      clipped: loads.reduce((a, l) => a + l.report.population.clipped, 0),
      rejected: loads.reduce((a, l) => a + l.report.rejected.length, 0),
      overBound: loads.reduce((a, l) => a + l.report.rowsOverPatientBound, 0),
    };
    for (const r of [fed, central]) {
      expect({ loaded: r.loaded, dropped: r.dropped, clipped: r.clipped }).toEqual(EXPECTED);
      expect(r.n).toBe(fromReports.loaded);
      expect(r.clipped).toBe(fromReports.clipped);
      expect(r.dropped.patient_bound).toBe(fromReports.overBound);
      expect(r.droppedTotal).toBe(fromReports.rejected + fromReports.overBound);
      expect(r.notes.join(' ')).toMatch(/7 row\(s\) read from the sources were excluded by the schema \(invalid_value: 2, out_of_bounds: 1, identifier: 1, malformed: 1, patient_bound: 2\)/);
    }
    expect(formatResult(fed)).toMatch(/dropped: out_of_bounds\s+\|?\s*1/);
  });

  it('DP sensitivity: L1 = 2, L2 = √2 per row, times k under rowsPerPatient = k, one noise level for the vector', () => {
    for (const k of [1, 2, 3]) {
      const s = schemaOf(k);
      const plan = planQuery(Q, s, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
      expect(plan.scaleBits.every((b) => b === 0)).toBe(true);
      const np = planNoise(Q, s, plan, { rho: 0.5, parties: 3, threshold: 2 });
      expect(np.oneHot).toBe(true);
      const sens = np.perEntry[0]!.sensitivity;
      expect(sens.l1).toBe(BigInt(2 * k));
      expect(sens.l2Squared).toBe(BigInt(2 * k * k));
      expect(sens.l2).toBeCloseTo(Math.SQRT2 * k, 9);
    }
  });

  it('DP: the noisy release post-processes, and its reported noise sd is the plan\'s exact sd (no bootstrap)', () => {
    const plan = planQuery(Q, schema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const np = planNoise(Q, schema, plan, { rho: 0.1, parties: 3, threshold: 2 });
    // seeded: the same noise shares every run
    const rng = seededRandomSource(new Uint8Array(32).fill(42));
    const sums = plan.entries.map(() => 0n);
    for (const csv of PARTS) {
      const share = noiseShare(np, rng);
      localStatistics(Q, schema, plan, buildDataset(schema, csv).dataset).sums.forEach((s, i) => (sums[i]! += s + share[i]!));
    }
    const sd = noiseStd(np, plan, 3);
    const r = finalize(Q, schema, plan, sums, sd) as PopulationResult;
    expect(r.notes.join(' ')).toMatch(/every figure is noisy/);
    const u = noiseUncertainty(Q, schema, plan, np, sums, 3);
    expect(u['loaded']).toBe(sd[0]);
    expect(u['n']).toBe(sd[0]);
    expect(u['dropped.out_of_bounds']).toBe(sd[2]);
    expect(u['clipped']).toBe(sd[6]);
    expect(u['droppedTotal']).toBeCloseTo(Math.sqrt(sd.slice(1, 6).reduce((a, x) => a + x * x, 0)), 12);
  });

  it('a party\'s counts are capped at maxRowsPerParty (dropped rows are not bounded by the load), so the plan\'s overflow and release checks hold', () => {
    const s = schemaOf(1, 3);
    const csv = [HEADER, '1,1,1,a', ...Array.from({ length: 10 }, (_, i) => `${i + 2},1,9,a`)].join('\n') + '\n';
    const { dataset, report } = buildDataset(s, csv);
    expect(report.population.dropped.out_of_bounds).toBe(10);
    const plan = planQuery(Q, s, { parties: 1, ringBits: 64 });
    expect(localStatistics(Q, s, plan, dataset).sums).toEqual([1n, 0n, 3n, 0n, 0n, 0n, 0n]);
  });

  it('takes no columns and no filter; a dataset without load figures is refused with the reason', () => {
    expect(() => validateQuery({ ...Q, columns: ['x'] }, schema)).toThrow(/population takes no columns/);
    expect(() => validateQuery({ ...Q, filter: [{ column: 'x', op: 'gt', values: [1] }] }, schema)).toThrow(/population takes no filter/);
    const { dataset } = buildDataset(schema, PARTS[0]!);
    const bare: Dataset = { schema: dataset.schema, rowCount: dataset.rowCount, columns: dataset.columns };
    const plan = planQuery(Q, schema, { parties: 1, ringBits: 64 });
    expect(() => localStatistics(Q, schema, plan, bare)).toThrow(/carries no load figures/);
  });
});

describe('the party operator sees its own exact figures', () => {
  it('as Prometheus gauges of the party node (by status), next to the load report line', async () => {
    const { report } = buildDataset(schema, POOLED);
    const m = new PartyMetrics({ connected: () => true, spentRho: () => 0, limitRho: 1, population: report.population });
    const text = await m.registry.metrics();
    expect(text).toContain('blindsum_party_source_rows{status="loaded"} 6');
    expect(text).toContain('blindsum_party_source_rows{status="dropped_invalid_value"} 2');
    expect(text).toContain('blindsum_party_source_rows{status="dropped_patient_bound"} 2');
    expect(text).toContain('blindsum_party_source_rows_clipped 2');
  });
});
