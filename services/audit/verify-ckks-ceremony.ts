/**
 * The auditor's checks of a CKKS key ceremony's entries (docs/ckks-backend.md), for
 * verify-ckks.ts: StartCeremony names every roster party, the roster's threshold and digest; each
 * CRS commitment is signed by its party's roster key, forwarded unchanged and opened by the nonce
 * revealed; every party signs a commitment to its CKG share and encrypted threshold shares before
 * any share is revealed, forwarded unchanged; every revealed share opens its commitment; every
 * party confirms the aggregator's collective key SHA-256 and the SHA-256 of the ordered share
 * commitments. The collective key itself is recomputed with node-seal by verify-ckks-sums.ts.
 */
import { equalBytes, fromUtf8 } from '../../crypto/bytes.ts';
import { CeremonyError, checkCkgCommit, checkCkgOpening, checkThresholdOpening, CRS_COMMIT_DOMAIN, crsCommitSignedBytes, type CeremonyParams } from '../../crypto/ckks/ceremony.ts';
import { ckgSharesDigest, type SignedCkgCommit } from '../../crypto/ckks/ckg-commit.ts';
import { crsCommitment } from '../../crypto/ckks/crs.ts';
import { verifyDomain } from '../../crypto/identity.ts';
import { EntryKind, type Entry } from '../../crypto/transcript.ts';
import { CKGCommitments, CRSCommitments, CRSNonces, PartyMessage, StartCeremony } from '../../gen/blindsum/v1/blindsum.ts';
import { rosterDigest } from '../common/ckks.ts';
import { CkksEntryKind } from '../common/ckks-kinds.ts';
import type { Roster } from '../common/roster.ts';
import type { SessionSummary } from '../common/transcript-records.ts';

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

/** Runs a ceremony check; its CeremonyError becomes the verifier's failure. */
function ceremonyCheck(check: () => void, fail: Fail): void {
  try {
    check();
  } catch (err) {
    if (err instanceof CeremonyError) fail(err.message);
    throw err;
  }
}

/** The ceremonies of an exported transcript and the collective keys they verifiably produced. */
export class CkksCeremonyVerifier {
  readonly #roster: Roster;
  /** The export starts after entry 0: ceremonies may have begun before it. */
  readonly #partial: boolean;
  readonly #ceremonies = new Map<string, Ceremony>();
  readonly #keys = new Set<string>();
  /** Parameter set of each verified collective key. */
  readonly #keyParams = new Map<string, string>();

  constructor(roster: Roster, partial: boolean) {
    this.#roster = roster;
    this.#partial = partial;
  }

  /** Ceremony entries, including a party's refusal to take part. */
  owns(e: Entry): boolean {
    return CEREMONY_KINDS.has(e.kind) || (e.kind === EntryKind.Refusal && this.#ceremonies.has(e.session));
  }

  summaries(): SessionSummary[] {
    return [...this.#ceremonies.values()].map((c) => c.summary);
  }

  /** Whether a verified ceremony produced the collective key with this SHA-256. */
  hasKey(publicKeySha256: string): boolean {
    return this.#keys.has(publicKeySha256);
  }

  /** The parameter set of a verified collective key. */
  paramsOf(publicKeySha256: string): string | undefined {
    return this.#keyParams.get(publicKeySha256);
  }

  check(e: Entry, fail: Fail): void {
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
}
