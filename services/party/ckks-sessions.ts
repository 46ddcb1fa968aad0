/**
 * A party's side of the CKKS backend (docs/ckks-backend.md): the key ceremony
 * (crypto/ckks/ceremony.ts; the resulting key share saved 0600 and reloaded on restart) and each
 * CKKS query — the same checked, noisy statistics as secure aggregation (contribution.ts),
 * charged to the party's ledger, then encrypted under the collective key at the lowest exact
 * level; later a PCKS share towards the analyst's key, only for a sum of at least t contributors
 * and with the Lagrange coefficients of the announced decryptor set. node-seal is loaded on the
 * first CKKS message, once.
 */
import { CeremonyError, CeremonyParty, type CeremonyKeyShare } from '../../crypto/ckks/ceremony.ts';
import { parseCiphertext } from '../../crypto/ckks/codec.ts';
import { PackedEncryptor } from '../../crypto/ckks/encoder.ts';
import type { CkksContext } from '../../crypto/ckks/params.ts';
import { pcksGenShare, serializePcksShare } from '../../crypto/ckks/pcks.ts';
import { genAdditiveShare, parseShamirShare } from '../../crypto/ckks/threshold.ts';
import { packCiphertext, unpackCiphertext } from '../../crypto/ckks/wire.ts';
import type { AggregatorMessage, PCKSRequest, StartCeremony, StartSession } from '../../gen/blindsum/v1/blindsum.ts';
import { describeQuery } from '../../stats/index.ts';
import { CKKS_PARAMS, ckksContext, ckksLayout, ownBytes, rosterDigest, sha256Hex, toCkksValues, type CkksLayout } from '../common/ckks.ts';
import { publicMessage, type Logger } from '../common/errors.ts';
import type { PartyConfig } from './config.ts';
import { loadCkksKey, saveCkksKey } from './ckks-keys.ts';
import { DecryptionCount } from './decryption-count.ts';
import { prepareContribution, Refuse } from './contribution.ts';
import type { PartyLedger } from './ledger.ts';
import type { Reply } from './sessions.ts';

type Body = NonNullable<AggregatorMessage['body']>;

/** Stage names, as in the transcript and the aggregator's progress events. */
export type CkksReplyStage = 'CRSCommit' | 'CRSReveal' | 'CKGCommit' | 'CKGShare' | 'CKGConfirm' | 'EncryptedInput' | 'PCKSShare';

const CEREMONY_CASES: ReadonlySet<string> = new Set(['startCeremony', 'crsCommitments', 'crsNonces', 'ckgCommitments', 'collectivePublicKey']);
const MAX_SESSIONS = 64;

export interface CkksPartyOptions {
  /** Overrides the decryption bound τ(n) of crypto/ckks/params.ts (tests only). */
  decryptionBound?: number;
}

interface Session {
  layout: CkksLayout;
  parties: string[];
  analystKeySha256: string;
  /** Digests of the sums a PCKS share was given for (one sum per session), and how many times. */
  sumDigests: string[] | undefined;
  pcksAnswers: number;
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

  /** Loads the stored key share (ConfigError if its file is unsafe or malformed) and opens the decryption count. */
  constructor(cfg: PartyConfig, log: Logger, ledger: PartyLedger, options: CkksPartyOptions = {}) {
    this.#cfg = cfg;
    this.#decryptions = new DecryptionCount(cfg.stateDir, options.decryptionBound);
    this.#log = log;
    this.#ledger = ledger;
    this.#rosterDigest = rosterDigest(cfg.roster);
    this.#key = loadCkksKey(cfg.stateDir, cfg.identity.id);
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
    if (CEREMONY_CASES.has(body.$case) || body.$case === 'pcksRequest') return true;
    if (body.$case === 'startSession') return body.value.backend === 'ckks';
    if (body.$case === 'abort') return this.#sessions.has(body.value.sessionId) || this.#ceremony?.params.ceremonyId === body.value.sessionId;
    return false;
  }

  async handle(body: Body): Promise<{ reply?: Reply; stage?: CkksReplyStage }> {
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
          const out = c.commitShare(body.value.nonces.map((x) => ({ party: x.partyId, nonce: ownBytes(x.nonce) })));
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
          const key = c.finish(ownBytes(v.publicKey), v.ckgShares.map((s) => ({ party: s.partyId, share: ownBytes(s.share) })), v.thresholdShares.map((s) => ({ from: s.from, to: s.to, ciphertext: ownBytes(s.ciphertext) })));
          saveCkksKey(this.#cfg.stateDir, this.#cfg.identity.id, key);
          this.#key = key;
          this.#ceremony = undefined;
          this.#log('info', 'CKKS key share stored (0600)', { ceremony: key.ceremonyId, publicKeySha256: key.publicKeySha256 });
          return { reply: { $case: 'ckgConfirm', value: { sessionId, publicKeySha256: key.publicKeySha256, ckgSharesSha256: key.ckgSharesSha256 } }, stage: 'CKGConfirm' };
        }
        case 'startSession':
          return { reply: this.#start(ctx, body.value), stage: 'EncryptedInput' };
        case 'pcksRequest':
          return { reply: this.#pcks(ctx, body.value), stage: 'PCKSShare' };
        case 'abort':
          this.#log('info', 'CKKS run aborted by the aggregator', { session: sessionId, reason: body.value.reason });
          this.#end(sessionId);
          return {};
        default:
          return {};
      }
    } catch (e) {
      // Refusals, protocol and codec errors name a check or a field, never a secret.
      const safe = e instanceof Refuse || e instanceof CeremonyError || e instanceof RangeError || publicMessage(e) !== 'internal error';
      const reason = safe ? (e as Error).message : 'internal error at the party';
      if (!(e instanceof Refuse)) this.#log('warn', 'CKKS step refused', { session: sessionId, step: body.$case, error: (e as Error).message });
      this.#end(sessionId);
      return sessionId ? { reply: { $case: 'refusal', value: { sessionId, reason } } } : {};
    }
  }

