/**
 * What `audit verify` reports (services/audit/verify.ts) and its text form for the CLI: the first
 * failure with its entry, each query's outcome, the receipts checked, and the checks that could
 * not run for want of blobs.
 */
import type { SessionSummary } from './records.ts';
import type { BlobStats } from './verify-blobs.ts';

export interface VerifyFailureInfo {
  index: number;
  kind: string;
  reason: string;
}

export interface VerifyReport {
  ok: boolean;
  from: number;
  entries: number;
  failure?: VerifyFailureInfo;
  sessions: SessionSummary[];
  receiptsChecked: number;
  receiptsOutside: number;
  /** Whether each query's analyst signature was checked (an analyst roster was given). */
  analystsChecked: boolean;
  /** Envelopes the parties' sent logs list in complete sessions but the export lacks (services/audit/sent.ts; not a failure). */
  unlogged?: { party: string; session: string; kind: string }[];
  /** Entries logged by digest: how many, how many blobs matched their digest, which were absent. */
  blobs?: BlobStats;
  /** Checks that could not run because blobs were absent (each names the entry or query); empty when complete. */
  unchecked?: string[];
  /** Rounds of iterative jobs after round 1: how many had their state replayed from the releases before them. */
  jobRounds?: { checked: number; unchecked: number };
}

/** A readable report: one line per query, then the verdict. */
export function formatReport(r: VerifyReport): string {
  const lines = [`transcript entries ${r.from}..${r.from + r.entries - 1} (${r.entries} entries)`];
  for (const s of r.sessions) {
    const what = s.note ?? (s.status === 'released' && s.unchecked?.length
      ? `released; ${s.contributors.length} signed masked inputs (${s.contributors.join(', ')}), unmasking shares of ${s.unmaskers} parties checked; sum NOT recomputed (blobs absent)`
      : s.status === 'released'
      ? `released; sum of ${s.contributors.length} signed masked inputs (${s.contributors.join(', ')}) recomputed and unmasked with shares of ${s.unmaskers} parties${s.resultChecked ? '; plan and result recomputed' : ''}`
      : s.status === 'partial' ? 'began before the exported range: chain and signatures checked only' : s.status);
    const dp = s.status === 'partial' ? '' : s.rho > 0 ? `; rho = ${s.rho} charged${s.refunded ? ' and refunded' : ''}` : '; exact';
    lines.push(`  ${s.kind === 'ckks-key-ceremony' ? 'key ceremony' : 'query'} ${s.queryId} ${s.kind}: ${what}${s.kind === 'ckks-key-ceremony' ? '' : dp}${s.refusals.length ? `; refused by ${s.refusals.join(', ')}` : ''}`);
  }
  lines.push(`  receipts: ${r.receiptsChecked} checked against the chain${r.receiptsOutside ? `, ${r.receiptsOutside} outside the exported range` : ''}`);
  lines.push(r.analystsChecked ? '  analysts: every submitted query is a request signed by an analyst of the operator-signed analyst roster, logged as signed'
    : '  analysts: NOT checked (give --analysts analysts.json to verify who asked for each query)');
  if (r.jobRounds && r.jobRounds.checked + r.jobRounds.unchecked > 0) {
    lines.push(`  iterative jobs: ${r.jobRounds.checked} later rounds evaluated at the state replayed from the released rounds before them${r.jobRounds.unchecked ? `; ${r.jobRounds.unchecked} not replayable (after a CKKS release, which only the analyst can read, or a failed round)` : ''}`);
  }
  if (r.blobs?.byDigest) {
    lines.push(`  blobs: ${r.blobs.byDigest} payloads logged by digest; ${r.blobs.checked} blobs read and matched their digest${r.blobs.absent.length ? `; ${r.blobs.absent.length} ABSENT` : ''}`);
  }
  const unchecked = r.unchecked ?? [];
  for (const u of unchecked) lines.push(`  NOT checked: ${u}`);
  if (r.unlogged?.length) lines.push(`  sent but not logged (rejected as late, or withheld by the aggregator; examine): ${r.unlogged.slice(0, 10).map((u) => `${u.party} ${u.kind} in ${u.session}`).join('; ')}${r.unlogged.length > 10 ? `; … ${r.unlogged.length - 10} more` : ''}`);
  lines.push(r.ok && unchecked.length
    ? `VERIFIED EXCEPT ${unchecked.length} check${unchecked.length > 1 ? 's' : ''} NOT run (listed above): every signature, the hash chain and the protocol order check out; the aggregates whose payloads are absent were not recomputed.`
    : r.ok ? 'VERIFIED: every signature, the hash chain, the protocol order and every released aggregate check out.'
    : `FAILED at entry ${r.failure!.index} (${r.failure!.kind}): ${r.failure!.reason}`);
  return lines.join('\n');
}
