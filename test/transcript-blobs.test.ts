/**
 * Transcript of digests (docs/transcripts.md, "Blobs"): masked inputs (and large releases) are
 * logged by B(body), the bytes kept in the aggregator's content-addressed blob store, exported
 * next to the transcript and checked by the verifier. Built with the real protocol (SecAggClient,
 * SecAggServer), the aggregator's real TranscriptLog and BlobStore, `audit export` and `audit
 * verify`; the attacks are a malicious aggregator's rewrites of its own log and blob store.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH } from '../cli/federation.ts';
import { fromUtf8, lengthPrefixed, toHex, utf8 } from '../crypto/bytes.ts';
import { EntryKind, blobDigest, decodeEntry, encodeEntry, envelopeDigest, resolveBlob, signEnvelope, splitLengthPrefixed, verifyEnvelope, type Entry, type Envelope, type Receipt } from '../crypto/transcript.ts';
import { sha256 } from '../crypto/sha256.ts';
import { BLOB_DIR, BlobStore } from '../services/aggregator/blob-store.ts';
import { TranscriptLog } from '../services/aggregator/transcript-log.ts';
import { blobDirOf, exportTranscript, readTranscriptFile } from '../services/audit/audit.ts';
import type { ReleasedRecord } from '../services/common/transcript-records.ts';
import { exportedEntries, type TranscriptFile } from '../services/common/transcript-file.ts';
import { formatReport, verifyTranscript, type VerifyReport } from '../services/audit/verify.ts';
import { RELEASE_BLOB_BYTES } from '../services/common/blobs.ts';
import { parseRoster, type Roster } from '../services/common/roster.ts';
import { LogSink, makeFederation, runSecaggQuery, syntheticRun, type Federation } from '../bench/transcript-build.ts';
import { rebuildTranscript, resignEntry } from './transcript-forge.ts';

const PARTIES = ['hospital-1', 'hospital-2', 'hospital-3'];
/** Large enough that the release (exact sums as decimals) is logged by digest too. */
const LARGE = 8_000;
const SMALL = 3;

