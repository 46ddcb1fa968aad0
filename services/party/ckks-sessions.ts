/**
 * A party's side of the CKKS backend (docs/ckks-backend.md): the key ceremony
 * (crypto/ckks/ceremony.ts; the resulting key share saved 0600 and reloaded on restart) and each
 * CKKS query — the same checked, noisy statistics as secure aggregation (contribution.ts),
 * charged to the party's ledger, then encrypted under the collective key at the lowest exact
 * level, committed to (InputCommit: the ciphertexts' SHA-256) and revealed only once the
 * aggregator has forwarded every commitment (ckks-commit.ts); later a PCKS share towards the analyst's key, only for a sum this party recomputed itself
 * from at least t signed contributions of the session, its own included (ckks-pcks-check.ts), with
 * the Lagrange coefficients of the announced decryptor set; the share names the sums, the
 * contributors, the decryptors and the analyst key. Its input is revealed in the chunks
 * StartSession names, and PCKS runs one chunk of positions per request, one sum per position.
 * Every input ciphertext this party sent, or saw committed to in a commitment list it revealed
 * after, is recorded durably (STATE_DIR/ckks-inputs.sqlite) so that an exact copy of it in a
 * later session is refused. node-seal is loaded on the first CKKS message, once.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { CeremonyError, type CeremonyKeyShare } from '../../crypto/ckks/ceremony.ts';
import { CeremonyParty } from '../../crypto/ckks/ceremony-party.ts';
import { PackedEncryptor } from '../../crypto/ckks/encoder.ts';
import type { CkksContext } from '../../crypto/ckks/params.ts';
import { PcksShareGenerator } from '../../crypto/ckks/pcks.ts';
import type { SecretKeyShare } from '../../crypto/ckks/ckg.ts';
import { genAdditiveShare, parseShamirShare } from '../../crypto/ckks/threshold.ts';
import { packCiphertext } from '../../crypto/ckks/wire.ts';
import type { AggregatorMessage, InputCommitments, PCKSRequest, StartCeremony, StartSession } from '../../gen/blindsum/v1/blindsum.ts';
import { describeQuery } from '../../stats/index.ts';
import { CKKS_PARAMS, ckksContext, ckksLevel, inputChunk, ownBytes, rosterDigest } from '../common/ckks.ts';
import { InputDigestTable } from '../common/ckks-input-digests.ts';
import { inputDigest } from '../common/ckks-inputs.ts';
import { verifyCommitments } from './ckks-commit.ts';
import { verifyPcksRequestSteps, type PcksSessionView } from './ckks-pcks-check.ts';
import { publicMessage, type Logger } from '../common/errors.ts';
import { runSteps } from '../common/steps.ts';
import type { PartyConfig } from './config.ts';
import { loadCkksKey, saveCkksKey } from './ckks-keys.ts';
import { DecryptionCount } from './decryption-count.ts';
import { prepareCkksContributionOffThread, Refuse, type CkksThreadContribution } from './contribution.ts';
import { StatsThread, StatsThreadError } from './stats-thread.ts';
import type { PartyLedger } from './ledger.ts';
import type { Reply } from './sessions.ts';

type Body = NonNullable<AggregatorMessage['body']>;

/** Stage names, as in the transcript and the aggregator's progress events. */
export type CkksReplyStage = 'CRSCommit' | 'CRSReveal' | 'CKGCommit' | 'CKGShare' | 'CKGConfirm' | 'InputCommit' | 'EncryptedInput' | 'PCKSShare';

const CEREMONY_CASES: ReadonlySet<string> = new Set(['startCeremony', 'crsCommitments', 'crsNonces', 'ckgCommitments', 'collectivePublicKey']);
const MAX_SESSIONS = 64;

export interface CkksPartyOptions {
  /** Overrides the decryption bound τ(n) of crypto/ckks/params.ts (tests only). */
  decryptionBound?: number;
  /** The node's statistics thread (PartySessions.statsThread); without it the party starts its own on first use. */
  statsThread?: StatsThread;
}

