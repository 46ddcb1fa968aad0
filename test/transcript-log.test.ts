import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../crypto/bytes.ts';
import { generateIdentity } from '../crypto/identity.ts';
import { EntryKind, decodeEntry } from '../crypto/transcript.ts';
import { TranscriptLog, loadAggregatorIdentity } from '../services/aggregator/transcript-log.ts';
import type { QuerySubmittedRecord } from '../services/audit/records.ts';
import { verifyTranscript } from '../services/audit/verify.ts';
import { parseRoster, type Roster } from '../services/common/roster.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'blindsum-transcript-log-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const parties = [generateIdentity(), generateIdentity()];
function rosterWith(aggregatorPublicKey?: Uint8Array): Roster {
  return parseRoster({
    federation: 'fed', threshold: 2, parties: parties.map((p, i) => ({ id: `hospital-${i + 1}`, publicKey: toHex(p.publicKey) })),
    ...(aggregatorPublicKey ? { aggregator: { id: 'fed-aggregator', publicKey: toHex(aggregatorPublicKey) } } : {}),
  });
}

function submitted(queryId: string): Uint8Array {
  const rec: QuerySubmittedRecord = {
    queryId, analyst: 'a', backend: 'secagg', query: { kind: 'count', columns: [], filter: [] }, schemaDigest: '', planDigest: 'p', plannedParties: 2,
    ringBits: 64, vectorLength: 1, submittedAtMs: 1, rho: 0, policy: { allowExact: true, budgetRho: 1 },
  };
  return utf8(JSON.stringify(rec));
}

describe('aggregator identity key', () => {
  it('is created once with mode 0600 and reloaded; a roster listing another key is refused', () => {
    const dir = tempDir();
    const a = loadAggregatorIdentity(dir, 'fed-aggregator', rosterWith());
    expect(statSync(join(dir, 'aggregator.key')).mode & 0o777).toBe(0o600);
    const b = loadAggregatorIdentity(dir, 'fed-aggregator', rosterWith(a.identity.publicKey));
    expect(b.identity.publicKey).toEqual(a.identity.publicKey);
    expect(() => loadAggregatorIdentity(dir, 'fed-aggregator', rosterWith(generateIdentity().publicKey))).toThrow(/another public key/);
    expect(() => loadAggregatorIdentity(dir, 'other-aggregator', rosterWith())).toThrow(/--aggregator-id fed-aggregator/);
  });
});

describe('TranscriptLog', () => {
  it('resumes the chain after a restart and logs queries left unfinished as failed', () => {
    const dir = tempDir();
    const identity = loadAggregatorIdentity(dir, 'fed-aggregator', rosterWith());
    const roster = rosterWith(identity.identity.publicKey);
    let log = TranscriptLog.open(dir, 'fed', identity);
    log.appendAggregator(EntryKind.QuerySubmitted, 'query-0001', submitted('query-0001'));
    log.appendAggregator(EntryKind.Failed, 'query-0001', utf8(JSON.stringify({ queryId: 'query-0001', error: 'x' })));
    log.appendAggregator(EntryKind.QuerySubmitted, 'query-0002', submitted('query-0002'));
    log.close();
    log = TranscriptLog.open(dir, 'fed', identity);
    expect(log.length).toBe(3);
    expect(log.failInterrupted('restarted')).toEqual(['query-0002']);
    expect(log.failInterrupted('restarted')).toEqual([]);
    const file = log.export();
    log.close();
    expect(file.entries.map((l) => decodeEntry(l.entry).kind)).toEqual([EntryKind.QuerySubmitted, EntryKind.Failed, EntryKind.QuerySubmitted, EntryKind.Failed]);
    const r = verifyTranscript(file, roster);
    expect(r.failure).toBeUndefined();
    expect(r.sessions.map((s) => s.status)).toEqual(['failed', 'failed']);
  });

  it('refuses a database that holds the transcript of another federation', () => {
    const dir = tempDir();
    const identity = loadAggregatorIdentity(dir, 'fed-aggregator', rosterWith());
    TranscriptLog.open(dir, 'fed', identity).close();
    expect(() => TranscriptLog.open(dir, 'other-federation', identity)).toThrow(/another federation or aggregator/);
  });

  it('openExisting reads the federation from the log (for export while the aggregator runs)', () => {
    const dir = tempDir();
    const identity = loadAggregatorIdentity(dir, 'fed-aggregator', rosterWith());
    const writer = TranscriptLog.open(dir, 'fed', identity);
    writer.appendAggregator(EntryKind.QuerySubmitted, 'query-0001', submitted('query-0001'));
    const reader = TranscriptLog.openExisting(dir);
    expect(reader.export().entries.length).toBe(1);
    reader.close();
    writer.close();
    expect(() => TranscriptLog.openExisting(tempDir())).toThrow(/no transcript/);
  });
});
