/**
 * The aggregator's side of one CKKS query (docs/ckks-backend.md): StartSession (backend "ckks",
 * naming the collective key and the analyst's key) → EncryptedInput from every party that accepts
 * → homomorphic sum → PCKSRequest to t contributors, whose shares switch the sum to the analyst's
 * key → the encrypted release. The aggregator holds only public keys, ciphertexts and PCKS shares
 * (each an encryption under the analyst's key): nothing it holds decrypts the inputs or the sum.
 * Every ciphertext and share is parsed by the codec's validating parsers; an invalid one drops its
 * sender from the session with the reason. If a decryptor fails, PCKS restarts with another set
 * of t contributors (the Lagrange coefficients depend on the set).
 */
import { addCiphertexts, toNttForm } from '../../crypto/ckks/encoder.ts';
import { parseCiphertext } from '../../crypto/ckks/codec.ts';
import type { CkksContext } from '../../crypto/ckks/params.ts';
import { parsePcksShare, pcksAggregateShares, pcksKeySwitch, type PCKSShare } from '../../crypto/ckks/pcks.ts';
import { packCiphertext, unpackCiphertext } from '../../crypto/ckks/wire.ts';
import type { Envelope } from '../../crypto/transcript.ts';
import { StartSession, type QuerySpec } from '../../gen/blindsum/v1/blindsum.ts';
import { ownBytes, sha256Hex, type CkksLayout } from '../common/ckks.ts';
import { CkksEntryKind } from '../common/ckks-kinds.ts';
import { BlindsumError, ErrorCode } from '../common/errors.ts';
import type { Roster } from '../common/roster.ts';
import type { SessionAuthorization } from '../common/query-request.ts';
import type { PartyMessageBody } from './gateway.ts';
import { describeFailures, RoundRunner, type RoundContext } from './ckks-rounds.ts';

export interface CkksSessionContext extends RoundContext {
  ctx: CkksContext;
  roster: Roster;
  progress: (stage: string, message: string) => void;
  /** Counts `ciphertexts` decryptions under the collective key, durably, before a PCKS request is sent; throws to stop it (ckks-backend.ts). */
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
    if (!this.#rounds.deliver(partyId, body, envelope)) {
      this.#c.log('warn', 'unexpected message ignored', { session: this.#req.sessionId, party: partyId, type: body.$case });
    }
  }

  disconnected(partyId: string): void {
    this.#rounds.disconnected(partyId);
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

      // EncryptedInput: every ciphertext validated (level, form, scale) before it is summed.
      const inputs = new Map<string, Uint8Array[]>();
      const scale = 2 ** ctx.params.scaleBits;
      const r = await this.#rounds.collect('EncryptedInput', online, (party, body) => {
        if (body.$case !== 'encryptedInput') return false;
        const cts = body.value.ciphertexts;
        if (cts.length !== layout.ciphertexts) throw new RangeError(`expected ${layout.ciphertexts} ciphertexts, got ${cts.length}`);
        const sealed = cts.map((bytes, i) => {
          const ct = unpackCiphertext(ctx, ownBytes(bytes), `ciphertexts[${i}]`);
          const d = parseCiphertext(ctx, ct, `ciphertexts[${i}]`);
          if (d.level !== layout.level || d.polys.length !== 2 || d.isNttForm || d.scale !== scale || d.correctionFactor !== 1n) {
            throw new RangeError(`ciphertexts[${i}]: expected a fresh coefficient-form ciphertext at level ${layout.level} with scale 2^${ctx.params.scaleBits}`);
          }
          bytesIn += bytes.length;
          return ct;
        });
        inputs.set(party, sealed);
        return true;
      });
      this.#drop(r.failed);
      const contributors = r.accepted;
      progress('EncryptedInput', `${contributors.length} of ${online.length} parties sent encrypted inputs (${layout.ciphertexts} ciphertext${layout.ciphertexts > 1 ? 's' : ''} each, level ${layout.level})`);
      if (contributors.length < t) {
        throw new BlindsumError(ErrorCode.Aborted, `only ${contributors.length} parties contributed (${contributors.join(', ') || 'none'}); the threshold is ${t}${r.failed.size ? `; ${describeFailures(r.failed)}` : ''}`);
      }

      // Aggregation: the homomorphic sum, in NTT form (what PCKS shares are computed on).
      const sums = Array.from({ length: layout.ciphertexts }, (_, c) => toNttForm(ctx, addCiphertexts(ctx, contributors.map((p) => inputs.get(p)![c]!))));
      inputs.clear();
      const packedSums = sums.map((s) => packCiphertext(ctx, s));
      progress('Aggregation', `${contributors.length} encrypted inputs added (${layout.ciphertexts} × ${packedSums[0]!.length} bytes)`);

      // PCKS: any t contributors switch the sum to the analyst's key.
      let candidates = contributors.filter((p) => gateway.connection(p));
      for (;;) {
        if (candidates.length < t) {
          throw new BlindsumError(ErrorCode.Aborted, `only ${candidates.length} contributors remain to decrypt; the threshold is ${t}; ${[...this.#refusals].map(([p, w]) => `${p}: ${w}`).join('; ')}`);
        }
        const decryptors = candidates.slice(0, t);
        this.#c.countDecryptions?.(sums.length);
        const record = { sessionId: req.sessionId, contributors, decryptors, analystKeySha256: req.analystKeySha256, sumSha256: sums.map(sha256Hex) };
        this.#rounds.logAggregator(CkksEntryKind.PCKSRequest, new TextEncoder().encode(JSON.stringify(record)));
        this.#pcksStarted = true; // from here on the analyst may decrypt: no budget refund
        this.#rounds.send(decryptors, {
          $case: 'pcksRequest',
          value: { sessionId: req.sessionId, contributors, decryptors, analystPublicKey: req.analystPublicKey, ciphertexts: packedSums },
        });
        const shares = new Map<string, PCKSShare[]>();
        const p = await this.#rounds.collect('PCKSShare', decryptors, (party, body) => {
          if (body.$case !== 'pcksShare') return false;
          if (body.value.shares.length !== sums.length) throw new RangeError(`expected ${sums.length} PCKS shares, got ${body.value.shares.length}`);
          shares.set(party, body.value.shares.map((bytes, i) => {
            const share = parsePcksShare(ctx, unpackCiphertext(ctx, ownBytes(bytes), `shares[${i}]`));
            if (share.h0.length !== layout.level * ctx.N) throw new RangeError(`shares[${i}]: expected level ${layout.level}`);
            bytesIn += bytes.length;
            return share;
          }));
          return true;
        });
        if (p.failed.size === 0) {
          const ciphertexts = sums.map((sum, c) => {
            const agg = decryptors.map((d) => shares.get(d)![c]!).reduce((a, b) => pcksAggregateShares(ctx, a, b));
            return packCiphertext(ctx, pcksKeySwitch(ctx, sum, agg));
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
