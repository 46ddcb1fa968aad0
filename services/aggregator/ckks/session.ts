/**
 * The aggregator's side of one CKKS query (docs/ckks-backend.md): StartSession (backend "ckks",
 * naming the collective key, the analyst's key and the input chunk size) → InputCommit (SHA-256
 * of each party's ciphertexts) from every party that accepts → InputCommitments (every signed
 * commitment) → EncryptedInput (the committed ciphertexts in chunks, each naming the commitment
 * list) from the committers, each chunk added to the homomorphic sum on arrival → PCKS: t
 * contributors switch the sum to the analyst's key chunk by chunk (pcks-round.ts) → the encrypted
 * release. A PCKS request carries every contributor's signed EncryptedInput chunk, not the sum:
 * each decryptor verifies them and recomputes the sum at those positions itself, and names in its
 * signed share the sums, contributors, decryptors and analyst key, which are checked here against
 * this session's record before the share is used. An exact copy of any ciphertext accepted before
 * (in this or an earlier session: a durable table) is refused. The aggregator holds only public
 * keys, ciphertexts and PCKS shares (each an encryption under the analyst's key): nothing it holds
 * decrypts the inputs or the sum; it holds one running sum, not n inputs. Every ciphertext and
 * share is parsed by the codec's validating parsers; an invalid one drops its sender from the
 * session with the reason, and a party whose input stays incomplete is taken out of the sum again
 * from its logged chunks. If a decryptor fails, PCKS restarts with another set of t contributors
 * (the Lagrange coefficients depend on the set).
 */
import type { CkksContext } from '../../../crypto/ckks/params.ts';
import { packedLength } from '../../../crypto/ckks/wire.ts';
import type { Envelope } from '../../../crypto/transcript.ts';
import { InputCommitments, PartyMessage, StartSession, type QuerySpec, type SignedContribution } from '../../../gen/blindsum/v1/blindsum.ts';
import { defaultInputChunk, type CkksLayout } from '../../common/ckks.ts';
import { copiedInput, type InputDigestTable } from '../../common/ckks-input-digests.ts';
import { commitListDigest, ContributionSum, inputDigest, sumDigests } from '../../common/ckks-inputs.ts';
import { CkksEntryKind } from '../../common/ckks-kinds.ts';
import { BlindsumError, ErrorCode } from '../../common/errors.ts';
import type { Roster } from '../../common/roster.ts';
import type { SessionAuthorization } from '../../common/query-request.ts';
import type { PartyMessageBody } from '../gateway.ts';
import type { CkksQueryShape, CkksQueryStage } from '../deadlines.ts';
import { runPcksAttempt } from './pcks-round.ts';
import { describeFailures, RoundRunner, type RoundContext } from './rounds.ts';

export interface CkksSessionContext extends RoundContext {
  ctx: CkksContext;
  roster: Roster;
  /** SHA-256 of every input ciphertext accepted so far (durable, across sessions). */
  inputDigests: InputDigestTable;
  progress: (stage: string, message: string) => void;
  /** Counts `ciphertexts` decryptions under the collective key, durably, before a PCKS request is sent; throws to stop it (ckks/backend.ts). */
  countDecryptions?: (ciphertexts: number) => void;
}

export interface CkksSessionRequest {
  sessionId: string;
  query: QuerySpec;
  rho: number;
  analyst: string;
  ringBits: 32 | 64;
  planDigest: string;
  layout: CkksLayout;
  collectiveKeySha256: string;
  analystPublicKey: Uint8Array;
  analystKeySha256: string;
  /** The analyst's signed request and the signed analyst roster, forwarded to every party. */
  auth: SessionAuthorization;
  /** The aggregator's time to plan the query (each party plans it too), ms: part of the InputCommit deadline. */
  planMs?: number;
  /** Ciphertexts per EncryptedInput chunk; default: ~1 MiB per chunk (defaultInputChunk). */
  inputChunk?: number;
}

export interface CkksOutcome {
  /** The summed ciphertexts switched to the analyst's key, compact wire form. */
  ciphertexts: Uint8Array[];
  contributors: string[];
  decryptors: string[];
  refusals: { partyId: string; reason: string }[];
  /** Bytes received from the parties: encrypted inputs and PCKS shares. */
  bytesIn: number;
}

