/**
 * The multiparty CKKS key ceremony: collective public key generation (CKG) with a common
 * reference polynomial from committed nonces, then Lattigo's Thresholdizer (t-of-n Shamir
 * sharing of every party's secret), Mouchet et al., PETS 2021 §4–§5. Pure protocol logic, no I/O:
 * the services move the messages (services/aggregator/ckks/ceremony.ts, services/party/ckks-sessions.ts).
 * This file holds the shared definitions and the party's side; ceremony-server.ts the aggregator's.
 *
 * Rounds, all parties of the roster required in each (a missing party aborts the ceremony):
 *   1. CRSCommit: party i draws a CRS nonce and an ephemeral X25519 key pair and signs
 *      (commitment, ephemeral public key) with its Ed25519 roster identity.
 *   2. CRSReveal: on every party's signed commitment (each checked), party i reveals its nonce.
 *   3. CKGCommit: on every nonce (each must open its commitment), every party derives the same
 *      CRP a; party i samples s_i, computes p_i = −a·s_i + e_i and, for every other party j,
 *      f_i(x_j) (its Shamir polynomial with f_i(0) = s_i at j's point) AES-256-GCM-encrypted
 *      under HKDF(X25519(eph_i, eph_j)) — the aggregator routes but cannot read them — and sends
 *      only a signed commitment (domain "ckks/ckg-commit") to p_i and to each encrypted share.
 *   4. CKGShare: on every party's signed CKG commitment (each checked, its own unchanged), party
 *      i reveals p_i and the encrypted shares. No party chooses p_i after seeing another's.
 *   5. CKGConfirm: on the collective key and every p_j, party i checks that each p_j opens p_j's
 *      signed commitment (so the aggregator cannot substitute a share: the rogue-key attack
 *      K − Σ(rest) needs one), recomputes (Σ p_j, a), checks it equals the key it was sent, and
 *      keeps S_i = Σ_j f_j(x_i), its Shamir share of Σ s_j (s_i was erased in round 3). Its
 *      confirmation names the key's SHA-256 and the SHA-256 of the ordered share commitments.
 * Any t parties turn their S_i into additive shares of Σ s_j with Lagrange coefficients for the
 * set that actually decrypts (threshold.ts genAdditiveShare).
 */
import { sha256 } from '../sha256.ts';
import { aeadOpen, aeadSeal } from '../aead.ts';
import { clean, equalBytes, lengthPrefixed, toHex, u32be } from '../bytes.ts';
import { ckgAggregateShares, ckgGenPublicKey, ckgGenShare, genSecretKeyShare, parseCkgShare, serializeCkgShare, type CKGShare } from './ckg.ts';
import { CKG_COMMIT_DOMAIN, ckgCommitSignedBytes, ckgShareCommitment, ckgSharesDigest, thresholdShareDigest, type CeremonyParams, type SignedCkgCommit } from './ckg-commit.ts';
import { crsCommitment, crsSeed, sampleCrp, CRS_NONCE_BYTES } from './crs.ts';
import type { CkksContext } from './params.ts';
import type { RnsPoly } from './rns.ts';
import { aggregateShamirShares, drainSteps, genShamirPolynomial, genShamirSecretSharesSteps, parseShamirShare, serializeShamirShare, type ShamirShare } from './threshold.ts';
import { signDomain, verifyDomain } from '../identity.ts';
import { agree, generateX25519KeyPair, isValidX25519PublicKey, type X25519KeyPair } from '../keyagreement.ts';
import { randomBytes } from 'node:crypto';

export const CRS_COMMIT_DOMAIN = 'ckks/crs-commit';
const SHARE_INFO = 'blindsum/ckks/threshold-share/v1';
const CEREMONY_ID = /^[A-Za-z0-9-]{8,64}$/;

export type { CeremonyParams } from './ckg-commit.ts';

export type CeremonyErrorCode = 'wrong-stage' | 'bad-params' | 'bad-signature' | 'bad-message' | 'incomplete' | 'bad-nonce' | 'bad-share' | 'bad-public-key';

/** A protocol violation or an incomplete round; `party` names the culprit when known. No secrets in messages. */
export class CeremonyError extends Error {
  readonly code: CeremonyErrorCode;
  readonly party: string | undefined;
  constructor(code: CeremonyErrorCode, message: string, party?: string) {
    super(`ckks ceremony ${code}: ${message}`);
    this.name = 'CeremonyError';
    this.code = code;
    this.party = party;
  }
}

