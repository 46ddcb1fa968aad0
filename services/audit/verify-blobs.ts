/**
 * The verifier's handling of entries logged by digest (docs/transcripts.md, "Blobs"), for
 * verify.ts: the blob check (its bytes must hash to the B(body) the entry logs, or the entry
 * fails), and what the secure-aggregation replay does when a blob is absent (retention): the
 * checks that need no bytes still run, and the ones that do are listed, never passed silently.
 */
import { toHex } from '../../crypto/bytes.ts';
import { SecAggStage, type SecAggServer } from '../../crypto/secagg/client.ts';
import { EntryKind, resolveBlob, type Entry } from '../../crypto/transcript.ts';
import { DIGEST_KINDS, type BlobSource } from '../common/blobs.ts';
import type { QuerySubmittedRecord, SessionSummary } from '../common/transcript-records.ts';

type Fail = (reason: string) => never;

/** An entry logged by digest whose blob was not available. */
export interface AbsentBlob {
  index: number;
  kind: string;
  sender: string;
  session: string;
}

export interface BlobStats {
  byDigest: number;
  checked: number;
  absent: AbsentBlob[];
}

/**
 * For an entry logged by digest (its signature already checked over the digest): only the
 * digest kinds may be; a blob that is there must be the body (then filled in); an absent one is
 * counted.
 */
export function checkBlob(e: Entry, index: number, blobs: BlobSource | undefined, stats: BlobStats, fail: Fail): void {
  if (!e.bodyDigest) return;
  if (!DIGEST_KINDS.has(e.kind)) fail(`${e.kind} is logged by digest; only ${[...DIGEST_KINDS].join(', ')} may be`);
  stats.byDigest++;
  const name = toHex(e.bodyDigest);
  const blob = blobs?.get(name);
  if (!blob) {
    stats.absent.push({ index, kind: e.kind, sender: e.sender, session: e.session });
    return;
  }
  if (!resolveBlob(e, blob)) fail(`blob ${name} does not match the digest this entry logs (the blob was altered or replaced)`);
  stats.checked++;
}

/** The summary line for absent blobs (first of the report's NOT-checked list), if any. */
export function absentSummary(stats: BlobStats): string | undefined {
  const a = stats.absent;
  if (!a.length) return undefined;
  return `${a.length} of ${stats.byDigest} payloads logged by digest have no blob (deleted by --blob-retention-days, or exported without them), entries ${a.slice(0, 8).map((x) => x.index).join(', ')}${a.length > 8 ? ', …' : ''}: their signatures, order and receipts were checked over the digest; what needs their bytes was not`;
}

/** What verify.ts keeps per secure-aggregation query, as far as this reads and writes it. */
export interface AbsentHost {
  submitted: QuerySubmittedRecord;
  summary: SessionSummary;
  finished: boolean;
  /** Parties whose masked input is logged by digest without its blob. */
  absentInputs: string[];
}

/**
 * A secure-aggregation entry whose blob is absent. A masked input: the replay goes on with a zero
 * vector in its place (U2/U3 and the unmasking shares are still checked) and the release's sums
 * are not compared. A large release: the unmasking still runs (shares checked against the
 * advertised keys), nothing is compared with the release.
 */
export function replayAbsent(s: AbsentHost, parties: readonly string[], server: SecAggServer, e: Entry, notRun: (what: string) => void, fail: Fail): void {
  const note = (what: string): void => {
    s.summary.unchecked = [...(s.summary.unchecked ?? []), what];
    notRun(what);
  };
  if (e.kind === EntryKind.Released) {
    server.finish();
    s.summary.contributors = server.sets.u3;
    s.summary.unmaskers = server.sets.u4.length;
    note(`query ${e.session}: the release (entry ${e.index}) is logged by digest and its blob is absent: its contributors, sums and result NOT compared`);
    s.finished = true;
    s.summary.status = 'released';
    return;
  }
  if (e.kind !== EntryKind.MaskedInput) return fail(`${e.kind} cannot be logged by digest`);
  if (!parties.includes(e.sender)) fail(`${e.sender} is not a participant of this session`);
  if (server.stage === SecAggStage.ShareKeys) server.closeShareKeys();
  // A chunk of unknown offset and length: the party's U3 membership is taken from the survivor
  // list (verify.ts), and the sum is not compared.
  if (!s.absentInputs.includes(e.sender)) s.absentInputs.push(e.sender);
}

/** At a release after absent masked inputs: the sums mean nothing; says so. */
export function releaseWithoutInputs(s: AbsentHost, e: Entry, notRun: (what: string) => void): void {
  const what = `query ${e.session}: released sums and result NOT recomputed: the masked inputs of ${s.absentInputs.join(', ')} are logged by digest and their blobs are absent`;
  s.summary.unchecked = [...(s.summary.unchecked ?? []), what];
  notRun(what);
}
