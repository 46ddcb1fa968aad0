/**
 * The auditor's file-level operations, shared by `blindsum audit` and the demo: export a slice
 * of an aggregator's transcript to a file, and verify a transcript file offline against a
 * roster, an optional schema and the parties' receipt files. Only the file reading is here: the
 * verification itself is verify-parsed.ts (no I/O; the browser auditor bundles it).
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { toHex } from '../../crypto/bytes.ts';
import { directoryBlobs } from '../common/blobs.ts';
import { join } from 'node:path';
import { loadSchemaFile } from '../common/schema-file.ts';
import { TranscriptLog } from '../aggregator/transcript-log.ts';
import { ConfigError, loadRoster } from '../common/roster.ts';
import { loadAnalystRoster } from '../common/analysts.ts';
import { decodeEntry } from '../../crypto/transcript.ts';
import { parseReceipts, type HeldReceipt, parseTranscript, serializeTranscript, type TranscriptFile, type TranscriptSelection } from '../common/transcript-file.ts';
import type { VerifyReport } from './verify.ts';
import { parseSentLog, type SentRecord } from './sent.ts';
import { receiptsFileRole, verifyParsed } from './verify-parsed.ts';
export { checkCkksSums, refundedAfterRelease } from './verify-parsed.ts';

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
    for (const f of filesIn(p, '.sent.jsonl')) {
      const role = receiptsFileRole(f);
      if (role.role === 'sent') out.push(...parseSentLog(readFileSync(f, 'utf8'), role.party, f));
    }
  }
  return out;
}

function filesIn(p: string, suffix: string): string[] {
  try {
    // A file given by name is a sent log or a receipts book by its name, as the browser auditor takes it.
    if (!statSync(p).isDirectory()) return (suffix === '.sent.jsonl') === (receiptsFileRole(p).role === 'sent') ? [p] : [];
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

/**
 * Every check of `audit verify` on files: reads them (the transcript's blobs from FILE.blobs or
 * `blobDir`, receipts and sent logs from files or directories) and runs verify-parsed.ts, the
 * same code the browser auditor runs on the files it is given.
 */
export async function verifyFiles(input: VerifyFilesInput): Promise<VerifyReport> {
  const roster = loadRoster(input.rosterPath);
  const file = readTranscriptFile(input.transcriptPath, input.blobDir);
  return verifyParsed({
    file, roster,
    ...(input.schemaPath !== undefined ? { schema: loadSchemaFile(input.schemaPath) } : {}),
    receipts: loadReceipts(input.receiptPaths ?? []),
    sent: loadSentLogs(input.receiptPaths ?? []),
    ...(input.analystsPath !== undefined ? { analysts: loadAnalystRoster(input.analystsPath, roster) } : {}),
  });
}