export interface SignedCommit {
  party: string;
  commitment: Uint8Array;
  ephemeralKey: Uint8Array;
  signature: Uint8Array;
}

export interface RevealedNonce {
  party: string;
  nonce: Uint8Array;
}

export interface ThresholdShareMsg {
  from: string;
  to: string;
  ciphertext: Uint8Array;
}

export interface PartyCkgShare {
  party: string;
  share: Uint8Array;
}

/** What a party keeps (0600 at rest): its Shamir share of the collective secret, and the public key. */
export interface CeremonyKeyShare {
  ceremonyId: string;
  paramsName: string;
  rosterDigest: string;
  threshold: number;
  parties: string[];
  /** This party's Shamir point (1-based roster index). */
  point: number;
  publicKey: Uint8Array;
  publicKeySha256: string;
  /** S_i = Σ_j f_j(x_i), SEAL Plaintext bytes at the key level (secret). */
  shamirShare: Uint8Array;
  /** Hex SHA-256 of every party's CKG share commitment in roster order ('' in key files older than the CKG commit round). */
  ckgSharesSha256: string;
}

export function validateCeremonyParams(ctx: CkksContext, p: CeremonyParams): void {
  const bad = (m: string): never => {
    throw new CeremonyError('bad-params', m);
  };
  if (!CEREMONY_ID.test(p.ceremonyId)) bad('malformed ceremony id');
  if (p.paramsName !== ctx.params.name) bad(`parameter set "${p.paramsName}", this node uses ${ctx.params.name}`);
  if (!/^[0-9a-f]{64}$/.test(p.rosterDigest)) bad('malformed roster digest');
  const sorted = [...p.parties].sort();
  if (p.parties.length < 2 || p.parties.some((x, i) => x !== sorted[i]) || new Set(p.parties).size !== p.parties.length) bad('parties must be sorted, unique, at least 2');
  if (!Number.isInteger(p.threshold) || p.threshold < 1 || p.threshold > p.parties.length) bad(`threshold ${p.threshold} out of 1..${p.parties.length}`);
  // Two disjoint sets of t decryptors must not exist (the roster's 2t > n + c, docs/threat-model.md).
  if (2 * p.threshold <= p.parties.length) bad(`threshold ${p.threshold} must exceed half of the ${p.parties.length} parties (2t > n)`);
}

/** The party's Shamir point: its 1-based position in the sorted party list. */
export function pointOf(p: CeremonyParams, party: string): number {
  const k = p.parties.indexOf(party);
  if (k < 0) throw new CeremonyError('bad-message', `${party} is not a ceremony party`, party);
  return k + 1;
}

/** The exact bytes a party signs for its CRS commitment (ceremony, roster and ephemeral key bound). */
export function crsCommitSignedBytes(p: CeremonyParams, party: string, commitment: Uint8Array, ephemeralKey: Uint8Array): Uint8Array {
  return lengthPrefixed('blindsum/ckks/crs-commit/v1', p.ceremonyId, p.paramsName, p.rosterDigest, u32be(p.threshold), lengthPrefixed(...p.parties), party, commitment, ephemeralKey);
}

/** The other parties, in roster order: the order of a party's threshold shares and their digests. */
export function othersOf(p: CeremonyParams, party: string): string[] {
  return p.parties.filter((id) => id !== party);
}

/** Checks one signed CKG commitment's shape and its signature by the party's roster key. */
export function checkCkgCommit(p: CeremonyParams, keys: ReadonlyMap<string, Uint8Array>, c: SignedCkgCommit): void {
  if (!(c.commitment instanceof Uint8Array) || c.commitment.length !== 32) throw new CeremonyError('bad-message', 'CKG commitment must be 32 bytes', c.party);
  if (!Array.isArray(c.thresholdShareDigests) || c.thresholdShareDigests.length !== p.parties.length - 1 || c.thresholdShareDigests.some((d) => !(d instanceof Uint8Array) || d.length !== 32)) {
    throw new CeremonyError('bad-message', `CKG commitment must name ${p.parties.length - 1} threshold share digests of 32 bytes`, c.party);
  }
  const pk = keys.get(c.party);
  if (!pk || !(c.signature instanceof Uint8Array) || !verifyDomain(pk, CKG_COMMIT_DOMAIN, ckgCommitSignedBytes(p, c.party, c.commitment, c.thresholdShareDigests), c.signature)) {
    throw new CeremonyError('bad-signature', `the CKG commitment of ${c.party} is not signed by its roster key`, c.party);
  }
}

