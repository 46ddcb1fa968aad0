/**
 * Pairwise-mask secure aggregation, server side (Bonawitz et al., CCS 2017, Fig. 4).
 *
 * The server routes messages, fixes the sets U1 ⊇ U2 ⊇ U3 ⊇ U4 ⊇ U5 at each close, and at the
 * end reconstructs b_u for u ∈ U3 and s_sk_v for v ∈ U2 \ U3 from t Shamir shares, removing the
 * self masks and the dropped parties' pairwise masks from the running sum of the y_u:
 *   Σ_{u∈U3} x_u = Σ y_u − Σ_{u∈U3} PRG(b_u) − Σ_{v dropped} Σ_{u∈U3} ±PRG(s_vu).
 * Masked inputs are summed on arrival, so memory stays at one vector.
 * A bad message throws SecAggError and is ignored (the session goes on); a close below the
 * threshold, or a reconstructed mask key that does not match its advertised public key, aborts.
 */
import { clean, equalBytes } from '../bytes.ts';
import { verifyDomain } from '../identity.ts';
import { agree, isValidX25519PublicKey, x25519PublicKey } from '../keyagreement.ts';
import { addMaskSteps } from '../prg.ts';
import { ringAddAt, ringZeros } from '../ring.ts';
import { shamirCombine } from '../shamir.ts';
import {
  ADVERTISE_KEYS_DOMAIN, CONSISTENCY_CHECK_DOMAIN, SHARE_CIPHERTEXT_LENGTH, SHARE_LENGTH, SecAggError, SecAggStage,
  advertiseKeysBody, checkStage, consistencyCheckBody, isBytes, makeSession, pairwiseMaskInfo, shareX, sortParties,
} from './common.ts';
import type {
  AdvertiseKeysMsg, ConsistencyCheckMsg, EncryptedShare, MaskedChunkMsg, MaskedInputMsg, PartyId, SecAggParams, Session,
  ShareKeysMsg, UnmaskRequest, UnmaskingMsg,
} from './common.ts';

export class SecAggServer {
  #session: Session;
  #stage: SecAggStage = SecAggStage.AdvertiseKeys;
  /** finishSteps is running: no Unmasking message is accepted and finish cannot start again. */
  #finishing = false;
  #advertised = new Map<PartyId, AdvertiseKeysMsg>();
  #shareMsgs = new Map<PartyId, EncryptedShare[]>();
  #masked = new Set<PartyId>();
  /** Words of y_u received so far from parties whose vector is not complete. */
  #partial = new Map<PartyId, number>();
  /** Incomplete parties being taken out of the sum: words received, words left to retract, ranges retracted. */
  #retracting = new Map<PartyId, { received: number; left: number; ranges: [number, number][] }>();
  #sum: Uint32Array;
  #checks = new Map<PartyId, ConsistencyCheckMsg>();
  #unmasking = new Map<PartyId, UnmaskingMsg>();
  #u1: PartyId[] = [];
  #u2: PartyId[] = [];
  #u3: PartyId[] = [];
  #dropped: PartyId[] = [];

  constructor(params: SecAggParams, rosterPublicKeys: ReadonlyMap<PartyId, Uint8Array>) {
    this.#session = makeSession(params, rosterPublicKeys);
    this.#sum = ringZeros(params.vectorLength, params.ringBits);
  }

  get stage(): SecAggStage {
    return this.#stage;
  }

