/**
 * Federated fidelity figures for an analyst without real rows (issue 18 item 5), through a real
 * local federation (aggregator and 3 party processes over gRPC): with exact queries allowed the
 * pooled real data scores 0 and a column-shuffled copy keeps its one-way tables but loses its
 * two-way ones; with DP (`blindsum synth fidelity --rho R`) exactly R is charged to the analyst's
 * budget, the figures say they are computed against noisy marginals, and the shuffled copy is
 * still told apart from the real data.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synth } from '../cli/commands/synth.ts';
import { LocalFederation } from '../cli/federation.ts';
import { federatedMeasure } from '../client/synth-measure.ts';
import { seededRandomSource } from '../crypto/dp/random.ts';
import { buildDataset, splitCsvText } from '../stats/index.ts';
import { formatCsv, parseCsv } from '../stats/csv.ts';
import { federatedFidelity, fidelityQuery, type FederatedFidelity } from '../stats/eval/federated-fidelity.ts';
import { sampleIndices } from '../stats/eval/privacy-metrics.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');
let root: string;
let fed: LocalFederation;

/** Every column permuted independently (seeded): one-way tables kept, associations destroyed. */
function shuffledColumns(csv: string): string {
  const t = parseCsv(csv);
  const rng = seededRandomSource(new Uint8Array(32).fill(7));
  const cols = t.header.map((_, j) => sampleIndices(t.rows.length, t.rows.length, rng).map((i) => t.rows[i]![j]!));
  return formatCsv(t.header, t.rows.map((_, i) => cols.map((c) => c[i]!)));
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'blindsum-fidelity-'));
  fed = await LocalFederation.start({ dir: root, schemaPath: 'examples/pbc/schema.json', partyData: splitCsvText(pbc.csv, 3, 'fidelity-test'), threshold: 2, analysts: ['exact', 'dp'] });
  writeFileSync(join(root, 'real.csv'), pbc.csv);
  writeFileSync(join(root, 'shuffled.csv'), shuffledColumns(pbc.csv));
}, 120_000);
afterAll(async () => {
  await fed?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('federated fidelity', () => {
  it('the query is one marginal query of every one- and two-way table, its bins from the schema alone', () => {
    const q = fidelityQuery(pbc.schema);
    const m = q.columns.length;
    expect(q.kind).toBe('marginal');
    expect(q.tables).toHaveLength(m + (m * (m - 1)) / 2);
    expect(fidelityQuery(pbc.schema, { ways: 1 }).tables).toHaveLength(m);
  });

  it('exact (where the federation allows it): the pooled real data scores 0; a column-shuffled copy keeps one-ways, loses two-ways', async () => {
    const client = fed.client('exact');
    try {
      const shuffled = buildDataset(pbc.schema, readFileSync(join(root, 'shuffled.csv'), 'utf8')).dataset;
      // a synthetic sample larger than maxRowsPerParty is loaded with that bound raised, as the CLI does: the real rows 30 times (new ids)
      const copies = 30;
      expect(copies * pbc.dataset.rowCount).toBeGreaterThan(pbc.schema.maxRowsPerParty);
      const t = parseCsv(pbc.csv);
      const idAt = t.header.indexOf('id');
      const rows = Array.from({ length: copies }, (_, c) => t.rows.map((r, i) => r.map((x, j) => (j === idAt ? String(c * t.rows.length + i + 1) : x)))).flat();
      const big = buildDataset({ ...pbc.schema, maxRowsPerParty: rows.length }, formatCsv(t.header, rows)).dataset;
      const f = await federatedFidelity(pbc.schema, federatedMeasure(client), [{ name: 'real', data: pbc.dataset }, { name: 'shuffled', data: shuffled }, { name: 'real×30', data: big }]);
      expect(f.basis).toMatch(/exact federated marginals/);
      expect(f.contributors).toHaveLength(3);
      const [real, shuf, real30] = f.results;
      expect(real!.oneWayMax).toBe(0);
      expect(real!.twoWayMax).toBe(0);
      expect(real30!.rows).toBe(copies * pbc.dataset.rowCount);
      expect(real30!.twoWayMax).toBeLessThan(1e-12);
      // a dataset loaded with another schema is refused
      const other = buildDataset({ ...pbc.schema, name: 'other' }, pbc.csv).dataset;
      await expect(federatedFidelity(pbc.schema, federatedMeasure(client), [{ name: 'x', data: other }])).rejects.toThrow(/"x" was loaded with another schema/);
      expect(shuf!.oneWayMax).toBeLessThan(1e-12);
      expect(shuf!.twoWayMean!).toBeGreaterThan(0.03);
    } finally {
      client.close();
    }
  }, 120_000);

  it('blindsum synth fidelity --rho R: R charged to the analyst, labelled as computed against noisy marginals, shuffled copy still worse', async () => {
    const client = fed.client('dp');
    try {
      const before = await client.getBudget();
      const out = join(root, 'fid');
      const w = process.stdout.write;
      let printed = '';
      process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
      try {
        expect(await synth.run({
          aggregator: fed.address, 'analyst-key': fed.analystKeyPath('dp'), schema: 'examples/pbc/schema.json', rho: '2',
          synthetic: [`real=${join(root, 'real.csv')}`, `shuffled=${join(root, 'shuffled.csv')}`], out,
        }, ['fidelity'])).toBe(0);
      } finally {
        process.stdout.write = w;
      }
      const after = await client.getBudget();
      expect(after.spentRho - before.spentRho).toBeCloseTo(2, 10);
      const f = JSON.parse(readFileSync(`${out}.json`, 'utf8')) as FederatedFidelity;
      expect(f.rhoCharged).toBeCloseTo(2, 12);
      expect(f.noiseStd).toBeGreaterThan(0);
      expect(f.basis).toMatch(/computed against noisy federated marginals .*ρ = 2\.000 charged.*not against the real rows/);
      expect(printed).toContain('noisy federated marginals');
      const [real, shuf] = f.results;
      // the real data differs from the noisy tables by about the noise alone
      expect(real!.oneWayMean).toBeLessThan(3 * real!.oneWayNoiseFloor + 0.02);
      // ρ = 2 (noise sd ≈ 8.8 per cell of the 190 tables): over simulated releases the margin
      // shuf − real − 0.02 of the two-way mean TVD is 0.028 ± 0.0018 (16 sd from failing). At ρ = 0.5
      // (sd ≈ 17) it was 0.0062 ± 0.0022: this check failed by chance in ~2.5e-3 of runs.
      expect(shuf!.twoWayMean!).toBeGreaterThan(real!.twoWayMean! + 0.02);
      expect(Math.abs(f.noisyRows - pbc.dataset.rowCount)).toBeLessThan(0.1 * pbc.dataset.rowCount);
    } finally {
      client.close();
    }
  }, 120_000);
});
