/**
 * The auditor's file-level operations, shared by `blindsum audit` and the demo: export a slice
 * of an aggregator's transcript to a file, and verify a transcript file offline against a
 * roster, an optional schema and the parties' receipt files.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { toHex } from '../../crypto/bytes.ts';
import { directoryBlobs } from '../common/blobs.ts';
import { basename, join } from 'node:path';
import { loadSchemaFile } from '../common/schema-file.ts';
import { TranscriptLog } from '../aggregator/transcript-log.ts';
import { ConfigError, loadRoster } from '../common/roster.ts';
import { loadAnalystRoster } from '../common/analysts.ts';
import { decodeEntry, EntryKind } from '../../crypto/transcript.ts';
import { CkksEntryKind } from '../common/ckks-kinds.ts';
import { parseReceipts, type HeldReceipt, parseTranscript, serializeTranscript, type TranscriptFile, type TranscriptSelection } from './transcript-file.ts';
import { verifyTranscript, type VerifyReport } from './verify.ts';
import { parseSentLog, unloggedSends, type SentRecord } from './sent.ts';
import { recomputeCkksSums } from './verify-ckks-sums.ts';

/** The directory of blobs an export writes next to FILE, and `audit verify FILE` reads by default. */
export function blobDirOf(transcriptPath: string): string {
  return `${transcriptPath}.blobs`;
}

export interface ExportResult extends TranscriptFile {
  /** Blobs the exported entries name: copied to FILE.blobs, or absent from the store (retention). */
  blobsExported: number;
  blobsAbsent: number;
}

/**
 * Writes the slice to `outPath` and, unless `withBlobs` is false, copies the blobs its entries
 * name (the bodies logged by digest) into `outPath`.blobs/. The returned file reads its blobs from
 * there (or from the store, without them).
 */
export function exportTranscript(dataDir: string, selection: TranscriptSelection, outPath: string, withBlobs = true): ExportResult {
  const log = TranscriptLog.openExisting(dataDir);
  try {
    const file = log.export(selection);
    const names = new Set<string>();
    for (const link of file.entries) {
      const e = decodeEntry(link.entry);
      if (e.bodyDigest) names.add(toHex(e.bodyDigest));
    }
    let blobsExported = 0;
    let blobsAbsent = 0;
    if (withBlobs && names.size) {
      const r = log.blobs.exportTo(names, blobDirOf(outPath));
      blobsExported = r.exported;
      blobsAbsent = r.absent.length;
      file.blobs = directoryBlobs(blobDirOf(outPath));
    } else if (!withBlobs) {
      blobsAbsent = names.size;
      delete file.blobs; // as the exported file stands: without its blobs
    }
    writeFileSync(outPath, serializeTranscript(file), { mode: 0o644 });
    return Object.assign(file, { blobsExported, blobsAbsent });
  } finally {
    log.close();
  }
}

