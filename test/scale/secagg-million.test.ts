/**
 * 3 parties × 10^6 values on secure aggregation, end to end over a real LocalFederation (the
 * aggregator and 3 party processes started by the real CLI, loopback gRPC): the released exact
 * sums of a marginal with exactly 10^6 cells equal the central computation (localStatistics on
 * the concatenated data). Correctness only: no time is asserted. Run with `npm run test:scale`
 * (never part of `npm test`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFederation } from '../../cli/federation.ts';
import { centralSums, marginalOfLength, partyCsvs, PBC_SCHEMA_PATH } from '../../bench/scale-common.ts';

const N = 3;
const ROWS = 50;

describe('scale: 3 parties × 10^6 values, secagg', () => {
  const dir = mkdtempSync(join(tmpdir(), 'blindsum-scale-test-'));
  const csvs = partyCsvs(N, ROWS);
  let fed: LocalFederation;

  beforeAll(async () => {
    fed = await LocalFederation.start({ dir, schemaPath: PBC_SCHEMA_PATH, partyData: csvs, roundTimeoutMs: 300_000, connectTimeoutMs: 120_000 });
  });
  afterAll(async () => {
    await fed?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('releases the exact sums of a 10^6-cell marginal, equal to the central computation on the concatenated data', async () => {
    const { query, length } = marginalOfLength(1_000_000);
    expect(length).toBe(1_000_000);
    const client = fed.client();
    try {
      const o = await client.run(query, { backend: 'secagg', deadlineMs: 850_000 });
      const why = `${o.error} ${o.refusals.map((r) => `${r.partyId}: ${r.reason}`).join('; ')}\naggregator log:\n${fed.logTail('aggregator.log', 5)}`;
      expect(o.status, why).toBe('done');
      expect([...o.contributors].sort()).toEqual(fed.parties.map((p) => p.id).sort());
      const expected = centralSums(query, csvs, N);
      expect(expected.length).toBe(1_000_000);
      expect(expected.reduce((a, b) => a + b, 0n)).toBe(BigInt(N * ROWS)); // every row in exactly one cell
      expect(o.exactSums.length).toBe(expected.length);
      const firstDiff = o.exactSums.findIndex((x, i) => x !== expected[i]);
      expect(firstDiff, firstDiff >= 0 ? `entry ${firstDiff} (${o.entryNames[firstDiff]}): ${o.exactSums[firstDiff]} ≠ central ${expected[firstDiff]}` : '').toBe(-1);
      expect(o.result?.kind).toBe('marginal');
    } finally {
      client.close();
    }
  });
});
