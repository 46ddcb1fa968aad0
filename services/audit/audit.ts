/**
 * The auditor's file-level operations, shared by `blindsum audit` and the demo: export a slice
 * of an aggregator's transcript to a file, and verify a transcript file offline against a
 * roster, an optional schema and the parties' receipt files.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSchemaFile } from '../aggregator/config.ts';
import { TranscriptLog } from '../aggregator/transcript-log.ts';
import { ConfigError, loadRoster } from '../common/roster.ts';
import { parseReceipts, type HeldReceipt, parseTranscript, serializeTranscript, type TranscriptFile, type TranscriptSelection } from './transcript-file.ts';
import { verifyTranscript, type VerifyReport } from './verify.ts';
import { recomputeCkksSums } from './verify-ckks-sums.ts';

export function exportTranscript(dataDir: string, selection: TranscriptSelection, outPath: string): TranscriptFile {
  const log = TranscriptLog.openExisting(dataDir);
  try {
    const file = log.export(selection);
    writeFileSync(outPath, serializeTranscript(file), { mode: 0o644 });
    return file;
  } finally {
    log.close();
  }
}

export function readTranscriptFile(path: string): TranscriptFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read transcript file ${path}: ${(e as Error).message}`);
  }
  return parseTranscript(text);
}

/** Reads receipts from files and directories (every *.receipts.jsonl file in a directory; each book in its file order). */
export function loadReceipts(paths: readonly string[]): HeldReceipt[] {
  const out: HeldReceipt[] = [];
  for (const p of paths) {
    let files: string[];
    try {
      files = statSync(p).isDirectory() ? readdirSync(p).filter((f) => f.endsWith('.receipts.jsonl')).sort().map((f) => join(p, f)) : [p];
    } catch (e) {
      throw new ConfigError(`cannot read receipts ${p}: ${(e as Error).message}`);
    }
    for (const f of files) out.push(...parseReceipts(readFileSync(f, 'utf8'), f));
  }
  return out;
}

export interface VerifyFilesInput {
  transcriptPath: string;
  rosterPath: string;
  schemaPath?: string;
  receiptPaths?: readonly string[];
}

/** Every check of verify.ts, then (if they pass) the CKKS homomorphic sums recomputed with node-seal. */
export async function verifyFiles(input: VerifyFilesInput): Promise<VerifyReport> {
  const roster = loadRoster(input.rosterPath);
  const file = readTranscriptFile(input.transcriptPath);
  const report = verifyTranscript(file, roster, {
    ...(input.schemaPath !== undefined ? { schema: loadSchemaFile(input.schemaPath) } : {}),
    receipts: loadReceipts(input.receiptPaths ?? []),
  });
  if (report.ok) await checkCkksSums(file, report);
  return report;
}

/** Adds the recomputation of every CKKS homomorphic sum to a report whose other checks passed. */
export async function checkCkksSums(file: TranscriptFile, report: VerifyReport): Promise<void> {
  const r = await recomputeCkksSums(file);
  if (r.failure) {
    report.ok = false;
    report.failure = r.failure;
  }
  for (const s of report.sessions) {
    if (r.checked.includes(s.queryId) && s.note) s.note = s.note.replace('(homomorphic sum not recomputed)', '(homomorphic sum recomputed from the logged inputs)');
  }
}
