/**
 * The auditor's offline verifier (docs/transcripts.md). No network, no trust in the aggregator:
 * given an exported transcript, the federation roster (parties' and the aggregator's public
 * keys), optionally the schema and the parties' receipts, it checks entry by entry
 *   1. the entry index and the hash chain h_k = SHA-256(h_{k−1} ‖ entry_k);
 *   2. the aggregator's signature over each chain head;
 *   3. the sender's signature over the envelope, against the roster (kind and session bound);
 *   4. the order of protocol steps, by replaying every secure-aggregation message through a
 *      fresh SecAggServer (crypto/secagg/server.ts) — which also recomputes the masked sum and
 *      its unmasking from the logged masked inputs and shares, with ≥ t distinct unmaskers;
 *   5. that each release equals the recomputed sums, names exactly the parties whose masked
 *      input is logged, and (with the schema) that the plan digest and the finalized result match;
 *      that DP queries were charged to the analyst's budget before any party was contacted, within
 *      the logged limit, with the ρ the parties were told, and refunded only before Unmasking;
 *   6. that every receipt a party holds agrees with the exported chain, and that all receipts
 *      (of every party, with the extension proofs kept with them) lie on one chain: no fork.
 * Entries of the blob kinds (services/common/blobs.ts) log their body by digest: the blob is read
 * from the export's blob directory and must match the digest (else a failure at that entry). An
 * absent blob (retention) is not a failure: every check that does not need the body still runs
 * (the signature covers the digest), and the report lists the checks that could not run.
 * It stops at the first failure, naming the entry and the reason.
 */
import { equalBytes, fromUtf8 } from '../../crypto/bytes.ts';
import { ringDecode } from '../../crypto/ring.ts';
import { maskedChunk, SecAggError, SecAggServer, SecAggStage, type MaskedChunkMsg } from '../../crypto/secagg/client.ts';
import {
  EntryKind, PARTY_KINDS, chainStep, decodeEntry, entryHash, envelopeDigest, genesisHead, verifyEnvelope, verifyHead, verifyReceipt,
  type Entry,
} from '../../crypto/transcript.ts';
import type { BlobSource } from '../common/blobs.ts';
import { absentSummary, checkBlob, releaseWithoutInputs, replayAbsent, type BlobStats } from './verify-blobs.ts';
export type { AbsentBlob, BlobStats } from './verify-blobs.ts';
import { findFork, type KnownLink } from './forks.ts';
import { AdvertisedKeys, PartyMessage, StartSession, SurvivorList, UnmaskRequest } from '../../gen/blindsum/v1/blindsum.ts';
import { finalize, flagSmallCohort, noiseStd, parseQueryJson, planNoise, planQuery, schemaDigest, type Query, type QueryResult, type Schema } from '../../stats/index.ts';
import type { Roster } from '../common/roster.ts';
import type { HeldReceipt, TranscriptFile } from '../common/transcript-file.ts';
import {
  kindOfPartyMessage, type SessionSummary, type BudgetChargeRecord, type BudgetRefundRecord, type FailedRecord, type QuerySubmittedRecord, type ReleasedRecord,
} from '../common/transcript-records.ts';
import { CKKS_PARTY_KINDS, CkksEntryKind } from '../common/ckks-kinds.ts';
import { CkksTranscriptVerifier } from './verify-ckks.ts';
import { checkStartForwardsRequest, checkSubmittedRequest } from './verify-analyst.ts';
import { JobReplay } from './verify-jobs.ts';
import { isIterative, type IterativeRound } from '../../stats/iterative.ts';
import type { AnalystRoster } from '../common/analysts.ts';

export interface VerifyOptions {
  schema?: Schema;
  /** The parties' receipt books, each in its file order (services/audit/audit.ts loadReceipts). */
  receipts?: HeldReceipt[];
  /** The operator-signed analyst roster: every submitted query's analyst signature is checked against it. */
  analysts?: AnalystRoster;
  /** Where the bodies of entries logged by digest are (default: the file's `blobs`). */
  blobs?: BlobSource;
}

