/**
 * The multiparty CKKS key ceremony: collective public key generation (CKG) with a common
 * reference polynomial from committed nonces, then Lattigo's Thresholdizer (t-of-n Shamir
 * sharing of every party's secret), Mouchet et al., PETS 2021 §4–§5. Pure protocol logic, no I/O:
 * the services move the messages (services/aggregator/ckks-ceremony.ts, services/party/ckks-sessions.ts).
 *
 * Rounds, all parties of the roster required in each (a missing party aborts the ceremony):
 *   1. CRSCommit: party i draws a CRS nonce and an ephemeral X25519 key pair and signs
 *      (commitment, ephemeral public key) with its Ed25519 roster identity.
 *   2. CRSReveal: on every party's signed commitment (each checked), party i reveals its nonce.
 *   3. CKGShare: on every nonce (each must open its commitment), every party derives the same
 *      CRP a; party i samples s_i, sends p_i = −a·s_i + e_i and, for every other party j,
 *      f_i(x_j) (its Shamir polynomial with f_i(0) = s_i at j's point) AES-256-GCM-encrypted
 *      under HKDF(X25519(eph_i, eph_j)) — the aggregator routes but cannot read them.
 *   4. CKGConfirm: on the collective key and every p_j, party i recomputes (Σ p_j, a), checks it
 *      equals the key it was sent (so the aggregator cannot substitute a key it can decrypt), and
 *      keeps S_i = Σ_j f_j(x_i), its Shamir share of Σ s_j; s_i itself is erased.
 * Any t parties turn their S_i into additive shares of Σ s_j with Lagrange coefficients for the
 * set that actually decrypts (threshold.ts genAdditiveShare).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { AEAD_OVERHEAD, aeadOpen, aeadSeal } from './aead.ts';
import { clean, equalBytes, lengthPrefixed, toHex, u32be } from './bytes.ts';
import { ckgAggregateShares, ckgGenPublicKey, ckgGenShare, genSecretKeyShare, parseCkgShare, serializeCkgShare, type CKGShare } from './ckks/ckg.ts';
import { crsCommitment, crsSeed, sampleCrp, CRS_NONCE_BYTES } from './ckks/crs.ts';
import type { CkksContext } from './ckks/params.ts';
import type { RnsPoly } from './ckks/rns.ts';
import { aggregateShamirShares, genShamirPolynomial, genShamirSecretShare, parseShamirShare, serializeShamirShare, type ShamirShare } from './ckks/threshold.ts';
import { signDomain, verifyDomain } from './identity.ts';
import { agree, generateX25519KeyPair, isValidX25519PublicKey, type X25519KeyPair } from './keyagreement.ts';
import { randomBytes } from 'node:crypto';

export const CRS_COMMIT_DOMAIN = 'ckks/crs-commit';
const SHARE_INFO = 'blindsum/ckks/threshold-share/v1';
const CEREMONY_ID = /^[A-Za-z0-9-]{8,64}$/;

export interface CeremonyParams {
  ceremonyId: string;
  /** Parameter set name; must be the context's. */
  paramsName: string;
  /** Hex SHA-256 of the roster the key is for. */
  rosterDigest: string;
  threshold: number;
  /** Every roster party, sorted; party k (0-based) has Shamir point k + 1. */
  parties: readonly string[];
}

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

function shareInfo(p: CeremonyParams, from: string, to: string): Uint8Array {
  return lengthPrefixed(SHARE_INFO, p.ceremonyId, p.rosterDigest, from, to);
}

function checkCommit(p: CeremonyParams, keys: ReadonlyMap<string, Uint8Array>, c: SignedCommit): void {
  if (!(c.commitment instanceof Uint8Array) || c.commitment.length !== 32) throw new CeremonyError('bad-message', 'commitment must be 32 bytes', c.party);
  if (!isValidX25519PublicKey(c.ephemeralKey)) throw new CeremonyError('bad-message', 'ephemeral key is not a valid X25519 public key', c.party);
  const pk = keys.get(c.party);
  if (!pk || !verifyDomain(pk, CRS_COMMIT_DOMAIN, crsCommitSignedBytes(p, c.party, c.commitment, c.ephemeralKey), c.signature)) {
    throw new CeremonyError('bad-signature', `the CRS commitment of ${c.party} is not signed by its roster key`, c.party);
  }
}

