/**
 * The auditor's checks of CKKS entries (docs/ckks-backend.md), called by verify.ts. Offline and
 * without node-seal: the protocol order and what each signature binds.
 *   Key ceremony (session = ceremony id): verify-ckks-ceremony.ts.
 *   Query: StartSession (backend "ckks") names a key from a verified ceremony (when the ceremony
 *   is in the exported range) and is checked like secure aggregation's (plan, ρ, threshold,
 *   charged first); every party commits (signed SHA-256 of its ciphertexts) before the aggregator
 *   forwards exactly the logged commitments, and every encrypted input comes after that list,
 *   names its SHA-256 and equals its sender's commitment; the PCKS request names as contributors
 *   exactly the parties whose signed
 *   encrypted input is logged (at least t), and t of them as decryptors; every signed PCKS share
 *   names the sums (SHA-256), contributors, decryptors and analyst key of the PCKS request it
 *   answers; the release names the same contributors after every decryptor's signed PCKS share.
 *   No encrypted-input ciphertext may be an exact copy (same SHA-256) of one logged earlier in the
 *   exported transcript, in any session.
 * Not checked here: the collective key (recomputed from the logged CRS nonces and committed CKG
 * shares) and the homomorphic sums, both with node-seal by verify-ckks-sums.ts, which
 * `blindsum audit verify` runs after these checks pass; and the result, which only the analyst
 * can decrypt.
 */
import { equalBytes, fromUtf8 } from '../../crypto/bytes.ts';
import { EntryKind, type Entry } from '../../crypto/transcript.ts';
import { InputCommitments, PartyMessage, StartSession } from '../../gen/blindsum/v1/blindsum.ts';
import { commitListDigest } from '../common/ckks-inputs.ts';
import { CKKS_PARAMS, ckksParamsByName, sha256Hex } from '../common/ckks.ts';
import { decryptionBound } from '../../crypto/ckks/params.ts';
import { CkksEntryKind } from '../common/ckks-kinds.ts';
import type { Roster } from '../common/roster.ts';
import type { QuerySubmittedRecord, ReleasedRecord, SessionSummary } from '../common/transcript-records.ts';
import { CkksCeremonyVerifier } from './verify-ckks-ceremony.ts';

type Fail = (reason: string) => never;

/** What verify.ts keeps per query, as far as these checks read and write it. */
export interface CkksSessionHost {
  submitted: QuerySubmittedRecord;
  summary: SessionSummary;
  start?: StartSession;
  finished: boolean;
  charged: boolean;
  unmaskRequested: boolean;
}

interface Session {
  /** Logged commitments: digests and the signed envelope, by party. */
  commits: Map<string, { digests: string[]; entry: Entry }>;
  /** SHA-256 of the forwarded commitment list (once forwarded). */
  commitmentsSha256: string | undefined;
  /** Parties whose encrypted input is complete (every chunk logged). */
  inputs: Set<string>;
  /** Ciphertexts of each party's input logged so far (its next chunk's offset). */
  received: Map<string, number>;
  contributors: string[] | undefined;
  sums: string[] | undefined;
  decryptors: string[];
  /** Decryptors whose PCKS shares cover every position; and the next offset of each decryptor's shares. */
  pcksFrom: Set<string>;
  pcksAt: Map<string, number>;
  /** Parties whose encrypted input / PCKS share is logged by digest without its blob. */
  absentInputs: string[];
  absentShares: string[];
}

const same = (a: readonly string[], b: readonly string[] | undefined): boolean => !!b && a.length === b.length && a.every((x, i) => x === b[i]);

/** Ciphertexts in the chunk at `offset` of `total`, as StartSession.ckks_input_chunk sizes chunks (0: one chunk). */
function inputChunkLength(start: StartSession, total: number, offset: number): number {
  const chunk = start.ckksInputChunk > 0 ? start.ckksInputChunk : total;
  return Math.max(0, Math.min(chunk, total - offset));
}

const sorted = (xs: readonly string[]): boolean => xs.every((x, i) => i === 0 || xs[i - 1]! < x);

