import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../crypto/bytes.ts';
import { generateIdentity } from '../crypto/identity.ts';
import { EntryKind, decodeEntry } from '../crypto/transcript.ts';
import { TranscriptLog, loadAggregatorIdentity } from '../services/aggregator/transcript-log.ts';
import { writeNewIdentityFile } from '../services/common/keys.ts';
import type { QuerySubmittedRecord } from '../services/common/transcript-records.ts';
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
function rosterWith(aggregatorPublicKey: Uint8Array): Roster {
  return parseRoster({
    federation: 'fed', threshold: 2, parties: parties.map((p, i) => ({ id: `hospital-${i + 1}`, publicKey: toHex(p.publicKey) })),
    aggregator: { id: 'fed-aggregator', publicKey: toHex(aggregatorPublicKey) },
  });
}

/** DATA_DIR/aggregator.key created as LocalFederation does, and the roster naming it. */
function keyed(dir: string): { identity: ReturnType<typeof writeNewIdentityFile>; roster: Roster } {
  const identity = writeNewIdentityFile(join(dir, 'aggregator.key'), 'fed-aggregator');
  return { identity, roster: rosterWith(identity.identity.publicKey) };
}

function submitted(queryId: string): Uint8Array {
  const rec: QuerySubmittedRecord = {
    queryId, analyst: 'a', backend: 'secagg', query: { kind: 'count', columns: [], filter: [] }, schemaDigest: '', planDigest: 'p', plannedParties: 2,
    ringBits: 64, vectorLength: 1, submittedAtMs: 1, rho: 0, policy: { allowExact: true, budgetRho: 1 },
  };
  return utf8(JSON.stringify(rec));
}

describe('aggregator identity key', () => {
  it('the roster must name the aggregator; the error says how to add it', () => {
    expect(() => parseRoster({ federation: 'fed', threshold: 2, parties: parties.map((p, i) => ({ id: `hospital-${i + 1}`, publicKey: toHex(p.publicKey) })) }))
      .toThrow(/"aggregator" is missing.*blindsum keygen --id .*--aggregator aggregator\.key\.pub\.json/);
  });

  it('is read from --key (a keygen file) or DATA_DIR/aggregator.key and must be the roster\'s; without one the error says how to make it', () => {
    const dir = tempDir();
    const keyFile = join(tempDir(), 'agg.key');
    const made = writeNewIdentityFile(keyFile, 'fed-aggregator');
    const roster = rosterWith(made.identity.publicKey);
    expect(() => loadAggregatorIdentity(dir, 'fed-aggregator', roster)).toThrow(/no aggregator key at .*blindsum keygen --id fed-aggregator/);
    const a = loadAggregatorIdentity(dir, 'fed-aggregator', roster, keyFile);
    expect(a.identity.publicKey).toEqual(made.identity.publicKey);
    expect(() => loadAggregatorIdentity(dir, 'fed-aggregator', rosterWith(generateIdentity().publicKey), keyFile)).toThrow(/another public key/);
    expect(() => loadAggregatorIdentity(dir, 'other-aggregator', roster, keyFile)).toThrow(/--aggregator-id fed-aggregator/);
  });
});

describe('TranscriptLog', () => {
  it('resumes the chain after a restart and logs queries left unfinished as failed', () => {
    const dir = tempDir();
    const { identity, roster } = keyed(dir);
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
    const { identity } = keyed(dir);
    TranscriptLog.open(dir, 'fed', identity).close();
    expect(() => TranscriptLog.open(dir, 'other-federation', identity)).toThrow(/another federation or aggregator/);
  });

  it('openExisting reads the federation from the log (for export while the aggregator runs)', () => {
    const dir = tempDir();
    const { identity } = keyed(dir);
    const writer = TranscriptLog.open(dir, 'fed', identity);
    writer.appendAggregator(EntryKind.QuerySubmitted, 'query-0001', submitted('query-0001'));
    const reader = TranscriptLog.openExisting(dir);
    expect(reader.export().entries.length).toBe(1);
    reader.close();
    writer.close();
    expect(() => TranscriptLog.openExisting(tempDir())).toThrow(/no transcript/);
  });
});