export class CkksSession {
  readonly #c: CkksSessionContext;
  readonly #req: CkksSessionRequest;
  readonly #rounds: RoundRunner;
  readonly #refusals = new Map<string, string>();
  #pcksStarted = false;
  /** The envelope of the message being delivered (read by the round's accept callbacks). */
  #envelope: Envelope | undefined;

  constructor(c: CkksSessionContext, req: CkksSessionRequest) {
    this.#c = c;
    this.#req = req;
    this.#rounds = new RoundRunner(c, req.sessionId);
  }

  get sessionId(): string {
    return this.#req.sessionId;
  }

  /**
   * Named like SecAggSession's for the query service: true once PCKS shares were requested —
   * from then on the analyst may be able to decrypt, so the budget is not refunded.
   */
  get unmaskingStarted(): boolean {
    return this.#pcksStarted;
  }

  deliver(partyId: string, body: PartyMessageBody, envelope: Envelope): void {
    this.#envelope = envelope;
    try {
      if (!this.#rounds.deliver(partyId, body, envelope)) {
        this.#c.log('warn', 'unexpected message ignored', { queryId: this.#req.sessionId, party: partyId, type: body.$case });
      }
    } finally {
      this.#envelope = undefined;
    }
  }

  disconnected(partyId: string): void {
    this.#rounds.disconnected(partyId);
  }

