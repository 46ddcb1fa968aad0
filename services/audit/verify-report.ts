/**
 * What `audit verify` reports (services/audit/verify.ts) and its text form for the CLI: the first
 * failure with its entry, each query's outcome, the receipts checked, and the checks that could
 * not run for want of blobs.
 */
import type { SessionSummary } from '../common/transcript-records.ts';
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

/** How the NOT-checked line begins when node-seal could not run (the browser auditor only: verify-parsed.ts ckksUnavailable). */
export const CKKS_UNAVAILABLE = 'CKKS collective keys and homomorphic sums NOT recomputed: node-seal (WebAssembly) could not run here';

/**
 * How a line of the report stands: `ok` checked and matched; `failed` the first failure;
 * `not-checked` could not run (blobs absent, no analyst roster) and is never counted as passed;
 * `partial` covered only up to the first failure, or only in part; `examine` a finding that is
 * not a failure; `info` a count or range.
 */
export type CheckStatus = 'ok' | 'failed' | 'not-checked' | 'partial' | 'examine' | 'info';

/** One line of the report: what was checked, how it stands, and the CLI's wording of it. */
export interface ReportCheck {
  check: string;
  status: CheckStatus;
  text: string;
}

function sessionLine(s: SessionSummary): string {
  const what = s.note ?? (s.status === 'released' && s.unchecked?.length
    ? `released; ${s.contributors.length} signed masked inputs (${s.contributors.join(', ')}), unmasking shares of ${s.unmaskers} parties checked; sum NOT recomputed (blobs absent)`
    : s.status === 'released'
    ? `released; sum of ${s.contributors.length} signed masked inputs (${s.contributors.join(', ')}) recomputed and unmasked with shares of ${s.unmaskers} parties${s.resultChecked ? '; plan and result recomputed' : ''}`
    : s.status === 'partial' ? 'began before the exported range: chain and signatures checked only' : s.status);
  const dp = s.status === 'partial' ? '' : s.rho > 0 ? `; rho = ${s.rho} charged${s.refunded ? ' and refunded' : ''}` : '; exact';
  return `${s.kind === 'ckks-key-ceremony' ? 'key ceremony' : 'query'} ${s.queryId} ${s.kind}: ${what}${s.kind === 'ckks-key-ceremony' ? '' : dp}${s.refusals.length ? `; refused by ${s.refusals.join(', ')}` : ''}`;
}

/**
 * The report as a list of checks, in the order and wording of the CLI's report (formatReport is
 * built from it): the exported range, one line per query, receipts, analysts, iterative jobs,
 * blobs, every check NOT run, sends not logged, and the verdict last.
 */
export function reportChecks(r: VerifyReport): ReportCheck[] {
  const out: ReportCheck[] = [{ check: 'exported range', status: 'info', text: `transcript entries ${r.from}..${r.from + r.entries - 1} (${r.entries} entries)` }];
  const upTo = (st: CheckStatus): CheckStatus => (r.ok ? st : st === 'ok' ? 'partial' : st);
  for (const s of r.sessions) {
    // A CKKS session whose key or sum was not recomputed says so in its note: not passed.
    const st: CheckStatus = s.status === 'partial' || s.status === 'incomplete' ? 'partial' : s.unchecked?.length || s.note?.includes('not recomputed') ? 'not-checked' : 'ok';
    out.push({ check: `${s.kind === 'ckks-key-ceremony' ? 'key ceremony' : 'query'} ${s.queryId}`, status: upTo(st), text: sessionLine(s) });
  }
  out.push({
    check: 'receipts', status: upTo(r.receiptsChecked ? 'ok' : 'info'),
    text: `receipts: ${r.receiptsChecked} checked against the chain${r.receiptsOutside ? `, ${r.receiptsOutside} outside the exported range` : ''}`,
  });
  out.push(r.analystsChecked
    ? { check: 'analyst signatures', status: upTo('ok'), text: 'analysts: every submitted query is a request signed by an analyst of the operator-signed analyst roster, logged as signed' }
    : { check: 'analyst signatures', status: 'not-checked', text: 'analysts: NOT checked (give --analysts analysts.json to verify who asked for each query)' });
  if (r.jobRounds && r.jobRounds.checked + r.jobRounds.unchecked > 0) {
    out.push({
      check: 'iterative jobs', status: upTo(r.jobRounds.unchecked ? 'not-checked' : 'ok'),
      text: `iterative jobs: ${r.jobRounds.checked} later rounds evaluated at the state replayed from the released rounds before them${r.jobRounds.unchecked ? `; ${r.jobRounds.unchecked} not replayable (after a CKKS release, which only the analyst can read, or a failed round)` : ''}`,
    });
  }
  if (r.blobs?.byDigest) {
    out.push({
      check: 'blobs', status: upTo(r.blobs.absent.length ? 'not-checked' : 'ok'),
      text: `blobs: ${r.blobs.byDigest} payloads logged by digest; ${r.blobs.checked} blobs read and matched their digest${r.blobs.absent.length ? `; ${r.blobs.absent.length} ABSENT` : ''}`,
    });
  }
  const unchecked = r.unchecked ?? [];
  for (const u of unchecked) out.push({ check: 'NOT checked', status: 'not-checked', text: `NOT checked: ${u}` });
  if (r.unlogged?.length) {
    out.push({
      check: 'sent but not logged', status: 'examine',
      text: `sent but not logged (rejected as late, or withheld by the aggregator; examine): ${r.unlogged.slice(0, 10).map((u) => `${u.party} ${u.kind} in ${u.session}`).join('; ')}${r.unlogged.length > 10 ? `; … ${r.unlogged.length - 10} more` : ''}`,
    });
  }
  out.push({
    check: 'verdict', status: !r.ok ? 'failed' : unchecked.length ? 'not-checked' : 'ok',
    text: r.ok && unchecked.length
      ? `VERIFIED EXCEPT ${unchecked.length} check${unchecked.length > 1 ? 's' : ''} NOT run (listed above): every signature, the hash chain and the protocol order check out; ${
        unchecked.some((u) => u.startsWith(CKKS_UNAVAILABLE)) ? 'the CKKS keys and sums were not recomputed (node-seal could not run here), nor any aggregate whose payload is absent.' : 'the aggregates whose payloads are absent were not recomputed.'}`
      : r.ok ? 'VERIFIED: every signature, the hash chain, the protocol order and every released aggregate check out.'
      : `FAILED at entry ${r.failure!.index} (${r.failure!.kind}): ${r.failure!.reason}`,
  });
  return out;
}

/** A readable report: the range, one line per query, the other checks, then the verdict. */
export function formatReport(r: VerifyReport): string {
  const checks = reportChecks(r);
  return checks.map((c, i) => (i === 0 || i === checks.length - 1 ? c.text : `  ${c.text}`)).join('\n');
}
