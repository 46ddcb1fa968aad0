/**
 * The party's side of the CKKS key ceremony (the rounds are described in ceremony.ts; the
 * aggregator's side is ceremony-server.ts). Pure protocol logic, no I/O. The heavy steps
 * (commitShare: the n·t·L·N Shamir multiply-adds; finish) are also step generators so that a
 * service can give its event loop a turn between slices (services/common/steps.ts).
 */
import { randomBytes } from '../native.ts';
import { aeadOpen, aeadSeal } from '../aead.ts';
import { clean, equalBytes, lengthPrefixed } from '../bytes.ts';
import { signDomain } from '../identity.ts';
import { agree, generateX25519KeyPair, type X25519KeyPair } from '../keyagreement.ts';
import {
  byParty, CeremonyError, checkCkgCommit, checkCkgOpening, checkCommit, checkThresholdOpening, CRS_COMMIT_DOMAIN, crsCommitSignedBytes, deriveCrp, othersOf, pointOf,
  publicKeyDigest, validateCeremonyParams, type CeremonyKeyShare, type PartyCkgShare, type RevealedNonce, type SignedCommit, type ThresholdShareMsg,
} from './ceremony.ts';
import { ckgAggregateShares, ckgGenPublicKey, ckgGenShare, genSecretKeyShare, parseCkgShare, serializeCkgShare, type CKGShare } from './ckg.ts';
import { CKG_COMMIT_DOMAIN, ckgCommitSignedBytes, ckgShareCommitment, ckgSharesDigest, thresholdShareDigest, type CeremonyParams, type SignedCkgCommit } from './ckg-commit.ts';
import { crsCommitment, CRS_NONCE_BYTES } from './crs.ts';
import type { CkksContext } from './params.ts';
import type { RnsPoly } from './rns.ts';
import { aggregateShamirShares, drainSteps, genShamirPolynomial, genShamirSecretSharesSteps, parseShamirShare, serializeShamirShare, type ShamirShare } from './threshold.ts';

const SHARE_INFO = 'blindsum/ckks/threshold-share/v1';

function shareInfo(p: CeremonyParams, from: string, to: string): Uint8Array {
  return lengthPrefixed(SHARE_INFO, p.ceremonyId, p.rosterDigest, from, to);
}

/** A party's side of one ceremony; each step is legal once, in order. */
export class CeremonyParty {
  readonly params: CeremonyParams;
  readonly self: string;
  readonly #ctx: CkksContext;
  readonly #identity: Uint8Array;
  readonly #keys: ReadonlyMap<string, Uint8Array>;
  #stage: 'commit' | 'reveal' | 'ckg-commit' | 'share' | 'finish' | 'done' | 'aborted' = 'commit';
  #nonce: Uint8Array = new Uint8Array(0);
  #commitment: Uint8Array = new Uint8Array(0);
  #ephemeral: X25519KeyPair | undefined;
  #commits: SignedCommit[] = [];
  #crp: RnsPoly | undefined;
  #ckgShare: Uint8Array = new Uint8Array(0);
  #thresholdShares: ThresholdShareMsg[] = [];
  #ckgCommit: SignedCkgCommit | undefined;
  #ckgCommits: SignedCkgCommit[] = [];
  #ownShamir: ShamirShare | undefined;
  /** A step generator (commitShareSteps, finishSteps) is running: no other step may start. */
  #busy = false;

  constructor(ctx: CkksContext, params: CeremonyParams, self: string, identitySecretKey: Uint8Array, rosterKeys: ReadonlyMap<string, Uint8Array>) {
    validateCeremonyParams(ctx, params);
    for (const id of params.parties) if (!rosterKeys.has(id)) throw new CeremonyError('bad-params', `${id} is not on this party's roster`);
    if (!params.parties.includes(self)) throw new CeremonyError('bad-params', 'this party is not in the ceremony');
    this.#ctx = ctx;
    this.params = params;
    this.self = self;
    this.#identity = identitySecretKey;
    this.#keys = rosterKeys;
  }