let dir: string;
let dataDir: string;
let fed: Federation;
let roster: Roster;
let rosterPath: string;
let receipts: Receipt[];
/** Every party envelope as the party signed it, in log order. */
const sent: Envelope[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'blindsum-transcript-blobs-'));
  dataDir = join(dir, 'agg');
  fed = makeFederation(PARTIES, 2, 'fed', 'fed-aggregator');
  roster = parseRoster(fed.rosterJson);
  rosterPath = join(dir, 'roster.json');
  writeFileSync(rosterPath, JSON.stringify(fed.rosterJson));
  mkdirSync(dataDir, { recursive: true });
  const log = TranscriptLog.open(dataDir, fed.federation, { id: fed.aggregator, identity: fed.agg });
  const sink = new LogSink(log);
  const party = sink.party.bind(sink);
  sink.party = (env) => {
    sent.push(env);
    return party(env);
  };
  runSecaggQuery(fed, syntheticRun('q-large', PARTIES.length, LARGE, 7), sink);
  runSecaggQuery(fed, syntheticRun('q-small', PARTIES.length, SMALL, 8), sink);
  receipts = sink.receipts;
  log.close();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** An aggregator data directory (the aggregator's config creates it). */
function openLog(d: string, opts: Parameters<typeof TranscriptLog.open>[3] = {}): TranscriptLog {
  mkdirSync(d, { recursive: true });
  return TranscriptLog.open(d, fed.federation, { id: fed.aggregator, identity: fed.agg }, opts);
}

/** A fresh export (with its blobs in OUT.blobs) of the whole log. */
function exported(name: string): { file: TranscriptFile; path: string } {
  const path = join(dir, `${name}.json`);
  exportTranscript(dataDir, {}, path);
  return { file: readTranscriptFile(path), path };
}

const verify = (f: TranscriptFile, rs: Receipt[] = receipts): VerifyReport => verifyTranscript(f, roster, { receipts: rs });

function indexOf(f: TranscriptFile, kind: string, session: string, sender?: string): number {
  const k = f.entries.findIndex((l) => {
    const e = decodeEntry(l.entry);
    return e.kind === kind && e.session === session && (sender === undefined || e.sender === sender);
  });
  expect(k, `${kind} of ${sender ?? 'anyone'} in ${session}`).toBeGreaterThanOrEqual(0);
  return k;
}

function blobOf(f: TranscriptFile, k: number): string {
  const e = decodeEntry(f.entries[k]!.entry);
  expect(e.bodyDigest, `entry ${k} is logged by digest`).toBeDefined();
  return toHex(e.bodyDigest!);
}

describe('entries logged by digest', () => {
  it('round-trip exactly; the signature verifies over B(body) without the body and binds kind, session and sender; a v2 entry or a digest of the wrong length is refused', () => {
    const body = utf8('a masked vector');
    const env = signEnvelope(fed.ids[0]!.secretKey, EntryKind.MaskedInput, 'q-1', 'hospital-1', body);
    const bytes = encodeEntry({ ...env, index: 3, atMs: 1_700_000_000_000, bodyDigest: blobDigest(body) });
    const e = decodeEntry(bytes);
    expect(e).toMatchObject({ index: 3, kind: EntryKind.MaskedInput, session: 'q-1', sender: 'hospital-1', blobAbsent: true, body: new Uint8Array(0) });
    expect(e.bodyDigest).toEqual(blobDigest(body));
    expect(encodeEntry(e)).toEqual(bytes);
    expect(verifyEnvelope(fed.ids[0]!.publicKey, e)).toBe(true);
    expect(verifyEnvelope(fed.ids[0]!.publicKey, { ...e, session: 'q-2' })).toBe(false);
    expect(verifyEnvelope(fed.ids[0]!.publicKey, { ...e, kind: EntryKind.Unmasking })).toBe(false);
    expect(envelopeDigest(e)).toEqual(envelopeDigest(env));
    expect(resolveBlob(e, utf8('another vector'))).toBe(false);
    expect(e.blobAbsent).toBe(true);
    expect(resolveBlob(e, body)).toBe(true);
    expect(e.body).toEqual(body);
    // B(body) is domain-separated: not the plain SHA-256 of the body.
    expect(blobDigest(body)).not.toEqual(sha256(body));
    const fields = splitLengthPrefixed(bytes, 8);
    expect(() => decodeEntry(lengthPrefixed(...fields.slice(0, 6), fields[6]!.subarray(1), fields[7]!))).toThrow(/body digest: expected 32 bytes/);
    expect(() => decodeEntry(lengthPrefixed('blindsum/transcript/v2', ...fields.slice(1)))).toThrow(/v2 entries are signed under the v2 envelope rule/);
  });
});

describe('the aggregator logs large payloads by digest', () => {
  it('a masked input entry holds B(body), its blob file (named by it, fsynced, no temporary left) holds the body, and the receipt names the envelope the party signed', () => {
    const { file } = exported('layout');
    const store = join(dataDir, BLOB_DIR);
    const k = indexOf(file, EntryKind.MaskedInput, 'q-large', 'hospital-2');
    const e = decodeEntry(file.entries[k]!.entry);
    const signed = sent.find((s) => s.kind === EntryKind.MaskedInput && s.session === 'q-large' && s.sender === 'hospital-2')!;
    expect(signed.body.length).toBeGreaterThan(LARGE * 8);
    expect(file.entries[k]!.entry.length).toBeLessThan(400);
    expect(e.blobAbsent).toBe(true);
    expect(e.bodyDigest).toEqual(blobDigest(signed.body));
    expect(new Uint8Array(readFileSync(join(store, toHex(e.bodyDigest!))))).toEqual(signed.body);
    expect(readdirSync(store).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
    // The receipt's envelope digest is the one the party computes from what it sent.
    const r = receipts.find((x) => x.index === k)!;
    expect(r.envelopeDigest).toEqual(envelopeDigest(signed));
    // Small masked inputs go by digest too; the small release stays inline, the large one does not.
    expect(decodeEntry(file.entries[indexOf(file, EntryKind.MaskedInput, 'q-small', 'hospital-1')]!.entry).bodyDigest).toBeDefined();
    expect(decodeEntry(file.entries[indexOf(file, EntryKind.Released, 'q-small')]!.entry).bodyDigest).toBeUndefined();
    const large = decodeEntry(file.entries[indexOf(file, EntryKind.Released, 'q-large')]!.entry);
    expect(large.bodyDigest).toBeDefined();
    expect(readFileSync(join(store, toHex(large.bodyDigest!))).length).toBeGreaterThanOrEqual(RELEASE_BLOB_BYTES);
    // Every other kind is inline.
    for (const l of file.entries) {
      const x = decodeEntry(l.entry);
      if (x.kind !== EntryKind.MaskedInput && x.kind !== EntryKind.Released) expect(x.bodyDigest, x.kind).toBeUndefined();
    }
  });

  it("the aggregator reads a logged body back from its blob store (bodyOf), and refuses an absent or altered one", () => {
    const log = TranscriptLog.open(dataDir, fed.federation, { id: fed.aggregator, identity: fed.agg });
    try {
      const file = log.export();
      const k = indexOf(file, EntryKind.MaskedInput, 'q-small', 'hospital-3');
      const signed = sent.find((s) => s.kind === EntryKind.MaskedInput && s.session === 'q-small' && s.sender === 'hospital-3')!;
      expect(log.bodyOf(decodeEntry(file.entries[k]!.entry))).toEqual(signed.body);
      const inline = indexOf(file, EntryKind.Unmasking, 'q-small', 'hospital-3');
      expect(log.bodyOf(decodeEntry(file.entries[inline]!.entry))).toEqual(sent.find((s) => s.kind === EntryKind.Unmasking && s.session === 'q-small' && s.sender === 'hospital-3')!.body);
      const other = decodeEntry(file.entries[k]!.entry);
      other.bodyDigest = blobDigest(utf8('never stored'));
      expect(() => log.bodyOf(other)).toThrow(/its blob is absent/);
    } finally {
      log.close();
    }
  });

  it('a blob that cannot be written durably is never named: the append fails and the log holds no entry for it', () => {
    const d = join(dir, 'agg-faulty');
    const log = openLog(d);
    try {
      log.blobs.put = () => {
        throw new Error('disk full');
      };
      const env = sent.find((s) => s.kind === EntryKind.MaskedInput)!;
      expect(() => log.appendParty(env)).toThrow(/disk full/);
      expect(log.length).toBe(0);
    } finally {
      log.close();
    }
  });
});

describe('audit export and verify with blobs', () => {
  it('end to end: every blob read and matched its digest, every sum unmasked and compared, every receipt checked', () => {
    const { file, path } = exported('full');
    expect(readdirSync(blobDirOf(path)).length).toBe(2 * PARTIES.length + 1);
    const r = verify(file);
    expect(r.failure).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.unchecked).toEqual([]);
    expect(r.blobs).toMatchObject({ byDigest: 2 * PARTIES.length + 1, checked: 2 * PARTIES.length + 1, absent: [] });
    expect(r.sessions.map((s) => [s.queryId, s.status, s.contributors.length])).toEqual([['q-large', 'released', 3], ['q-small', 'released', 3]]);
    expect(r.receiptsChecked).toBe(receipts.length);
    expect(formatReport(r)).toMatch(/\nVERIFIED: every signature/);
  });

  it('a tampered blob fails at the entry that names it', () => {
    const { file, path } = exported('tampered');
    const k = indexOf(file, EntryKind.MaskedInput, 'q-large', 'hospital-2');
    const blob = join(blobDirOf(path), blobOf(file, k));
    const bytes = readFileSync(blob);
    bytes[bytes.length - 5]! ^= 0x10;
    writeFileSync(blob, bytes);
    const r = verify(readTranscriptFile(path));
    expect(r.ok).toBe(false);
    expect(r.failure!.index).toBe(k);
    expect(r.failure!.kind).toBe(EntryKind.MaskedInput);
    expect(r.failure!.reason).toMatch(/^blob [0-9a-f]{64} does not match the digest this entry logs/);
  });

  it("another party's valid blob put under this entry's name fails the same way", () => {
    const { file, path } = exported('swapped');
    const a = indexOf(file, EntryKind.MaskedInput, 'q-large', 'hospital-1');
    const b = indexOf(file, EntryKind.MaskedInput, 'q-large', 'hospital-3');
    writeFileSync(join(blobDirOf(path), blobOf(file, b)), readFileSync(join(blobDirOf(path), blobOf(file, a))));
    const r = verify(readTranscriptFile(path));
    expect(r.failure).toMatchObject({ index: b, kind: EntryKind.MaskedInput });
    expect(r.failure!.reason).toMatch(/does not match the digest/);
  });

  it('a tampered large release blob fails at the release entry', () => {
    const { file, path } = exported('release');
    const k = indexOf(file, EntryKind.Released, 'q-large');
    const name = join(blobDirOf(path), blobOf(file, k));
    const rec = JSON.parse(fromUtf8(new Uint8Array(readFileSync(name)))) as ReleasedRecord;
    rec.exactSums[0] = String(BigInt(rec.exactSums[0]!) + 1n);
    writeFileSync(name, JSON.stringify(rec));
    expect(verify(readTranscriptFile(path)).failure).toMatchObject({ index: k, kind: EntryKind.Released });
  });

  it('a missing blob is reported: everything else verifies, and the report and the CLI (exit 3) name the checks that could not run', () => {
    const { file, path } = exported('missing');
    const k = indexOf(file, EntryKind.MaskedInput, 'q-small', 'hospital-2');
    unlinkSync(join(blobDirOf(path), blobOf(file, k)));
    const r = verify(readTranscriptFile(path));
    expect(r.failure).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.blobs!.absent).toEqual([{ index: k, kind: EntryKind.MaskedInput, sender: 'hospital-2', session: 'q-small' }]);
    expect(r.unchecked!.join('\n')).toMatch(/1 of 7 payloads logged by digest have no blob/);
    expect(r.unchecked!.join('\n')).toMatch(/query q-small: released sums and result NOT recomputed: the masked inputs of hospital-2 are logged by digest and their blobs are absent/);
    expect(r.receiptsChecked).toBe(receipts.length);
    const text = formatReport(r);
    expect(text).toMatch(/blobs: 7 payloads logged by digest; 6 blobs read and matched their digest; 1 ABSENT/);
    expect(text).toMatch(/query q-small count: released; 3 signed masked inputs .* sum NOT recomputed \(blobs absent\)/);
    expect(text).toMatch(/\nVERIFIED EXCEPT 2 checks NOT run/);
    expect(text).not.toMatch(/\nVERIFIED:/);
    const cli = spawnSync(process.execPath, [CLI_PATH, 'audit', 'verify', path, '--roster', rosterPath], { encoding: 'utf8' });
    expect(cli.status, cli.stdout + cli.stderr).toBe(3);
    expect(cli.stdout).toMatch(/NOT checked: query q-small: released sums and result NOT recomputed/);
  });

  it('a blob that is not a regular file (a link to /dev/zero) is not read: reported absent, the verifier does not hang', () => {
    const { file, path } = exported('device');
    const k = indexOf(file, EntryKind.MaskedInput, 'q-small', 'hospital-1');
    const name = join(blobDirOf(path), blobOf(file, k));
    unlinkSync(name);
    symlinkSync('/dev/zero', name);
    const r = verify(readTranscriptFile(path));
    expect(r.ok).toBe(true);
    expect(r.blobs!.absent.map((a) => a.index)).toEqual([k]);
  });

  it('an export without blobs verifies everything but the payloads, and says so for every query', () => {
    const path = join(dir, 'bare.json');
    const f = exportTranscript(dataDir, {}, path, false);
    expect(f.blobsAbsent).toBe(2 * PARTIES.length + 1);
    expect(existsSync(blobDirOf(path))).toBe(false);
    const r = verify(readTranscriptFile(path));
    expect(r.ok).toBe(true);
    expect(r.blobs!.checked).toBe(0);
    expect(r.unchecked!.join('\n')).toMatch(/query q-large: the release \(entry \d+\) is logged by digest and its blob is absent: its contributors, sums and result NOT compared/);
    expect(r.unchecked!.join('\n')).toMatch(/query q-small: released sums and result NOT recomputed: the masked inputs of hospital-1, hospital-2, hospital-3/);
  });
});

