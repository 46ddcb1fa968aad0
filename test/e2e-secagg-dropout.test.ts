/**
 * End to end over real gRPC on loopback, with the aggregator and every party as separate
 * processes started by the real CLI: results equal the central computation on the data of the
 * parties whose input was counted, including when a party crashes after each Bonawitz round.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueryOutcome } from '../client/analyst.ts';
import { LocalFederation } from '../cli/federation.ts';
import { buildDataset, centralResult, compareResults, localStatistics, parseSchema, planQuery, splitCsvText, type Query } from '../stats/index.ts';

const schemaPath = 'examples/pbc/schema.json';
const schema = parseSchema(JSON.parse(readFileSync(schemaPath, 'utf8')));
const csv = readFileSync('examples/pbc/pbc.csv', 'utf8');
const N = 4;
const parts = splitCsvText(csv, N, 'e2e-dropout');
const regression: Query = { kind: 'linear_regression', columns: ['age', 'albumin'], target: 'bili', filter: [] };
const histogram: Query = { kind: 'histogram', columns: ['age'], bins: [30, 45, 60, 75], filter: [{ column: 'sex', op: 'eq', values: ['f'] }] };
const kaplanMeier: Query = { kind: 'kaplan_meier', columns: [], filter: [], time: 'time', event: 'status', positive: ['2'], strata: 'sex', times: [1000, 3000] };

function unionOf(indices: number[]): string {
  const header = parts[0]!.slice(0, parts[0]!.indexOf('\n') + 1);
  return header + indices.map((i) => parts[i]!.slice(parts[i]!.indexOf('\n') + 1)).join('');
}

/** The federated result must equal the central one on exactly the contributors' rows. */
function expectCentral(q: Query, o: QueryOutcome, contributors: string[]): void {
  expect(o.status, o.error).toBe('done');
  expect([...o.contributors].sort()).toEqual([...contributors].sort());
  const indices = contributors.map((id) => Number(id.split('-')[1]) - 1);
  const { dataset } = buildDataset(schema, unionOf(indices));
  const plan = planQuery(q, schema, { parties: N, ringBits: 64 });
  expect(o.exactSums).toEqual(localStatistics(q, schema, plan, dataset).sums);
  const { maxRelDiff } = compareResults(o.result!, centralResult(q, schema, dataset));
  expect(maxRelDiff).toBeLessThan(1e-6);
}

let fed: LocalFederation;
let dir: string;
const all = ['hospital-1', 'hospital-2', 'hospital-3', 'hospital-4'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-e2e-'));
  fed = await LocalFederation.start({ dir, schemaPath, partyData: parts, threshold: 3, roundTimeoutMs: 20_000 });
}, 120_000);

afterAll(async () => {
  await fed?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('secure aggregation end to end (4 party processes, t = 3)', () => {
  it('every party contributes and the regression equals the central one exactly on the fixed-point grid', async () => {
    const c = fed.client();
    try {
      expectCentral(regression, await c.run(regression), all);
    } finally {
      c.close();
    }
  });

  it('a stratified Kaplan–Meier query with its log-rank test equals the central one exactly', async () => {
    const c = fed.client();
    try {
      const o = await c.run(kaplanMeier);
      expectCentral(kaplanMeier, o, all);
      expect(o.result).toEqual(centralResult(kaplanMeier, schema, buildDataset(schema, csv).dataset));
    } finally {
      c.close();
    }
  });

  // hospital-4 crashes (process exit) right after sending its message for the given round.
  const cases: [stage: string, contributors: string[]][] = [
    ['AdvertiseKeys', all.slice(0, 3)], // in U1 only: never masked with, not counted
    ['ShareKeys', all.slice(0, 3)], // in U2 \ U3: survivors reveal its mask key so its pairwise masks cancel
    ['MaskedInputCollection', all], // in U3: its input counts; survivors reveal its self-mask seed
  ];
  for (const [stage, contributors] of cases) {
    it(`a party that crashes after ${stage} leaves an exact result for ${contributors.length === N ? 'all four (its input was already masked in)' : 'the three survivors'}`, async () => {
      await fed.killParty(3);
      fed.startParty(3, { BLINDSUM_TEST_EXIT_AFTER: stage });
      await fed.waitConnected(all);
      const exit = fed.partyExit(3);
      const c = fed.client();
      try {
        const o = await c.run(histogram);
        expect(await exit).toBe(75); // the fault injection fired, the process is gone
        expectCentral(histogram, o, contributors);
      } finally {
        c.close();
      }
    });
  }

  it('with fewer than t parties left the query fails with a clear reason and nothing is released', async () => {
    await fed.killParty(3);
    await fed.killParty(2);
    const c = fed.client();
    try {
      const o = await c.run(histogram);
      expect(o.status).toBe('failed');
      expect(o.error).toMatch(/only 2 of 4 parties are connected.*threshold is 3/);
      expect(o.result).toBeUndefined();
    } finally {
      c.close();
    }
    fed.startParty(2);
    fed.startParty(3, {});
    await fed.waitConnected(all);
  });
});

describe('aggregator restart', () => {
  it('a result acknowledged before SIGKILL is still served after restart, and parties reconnect by themselves', async () => {
    const q: Query = { kind: 'frequency', columns: ['stage'], filter: [] };
    let c = fed.client();
    const before = await c.run(q);
    c.close();
    expect(before.status).toBe('done');
    await fed.killAggregator('SIGKILL');
    await fed.startAggregator();
    await fed.waitConnected(all, 60_000);
    c = fed.client();
    try {
      const r = await c.getResult(before.queryId);
      expect(r.status).toBe('done');
      expect(r.resultJson).toBe(JSON.stringify(before.result));
      expect(r.exactSums).toEqual(before.exactSums);
      const again = await c.run(q);
      expect(again.exactSums).toEqual(before.exactSums);
    } finally {
      c.close();
    }
  }, 90_000);
});