  get stage(): string {
    return this.#stage;
  }

  #expect(stage: 'commit' | 'reveal' | 'ckg-commit' | 'share' | 'finish'): void {
    if (this.#stage !== stage) throw new CeremonyError('wrong-stage', `expected ${stage}, the ceremony is at ${this.#stage}`);
    if (this.#busy) throw new CeremonyError('wrong-stage', `the ${stage} step is already running`);
  }

  /** One yield point of a step generator: after it, the ceremony must still be at `stage` (not aborted). */
  *#resume(stage: 'ckg-commit' | 'finish'): Generator<void, void, void> {
    yield;
    if (this.#stage !== stage) throw new CeremonyError('wrong-stage', `the ceremony was aborted during ${stage}`);
  }

  /** Runs `steps`, checking after each of its yields that the ceremony is still at `stage`. */
  *#guarded<T>(stage: 'ckg-commit' | 'finish', steps: Generator<void, T, void>): Generator<void, T, void> {
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      try {
        yield* this.#resume(stage);
      } catch (e) {
        steps.return(undefined as never); // runs its finally: erases the partial shares
        throw e;
      }
    }
  }

  /** Round 1: commitment to a fresh CRS nonce and a signed ephemeral X25519 key. */
  commit(): { commitment: Uint8Array; ephemeralKey: Uint8Array; signature: Uint8Array } {
    this.#expect('commit');
    this.#nonce = new Uint8Array(randomBytes(CRS_NONCE_BYTES));
    this.#commitment = crsCommitment(this.#nonce);
    this.#ephemeral = generateX25519KeyPair();
    const signature = signDomain(this.#identity, CRS_COMMIT_DOMAIN, crsCommitSignedBytes(this.params, this.self, this.#commitment, this.#ephemeral.publicKey));
    this.#stage = 'reveal';
    return { commitment: this.#commitment, ephemeralKey: this.#ephemeral.publicKey, signature };
  }

  /** Round 2: checks every party's signed commitment (its own unchanged), then reveals the nonce. */
  reveal(commits: readonly SignedCommit[]): Uint8Array {
    this.#expect('reveal');
    const ordered = byParty(this.params, commits, 'CRS commitment');
    for (const c of ordered) checkCommit(this.params, this.#keys, c);
    const own = ordered.find((c) => c.party === this.self)!;
    if (!equalBytes(own.commitment, this.#commitment) || !equalBytes(own.ephemeralKey, this.#ephemeral!.publicKey)) {
      throw new CeremonyError('bad-message', 'the commitment forwarded for this party is not the one it sent');
    }
    this.#commits = ordered;
    this.#stage = 'ckg-commit';
    return this.#nonce.slice();
  }

  /**
   * Round 3: the CRP from every nonce, the CKG share and encrypted Shamir shares for the others,
   * kept until every party has committed; only the signed commitment to them leaves now.
   */
  commitShare(nonces: readonly RevealedNonce[]): { commitment: Uint8Array; thresholdShareDigests: Uint8Array[]; signature: Uint8Array } {
    return drainSteps(this.commitShareSteps(nonces));
  }

  /**
   * commitShare in steps (n·t·L·N multiply-adds for the Shamir shares, then one AEAD per other
   * party): the service yields to its event loop between steps (services/common/steps.ts). An
   * abort() between two steps ends it with 'wrong-stage' and erases what it had computed.
   */
  *commitShareSteps(nonces: readonly RevealedNonce[]): Generator<void, { commitment: Uint8Array; thresholdShareDigests: Uint8Array[]; signature: Uint8Array }, void> {
    this.#expect('ckg-commit');
    this.#busy = true;
    try {
      return yield* this.#commitShare(nonces);
    } finally {
      this.#busy = false;
    }
  }

  *#commitShare(nonces: readonly RevealedNonce[]): Generator<void, { commitment: Uint8Array; thresholdShareDigests: Uint8Array[]; signature: Uint8Array }, void> {
    const ctx = this.#ctx;
    const ordered = byParty(this.params, nonces, 'nonce');
    const crp = deriveCrp(ctx, this.params, this.#commits, ordered);
    yield* this.#resume('ckg-commit');
    const secret = genSecretKeyShare(ctx);
    let ckg: CKGShare;
    try {
      ckg = ckgGenShare(ctx, secret, crp);
      yield* this.#resume('ckg-commit');
    } catch (e) {
      secret.fill(0n);
      throw e;
    }
    const poly = genShamirPolynomial(ctx, this.params.threshold, secret);
    secret.fill(0n);
    const thresholdShares: ThresholdShareMsg[] = [];
    let all: ShamirShare[] = [];
    let complete = false;
    try {
      all = yield* this.#guarded('ckg-commit', genShamirSecretSharesSteps(ctx, poly, this.#commits.map((c) => pointOf(this.params, c.party))));
      for (const [k, c] of this.#commits.entries()) {
        const share = all[k]!;
        if (c.party === this.self) {
          this.#ownShamir = share;
          continue;
        }
        const info = shareInfo(this.params, this.self, c.party);
        const key = agree(this.#ephemeral!.secretKey, c.ephemeralKey, info);
        const plaintext = serializeShamirShare(ctx, share);
        share.fill(0n);
        thresholdShares.push({ from: this.self, to: c.party, ciphertext: aeadSeal(key, plaintext, info) });
        clean(key, plaintext);
        yield* this.#resume('ckg-commit');
      }
      complete = true;
    } finally {
      for (const coefficient of poly) coefficient.fill(0n);
      if (!complete) for (const share of all) share.fill(0n); // aborted or failed: the own share too
    }
    this.#crp = crp;
    this.#ckgShare = serializeCkgShare(ctx, ckg);
    this.#thresholdShares = thresholdShares;
    clean(this.#nonce);
    const commitment = ckgShareCommitment(this.#ckgShare);
    const thresholdShareDigests = thresholdShares.map((s) => thresholdShareDigest(s.ciphertext));
    const signature = signDomain(this.#identity, CKG_COMMIT_DOMAIN, ckgCommitSignedBytes(this.params, this.self, commitment, thresholdShareDigests));
    this.#ckgCommit = { party: this.self, commitment, thresholdShareDigests, signature };
    this.#stage = 'share';
    return { commitment, thresholdShareDigests: [...thresholdShareDigests], signature };
  }

  /** Round 4: checks every party's signed CKG commitment (its own unchanged), then reveals its share. */
  share(commits: readonly SignedCkgCommit[]): { ckgShare: Uint8Array; thresholdShares: ThresholdShareMsg[] } {
    this.#expect('share');
    const ordered = byParty(this.params, commits, 'CKG commitment');
    for (const c of ordered) checkCkgCommit(this.params, this.#keys, c);
    const own = ordered.find((c) => c.party === this.self)!;
    const mine = this.#ckgCommit!;
    if (!equalBytes(own.commitment, mine.commitment) || own.thresholdShareDigests.some((d, k) => !equalBytes(d, mine.thresholdShareDigests[k]!))) {
      throw new CeremonyError('bad-message', 'the CKG commitment forwarded for this party is not the one it sent');
    }
    this.#ckgCommits = ordered.map((c) => ({ ...c, thresholdShareDigests: [...c.thresholdShareDigests] }));
    this.#stage = 'finish';
    return { ckgShare: this.#ckgShare, thresholdShares: this.#thresholdShares.map((s) => ({ ...s })) };
  }

  /**
   * Round 5: every CKG share must open its party's signed commitment and the collective key must
   * be (Σ p_j, a) for them; the Shamir shares received from every other party must be the ones
   * committed to, and are decrypted and summed.
   */
  finish(publicKey: Uint8Array, ckgShares: readonly PartyCkgShare[], received: readonly ThresholdShareMsg[]): CeremonyKeyShare {
    return drainSteps(this.finishSteps(publicKey, ckgShares, received));
  }

  /** finish in steps (one per CKG share and per threshold share), like commitShareSteps. */
  *finishSteps(publicKey: Uint8Array, ckgShares: readonly PartyCkgShare[], received: readonly ThresholdShareMsg[]): Generator<void, CeremonyKeyShare, void> {
    this.#expect('finish');
    this.#busy = true;
    try {
      return yield* this.#finish(publicKey, ckgShares, received);
    } finally {
      this.#busy = false;
    }
  }

  *#finish(publicKey: Uint8Array, ckgShares: readonly PartyCkgShare[], received: readonly ThresholdShareMsg[]): Generator<void, CeremonyKeyShare, void> {
    const ctx = this.#ctx;
    const shares = byParty(this.params, ckgShares, 'CKG share');
    shares.forEach((s, k) => checkCkgOpening(this.#ckgCommits[k]!, s.share));
    let sum: CKGShare | undefined;
    for (const s of shares) {
      let poly: CKGShare;
      try {
        poly = parseCkgShare(ctx, s.share);
      } catch (e) {
        throw new CeremonyError('bad-share', `CKG share of ${s.party}: ${(e as Error).message}`, s.party);
      }
      sum = sum ? ckgAggregateShares(ctx, sum, poly) : poly;
      yield* this.#resume('finish');
    }
    if (!(publicKey instanceof Uint8Array) || !equalBytes(ckgGenPublicKey(ctx, sum!, this.#crp!), publicKey)) {
      throw new CeremonyError('bad-public-key', 'the collective public key is not (Σ p_j, a) for the committed CKG shares and the CRS: refusing it');
    }
    const others = received.map((r) => ({ ...r, party: r.from }));
    const ordered = byParty({ ...this.params, parties: othersOf(this.params, this.self) }, others, 'threshold share');
    let total = this.#ownShamir!;
    for (const r of ordered) {
      if (r.to !== this.self) throw new CeremonyError('bad-message', `threshold share from ${r.from} is addressed to ${r.to}`, r.from);
      checkThresholdOpening(this.params, this.#ckgCommits[pointOf(this.params, r.from) - 1]!, this.self, r.ciphertext);
      const commit = this.#commits.find((c) => c.party === r.from)!;
      const info = shareInfo(this.params, r.from, this.self);
      const key = agree(this.#ephemeral!.secretKey, commit.ephemeralKey, info);
      let plaintext: Uint8Array;
      try {
        plaintext = aeadOpen(key, r.ciphertext, info);
      } catch {
        throw new CeremonyError('bad-share', `the threshold share from ${r.from} does not decrypt (tampered, or encrypted for someone else)`, r.from);
      } finally {
        clean(key);
      }
      let share: ShamirShare;
      try {
        share = parseShamirShare(ctx, plaintext);
      } catch (e) {
        throw new CeremonyError('bad-share', `threshold share from ${r.from}: ${(e as Error).message}`, r.from);
      } finally {
        clean(plaintext);
      }
      const next = aggregateShamirShares(ctx, total, share);
      share.fill(0n);
      total.fill(0n);
      total = next;
      try {
        yield* this.#resume('finish');
      } catch (e) {
        total.fill(0n);
        throw e;
      }
    }
    const shamirShare = serializeShamirShare(ctx, total);
    total.fill(0n);
    this.#ownShamir = undefined;
    clean(this.#ephemeral!.secretKey);
    this.#stage = 'done';
    return {
      ceremonyId: this.params.ceremonyId, paramsName: this.params.paramsName, rosterDigest: this.params.rosterDigest, threshold: this.params.threshold,
      parties: [...this.params.parties], point: pointOf(this.params, this.self), publicKey: publicKey.slice(), publicKeySha256: publicKeyDigest(publicKey), shamirShare,
      ckgSharesSha256: ckgSharesDigest(this.#ckgCommits.map((c) => c.commitment)),
    };
  }

  /** Erases what can be erased; the ceremony cannot continue. */
  abort(): void {
    clean(this.#nonce);
    if (this.#ephemeral) clean(this.#ephemeral.secretKey);
    this.#ownShamir?.fill(0n);
    this.#ownShamir = undefined;
    this.#stage = 'aborted';
  }
}
