/**
 * Issue 13.5 — small-cohort refusals leak exact counts (a curious analyst alone, for free). The
 * attack: the minimum-cohort check used the exact local count, ran before any charge, and its
 * reason reached the analyst (the failed query was refunded), so a binary search on `time ≤ x`
 * recovered one hospital's 5th-smallest `time` in 14 free queries. Now, under DP, whether a party
 * contributes never depends on its data: it always answers with noise, and small cohorts are
 * flagged from the released noisy count. Exact mode (policy allowExact) keeps the refusal and is
 * documented as not private.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalize, flagSmallCohort, planQuery, type CountResult, type Query } from '../stats/index.ts';
import type { NumericColumn } from '../stats/dataset.ts';
import { partyFixture, PartyUnderTest, startSession, type PartyFixture } from './party-harness.ts';

let dir: string;
let fx: PartyFixture;
let times: number[];
/** hospital-1's real session logic, probed by the analyst (one node, like the real one). */
let party: PartyUnderTest;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-attack-cohort-'));
  fx = partyFixture(dir, { n: 3, threshold: 2, policy: { minCohort: 5 } });
  const col = fx.configs[0]!.dataset.columns.get('time') as NumericColumn;
  times = [...col.values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  party = new PartyUnderTest(fx.configs[0]!);
});
afterAll(async () => {
  await party.close();
  rmSync(dir, { recursive: true, force: true });
});

const below = (x: number): Query => ({ kind: 'count', columns: [], filter: [{ column: 'time', op: 'le', values: [x] }] });

/** Whether hospital-1 contributes to `count where time ≤ x` (true) or refuses (false). */
async function contributes(x: number, rho: number): Promise<boolean> {
  const sessionId = randomUUID();
  const r = await party.handle({ $case: 'startSession', value: startSession(fx, fx.configs[0]!, sessionId, below(x), { rho }) });
  await party.handle({ $case: 'abort', value: { sessionId, reason: 'probe answered' } });
  return r?.$case === 'advertiseKeys';
}

/** The analyst's binary search for the smallest x at which the party stops refusing. */
async function binarySearch(rho: number): Promise<{ found: number; queries: number }> {
  let lo = times[0]! - 1;
  let hi = times[times.length - 1]!;
  let queries = 0;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    queries++;
    if (await contributes(mid, rho)) hi = mid;
    else lo = mid;
  }
  return { found: hi, queries };
}

describe('an analyst binary-searches a party\'s minimum-cohort refusals', () => {
  it('exact mode (allowExact, documented as not private): the refusals reveal the 5th-smallest time', async () => {
    const { found } = await binarySearch(0);
    expect(found).toBe(times[4]);
  });

  it('under DP the party answers every probe, whatever its data: the search learns nothing', async () => {
    const probes = [times[0]! - 1, times[2]!, times[4]! - 1, times[4]!, times[times.length - 1]!];
    expect(await Promise.all(probes.map((x) => contributes(x, 0.01)))).toEqual(probes.map(() => true));
    const { found } = await binarySearch(0.01);
    expect(found).toBe(times[0]!); // every probe "contributes": the search collapses to its first bound
  });

  it('a DP release with a small noisy count carries a note computed from the noisy count only', async () => {
    const q: Query = { kind: 'count', columns: [], filter: [] };
    const plan = planQuery(q, fx.configs[0]!.schema, { parties: 3, ringBits: 64, dpGridBits: 10 });
    const noisySmall = flagSmallCohort(finalize(q, fx.configs[0]!.schema, plan, [3n]), 10) as CountResult;
    expect(noisySmall.notes.join(' ')).toMatch(/noisy row count n = 3 is below the federation's minimum cohort of 10/);
    const noisyLarge = flagSmallCohort(finalize(q, fx.configs[0]!.schema, plan, [300n]), 10);
    expect(noisyLarge.notes).toEqual([]);
  });
});