interface Session extends PcksSessionView {
  /** The ciphertexts committed to and not yet revealed (compact wire form). */
  pending: Uint8Array[] | undefined;
  /** Ciphertexts per EncryptedInput chunk (StartSession.ckks_input_chunk). */
  chunk: number;
  /** Per ciphertext position: the digest of the sum a PCKS share was given for (one sum per position), and how many times. */
  sumDigests: (string | undefined)[];
  pcksAnswers: Uint16Array;
  /**
   * Decryptions counted ahead, per PCKS attempt (contributors and decryptors): the first request
   * of an attempt counts every position at once (one durable write, not one per chunk); a position
   * answered twice in one attempt counts again. 1 = counted, not yet answered; 2 = answered.
   */
  prepaid: Map<string, Uint8Array>;
}

/** PCKS shares of `sums` (compact wire form), one ciphertext per step. */
function* shareSteps(ctx: CkksContext, additive: SecretKeyShare, analystPk: Uint8Array, sums: readonly Uint8Array[]): Generator<void, Uint8Array[], void> {
  using gen = new PcksShareGenerator(ctx, additive, analystPk);
  const out: Uint8Array[] = [];
  for (const ct of sums) {
    out.push(packCiphertext(ctx, gen.share(ct)));
    yield;
  }
  return out;
}

/** Encrypts `values` one ciphertext per step, then digests each ciphertext (SHA-256 of ~260 kB) one per step. */
function* encryptAndDigest(enc: PackedEncryptor, values: Float64Array): Generator<void, { ciphertexts: Uint8Array[]; inputDigests: string[] }, void> {
  const ciphertexts = yield* enc.encryptPackedSteps(values);
  const inputDigests: string[] = [];
  for (const ct of ciphertexts) {
    inputDigests.push(inputDigest(ct));
    yield;
  }
  return { ciphertexts, inputDigests };
}

export class CkksParty {
  readonly #cfg: PartyConfig;
  readonly #log: Logger;
  readonly #ledger: PartyLedger;
  readonly #rosterDigest: string;
  readonly #sessions = new Map<string, Session>();
  #key: CeremonyKeyShare | undefined;
  #ceremony: CeremonyParty | undefined;
  readonly #decryptions: DecryptionCount;
  readonly #db: DatabaseSync;
  readonly #seen: InputDigestTable;
  readonly #thread: StatsThread | undefined;
  #ownThread: StatsThread | undefined;
  /** Sessions being prepared (statistics thread, encryption), and whether they ended meanwhile. */
  readonly #starting = new Map<string, boolean>();