describe('attacks by the aggregator on a transcript whose blobs are absent', () => {
  const bare = (): { file: TranscriptFile; list: Entry[] } => {
    const path = join(dir, 'attack.json');
    exportTranscript(dataDir, {}, path, false);
    const file = readTranscriptFile(path);
    return { file, list: exportedEntries(file) };
  };

  it("a party's masked input moved to another query by its digest: the signature binds kind, session and sender to the digest", () => {
    const { file, list } = bare();
    const a = indexOf(file, EntryKind.MaskedInput, 'q-large', 'hospital-1');
    const b = indexOf(file, EntryKind.MaskedInput, 'q-small', 'hospital-1');
    expect(list[a]!.blobAbsent).toBe(true);
    list[b] = { ...list[a]!, session: 'q-small', index: list[b]!.index, atMs: list[b]!.atMs };
    const r = verify(rebuildTranscript(file, list, fed.agg.secretKey), []);
    expect(r.failure).toMatchObject({ index: b });
    expect(r.failure!.reason).toMatch(/signature of hospital-1 does not verify/);
  });

  it('an entry of another kind logged by digest (to hide its body) fails at that entry', () => {
    const { file, list } = bare();
    const k = indexOf(file, EntryKind.Unmasking, 'q-small', 'hospital-3');
    list[k] = { ...list[k]!, bodyDigest: blobDigest(list[k]!.body), blobAbsent: true, body: new Uint8Array(0) };
    const r = verify(rebuildTranscript(file, list, fed.agg.secretKey), []);
    expect(r.failure).toMatchObject({ index: k, kind: EntryKind.Unmasking });
    expect(r.failure!.reason).toMatch(/secagg\/unmasking is logged by digest; only secagg\/masked-input, ckks\/encrypted-input, ckks\/pcks-share, query\/released may be/);
  });

  it('a release naming other contributors still fails without the masked inputs', () => {
    const { file, list } = bare();
    const k = indexOf(file, EntryKind.Released, 'q-small');
    const rec = JSON.parse(fromUtf8(list[k]!.body)) as ReleasedRecord;
    rec.contributors = rec.contributors.slice(1);
    list[k] = resignEntry(fed.agg.secretKey, list[k]!, utf8(JSON.stringify(rec)));
    const r = verify(rebuildTranscript(file, list, fed.agg.secretKey), []);
    expect(r.failure).toMatchObject({ index: k });
    expect(r.failure!.reason).toMatch(/released contributors \[hospital-2, hospital-3\] are not the parties whose masked input is logged/);
  });
});