  /** The signed envelope of the message being delivered by `party`, as a PCKS request carries it. */
  #signed(party: string): SignedContribution {
    const env = this.#envelope;
    if (!env || env.sender !== party) throw new Error('internal: no envelope for the delivered message');
    return { partyId: party, kind: env.kind, sessionId: env.session, body: env.body, signature: env.signature };
  }

  #drop(failed: ReadonlyMap<string, string>): void {
    for (const [p, why] of failed) this.#refusals.set(p, why);
  }

  /** The deadline of `stage` for this query: sized from its work when the context has deadlines. */
  #deadline(stage: CkksQueryStage, n: number): number {
    const { deadlines, ctx, roster } = this.#c;
    const { layout } = this.#req;
    if (!deadlines) return this.#c.roundTimeoutMs;
    const shape: CkksQueryShape = { n, t: roster.threshold, entries: layout.entries, ciphertexts: layout.ciphertexts, ciphertextBytes: packedLength(ctx, layout.level), ...(this.#req.planMs !== undefined ? { planMs: this.#req.planMs } : {}) };
    return deadlines.ckks(stage, shape);
  }

  async run(): Promise<CkksOutcome> {
    const { gateway, roster, ctx, progress } = this.#c;
    const req = this.#req;
    const { layout } = req;
    const t = roster.threshold;
    const online = gateway.connectedIds().filter((id) => roster.publicKeys.has(id));
    if (online.length < t) {
      throw new BlindsumError(ErrorCode.FailedPrecondition, `only ${online.length} of ${roster.parties.length} parties are connected (${online.join(', ') || 'none'}); the threshold is ${t}`);
    }
    const chunk = req.inputChunk ?? defaultInputChunk(ctx, layout);
    let bytesIn = 0;
    try {
      const start = StartSession.fromPartial({
        sessionId: req.sessionId, query: req.query, backend: 'ckks', threshold: t, collusion: roster.collusion, ringBits: req.ringBits, parties: online, planDigest: req.planDigest,
        analyst: req.analyst, rho: req.rho, ckksKeySha256: req.collectiveKeySha256, analystKeySha256: req.analystKeySha256, ckksInputChunk: chunk, ...req.auth,
      });
      this.#rounds.logAggregator(CkksEntryKind.StartSession, StartSession.encode(start).finish());
      this.#rounds.send(online, { $case: 'startSession', value: start });

      // Commit round: each party first commits to the SHA-256 of its ciphertexts; every signed
      // commitment is forwarded before any input is revealed, so no input can depend on another.
      const committed = new Map<string, string[]>();
      const committedBy = new Map<string, string>();
      const commitEnvelopes = new Map<string, SignedContribution>();
      const hex = /^[0-9a-f]{64}$/;
      const cr = await this.#rounds.collect('InputCommit', online, (party, body) => {
        if (body.$case !== 'inputCommit') return false;
        const d = body.value.ciphertextsSha256;
        if (d.length !== layout.ciphertexts || d.some((x) => !hex.test(x))) throw new RangeError(`expected ${layout.ciphertexts} hex SHA-256 digests`);
        if (new Set(d).size !== d.length) throw new RangeError('two of the committed ciphertexts are equal');
        // No two parties may commit to an equal ciphertext (a copy of another's input, in this session).
        const other = d.map((x) => committedBy.get(x)).find((p) => p !== undefined);
        if (other) throw new RangeError(`it commits to a ciphertext equal to one ${other} committed to`);
        for (const x of d) committedBy.set(x, party);
        committed.set(party, [...d]);
        commitEnvelopes.set(party, this.#signed(party));
        return true;
      }, this.#deadline('InputCommit', online.length));
      this.#drop(cr.failed);
      if (cr.accepted.length < t) {
        throw new BlindsumError(ErrorCode.Aborted, `only ${cr.accepted.length} parties committed to an input (${cr.accepted.join(', ') || 'none'}); the threshold is ${t}${cr.failed.size ? `; ${describeFailures(cr.failed)}` : ''}`);
      }
      const commitments = { sessionId: req.sessionId, commits: cr.accepted.map((p) => commitEnvelopes.get(p)!) };
      const commitmentsSha256 = commitListDigest(commitments.commits);
      this.#rounds.logAggregator(CkksEntryKind.InputCommitments, InputCommitments.encode(commitments).finish());
      this.#rounds.send(cr.accepted, { $case: 'inputCommitments', value: commitments });
      progress('InputCommit', `${cr.accepted.length} of ${online.length} parties committed to their encrypted inputs`);

      // EncryptedInput, in chunks: every ciphertext validated (level, form, scale), equal to its
      // commitment, naming the forwarded list, and no exact copy of an input accepted before (this
      // session or any earlier one), then added to the running sum; the chunk is not kept.
      using sum = new ContributionSum(ctx, layout.ciphertexts);
      const received = new Map<string, number>();
      /** Digests of every chunk added to the sum, recorded durably in one transaction before the sum is used. */
      const added = new Map<string, string[]>();
      const r = await this.#rounds.collect('EncryptedInput', cr.accepted, (party, body) => {
        if (body.$case !== 'encryptedInput') return false;
        const v = body.value;
        const at = received.get(party) ?? 0;
        if (v.offset !== at) throw new RangeError(`expected the chunk at ciphertext ${at}, got one at ${v.offset}`);
        const len = Math.min(chunk, layout.ciphertexts - at);
        if (v.ciphertexts.length !== len) throw new RangeError(`expected a chunk of ${len} ciphertexts at offset ${at}, got ${v.ciphertexts.length}`);
        const parsed = sum.parseChunk(ctx, layout.level, at, v.ciphertexts, 'ciphertexts'); // level, form, scale, residues
        if (v.commitmentsSha256 !== commitmentsSha256) throw new RangeError('the encrypted input names another commitment list than the one forwarded');
        const digests = v.ciphertexts.map(inputDigest);
        const own = committed.get(party)!;
        if (digests.some((d, i) => d !== own[at + i])) throw new RangeError('the encrypted input differs from its commitment');
        const copy = copiedInput(this.#c.inputDigests, digests, req.sessionId, party, at);
        if (copy) throw new RangeError(copy);
        sum.addParsedChunk(parsed);
        if (!added.has(party)) added.set(party, []);
        added.get(party)!.push(...digests);
        bytesIn += v.ciphertexts.reduce((a, b) => a + b.length, 0);
        received.set(party, at + len);
        return at + len === layout.ciphertexts ? true : 'more';
      }, this.#deadline('EncryptedInput', cr.accepted.length));
      this.#drop(r.failed);
      // A party whose input stayed incomplete is taken out of the sum again, from its logged chunks.
      for (const party of r.failed.keys()) {
        if (!received.get(party)) continue;
        for (const bytes of this.#c.transcript.partyBodies(req.sessionId, party, CkksEntryKind.EncryptedInput)) {
          const m = PartyMessage.decode(bytes).body;
          if (m?.$case === 'encryptedInput') sum.subPackedChunk(ctx, layout.level, m.value.offset, m.value.ciphertexts, 'ciphertexts');
        }
        this.#c.log('warn', 'incomplete encrypted input taken out of the sum; party dropped', { queryId: req.sessionId, party });
      }
      // Durable before the sum is used: a copy of any of these in a later session is refused.
      this.#c.inputDigests.recordAll(added, req.sessionId);
      added.clear();
      const contributors = r.accepted;
      progress('EncryptedInput', `${contributors.length} of ${online.length} parties sent encrypted inputs (${layout.ciphertexts} ciphertext${layout.ciphertexts > 1 ? 's' : ''} each, level ${layout.level}, in chunks of ${chunk})`);
      if (contributors.length < t) {
        throw new BlindsumError(ErrorCode.Aborted, `only ${contributors.length} parties contributed (${contributors.join(', ') || 'none'}); the threshold is ${t}${r.failed.size ? `; ${describeFailures(r.failed)}` : ''}`);
      }

      // Aggregation: the homomorphic sum, in NTT form (what PCKS shares are computed on); every
      // decryptor recomputes it, chunk by chunk, from the signed contributions with the same function.
      const sums = sum.sums();
      const sumSha256 = sumDigests(sums);
      progress('Aggregation', `${contributors.length} encrypted inputs added (${layout.ciphertexts} ciphertext${layout.ciphertexts > 1 ? 's' : ''}); each decryptor recomputes the sum from the ${contributors.length} signed inputs`);

      // PCKS: any t contributors switch the sum to the analyst's key.
      let candidates = contributors.filter((p) => gateway.connection(p));
      for (;;) {
        if (candidates.length < t) {
          throw new BlindsumError(ErrorCode.Aborted, `only ${candidates.length} contributors remain to decrypt; the threshold is ${t}; ${[...this.#refusals].map(([p, w]) => `${p}: ${w}`).join('; ')}`);
        }
        const decryptors = candidates.slice(0, t);
        this.#c.countDecryptions?.(sumSha256.length);
        const record = { sessionId: req.sessionId, contributors, decryptors, analystKeySha256: req.analystKeySha256, sumSha256 };
        this.#rounds.logAggregator(CkksEntryKind.PCKSRequest, new TextEncoder().encode(JSON.stringify(record)));
        this.#pcksStarted = true; // from here on the analyst may decrypt: no budget refund
        const p = await runPcksAttempt({
          ctx, rounds: this.#rounds, gateway, transcript: this.#c.transcript, sessionId: req.sessionId, layout, chunk, contributors, decryptors,
          analystPublicKey: req.analystPublicKey, analystKeySha256: req.analystKeySha256, sums, sumSha256, deadlineMs: this.#deadline('PCKSShare', contributors.length),
        });
        bytesIn += p.bytesIn;
        if (p.ciphertexts) {
          progress('PCKS', `${decryptors.join(', ')} switched the sum to the analyst's key`);
          return { ciphertexts: p.ciphertexts, contributors, decryptors, refusals: [...this.#refusals].map(([partyId, reason]) => ({ partyId, reason })), bytesIn };
        }
        if (p.failed.size === 0) throw new Error('internal: a PCKS attempt ended incomplete without a failed decryptor');
        this.#drop(p.failed);
        progress('PCKS', `decryption by ${decryptors.join(', ')} failed (${describeFailures(p.failed)}); retrying without ${[...p.failed.keys()].join(', ')}`);
        candidates = candidates.filter((c) => !p.failed.has(c) && gateway.connection(c));
      }
    } catch (e) {
      this.#rounds.abort(online, 'session failed');
      this.#c.log('warn', 'session failed', { queryId: req.sessionId, error: (e as Error).message });
      throw e;
    }
  }
}
