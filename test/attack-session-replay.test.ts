/**
 * Issue 13.4 — replayed sessions erase the DP noise (a malicious aggregator alone). The attack:
 * run the same DP count 40 times under one session id, so that each party's ledger charges once
 * while the average of the 40 noisy answers converges to the exact count. Each party now records
 * every session id it accepts, durably and before computing anything, and refuses a repeated id —
 * also after a restart; every contribution under a new id is charged again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Query } from '../stats/index.ts';
import { partyFixture, PartyUnderTest, runSecAggSession, startSession, type PartyFixture } from './party-harness.ts';

const COUNT: Query = { kind: 'count', columns: [], filter: [] };
const RHO = 0.01;
/** The analyst's signed query id, replayed by the aggregator. */
const REPLAYED = randomUUID();
const EXACT = randomUUID();
let dir: string;
let fx: PartyFixture;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-attack-replay-'));
  fx = partyFixture(dir, { n: 3, threshold: 2 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a malicious aggregator replays one DP session id to average the noise away', () => {
  it('the first run is answered and charged; the 39 replays under the same id are refused by every party', async () => {
    const parties = fx.configs.map((c) => new PartyUnderTest(c));
    try {
      const start = startSession(fx, fx.configs[0]!, REPLAYED, COUNT, { rho: RHO });
      const first = await runSecAggSession(parties, start, 1);
      expect('sums' in first, 'refused' in first ? first.refused : '').toBe(true);
      const answers = [first];
      for (let i = 0; i < 39; i++) answers.push(await runSecAggSession(parties, start, 1));
      const refused = answers.slice(1);
      expect(refused.every((a) => 'refused' in a && /already answered by this party/.test(a.refused))).toBe(true);
      // Each party charged exactly the one contribution it released.
      for (const p of parties) expect(p.ledger.spent()).toBeCloseTo(RHO, 12);
    } finally {
      for (const p of parties) await p.close();
    }
  });

  it('the refusal survives a restart of the party (the id is in its durable ledger)', async () => {
    const again = fx.configs.map((c) => new PartyUnderTest(c));
    try {
      const r = await again[1]!.handle({ $case: 'startSession', value: startSession(fx, fx.configs[1]!, REPLAYED, COUNT, { rho: RHO }) });
      expect(r?.$case).toBe('refusal');
      expect(r?.$case === 'refusal' && r.value.reason).toMatch(new RegExp(`session id ${REPLAYED} was already answered`));
    } finally {
      for (const p of again) await p.close();
    }
  });

  it('under fresh ids every answer is charged again, so averaging costs the parties their budget', async () => {
    const parties = fx.configs.map((c) => new PartyUnderTest(c));
    try {
      const before = parties.map((p) => p.ledger.spent());
      for (let i = 0; i < 5; i++) {
        const out = await runSecAggSession(parties, startSession(fx, fx.configs[0]!, randomUUID(), COUNT, { rho: RHO }), 1);
        expect('sums' in out, 'refused' in out ? out.refused : '').toBe(true);
      }
      parties.forEach((p, i) => expect(p.ledger.spent() - before[i]!).toBeCloseTo(5 * RHO, 12));
    } finally {
      for (const p of parties) await p.close();
    }
  });

  it('an exact (non-DP) session id cannot be replayed either', async () => {
    const parties = fx.configs.map((c) => new PartyUnderTest(c));
    try {
      const start = startSession(fx, fx.configs[0]!, EXACT, COUNT);
      const first = await runSecAggSession(parties, start, 1);
      expect(first).toEqual({ sums: [418n] });
      const second = await runSecAggSession(parties, start, 1);
      expect('refused' in second && second.refused).toMatch(/already answered/);
    } finally {
      for (const p of parties) await p.close();
    }
  });
});
