/**
 * The aggregator's side of one CKKS query (docs/ckks-backend.md): StartSession (backend "ckks",
 * naming the collective key and the analyst's key) → InputCommit (SHA-256 of each party's
 * ciphertexts) from every party that accepts → InputCommitments (every signed commitment) →
 * EncryptedInput (the committed ciphertexts, naming the commitment list) from the committers
 * → homomorphic sum → PCKSRequest to t contributors, whose shares switch the sum to the analyst's
 * key → the encrypted release. The PCKS request carries every contributor's signed EncryptedInput
 * envelope, not the sum: each decryptor verifies them and recomputes the sum itself, and names in
 * its signed share the sums, contributors, decryptors and analyst key, which are checked here
 * against this session's record before the share is used. An exact copy of any ciphertext accepted
 * before (in this or an earlier session: a durable table) is refused. The aggregator holds only public keys, ciphertexts and PCKS shares
 * (each an encryption under the analyst's key): nothing it holds decrypts the inputs or the sum.
 * Every ciphertext and share is parsed by the codec's validating parsers; an invalid one drops its
 * sender from the session with the reason. If a decryptor fails, PCKS restarts with another set
 * of t contributors (the Lagrange coefficients depend on the set).
 */
import type { CkksContext } from '../../../crypto/ckks/params.ts';
import { pcksCombine, unpackPcksShare } from '../../../crypto/ckks/pcks.ts';
import { packCiphertext } from '../../../crypto/ckks/wire.ts';
import type { Envelope } from '../../../crypto/transcript.ts';
import { InputCommitments, StartSession, type QuerySpec, type SignedContribution } from '../../../gen/blindsum/v1/blindsum.ts';
import type { CkksLayout } from '../../common/ckks.ts';
import { copiedInput, type InputDigestTable } from '../../common/ckks-input-digests.ts';
import { commitListDigest, inputDigest, parseInputCiphertexts, sumContributions, sumDigests } from '../../common/ckks-inputs.ts';
import { CkksEntryKind } from '../../common/ckks-kinds.ts';
import { BlindsumError, ErrorCode } from '../../common/errors.ts';
import type { Roster } from '../../common/roster.ts';
import type { SessionAuthorization } from '../../common/query-request.ts';
import type { PartyMessageBody } from '../gateway.ts';
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
        this.#c.log('warn', 'unexpected message ignored', { session: this.#req.sessionId, party: partyId, type: body.$case });
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

  async run(): Promise<CkksOutcome> {
    const { gateway, roster, ctx, progress } = this.#c;
    const req = this.#req;
    const { layout } = req;
    const t = roster.threshold;
    const online = gateway.connectedIds().filter((id) => roster.publicKeys.has(id));
    if (online.length < t) {
      throw new BlindsumError(ErrorCode.FailedPrecondition, `only ${online.length} of ${roster.parties.length} parties are connected (${online.join(', ') || 'none'}); the threshold is ${t}`);
    }
    let bytesIn = 0;
    try {
      const start = StartSession.fromPartial({
        sessionId: req.sessionId, query: req.query, backend: 'ckks', threshold: t, collusion: roster.collusion, ringBits: req.ringBits, parties: online, planDigest: req.planDigest,
        analyst: req.analyst, rho: req.rho, ckksKeySha256: req.collectiveKeySha256, analystKeySha256: req.analystKeySha256, ...req.auth,
      });
      this.#rounds.logAggregator(CkksEntryKind.StartSession, StartSession.encode(start).finish());
      this.#rounds.send(online, { $case: 'startSession', value: start });

      // Commit round: each party first commits to the SHA-256 of its ciphertexts; every signed
      // commitment is forwarded before any input is revealed, so no input can depend on another.
      const committed = new Map<string, string[]>();
      const commitEnvelopes = new Map<string, SignedContribution>();
      const hex = /^[0-9a-f]{64}$/;
      const cr = await this.#rounds.collect('InputCommit', online, (party, body) => {
        if (body.$case !== 'inputCommit') return false;
        const d = body.value.ciphertextsSha256;
        if (d.length !== layout.ciphertexts || d.some((x) => !hex.test(x))) throw new RangeError(`expected ${layout.ciphertexts} hex SHA-256 digests`);
        committed.set(party, [...d]);
        commitEnvelopes.set(party, this.#signed(party));
        return true;
      });
      this.#drop(cr.failed);
      if (cr.accepted.length < t) {
        throw new BlindsumError(ErrorCode.Aborted, `only ${cr.accepted.length} parties committed to an input (${cr.accepted.join(', ') || 'none'}); the threshold is ${t}${cr.failed.size ? `; ${describeFailures(cr.failed)}` : ''}`);
      }
      const commitments = { sessionId: req.sessionId, commits: cr.accepted.map((p) => commitEnvelopes.get(p)!) };
      const commitmentsSha256 = commitListDigest(commitments.commits);
      this.#rounds.logAggregator(CkksEntryKind.InputCommitments, InputCommitments.encode(commitments).finish());
      this.#rounds.send(cr.accepted, { $case: 'inputCommitments', value: commitments });
      progress('InputCommit', `${cr.accepted.length} of ${online.length} parties committed to their encrypted inputs`);

      // EncryptedInput: every ciphertext validated (level, form, scale), equal to its commitment,
      // naming the forwarded list, and no exact copy of an input accepted before (this session or
      // any earlier one), before it is summed.
      const inputs = new Map<string, Uint8Array[]>();
      const envelopes = new Map<string, SignedContribution>();
      const r = await this.#rounds.collect('EncryptedInput', cr.accepted, (party, body) => {
        if (body.$case !== 'encryptedInput') return false;
        const cts = body.value.ciphertexts;
        const sealed = parseInputCiphertexts(ctx, layout, cts);
        const digests = cts.map(inputDigest);
        if (digests.some((d, i) => d !== committed.get(party)![i])) throw new RangeError('the encrypted input differs from its commitment');
        if (body.value.commitmentsSha256 !== commitmentsSha256) throw new RangeError('the encrypted input names another commitment list than the one forwarded');
        if (new Set(digests).size !== digests.length) throw new RangeError('two of the ciphertexts are equal');
        const copy = copiedInput(this.#c.inputDigests, digests, req.sessionId, party);
        if (copy) throw new RangeError(copy);
        this.#c.inputDigests.record(digests, req.sessionId, party);
        bytesIn += cts.reduce((a, b) => a + b.length, 0);
        inputs.set(party, sealed);
        envelopes.set(party, this.#signed(party));
        return true;
      });
      this.#drop(r.failed);
      const contributors = r.accepted;
      progress('EncryptedInput', `${contributors.length} of ${online.length} parties sent encrypted inputs (${layout.ciphertexts} ciphertext${layout.ciphertexts > 1 ? 's' : ''} each, level ${layout.level})`);
      if (contributors.length < t) {
        throw new BlindsumError(ErrorCode.Aborted, `only ${contributors.length} parties contributed (${contributors.join(', ') || 'none'}); the threshold is ${t}${r.failed.size ? `; ${describeFailures(r.failed)}` : ''}`);
      }

      // Aggregation: the homomorphic sum, in NTT form (what PCKS shares are computed on); every
      // decryptor recomputes it from the signed contributions with the same function.
      const sums = sumContributions(ctx, contributors.map((p) => inputs.get(p)!));
      inputs.clear();
      const sumSha256 = sumDigests(sums);
      const contributions = contributors.map((p) => envelopes.get(p)!);
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
        this.#rounds.send(decryptors, {
          $case: 'pcksRequest',
          value: { sessionId: req.sessionId, contributors, decryptors, analystPublicKey: req.analystPublicKey, contributions },
        });
        const shares = new Map<string, Uint8Array[]>();
        const p = await this.#rounds.collect('PCKSShare', decryptors, (party, body) => {
          if (body.$case !== 'pcksShare') return false;
          const v = body.value;
          if (v.shares.length !== sums.length) throw new RangeError(`expected ${sums.length} PCKS shares, got ${v.shares.length}`);
          // The share must name exactly what this session asked to key-switch.
          const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
          if (!same(v.sumSha256, sumSha256)) throw new RangeError('the share names other sums than the homomorphic sum of the contributions');
          if (!same(v.contributors, contributors)) throw new RangeError('the share names other contributors than the PCKS request');
          if (!same(v.decryptors, decryptors)) throw new RangeError('the share names other decryptors than the PCKS request');
          if (v.analystKeySha256 !== req.analystKeySha256) throw new RangeError('the share names another analyst key than the PCKS request');
          shares.set(party, body.value.shares.map((bytes, i) => {
            const share = unpackPcksShare(ctx, bytes, layout.level, `shares[${i}]`);
            bytesIn += bytes.length;
            return share;
          }));
          return true;
        });
        if (p.failed.size === 0) {
          const ciphertexts = sums.map((sum, c) => {
            return packCiphertext(ctx, pcksCombine(ctx, sum, decryptors.map((d) => shares.get(d)![c]!)));
          });
          progress('PCKS', `${decryptors.join(', ')} switched the sum to the analyst's key`);
          return { ciphertexts, contributors, decryptors, refusals: [...this.#refusals].map(([partyId, reason]) => ({ partyId, reason })), bytesIn };
        }
        this.#drop(p.failed);
        progress('PCKS', `decryption by ${decryptors.join(', ')} failed (${describeFailures(p.failed)}); retrying without ${[...p.failed.keys()].join(', ')}`);
        candidates = candidates.filter((c) => !p.failed.has(c) && gateway.connection(c));
      }
    } catch (e) {
      this.#rounds.abort(online, 'session failed');
      this.#c.log('warn', 'session failed', { session: req.sessionId, error: (e as Error).message });
      throw e;
    }
  }
}
