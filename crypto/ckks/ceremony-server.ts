/**
 * The aggregator's side of the CKKS key ceremony (ceremony.ts has the rounds and the party's
 * side): checks and collects each round (every party required), derives the same CRP, checks
 * that every revealed CKG share and encrypted threshold share opens its party's signed
 * commitment, aggregates the CKG shares into the collective key and routes the encrypted
 * threshold shares. It never holds a secret: the shares it routes are encrypted to their
 * recipients. Nothing here is trusted by the parties: each one re-checks what it is sent.
 */
import { AEAD_OVERHEAD } from '../aead.ts';
import { equalBytes } from '../bytes.ts';
import { ckgAggregateShares, ckgGenPublicKey, parseCkgShare, type CKGShare } from './ckg.ts';
import {
  byParty, CeremonyError, checkCkgCommit, checkCkgOpening, checkCommit, checkThresholdOpening, deriveCrp, publicKeyDigest, validateCeremonyParams,
  type CeremonyParams, type PartyCkgShare, type RevealedNonce, type SignedCommit, type ThresholdShareMsg,
} from './ceremony.ts';
import { ckgSharesDigest, type SignedCkgCommit } from './ckg-commit.ts';
import { crsCommitment, CRS_NONCE_BYTES } from './crs.ts';
import type { CkksContext } from './params.ts';
import type { RnsPoly } from './rns.ts';
import { serializeShamirShare } from './threshold.ts';

/** What the aggregator sends in the CollectivePublicKey round. */
export interface CollectiveKeyRound {
  publicKey: Uint8Array;
  publicKeySha256: string;
  /** Hex SHA-256 of the ordered CKG share commitments (what every confirmation must name). */
  ckgSharesSha256: string;
  ckgShares: PartyCkgShare[];
  routed: Map<string, ThresholdShareMsg[]>;
}

export class CeremonyServer {
  readonly params: CeremonyParams;
  readonly #ctx: CkksContext;
  readonly #keys: ReadonlyMap<string, Uint8Array>;
  readonly #commits = new Map<string, SignedCommit>();
  readonly #nonces = new Map<string, RevealedNonce>();
  readonly #ckgCommits = new Map<string, SignedCkgCommit>();
  readonly #ckg = new Map<string, { bytes: Uint8Array; poly: CKGShare; shares: ThresholdShareMsg[] }>();
  readonly #confirmed = new Set<string>();
  #ordered: SignedCommit[] = [];
  #ckgOrdered: SignedCkgCommit[] = [];
  #crp: RnsPoly | undefined;
  #publicKeySha256 = '';
  #ckgSharesSha256 = '';
  readonly #shareLength: number;

  constructor(ctx: CkksContext, params: CeremonyParams, rosterKeys: ReadonlyMap<string, Uint8Array>) {
    validateCeremonyParams(ctx, params);
    for (const id of params.parties) if (!rosterKeys.has(id)) throw new CeremonyError('bad-params', `${id} is not on the roster`);
    this.#ctx = ctx;
    this.params = params;
    this.#keys = rosterKeys;
    this.#shareLength = serializeShamirShare(ctx, new BigUint64Array(ctx.keyLevel * ctx.N)).length + AEAD_OVERHEAD;
  }