describe('blob retention', () => {
  it('blobs older than --blob-retention-days are deleted; their entries, signatures and receipts still verify, and the sums are reported unchecked', () => {
    const d = join(dir, 'agg-retention');
    const log = openLog(d, { blobRetention: { days: 30 } });
    const sink = new LogSink(log);
    runSecaggQuery(fed, syntheticRun('q-old', PARTIES.length, SMALL, 9), sink);
    runSecaggQuery(fed, syntheticRun('q-new', PARTIES.length, SMALL, 10), sink);
    const file = log.export();
    const old = exportedEntries(file).filter((e) => e.session === 'q-old' && e.bodyDigest).map((e) => join(d, BLOB_DIR, toHex(e.bodyDigest!)));
    expect(old.length).toBe(PARTIES.length);
    const past = (Date.now() - 31 * 86_400_000) / 1000;
    for (const p of old) utimesSync(p, past, past);
    expect(log.blobs.prune()).toBe(PARTIES.length);
    for (const p of old) expect(existsSync(p)).toBe(false);
    log.close();
    const path = join(d, 'export.json');
    const f = exportTranscript(d, {}, path);
    expect([f.blobsExported, f.blobsAbsent]).toEqual([PARTIES.length, PARTIES.length]);
    const r = verify(readTranscriptFile(path), sink.receipts);
    expect(r.ok).toBe(true);
    expect(r.receiptsChecked).toBe(sink.receipts.length);
    expect(r.unchecked!.some((u) => /query q-old: released sums and result NOT recomputed/.test(u))).toBe(true);
    expect(r.unchecked!.some((u) => /q-new/.test(u))).toBe(false);
  });

  it('retention is at least a day (a blob outlives its session); a temporary file left by a crash is removed at the next start; a body stored again renews its time', () => {
    const d = join(dir, 'agg-restart');
    for (const days of [0, 0.5, -1]) expect(() => openLog(d, { blobRetention: { days } })).toThrow(/expected a number of days ≥ 1 \(a blob must outlive the session that logs it\)/);
    const log = openLog(d);
    runSecaggQuery(fed, syntheticRun('q-0', PARTIES.length, SMALL, 11), new LogSink(log));
    log.close();
    const kept = readdirSync(join(d, BLOB_DIR)).sort();
    expect(kept.length).toBe(PARTIES.length);
    writeFileSync(join(d, BLOB_DIR, '.tmp-crashed'), 'partial');
    TranscriptLog.open(d, fed.federation, { id: fed.aggregator, identity: fed.agg }).close();
    expect(readdirSync(join(d, BLOB_DIR)).sort()).toEqual(kept);
    // A body stored again (same digest) renews its time: retention counts from the last entry naming it.
    const store = new BlobStore(join(d, 'renew'), { days: 1 });
    const body = utf8('the same bytes twice');
    store.put(blobDigest(body), body);
    const file = join(store.dir, toHex(blobDigest(body)));
    const past = (Date.now() - 2 * 86_400_000) / 1000;
    utimesSync(file, past, past);
    store.put(blobDigest(body), body);
    expect(store.prune()).toBe(0);
    expect(store.get(toHex(blobDigest(body)))).toEqual(body);
  });
});
