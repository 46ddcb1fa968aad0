/**
 * Auditable transcripts end to end: a real federation (aggregator + 3 party processes over
 * gRPC) answers three queries (one refused by a party's policy); the transcript is exported and
 * verified offline with the parties' receipts; then every tampering the auditor must catch is
 * applied to the real export and the verifier must name the right entry and reason. "Rebuilt"
 * cases re-chain and re-sign every head with the aggregator's own key: a malicious aggregator
 * rewriting its log, which only party signatures, the protocol replay and receipts can expose.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, LocalFederation } from '../cli/federation.ts';
import { fromUtf8, utf8 } from '../crypto/bytes.ts';
import { generateIdentity } from '../crypto/identity.ts';
import { EntryKind, decodeEntry, signEnvelope, type Entry, type Receipt } from '../crypto/transcript.ts';
import { blobDirOf, exportTranscript, loadReceipts, readTranscriptFile } from '../services/audit/audit.ts';
import { directoryBlobs } from '../services/common/blobs.ts';
import type { ReleasedRecord } from '../services/common/transcript-records.ts';
import { exportedEntries, parseTranscript, serializeTranscript, type TranscriptFile } from '../services/common/transcript-file.ts';
import { verifyTranscript, type VerifyReport } from '../services/audit/verify.ts';
import { loadAnalystRoster } from '../services/common/analysts.ts';
import { AGGREGATOR_KEY_FILE } from '../services/aggregator/transcript-log.ts';
import { loadIdentityFile } from '../services/common/keys.ts';
import { loadRoster, type Roster } from '../services/common/roster.ts';
import { parseSchema, splitCsvText, type Query } from '../stats/index.ts';
import { rebuildTranscript } from './transcript-forge.ts';

const schemaPath = 'examples/pbc/schema.json';
const schema = parseSchema(JSON.parse(readFileSync(schemaPath, 'utf8')));
const parts = splitCsvText(readFileSync('examples/pbc/pbc.csv', 'utf8'), 3, 'e2e-transcript');
const QUERIES: Query[] = [
  { kind: 'count', columns: [], filter: [] },
  { kind: 'mean', columns: ['age'], filter: [{ column: 'sex', op: 'eq', values: ['f'] }] },
  { kind: 'histogram', columns: ['age'], bins: [30, 45, 60, 75], filter: [] },
];
/** The last query is differentially private: its budget charge is logged. */
const DP_QUERY: Query = { kind: 'frequency', columns: ['stage'], filter: [] };
const DP_RHO = 0.5;

let fed: LocalFederation;
let dir: string;
let roster: Roster;
let exported: string;
let receipts: Receipt[];
let aggSecret: Uint8Array;
const queryIds: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-e2e-transcript-'));
  // hospital-3 refuses histograms: its Refusal is logged and receipted too.
  fed = await LocalFederation.start({
    dir, schemaPath, partyData: parts, threshold: 2, roundTimeoutMs: 20_000,
    partyPolicy: { 2: { allowedKinds: ['count', 'mean'] } },
    // Every DP result then carries the small-cohort note: the auditor must reproduce it.
    minCohort: 1_000_000,
  });
  const c = fed.client();
  try {
    for (const q of QUERIES) {
      const o = await c.run(q);
      expect(o.status, o.error).toBe('done');
      queryIds.push(o.queryId);
    }
    const o = await c.run(DP_QUERY, { privacy: { rho: DP_RHO } });
    expect(o.status, o.error).toBe('done');
    expect(o.result?.notes.join(' ')).toMatch(/below the federation's minimum cohort of 1000000/);
    queryIds.push(o.queryId);
  } finally {
    c.close();
  }
  roster = loadRoster(fed.rosterPath);
  aggSecret = loadIdentityFile(join(fed.aggregatorDataDir, AGGREGATOR_KEY_FILE)).identity.secretKey;
  const path = join(dir, 'transcript.json');
  const file = exportTranscript(fed.aggregatorDataDir, {}, path);
  exported = readFileSync(path, 'utf8');
  const partyEntries = file.entries.filter((l) => decodeEntry(l.entry).sender.startsWith('hospital-')).length;
  // Receipts are written by the party processes as they arrive: wait for the last ones.
  for (let i = 0; i < 400; i++) {
    receipts = loadReceipts([fed.receiptsDir]);
    if (receipts.length >= partyEntries) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(receipts.length).toBe(partyEntries);
}, 180_000);

