/**
 * Issue 13 item 1, played by the attacker against the real CeremonyParty / CeremonyServer (N4096):
 * an aggregator that wants a collective key it can decrypt with picks its own s*, sets
 * K = −a·s* + e, and in a party's view replaces one other party's CKG share by K − Σ(rest) so the
 * shares it shows sum to K. Every CKG share is now committed to (signed, domain "ckks/ckg-commit")
 * before any share is revealed, so the substituted share does not open its party's commitment
 * and every party refuses, naming it. A party colluding with the aggregator cannot reveal a share
 * chosen after seeing the others', a forged commitment is refused, and `blindsum audit verify`
 * recomputes the key from the logged shares and CRS nonces and fails a transcript whose recorded
 * key is not their sum.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../crypto/bytes.ts';
import { CeremonyError, deriveCrp, type CeremonyParams, type PartyCkgShare } from '../crypto/ckks/ceremony.ts';
import { CeremonyParty } from '../crypto/ckks/ceremony-party.ts';
import type { SignedCkgCommit } from '../crypto/ckks/ckg-commit.ts';
import { CeremonyServer, type CollectiveKeyRound } from '../crypto/ckks/ceremony-server.ts';
import { ckgAggregateShares, ckgGenPublicKey, ckgGenShare, genSecretKeyShare, parseCkgShare, serializeCkgShare } from '../crypto/ckks/ckg.ts';
import { CkksContext, PARAMETER_SETS } from '../crypto/ckks/params.ts';
import { subPoly, type RnsPoly } from '../crypto/ckks/rns.ts';
import { generateIdentity, signDomain } from '../crypto/identity.ts';
import { writeNewIdentityFile } from '../services/common/keys.ts';
import { signEnvelope } from '../crypto/transcript.ts';
import { CKGCommitments, CRSCommitments, CRSNonces, PartyMessage, StartCeremony } from '../gen/blindsum/v1/blindsum.ts';
import { TranscriptLog, loadAggregatorIdentity } from '../services/aggregator/transcript-log.ts';
import { verifyFiles } from '../services/audit/audit.ts';
import { exportedEntries, serializeTranscript, type TranscriptFile } from '../services/common/transcript-file.ts';
import { verifyTranscript } from '../services/audit/verify.ts';
import { rebuildTranscript, resignEntry } from './transcript-forge.ts';
import type { Entry } from '../crypto/transcript.ts';
import { rosterDigest, sha256Hex } from '../services/common/ckks.ts';
import { CkksEntryKind } from '../services/common/ckks-kinds.ts';
import { parseRoster, type Roster } from '../services/common/roster.ts';

const ids = ['hospital-1', 'hospital-2', 'hospital-3'];
const identities = new Map(ids.map((id) => [id, generateIdentity()]));
const rosterKeys = new Map(ids.map((id) => [id, identities.get(id)!.publicKey]));
let ctx: CkksContext;
let params: CeremonyParams;
const dirs: string[] = [];

beforeAll(async () => {
  ctx = await CkksContext.create(PARAMETER_SETS.N4096);
  params = { ceremonyId: 'ceremony-rogue-0001', paramsName: ctx.params.name, rosterDigest: 'ab'.repeat(32), threshold: 2, parties: ids };
}, 60_000);
afterAll(() => {
  ctx?.[Symbol.dispose]();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Run {
  server: CeremonyServer;
  parties: CeremonyParty[];
  crp: RnsPoly;
  ckgCommits: SignedCkgCommit[];
  revealed: Map<string, ReturnType<CeremonyParty['share']>>;
}

/** Rounds 1–4 with the real classes: CRS commit/reveal, CKG commitments, and each party's revealed share. */
function runToReveal(p: CeremonyParams = params): Run {
  const server = new CeremonyServer(ctx, p, rosterKeys);
  const parties = p.parties.map((id) => new CeremonyParty(ctx, p, id, identities.get(id)!.secretKey, rosterKeys));
  parties.forEach((x) => server.receiveCommit({ party: x.self, ...x.commit() }));
  const commits = server.closeCommits();
  parties.forEach((x) => server.receiveReveal({ party: x.self, nonce: x.reveal(commits) }));
  const nonces = server.closeReveals();
  const crp = deriveCrp(ctx, p, commits, nonces); // public: anyone (the aggregator too) derives it
  parties.forEach((x) => server.receiveCkgCommit({ party: x.self, ...x.commitShare(nonces) }));
  const ckgCommits = server.closeCkgCommits();
  const revealed = new Map(parties.map((x) => [x.self, x.share(ckgCommits)]));
  return { server, parties, crp, ckgCommits, revealed };
}

