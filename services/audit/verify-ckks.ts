/**
 * The auditor's checks of CKKS entries (docs/ckks-backend.md), called by verify.ts. Offline and
 * without node-seal: the protocol order and what each signature binds.
 *   Key ceremony (session = ceremony id): StartCeremony names every roster party, the roster's
 *   threshold and the roster's digest; each party's CRS commitment is signed by its roster key
 *   (domain "ckks/crs-commit"), forwarded unchanged, and opened by the nonce it reveals; every
 *   party signs a commitment to its CKG share and encrypted threshold shares (domain
 *   "ckks/ckg-commit") before any share is revealed, forwarded unchanged; every party reveals one
 *   CKG share and one threshold share for each other party, each opening its commitment; every
 *   party confirms the same collective key SHA-256 as the aggregator's record and the SHA-256 of
 *   the ordered list of share commitments.
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
import { CeremonyError, checkCkgCommit, checkCkgOpening, checkThresholdOpening, CRS_COMMIT_DOMAIN, crsCommitSignedBytes, type CeremonyParams } from '../../crypto/ckks/ceremony.ts';
import { ckgSharesDigest, type SignedCkgCommit } from '../../crypto/ckks/ckg-commit.ts';
import { crsCommitment } from '../../crypto/ckks/crs.ts';
import { verifyDomain } from '../../crypto/identity.ts';
import { EntryKind, type Entry } from '../../crypto/transcript.ts';
import { CKGCommitments, CRSCommitments, CRSNonces, InputCommitments, PartyMessage, StartCeremony, StartSession } from '../../gen/blindsum/v1/blindsum.ts';
import { commitListDigest } from '../common/ckks-inputs.ts';
import { CKKS_PARAMS, ckksParamsByName, rosterDigest, sha256Hex } from '../common/ckks.ts';
import { decryptionBound } from '../../crypto/ckks/params.ts';
import { CkksEntryKind } from '../common/ckks-kinds.ts';
import type { Roster } from '../common/roster.ts';
import type { QuerySubmittedRecord, ReleasedRecord, SessionSummary } from './records.ts';

type Fail = (reason: string) => never;

const CEREMONY_KINDS: ReadonlySet<string> = new Set([
  CkksEntryKind.StartCeremony, CkksEntryKind.CRSCommit, CkksEntryKind.CRSCommitments, CkksEntryKind.CRSReveal,
  CkksEntryKind.CRSNonces, CkksEntryKind.CKGCommit, CkksEntryKind.CKGCommitments, CkksEntryKind.CKGShare, CkksEntryKind.CollectivePublicKey, CkksEntryKind.CKGConfirm,
]);

interface Ceremony {
  params: CeremonyParams;
  commits: Map<string, { commitment: Uint8Array; ephemeralKey: Uint8Array; signature: Uint8Array }>;
  forwarded: boolean;
  nonces: Map<string, Uint8Array>;
  noncesForwarded: boolean;
  ckgCommits: Map<string, SignedCkgCommit>;
  ckgForwarded: boolean;
  shares: Set<string>;
  publicKeySha256: string;
  ckgSharesSha256: string;
  confirmed: Set<string>;
  summary: SessionSummary;
}

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
  inputs: Set<string>;
  contributors: string[] | undefined;
  sums: string[] | undefined;
  decryptors: string[];
  pcksFrom: Set<string>;
  /** Parties whose encrypted input / PCKS share is logged by digest without its blob. */
  absentInputs: string[];
  absentShares: string[];
}

/** Runs a ceremony check; its CeremonyError becomes the verifier's failure. */
function ceremonyCheck(check: () => void, fail: Fail): void {
  try {
    check();
  } catch (err) {
    if (err instanceof CeremonyError) fail(err.message);
    throw err;
  }
}

const same = (a: readonly string[], b: readonly string[] | undefined): boolean => !!b && a.length === b.length && a.every((x, i) => x === b[i]);

const sorted = (xs: readonly string[]): boolean => xs.every((x, i) => i === 0 || xs[i - 1]! < x);

export class CkksTranscriptVerifier {
  readonly #roster: Roster;
  /** The export starts after entry 0: ceremonies may lie before it. */
  readonly #partial: boolean;
  readonly #ceremonies = new Map<string, Ceremony>();
  readonly #keys = new Set<string>();
  /** Parameter set of each verified collective key, and the ciphertexts each party decrypted under it. */
  readonly #keyParams = new Map<string, string>();
  readonly #decrypted = new Map<string, number>();
  readonly #sessions = new Map<string, Session>();
  /** SHA-256 of every encrypted-input ciphertext logged so far → where it was first logged. */
  readonly #inputDigests = new Map<string, { index: number; sender: string; session: string }>();

