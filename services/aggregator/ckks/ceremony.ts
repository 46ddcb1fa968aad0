/**
 * The aggregator's side of the CKKS key ceremony (crypto/ckks/ceremony-server.ts; docs/ckks-backend.md):
 * started once every roster party is connected and no collective key exists for the current
 * roster (its digest) and parameter set; every party must take part in every round. The
 * collective public key and its SHA-256 are written to the store before the key is used; a failed
 * ceremony (a party refused, sent an invalid message, timed out or left) is retried with backoff.
 */
import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CeremonyError, type CeremonyParams } from '../../../crypto/ckks/ceremony.ts';
import { CeremonyServer } from '../../../crypto/ckks/ceremony-server.ts';
import type { CkksContext } from '../../../crypto/ckks/params.ts';
import type { Envelope } from '../../../crypto/transcript.ts';
import { CKGCommitments, CRSCommitments, CRSNonces, StartCeremony } from '../../../gen/blindsum/v1/blindsum.ts';
import { ownBytes, rosterDigest } from '../../common/ckks.ts';
import { CkksEntryKind } from '../../common/ckks-kinds.ts';
import type { Roster } from '../../common/roster.ts';
import type { PartyMessageBody } from '../gateway.ts';
import type { CkksStore, StoredCeremony } from './store.ts';
import type { CeremonyStage } from '../deadlines.ts';
import { describeFailures, RoundRunner, type RoundContext, type RoundResult } from './rounds.ts';

const CHECK_EVERY_MS = 500;
const RETRY_MIN_MS = 2_000;
const RETRY_MAX_MS = 60_000;

const CEREMONY_CASES: ReadonlySet<string> = new Set(['crsCommit', 'crsReveal', 'ckgCommit', 'ckgShare', 'ckgConfirm']);

export interface CeremonyOptions extends RoundContext {
  roster: Roster;
  store: CkksStore;
  /** False while a new ceremony must wait (queries still running under a retired key). */
  mayStart?: () => boolean;
}

export class CkksCeremony {
  readonly #o: CeremonyOptions;
  readonly rosterDigest: string;
  #ctx: CkksContext | undefined;
  #timer: NodeJS.Timeout | undefined;
  #rounds: RoundRunner | undefined;
  #running: Promise<void> | undefined;
  #failures = 0;
  #notBefore = 0;
  #lastError = '';
  #closed = false;
  #setupMs = 0;

  constructor(o: CeremonyOptions) {
    this.#o = o;
    this.rosterDigest = rosterDigest(o.roster);
  }

  /** Starts watching for the moment every roster party is connected; `setupMs`: how long this process took to load node-seal (each party does it too in CRSCommit). */
  start(ctx: CkksContext, setupMs = 0): void {
    this.#ctx = ctx;
    this.#setupMs = setupMs;
    this.#timer = setInterval(() => this.#tick(), CHECK_EVERY_MS);
    this.#timer.unref();
    this.#tick();
  }

  /** The ready collective key for the current roster, if any. */
  key(): StoredCeremony | undefined {
    return this.#ctx ? this.#o.store.readyKey(this.rosterDigest, this.#ctx.params.name) : undefined;
  }

