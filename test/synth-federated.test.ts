/**
 * The synthesizer across a real local federation (3 party processes over gRPC): with noise
 * switched off the federated fit reproduces the central fit exactly, through secure aggregation
 * and through multiparty CKKS; with DP
 * every measurement is charged to the analyst's budget at the aggregator, and the model records
 * exactly those queries and charges.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFederation } from '../cli/federation.ts';
import { generateAnalystKey, type AnalystCkksKey } from '../client/ckks-analyst.ts';
import { federatedMeasure } from '../client/synth-measure.ts';
import { rhoFromEpsilonDelta } from '../crypto/dp/accountant.ts';
import { splitCsvText } from '../stats/index.ts';
import { centralMeasure } from '../stats/synth/marginals.ts';
import { fitSynthesizer, type SynthModel } from '../stats/synth/model.ts';
import { loadExample } from './stats-helpers.ts';

const pbc = loadExample('pbc');
let root: string;
let fed: LocalFederation;
let ckksKey: AnalystCkksKey;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'blindsum-synth-'));
  fed = await LocalFederation.start({ dir: root, schemaPath: 'examples/pbc/schema.json', partyData: splitCsvText(pbc.csv, 3, 'synth-test'), threshold: 2, ckks: true, analysts: ['exact', 'dp-fit'] });
  await fed.waitCollectiveKey();
  ckksKey = await generateAnalystKey();
}, 120_000);
afterAll(async () => {
  await fed?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** The fitted parameters (everything but timestamps and query ids). */
const params = (m: SynthModel): unknown => ({ columns: m.columns, order: m.order, parents: m.parents, cpt: m.cpt, fit: m.fit, schema: m.schema, method: m.method });

describe('synthesizer across a federation', () => {
  it('with noise switched off, the federated fit equals the central fit exactly', async () => {
    const client = fed.client('exact');
    try {
      const federated = await fitSynthesizer(pbc.schema, federatedMeasure(client), { iterations: 300 });
      const central = await fitSynthesizer(pbc.schema, centralMeasure(pbc.schema, pbc.dataset), { iterations: 300 });
      expect(params(federated)).toEqual(params(central));
      expect(federated.budget).toMatchObject({ rho: 0, exact: true });
      expect(federated.budget.queries.every((q) => q.contributors.length === 3)).toBe(true);
    } finally {
      client.close();
    }
  }, 120_000);

  it('with noise switched off, the fit through multiparty CKKS equals the central fit exactly', async () => {
    const client = fed.client('exact');
    try {
      const federated = await fitSynthesizer(pbc.schema, federatedMeasure(client, { backend: 'ckks', ckksKey }), { iterations: 300 });
      const central = await fitSynthesizer(pbc.schema, centralMeasure(pbc.schema, pbc.dataset), { iterations: 300 });
      expect(params(federated)).toEqual(params(central));
    } finally {
      client.close();
    }
  }, 120_000);

  it('a DP fit at ε = 1 (δ = 1e-6) is charged to the budget, and the model records the charged queries', async () => {
    const client = fed.client('dp-fit');
    try {
      const rho = rhoFromEpsilonDelta(1, 1e-6);
      const before = await client.getBudget();
      const m = await fitSynthesizer(pbc.schema, federatedMeasure(client), { rho, iterations: 200 });
      const after = await client.getBudget();
      expect(after.spentRho - before.spentRho).toBeCloseTo(rho, 10);
      expect(m.budget.rho).toBeCloseTo(rho, 10);
      expect(m.budget.epsilon!).toBeCloseTo(1, 6);
      const charges = after.entries.filter((e) => e.kind === 'charge');
      expect(charges.map((e) => e.queryId).sort()).toEqual(m.budget.queries.map((q) => q.queryId).sort());
      for (const q of m.budget.queries) {
        expect(charges.find((e) => e.queryId === q.queryId)!.rho).toBeCloseTo(q.rhoCharged, 12);
        // 3 contributors > t = 2: the release is more private than charged
        expect(q.rhoSpent).toBeLessThan(q.rhoCharged);
      }
    } finally {
      client.close();
    }
  }, 120_000);

  it('the adaptive model (method aim): noise-free the federated fit equals the central fit; with DP every round is a query charged at the aggregator and recorded in the model', async () => {
    const exact = fed.client('exact');
    try {
      const federated = await fitSynthesizer(pbc.schema, federatedMeasure(exact), { method: 'aim', iterations: 30 });
      const central = await fitSynthesizer(pbc.schema, centralMeasure(pbc.schema, pbc.dataset), { method: 'aim', iterations: 30 });
      expect(federated.fit.plan).toBe('aim');
      expect(params(federated)).toEqual(params(central));
      expect(federated.budget.queries.every((q) => q.contributors.length === 3)).toBe(true);
    } finally {
      exact.close();
    }
    const client = fed.client('dp-fit');
    try {
      const rho = 3;
      const before = await client.getBudget();
      const m = await fitSynthesizer(pbc.schema, federatedMeasure(client), { rho, method: 'aim', iterations: 30 });
      const after = await client.getBudget();
      expect(m.fit.plan).toBe('aim');
      expect(after.spentRho - before.spentRho).toBeCloseTo(rho, 10);
      expect(m.budget.rho).toBeCloseTo(rho, 10);
      const charges = after.entries.filter((e) => e.kind === 'charge' && !before.entries.some((b) => b.queryId === e.queryId));
      expect(charges.map((e) => e.queryId).sort()).toEqual(m.budget.queries.map((q) => q.queryId).sort());
      expect(m.budget.queries.filter((q) => q.purpose.startsWith('round-')).length).toBe(2 * m.columns.length - 3);
      for (const q of m.budget.queries) expect(charges.find((e) => e.queryId === q.queryId)!.rho).toBeCloseTo(q.rhoCharged, 12);
    } finally {
      client.close();
    }
  }, 300_000);
});