/** The attacker's key K = −a·s* + e for its own s* (an ordinary CKG share of a secret it keeps). */
function rogueKey(crp: RnsPoly): RnsPoly {
  return ckgGenShare(ctx, genSecretKeyShare(ctx), crp);
}

/** K − Σ_{j ∉ {victim}} p_j: the share that makes the shown shares sum to K. */
function completing(K: RnsPoly, shares: readonly PartyCkgShare[], victim: string): Uint8Array {
  let p = K;
  for (const s of shares) if (s.party !== victim) p = subPoly(p, parseCkgShare(ctx, s.share), ctx.moduli, ctx.N);
  return serializeCkgShare(ctx, p);
}

function sumKey(shares: readonly PartyCkgShare[], crp: RnsPoly): Uint8Array {
  return ckgGenPublicKey(ctx, shares.map((s) => parseCkgShare(ctx, s.share)).reduce((a, b) => ckgAggregateShares(ctx, a, b)), crp);
}

function refusal(f: () => unknown): CeremonyError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CeremonyError);
    return e as CeremonyError;
  }
  throw new Error('expected a refusal');
}

describe('attack: rogue CKKS collective key', () => {
  it('(a) the aggregator replaces one share per view by K − Σ(rest): every party refuses, naming the share that does not open its commitment', () => {
    const r = runToReveal();
    for (const x of r.revealed) r.server.receiveShare(x[0], x[1].ckgShare, x[1].thresholdShares);
    const honest = r.server.closeShares();
    const K = rogueKey(r.crp);
    const rogue = ckgGenPublicKey(ctx, K, r.crp);
    r.parties.forEach((party, k) => {
      const victim = ids[(k + 1) % ids.length]!; // another party's share in this party's view
      const view = honest.ckgShares.map((s) => (s.party === victim ? { party: victim, share: completing(K, honest.ckgShares, victim) } : s));
      expect(sha256Hex(sumKey(view, r.crp))).toBe(sha256Hex(rogue)); // the attack is real: the shown shares sum to the rogue key
      const e = refusal(() => party.finish(rogue, view, honest.routed.get(party.self)!));
      expect(e.code).toBe('bad-share');
      expect(e.party).toBe(victim);
      expect(e.message).toMatch(new RegExp(`CKG share of ${victim} does not open its signed commitment`));
    });
  });

  it('(b) a party colluding with the aggregator cannot reveal a share chosen after seeing the others: the aggregator and every honest party refuse it', () => {
    const r = runToReveal();
    const [a, b] = ids;
    const c = ids[2]!;
    const others = [a!, b!].map((id) => ({ party: id, share: r.revealed.get(id)!.ckgShare }));
    const K = rogueKey(r.crp);
    // c saw p_a and p_b (the aggregator showed them early) and reveals K − p_a − p_b instead of its committed share.
    const chosen = completing(K, [...others, { party: c, share: new Uint8Array(0) }], c);
    const honestServer = refusal(() => r.server.receiveShare(c, chosen, r.revealed.get(c)!.thresholdShares));
    expect(honestServer.code).toBe('bad-share');
    expect(honestServer.party).toBe(c);
    // A colluding aggregator skips its own check and forwards the chosen share to everyone.
    const view = [...others, { party: c, share: chosen }];
    const rogue = ckgGenPublicKey(ctx, K, r.crp);
    expect(sha256Hex(sumKey(view, r.crp))).toBe(sha256Hex(rogue));
    const routed = new Map<string, { from: string; to: string; ciphertext: Uint8Array }[]>(ids.map((id) => [id, []]));
    for (const [, s] of r.revealed) for (const t of s.thresholdShares) routed.get(t.to)!.push(t);
    for (const party of r.parties.slice(0, 2)) {
      const e = refusal(() => party.finish(rogue, view, routed.get(party.self)!));
      expect(e.party).toBe(c);
      expect(e.message).toMatch(/does not open its signed commitment/);
    }
  });

  it('(c) an unsigned or forged CKG commitment is refused by the aggregator and, if forwarded anyway, by every party', () => {
    const server = new CeremonyServer(ctx, params, rosterKeys);
    const parties = ids.map((id) => new CeremonyParty(ctx, params, id, identities.get(id)!.secretKey, rosterKeys));
    parties.forEach((x) => server.receiveCommit({ party: x.self, ...x.commit() }));
    const commits = server.closeCommits();
    parties.forEach((x) => server.receiveReveal({ party: x.self, nonce: x.reveal(commits) }));
    const nonces = server.closeReveals();
    const real = parties.map((x) => ({ party: x.self, ...x.commitShare(nonces) }));
    // The aggregator commits, in hospital-2's name, to a share of its own choosing.
    const forgedCommitment = new Uint8Array(32).fill(7);
    const unsigned: SignedCkgCommit = { ...real[1]!, commitment: forgedCommitment, signature: new Uint8Array(64) };
    const wrongKey: SignedCkgCommit = { ...real[1]!, commitment: forgedCommitment, signature: signDomain(generateIdentity().secretKey, 'ckks/ckg-commit', forgedCommitment) };
    for (const forged of [unsigned, wrongKey]) {
      const e = refusal(() => server.receiveCkgCommit(forged));
      expect(e.code).toBe('bad-signature');
      expect(e.message).toMatch(/CKG commitment of hospital-2 is not signed by its roster key/);
    }
    const forwarded = [real[0]!, wrongKey, real[2]!];
    for (const party of [parties[0]!, parties[2]!]) {
      const e = refusal(() => party.share(forwarded));
      expect(e.code).toBe('bad-signature');
      expect(e.party).toBe('hospital-2');
    }
    // hospital-2 itself sees that its own commitment was replaced.
    expect(refusal(() => parties[1]!.share(forwarded)).message).toMatch(/bad-signature|not the one it sent/);
  });

  it('(d) audit verify recomputes the collective key: an honest ceremony verifies, a recorded key that is not the sum of the logged shares fails', async () => {
    const honest = await auditCeremony(false);
    expect(honest.ok, JSON.stringify(honest.failure)).toBe(true);
    expect(honest.sessions.find((s) => s.kind === 'ckks-key-ceremony')!.note).toMatch(/key recomputed from the logged shares and CRS nonces/);
    const rogue = await auditCeremony(true);
    expect(rogue.ok).toBe(false);
    expect(rogue.failure!.kind).toBe(CkksEntryKind.CollectivePublicKey);
    expect(rogue.failure!.reason).toMatch(/is not \(Σ p_j, a\) for the logged, committed CKG shares/);
  }, 60_000);

  it('(e) audit verify checks the CKG commitments offline: a forwarded commitment or a share-list digest rewritten by the aggregator is caught at its entry', () => {
    for (const target of [CkksEntryKind.CKGCommitments, CkksEntryKind.CollectivePublicKey]) {
      const { file, roster, aggregatorSecret } = logCeremony(false);
      expect(verifyTranscript(file, roster).ok).toBe(true);
      const entries: Entry[] = exportedEntries(file);
      const k = entries.findIndex((e) => e.kind === target);
      const e = entries[k]!;
      let body: Uint8Array;
      if (target === CkksEntryKind.CKGCommitments) {
        const m = CKGCommitments.decode(e.body);
        m.commits[1]!.commitment = new Uint8Array(32).fill(9);
        body = CKGCommitments.encode(m).finish();
      } else {
        const rec = JSON.parse(new TextDecoder().decode(e.body)) as { ckgSharesSha256: string };
        rec.ckgSharesSha256 = sha256Hex(utf8('another share list'));
        body = utf8(JSON.stringify(rec));
      }
      entries[k] = resignEntry(aggregatorSecret, e, body);
      rebuildTranscript(file, entries, aggregatorSecret);
      const bad = verifyTranscript(file, roster);
      expect(bad.ok).toBe(false);
      expect(bad.failure!.index).toBe(file.from + k);
      expect(bad.failure!.reason).toMatch(target === CkksEntryKind.CKGCommitments ? /forwards a CKG commitment of hospital-2 that differs/ : /another list of CKG shares than the logged commitments/);
    }
  }, 60_000);
});