/** Reads a transcript file; its blobs from `blobDir` (default FILE.blobs next to it; none if that does not exist). */
export function readTranscriptFile(path: string, blobDir?: string): TranscriptFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read transcript file ${path}: ${(e as Error).message}`);
  }
  const file = parseTranscript(text);
  if (blobDir !== undefined && !existsSync(blobDir)) throw new ConfigError(`no blob directory ${blobDir}`);
  file.blobs = directoryBlobs(blobDir ?? blobDirOf(path));
  return file;
}

/** Reads receipts from files and directories (every *.receipts.jsonl file in a directory; each book in its file order). */
export function loadReceipts(paths: readonly string[]): HeldReceipt[] {
  const out: HeldReceipt[] = [];
  for (const p of paths) {
    for (const f of filesIn(p, '.receipts.jsonl')) out.push(...parseReceipts(readFileSync(f, 'utf8'), f));
  }
  return out;
}

/** Reads the parties' sent logs (every *.sent.jsonl file in the given directories). */
export function loadSentLogs(paths: readonly string[]): SentRecord[] {
  const out: SentRecord[] = [];
  for (const p of paths) {
    for (const f of filesIn(p, '.sent.jsonl')) out.push(...parseSentLog(readFileSync(f, 'utf8'), basename(f, '.sent.jsonl'), f));
  }
  return out;
}

function filesIn(p: string, suffix: string): string[] {
  try {
    if (!statSync(p).isDirectory()) return p.endsWith(suffix) || (suffix === '.receipts.jsonl' && !p.endsWith('.sent.jsonl')) ? [p] : [];
    return readdirSync(p).filter((f) => f.endsWith(suffix)).sort().map((f) => join(p, f));
  } catch (e) {
    throw new ConfigError(`cannot read receipts ${p}: ${(e as Error).message}`);
  }
}

export interface VerifyFilesInput {
  transcriptPath: string;
  rosterPath: string;
  schemaPath?: string;
  receiptPaths?: readonly string[];
  /** analysts.json: check every query's analyst signature (verified against the roster's operator key). */
  analystsPath?: string;
  /** The blobs of the export (default FILE.blobs next to it). */
  blobDir?: string;
}

/** Every check of verify.ts, then (if they pass) the CKKS collective keys and homomorphic sums recomputed with node-seal. */
export async function verifyFiles(input: VerifyFilesInput): Promise<VerifyReport> {
  const roster = loadRoster(input.rosterPath);
  const file = readTranscriptFile(input.transcriptPath, input.blobDir);
  const report = verifyTranscript(file, roster, {
    ...(input.schemaPath !== undefined ? { schema: loadSchemaFile(input.schemaPath) } : {}),
    receipts: loadReceipts(input.receiptPaths ?? []),
    ...(input.analystsPath !== undefined ? { analysts: loadAnalystRoster(input.analystsPath, roster) } : {}),
  });
  if (report.ok) await checkCkksSums(file, report);
  // Envelopes the parties recorded as sent, in sessions the export covers completely, that are not logged.
  const complete = new Set(report.sessions.filter((s) => s.status === 'released' || s.status === 'failed').map((s) => s.queryId));
  report.unlogged = unloggedSends(file, loadSentLogs(input.receiptPaths ?? []), complete).map((s) => ({ party: s.party, session: s.session, kind: s.kind }));
  if (report.ok) refundedAfterRelease(file, report);
  return report;
}

/** The kinds whose sending means the sum could be revealed: no refund may follow. */
const RELEASING_KINDS: ReadonlySet<string> = new Set([EntryKind.Unmasking, CkksEntryKind.PCKSShare]);

/**
 * A party's sent log shows an Unmasking (or PCKS share) that the transcript does not hold, in a
 * query the transcript refunds: the aggregator withheld the step after which nothing may be
 * refunded. That is a failure, not a finding to examine.
 */
export function refundedAfterRelease(file: TranscriptFile, report: VerifyReport): void {
  const refunded = new Set(report.sessions.filter((s) => s.refunded).map((s) => s.queryId));
  const hit = report.unlogged?.find((u) => refunded.has(u.session) && RELEASING_KINDS.has(u.kind));
  if (!hit) return;
  let index = -1;
  file.entries.forEach((link, k) => {
    try {
      const e = decodeEntry(link.entry);
      if (e.kind === EntryKind.BudgetRefund && e.session === hit.session) index = file.from + k;
    } catch {
      /* checked by the verifier */
    }
  });
  report.ok = false;
  report.failure = {
    index, kind: EntryKind.BudgetRefund,
    reason: `${hit.party}'s sent log shows its ${hit.kind} for query ${hit.session}, which the transcript does not hold, yet the query is refunded: the aggregator withheld the step after which the sum may be revealed`,
  };
}

/** Adds the recomputation of every CKKS collective key and homomorphic sum to a report whose other checks passed. */
export async function checkCkksSums(file: TranscriptFile, report: VerifyReport): Promise<void> {
  const r = await recomputeCkksSums(file);
  if (r.failure) {
    report.ok = false;
    report.failure = r.failure;
  }
  for (const q of r.skipped) {
    const what = `query ${q}: homomorphic sum NOT recomputed: an encrypted input is logged by digest and its blob is absent`;
    if (!report.unchecked?.includes(what)) (report.unchecked ??= []).push(what);
  }
  for (const s of report.sessions) {
    if (r.checked.includes(s.queryId) && s.note) s.note = s.note.replace('(homomorphic sum not recomputed)', '(homomorphic sum recomputed from the logged inputs)');
    if (r.keys.includes(s.queryId) && s.note) s.note = s.note.replace('(key not recomputed)', '(key recomputed from the logged shares and CRS nonces)');
  }
}
