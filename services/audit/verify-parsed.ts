/**
 * `blindsum audit verify` on inputs already read: the whole verification the CLI runs, with no
 * file access, so that the browser auditor (web/pages/auditor) runs exactly this code on files
 * the auditor picks, and the CLI (services/audit/audit.ts verifyFiles) runs it on files it reads.
 *
 *   parseAuditTexts: the input files' texts (and blobs) → the parsed inputs, with the CLI's parsers
 *   and its errors (ConfigError, TranscriptFormatError: "unreadable input", exit 2);
 *   verifyParsed:    verify.ts's checks, then (if they pass) the CKKS collective keys and
 *   homomorphic sums recomputed with node-seal, the parties' sent logs against the export, and a
 *   refund after a withheld release.
 */
import { EntryKind, decodeEntry } from '../../crypto/transcript.ts';
import { parseSchema, type Schema } from '../../stats/index.ts';
import { parseAnalystRosterText, type AnalystRoster } from '../common/analysts.ts';
import { memoryBlobs } from '../common/blobs.ts';
import { CkksEntryKind } from '../common/ckks-kinds.ts';
import { ConfigError, parseRosterText, type Roster } from '../common/roster.ts';
import { parseSentLog, unloggedSends, type SentRecord } from './sent.ts';
import { parseReceipts, parseTranscript, type HeldReceipt, type TranscriptFile } from '../common/transcript-file.ts';
import { recomputeCkksSums } from './verify-ckks-sums.ts';
import { verifyTranscript, type VerifyReport } from './verify.ts';
import { CKKS_UNAVAILABLE } from './verify-report.ts';

export interface ParsedAuditInputs {
  /** The transcript, its `blobs` set to where the bodies logged by digest are. */
  file: TranscriptFile;
  roster: Roster;
  schema?: Schema;
  /** The parties' receipt books, each in its file order. */
  receipts: readonly HeldReceipt[];
  /** The parties' sent logs (services/audit/sent.ts). */
  sent: readonly SentRecord[];
  analysts?: AnalystRoster;
}

/** A file by its name (as given on the command line, or the browser's file name) and text. */
export interface NamedText {
  name: string;
  text: string;
}

/**
 * Which party file a receipts argument is, as `audit verify --receipts FILE` takes it:
 * `*.sent.jsonl` is a sent log (of the party named before the suffix), anything else a receipts
 * book. (A directory given to the CLI contributes its *.receipts.jsonl and *.sent.jsonl files.)
 */
export function receiptsFileRole(name: string): { role: 'receipts' } | { role: 'sent'; party: string } {
  const base = name.slice(name.lastIndexOf('/') + 1);
  return base.endsWith('.sent.jsonl') ? { role: 'sent', party: base.slice(0, -'.sent.jsonl'.length) } : { role: 'receipts' };
}

export function parseSchemaText(text: string, name: string): Schema {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`cannot read schema file ${name}: ${(e as Error).message}`);
  }
  return parseSchema(json);
}

/** The inputs of `audit verify`, parsed from texts; blobs by hex digest (the files of FILE.blobs). */
export function parseAuditTexts(t: {
  transcript: NamedText; roster: NamedText; schema?: NamedText; analysts?: NamedText; receipts?: readonly NamedText[]; blobs?: ReadonlyMap<string, Uint8Array>;
}): ParsedAuditInputs {
  const roster = parseRosterText(t.roster.text, t.roster.name);
  const file = parseTranscript(t.transcript.text);
  if (t.blobs) file.blobs = memoryBlobs(t.blobs);
  const receipts: HeldReceipt[] = [];
  const sent: SentRecord[] = [];
  for (const f of t.receipts ?? []) {
    const r = receiptsFileRole(f.name);
    if (r.role === 'sent') sent.push(...parseSentLog(f.text, r.party, f.name));
    else receipts.push(...parseReceipts(f.text, f.name));
  }
  return {
    file, roster, receipts, sent,
    ...(t.schema ? { schema: parseSchemaText(t.schema.text, t.schema.name) } : {}),
    ...(t.analysts ? { analysts: parseAnalystRosterText(t.analysts.text, roster, t.analysts.name) } : {}),
  };
}

export interface VerifyParsedOptions {
  /**
   * Why node-seal cannot run here (a browser that refuses WebAssembly): the recomputation of the
   * CKKS collective keys and homomorphic sums is then listed as NOT checked instead of run. The
   * CLI never sets it.
   */
  ckksUnavailable?: string;
}

/** Whether the transcript holds what the CKKS recomputation needs node-seal for (a collective key or a PCKS request). */
export function needsCkks(file: TranscriptFile): boolean {
  return file.entries.some((l) => {
    try {
      const k = decodeEntry(l.entry).kind;
      return k === CkksEntryKind.PCKSRequest || k === CkksEntryKind.CollectivePublicKey;
    } catch {
      return false; // reported by the verifier
    }
  });
}

/** Every check of `audit verify`, on parsed inputs. */
export async function verifyParsed(input: ParsedAuditInputs, opts: VerifyParsedOptions = {}): Promise<VerifyReport> {
  const { file } = input;
  const report = verifyTranscript(file, input.roster, {
    ...(input.schema ? { schema: input.schema } : {}),
    receipts: [...input.receipts],
    ...(input.analysts ? { analysts: input.analysts } : {}),
  });
  if (report.ok && opts.ckksUnavailable !== undefined && needsCkks(file)) {
    (report.unchecked ??= []).push(`${CKKS_UNAVAILABLE}: ${opts.ckksUnavailable}`);
  } else if (report.ok) {
    await checkCkksSums(file, report);
  }
  // Envelopes the parties recorded as sent, in sessions the export covers completely, that are not logged.
  const complete = new Set(report.sessions.filter((s) => s.status === 'released' || s.status === 'failed').map((s) => s.queryId));
  report.unlogged = unloggedSends(file, input.sent, complete).map((s) => ({ party: s.party, session: s.session, kind: s.kind }));
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