/**
 * Drives a whole ceremony with the real classes and logs it as the aggregator's service does, in
 * a real TranscriptLog. With `rogue`, the aggregator records (and the parties — colluding, or
 * fooled by a pre-commitment build — confirm) a key K of its own instead of the sum of the logged
 * shares: every signature, order and commitment check still passes; only the recomputation fails.
 */
async function auditCeremony(rogue: boolean): Promise<Awaited<ReturnType<typeof verifyFiles>>> {
  const { dir } = logCeremony(rogue);
  return verifyFiles({ transcriptPath: join(dir, 'transcript.json'), rosterPath: join(dir, 'roster.json') });
}

function logCeremony(rogue: boolean): { dir: string; file: TranscriptFile; roster: Roster; aggregatorSecret: Uint8Array } {
  const dir = mkdtempSync(join(tmpdir(), 'blindsum-rogue-key-'));
  dirs.push(dir);
  const rosterJson = { federation: 'fed', threshold: 2, parties: ids.map((id) => ({ id, publicKey: toHex(rosterKeys.get(id)!) })) };
  const aggKey = writeNewIdentityFile(join(dir, 'aggregator.key'), 'fed-aggregator');
  const agg = loadAggregatorIdentity(dir, 'fed-aggregator', parseRoster({ ...rosterJson, aggregator: { id: aggKey.id, publicKey: toHex(aggKey.identity.publicKey) } }));
  const full = { ...rosterJson, aggregator: { id: 'fed-aggregator', publicKey: toHex(agg.identity.publicKey) } };
  const roster: Roster = parseRoster(full);
  const p: CeremonyParams = { ...params, ceremonyId: rogue ? 'ceremony-rogue-audit' : 'ceremony-honest-audit', rosterDigest: rosterDigest(roster) };
  const log = TranscriptLog.open(dir, 'fed', agg);
  const id = p.ceremonyId;
  const party = (sender: string, kind: string, body: NonNullable<PartyMessage['body']>): void => {
    log.appendParty(signEnvelope(identities.get(sender)!.secretKey, kind, id, sender, PartyMessage.encode({ body }).finish()));
  };
  log.appendAggregator(CkksEntryKind.StartCeremony, id, StartCeremony.encode({ sessionId: id, params: p.paramsName, rosterDigest: p.rosterDigest, threshold: p.threshold, parties: ids }).finish());
  const server = new CeremonyServer(ctx, p, rosterKeys);
  const parties = ids.map((x) => new CeremonyParty(ctx, p, x, identities.get(x)!.secretKey, rosterKeys));
  for (const x of parties) {
    const c = x.commit();
    server.receiveCommit({ party: x.self, ...c });
    party(x.self, CkksEntryKind.CRSCommit, { $case: 'crsCommit', value: { sessionId: id, ...c } });
  }
  const commits = server.closeCommits();
  log.appendAggregator(CkksEntryKind.CRSCommitments, id, CRSCommitments.encode({ sessionId: id, commits: commits.map((c) => ({ partyId: c.party, commitment: c.commitment, ephemeralKey: c.ephemeralKey, signature: c.signature })) }).finish());
  for (const x of parties) {
    const nonce = x.reveal(commits);
    server.receiveReveal({ party: x.self, nonce });
    party(x.self, CkksEntryKind.CRSReveal, { $case: 'crsReveal', value: { sessionId: id, nonce } });
  }
  const nonces = server.closeReveals();
  log.appendAggregator(CkksEntryKind.CRSNonces, id, CRSNonces.encode({ sessionId: id, nonces: nonces.map((n) => ({ partyId: n.party, nonce: n.nonce })) }).finish());
  for (const x of parties) {
    const c = x.commitShare(nonces);
    server.receiveCkgCommit({ party: x.self, ...c });
    party(x.self, CkksEntryKind.CKGCommit, { $case: 'ckgCommit', value: { sessionId: id, ...c } });
  }
  const ckgCommits = server.closeCkgCommits();
  log.appendAggregator(CkksEntryKind.CKGCommitments, id, CKGCommitments.encode({ sessionId: id, commits: ckgCommits.map((c) => ({ partyId: c.party, commitment: c.commitment, thresholdShareDigests: c.thresholdShareDigests, signature: c.signature })) }).finish());
  for (const x of parties) {
    const s = x.share(ckgCommits);
    server.receiveShare(x.self, s.ckgShare, s.thresholdShares);
    party(x.self, CkksEntryKind.CKGShare, { $case: 'ckgShare', value: { sessionId: id, share: s.ckgShare, thresholdShares: s.thresholdShares } });
  }
  const key: CollectiveKeyRound = server.closeShares();
  const recorded = rogue ? sha256Hex(ckgGenPublicKey(ctx, rogueKey(deriveCrp(ctx, p, commits, nonces)), deriveCrp(ctx, p, commits, nonces))) : key.publicKeySha256;
  log.appendAggregator(CkksEntryKind.CollectivePublicKey, id, utf8(JSON.stringify({ ceremonyId: id, params: p.paramsName, rosterDigest: p.rosterDigest, threshold: p.threshold, parties: ids, publicKeySha256: recorded, ckgSharesSha256: key.ckgSharesSha256 })));
  for (const x of parties) {
    const k = x.finish(key.publicKey, key.ckgShares, key.routed.get(x.self)!);
    expect(k.ckgSharesSha256).toBe(key.ckgSharesSha256);
    party(x.self, CkksEntryKind.CKGConfirm, { $case: 'ckgConfirm', value: { sessionId: id, publicKeySha256: recorded, ckgSharesSha256: k.ckgSharesSha256 } });
  }
  const file = log.export({});
  log.close();
  writeFileSync(join(dir, 'transcript.json'), serializeTranscript(file));
  writeFileSync(join(dir, 'roster.json'), JSON.stringify(full));
  return { dir, file, roster, aggregatorSecret: agg.identity.secretKey };
}
