/**
 * The CKKS backend as the query service and the gRPC handlers see it: the key ceremony, the
 * checks made at submission (a collective key exists; the analyst's key is a valid public key of
 * the federation's parameter set; the plan's sums fit the ciphertexts; the key's decryption budget
 * covers the query), one CkksSession per query, and the durable encrypted releases.
 *
 * Decryption budget (docs/ckks-backend.md §5): every PCKS request counts its ciphertexts against
 * the key (durably, before it is sent) — at least what any one decryptor answers. When the
 * remaining budget τ(n) − used cannot cover the next query's worst case (its ciphertexts times the
 * n − t + 1 decryptor sets a session may try), the key is retired: queries get FAILED_PRECONDITION
 * "re-keying" and, once the sessions still using the old key have ended, a new ceremony runs. node-seal is loaded when this object is created (only
 * aggregators started with --ckks create it).
 */
import { decryptionBound, type CkksContext } from '../../../crypto/ckks/params.ts';
import { parsePublicKey } from '../../../crypto/ckks/codec.ts';
import type { Envelope } from '../../../crypto/transcript.ts';
import type { CkksRelease, GetCollectiveKeyResponse } from '../../../gen/blindsum/v1/blindsum.ts';
import type { Schema } from '../../../stats/index.ts';
import { ckksContext, ckksLevel, ownBytes, sha256Hex, type CkksLayout, type CkksValueLayout } from '../../common/ckks.ts';
import { InputDigestTable } from '../../common/ckks-input-digests.ts';
import { BlindsumError, ErrorCode, invalidArgument, type Logger } from '../../common/errors.ts';
import type { Roster } from '../../common/roster.ts';
import type { PartyGateway, PartyMessageBody } from '../gateway.ts';
import { CkksCeremony } from './ceremony.ts';
import { CkksSession, type CkksOutcome, type CkksSessionContext, type CkksSessionRequest } from './session.ts';
import { CkksStore, type StoredCeremony } from './store.ts';
import type { TranscriptLog } from '../transcript-log.ts';
import type { RoundDeadlines } from '../deadlines.ts';
import type { DatabaseSync } from 'node:sqlite';

export interface CkksBackendOptions {
  db: DatabaseSync;
  gateway: PartyGateway;
  roster: Roster;
  schema: Schema;
  transcript: TranscriptLog;
  roundTimeoutMs: number;
  /** Round deadlines sized from the work (the ceremony's rounds). */
  deadlines?: RoundDeadlines;
  log: Logger;
  /** Results whose noisy row count is below this get a note (sent with each release to the analyst's client). */
  minCohort: number;
  /** Overrides the decryption bound τ(n) of crypto/ckks/params.ts (tests only). */
  decryptionBound?: number;
  /** Ciphertexts per EncryptedInput chunk (tests only; default: defaultInputChunk). */
  inputChunk?: number;
}

/** A CkksSession that tells the backend when it ends (a new ceremony waits for the sessions of a retired key). */
class TrackedSession extends CkksSession {
  readonly #onEnd: () => void;

  constructor(c: CkksSessionContext, req: CkksSessionRequest, onEnd: () => void) {
    super(c, req);
    this.#onEnd = onEnd;
  }

  override async run(): Promise<CkksOutcome> {
    try {
      return await super.run();
    } finally {
      this.#onEnd();
    }
  }
}

/** What a CKKS query needs beyond the plan, fixed at submission. */
export interface CkksPrepared {
  layout: CkksLayout;
  collectiveKeySha256: string;
  /** The ceremony that produced the collective key, and the key's decryption bound τ(n). */
  ceremonyId: string;
  decryptionBound: number;
  analystPublicKey: Uint8Array;
  analystKeySha256: string;
}

export class CkksBackend {
  readonly #o: CkksBackendOptions;
  readonly #store: CkksStore;
  readonly #ceremony: CkksCeremony;
  readonly #inputDigests: InputDigestTable;
  #ctx: CkksContext | undefined;
  /** Sessions running, per ceremony id of their key. */
  readonly #running = new Map<string, number>();
  readonly ready: Promise<void>;

