/**
 * Issue 19.4 — a curious analyst (a real, authorized one) tries to learn whether one specific
 * record at hospital-1 was dropped by the schema (its age is out of bounds, so a data steward's
 * "is patient X in the analysis?" is exactly the bit), through the population kind. The party's
 * real session logic (with its durable ledger) answers: an exact population query (rho 0, the
 * "zero-budget" probe) is refused by every party before anything is computed; every DP query is
 * charged to every party's ledger before its noisy input leaves, so averaging repeated releases
 * buys precision only with budget, and once the budget is spent the party refuses. No answer ever
 * carries the exact figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDataset, DP_GRID_BITS, noiseStd, planNoise, planQuery, splitCsvText, type Query } from '../stats/index.ts';
import { partyFixture, PartyUnderTest, pbcCsv, pbcSchema, runSecAggSession, startSession, type PartyFixture } from './party-harness.ts';

const POP: Query = { kind: 'population', columns: [], filter: [] };
const split = splitCsvText(pbcCsv, 3, 'attack-population');
// The target: one more record at hospital-1, age 150 (outside [18, 100]: dropped as out_of_bounds).
const row = split[0]!.split('\n')[1]!.split(',');
row[0] = '9999';
row[4] = '150';
const parts = [split[0]!.trimEnd() + '\n' + row.join(',') + '\n', split[1]!, split[2]!];
const BUDGET = 1;
const RHO = 0.25;

let dir: string;
let fx: PartyFixture;
let parties: PartyUnderTest[];
/** The exact vector (what the analyst must not learn), from the parties' own load figures. */
let exact: bigint[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-attack-population-'));
  fx = partyFixture(dir, { n: 3, threshold: 2, csvParts: parts, policy: { allowExact: false, budgetRho: BUDGET, maxRhoPerQuery: BUDGET } });
  parties = fx.configs.map((c) => new PartyUnderTest(c));
  const pops = parts.map((csv) => buildDataset(pbcSchema, csv).report.population);
  expect(pops[0]!.dropped.out_of_bounds).toBe(1);
  exact = [0, 1, 2, 3, 4, 5, 6].map((i) => BigInt(pops.reduce((a, p) => a + [p.loaded, p.dropped.invalid_value, p.dropped.out_of_bounds, p.dropped.identifier, p.dropped.malformed, p.dropped.patient_bound, p.clipped][i]!, 0)));
});
afterAll(async () => {
  for (const p of parties) await p.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a curious analyst probes whether one record was dropped, through population queries', () => {
  it('an exact (rho 0) population query is refused by every party, before any statistic is computed or any session id claimed', async () => {
    for (const p of parties) {
      const r = await p.handle({ $case: 'startSession', value: startSession(fx, p.cfg, randomUUID(), POP, { rho: 0 }) });
      expect(r?.$case).toBe('refusal');
      expect(r?.$case === 'refusal' ? r.value.reason : '').toMatch(/answers only differentially private queries \(policy allowExact is false\)/);
      expect(p.ledger.spent()).toBe(0);
    }
  });

  it('every DP population query is charged in every party\'s ledger; averaging them exhausts the budget, then every party refuses', async () => {
    const plan = planQuery(POP, pbcSchema, { parties: 3, ringBits: 64, dpGridBits: DP_GRID_BITS });
    const sd = noiseStd(planNoise(POP, pbcSchema, plan, { rho: RHO, parties: 3, threshold: 2, collusion: 0 }), plan, 3);
    const releases: bigint[][] = [];
    for (let i = 1; i <= BUDGET / RHO; i++) {
      const start = startSession(fx, fx.configs[0]!, randomUUID(), POP, { rho: RHO });
      const r = await runSecAggSession(parties, start, plan.entries.length);
      if (!('sums' in r)) throw new Error(`query ${i} refused: ${r.refused}`);
      releases.push(r.sums);
      for (const p of parties) expect(p.ledger.spent(), `${p.cfg.identity.id} after ${i} queries`).toBeCloseTo(i * RHO, 12);
    }
    // Noisy: no release is the exact vector (7 entries, each with the plan's noise sd).
    for (const s of releases) expect(s.every((v, i) => v === exact[i])).toBe(false);
    expect(sd[2]!).toBeGreaterThan(1); // the target's bit (1 on dropped(out_of_bounds)) is below one noise sd per release
    // The average of the 4 releases has the noise of one release at the whole budget: sd/√4, never less.
    const next = startSession(fx, fx.configs[0]!, randomUUID(), POP, { rho: RHO });
    for (const p of parties) {
      const r = await p.handle({ $case: 'startSession', value: next });
      expect(r?.$case === 'refusal' ? r.value.reason : r?.$case).toMatch(/privacy budget would be exceeded: query rho = 0.25, remaining 0 of 1/);
      expect(p.ledger.spent()).toBeCloseTo(BUDGET, 12);
    }
  });
});