  /** The sets fixed so far (U1 ⊇ U2 ⊇ U3, dropped = U2 \ U3, U4 = consistency signers). */
  get sets(): { u1: PartyId[]; u2: PartyId[]; u3: PartyId[]; dropped: PartyId[]; u4: PartyId[] } {
    return {
      u1: [...this.#u1], u2: [...this.#u2], u3: [...this.#u3], dropped: [...this.#dropped],
      u4: sortParties(this.#session, this.#checks.keys()),
    };
  }

  receiveAdvertiseKeys(msg: AdvertiseKeysMsg): void {
    checkStage(this.#stage, SecAggStage.AdvertiseKeys, 'receiveAdvertiseKeys');
    const s = this.#session;
    const party = this.#sender(msg, new Set(s.params.parties), this.#advertised, 'roster');
    if (!isValidX25519PublicKey(msg.cPk) || !isValidX25519PublicKey(msg.sPk) || equalBytes(msg.cPk, msg.sPk)) {
      throw new SecAggError('bad-message', `cPk/sPk of ${party} must be two different valid 32-byte X25519 public keys`, party);
    }
    if (!verifyDomain(s.roster.get(party)!, ADVERTISE_KEYS_DOMAIN, advertiseKeysBody(s, party, msg.cPk, msg.sPk), msg.signature)) {
      throw new SecAggError('bad-signature', `AdvertiseKeys signature of ${party} does not verify`, party);
    }
    this.#advertised.set(party, { party, cPk: msg.cPk.slice(), sPk: msg.sPk.slice(), signature: msg.signature.slice() });
  }

  /** Fixes U1 and returns its messages (send them to every member of U1). */
  closeAdvertiseKeys(): AdvertiseKeysMsg[] {
    checkStage(this.#stage, SecAggStage.AdvertiseKeys, 'closeAdvertiseKeys');
    this.#u1 = this.#close(this.#advertised.keys(), 'U1', SecAggStage.ShareKeys);
    return this.#u1.map((p) => this.#advertised.get(p)!);
  }

  receiveShareKeys(msg: ShareKeysMsg): void {
    checkStage(this.#stage, SecAggStage.ShareKeys, 'receiveShareKeys');
    const party = this.#sender(msg, new Set(this.#u1), this.#shareMsgs, 'U1');
    if (!Array.isArray(msg.shares) || msg.shares.length !== this.#u1.length - 1) {
      throw new SecAggError('bad-message', `ShareKeys of ${party} must carry exactly ${this.#u1.length - 1} shares, one per other member of U1`, party);
    }
    const recipients = new Set<PartyId>();
    const shares: EncryptedShare[] = [];
    for (const e of msg.shares) {
      if (typeof e !== 'object' || e === null || e.from !== party) {
        throw new SecAggError('bad-message', `ShareKeys of ${party}: every share must have from = ${party}`, party);
      }
      if (typeof e.to !== 'string' || e.to === party || !this.#u1.includes(e.to) || recipients.has(e.to)) {
        throw new SecAggError('bad-message', `ShareKeys of ${party}: recipient ${JSON.stringify(e.to)} is not a distinct other member of U1`, party);
      }
      if (!isBytes(e.ciphertext, SHARE_CIPHERTEXT_LENGTH)) {
        throw new SecAggError('bad-message', `ShareKeys of ${party}: ciphertext for ${e.to} must be ${SHARE_CIPHERTEXT_LENGTH} bytes`, party);
      }
      recipients.add(e.to);
      shares.push({ from: party, to: e.to, ciphertext: e.ciphertext.slice() });
    }
    this.#shareMsgs.set(party, shares);
  }

  /** Fixes U2 and returns, for each member of U2, the shares addressed to it by U2 \ {itself}. */
  closeShareKeys(): Map<PartyId, EncryptedShare[]> {
    checkStage(this.#stage, SecAggStage.ShareKeys, 'closeShareKeys');
    this.#u2 = this.#close(this.#shareMsgs.keys(), 'U2', SecAggStage.MaskedInputCollection);
    const out = new Map<PartyId, EncryptedShare[]>(this.#u2.map((v) => [v, []]));
    for (const u of this.#u2) for (const e of this.#shareMsgs.get(u)!) out.get(e.to)?.push(e);
    this.#shareMsgs.clear();
    return out;
  }

  /** Adds y_u to the running sum (the vector is not kept). */
  receiveMaskedInput(msg: MaskedInputMsg): void {
    const s = this.#session;
    if (typeof msg === 'object' && msg !== null && (msg.masked instanceof Uint32Array) && msg.masked.length !== s.words) {
      checkStage(this.#stage, SecAggStage.MaskedInputCollection, 'receiveMaskedInput');
      throw new SecAggError('bad-message', `masked input of ${String(msg.party)} must be a Uint32Array of ${s.words} words (vectorLength × ringBits/32)`, typeof msg.party === 'string' ? msg.party : undefined);
    }
    this.receiveMaskedChunk({ ...msg, offset: 0 });
  }

  /**
   * Adds a chunk of y_u to the running sum (chunks are not kept). A party's chunks must arrive in
   * order from element 0; it joins U3 when its last chunk arrives. Returns whether its vector is
   * now complete. A party whose vector is incomplete at the close must first be retracted.
   */
  receiveMaskedChunk(msg: MaskedChunkMsg): boolean {
    checkStage(this.#stage, SecAggStage.MaskedInputCollection, 'receiveMaskedChunk');
    const party = this.#sender(msg, new Set(this.#u2), this.#masked, 'U2');
    if (this.#retracting.has(party)) throw new SecAggError('bad-message', `masked chunk of ${party} after its input was taken out of the sum`, party);
    const s = this.#session;
    const per = s.params.ringBits / 32;
    const done = this.#partial.get(party) ?? 0;
    if (!(msg.masked instanceof Uint32Array) || msg.masked.length === 0 || msg.masked.length % per !== 0) {
      throw new SecAggError('bad-message', `masked chunk of ${party} must be a non-empty Uint32Array of whole ring elements`, party);
    }
    if (msg.offset !== done / per) {
      throw new SecAggError('bad-message', `masked chunk of ${party} starts at element ${msg.offset}; expected ${done / per} (chunks arrive in order)`, party);
    }
    if (done + msg.masked.length > s.words) {
      throw new SecAggError('bad-message', `masked chunk of ${party} ends past the vector's ${s.params.vectorLength} elements`, party);
    }
    ringAddAt(this.#sum, msg.masked, msg.offset, s.params.ringBits, 1);
    const now = done + msg.masked.length;
    if (now === s.words) {
      this.#partial.delete(party);
      this.#masked.add(party);
      return true;
    }
    this.#partial.set(party, now);
    return false;
  }

  /** Parties that sent part of their masked input, with how many elements (to retract before the close). */
  get incomplete(): Map<PartyId, number> {
    const per = this.#session.params.ringBits / 32;
    return new Map([...this.#partial, ...[...this.#retracting].map(([p, r]) => [p, r.received] as const)].map(([p, w]) => [p, w / per]));
  }

  /**
   * Removes a chunk of an incomplete party's y_u from the sum again (the caller kept or re-reads
   * the chunks it accepted). Retract every chunk of the party, in any order, each once; then it
   * counts as having sent nothing, and is dropped at the close. Once retraction has begun the party
   * can send no further chunk.
   */
  retractMaskedChunk(msg: MaskedChunkMsg): void {
    checkStage(this.#stage, SecAggStage.MaskedInputCollection, 'retractMaskedChunk');
    const s = this.#session;
    const party = msg.party;
    let r = this.#retracting.get(party);
    if (!r) {
      const received = this.#partial.get(party);
      if (received === undefined) throw new SecAggError('bad-message', `no incomplete masked input of ${String(party)} to retract`);
      r = { received, left: received, ranges: [] };
      this.#partial.delete(party);
      this.#retracting.set(party, r);
    }
    const per = s.params.ringBits / 32;
    const start = msg.offset * per;
    const end = start + (msg.masked instanceof Uint32Array ? msg.masked.length : 0);
    if (!(msg.masked instanceof Uint32Array) || msg.masked.length === 0 || msg.masked.length % per !== 0 || !Number.isSafeInteger(msg.offset) || msg.offset < 0 || end > r.received) {
      throw new SecAggError('bad-message', `retracted chunk of ${party} is not within the ${r.received / per} elements it sent`, party);
    }
    if (r.ranges.some(([a, b]) => start < b && a < end)) throw new SecAggError('bad-message', `retracted chunk of ${party} at element ${msg.offset} overlaps one already retracted`, party);
    ringAddAt(this.#sum, msg.masked, msg.offset, s.params.ringBits, -1);
    r.ranges.push([start, end]);
    r.left -= msg.masked.length;
    if (r.left === 0) this.#retracting.delete(party);
  }

  /** Fixes U3 (parties whose masked input arrived); send it to U3 for ConsistencyCheck. */
  closeMaskedInputCollection(): PartyId[] {
    checkStage(this.#stage, SecAggStage.MaskedInputCollection, 'closeMaskedInputCollection');
    if (this.#partial.size > 0 || this.#retracting.size > 0) {
      throw new SecAggError('bad-message', `the masked inputs of ${[...this.#partial.keys(), ...this.#retracting.keys()].join(', ')} are incomplete: retract their chunks before closing`);
    }
    this.#u3 = this.#close(this.#masked, 'U3', SecAggStage.ConsistencyCheck);
    this.#dropped = this.#u2.filter((v) => !this.#masked.has(v));
    return [...this.#u3];
  }

  receiveConsistencyCheck(msg: ConsistencyCheckMsg): void {
    checkStage(this.#stage, SecAggStage.ConsistencyCheck, 'receiveConsistencyCheck');
    const party = this.#sender(msg, new Set(this.#u3), this.#checks, 'U3');
    const s = this.#session;
    if (!verifyDomain(s.roster.get(party)!, CONSISTENCY_CHECK_DOMAIN, consistencyCheckBody(s, this.#u3), msg.signature)) {
      throw new SecAggError('bad-signature', `ConsistencyCheck signature of ${party} does not verify over U3`, party);
    }
    this.#checks.set(party, { party, signature: msg.signature.slice() });
  }

  /** Fixes U4 (≥ t signers) and returns the request to send to U4. */
  closeConsistencyCheck(): UnmaskRequest {
    checkStage(this.#stage, SecAggStage.ConsistencyCheck, 'closeConsistencyCheck');
    const u4 = this.#close(this.#checks.keys(), 'U4', SecAggStage.Unmasking);
    return {
      survivors: [...this.#u3],
      dropped: [...this.#dropped],
      signatures: u4.map((p) => ({ party: p, signature: this.#checks.get(p)!.signature.slice() })),
    };
  }

  receiveUnmasking(msg: UnmaskingMsg): void {
    checkStage(this.#stage, SecAggStage.Unmasking, 'receiveUnmasking');
    if (this.#finishing) throw new SecAggError('wrong-stage', 'receiveUnmasking after finish started');
    const party = this.#sender(msg, new Set(this.#checks.keys()), this.#unmasking, 'U4');
    const self = this.#shareList(msg.selfMaskShares, this.#u3, party, 'selfMaskShares');
    const keys = this.#shareList(msg.maskKeyShares, this.#dropped, party, 'maskKeyShares');
    this.#unmasking.set(party, { party, selfMaskShares: self, maskKeyShares: keys });
  }

  /** Σ_{u∈U3} x_u mod 2^ringBits, from ≥ t Unmasking messages. Wipes the reconstructed secrets. */
  finish(): Uint32Array {
    const steps = this.finishSteps();
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
    }
  }

  /**
   * finish in steps, one per 64 KiB of each mask removed (at n = 30 and 10^6 statistics, n self
   * masks and n pairwise masks per dropped party, ≈ 8 MB of AES-CTR each, ~0.1 s), so the
   * aggregator can give its event loop a turn between them (services/common/steps.ts).
   * The session must not be used by anything else until it returns; an error wipes and aborts.
   */
  *finishSteps(): Generator<void, Uint32Array, void> {
    checkStage(this.#stage, SecAggStage.Unmasking, 'finish');
    if (this.#finishing) throw new SecAggError('wrong-stage', 'finish is already running');
    this.#finishing = true;
    const s = this.#session;
    const u5 = this.#close(this.#unmasking.keys(), 'U5', SecAggStage.Unmasking);
    const ringBits = s.params.ringBits;
    const secrets: Uint8Array[] = [];
    try {
      for (const v of this.#dropped) {
        const sk = this.#reconstruct(u5, v, 'maskKeyShares');
        secrets.push(sk);
        if (!equalBytes(x25519PublicKey(sk), this.#advertised.get(v)!.sPk)) {
          throw new SecAggError('bad-share', `reconstructed mask key of ${v} does not match its advertised sPk; an Unmasking share is wrong`, v);
        }
        const iv = s.index.get(v)!;
        for (const u of this.#u3) {
          const svu = agree(sk, this.#advertised.get(u)!.sPk, pairwiseMaskInfo(s, u, v));
          secrets.push(svu);
          // y_u carries +PRG(s_uv) when v > u and −PRG(s_uv) when v < u: undo it.
          yield* addMaskSteps(this.#sum, svu, ringBits, iv > s.index.get(u)! ? -1 : 1);
        }
      }
      for (const u of this.#u3) {
        const b = this.#reconstruct(u5, u, 'selfMaskShares');
        secrets.push(b);
        yield* addMaskSteps(this.#sum, b, ringBits, -1);
      }
    } catch (err) {
      clean(...secrets);
      this.abort();
      throw err;
    }
    clean(...secrets);
    return this.#result();
  }

  #result(): Uint32Array {
    this.#wipe();
    this.#stage = SecAggStage.Done;
    const out = this.#sum;
    this.#sum = new Uint32Array(0);
    return out;
  }

  /** Ends the session and wipes every share held. */
  abort(): void {
    this.#wipe();
    this.#sum.fill(0);
    this.#stage = SecAggStage.Aborted;
  }

  #reconstruct(u5: PartyId[], of: PartyId, kind: 'selfMaskShares' | 'maskKeyShares'): Uint8Array {
    const s = this.#session;
    const shares = u5.map((p) => ({ x: shareX(s, p), share: this.#unmasking.get(p)![kind].find((e) => e.of === of)!.share }));
    return shamirCombine(shares, s.params.threshold);
  }

  #shareList(list: unknown, expected: PartyId[], party: PartyId, field: string): { of: PartyId; share: Uint8Array }[] {
    if (!Array.isArray(list) || list.length !== expected.length) {
      throw new SecAggError('bad-message', `Unmasking of ${party}: ${field} must hold exactly ${expected.length} shares`, party);
    }
    const seen = new Set<PartyId>();
    const out: { of: PartyId; share: Uint8Array }[] = [];
    for (const e of list as { of: PartyId; share: Uint8Array }[]) {
      if (typeof e !== 'object' || e === null || !expected.includes(e.of) || seen.has(e.of)) {
        throw new SecAggError('bad-message', `Unmasking of ${party}: ${field} must name each of [${expected.join(', ')}] once`, party);
      }
      if (!isBytes(e.share, SHARE_LENGTH)) {
        throw new SecAggError('bad-message', `Unmasking of ${party}: ${field} share of ${e.of} must be ${SHARE_LENGTH} bytes`, party);
      }
      seen.add(e.of);
      out.push({ of: e.of, share: e.share.slice() });
    }
    return out;
  }

  #sender(msg: unknown, allowed: ReadonlySet<PartyId>, seen: { has(p: PartyId): boolean }, setName: string): PartyId {
    if (typeof msg !== 'object' || msg === null) throw new SecAggError('bad-message', 'expected a message object');
    const party = (msg as { party?: unknown }).party;
    if (typeof party !== 'string' || !allowed.has(party)) {
      throw new SecAggError('bad-message', `sender ${JSON.stringify(party)} is not in ${setName}`);
    }
    if (seen.has(party)) throw new SecAggError('bad-message', `second message from ${party} in this stage`, party);
    return party;
  }

  #close(members: Iterable<PartyId>, setName: string, next: SecAggStage): PartyId[] {
    const set = sortParties(this.#session, members);
    const t = this.#session.params.threshold;
    if (set.length < t) {
      this.abort();
      throw new SecAggError('below-threshold', `${setName} has ${set.length} parties, threshold ${t}; the session is aborted`);
    }
    this.#stage = next;
    return set;
  }

  #wipe(): void {
    for (const m of this.#unmasking.values()) {
      for (const e of m.selfMaskShares) clean(e.share);
      for (const e of m.maskKeyShares) clean(e.share);
    }
    this.#unmasking.clear();
    this.#shareMsgs.clear();
  }
}
