/**
 * The aggregator's side of one secure-aggregation session (Bonawitz et al., CCS 2017), driven
 * over the party streams: StartSession → AdvertiseKeys → ShareKeys → MaskedInputCollection →
 * ConsistencyCheck → Unmasking. Protocol logic and every validity check live in
 * crypto/secagg/server.ts; this file only moves messages and enforces deadlines.
 * Every accepted party envelope and every message the aggregator sends that fixes a set
 * (StartSession, AdvertisedKeys, SurvivorList, UnmaskRequest) is appended to the transcript
 * before it takes effect; the party gets a signed receipt for each of its envelopes.
 */
import { SecAggServer, type SecAggParams } from '../../../crypto/secagg/client.ts';
import { maskedChunk } from '../../../crypto/secagg/common.ts';
import { EntryKind, type Envelope } from '../../../crypto/transcript.ts';
import { AdvertisedKeys, PartyMessage, StartSession, SurvivorList, UnmaskRequest, type QuerySpec } from '../../../gen/blindsum/v1/blindsum.ts';
import { BlindsumError, ErrorCode, type Logger } from '../../common/errors.ts';
import type { Roster } from '../../common/roster.ts';
import type { PartyGateway, PartyMessageBody } from '../gateway.ts';
import { RoundCollector, type RoundHandler } from '../rounds.ts';
import { logPartyEnvelope } from '../receipts.ts';
import type { TranscriptLog } from '../transcript-log.ts';
import type { SessionAuthorization } from '../../common/query-request.ts';
import type { RoundDeadlines, SecAggStage } from '../deadlines.ts';
import { runSteps } from '../../common/steps.ts';
import { setImmediate as nextTurn } from 'node:timers/promises';

export interface SessionRequest {
  sessionId: string;
  query: QuerySpec;
  backend: string;
  /** zCDP ρ of the query (0 = exact); parties plan their own noise share from it. */
  rho: number;
  analyst: string;
  ringBits: 32 | 64;
  vectorLength: number;
  planDigest: string;
  /** The analyst's signed request and the signed analyst roster, forwarded to every party. */
  auth: SessionAuthorization;
  /** The aggregator's time to plan the query, ms (sizes the AdvertiseKeys deadline: each party plans it too). */
  planMs?: number;
}

export interface SessionOutcome {
  sum: Uint32Array;
  contributors: string[];
  refusals: { partyId: string; reason: string }[];
}

export interface SessionContext {
  gateway: PartyGateway;
  roster: Roster;
  roundTimeoutMs: number;
  /** Deadlines sized from each round's work (services/aggregator/deadlines.ts); roundTimeoutMs alone when absent. */
  deadlines?: RoundDeadlines;
  transcript: TranscriptLog;
  log: Logger;
  progress: (stage: string, message: string) => void;
}

export class SecAggSession {
  readonly #ctx: SessionContext;
  readonly #req: SessionRequest;
  #round: RoundCollector | undefined;
  readonly #refusals = new Map<string, string>();
  readonly #members = new Set<string>();
  /** The envelope of the message being delivered (set only during a synchronous deliver). */
  #envelope: Envelope | undefined;
  /** A failed transcript write: nothing unlogged may count, so the session fails after the round. */
  #transcriptFailure: Error | undefined;

  constructor(ctx: SessionContext, req: SessionRequest) {
    this.#ctx = ctx;
    this.#req = req;
  }

  #unmaskingStarted = false;

  /** True once the Unmasking round has begun (after that, the sum may have been revealed). */
  get unmaskingStarted(): boolean {
    return this.#unmaskingStarted;
  }

  get sessionId(): string {
    return this.#req.sessionId;
  }

  deliver(partyId: string, body: PartyMessageBody, envelope: Envelope): void {
    this.#envelope = envelope;
    let delivered: boolean;
    try {
      delivered = this.#round?.deliver(partyId, body) ?? false;
    } finally {
      this.#envelope = undefined;
    }
    if (!delivered) {
      this.#ctx.log('warn', 'unexpected message ignored', { queryId: this.#req.sessionId, party: partyId, type: body.$case });
    }
  }

  disconnected(partyId: string): void {
    this.#round?.disconnected(partyId);
  }