  /** Why there is no key yet (for errors and GetCollectiveKey). */
  pendingReason(): string {
    if (!this.#ctx) return 'the CKKS library is still loading';
    const retired = this.#o.store.retiredKey(this.rosterDigest, this.#ctx.params.name);
    if (retired) return `re-keying: collective key ${retired.publicKeySha256.slice(0, 12)}… is retired (${retired.retiredReason}); ${this.#running ? 'the new key ceremony is running' : this.#waitingReason()}`;
    if (this.#running) return 'the key ceremony is running';
    return `no collective CKKS key for this roster yet: ${this.#waitingReason()}`;
  }

  #waitingReason(): string {
    const missing = this.#o.roster.parties.map((p) => p.id).filter((id) => !this.#o.gateway.connection(id));
    const waiting = missing.length ? `a new ceremony starts once every roster party is connected (missing: ${missing.join(', ')})` : 'a new ceremony will start shortly';
    return `${waiting}${this.#lastError ? `; the last ceremony failed: ${this.#lastError}` : ''}`;
  }

  /** Routes a ceremony message; false when it is not one (or not for the running ceremony). */
  deliver(partyId: string, body: PartyMessageBody, envelope: Envelope): boolean {
    if (!CEREMONY_CASES.has(body.$case) && body.$case !== 'refusal') return false;
    const r = this.#rounds;
    if (!r || (body.value as { sessionId?: string }).sessionId !== r.sessionId) return false;
    return r.deliver(partyId, body, envelope);
  }

  disconnected(partyId: string): void {
    this.#rounds?.disconnected(partyId);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }

  #tick(): void {
    if (this.#closed || this.#running || !this.#ctx || Date.now() < this.#notBefore || this.key() || this.#o.mayStart?.() === false) return;
    const connected = new Set(this.#o.gateway.connectedIds());
    if (!this.#o.roster.parties.every((p) => connected.has(p.id))) return;
    this.#running = this.#run(this.#ctx)
      .catch((e: unknown) => this.#o.log('error', 'CKKS key ceremony could not run', { error: (e as Error).message }))
      .finally(() => {
        this.#running = undefined;
      });
  }

  /** The deadline of a ceremony round: sized from its work when the aggregator measured its costs (deadlines.ts). */
  #deadline(stage: CeremonyStage, n: number): number {
    const d = this.#o.deadlines;
    const ctx = this.#ctx;
    if (!d || !ctx) return this.#o.roundTimeoutMs;
    return d.ceremony(stage, { n, t: this.#o.roster.threshold, N: ctx.N, L: ctx.keyLevel, setupMs: this.#setupMs });
  }

  async #run(ctx: CkksContext): Promise<void> {
    const { roster, store, log } = this.#o;
    const parties = roster.parties.map((p) => p.id);
    const params: CeremonyParams = { ceremonyId: randomUUID(), paramsName: ctx.params.name, rosterDigest: this.rosterDigest, threshold: roster.threshold, parties };
    const id = params.ceremonyId;
    const rounds = new RoundRunner(this.#o, id, 'ceremony');
    this.#rounds = rounds;
    store.begin({ id, rosterDigest: params.rosterDigest, params: params.paramsName, threshold: params.threshold, parties, startedAtMs: Date.now() });
    log('info', 'CKKS key ceremony started', { ceremony: id, parties: parties.length, threshold: params.threshold });
    try {
      const server = new CeremonyServer(ctx, params, roster.publicKeys);
      const all = (r: RoundResult, stage: string): void => {
        if (r.failed.size > 0) throw new CeremonyError('incomplete', `${stage}: ${describeFailures(r.failed)}`);
      };
      const start: StartCeremony = { sessionId: id, params: params.paramsName, rosterDigest: params.rosterDigest, threshold: params.threshold, parties };
      rounds.logAggregator(CkksEntryKind.StartCeremony, StartCeremony.encode(start).finish());
      rounds.send(parties, { $case: 'startCeremony', value: start });
      all(
        await rounds.collect('CRSCommit', parties, (party, body) => {
          if (body.$case !== 'crsCommit') return false;
          server.receiveCommit({ party, commitment: ownBytes(body.value.commitment), ephemeralKey: ownBytes(body.value.ephemeralKey), signature: ownBytes(body.value.signature) });
          return true;
        }, this.#deadline('CRSCommit', parties.length)),
        'CRSCommit',
      );
      const commits: CRSCommitments = {
        sessionId: id,
        commits: server.closeCommits().map((c) => ({ partyId: c.party, commitment: c.commitment, ephemeralKey: c.ephemeralKey, signature: c.signature })),
      };
      rounds.logAggregator(CkksEntryKind.CRSCommitments, CRSCommitments.encode(commits).finish());
      rounds.send(parties, { $case: 'crsCommitments', value: commits });
      all(
        await rounds.collect('CRSReveal', parties, (party, body) => {
          if (body.$case !== 'crsReveal') return false;
          server.receiveReveal({ party, nonce: ownBytes(body.value.nonce) });
          return true;
        }, this.#deadline('CRSReveal', parties.length)),
        'CRSReveal',
      );
      const nonces: CRSNonces = { sessionId: id, nonces: server.closeReveals().map((n) => ({ partyId: n.party, nonce: n.nonce })) };
      rounds.logAggregator(CkksEntryKind.CRSNonces, CRSNonces.encode(nonces).finish());
      rounds.send(parties, { $case: 'crsNonces', value: nonces });
      all(
        await rounds.collect('CKGCommit', parties, (party, body) => {
          if (body.$case !== 'ckgCommit') return false;
          const v = body.value;
          server.receiveCkgCommit({ party, commitment: ownBytes(v.commitment), thresholdShareDigests: v.thresholdShareDigests.map(ownBytes), signature: ownBytes(v.signature) });
          return true;
        }, this.#deadline('CKGCommit', parties.length)),
        'CKGCommit',
      );
      const ckgCommits: CKGCommitments = {
        sessionId: id,
        commits: server.closeCkgCommits().map((c) => ({ partyId: c.party, commitment: c.commitment, thresholdShareDigests: c.thresholdShareDigests, signature: c.signature })),
      };
      rounds.logAggregator(CkksEntryKind.CKGCommitments, CKGCommitments.encode(ckgCommits).finish());
      rounds.send(parties, { $case: 'ckgCommitments', value: ckgCommits });
      all(
        await rounds.collect('CKGShare', parties, (party, body) => {
          if (body.$case !== 'ckgShare') return false;
          server.receiveShare(party, ownBytes(body.value.share), body.value.thresholdShares.map((s) => ({ from: s.from, to: s.to, ciphertext: ownBytes(s.ciphertext) })));
          return true;
        }, this.#deadline('CKGShare', parties.length)),
        'CKGShare',
      );
      const key = server.closeShares();
      const record = { ceremonyId: id, params: params.paramsName, rosterDigest: params.rosterDigest, threshold: params.threshold, parties, publicKeySha256: key.publicKeySha256, ckgSharesSha256: key.ckgSharesSha256 };
      rounds.logAggregator(CkksEntryKind.CollectivePublicKey, new TextEncoder().encode(JSON.stringify(record)));
      const ckgShares = key.ckgShares.map((s) => ({ partyId: s.party, share: s.share }));
      for (const p of parties) {
        // n messages of ≈ 2n polynomials each (348 MB at n = 30): one event-loop turn after each
        // encoding, so keepalive pings and GetCollectiveKey are answered meanwhile.
        rounds.send([p], { $case: 'collectivePublicKey', value: { sessionId: id, publicKey: key.publicKey, ckgShares, thresholdShares: key.routed.get(p)! } });
        await nextTurn();
      }
      all(
        await rounds.collect('CKGConfirm', parties, (party, body) => {
          if (body.$case !== 'ckgConfirm') return false;
          server.receiveConfirm(party, body.value.publicKeySha256, body.value.ckgSharesSha256);
          return true;
        }, this.#deadline('CKGConfirm', parties.length)),
        'CKGConfirm',
      );
      server.closeConfirms();
      store.ready(id, key.publicKey, key.publicKeySha256, Date.now());
      this.#failures = 0;
      this.#lastError = '';
      log('info', 'collective CKKS public key ready', { ceremony: id, publicKeySha256: key.publicKeySha256 });
    } catch (e) {
      const message = e instanceof CeremonyError ? e.message : 'internal error';
      if (!(e instanceof CeremonyError)) log('error', 'CKKS key ceremony crashed', { ceremony: id, error: (e as Error).stack ?? String(e) });
      rounds.abort(parties, `key ceremony failed: ${message}`);
      store.fail(id, message, Date.now());
      this.#failures++;
      this.#lastError = message;
      this.#notBefore = Date.now() + Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.#failures - 1));
      log('warn', 'CKKS key ceremony failed; retrying later', { ceremony: id, error: message, retryInMs: this.#notBefore - Date.now() });
    } finally {
      this.#rounds = undefined;
    }
  }
}