  constructor(roster: Roster, from: number) {
    this.#roster = roster;
    this.#partial = from > 0;
  }

  /** Ceremony entries, including a party's refusal to take part. */
  ownsCeremony(e: Entry): boolean {
    return CEREMONY_KINDS.has(e.kind) || (e.kind === EntryKind.Refusal && this.#ceremonies.has(e.session));
  }

  ownsSession(session: string): boolean {
    return this.#sessions.has(session);
  }

  summaries(): SessionSummary[] {
    return [...this.#ceremonies.values()].map((c) => c.summary);
  }

  ceremony(e: Entry, fail: Fail): void {
    if (e.kind === CkksEntryKind.StartCeremony) {
      if (this.#ceremonies.has(e.session)) fail('a second StartCeremony for the same ceremony');
      const m = StartCeremony.decode(e.body);
      const ids = this.#roster.parties.map((p) => p.id);
      if (m.sessionId !== e.session) fail('StartCeremony names another ceremony');
      if (m.threshold !== this.#roster.threshold || m.parties.length !== ids.length || m.parties.some((p, i) => p !== ids[i])) fail('the ceremony is not over every roster party with the roster\'s threshold');
      if (m.rosterDigest !== rosterDigest(this.#roster)) fail('the ceremony names another roster digest than the roster given to the verifier');
      const params: CeremonyParams = { ceremonyId: m.sessionId, paramsName: m.params, rosterDigest: m.rosterDigest, threshold: m.threshold, parties: [...m.parties] };
      this.#ceremonies.set(e.session, {
        params, commits: new Map(), forwarded: false, nonces: new Map(), noncesForwarded: false, ckgCommits: new Map(), ckgForwarded: false, shares: new Set(), publicKeySha256: '', ckgSharesSha256: '', confirmed: new Set(),
        summary: { queryId: e.session, kind: 'ckks-key-ceremony', status: 'incomplete', rho: 0, refunded: false, contributors: [], unmaskers: 0, refusals: [], resultChecked: false, note: 'key ceremony did not complete' },
      });
      return;
    }
    const c = this.#ceremonies.get(e.session);
    if (!c) {
      if (this.#partial) return; // began before the exported slice: chain and signatures only
      return fail(`ceremony ${e.session} was never started`);
    }
    const partyMsg = (): NonNullable<PartyMessage['body']> => {
      if (!c.params.parties.includes(e.sender)) fail(`${e.sender} is not a party of this ceremony`);
      const m = PartyMessage.decode(e.body).body;
      if (!m || (m.value as { sessionId?: string }).sessionId !== e.session) fail('the message inside the envelope names another ceremony');
      return m!;
    };
    const all = (set: { size: number }): boolean => set.size === c.params.parties.length;
    switch (e.kind) {
      case EntryKind.Refusal:
        partyMsg();
        c.summary.refusals.push(e.sender);
        return;
      case CkksEntryKind.CRSCommit: {
        const m = partyMsg();
        if (m.$case !== 'crsCommit' || c.commits.has(e.sender) || c.forwarded) return fail('unexpected or repeated CRS commitment');
        const v = m.value;
        if (!verifyDomain(this.#roster.publicKeys.get(e.sender)!, CRS_COMMIT_DOMAIN, crsCommitSignedBytes(c.params, e.sender, v.commitment, v.ephemeralKey), v.signature)) {
          fail(`the CRS commitment of ${e.sender} is not signed by its roster key`);
        }
        c.commits.set(e.sender, { commitment: v.commitment, ephemeralKey: v.ephemeralKey, signature: v.signature });
        return;
      }
      case CkksEntryKind.CRSCommitments: {
        const m = CRSCommitments.decode(e.body);
        if (!all(c.commits) || m.commits.length !== c.commits.size) fail('CRSCommitments before every party committed, or with other parties');
        for (const x of m.commits) {
          const logged = c.commits.get(x.partyId);
          if (!logged || !equalBytes(logged.commitment, x.commitment) || !equalBytes(logged.ephemeralKey, x.ephemeralKey) || !equalBytes(logged.signature, x.signature)) {
            fail(`CRSCommitments forwards a commitment of ${x.partyId} that differs from the logged one`);
          }
        }
        c.forwarded = true;
        return;
      }
      case CkksEntryKind.CRSReveal: {
        const m = partyMsg();
        if (m.$case !== 'crsReveal' || !c.forwarded || c.nonces.has(e.sender)) return fail('nonce revealed before every commitment was forwarded, or twice');
        if (m.value.nonce.length !== 32 || !equalBytes(crsCommitment(m.value.nonce), c.commits.get(e.sender)!.commitment)) fail(`the nonce of ${e.sender} does not open its commitment`);
        c.nonces.set(e.sender, m.value.nonce);
        return;
      }
      case CkksEntryKind.CRSNonces: {
        const m = CRSNonces.decode(e.body);
        if (!all(c.nonces) || m.nonces.length !== c.nonces.size || m.nonces.some((x) => !equalBytes(c.nonces.get(x.partyId) ?? new Uint8Array(0), x.nonce))) {
          fail('CRSNonces before every nonce was revealed, or forwarding other nonces than logged');
        }
        c.noncesForwarded = true;
        return;
      }
      case CkksEntryKind.CKGCommit: {
        const m = partyMsg();
        if (m.$case !== 'ckgCommit' || !c.noncesForwarded || c.ckgCommits.has(e.sender) || c.ckgForwarded) return fail('CKG commitment before every nonce was forwarded, after the commitments were forwarded, or twice');
        const x: SignedCkgCommit = { party: e.sender, commitment: m.value.commitment, thresholdShareDigests: m.value.thresholdShareDigests, signature: m.value.signature };
        ceremonyCheck(() => checkCkgCommit(c.params, this.#roster.publicKeys, x), fail);
        c.ckgCommits.set(e.sender, x);
        return;
      }
      case CkksEntryKind.CKGCommitments: {
        const m = CKGCommitments.decode(e.body);
        if (!all(c.ckgCommits) || m.commits.length !== c.ckgCommits.size || c.ckgForwarded) fail('CKGCommitments before every party committed to its CKG share, or with other parties');
        for (const x of m.commits) {
          const logged = c.ckgCommits.get(x.partyId);
          const same = logged && equalBytes(logged.commitment, x.commitment) && equalBytes(logged.signature, x.signature)
            && logged.thresholdShareDigests.length === x.thresholdShareDigests.length && logged.thresholdShareDigests.every((d, k) => equalBytes(d, x.thresholdShareDigests[k]!));
          if (!same) fail(`CKGCommitments forwards a CKG commitment of ${x.partyId} that differs from the logged one`);
        }
        c.ckgForwarded = true;
        return;
      }
      case CkksEntryKind.CKGShare: {
        const m = partyMsg();
        if (m.$case !== 'ckgShare' || !c.ckgForwarded || c.shares.has(e.sender)) return fail('CKG share before every CKG commitment was forwarded, or twice');
        const to = m.value.thresholdShares.map((s) => s.to).sort();
        const others = c.params.parties.filter((p) => p !== e.sender);
        if (m.value.thresholdShares.some((s) => s.from !== e.sender) || to.length !== others.length || to.some((p, i) => p !== others[i])) {
          fail(`${e.sender} did not send exactly one threshold share to each other party`);
        }
        const commit = c.ckgCommits.get(e.sender)!;
        ceremonyCheck(() => {
          checkCkgOpening(commit, m.value.share);
          for (const s of m.value.thresholdShares) checkThresholdOpening(c.params, commit, s.to, s.ciphertext);
        }, fail);
        c.shares.add(e.sender);
        return;
      }
      case CkksEntryKind.CollectivePublicKey: {
        const rec = JSON.parse(fromUtf8(e.body)) as { ceremonyId?: string; publicKeySha256?: string; ckgSharesSha256?: string };
        if (!all(c.shares) || c.publicKeySha256) fail('collective key announced before every CKG share, or twice');
        if (rec.ceremonyId !== e.session || !/^[0-9a-f]{64}$/.test(rec.publicKeySha256 ?? '')) fail('malformed collective key record');
        c.ckgSharesSha256 = ckgSharesDigest(c.params.parties.map((p) => c.ckgCommits.get(p)!.commitment));
        if (rec.ckgSharesSha256 !== c.ckgSharesSha256) fail('the collective key record names another list of CKG shares than the logged commitments');
        c.publicKeySha256 = rec.publicKeySha256!;
        return;
      }
      case CkksEntryKind.CKGConfirm: {
        const m = partyMsg();
        if (m.$case !== 'ckgConfirm' || !c.publicKeySha256 || c.confirmed.has(e.sender)) return fail('confirmation before the collective key, or twice');
        if (m.value.publicKeySha256 !== c.publicKeySha256) fail(`${e.sender} confirms another collective key than the aggregator recorded`);
        if (m.value.ckgSharesSha256 !== c.ckgSharesSha256) fail(`${e.sender} confirms another list of CKG shares than the logged commitments`);
        c.confirmed.add(e.sender);
        if (all(c.confirmed)) {
          this.#keys.add(c.publicKeySha256);
          this.#keyParams.set(c.publicKeySha256, c.params.paramsName);
          c.summary.status = 'released';
          c.summary.contributors = [...c.params.parties];
          c.summary.note = `collective key ${c.publicKeySha256.slice(0, 16)}… (${c.params.threshold}-of-${c.params.parties.length}): every signed CRS commitment opened, every signed CKG commitment opened by its share, confirmed by all (key not recomputed)`;
        }
        return;
      }
      default:
        fail(`unexpected ${e.kind}`);
    }
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
      if (!this.#partial && !this.#keys.has(m.ckksKeySha256)) fail('StartSession names a collective key that no verified key ceremony produced');
      s.start = m;
      this.#sessions.set(e.session, { commits: new Map(), commitmentsSha256: undefined, inputs: new Set(), contributors: undefined, sums: undefined, decryptors: [], pcksFrom: new Set(), absentInputs: [], absentShares: [] });
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
        this.#noCopy(m.value.ciphertexts.map(sha256Hex), e, fail);
        if (!x.commitmentsSha256) fail('encrypted input revealed before the commitment list was forwarded');
        if (m.value.commitmentsSha256 !== x.commitmentsSha256) fail(`the encrypted input of ${e.sender} names another commitment list than the one forwarded`);
        const committed = x.commits.get(e.sender)?.digests;
        if (!committed || committed.length !== m.value.ciphertexts.length || m.value.ciphertexts.some((ct, i) => sha256Hex(ct) !== committed[i])) fail(`the encrypted input of ${e.sender} differs from its commitment`);
        x.inputs.add(e.sender);
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
        s.unmaskRequested = true;
        return;
      }
      case CkksEntryKind.PCKSShare: {
        const m = partyMsg();
        if (m.$case !== 'pcksShare' || !x.decryptors.includes(e.sender) || x.pcksFrom.has(e.sender)) return fail(`PCKS share from ${e.sender}, who was not asked for one`);
        const v = m.value;
        // The decryptor's signature binds what it key-switched: it must be what was requested.
        if (!same(v.sumSha256, x.sums) || v.shares.length !== v.sumSha256.length) fail(`the PCKS share of ${e.sender} names other sums than the PCKS request it answers`);
        if (!same(v.contributors, x.contributors)) fail(`the PCKS share of ${e.sender} names other contributors than the PCKS request`);
        if (!same(v.decryptors, x.decryptors)) fail(`the PCKS share of ${e.sender} names other decryptors than the PCKS request`);
        if (v.analystKeySha256 !== start.analystKeySha256) fail(`the PCKS share of ${e.sender} names another analyst key than StartSession announced`);
        x.pcksFrom.add(e.sender);
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
    const name = this.#keyParams.get(start.ckksKeySha256) ?? CKKS_PARAMS.name;
    const tau = decryptionBound(ckksParamsByName(name), this.#roster.parties.length);
    if (used > tau) fail(`${party} has given PCKS shares for ${used} ciphertexts under collective key ${start.ckksKeySha256.slice(0, 12)}…, more than the decryption bound τ(${this.#roster.parties.length}) = ${tau}: the federation should have re-keyed`);
  }

  /** No input ciphertext may repeat one logged earlier (by its SHA-256), in any session. */
  #noCopy(digests: readonly string[], e: Entry, fail: Fail): void {
    digests.forEach((d, i) => {
      const first = this.#inputDigests.get(d);
      if (first) fail(`ciphertexts[${i}] of ${e.sender} is an exact copy of the encrypted input of ${first.sender} at entry ${first.index}${first.session === e.session ? ' in the same session' : ` (session ${first.session})`}`);
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
      if (!committed) fail(`the encrypted input of ${e.sender} has no logged commitment`);
      this.#noCopy(committed!, e, fail);
      x.inputs.add(e.sender);
      x.absentInputs.push(e.sender);
      return;
    }
    if (e.kind === CkksEntryKind.PCKSShare) {
      if (!x.decryptors.includes(e.sender) || x.pcksFrom.has(e.sender)) return fail(`PCKS share from ${e.sender}, who was not asked for one`);
      x.pcksFrom.add(e.sender);
      x.absentShares.push(e.sender);
      this.#countDecryptions(start, e.sender, x.sums?.length ?? 0, fail);
      notRun(`entry ${e.index}: the PCKS share of ${e.sender} (blob absent) counted as ${x.sums?.length ?? 0} ciphertexts against τ(n); the sums, contributors, decryptors and analyst key it names NOT checked`);
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