  close(): void {
    this.abortAll();
    this.#decryptions.close();
  }

  abortAll(): void {
    this.#ceremony?.abort();
    this.#ceremony = undefined;
    this.#sessions.clear();
  }

  #end(sessionId: string): void {
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

  #start(ctx: CkksContext, req: StartSession): Reply {
    const key = this.#key;
    if (this.#sessions.has(req.sessionId)) throw new Refuse('session id already in use');
    if (!key || key.rosterDigest !== this.#rosterDigest) throw new Refuse('this party holds no CKKS key share for the current roster (the key ceremony has not completed)');
    if (req.ckksKeySha256 !== key.publicKeySha256) {
      throw new Refuse(`the aggregator asks for collective key ${req.ckksKeySha256.slice(0, 12)}…, this party holds ${key.publicKeySha256.slice(0, 12)}…; a new key ceremony is needed`);
    }
    if (!/^[0-9a-f]{64}$/.test(req.analystKeySha256)) throw new Refuse('malformed analyst key digest');
    const c = prepareContribution(this.#cfg, this.#ledger, req, 'ckks');
    const layout = ckksLayout(ctx, c.plan, this.#cfg.schema, c.noise);
    const values = toCkksValues(layout, c.sums);
    c.sums.fill(0n);
    if (c.rho > 0) {
      // Charge this party's own ledger durably before its noisy contribution leaves.
      try {
        this.#ledger.charge(req.sessionId, req.analyst, c.rho);
      } catch (e) {
        throw new Refuse((e as Error).message);
      }
    }
    let ciphertexts: Uint8Array[];
    {
      using enc = new PackedEncryptor(ctx, key.publicKey, layout.level, { nttForm: false });
      ciphertexts = enc.encrypt(values).map((ct) => packCiphertext(ctx, ct));
    }
    values.fill(0);
    if (this.#sessions.size >= MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value!);
    this.#sessions.set(req.sessionId, { layout, parties: c.parties, analystKeySha256: req.analystKeySha256, sumDigests: undefined, pcksAnswers: 0 });
    this.#log('info', 'CKKS session accepted', { session: req.sessionId, query: describeQuery(c.query), analyst: req.analyst, rowsUsed: c.rowsUsed, level: layout.level, ciphertexts: ciphertexts.length });
    return { $case: 'encryptedInput', value: { sessionId: req.sessionId, ciphertexts } };
  }

  #pcks(ctx: CkksContext, m: PCKSRequest): Reply {
    const s = this.#sessions.get(m.sessionId);
    const key = this.#key;
    if (!s || !key) throw new Refuse(`no CKKS session ${JSON.stringify(m.sessionId)} at this party`);
    const self = this.#cfg.identity.id;
    const t = this.#cfg.roster.threshold;
    const sortedUnique = (xs: readonly string[]): boolean => xs.every((x, i) => i === 0 || xs[i - 1]! < x);
    if (sha256Hex(m.analystPublicKey) !== s.analystKeySha256) throw new Refuse('the analyst key differs from the one announced at StartSession');
    if (!sortedUnique(m.contributors) || m.contributors.some((p) => !s.parties.includes(p)) || m.contributors.length < t || !m.contributors.includes(self)) {
      throw new Refuse(`contributors must be at least t = ${t} session participants, sorted, this party included`);
    }
    if (!sortedUnique(m.decryptors) || m.decryptors.some((p) => !m.contributors.includes(p) || !key.parties.includes(p)) || m.decryptors.length < t || !m.decryptors.includes(self)) {
      throw new Refuse(`decryptors must be at least t = ${t} contributors, sorted, this party included`);
    }
    if (m.ciphertexts.length !== s.layout.ciphertexts) throw new Refuse(`expected ${s.layout.ciphertexts} summed ciphertexts, got ${m.ciphertexts.length}`);
    const sums = m.ciphertexts.map((bytes, i) => {
      const ct = unpackCiphertext(ctx, ownBytes(bytes), `ciphertexts[${i}]`);
      const d = parseCiphertext(ctx, ct, `ciphertexts[${i}]`);
      if (d.level !== s.layout.level || d.polys.length !== 2 || !d.isNttForm) throw new Refuse(`ciphertexts[${i}]: expected an NTT-form sum at level ${s.layout.level}`);
      return ct;
    });
    const digests = sums.map(sha256Hex);
    // One sum per session; a retry (another decryptor set after a dropout) must be for the same sum.
    if (s.sumDigests && digests.some((d, i) => d !== s.sumDigests![i])) throw new Refuse('a PCKS share was already given for another sum in this session');
    if (s.pcksAnswers > this.#cfg.roster.parties.length - t) throw new Refuse('too many PCKS requests for this session');
    s.sumDigests = digests;
    s.pcksAnswers++;
    this.#decryptions.charge(key.publicKeySha256, key.parties.length, ctx.params, sums.length); // durable, refuses past τ(n)
    const own = parseShamirShare(ctx, key.shamirShare);
    const additive = genAdditiveShare(ctx, m.decryptors.map((p) => key.parties.indexOf(p) + 1), key.point, own);
    own.fill(0n);
    try {
      const analystPk = ownBytes(m.analystPublicKey);
      const shares = sums.map((ct) => packCiphertext(ctx, serializePcksShare(ctx, pcksGenShare(ctx, additive, analystPk, ct))));
      return { $case: 'pcksShare', value: { sessionId: m.sessionId, shares } };
    } finally {
      additive.fill(0n);
    }
  }
}