  async run(): Promise<SessionOutcome> {
    const { gateway, roster, log } = this.#ctx;
    const req = this.#req;
    const online = gateway.connectedIds().filter((id) => roster.publicKeys.has(id));
    if (online.length < roster.threshold) {
      throw new BlindsumError(ErrorCode.FailedPrecondition, `only ${online.length} of ${roster.parties.length} parties are connected (${online.join(', ') || 'none'}); the threshold is ${roster.threshold}`);
    }
    const params: SecAggParams = { sessionId: req.sessionId, parties: online, threshold: roster.threshold, ringBits: req.ringBits, vectorLength: req.vectorLength };
    const server = new SecAggServer(params, roster.publicKeys);
    for (const id of online) this.#members.add(id);
    try {
      // AdvertiseKeys
      const start = StartSession.fromPartial({ sessionId: req.sessionId, query: req.query, backend: req.backend, threshold: roster.threshold, collusion: roster.collusion, ringBits: req.ringBits, parties: online, planDigest: req.planDigest, analyst: req.analyst, rho: req.rho, ...req.auth });
      this.#logAggregator(EntryKind.StartSession, StartSession.encode(start).finish());
      this.#broadcast(online, { $case: 'startSession', value: start });
      await this.#collect('AdvertiseKeys', online, (party, body) => {
        if (body.$case !== 'advertiseKeys' || body.value.sessionId !== req.sessionId) return 'ignored';
        server.receiveAdvertiseKeys({ party, cPk: body.value.cPk, sPk: body.value.sPk, signature: body.value.signature });
        return 'accepted';
      });
      const u1 = server.closeAdvertiseKeys();
      const u1Ids = u1.map((m) => m.party);
      this.#ctx.progress('AdvertiseKeys', `${u1Ids.length} of ${online.length} parties advertised keys (${u1Ids.join(', ')})`);
      const advertised: AdvertisedKeys = { sessionId: req.sessionId, keys: u1.map((m) => ({ partyId: m.party, cPk: m.cPk, sPk: m.sPk, signature: m.signature })) };
      this.#logAggregator(EntryKind.AdvertisedKeys, AdvertisedKeys.encode(advertised).finish());
      this.#broadcast(u1Ids, { $case: 'advertisedKeys', value: advertised });