export class CkksTranscriptVerifier {
  readonly #roster: Roster;
  /** The export starts after entry 0: ceremonies may lie before it. */
  readonly #partial: boolean;
  readonly #ceremony: CkksCeremonyVerifier;
  /** The ciphertexts each party decrypted under each collective key. */
  readonly #decrypted = new Map<string, number>();
  readonly #sessions = new Map<string, Session>();
  /** SHA-256 of every encrypted-input ciphertext logged so far → where it was first logged. */
  readonly #inputDigests = new Map<string, { index: number; sender: string; session: string }>();

  constructor(roster: Roster, from: number) {
    this.#roster = roster;
    this.#partial = from > 0;
    this.#ceremony = new CkksCeremonyVerifier(roster, this.#partial);
  }

  /** Ceremony entries, including a party's refusal to take part. */
  ownsCeremony(e: Entry): boolean {
    return this.#ceremony.owns(e);
  }

  ceremony(e: Entry, fail: Fail): void {
    this.#ceremony.check(e, fail);
  }

  ownsSession(session: string): boolean {
    return this.#sessions.has(session);
  }

  summaries(): SessionSummary[] {
    return this.#ceremony.summaries();
  }

  /**
   * Entries of a CKKS query, from its StartSession on. An encrypted input or PCKS share logged by
   * digest without its blob (`e.blobAbsent`) is checked for everything but its contents, and
   * `notRun` is told what was not checked.
   */
  session(s: CkksSessionHost, e: Entry, fail: Fail, notRun: (what: string) => void = () => {}): void {
    const { submitted } = s;
    if (e.kind === CkksEntryKind.StartSession) {
      if (s.start) fail('a second StartSession for the query');
      const m = StartSession.decode(e.body);
      if (m.sessionId !== e.session || m.backend !== 'ckks' || submitted.backend !== 'ckks') fail('StartSession names another session or backend than the submitted query');
      if (m.rho !== (submitted.rho ?? 0)) fail(`StartSession tells the parties rho = ${m.rho}, the query was accepted with rho = ${submitted.rho ?? 0}`);
      if (m.rho > 0 && !s.charged) fail('the parties were contacted before the budget was charged');
      if (m.threshold !== this.#roster.threshold) fail(`threshold ${m.threshold} differs from the roster's t = ${this.#roster.threshold}`);
      if (m.collusion !== this.#roster.collusion) fail(`collusion bound c = ${m.collusion} differs from the roster's c = ${this.#roster.collusion}`);
      if (m.planDigest !== submitted.planDigest || m.ringBits !== submitted.ringBits) fail('StartSession plan differs from the submitted query');
      if (!this.#partial && !this.#ceremony.hasKey(m.ckksKeySha256)) fail('StartSession names a collective key that no verified key ceremony produced');
      s.start = m;
      this.#sessions.set(e.session, {
        commits: new Map(), commitmentsSha256: undefined, inputs: new Set(), received: new Map(), contributors: undefined, sums: undefined, decryptors: [], pcksFrom: new Set(), pcksAt: new Map(), absentInputs: [], absentShares: [],
      });
      return;
    }
    const x = this.#sessions.get(e.session);
    if (!x || !s.start) return fail('protocol step before StartSession');
    const start = s.start;
    const partyMsg = (): NonNullable<PartyMessage['body']> => {
      if (!start.parties.includes(e.sender)) fail(`${e.sender} is not a participant of this session`);
      const m = PartyMessage.decode(e.body).body;
      if (!m || (m.value as { sessionId?: string }).sessionId !== e.session) fail('the message inside the envelope names another session');
      return m!;
    };
    if (e.blobAbsent) return this.#absent(s, x, e, fail, notRun);
    switch (e.kind) {
      case EntryKind.Refusal:
        partyMsg();
        s.summary.refusals.push(e.sender);
        return;
      case CkksEntryKind.InputCommit: {
        const m = partyMsg();
        if (m.$case !== 'inputCommit' || x.commitmentsSha256 || x.commits.has(e.sender)) return fail('input commitment after the commitment list was forwarded, or twice');
        x.commits.set(e.sender, { digests: [...m.value.ciphertextsSha256], entry: e });
        return;
      }
      case CkksEntryKind.InputCommitments: {
        const m = InputCommitments.decode(e.body);
        if (x.commitmentsSha256 || m.sessionId !== e.session) return fail('a second commitment list, or one for another session');
        if (m.commits.length !== x.commits.size || m.commits.length < this.#roster.threshold) fail('the commitment list does not hold exactly the logged commitments (at least t)');
        m.commits.forEach((c, i) => {
          const logged = x.commits.get(c.partyId)?.entry;
          if (!logged || (i > 0 && m.commits[i - 1]!.partyId >= c.partyId) || c.kind !== logged.kind || c.sessionId !== logged.session || !equalBytes(c.body, logged.body) || !equalBytes(c.signature, logged.signature)) {
            fail(`the commitment list forwards a commitment of ${c.partyId} that differs from the logged one (or is out of order)`);
          }
        });
        x.commitmentsSha256 = commitListDigest(m.commits);
        return;
      }
      case CkksEntryKind.EncryptedInput: {
        const m = partyMsg();
        if (m.$case !== 'encryptedInput' || x.contributors || x.inputs.has(e.sender)) return fail('encrypted input after PCKS began, or twice');
        if (!x.commitmentsSha256) fail('encrypted input revealed before the commitment list was forwarded');
        if (m.value.commitmentsSha256 !== x.commitmentsSha256) fail(`the encrypted input of ${e.sender} names another commitment list than the one forwarded`);
        const committed = x.commits.get(e.sender)?.digests;
        if (!committed) return fail(`the encrypted input of ${e.sender} has no logged commitment`);
        const at = x.received.get(e.sender) ?? 0;
        const len = inputChunkLength(start, committed.length, at);
        if (m.value.offset !== at || m.value.ciphertexts.length !== len) fail(`the encrypted input of ${e.sender}: expected the chunk of ${len} ciphertexts at ${at}, got ${m.value.ciphertexts.length} at ${m.value.offset}`);
        const digests = m.value.ciphertexts.map(sha256Hex);
        this.#noCopy(digests, e, fail, at);
        if (digests.some((d, i) => d !== committed[at + i])) fail(`the encrypted input of ${e.sender} differs from its commitment`);
        this.#received(x, e.sender, at + len, committed.length);
        return;
      }
      case CkksEntryKind.PCKSRequest: {
        const rec = JSON.parse(fromUtf8(e.body)) as { contributors: string[]; decryptors: string[]; analystKeySha256: string; sumSha256: string[] };
        const logged = [...x.inputs].sort();
        const t = this.#roster.threshold;
        if (rec.contributors.length !== logged.length || rec.contributors.some((p, i) => p !== logged[i])) fail('the PCKS request names other contributors than the parties whose encrypted input is logged');
        if (logged.length < t) fail(`only ${logged.length} contributors; the threshold is ${t}`);
        if (!sorted(rec.decryptors) || rec.decryptors.length < t || rec.decryptors.some((d) => !logged.includes(d))) fail(`decryptors must be at least t = ${t} contributors`);
        if (rec.analystKeySha256 !== start.analystKeySha256) fail('the PCKS request targets another analyst key than StartSession announced');
        if (x.sums && JSON.stringify(x.sums) !== JSON.stringify(rec.sumSha256)) fail('a retried PCKS request is for another sum');
        x.contributors = logged;
        x.sums = rec.sumSha256;
        x.decryptors = rec.decryptors;
        x.pcksFrom = new Set();
        x.pcksAt = new Map();
        s.unmaskRequested = true;
        return;
      }
      case CkksEntryKind.PCKSShare: {
        const m = partyMsg();
        if (m.$case !== 'pcksShare' || !x.decryptors.includes(e.sender) || x.pcksFrom.has(e.sender)) return fail(`PCKS share from ${e.sender}, who was not asked for one`);
        const v = m.value;
        const at = x.pcksAt.get(e.sender) ?? 0;
        const len = inputChunkLength(start, x.sums!.length, at);
        if (v.offset !== at) fail(`the PCKS shares of ${e.sender}: expected the chunk at ${at}, got one at ${v.offset}`);
        // The decryptor's signature binds what it key-switched: it must be what was requested.
        if (!same(v.sumSha256, x.sums!.slice(at, at + len)) || v.shares.length !== len) fail(`the PCKS share of ${e.sender} names other sums than the PCKS request it answers`);
        if (!same(v.contributors, x.contributors)) fail(`the PCKS share of ${e.sender} names other contributors than the PCKS request`);
        if (!same(v.decryptors, x.decryptors)) fail(`the PCKS share of ${e.sender} names other decryptors than the PCKS request`);
        if (v.analystKeySha256 !== start.analystKeySha256) fail(`the PCKS share of ${e.sender} names another analyst key than StartSession announced`);
        x.pcksAt.set(e.sender, at + len);
        if (at + len === x.sums!.length) x.pcksFrom.add(e.sender);
        // Every share counts against the decryption bound τ(n) of the key (docs/ckks-parameters.md §2),
        // as each party counts it; exact only when the export holds every query under the key.
        this.#countDecryptions(start, e.sender, v.shares.length, fail);
        return;
      }
      case EntryKind.Released: {
        const rec = JSON.parse(fromUtf8(e.body)) as ReleasedRecord;
        if (!x.contributors || x.decryptors.some((d) => !x.pcksFrom.has(d))) fail('released before every decryptor\'s PCKS share is logged');
        if (rec.contributors.length !== x.contributors!.length || rec.contributors.some((p, i) => p !== x.contributors![i])) fail('released contributors differ from the PCKS contributors');
        if (rec.exactSums.length !== 0 || rec.resultJson !== '') fail('a CKKS release may not hold plaintext sums: only the analyst can decrypt');
        s.summary.contributors = [...x.contributors!];
        s.summary.unmaskers = x.decryptors.length;
        s.summary.note = `released encrypted to the analyst's key; ${x.contributors!.length} signed encrypted inputs (${x.contributors!.join(', ')}), key switched by the signed PCKS shares of ${x.decryptors.join(', ')} (homomorphic sum not recomputed)`;
        if (x.absentInputs.length || x.absentShares.length) {
          const what = `query ${e.session}: ${x.absentInputs.length ? `the encrypted inputs of ${x.absentInputs.join(', ')} (their match with the signed commitments, and the homomorphic sum)` : ''}${x.absentInputs.length && x.absentShares.length ? '; ' : ''}${x.absentShares.length ? `the PCKS shares of ${x.absentShares.join(', ')} (the sums, contributors, decryptors and analyst key they name)` : ''} NOT checked: logged by digest, blobs absent`;
          s.summary.unchecked = [...(s.summary.unchecked ?? []), what];
          s.summary.note += `; NOT checked (blobs absent): ${x.absentInputs.length ? `inputs of ${x.absentInputs.join(', ')}` : ''}${x.absentInputs.length && x.absentShares.length ? ', ' : ''}${x.absentShares.length ? `PCKS shares of ${x.absentShares.join(', ')}` : ''}`;
          notRun(what);
        }
        s.summary.status = 'released';
        s.finished = true;
        return;
      }
      case EntryKind.Failed:
        s.finished = true;
        s.summary.status = 'failed';
        return;
      default:
        fail(`unexpected ${e.kind} in a CKKS session`);
    }
  }

  /**
   * Every share counts against the decryption bound τ(n) of the key (docs/ckks-parameters.md §2),
   * as each party counts it; exact only when the export holds every query under the key.
   */
  #countDecryptions(start: StartSession, party: string, ciphertexts: number, fail: Fail): void {
    const counted = `${start.ckksKeySha256}/${party}`;
    const used = (this.#decrypted.get(counted) ?? 0) + ciphertexts;
    this.#decrypted.set(counted, used);
    const name = this.#ceremony.paramsOf(start.ckksKeySha256) ?? CKKS_PARAMS.name;
    const tau = decryptionBound(ckksParamsByName(name), this.#roster.parties.length);
    if (used > tau) fail(`${party} has given PCKS shares for ${used} ciphertexts under collective key ${start.ckksKeySha256.slice(0, 12)}…, more than the decryption bound τ(${this.#roster.parties.length}) = ${tau}: the federation should have re-keyed`);
  }

  /** Records that `party` has logged `upTo` of its `total` ciphertexts; complete inputs count as contributions. */
  #received(x: Session, party: string, upTo: number, total: number): void {
    x.received.set(party, upTo);
    if (upTo === total) x.inputs.add(party);
  }

  /** No input ciphertext may repeat one logged earlier (by its SHA-256), in any session. */
  #noCopy(digests: readonly string[], e: Entry, fail: Fail, offset = 0): void {
    digests.forEach((d, i) => {
      const first = this.#inputDigests.get(d);
      if (first) fail(`ciphertexts[${offset + i}] of ${e.sender} is an exact copy of the encrypted input of ${first.sender} at entry ${first.index}${first.session === e.session ? ' in the same session' : ` (session ${first.session})`}`);
      this.#inputDigests.set(d, { index: e.index, sender: e.sender, session: e.session });
    });
  }

  /**
   * An encrypted input or PCKS share whose blob is absent: its place in the protocol is checked
   * (sender, order, not repeated); its contents are not. The copy check uses the ciphertext
   * digests the sender signed in its InputCommit (the input must equal them, which only the blob
   * would show); a PCKS share counts as many ciphertexts against τ(n) as the request named.
   */
  #absent(s: CkksSessionHost, x: Session, e: Entry, fail: Fail, notRun: (what: string) => void): void {
    const start = s.start!;
    if (e.kind !== EntryKind.Released && !start.parties.includes(e.sender)) fail(`${e.sender} is not a participant of this session`);
    if (e.kind === CkksEntryKind.EncryptedInput) {
      if (x.contributors || x.inputs.has(e.sender)) return fail('encrypted input after PCKS began, or twice');
      if (!x.commitmentsSha256) fail('encrypted input revealed before the commitment list was forwarded');
      const committed = x.commits.get(e.sender)?.digests;
      if (!committed) return fail(`the encrypted input of ${e.sender} has no logged commitment`);
      // Chunks are logged in order and sized by StartSession: this one holds the next `len` committed ciphertexts.
      const at = x.received.get(e.sender) ?? 0;
      const len = inputChunkLength(start, committed.length, at);
      this.#noCopy(committed.slice(at, at + len), e, fail, at);
      this.#received(x, e.sender, at + len, committed.length);
      if (!x.absentInputs.includes(e.sender)) x.absentInputs.push(e.sender);
      return;
    }
    if (e.kind === CkksEntryKind.PCKSShare) {
      if (!x.decryptors.includes(e.sender) || x.pcksFrom.has(e.sender) || !x.sums) return fail(`PCKS share from ${e.sender}, who was not asked for one`);
      const at = x.pcksAt.get(e.sender) ?? 0;
      const len = inputChunkLength(start, x.sums.length, at);
      x.pcksAt.set(e.sender, at + len);
      if (at + len === x.sums.length) x.pcksFrom.add(e.sender);
      if (!x.absentShares.includes(e.sender)) x.absentShares.push(e.sender);
      this.#countDecryptions(start, e.sender, len, fail);
      notRun(`entry ${e.index}: the PCKS share of ${e.sender} (blob absent) counted as ${len} ciphertexts against τ(n); the sums, contributors, decryptors and analyst key it names NOT checked`);
      return;
    }
    if (e.kind === EntryKind.Released) {
      if (!x.contributors || x.decryptors.some((d) => !x.pcksFrom.has(d))) fail('released before every decryptor\'s PCKS share is logged');
      s.summary.contributors = [...x.contributors!];
      s.summary.unmaskers = x.decryptors.length;
      s.summary.note = `released encrypted to the analyst's key; key switched by the signed PCKS shares of ${x.decryptors.join(', ')}; the release record's blob is absent: NOT compared`;
      const what = `query ${e.session}: the release (entry ${e.index}) is logged by digest and its blob is absent: its contributors NOT compared`;
      s.summary.unchecked = [...(s.summary.unchecked ?? []), what];
      notRun(what);
      s.summary.status = 'released';
      s.finished = true;
      return;
    }
    fail(`${e.kind} cannot be logged by digest`);
  }
}