afterAll(async () => {
  await fed?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The exported file as an auditor reads it, with its blobs (FILE.blobs, written by the export). */
const fresh = (): TranscriptFile => ({ ...parseTranscript(exported), blobs: directoryBlobs(blobDirOf(join(dir, 'transcript.json'))) });
const entries = (f: TranscriptFile): Entry[] => exportedEntries(f);
const verify = (f: TranscriptFile, rs: Receipt[] = receipts): VerifyReport => verifyTranscript(f, roster, { schema, receipts: rs, analysts: loadAnalystRoster(fed.analystsPath, roster) });

/** Position of the n-th entry matching (kind, session index, sender). */
function find(f: TranscriptFile, kind: string, query: number, sender?: string): number {
  const i = entries(f).findIndex((e) => e.kind === kind && e.session === queryIds[query] && (sender === undefined || e.sender === sender));
  expect(i, `no ${kind} of ${sender ?? 'anyone'} in query ${query}`).toBeGreaterThanOrEqual(0);
  return i;
}

/** The malicious aggregator's rewrite: renumber, re-chain and re-sign every head. */
const rebuild = (f: TranscriptFile, list: Entry[]): TranscriptFile => rebuildTranscript(f, list, aggSecret);

function expectFailure(r: VerifyReport, index: number, reason: RegExp): void {
  expect(r.ok, 'the verifier accepted a tampered transcript').toBe(false);
  expect(r.failure!.reason).toMatch(reason);
  expect(r.failure!.index).toBe(index);
}

function flip(b: Uint8Array, at: number): void {
  b[at]! ^= 0x01;
}

describe('exported transcript of a real run', () => {
  it('verifies: every query released, the sums recomputed from the logged masked inputs, every receipt consistent', () => {
    const r = verify(fresh());
    expect(r.failure).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.sessions.map((s) => s.status)).toEqual(['released', 'released', 'released', 'released']);
    expect(r.sessions.map((s) => s.rho)).toEqual([0, 0, 0, DP_RHO]);
    expect(r.sessions.every((s) => s.resultChecked)).toBe(true);
    expect(r.sessions[2]!.refusals).toEqual(['hospital-3']);
    expect(r.sessions[2]!.contributors).toEqual(['hospital-1', 'hospital-2']);
    expect(r.receiptsChecked).toBe(receipts.length);
  });

  it('a --query export (a slice starting after entry 0, with the signed head before it) verifies on its own', () => {
    const path = join(dir, 'q2.json');
    const f = exportTranscript(fed.aggregatorDataDir, { queries: [queryIds[1]!] }, path);
    expect(f.from).toBeGreaterThan(0);
    const r = verify(readTranscriptFile(path));
    expect(r.failure).toBeUndefined();
    expect(r.sessions.map((s) => [s.queryId, s.status])).toEqual([[queryIds[1], 'released']]);
    expect(r.receiptsOutside).toBeGreaterThan(0);
  });

  it('a time-range export verifies, sessions begun before it reported as partial', () => {
    const all = entries(fresh());
    const start = find(fresh(), EntryKind.ShareKeys, 1);
    const f = exportTranscript(fed.aggregatorDataDir, { fromMs: all[start]!.atMs }, join(dir, 'range.json'));
    expect(f.from).toBeGreaterThan(0);
    const r = verify(f);
    expect(r.failure).toBeUndefined();
    expect(r.sessions[0]).toMatchObject({ queryId: queryIds[1], status: 'partial' });
    expect(r.sessions.slice(1).map((s) => s.status)).toEqual(['released', 'released']);
  });

  it('blindsum audit export/verify: exit 0 and VERIFIED; a tampered file exits 1 naming the entry', () => {
    const path = join(dir, 'cli.json');
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI_PATH, 'audit', ...args], { encoding: 'utf8' });
    const ex = run('export', '--data-dir', fed.aggregatorDataDir, '--out', path);
    expect(ex.status, ex.stderr).toBe(0);
    const ok = run('verify', path, '--roster', fed.rosterPath, '--analysts', fed.analystsPath, '--schema', schemaPath, '--receipts', fed.receiptsDir);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/analysts: every submitted query is a request signed by an analyst/);
    expect(ok.stdout).toMatch(/VERIFIED/);
    expect(run('verify', path, '--roster', fed.rosterPath).stdout).toMatch(/analysts: NOT checked/);
    const f = parseTranscript(readFileSync(path, 'utf8'));
    flip(f.entries[5]!.headSignature, 3);
    writeFileSync(path, serializeTranscript(f));
    const bad = run('verify', path, '--roster', fed.rosterPath);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/FAILED at entry 5 \([a-z/-]+\): the aggregator's signature over the chain head does not verify/);
  });
});

