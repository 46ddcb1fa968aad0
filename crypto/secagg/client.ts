/**
 * Pairwise-mask secure aggregation, client side (Bonawitz et al., CCS 2017, §4 / Fig. 4).
 *
 * Each party u holds two X25519 key pairs: c (share encryption) and s (pairwise masks).
 *   AdvertiseKeys          sign (c_pk, s_pk) with the Ed25519 identity key.
 *   ShareKeys              fresh self-mask seed b_u; Shamir t-of-|U1| shares of s_sk and b_u,
 *                          each pair encrypted to its recipient (X25519+HKDF → AES-256-GCM).
 *   MaskedInputCollection  y_u = x_u + PRG(b_u) + Σ_{v>u} PRG(s_uv) − Σ_{v<u} PRG(s_uv)
 *                          mod 2^ringBits over v ∈ U2 \ {u}, s_uv = agree(s_sk_u, s_pk_v, …).
 *   ConsistencyCheck       sign the survivor set U3.
 *   Unmasking              after ≥ t valid signatures over exactly U3: b-shares of U3 and
 *                          s_sk-shares of U2 \ U3, never both for one peer, at most once.
 * Any failure other than 'wrong-stage' aborts the client and wipes its secrets.
 * The server side is in server.ts; both are re-exported here.
 */
import { randomBytes } from '../native.ts';
import { abytes, clean, equalBytes } from '../bytes.ts';
import { signDomain, verifyDomain } from '../identity.ts';
import { agree as rawAgree, generateX25519KeyPair } from '../keyagreement.ts';
import type { X25519KeyPair } from '../keyagreement.ts';
import { AeadError, aeadOpen, aeadSeal } from '../aead.ts';
import { MaskStream } from '../prg.ts';
import { shamirSplit } from '../shamir.ts';
import {
  ADVERTISE_KEYS_DOMAIN, CONSISTENCY_CHECK_DOMAIN, KEY_LENGTH, SHARE_CIPHERTEXT_LENGTH, SHARE_LENGTH,
  SecAggError, SecAggStage, advertiseKeysBody, checkStage, consistencyCheckBody, isBytes, makeSession,
  pairwiseMaskInfo, partySet, sameSet, shareAad, shareEncryptionInfo, shareX, sortParties,
} from './common.ts';
import type {
  AdvertiseKeysMsg, ConsistencyCheckMsg, EncryptedShare, MaskedInputMsg, PartyId, SecAggParams, Session,
  ShareKeysMsg, UnmaskRequest, UnmaskingMsg,
} from './common.ts';

export * from './common.ts';
export { SecAggServer } from './server.ts';

interface HeldShares { sShare: Uint8Array; bShare: Uint8Array }

/** agree() with the peer named: a low-order peer key (RangeError in agree) is a bad message. */
function agree(secretKey: Uint8Array, peerPublicKey: Uint8Array, info: Uint8Array, peer: PartyId): Uint8Array {
  try {
    return rawAgree(secretKey, peerPublicKey, info);
  } catch (err) {
    if (err instanceof RangeError) throw new SecAggError('bad-message', `advertised key of ${peer} is a low-order X25519 point`, peer);
    throw err;
  }
}

export class SecAggClient {
  #session: Session;
  #self: PartyId;
  #identitySecretKey: Uint8Array;
  #stage: SecAggStage = SecAggStage.AdvertiseKeys;
  #c: X25519KeyPair | undefined;
  #s: X25519KeyPair | undefined;
  #b: Uint8Array | undefined;
  /** U1 with advertised keys. */
  #u1 = new Map<PartyId, { cPk: Uint8Array; sPk: Uint8Array }>();
  /** Shares held for each v ∈ U2 (own shares included). */
  #held = new Map<PartyId, HeldShares>();
  #u2: PartyId[] = [];
  #u3: PartyId[] = [];

  constructor(params: SecAggParams, self: PartyId, identitySecretKey: Uint8Array, rosterPublicKeys: ReadonlyMap<PartyId, Uint8Array>) {
    this.#session = makeSession(params, rosterPublicKeys);
    if (typeof self !== 'string' || !this.#session.index.has(self)) {
      throw new RangeError(`self: ${JSON.stringify(self)} is not in params.parties`);
    }
    abytes(identitySecretKey, 'identitySecretKey', 32);
    this.#self = self;
    this.#identitySecretKey = identitySecretKey;
  }

  get stage(): SecAggStage {
    return this.#stage;
  }

  get party(): PartyId {
    return this.#self;
  }

