/**
 * 3 parties × 10^6 values on the CKKS backend, end to end over a real LocalFederation (the
 * aggregator and 3 party processes started by the real CLI, loopback gRPC): the key ceremony, then
 * a marginal of exactly 10^6 cells whose inputs travel in chunks and whose PCKS runs chunk by
 * chunk; the analyst's decrypted exact sums equal the central computation, and `audit verify`
 * recomputes the homomorphic sums from the logged chunks. Correctness only: no time is asserted.
 * Run with `npm run test:scale` (never part of `npm test`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFederation } from '../../cli/federation.ts';
import { generateAnalystKey } from '../../client/ckks-analyst.ts';
import { centralSums, marginalOfLength, partyCsvs, PBC_SCHEMA_PATH } from '../../bench/scale-common.ts';
import { exportTranscript } from '../../services/audit/audit.ts';
import { exportedEntries } from '../../services/common/transcript-file.ts';
import { recomputeCkksSums } from '../../services/audit/verify-ckks-sums.ts';
import { CkksEntryKind } from '../../services/common/ckks-kinds.ts';

const N = 3;
const ROWS = 50;

describe('scale: 3 parties × 10^6 values, CKKS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'blindsum-scale-ckks-test-'));
  const csvs = partyCsvs(N, ROWS);
  let fed: LocalFederation;

  beforeAll(async () => {
    fed = await LocalFederation.start({ dir, schemaPath: PBC_SCHEMA_PATH, partyData: csvs, ckks: true, roundTimeoutMs: 300_000, connectTimeoutMs: 120_000 });
    await fed.waitCollectiveKey(300_000);
  });
  afterAll(async () => {
    await fed?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('decrypts the exact sums of a 10^6-cell marginal sent and key-switched in chunks, equal to the central computation; the logged chunks recompute the sums', async () => {
    const { query, length } = marginalOfLength(1_000_000);
    expect(length).toBe(1_000_000);
    const key = await generateAnalystKey();
    const client = fed.client();
    let queryId = '';
    try {
      const o = await client.run(query, { backend: 'ckks', ckksKey: key, deadlineMs: 850_000 });
      const why = `${o.error} ${o.refusals.map((r) => `${r.partyId}: ${r.reason}`).join('; ')}\naggregator log:\n${fed.logTail('aggregator.log', 5)}`;
      expect(o.status, why).toBe('done');
      queryId = o.queryId;
      expect([...o.contributors].sort()).toEqual(fed.parties.map((p) => p.id).sort());
      const expected = centralSums(query, csvs, N);
      expect(o.exactSums.length).toBe(expected.length);
      const firstDiff = o.exactSums.findIndex((x, i) => x !== expected[i]);
      expect(firstDiff, firstDiff >= 0 ? `entry ${firstDiff}: ${o.exactSums[firstDiff]} ≠ central ${expected[firstDiff]}` : '').toBe(-1);
    } finally {
      client.close();
    }
    const file = exportTranscript(fed.aggregatorDataDir, {}, join(dir, 'transcript.json'));
    const chunks = exportedEntries(file).filter((e) => e.session === queryId && e.kind === CkksEntryKind.EncryptedInput);
    expect(chunks.length).toBeGreaterThan(N); // more than one chunk per party
    const sums = await recomputeCkksSums(file);
    expect(sums.failure, JSON.stringify(sums.failure)).toBeUndefined();
    expect(sums.checked).toContain(queryId);
  });
});