describe('tampering is detected at the right entry', () => {
  it('a flipped byte in a body breaks the chain there; re-chained, the party signature fails', () => {
    const f = fresh();
    const k = find(f, EntryKind.MaskedInput, 1, 'hospital-2');
    flip(f.entries[k]!.entry, f.entries[k]!.entry.length - 80);
    expectFailure(verify(f), f.from + k, /chain hash mismatch/);
    const g = fresh();
    const list = entries(g);
    flip(list[k]!.body, 20);
    expectFailure(verify(rebuild(g, list)), k, /signature of hospital-2 does not verify/);
  });

  it('a flipped byte in a signature breaks the chain there; re-chained, the signature fails', () => {
    const f = fresh();
    const k = find(f, EntryKind.Unmasking, 0, 'hospital-1');
    flip(f.entries[k]!.entry, f.entries[k]!.entry.length - 1);
    expectFailure(verify(f), k, /chain hash mismatch/);
    const g = fresh();
    const list = entries(g);
    flip(list[k]!.signature, 5);
    expectFailure(verify(rebuild(g, list)), k, /signature of hospital-1 does not verify/);
  });

  it('a flipped byte in a chain hash', () => {
    const f = fresh();
    const k = find(f, EntryKind.SurvivorList, 1);
    flip(f.entries[k]!.head, 0);
    expectFailure(verify(f), k, /chain hash mismatch/);
  });

  it('an entry removed, duplicated or reordered', () => {
    const k = find(fresh(), EntryKind.ShareKeys, 1, 'hospital-1');
    const removed = fresh();
    removed.entries.splice(k, 1);
    expectFailure(verify(removed), k, /index \d+, expected \d+: an entry was removed, duplicated or reordered/);
    const duplicated = fresh();
    duplicated.entries.splice(k + 1, 0, { ...duplicated.entries[k]! });
    expectFailure(verify(duplicated), k + 1, /entry was removed, duplicated or reordered/);
    const reordered = fresh();
    [reordered.entries[k], reordered.entries[k + 1]] = [reordered.entries[k + 1]!, reordered.entries[k]!];
    expectFailure(verify(reordered), k, /entry was removed, duplicated or reordered/);
  });

  it('re-chained by the aggregator: a survivor list moved before a masked input breaks the protocol replay', () => {
    const f = fresh();
    const s = find(f, EntryKind.SurvivorList, 0);
    const list = entries(f);
    const [survivors] = list.splice(s, 1);
    list.splice(s - 1, 0, survivors!);
    const rewritten = rebuild(f, list);
    // Without receipts, the replay catches it; with them, the moved party entry's receipt does too.
    expectFailure(verify(rewritten, []), s - 1, /survivor list .* differs from the parties whose masked input is logged/);
    expectFailure(verify(rewritten), s - 1, /receipt held by hospital-\d for entry \d+ names secagg\/masked-input/);
  });

  it('re-chained by the aggregator: an entry removed is caught by the receipts of the parties', () => {
    const f = fresh();
    const k = find(f, EntryKind.Refusal, 2, 'hospital-3');
    const list = entries(f);
    list.splice(k, 1);
    // Without receipts the rewritten log is consistent; with them, the next receipted entry disagrees.
    expect(verify(rebuild(fresh(), [...list]), []).ok).toBe(true);
    const r = verify(rebuild(f, list));
    expect(r.failure!.index).toBe(k);
    expect(r.failure!.reason).toMatch(/receipt held by hospital-\d for entry \d+/);
  });

  it('a contribution replayed from another query', () => {
    const f = fresh();
    const list = entries(f);
    const a = find(f, EntryKind.MaskedInput, 0, 'hospital-1');
    const b = find(f, EntryKind.MaskedInput, 1, 'hospital-1');
    // Relabelled to the other query: the party signature binds the session.
    list[b] = { ...list[a]!, session: queryIds[1]!, atMs: list[b]!.atMs };
    expectFailure(verify(rebuild(f, list)), b, /signature of hospital-1 does not verify/);
    // Copied as is: the first query was already released.
    const g = fresh();
    const list2 = entries(g);
    list2[b] = { ...list2[a]! };
    const rewritten = rebuild(g, list2);
    expectFailure(verify(rewritten, []), b, /after its release \(replayed or reordered\)/);
    expectFailure(verify(rewritten), b, /receipt held by hospital-1 for entry \d+ names .* in session/);
  });

  it('a signature by a key not in the roster', () => {
    const intruder = generateIdentity();
    const f = fresh();
    const list = entries(f);
    const k = find(f, EntryKind.ConsistencyCheck, 1, 'hospital-2');
    list[k] = { ...list[k]!, ...signEnvelope(intruder.secretKey, list[k]!.kind, list[k]!.session, 'hospital-2', list[k]!.body) };
    expectFailure(verify(rebuild(f, list)), k, /signature of hospital-2 does not verify against its roster key/);
    const g = fresh();
    const list2 = entries(g);
    list2[k] = { ...list2[k]!, ...signEnvelope(intruder.secretKey, list2[k]!.kind, list2[k]!.session, 'hospital-9', list2[k]!.body) };
    expectFailure(verify(rebuild(g, list2)), k, /sender "hospital-9" is not in the roster/);
  });

  it('an aggregate that is not the sum of the logged contributions (release re-signed by the aggregator)', () => {
    const f = fresh();
    const list = entries(f);
    const k = find(f, EntryKind.Released, 1);
    const rec = JSON.parse(fromUtf8(list[k]!.body)) as ReleasedRecord;
    rec.exactSums[0] = String(BigInt(rec.exactSums[0]!) + 1n);
    list[k] = { ...list[k]!, ...signEnvelope(aggSecret, EntryKind.Released, list[k]!.session, list[k]!.sender, utf8(JSON.stringify(rec))) };
    expectFailure(verify(rebuild(f, list)), k, /released sums are not the unmasked sum of the logged masked inputs/);
  });

  it("a party's receipt that disagrees with the exported chain", () => {
    // The aggregator rewrote an early entry (its time) and re-signed the chain after it.
    const f = fresh();
    const list = entries(f);
    list[0] = { ...list[0]!, atMs: list[0]!.atMs + 1 };
    const firstReceipted = list.findIndex((e) => e.sender.startsWith('hospital-'));
    const r = verify(rebuild(f, list));
    expect(r.failure!.index).toBe(firstReceipted);
    expect(r.failure!.reason).toMatch(/chain head differs from the exported chain/);
    // A receipt altered in the party's file no longer carries the aggregator's signature.
    const altered = receipts.map((x) => ({ ...x, head: x.head.slice() }));
    flip(altered[3]!.head, 7);
    expectFailure(verify(fresh(), altered), altered[3]!.index, /not signed by the aggregator/);
  });

  it('entries withheld at the end of a full export are caught by receipts beyond it', () => {
    const f = fresh();
    const k = find(f, EntryKind.Unmasking, 2);
    f.entries = f.entries.slice(0, k);
    const r = verify(f);
    expect(r.ok).toBe(false);
    expect(r.failure!.reason).toMatch(/holds a receipt for entry \d+ .* the export ends at entry \d+: entries were withheld/);
  });

  it('DP: a query started without its budget charge, or a charge that misstates the ledger (re-signed by the aggregator)', () => {
    const f = fresh();
    const list = entries(f);
    const c = find(f, EntryKind.BudgetCharge, 3);
    list.splice(c, 1);
    expectFailure(verify(rebuild(f, list), []), c, /contacted before the budget was charged/);
    const g = fresh();
    const list2 = entries(g);
    const rec = JSON.parse(fromUtf8(list2[c]!.body)) as { spentBefore: number };
    rec.spentBefore = 0.25;
    list2[c] = { ...list2[c]!, ...signEnvelope(aggSecret, EntryKind.BudgetCharge, list2[c]!.session, list2[c]!.sender, utf8(JSON.stringify(rec))) };
    expectFailure(verify(rebuild(g, list2)), c, /had spent rho = 0.25, the logged charges and refunds add up to 0/);
  });

  it('bodies altered and re-signed by their own sender never crash the verifier; failures are at or after the altered entry', () => {
    const keys = new Map<string, Uint8Array>(fed.parties.map((p) => [p.id, loadIdentityFile(join(dir, `${p.id}.key`)).identity.secretKey]));
    keys.set(roster.aggregator!.id, aggSecret);
    let seed = 20261123;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    let failed = 0;
    const TRIALS = 15;
    for (let trial = 0; trial < TRIALS; trial++) {
      const f = fresh();
      const list = entries(f);
      const k = next() % list.length;
      const e = list[k]!;
      const body = e.body.slice();
      body[next() % body.length]! ^= 1 << next() % 8;
      list[k] = { ...e, ...signEnvelope(keys.get(e.sender)!, e.kind, e.session, e.sender, body) };
      const r = verify(rebuild(f, list), []);
      if (!r.ok) {
        failed++;
        expect(r.failure!.index).toBeGreaterThanOrEqual(k);
      }
    }
    // Some alterations are harmless by design (e.g. a refusal's reason, a share ciphertext only
    // its recipient decrypts); most change what the protocol computes.
    expect(failed).toBeGreaterThanOrEqual(TRIALS / 2);
  });

  it('the file round-trips through serializeTranscript unchanged', () => {
    expect(serializeTranscript(fresh())).toBe(exported);
  });
});