/** One entry per party, in party order; names the first party missing or repeated. */
function byParty<T extends { party: string }>(p: CeremonyParams, items: readonly T[], what: string): T[] {
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

function publicKeyDigest(publicKey: Uint8Array): string {
  return toHex(sha256(publicKey));
}

function deriveCrp(ctx: CkksContext, p: CeremonyParams, commits: readonly SignedCommit[], nonces: readonly RevealedNonce[]): RnsPoly {
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
  #stage: 'commit' | 'reveal' | 'share' | 'finish' | 'done' | 'aborted' = 'commit';
  #nonce: Uint8Array = new Uint8Array(0);
  #commitment: Uint8Array = new Uint8Array(0);
  #ephemeral: X25519KeyPair | undefined;
  #commits: SignedCommit[] = [];
  #crp: RnsPoly | undefined;
  #ckgShare: Uint8Array = new Uint8Array(0);
  #ownShamir: ShamirShare | undefined;

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

  #expect(stage: 'commit' | 'reveal' | 'share' | 'finish'): void {
    if (this.#stage !== stage) throw new CeremonyError('wrong-stage', `expected ${stage}, the ceremony is at ${this.#stage}`);
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
    this.#stage = 'share';
    return this.#nonce.slice();
  }

  /** Round 3: the CRP from every nonce, the CKG share, and encrypted Shamir shares for the others. */
  share(nonces: readonly RevealedNonce[]): { ckgShare: Uint8Array; thresholdShares: ThresholdShareMsg[] } {
    this.#expect('share');
    const ctx = this.#ctx;
    const ordered = byParty(this.params, nonces, 'nonce');
    const crp = deriveCrp(ctx, this.params, this.#commits, ordered);
    const secret = genSecretKeyShare(ctx);
    const ckg: CKGShare = ckgGenShare(ctx, secret, crp);
    const poly = genShamirPolynomial(ctx, this.params.threshold, secret);
    secret.fill(0n);
    const thresholdShares: ThresholdShareMsg[] = [];
    try {
      for (const c of this.#commits) {
        const share = genShamirSecretShare(ctx, poly, pointOf(this.params, c.party));
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
      }
    } finally {
      for (const coefficient of poly) coefficient.fill(0n);
    }
    this.#crp = crp;
    this.#ckgShare = serializeCkgShare(ctx, ckg);
    clean(this.#nonce);
    this.#stage = 'finish';
    return { ckgShare: this.#ckgShare, thresholdShares };
  }

  /**
   * Round 4: the collective key must be (Σ p_j, a) for every party's CKG share (this party's
   * unchanged); the Shamir shares received from every other party are decrypted and summed.
   */
  finish(publicKey: Uint8Array, ckgShares: readonly PartyCkgShare[], received: readonly ThresholdShareMsg[]): CeremonyKeyShare {
    this.#expect('finish');
    const ctx = this.#ctx;
    const shares = byParty(this.params, ckgShares, 'CKG share');
    if (!equalBytes(shares.find((s) => s.party === this.self)!.share, this.#ckgShare)) {
      throw new CeremonyError('bad-public-key', 'the CKG share forwarded for this party is not the one it sent');
    }
    let sum: CKGShare | undefined;
    for (const s of shares) {
      let poly: CKGShare;
      try {
        poly = parseCkgShare(ctx, s.share);
      } catch (e) {
        throw new CeremonyError('bad-share', `CKG share of ${s.party}: ${(e as Error).message}`, s.party);
      }
      sum = sum ? ckgAggregateShares(ctx, sum, poly) : poly;
    }
    if (!equalBytes(ckgGenPublicKey(ctx, sum!, this.#crp!), publicKey)) {
      throw new CeremonyError('bad-public-key', 'the collective public key is not (Σ p_j, a) for the CKG shares and the CRS: refusing it');
    }
    const others = received.map((r) => ({ ...r, party: r.from }));
    const ordered = byParty({ ...this.params, parties: this.params.parties.filter((id) => id !== this.self) }, others, 'threshold share');
    let total = this.#ownShamir!;
    for (const r of ordered) {
      if (r.to !== this.self) throw new CeremonyError('bad-message', `threshold share from ${r.from} is addressed to ${r.to}`, r.from);
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
    }
    const shamirShare = serializeShamirShare(ctx, total);
    total.fill(0n);
    this.#ownShamir = undefined;
    clean(this.#ephemeral!.secretKey);
    this.#stage = 'done';
    return {
      ceremonyId: this.params.ceremonyId, paramsName: this.params.paramsName, rosterDigest: this.params.rosterDigest, threshold: this.params.threshold,
      parties: [...this.params.parties], point: pointOf(this.params, this.self), publicKey: publicKey.slice(), publicKeySha256: publicKeyDigest(publicKey), shamirShare,
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

/**
 * The aggregator's side: checks and collects each round (every party required), derives the same
 * CRP, aggregates the CKG shares into the collective key and routes the encrypted threshold
 * shares. It never holds a secret: the shares it routes are encrypted to their recipients.
 */
export class CeremonyServer {
  readonly params: CeremonyParams;
  readonly #ctx: CkksContext;
  readonly #keys: ReadonlyMap<string, Uint8Array>;
  readonly #commits = new Map<string, SignedCommit>();
  readonly #nonces = new Map<string, RevealedNonce>();
  readonly #ckg = new Map<string, { bytes: Uint8Array; poly: CKGShare; shares: ThresholdShareMsg[] }>();
  readonly #confirmed = new Set<string>();
  #ordered: SignedCommit[] = [];
  #crp: RnsPoly | undefined;
  #publicKeySha256 = '';
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

  receiveShare(party: string, ckgShare: Uint8Array, thresholdShares: readonly ThresholdShareMsg[]): void {
    this.#member(party);
    if (!this.#crp || this.#ckg.has(party) || this.#publicKeySha256) throw new CeremonyError('wrong-stage', `CKG share of ${party} out of order`, party);
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
      to.add(s.to);
    }
    if (to.size !== this.params.parties.length - 1) throw new CeremonyError('incomplete', `threshold shares for ${to.size} of ${this.params.parties.length - 1} other parties`, party);
    this.#ckg.set(party, { bytes: ckgShare, poly, shares: thresholdShares.map((s) => ({ ...s })) });
  }

  /** The collective key (SEAL PublicKey bytes), every CKG share, and the threshold shares per recipient. */
  closeShares(): { publicKey: Uint8Array; publicKeySha256: string; ckgShares: PartyCkgShare[]; routed: Map<string, ThresholdShareMsg[]> } {
    const ordered = this.params.parties.map((id) => {
      const x = this.#ckg.get(id);
      if (!x) throw new CeremonyError('incomplete', `no CKG share from ${id}`, id);
      return x;
    });
    const sum = ordered.slice(1).reduce((a, b) => ckgAggregateShares(this.#ctx, a, b.poly), ordered[0]!.poly);
    const publicKey = ckgGenPublicKey(this.#ctx, sum, this.#crp!);
    this.#publicKeySha256 = publicKeyDigest(publicKey);
    const routed = new Map<string, ThresholdShareMsg[]>(this.params.parties.map((id) => [id, []]));
    for (const x of ordered) for (const s of x.shares) routed.get(s.to)!.push(s);
    return { publicKey, publicKeySha256: this.#publicKeySha256, ckgShares: this.params.parties.map((id, k) => ({ party: id, share: ordered[k]!.bytes })), routed };
  }

  receiveConfirm(party: string, publicKeySha256: string): void {
    this.#member(party);
    if (!this.#publicKeySha256 || this.#confirmed.has(party)) throw new CeremonyError('wrong-stage', `confirmation of ${party} out of order`, party);
    if (publicKeySha256 !== this.#publicKeySha256) throw new CeremonyError('bad-public-key', `${party} confirms another key`, party);
    this.#confirmed.add(party);
  }

  /** Every party confirmed the same key. */
  closeConfirms(): void {
    for (const id of this.params.parties) if (!this.#confirmed.has(id)) throw new CeremonyError('incomplete', `${id} did not confirm the collective key`, id);
  }
}