  #member(party: string): void {
    if (!this.params.parties.includes(party)) throw new CeremonyError('bad-message', `${party} is not a ceremony party`, party);
  }

  receiveCommit(c: SignedCommit): void {
    this.#member(c.party);
    if (this.#commits.has(c.party) || this.#ordered.length > 0) throw new CeremonyError('wrong-stage', `CRS commitment of ${c.party} after it committed or after the round closed`, c.party);
    checkCommit(this.params, this.#keys, c);
    this.#commits.set(c.party, c);
  }

  closeCommits(): SignedCommit[] {
    this.#ordered = byParty(this.params, [...this.#commits.values()], 'CRS commitment');
    return this.#ordered;
  }

  receiveReveal(n: RevealedNonce): void {
    this.#member(n.party);
    if (this.#ordered.length === 0 || this.#crp || this.#nonces.has(n.party)) throw new CeremonyError('wrong-stage', `nonce of ${n.party} out of order`, n.party);
    if (!(n.nonce instanceof Uint8Array) || n.nonce.length !== CRS_NONCE_BYTES || !equalBytes(crsCommitment(n.nonce), this.#commits.get(n.party)!.commitment)) {
      throw new CeremonyError('bad-nonce', `the nonce of ${n.party} does not open its commitment`, n.party);
    }
    this.#nonces.set(n.party, n);
  }

  closeReveals(): RevealedNonce[] {
    const ordered = byParty(this.params, [...this.#nonces.values()], 'nonce');
    this.#crp = deriveCrp(this.#ctx, this.params, this.#ordered, ordered);
    return ordered;
  }

  /** A party's signed commitment to its CKG share and encrypted threshold shares. */
  receiveCkgCommit(c: SignedCkgCommit): void {
    this.#member(c.party);
    if (!this.#crp || this.#ckgCommits.has(c.party) || this.#ckgOrdered.length > 0) throw new CeremonyError('wrong-stage', `CKG commitment of ${c.party} out of order`, c.party);
    checkCkgCommit(this.params, this.#keys, c);
    this.#ckgCommits.set(c.party, { ...c, thresholdShareDigests: [...c.thresholdShareDigests] });
  }

  closeCkgCommits(): SignedCkgCommit[] {
    this.#ckgOrdered = byParty(this.params, [...this.#ckgCommits.values()], 'CKG commitment');
    return this.#ckgOrdered;
  }

  receiveShare(party: string, ckgShare: Uint8Array, thresholdShares: readonly ThresholdShareMsg[]): void {
    this.#member(party);
    if (this.#ckgOrdered.length === 0 || this.#ckg.has(party) || this.#publicKeySha256) throw new CeremonyError('wrong-stage', `CKG share of ${party} out of order`, party);
    const commit = this.#ckgCommits.get(party)!;
    checkCkgOpening(commit, ckgShare);
    let poly: CKGShare;
    try {
      poly = parseCkgShare(this.#ctx, ckgShare);
    } catch (e) {
      throw new CeremonyError('bad-share', `CKG share: ${(e as Error).message}`, party);
    }
    const to = new Set<string>();
    for (const s of thresholdShares) {
      if (s.from !== party) throw new CeremonyError('bad-message', `threshold share claims to be from ${s.from}`, party);
      if (s.to === party || !this.params.parties.includes(s.to) || to.has(s.to)) throw new CeremonyError('bad-message', `threshold share addressed to ${s.to}`, party);
      if (!(s.ciphertext instanceof Uint8Array) || s.ciphertext.length !== this.#shareLength) {
        throw new CeremonyError('bad-share', `threshold share for ${s.to} has ${s.ciphertext?.length} bytes, expected ${this.#shareLength}`, party);
      }
      checkThresholdOpening(this.params, commit, s.to, s.ciphertext);
      to.add(s.to);
    }
    if (to.size !== this.params.parties.length - 1) throw new CeremonyError('incomplete', `threshold shares for ${to.size} of ${this.params.parties.length - 1} other parties`, party);
    this.#ckg.set(party, { bytes: ckgShare, poly, shares: thresholdShares.map((s) => ({ ...s })) });
  }

  /** The collective key (SEAL PublicKey bytes), every CKG share, and the threshold shares per recipient. */
  closeShares(): CollectiveKeyRound {
    const ordered = this.params.parties.map((id) => {
      const x = this.#ckg.get(id);
      if (!x) throw new CeremonyError('incomplete', `no CKG share from ${id}`, id);
      return x;
    });
    const sum = ordered.slice(1).reduce((a, b) => ckgAggregateShares(this.#ctx, a, b.poly), ordered[0]!.poly);
    const publicKey = ckgGenPublicKey(this.#ctx, sum, this.#crp!);
    this.#publicKeySha256 = publicKeyDigest(publicKey);
    this.#ckgSharesSha256 = ckgSharesDigest(this.#ckgOrdered.map((c) => c.commitment));
    const routed = new Map<string, ThresholdShareMsg[]>(this.params.parties.map((id) => [id, []]));
    for (const x of ordered) for (const s of x.shares) routed.get(s.to)!.push(s);
    return {
      publicKey, publicKeySha256: this.#publicKeySha256, ckgSharesSha256: this.#ckgSharesSha256,
      ckgShares: this.params.parties.map((id, k) => ({ party: id, share: ordered[k]!.bytes })), routed,
    };
  }

  receiveConfirm(party: string, publicKeySha256: string, ckgSharesSha256: string): void {
    this.#member(party);
    if (!this.#publicKeySha256 || this.#confirmed.has(party)) throw new CeremonyError('wrong-stage', `confirmation of ${party} out of order`, party);
    if (publicKeySha256 !== this.#publicKeySha256) throw new CeremonyError('bad-public-key', `${party} confirms another key`, party);
    if (ckgSharesSha256 !== this.#ckgSharesSha256) throw new CeremonyError('bad-public-key', `${party} confirms another list of CKG shares`, party);
    this.#confirmed.add(party);
  }

  /** Every party confirmed the same key. */
  closeConfirms(): void {
    for (const id of this.params.parties) if (!this.#confirmed.has(id)) throw new CeremonyError('incomplete', `${id} did not confirm the collective key`, id);
  }
}