  constructor(o: CkksBackendOptions) {
    this.#o = o;
    this.#store = new CkksStore(o.db);
    this.#inputDigests = new InputDigestTable(o.db);
    this.#ceremony = new CkksCeremony({
      gateway: o.gateway, roster: o.roster, store: this.#store, transcript: o.transcript, roundTimeoutMs: o.roundTimeoutMs, ...(o.deadlines ? { deadlines: o.deadlines } : {}), log: o.log, mayStart: () => this.#running.size === 0,
    });
    const loadStart = performance.now();
    this.ready = ckksContext().then(
      (ctx) => {
        this.#ctx = ctx;
        this.#ceremony.start(ctx, performance.now() - loadStart);
      },
      (e: unknown) => o.log('error', 'cannot load node-seal: backend "ckks" is unavailable', { error: (e as Error).message }),
    );
  }

  /** Checks a CKKS submission (its value layout, planned on the planning thread) before anything is charged; throws the reason. */
  prepare(valueLayout: CkksValueLayout, analystKey: Uint8Array): CkksPrepared {
    const analystPublicKey = ownBytes(analystKey);
    const ctx = this.#ctx;
    const key = this.#ceremony.key();
    if (!ctx || !key) throw new BlindsumError(ErrorCode.FailedPrecondition, `backend "ckks" is not ready: ${this.#ceremony.pendingReason()}`);
    if (analystPublicKey.length === 0) throw invalidArgument('backend "ckks" needs the analyst\'s CKKS public key (create one with: blindsum analyst-keygen)');
    try {
      parsePublicKey(ctx, analystPublicKey, 'analyst_public_key');
    } catch (e) {
      throw invalidArgument(`${(e as Error).message}; give a CKKS public key of parameter set ${ctx.params.name} (blindsum analyst-keygen)`);
    }
    let layout: CkksLayout;
    try {
      layout = ckksLevel(ctx, valueLayout);
    } catch (e) {
      throw invalidArgument(`this query's sums do not fit CKKS ciphertexts: ${(e as Error).message}`);
    }
    const bound = this.#o.decryptionBound ?? decryptionBound(ctx.params, key.parties.length);
    this.#checkBudget(key, layout, bound);
    return { layout, collectiveKeySha256: key.publicKeySha256, ceremonyId: key.id, decryptionBound: bound, analystPublicKey, analystKeySha256: sha256Hex(analystPublicKey) };
  }

  /** Retires the key when its remaining decryption budget cannot cover this query's worst case. */
  #checkBudget(key: StoredCeremony, layout: CkksLayout, bound: number): void {
    const used = this.#store.decryptions(key.id);
    const worst = layout.ciphertexts * (key.parties.length - key.threshold + 1);
    if (used + worst <= bound) return;
    const why = `decryption budget spent: ${used} of τ = ${bound} ciphertexts used, the next query may need ${worst}`;
    this.#store.retire(key.id, why, Date.now());
    this.#o.log('info', 'collective CKKS key retired; a new key ceremony follows', { ceremony: key.id, publicKeySha256: key.publicKeySha256, decryptions: used, bound });
    throw new BlindsumError(ErrorCode.FailedPrecondition, `backend "ckks" is not ready: ${this.#ceremony.pendingReason()}`);
  }

  session(c: { progress: (stage: string, message: string) => void }, req: Omit<CkksSessionRequest, keyof CkksPrepared>, prepared: CkksPrepared): CkksSession {
    const { gateway, roster, transcript, roundTimeoutMs, log } = this.#o;
    const id = prepared.ceremonyId;
    const countDecryptions = (ciphertexts: number): void => {
      try {
        this.#store.countDecryptions(id, ciphertexts, prepared.decryptionBound);
      } catch (e) {
        throw new BlindsumError(ErrorCode.FailedPrecondition, `re-keying: ${(e as Error).message}; a new key ceremony follows`);
      }
    };
    this.#running.set(id, (this.#running.get(id) ?? 0) + 1);
    const onEnd = (): void => {
      const n = (this.#running.get(id) ?? 1) - 1;
      if (n > 0) this.#running.set(id, n);
      else this.#running.delete(id);
    };
    const deadlines = this.#o.deadlines;
    return new TrackedSession({ ctx: this.#ctx!, gateway, roster, transcript, roundTimeoutMs, ...(deadlines ? { deadlines } : {}), log, inputDigests: this.#inputDigests, progress: c.progress, countDecryptions }, { ...req, ...prepared, ...(this.#o.inputChunk !== undefined ? { inputChunk: this.#o.inputChunk } : {}) }, onEnd);
  }

  /** The encrypted release the analyst's client finishes (decrypts, rounds, post-processes). */
  release(out: CkksOutcome, prepared: CkksPrepared, plan: { parties: number; ringBits: number; dpGridBits: number }): CkksRelease {
    return {
      params: this.#ctx!.params.name, collectiveKeySha256: prepared.collectiveKeySha256, analystKeySha256: prepared.analystKeySha256,
      ciphertexts: out.ciphertexts, limbs: prepared.layout.limbs, level: prepared.layout.level, schemaJson: JSON.stringify(this.#o.schema),
      plannedParties: plan.parties, ringBits: plan.ringBits, dpGridBits: plan.dpGridBits, threshold: this.#o.roster.threshold, decryptors: out.decryptors, collusion: this.#o.roster.collusion, minCohort: this.#o.minCohort,
    };
  }

  saveRelease(queryId: string, release: CkksRelease): void {
    this.#store.saveRelease(queryId, release);
  }

  storedRelease(queryId: string): CkksRelease | undefined {
    return this.#store.release(queryId);
  }

  /** Ceremony messages; false for anything else. */
  deliver(partyId: string, body: PartyMessageBody, envelope: Envelope): boolean {
    return this.#ceremony.deliver(partyId, body, envelope);
  }

  disconnected(partyId: string): void {
    this.#ceremony.disconnected(partyId);
  }

  /** The current collective key's id and the ciphertexts decrypted under it (metrics). */
  currentKeyDecryptions(): { key: string; count: number } | undefined {
    const key = this.#ceremony.key();
    return key ? { key: key.publicKeySha256.slice(0, 16), count: this.#store.decryptions(key.id) } : undefined;
  }

  collectiveKey(): GetCollectiveKeyResponse {
    const key = this.#ceremony.key();
    const base = { ceremonyId: '', params: this.#ctx?.params.name ?? '', publicKey: new Uint8Array(0), publicKeySha256: '', rosterDigest: this.#ceremony.rosterDigest, threshold: this.#o.roster.threshold, parties: this.#o.roster.parties.map((p) => p.id), createdAtMs: 0n };
    if (!key) return { ...base, status: 'pending', message: this.#ceremony.pendingReason() };
    return { ...base, status: 'ready', message: '', ceremonyId: key.id, params: key.params, publicKey: key.publicKey, publicKeySha256: key.publicKeySha256, createdAtMs: BigInt(key.finishedAtMs) };
  }

  async close(): Promise<void> {
    await this.ready;
    await this.#ceremony.close();
  }
}