  /** Loads the stored key share (ConfigError if its file is unsafe or malformed) and opens the decryption count. */
  constructor(cfg: PartyConfig, log: Logger, ledger: PartyLedger, options: CkksPartyOptions = {}) {
    this.#cfg = cfg;
    this.#thread = options.statsThread;
    this.#decryptions = new DecryptionCount(cfg.stateDir, options.decryptionBound);
    this.#log = log;
    this.#ledger = ledger;
    this.#rosterDigest = rosterDigest(cfg.roster);
    this.#key = loadCkksKey(cfg.stateDir, cfg.identity.id);
    mkdirSync(cfg.stateDir, { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(join(cfg.stateDir, 'ckks-inputs.sqlite'));
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;');
    this.#seen = new InputDigestTable(this.#db);
    if (this.#key) {
      const current = this.#key.rosterDigest === this.#rosterDigest;
      log('info', current ? 'CKKS key share loaded' : 'CKKS key share is for another roster; waiting for a new key ceremony', { ceremony: this.#key.ceremonyId, publicKeySha256: this.#key.publicKeySha256 });
    }
  }

  /** The SHA-256 of the collective key this party holds for its roster, if any. */
  get keySha256(): string | undefined {
    return this.#key?.rosterDigest === this.#rosterDigest ? this.#key.publicKeySha256 : undefined;
  }

  /** True for the messages this class answers (the rest go to secure aggregation). */
  accepts(body: Body): boolean {
    if (CEREMONY_CASES.has(body.$case) || body.$case === 'pcksRequest' || body.$case === 'inputCommitments') return true;
    if (body.$case === 'startSession') return body.value.backend === 'ckks';
    if (body.$case === 'abort') return this.#sessions.has(body.value.sessionId) || this.#starting.has(body.value.sessionId) || this.#ceremony?.params.ceremonyId === body.value.sessionId;
    return false;
  }

  /** One reply, or `replies` sent one at a time (the chunks of an encrypted input). */
  async handle(body: Body): Promise<{ reply?: Reply; replies?: Iterable<Reply>; stage?: CkksReplyStage }> {
    const sessionId = (body.value as { sessionId?: string }).sessionId ?? '';
    try {
      const ctx = await ckksContext();
      switch (body.$case) {
        case 'startCeremony':
          return { reply: this.#startCeremony(ctx, body.value), stage: 'CRSCommit' };
        case 'crsCommitments': {
          const c = this.#ceremonyFor(sessionId);
          const nonce = c.reveal(body.value.commits.map((x) => ({ party: x.partyId, commitment: ownBytes(x.commitment), ephemeralKey: ownBytes(x.ephemeralKey), signature: ownBytes(x.signature) })));
          return { reply: { $case: 'crsReveal', value: { sessionId, nonce } }, stage: 'CRSReveal' };
        }
        case 'crsNonces': {
          const c = this.#ceremonyFor(sessionId);
          const out = await runSteps(c.commitShareSteps(body.value.nonces.map((x) => ({ party: x.partyId, nonce: ownBytes(x.nonce) }))));
          return { reply: { $case: 'ckgCommit', value: { sessionId, ...out } }, stage: 'CKGCommit' };
        }
        case 'ckgCommitments': {
          const c = this.#ceremonyFor(sessionId);
          const out = c.share(body.value.commits.map((x) => ({ party: x.partyId, commitment: ownBytes(x.commitment), thresholdShareDigests: x.thresholdShareDigests.map(ownBytes), signature: ownBytes(x.signature) })));
          return { reply: { $case: 'ckgShare', value: { sessionId, share: out.ckgShare, thresholdShares: out.thresholdShares } }, stage: 'CKGShare' };
        }
        case 'collectivePublicKey': {
          const c = this.#ceremonyFor(sessionId);
          const v = body.value;
          const key = await runSteps(c.finishSteps(ownBytes(v.publicKey), v.ckgShares.map((s) => ({ party: s.partyId, share: ownBytes(s.share) })), v.thresholdShares.map((s) => ({ from: s.from, to: s.to, ciphertext: ownBytes(s.ciphertext) }))));
          saveCkksKey(this.#cfg.stateDir, this.#cfg.identity.id, key);
          this.#key = key;
          if (this.#ceremony === c) this.#ceremony = undefined;
          this.#log('info', 'CKKS key share stored (0600)', { ceremony: key.ceremonyId, publicKeySha256: key.publicKeySha256 });
          return { reply: { $case: 'ckgConfirm', value: { sessionId, publicKeySha256: key.publicKeySha256, ckgSharesSha256: key.ckgSharesSha256 } }, stage: 'CKGConfirm' };
        }
        case 'startSession': {
          const reply = await this.#start(ctx, body.value);
          return reply ? { reply, stage: 'InputCommit' } : {};
        }
        case 'inputCommitments':
          return { replies: this.#reveal(body.value), stage: 'EncryptedInput' };
        case 'pcksRequest':
          return { reply: await this.#pcks(ctx, body.value), stage: 'PCKSShare' };
        case 'abort':
          this.#log('info', 'CKKS run aborted by the aggregator', { queryId: sessionId, reason: body.value.reason });
          this.#end(sessionId);
          return {};
        default:
          return {};
      }
    } catch (e) {
      // Refusals, protocol and codec errors name a check or a field, never a secret.
      const safe = e instanceof Refuse || e instanceof CeremonyError || e instanceof RangeError || publicMessage(e) !== 'internal error';
      const reason = safe ? (e as Error).message : 'internal error at the party';
      if (!(e instanceof Refuse)) this.#log('warn', 'CKKS step refused', { queryId: sessionId, step: body.$case, error: (e as Error).message });
      this.#end(sessionId);
      return sessionId ? { reply: { $case: 'refusal', value: { sessionId, reason } } } : {};
    }
  }

  abortAll(): void {
    this.#ceremony?.abort();
    this.#ceremony = undefined;
    this.#sessions.clear();
    for (const id of this.#starting.keys()) this.#starting.set(id, true);
  }

  /** Closes the decryption count and the input-digest database (the node calls it on shutdown). */
  close(): void {
    this.abortAll();
    void this.#ownThread?.close(); // the node's shared thread is closed by its PartySessions
    this.#ownThread = undefined;
    this.#decryptions.close();
    if (this.#db.isOpen) this.#db.close();
  }

  #end(sessionId: string): void {
    if (this.#starting.has(sessionId)) this.#starting.set(sessionId, true); // ended while being prepared
    if (this.#ceremony?.params.ceremonyId === sessionId) {
      this.#ceremony.abort();
      this.#ceremony = undefined;
    }
    this.#sessions.delete(sessionId);
  }

  #ceremonyFor(id: string): CeremonyParty {
    const c = this.#ceremony;
    if (!c || c.params.ceremonyId !== id) throw new Refuse(`no key ceremony ${JSON.stringify(id)} in progress at this party`);
    return c;
  }

  #startCeremony(ctx: CkksContext, m: StartCeremony): Reply {
    const { roster, policy, identity } = this.#cfg;
    if (!policy.allowedBackends.has('ckks')) throw new Refuse('backend "ckks" is not allowed by this party\'s policy (allowedBackends): it takes no part in the key ceremony');
    if (m.params !== CKKS_PARAMS.name) throw new Refuse(`parameter set ${m.params}; this party uses ${CKKS_PARAMS.name}`);
    if (m.rosterDigest !== this.#rosterDigest) throw new Refuse('roster mismatch: the aggregator and this party have different roster files');
    const ids = roster.parties.map((p) => p.id);
    if (m.threshold !== roster.threshold || m.parties.length !== ids.length || m.parties.some((p, i) => p !== ids[i])) {
      throw new Refuse('the ceremony must include every roster party, sorted, with the roster\'s threshold');
    }
    this.#ceremony?.abort();
    this.#ceremony = new CeremonyParty(ctx, { ceremonyId: m.sessionId, paramsName: m.params, rosterDigest: m.rosterDigest, threshold: m.threshold, parties: [...m.parties] }, identity.id, identity.identity.secretKey, roster.publicKeys);
    this.#log('info', 'CKKS key ceremony joined', { ceremony: m.sessionId });
    return { $case: 'crsCommit', value: { sessionId: m.sessionId, ...this.#ceremony.commit() } };
  }

  /**
   * Prepares a CKKS session: the plan, the sums, the noise share and the CKKS values on the
   * statistics thread (prepareCkksContributionOffThread: plan digest, then the durable claim of the
   * session id, then the sums), the level here (O(1)), the ledger charged durably before the
   * input is encrypted, the encryption in slices. Undefined when the session ended meanwhile.
   */
  async #start(ctx: CkksContext, req: StartSession): Promise<Reply | undefined> {
    const key = this.#key;
    if (this.#sessions.has(req.sessionId) || this.#starting.has(req.sessionId)) throw new Refuse('session id already in use');
    if (!key || key.rosterDigest !== this.#rosterDigest) throw new Refuse('this party holds no CKKS key share for the current roster (the key ceremony has not completed)');
    if (req.ckksKeySha256 !== key.publicKeySha256) {
      throw new Refuse(`the aggregator asks for collective key ${req.ckksKeySha256.slice(0, 12)}…, this party holds ${key.publicKeySha256.slice(0, 12)}…; a new key ceremony is needed`);
    }
    if (!/^[0-9a-f]{64}$/.test(req.analystKeySha256)) throw new Refuse('malformed analyst key digest');
    // Sessions being prepared are bounded too: a flood of StartSessions is refused, not queued on the thread.
    if (this.#starting.size >= MAX_SESSIONS) throw new Refuse(`too many CKKS sessions being prepared (${MAX_SESSIONS})`);
    this.#starting.set(req.sessionId, false);
    const ended = (): boolean => this.#starting.get(req.sessionId) !== false;
    let c: CkksThreadContribution | undefined;
    try {
      try {
        c = await prepareCkksContributionOffThread(this.#cfg, this.#ledger, req, this.#statsThread());
      } catch (e) {
        // A range error of the thread (a sum outside the plan's bounds) is a refusal naming the entry, as on this thread.
        throw e instanceof StatsThreadError && e.name === 'RangeError' ? new RangeError(e.message) : e;
      }
      if (ended()) return undefined; // aborted (or disconnected) while being prepared: answer nothing, charge nothing
      const layout = ckksLevel(ctx, c.layout);
      let chunk: number;
      try {
        chunk = inputChunk(layout, req.ckksInputChunk);
      } catch (e) {
        throw new Refuse((e as Error).message);
      }
      if (c.rho > 0) {
        // Charge this party's own ledger durably before its noisy contribution leaves.
        try {
          this.#ledger.charge(req.sessionId, req.analyst, c.rho, c.analystBudgetRho);
        } catch (e) {
          throw new Refuse((e as Error).message);
        }
      }
      let ciphertexts: Uint8Array[];
      let inputDigests: string[];
      {
        // One ciphertext (then one digest) per step, with turns of the event loop between slices of ~20 ms.
        using enc = new PackedEncryptor(ctx, key.publicKey, layout.level, { nttForm: false });
        ({ ciphertexts, inputDigests } = await runSteps(encryptAndDigest(enc, c.values)));
      }
      if (ended()) return undefined; // aborted while encrypting: nothing leaves
      this.#seen.record(inputDigests, req.sessionId, this.#cfg.identity.id);
      if (this.#sessions.size >= MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value!);
      this.#sessions.set(req.sessionId, {
        layout, parties: c.parties, analystKeySha256: req.analystKeySha256, inputDigests, pending: ciphertexts, chunk, commitments: undefined,
        sumDigests: new Array<string | undefined>(layout.ciphertexts), pcksAnswers: new Uint16Array(layout.ciphertexts), prepaid: new Map(),
      });
      this.#log('info', 'CKKS session accepted', { queryId: req.sessionId, query: describeQuery(c.query), analyst: req.analyst, rowsUsed: c.rowsUsed, ckksLevel: layout.level, ciphertexts: ciphertexts.length });
      return { $case: 'inputCommit', value: { sessionId: req.sessionId, ciphertextsSha256: inputDigests } };
    } finally {
      c?.values.fill(0);
      this.#starting.delete(req.sessionId);
    }
  }

  /** This party's statistics thread: the node's (shared with secure aggregation), else its own, started on first use. */
  #statsThread(): StatsThread {
    if (this.#thread) return this.#thread;
    this.#ownThread ??= new StatsThread(this.#cfg.dataset);
    return this.#ownThread;
  }

  /**
   * Reveals the committed input once every commitment is known, in chunks of `s.chunk`
   * ciphertexts (each its own signed envelope, sent one at a time), each naming the list it saw.
   */
  #reveal(m: InputCommitments): Reply[] {
    const s = this.#sessions.get(m.sessionId);
    if (!s) throw new Refuse(`no CKKS session ${JSON.stringify(m.sessionId)} at this party`);
    if (!s.pending) throw new Refuse('this party has already revealed its input in this session');
    const commitments = verifyCommitments(this.#cfg.roster, this.#cfg.identity.id, s, m);
    // Every committed ciphertext's digest, durably, in one transaction (a ciphertext seen first in
    // another session keeps that first sighting): a copy of any of them in a later session is
    // refused when this party is asked to key-switch it.
    this.#seen.recordAll(commitments.byParty, m.sessionId);
    s.commitments = commitments;
    const ciphertexts = s.pending;
    s.pending = undefined;
    const chunks: Reply[] = [];
    for (let offset = 0; offset < ciphertexts.length; offset += s.chunk) {
      chunks.push({ $case: 'encryptedInput', value: { sessionId: m.sessionId, ciphertexts: ciphertexts.slice(offset, offset + s.chunk), commitmentsSha256: commitments.sha256, offset } });
    }
    return chunks;
  }

  /**
   * A PCKS share for the positions of one request (one chunk of every contributor's input): the
   * check one contributor per step and the shares one ciphertext per step, with turns of the
   * event loop between slices; the session's state is checked and updated in one synchronous step.
   */
  async #pcks(ctx: CkksContext, m: PCKSRequest): Promise<Reply> {
    const s = this.#sessions.get(m.sessionId);
    const key = this.#key;
    if (!s || !key) throw new Refuse(`no CKKS session ${JSON.stringify(m.sessionId)} at this party`);
    const self = this.#cfg.identity.id;
    const t = this.#cfg.roster.threshold;
    // The sum is recomputed here from the signed contributions: the aggregator does not send it.
    const { offset, sums, sumSha256: digests } = await runSteps(verifyPcksRequestSteps(ctx, this.#cfg.roster, self, key.parties, s, this.#seen, m));
    if (this.#sessions.get(m.sessionId) !== s || this.#key !== key) throw new Refuse('the session ended while its PCKS request was checked');
    // One sum per position; a retry (another decryptor set after a dropout) must be for the same sum.
    digests.forEach((d, i) => {
      const before = s.sumDigests[offset + i];
      if (before !== undefined && before !== d) throw new Refuse(`a PCKS share was already given for another sum at ciphertext ${offset + i} in this session`);
      if (s.pcksAnswers[offset + i]! > this.#cfg.roster.parties.length - t) throw new Refuse('too many PCKS requests for this session');
    });
    digests.forEach((d, i) => {
      s.sumDigests[offset + i] = d;
      s.pcksAnswers[offset + i]!++;
    });
    // Durable, refuses past τ(n); counted before any share of the request leaves.
    const attempt = `${m.contributors.join(',')}|${m.decryptors.join(',')}`;
    let paid = s.prepaid.get(attempt);
    let count = 0;
    if (!paid) {
      paid = new Uint8Array(s.layout.ciphertexts).fill(1);
      count = paid.length;
    }
    for (let i = offset; i < offset + sums.length; i++) {
      if (paid[i] === 2) count++;
      paid[i] = 2;
    }
    if (count > 0) this.#decryptions.charge(key.publicKeySha256, key.parties.length, ctx.params, count);
    if (s.prepaid.size >= 64) s.prepaid.delete(s.prepaid.keys().next().value!);
    s.prepaid.set(attempt, paid);
    const own = parseShamirShare(ctx, key.shamirShare);
    const additive = genAdditiveShare(ctx, m.decryptors.map((p) => key.parties.indexOf(p) + 1), key.point, own);
    own.fill(0n);
    try {
      const shares = await runSteps(shareSteps(ctx, additive, ownBytes(m.analystPublicKey), sums));
      return {
        $case: 'pcksShare',
        value: { sessionId: m.sessionId, shares, sumSha256: digests, contributors: [...m.contributors], decryptors: [...m.decryptors], analystKeySha256: s.analystKeySha256, offset },
      };
    } finally {
      additive.fill(0n);
    }
  }
}