export type { SessionSummary } from '../common/transcript-records.ts';
export { formatReport, type VerifyFailureInfo, type VerifyReport } from './verify-report.ts';
import type { VerifyFailureInfo, VerifyReport } from './verify-report.ts';

class VerifyFailure extends Error {
  readonly info: VerifyFailureInfo;
  constructor(info: VerifyFailureInfo) {
    super(`entry ${info.index} (${info.kind}): ${info.reason}`);
    this.info = info;
  }
}

interface SessionState {
  summary: SessionSummary;
  submitted: QuerySubmittedRecord;
  query: Query;
  start?: StartSession;
  server?: SecAggServer;
  /** Chunks of masked inputs not yet complete, per party (taken out of the sum again if never completed). */
  chunks?: Map<string, MaskedChunkMsg[]>;
  finished: boolean;
  charged: boolean;
  unmaskRequested: boolean;
  /** Parties whose masked input is logged by digest without its blob: the sum cannot be recomputed. */
  absentInputs: string[];
}

/** Relative tolerance of floating-point budget sums (as the aggregator's ledger). */
const RHO_EPS = 1e-9;

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function json<T>(body: Uint8Array): T {
  return JSON.parse(fromUtf8(body)) as T;
}

export function verifyTranscript(file: TranscriptFile, roster: Roster, opts: VerifyOptions = {}): VerifyReport {
  const blobStats: BlobStats = { byDigest: 0, checked: 0, absent: [] };
  const unchecked: string[] = [];
  const report: VerifyReport = {
    ok: false, from: file.from, entries: file.entries.length, sessions: [], receiptsChecked: 0, receiptsOutside: 0, analystsChecked: opts.analysts !== undefined,
    blobs: blobStats, unchecked,
  };
  const blobs = opts.blobs ?? file.blobs;
  const sessions = new Map<string, SessionState>();
  const ckks = new CkksTranscriptVerifier(roster, file.from);
  const jobs = new JobReplay(file.from > 0);
  /** ρ spent per analyst over the exported entries (exact only when the export starts at entry 0). */
  const spent = new Map<string, number>();
  const byIndex = new Map<number, HeldReceipt[]>();
  const links: KnownLink[] = file.from > 0 ? [{ index: file.from - 1, head: file.previousHead }] : [];
  for (const r of opts.receipts ?? []) byIndex.set(r.index, [...(byIndex.get(r.index) ?? []), r]);
  let current: { index: number; kind: string } = { index: file.from, kind: 'header' };
  const fail = (reason: string): never => {
    throw new VerifyFailure({ ...current, reason });
  };
  try {
    const agg = roster.aggregator;
    if (!agg) fail('the roster lists no aggregator public key ("aggregator": {"id", "publicKey"}); heads and receipts cannot be checked');
    const aggPk = agg!.publicKey;
    if (file.federation !== roster.federation) fail(`transcript of federation "${file.federation}", roster of "${roster.federation}"`);
    if (file.aggregatorId !== agg!.id) fail(`transcript of aggregator "${file.aggregatorId}", the roster's aggregator is "${agg!.id}"`);
    const genesis = genesisHead(file.federation, file.aggregatorId);
    if (!equalBytes(genesis, file.genesis)) fail('genesis head does not match the federation and aggregator named in the file');
    if (file.from === 0) {
      if (!equalBytes(file.previousHead, genesis)) fail('the export starts at entry 0 but its previous head is not the genesis head');
    } else if (!verifyHead(aggPk, genesis, file.from - 1, file.previousHead, file.previousHeadSignature)) {
      fail(`the aggregator's signature over the head before entry ${file.from} does not verify`);
    }
    let head = file.previousHead;
    file.entries.forEach((link, k) => {
      const index = file.from + k;
      current = { index, kind: '?' };
      let e: Entry;
      try {
        e = decodeEntry(link.entry);
      } catch (err) {
        return fail(`entry bytes do not decode: ${(err as Error).message}`);
      }
      current = { index, kind: e.kind };
      if (e.index !== index) fail(`entry says index ${e.index}, expected ${index}: an entry was removed, duplicated or reordered`);
      const eh = entryHash(link.entry);
      const h = chainStep(head, eh);
      if (!equalBytes(h, link.head)) fail('chain hash mismatch: h_k ≠ SHA-256(h_{k−1} ‖ SHA-256(entry_k)) (entry bytes or chain hash altered, or an entry before it removed)');
      links.push({ index, entryHash: eh, head: link.head });
      if (!verifyHead(aggPk, genesis, index, link.head, link.headSignature)) fail("the aggregator's signature over the chain head does not verify");
      head = link.head;
      const isAggregator = e.sender === agg!.id;
      const pk = isAggregator ? aggPk : roster.publicKeys.get(e.sender);
      if (!pk) fail(`sender "${e.sender}" is not in the roster`);
      if (!verifyEnvelope(pk!, e)) fail(`signature of ${e.sender} does not verify against its roster key (kind and session are bound into the signature)`);
      if ((PARTY_KINDS.has(e.kind) || CKKS_PARTY_KINDS.has(e.kind)) === isAggregator) fail(`${e.kind} must be sent by ${isAggregator ? 'a party' : 'the aggregator'}, not ${e.sender}`);
      checkBlob(e, index, blobs, blobStats, fail);
      for (const r of byIndex.get(index) ?? []) {
        checkReceipt(r, e, eh, link.head);
        report.receiptsChecked++;
      }
      try {
        step(e);
      } catch (err) {
        if (err instanceof VerifyFailure) throw err;
        if (err instanceof SecAggError) fail(`protocol replay: ${err.message}`);
        // Anything else is a body that does not decode or does not fit its step (never a crash).
        fail(`malformed body: ${(err as Error).message}`);
      }
    });
    const end = file.from + file.entries.length;
    current = { index: end, kind: 'end' };
    for (const r of opts.receipts ?? []) {
      if ((r.index < file.from || r.index >= end) && !verifyReceipt(aggPk, genesis, r)) fail(`receipt of ${r.party} for entry ${r.index} is not signed by the aggregator`);
    }
    // Receipts of different parties (or of one) whose heads cannot be on one chain: a fork.
    const fork = findFork(genesis, opts.receipts ?? [], links);
    if (fork) {
      current = { index: fork.index, kind: 'receipts' };
      fail(fork.reason);
    }
    current = { index: end, kind: 'end' };
    for (const [index, rs] of byIndex) {
      for (const r of rs) {
        if (index >= file.from && index < end) continue;
        if (!verifyReceipt(aggPk, genesis, r)) fail(`receipt of ${r.party} for entry ${index} is not signed by the aggregator`);
        const covered = file.selection.queries ? file.selection.queries.includes(r.session) : file.selection.fromMs === undefined && file.selection.toMs === undefined;
        if (index >= end && covered) fail(`${r.party} holds a receipt for entry ${index} (${r.kind}) but the export ends at entry ${end - 1}: entries were withheld`);
        report.receiptsOutside++;
      }
    }
    for (const q of file.selection.queries ?? []) {
      const s = sessions.get(q);
      if (!s || !s.finished) fail(`query ${q} was selected for export but its ${s ? 'release (or failure) is' : 'entries are'} missing`);
    }
    function checkReceipt(r: HeldReceipt, e: Entry, eh: Uint8Array, linkHead: Uint8Array): void {
      const who = `receipt held by ${r.party} for entry ${r.index}`;
      if (!verifyReceipt(aggPk, genesis, r)) fail(`${who} is not signed by the aggregator (receipt file altered)`);
      if (e.sender !== r.party || e.session !== r.session || e.kind !== r.kind) fail(`${who} names ${r.kind} of ${r.party} in session ${r.session}; the exported entry is ${e.kind} of ${e.sender} in ${e.session}`);
      if (!equalBytes(envelopeDigest(e), r.envelopeDigest)) fail(`${who}: the exported envelope is not the one ${r.party} sent`);
      if (!equalBytes(eh, r.entryHash)) fail(`${who}: entry hash differs from the exported chain (fork: the aggregator showed ${r.party} another entry ${r.index})`);
      if (!equalBytes(linkHead, r.head)) fail(`${who}: chain head differs from the exported chain (fork: the log was rewritten after the receipt was issued, or ${r.party} was shown another chain)`);
    }
    report.ok = true;
    const absent = absentSummary(blobStats);
    if (absent) unchecked.unshift(absent);
  } catch (err) {
    if (!(err instanceof VerifyFailure)) throw err;
    report.failure = err.info;
  }
  report.sessions = [...ckks.summaries(), ...[...sessions.values()].map((s) => s.summary)];
  report.jobRounds = { checked: jobs.checkedRounds, unchecked: jobs.uncheckedRounds };
  return report;

  function step(e: Entry): void {
    if (ckks.ownsCeremony(e)) return ckks.ceremony(e, fail);
    if (e.kind === EntryKind.QuerySubmitted) {
      if (sessions.has(e.session)) fail(`query ${e.session} submitted twice`);
      const rec = json<QuerySubmittedRecord>(e.body);
      if (rec.queryId !== e.session) fail('query id in the body differs from the entry session');
      let query: Query;
      try {
        query = parseQueryJson(rec.query);
      } catch (err) {
        return fail(`logged query does not parse: ${(err as Error).message}`);
      }
      const rho = rec.rho ?? 0;
      if (!(Number.isFinite(rho) && rho >= 0)) fail(`logged rho ${rho} is not a non-negative number`);
      if (opts.analysts) {
        const why = checkSubmittedRequest(rec, query, opts.analysts);
        if (why) fail(why);
      }
      if (rho === 0 && rec.policy && !rec.policy.allowExact) fail('an exact (non-DP) query was accepted although the logged policy allows only DP queries');
      const jobWhy = jobs.submitted(e.session, rec.analyst, query);
      if (jobWhy) fail(jobWhy);
      if (opts.schema) {
        if (rec.schemaDigest !== schemaDigest(opts.schema)) fail('the query was planned for a different schema than the one given to the verifier');
        const plan = planQuery(query, opts.schema, planOptions(rec));
        if (plan.digest !== rec.planDigest || plan.entries.length !== rec.vectorLength) fail('logged plan digest differs from the plan recomputed from the query and schema');
      }
      sessions.set(e.session, {
        submitted: rec, query, finished: false, charged: false, unmaskRequested: false,
        summary: { queryId: e.session, kind: query.kind, status: 'incomplete', rho, refunded: false, contributors: [], unmaskers: 0, refusals: [], resultChecked: false },
        absentInputs: [],
      });
      return;
    }
    const s = sessions.get(e.session);
    if (!s) {
      if (file.from > 0) {
        // The session began before the exported slice: chain and signatures only.
        sessions.set(e.session, {
          submitted: {} as QuerySubmittedRecord, query: {} as Query, finished: true, charged: false, unmaskRequested: false,
          summary: { queryId: e.session, kind: '?', status: 'partial', rho: 0, refunded: false, contributors: [], unmaskers: 0, refusals: [], resultChecked: false },
          absentInputs: [],
        });
        return;
      }
      fail(`session ${e.session} was never submitted`);
    }
    if (s!.summary.status === 'partial') return;
    if (e.kind === EntryKind.BudgetRefund) return refund(s!, json<BudgetRefundRecord>(e.body));
    if (s!.finished) fail(`entry for query ${e.session} after its ${s!.summary.status === 'released' ? 'release' : 'failure'} (replayed or reordered)`);
    replay(s!, e);
  }

  function planOptions(rec: QuerySubmittedRecord): { parties: number; ringBits: 32 | 64; dpGridBits?: number } {
    return { parties: rec.plannedParties, ringBits: rec.ringBits, ...(rec.dpGridBits !== undefined ? { dpGridBits: rec.dpGridBits } : {}) };
  }

  function charge(s: SessionState, rec: BudgetChargeRecord): void {
    const { submitted } = s;
    if (s.charged) fail('the query is charged twice');
    if (s.start) fail('budget charged after the parties were contacted (StartSession)');
    if (rec.queryId !== submitted.queryId || rec.analyst !== submitted.analyst) fail('the charge names another query or analyst');
    if (rec.rho !== submitted.rho || !(rec.rho > 0)) fail(`charged rho ${rec.rho} differs from the query's logged rho ${submitted.rho}`);
    if (!submitted.policy) fail('the query was logged without the policy (budget limit) it was charged against');
    if (rec.limitRho !== submitted.policy.budgetRho) fail(`charge against a limit of ${rec.limitRho}, the logged policy says ${submitted.policy.budgetRho}`);
    const before = spent.get(rec.analyst) ?? 0;
    if (file.from === 0 && Math.abs(rec.spentBefore - before) > RHO_EPS * Math.max(1, before)) {
      fail(`the charge says ${rec.analyst} had spent rho = ${rec.spentBefore}, the logged charges and refunds add up to ${before}`);
    }
    if (rec.spentBefore + rec.rho > rec.limitRho * (1 + RHO_EPS)) fail(`budget exceeded: ${rec.analyst} had spent rho = ${rec.spentBefore} of ${rec.limitRho}, this query costs ${rec.rho}`);
    spent.set(rec.analyst, (file.from === 0 ? before : rec.spentBefore) + rec.rho);
    s.charged = true;
  }

  function refund(s: SessionState, rec: BudgetRefundRecord): void {
    if (!s.charged || s.summary.refunded) fail('refund of a query that was not charged, or refunded twice');
    if (s.summary.status !== 'failed') fail('refund of a query that has not failed');
    if (s.unmaskRequested) fail('refund after Unmasking began (the sum may have been revealed)');
    if (rec.queryId !== s.submitted.queryId || rec.analyst !== s.submitted.analyst || rec.rho !== s.submitted.rho) fail('the refund does not match the charge');
    spent.set(rec.analyst, (spent.get(rec.analyst) ?? 0) - rec.rho);
    s.summary.refunded = true;
  }

  function replay(s: SessionState, e: Entry): void {
    const { submitted } = s;
    if (e.kind === EntryKind.BudgetCharge) return charge(s, json<BudgetChargeRecord>(e.body));
    if (e.kind === EntryKind.StartSession || e.kind === CkksEntryKind.StartSession) {
      const why = checkStartForwardsRequest(submitted, StartSession.decode(e.body), roster, opts.analysts);
      if (why) fail(why);
    }
    if (e.kind === CkksEntryKind.StartSession || ckks.ownsSession(e.session)) return ckks.session(s, e, fail, (what) => unchecked.push(what));
    if (e.kind === EntryKind.StartSession) {
      if (s.start) fail('a second StartSession for the query');
      const m = StartSession.decode(e.body);
      if (m.sessionId !== e.session) fail('StartSession names another session');
      if (m.rho !== (submitted.rho ?? 0)) fail(`StartSession tells the parties rho = ${m.rho}, the query was accepted with rho = ${submitted.rho ?? 0}`);
      if (m.rho > 0 && !s.charged) fail('the parties were contacted before the budget was charged');
      if (m.threshold !== roster.threshold) fail(`threshold ${m.threshold} differs from the roster's t = ${roster.threshold}`);
      if (m.collusion !== roster.collusion) fail(`collusion bound c = ${m.collusion} differs from the roster's c = ${roster.collusion}`);
      if (m.planDigest !== submitted.planDigest || m.ringBits !== submitted.ringBits) fail('StartSession plan differs from the submitted query');
      if (m.backend !== 'secagg') fail(`backend "${m.backend}" cannot be replayed by this verifier`);
      s.start = m;
      s.server = new SecAggServer({ sessionId: e.session, parties: [...m.parties], threshold: m.threshold, ringBits: m.ringBits as 32 | 64, vectorLength: submitted.vectorLength }, roster.publicKeys);
      return;
    }
    if (e.kind === EntryKind.Failed) {
      json<FailedRecord>(e.body);
      s.server?.abort();
      s.finished = true;
      s.summary.status = 'failed';
      return;
    }
    const server = s.server;
    if (!server || !s.start) return fail('protocol step before StartSession');
    if (e.blobAbsent) return replayAbsent(s, s.start.parties, server, e, (what) => unchecked.push(what), fail);
    if (PARTY_KINDS.has(e.kind)) {
      const m = PartyMessage.decode(e.body).body;
      if (!m || kindOfPartyMessage(m.$case) !== e.kind) fail(`body is not a ${e.kind} message`);
      if ((m!.value as { sessionId: string }).sessionId !== e.session) fail('the message inside the envelope names another session');
      if (!s.start.parties.includes(e.sender)) fail(`${e.sender} is not a participant of this session`);
      switch (m!.$case) {
        case 'refusal':
          s.summary.refusals.push(e.sender);
          return;
        case 'advertiseKeys':
          return server.receiveAdvertiseKeys({ party: e.sender, cPk: m!.value.cPk, sPk: m!.value.sPk, signature: m!.value.signature });
        case 'shareKeys':
          return server.receiveShareKeys({ party: e.sender, shares: m!.value.shares.map((x) => ({ from: x.from, to: x.to, ciphertext: x.ciphertext })) });
        case 'maskedInput': {
          if (server.stage === SecAggStage.ShareKeys) server.closeShareKeys();
          const chunk = maskedChunk(e.sender, m!.value.masked, m!.value.offset, submitted);
          if (s.absentInputs.includes(e.sender)) return; // after a chunk whose blob is absent the offsets cannot be followed
          s.chunks ??= new Map();
          if (server.receiveMaskedChunk(chunk)) s.chunks.delete(e.sender);
          else s.chunks.set(e.sender, [...(s.chunks.get(e.sender) ?? []), chunk]);
          return;
        }
        case 'consistencyCheck':
          return server.receiveConsistencyCheck({ party: e.sender, signature: m!.value.signature });
        case 'unmasking':
          return server.receiveUnmasking({ party: e.sender, selfMaskShares: m!.value.selfMaskShares, maskKeyShares: m!.value.maskKeyShares });
        default:
          return fail(`unexpected message ${m!.$case}`);
      }
    }
    switch (e.kind) {
      case EntryKind.AdvertisedKeys: {
        const m = AdvertisedKeys.decode(e.body);
        const u1 = server.closeAdvertiseKeys();
        if (!sameList(u1.map((x) => x.party), m.keys.map((k) => k.partyId))) fail('AdvertisedKeys (U1) differs from the logged advertisements');
        if (!u1.every((x, i) => equalBytes(x.cPk, m.keys[i]!.cPk) && equalBytes(x.sPk, m.keys[i]!.sPk))) fail('AdvertisedKeys forwards keys that differ from the logged advertisements');
        return;
      }
      case EntryKind.SurvivorList: {
        const m = SurvivorList.decode(e.body);
        if (server.stage === SecAggStage.ShareKeys) server.closeShareKeys();
        // a party whose logged chunks never completed its vector is out of the sum, as at the aggregator;
        // a party with an absent chunk (blob gone) cannot be followed: its U3 membership is taken as
        // logged (zero chunks complete it, or its known chunks are retracted), and the sum is not compared
        const absent = new Set(s.absentInputs);
        for (const [party, chunks] of s.chunks ?? []) {
          if (absent.has(party) && m.survivors.includes(party)) continue;
          for (const c of chunks) server.retractMaskedChunk(c);
        }
        for (const party of absent) {
          if (!m.survivors.includes(party)) continue;
          const done = server.incomplete.get(party) ?? 0;
          const left = s.submitted.vectorLength - done;
          if (left > 0) server.receiveMaskedChunk({ party, offset: done, masked: new Uint32Array(left * (s.submitted.ringBits / 32)) });
        }
        s.chunks = undefined;
        const u3 = server.closeMaskedInputCollection();
        if (!sameList(u3, m.survivors)) fail(`survivor list [${m.survivors.join(', ')}] differs from the parties whose masked input is logged [${u3.join(', ')}]`);
        return;
      }
      case EntryKind.UnmaskRequest: {
        const m = UnmaskRequest.decode(e.body);
        const req = server.closeConsistencyCheck();
        s.unmaskRequested = true;
        if (!sameList(req.survivors, m.survivors) || !sameList(req.dropped, m.dropped)) fail('UnmaskRequest survivors/dropped differ from the logged protocol');
        if (!sameList(req.signatures.map((x) => x.party), m.signatures.map((x) => x.partyId))) fail('UnmaskRequest forwards consistency signatures of other parties than logged');
        return;
      }
      case EntryKind.Released: {
        const rec = json<ReleasedRecord>(e.body);
        const unmaskers = server.sets.u4.length;
        const u3 = server.sets.u3;
        const sum = server.finish();
        const sums = ringDecode(sum, submitted.ringBits);
        if (!sameList(rec.contributors, u3)) fail(`released contributors [${rec.contributors.join(', ')}] are not the parties whose masked input is logged [${u3.join(', ')}]`);
        s.summary.contributors = u3;
        s.summary.unmaskers = unmaskers;
        if (s.absentInputs.length) {
          // The unmasking ran (shares checked against the advertised keys) over zero vectors in
          // place of the absent inputs: its sum means nothing, so neither it nor the result is compared.
          releaseWithoutInputs(s, e, (what) => unchecked.push(what));
          if (opts.schema) {
            const plan = planQuery(s.query, opts.schema, planOptions(submitted));
            if (!sameList(rec.scaleBits.map(String), plan.scaleBits.map(String))) fail('released scales differ from the plan');
          }
          s.finished = true;
          s.summary.status = 'released';
          return;
        }
        if (!sameList(rec.exactSums, sums.map(String))) fail('released sums are not the unmasked sum of the logged masked inputs');
        if (opts.schema) {
          const plan = planQuery(s.query, opts.schema, planOptions(submitted));
          if (!sameList(rec.scaleBits.map(String), plan.scaleBits.map(String))) fail('released scales differ from the plan');
          // With DP, post-processing of noisy sums may fail; then only the sums are released.
          if (rec.resultJson !== '' || !(submitted.rho > 0)) {
            // The same post-processing as the aggregator's: finalize, and under DP the small-cohort note.
            // Under DP the post-processing is given the released noise per entry, planned as the aggregator plans it.
            const std = submitted.rho > 0 && s.start
              ? noiseStd(planNoise(s.query, opts.schema, plan, { rho: submitted.rho, parties: submitted.plannedParties, threshold: s.start.threshold, collusion: s.start.collusion }), plan, u3.length)
              : undefined;
            const expected = finalize(s.query, opts.schema, plan, sums, std);
            if (submitted.rho > 0) flagSmallCohort(expected, submitted.policy?.minCohort ?? 0);
            if (JSON.stringify(expected) !== rec.resultJson) fail('released result differs from finalize() of the recomputed sums');
            s.summary.resultChecked = true;
            if (isIterative(s.query.kind)) jobs.released(e.session, expected as QueryResult & IterativeRound);
          }
        }
        s.finished = true;
        s.summary.status = 'released';
        return;
      }
      default:
        return fail(`unknown entry kind "${e.kind}" (this verifier knows: ${Object.values(EntryKind).join(', ')})`);
    }
  }
}