/** The CKG share must open its party's signed commitment; names the party otherwise. */
export function checkCkgOpening(commit: SignedCkgCommit, share: Uint8Array): void {
  if (!(share instanceof Uint8Array) || !equalBytes(ckgShareCommitment(share), commit.commitment)) {
    throw new CeremonyError('bad-share', `the CKG share of ${commit.party} does not open its signed commitment (substituted, or changed after committing): refusing the key`, commit.party);
  }
}

/** The encrypted threshold share from `commit.party` to `to` must be the one committed to. */
export function checkThresholdOpening(p: CeremonyParams, commit: SignedCkgCommit, to: string, ciphertext: Uint8Array): void {
  const k = othersOf(p, commit.party).indexOf(to);
  if (k < 0 || !(ciphertext instanceof Uint8Array) || !equalBytes(thresholdShareDigest(ciphertext), commit.thresholdShareDigests[k]!)) {
    throw new CeremonyError('bad-share', `the threshold share from ${commit.party} to ${to} is not the one ${commit.party} committed to`, commit.party);
  }
}

function shareInfo(p: CeremonyParams, from: string, to: string): Uint8Array {
  return lengthPrefixed(SHARE_INFO, p.ceremonyId, p.rosterDigest, from, to);
}

export function checkCommit(p: CeremonyParams, keys: ReadonlyMap<string, Uint8Array>, c: SignedCommit): void {
  if (!(c.commitment instanceof Uint8Array) || c.commitment.length !== 32) throw new CeremonyError('bad-message', 'commitment must be 32 bytes', c.party);
  if (!isValidX25519PublicKey(c.ephemeralKey)) throw new CeremonyError('bad-message', 'ephemeral key is not a valid X25519 public key', c.party);
  const pk = keys.get(c.party);
  if (!pk || !verifyDomain(pk, CRS_COMMIT_DOMAIN, crsCommitSignedBytes(p, c.party, c.commitment, c.ephemeralKey), c.signature)) {
    throw new CeremonyError('bad-signature', `the CRS commitment of ${c.party} is not signed by its roster key`, c.party);
  }
}

/** One entry per party, in party order; names the first party missing or repeated. */
export function byParty<T extends { party: string }>(p: CeremonyParams, items: readonly T[], what: string): T[] {
  const m = new Map<string, T>();
  for (const x of items) {
    if (!p.parties.includes(x.party)) throw new CeremonyError('bad-message', `${what} from ${x.party}, not a ceremony party`, x.party);
    if (m.has(x.party)) throw new CeremonyError('bad-message', `two ${what}s from ${x.party}`, x.party);
    m.set(x.party, x);
  }
  return p.parties.map((id) => {
    const x = m.get(id);
    if (!x) throw new CeremonyError('incomplete', `no ${what} from ${id}`, id);
    return x;
  });
}

export function publicKeyDigest(publicKey: Uint8Array): string {
  return toHex(sha256(publicKey));
}

export function deriveCrp(ctx: CkksContext, p: CeremonyParams, commits: readonly SignedCommit[], nonces: readonly RevealedNonce[]): RnsPoly {
  for (const n of nonces) {
    if (!(n.nonce instanceof Uint8Array) || n.nonce.length !== CRS_NONCE_BYTES) throw new CeremonyError('bad-nonce', `nonce of ${n.party} must be ${CRS_NONCE_BYTES} bytes`, n.party);
  }
  let seed: Uint8Array;
  try {
    seed = crsSeed(nonces.map((n) => n.nonce), commits.map((c) => c.commitment));
  } catch (e) {
    const k = /nonces\[(\d+)\]/.exec((e as Error).message);
    const party = k ? p.parties[Number(k[1])] : undefined;
    throw new CeremonyError('bad-nonce', `the nonce of ${party ?? 'a party'} does not open its commitment`, party);
  }
  return sampleCrp(ctx, seed, `ckg/${p.ceremonyId}`);
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