      // ShareKeys
      await this.#collect('ShareKeys', u1Ids, (party, body) => {
        if (body.$case !== 'shareKeys' || body.value.sessionId !== req.sessionId) return 'ignored';
        server.receiveShareKeys({ party, shares: body.value.shares.map((s) => ({ from: s.from, to: s.to, ciphertext: s.ciphertext })) });
        return 'accepted';
      });
      const routed = server.closeShareKeys();
      const u2Ids = [...routed.keys()].sort();
      this.#ctx.progress('ShareKeys', `${u2Ids.length} parties shared their keys`);
      for (const id of u2Ids) {
        gateway.connection(id)?.send({ $case: 'routedShares', value: { sessionId: req.sessionId, shares: routed.get(id)! } });
      }

      // MaskedInputCollection
      // Each party streams y_u in chunks (each its own envelope, logged and receipted); a chunk is
      // added to the sum on arrival and not kept. A party whose vector is incomplete at the close
      // (dropped, timed out, invalid chunk) has its logged chunks taken out of the sum again.
      await this.#collect('MaskedInputCollection', u2Ids, (party, body) => {
        if (body.$case !== 'maskedInput' || body.value.sessionId !== req.sessionId) return 'ignored';
        const complete = server.receiveMaskedChunk(maskedChunk(party, body.value.masked, body.value.offset, req));
        return complete ? 'accepted' : 'more';
      });
      // One logged chunk (≤ 1 MiB) retracted per turn of the event loop: the round is closed, no
      // chunk can arrive meanwhile.
      for (const party of [...server.incomplete.keys()]) {
        const bodies = [...this.#ctx.transcript.partyBodies(req.sessionId, party, EntryKind.MaskedInput)];
        for (const bytes of bodies) {
          const m = PartyMessage.decode(bytes).body;
          if (m?.$case === 'maskedInput') server.retractMaskedChunk(maskedChunk(party, m.value.masked, m.value.offset, req));
          await nextTurn();
        }
        log('warn', 'incomplete masked input taken out of the sum; party dropped', { queryId: req.sessionId, party });
      }
      const u3 = server.closeMaskedInputCollection();
      this.#ctx.progress('MaskedInputCollection', `${u3.length} masked inputs collected`);
      const survivors: SurvivorList = { sessionId: req.sessionId, survivors: u3 };
      this.#logAggregator(EntryKind.SurvivorList, SurvivorList.encode(survivors).finish());
      this.#broadcast(u3, { $case: 'survivorList', value: survivors });

      // ConsistencyCheck
      await this.#collect('ConsistencyCheck', u3, (party, body) => {
        if (body.$case !== 'consistencyCheck' || body.value.sessionId !== req.sessionId) return 'ignored';
        server.receiveConsistencyCheck({ party, signature: body.value.signature });
        return 'accepted';
      });
      const unmask = server.closeConsistencyCheck();
      const u4 = unmask.signatures.map((s) => s.party);
      this.#ctx.progress('ConsistencyCheck', `${u4.length} parties signed the survivor list; dropped: ${unmask.dropped.join(', ') || 'none'}`);
      const request: UnmaskRequest = { sessionId: req.sessionId, survivors: unmask.survivors, dropped: unmask.dropped, signatures: unmask.signatures.map((s) => ({ partyId: s.party, signature: s.signature })) };
      this.#logAggregator(EntryKind.UnmaskRequest, UnmaskRequest.encode(request).finish());
      this.#unmaskingStarted = true; // from here on the sum may be revealed: no budget refund
      this.#broadcast(u4, { $case: 'unmaskRequest', value: request });

      // Unmasking
      await this.#collect('Unmasking', u4, (party, body) => {
        if (body.$case !== 'unmasking' || body.value.sessionId !== req.sessionId) return 'ignored';
        server.receiveUnmasking({ party, selfMaskShares: body.value.selfMaskShares.map((s) => ({ of: s.of, share: s.share })), maskKeyShares: body.value.maskKeyShares.map((s) => ({ of: s.of, share: s.share })) });
        return 'accepted';
      });
      // One event-loop turn after each mask removed (n self masks, n pairwise masks per dropped party).
      const sum = await runSteps(server.finishSteps());
      this.#ctx.progress('Unmasking', `aggregate of ${u3.length} parties unmasked`);
      return { sum, contributors: [...u3], refusals: [...this.#refusals].map(([partyId, reason]) => ({ partyId, reason })) };
    } catch (e) {
      for (const id of this.#members) gateway.connection(id)?.send({ $case: 'abort', value: { sessionId: req.sessionId, reason: 'session failed' } });
      if (this.#refusals.size > 0 && e instanceof Error) {
        // Lead with what the parties said; the protocol's own reason comes after.
        const said = [...this.#refusals].map(([p, r]) => `${p}: ${r}`).join('; ');
        e.message = `refused by ${this.#refusals.size} part${this.#refusals.size === 1 ? 'y' : 'ies'} (${said}); then ${e.message}`;
        Object.assign(e, { refusals: [...this.#refusals].map(([partyId, reason]) => ({ partyId, reason })) });
      }
      log('warn', 'session failed', { queryId: req.sessionId, error: (e as Error).message });
      throw e;
    }
  }

  #logAggregator(kind: string, body: Uint8Array): void {
    this.#ctx.transcript.appendAggregator(kind, this.#req.sessionId, body);
  }

  /** Appends the envelope being delivered and sends the party its signed receipt. */
  #logParty(party: string): void {
    logPartyEnvelope(this.#ctx.transcript, this.#ctx.gateway, party, this.#envelope);
  }

  #tryLogParty(party: string): boolean {
    try {
      this.#logParty(party);
      return true;
    } catch (e) {
      this.#transcriptFailure ??= e as Error;
      this.#members.delete(party);
      this.#ctx.log('error', 'transcript write failed; the session will fail', { queryId: this.#req.sessionId, party, error: (e as Error).message });
      return false;
    }
  }

  #broadcast(ids: readonly string[], body: Parameters<NonNullable<ReturnType<PartyGateway['connection']>>['send']>[0]): void {
    for (const id of ids) this.#ctx.gateway.connection(id)?.send(body);
  }

  /** Runs one round; parties that refuse, misbehave, time out or disconnect leave the session. */
  async #collect(stage: SecAggStage, expected: readonly string[], accept: RoundHandler): Promise<void> {
    const { log, gateway, deadlines } = this.#ctx;
    const req = this.#req;
    const timeoutMs = deadlines
      ? deadlines.secagg(stage, { n: expected.length, t: this.#ctx.roster.threshold, vectorLength: req.vectorLength, ringBytes: req.ringBits / 8, ...(req.planMs !== undefined ? { planMs: req.planMs } : {}) })
      : this.#ctx.roundTimeoutMs;
    const startedAt = performance.now();
    const handler: RoundHandler = (party, body) => {
      if (body.$case === 'refusal' && body.value.sessionId === this.#req.sessionId) {
        if (!this.#tryLogParty(party)) return 'refused';
        this.#refusals.set(party, body.value.reason);
        this.#members.delete(party);
        log('info', 'party refused', { queryId: this.#req.sessionId, party, stage, reason: body.value.reason });
        return 'refused';
      }
      try {
        const outcome = accept(party, body);
        if ((outcome === 'accepted' || outcome === 'more') && !this.#tryLogParty(party)) return 'refused';
        return outcome;
      } catch (e) {
        this.#members.delete(party);
        log('warn', 'invalid protocol message; party dropped from the session', { queryId: this.#req.sessionId, party, stage, error: (e as Error).message });
        gateway.connection(party)?.send({ $case: 'abort', value: { sessionId: this.#req.sessionId, reason: `${stage}: ${(e as Error).message}` } });
        return 'refused';
      }
    };
    const round = new RoundCollector(expected.filter((id) => gateway.connection(id) !== undefined), handler, timeoutMs);
    this.#round = round;
    await round.done;
    this.#round = undefined;
    log('info', 'round closed', { queryId: req.sessionId, stage, ms: Math.round(performance.now() - startedAt), deadlineMs: timeoutMs, expected: expected.length, timedOut: round.timedOut.size });
    if (this.#transcriptFailure) throw this.#transcriptFailure;
    for (const p of round.timedOut) {
      log('warn', 'party timed out', { queryId: this.#req.sessionId, party: p, stage });
      this.#members.delete(p);
      gateway.connection(p)?.send({ $case: 'abort', value: { sessionId: this.#req.sessionId, reason: `${stage}: no answer within ${timeoutMs} ms` } });
    }
  }
}