  /** Round 0: two fresh X25519 key pairs, signed with the identity key. */
  advertiseKeys(): AdvertiseKeysMsg {
    return this.#step(SecAggStage.AdvertiseKeys, 'advertiseKeys', SecAggStage.ShareKeys, () => {
      this.#c = generateX25519KeyPair();
      this.#s = generateX25519KeyPair();
      const body = advertiseKeysBody(this.#session, this.#self, this.#c.publicKey, this.#s.publicKey);
      const signature = signDomain(this.#identitySecretKey, ADVERTISE_KEYS_DOMAIN, body);
      return { party: this.#self, cPk: this.#c.publicKey.slice(), sPk: this.#s.publicKey.slice(), signature };
    });
  }

  /** Round 1: `advertised` is U1 as sent by the server, own message included. */
  shareKeys(advertised: AdvertiseKeysMsg[]): ShareKeysMsg {
    return this.#step(SecAggStage.ShareKeys, 'shareKeys', SecAggStage.MaskedInputCollection, () => {
      this.#acceptAdvertised(advertised);
      const s = this.#session;
      const u1 = sortParties(s, this.#u1.keys());
      const xs = u1.map((p) => shareX(s, p));
      this.#b = new Uint8Array(randomBytes(KEY_LENGTH));
      const sShares = shamirSplit(this.#s!.secretKey, s.params.threshold, xs);
      const bShares = shamirSplit(this.#b, s.params.threshold, xs);
      const shares: EncryptedShare[] = [];
      for (const v of u1) {
        const x = shareX(s, v);
        const held = { sShare: sShares.get(x)!, bShare: bShares.get(x)! };
        if (v === this.#self) {
          this.#held.set(v, held);
          continue;
        }
        const key = agree(this.#c!.secretKey, this.#u1.get(v)!.cPk, shareEncryptionInfo(s, this.#self, v), v);
        const plaintext = new Uint8Array(2 * SHARE_LENGTH);
        plaintext.set(held.sShare, 0);
        plaintext.set(held.bShare, SHARE_LENGTH);
        shares.push({ from: this.#self, to: v, ciphertext: aeadSeal(key, plaintext, shareAad(s, this.#self, v)) });
        clean(key, plaintext, held.sShare, held.bShare);
      }
      return { party: this.#self, shares };
    });
  }

  /**
   * Round 2: `received` are the shares addressed to self from U2 \ {self}; they define U2.
   * Returns y_u; secrets c_sk, s_sk and b_u are wiped afterwards (only held shares remain).
   */
  maskedInput(received: EncryptedShare[], input: Uint32Array): MaskedInputMsg {
    const s = this.#session;
    const bad = !(input instanceof Uint32Array)
      ? new TypeError('input: expected Uint32Array (ring vector, see ring.ts)')
      : input.length !== s.words ? new RangeError(`input: expected ${s.words} u32 words (vectorLength ${s.params.vectorLength} × ${s.params.ringBits / 32}), got ${input.length}`) : undefined;
    if (bad) {
      checkStage(this.#stage, SecAggStage.MaskedInputCollection, 'maskedInput');
      this.abort();
      throw bad;
    }
    const stream = this.maskedInputStream(received);
    const masked = input.slice();
    stream.apply(masked);
    return { party: this.#self, masked };
  }

  /**
   * Round 2, streamed: checks `received` as maskedInput does and fixes U2, then returns the stream
   * of this party's masks (PRG(b_u) + Σ_v ±PRG(s_uv)): applying it to consecutive chunks of the
   * input gives y_u chunk by chunk, so a long vector is masked and sent in slices. The secrets
   * c_sk, s_sk and b_u are wiped before it returns (the stream's ciphers hold the seeds).
   */
  maskedInputStream(received: EncryptedShare[]): MaskStream {
    return this.#step(SecAggStage.MaskedInputCollection, 'maskedInput', SecAggStage.ConsistencyCheck, () => {
      const s = this.#session;
      if (!Array.isArray(received)) throw new SecAggError('bad-message', 'received: expected an array of EncryptedShare');
      const senders = new Set<PartyId>();
      for (const e of received) {
        if (typeof e !== 'object' || e === null) throw new SecAggError('bad-message', 'received: expected EncryptedShare objects');
        if (e.to !== this.#self) throw new SecAggError('bad-message', `received: share addressed to ${JSON.stringify(e.to)}, not to ${this.#self}`);
        if (typeof e.from !== 'string' || e.from === this.#self || !this.#u1.has(e.from)) {
          throw new SecAggError('bad-message', `received: sender ${JSON.stringify(e.from)} is not in U1 \\ {self}`);
        }
        if (senders.has(e.from)) throw new SecAggError('bad-message', `received: two shares from ${e.from}`, e.from);
        if (!isBytes(e.ciphertext, SHARE_CIPHERTEXT_LENGTH)) {
          throw new SecAggError('bad-message', `received: ciphertext from ${e.from} must be ${SHARE_CIPHERTEXT_LENGTH} bytes`, e.from);
        }
        senders.add(e.from);
      }
      if (senders.size + 1 < s.params.threshold) {
        throw new SecAggError('below-threshold', `U2 has ${senders.size + 1} parties, threshold ${s.params.threshold}`);
      }
      for (const e of received) {
        const key = agree(this.#c!.secretKey, this.#u1.get(e.from)!.cPk, shareEncryptionInfo(s, e.from, this.#self), e.from);
        let plaintext: Uint8Array;
        try {
          plaintext = aeadOpen(key, e.ciphertext, shareAad(s, e.from, this.#self));
        } catch (err) {
          if (err instanceof AeadError) throw new SecAggError('bad-ciphertext', `share from ${e.from} failed authentication`, e.from);
          throw err;
        } finally {
          clean(key);
        }
        this.#held.set(e.from, { sShare: plaintext.slice(0, SHARE_LENGTH), bShare: plaintext.slice(SHARE_LENGTH) });
        clean(plaintext);
      }
      this.#u2 = sortParties(s, [...senders, this.#self]);
      const masks: { seed: Uint8Array; sign: 1 | -1 }[] = [{ seed: this.#b!, sign: 1 }];
      const me = s.index.get(this.#self)!;
      for (const v of this.#u2) {
        if (v === this.#self) continue;
        const suv = agree(this.#s!.secretKey, this.#u1.get(v)!.sPk, pairwiseMaskInfo(s, this.#self, v), v);
        masks.push({ seed: suv, sign: s.index.get(v)! > me ? 1 : -1 });
      }
      try {
        return new MaskStream(masks, s.params.ringBits, s.words);
      } finally {
        for (const m of masks.slice(1)) clean(m.seed);
        this.#wipeKeys();
      }
    });
  }

  /** Round 3: sign the survivor set U3 (⊆ U2, contains self, ≥ t members). */
  consistencyCheck(survivors: PartyId[]): ConsistencyCheckMsg {
    return this.#step(SecAggStage.ConsistencyCheck, 'consistencyCheck', SecAggStage.Unmasking, () => {
      const s = this.#session;
      const u3 = partySet(s, survivors, 'survivors', new Set(this.#u2));
      if (!u3.includes(this.#self)) throw new SecAggError('bad-message', `survivors: must contain self (${this.#self})`);
      if (u3.length < s.params.threshold) {
        throw new SecAggError('below-threshold', `U3 has ${u3.length} parties, threshold ${s.params.threshold}`);
      }
      this.#u3 = u3;
      const signature = signDomain(this.#identitySecretKey, CONSISTENCY_CHECK_DOMAIN, consistencyCheckBody(s, u3));
      return { party: this.#self, signature };
    });
  }

  /**
   * Round 4: reveal b-shares of U3 and s_sk-shares of U2 \ U3, after checking ≥ t valid
   * signatures over exactly the U3 this client signed. Answers at most once; then wipes all.
   */
  unmask(request: UnmaskRequest): UnmaskingMsg {
    return this.#step(SecAggStage.Unmasking, 'unmask', SecAggStage.Done, () => {
      const s = this.#session;
      if (typeof request !== 'object' || request === null) throw new SecAggError('bad-message', 'request: expected UnmaskRequest');
      const all = new Set(s.params.parties);
      const survivors = partySet(s, request.survivors, 'request.survivors', all);
      const dropped = partySet(s, request.dropped, 'request.dropped', all);
      const expectedDropped = this.#u2.filter((v) => !this.#u3.includes(v));
      if (dropped.some((v) => survivors.includes(v))) {
        throw new SecAggError('both-shares-requested', 'request.dropped and request.survivors overlap; refusing to reveal both shares of one party');
      }
      if (!sameSet(survivors, this.#u3) || !sameSet(dropped, expectedDropped)) {
        throw new SecAggError('both-shares-requested', 'request survivors/dropped differ from the U3 this party signed and U2 \\ U3; refusing');
      }
      this.#checkSignatures(request.signatures);
      const selfMaskShares = this.#u3.map((v) => ({ of: v, share: this.#held.get(v)!.bShare.slice() }));
      const maskKeyShares = expectedDropped.map((v) => ({ of: v, share: this.#held.get(v)!.sShare.slice() }));
      this.#wipeAll();
      return { party: this.#self, selfMaskShares, maskKeyShares };
    });
  }

  /** Ends the session for this client and wipes every secret it holds. */
  abort(): void {
    this.#wipeAll();
    this.#stage = SecAggStage.Aborted;
  }

  #checkSignatures(signatures: unknown): void {
    const s = this.#session;
    if (!Array.isArray(signatures)) throw new SecAggError('bad-message', 'request.signatures: expected an array');
    const body = consistencyCheckBody(s, this.#u3);
    const signers = new Set<PartyId>();
    for (const m of signatures as ConsistencyCheckMsg[]) {
      if (typeof m !== 'object' || m === null || typeof m.party !== 'string' || !this.#u3.includes(m.party)) {
        throw new SecAggError('bad-signature', `request.signatures: signer ${JSON.stringify(m?.party)} is not in U3`);
      }
      if (signers.has(m.party)) throw new SecAggError('bad-message', `request.signatures: two signatures from ${m.party}`, m.party);
      if (!verifyDomain(s.roster.get(m.party)!, CONSISTENCY_CHECK_DOMAIN, body, m.signature)) {
        throw new SecAggError('bad-signature', `request.signatures: signature of ${m.party} does not verify over this session's U3`, m.party);
      }
      signers.add(m.party);
    }
    if (signers.size < s.params.threshold) {
      throw new SecAggError('below-threshold', `request.signatures: ${signers.size} valid signatures, threshold ${s.params.threshold}`);
    }
  }

  #acceptAdvertised(advertised: AdvertiseKeysMsg[]): void {
    const s = this.#session;
    if (!Array.isArray(advertised)) throw new SecAggError('bad-message', 'advertised: expected an array of AdvertiseKeysMsg');
    const keys: Uint8Array[] = [];
    for (const m of advertised) {
      if (typeof m !== 'object' || m === null || typeof m.party !== 'string' || !s.index.has(m.party)) {
        throw new SecAggError('bad-message', `advertised: party ${JSON.stringify(m?.party)} is not in the roster`);
      }
      if (this.#u1.has(m.party)) throw new SecAggError('bad-message', `advertised: two messages from ${m.party}`, m.party);
      if (!isBytes(m.cPk, KEY_LENGTH) || !isBytes(m.sPk, KEY_LENGTH)) {
        throw new SecAggError('bad-message', `advertised: keys of ${m.party} must be 32-byte X25519 public keys`, m.party);
      }
      if (!verifyDomain(s.roster.get(m.party)!, ADVERTISE_KEYS_DOMAIN, advertiseKeysBody(s, m.party, m.cPk, m.sPk), m.signature)) {
        throw new SecAggError('bad-signature', `advertised: signature of ${m.party} does not verify`, m.party);
      }
      if (m.party === this.#self && (!equalBytes(m.cPk, this.#c!.publicKey) || !equalBytes(m.sPk, this.#s!.publicKey))) {
        throw new SecAggError('bad-message', 'advertised: own keys differ from the ones this client advertised');
      }
      keys.push(m.cPk, m.sPk);
      this.#u1.set(m.party, { cPk: m.cPk.slice(), sPk: m.sPk.slice() });
    }
    if (!this.#u1.has(this.#self)) throw new SecAggError('bad-message', 'advertised: own AdvertiseKeys message missing from U1');
    // Bonawitz: all advertised public keys must differ.
    for (let i = 0; i < keys.length; i++) {
      for (let j = i + 1; j < keys.length; j++) {
        if (equalBytes(keys[i]!, keys[j]!)) throw new SecAggError('bad-message', 'advertised: two advertised public keys are equal');
      }
    }
    if (this.#u1.size < s.params.threshold) {
      throw new SecAggError('below-threshold', `U1 has ${this.#u1.size} parties, threshold ${s.params.threshold}`);
    }
  }

  #step<T>(expected: SecAggStage, action: string, next: SecAggStage, body: () => T): T {
    checkStage(this.#stage, expected, action);
    try {
      const out = body();
      this.#stage = next;
      return out;
    } catch (err) {
      this.abort();
      throw err;
    }
  }

  #wipeKeys(): void {
    if (this.#c) clean(this.#c.secretKey);
    if (this.#s) clean(this.#s.secretKey);
    if (this.#b) clean(this.#b);
    this.#c = this.#s = this.#b = undefined;
  }

  #wipeAll(): void {
    this.#wipeKeys();
    for (const h of this.#held.values()) clean(h.sShare, h.bShare);
    this.#held.clear();
  }
}
