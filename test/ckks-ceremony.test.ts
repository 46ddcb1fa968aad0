/**
 * The CKKS key ceremony (crypto/ckks/ceremony.ts, ceremony-server.ts) run in process with N4096: every party ends
 * with the same collective key; any t of n decrypt a sum exactly through PCKS to an analyst key;
 * and a substituted key, a tampered threshold share, a forged commitment or a nonce that does
 * not open its commitment are each refused, naming the culprit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CeremonyError, type CeremonyKeyShare, type CeremonyParams } from '../crypto/ckks/ceremony.ts';
import { CeremonyParty } from '../crypto/ckks/ceremony-party.ts';
import { CeremonyServer } from '../crypto/ckks/ceremony-server.ts';
import { addCiphertexts, PackedDecryptor, PackedEncryptor } from '../crypto/ckks/encoder.ts';
import { saveBytes } from '../crypto/ckks/objects.ts';
import { CkksContext, PARAMETER_SETS } from '../crypto/ckks/params.ts';
import { pcksAggregateShares, pcksGenShare, pcksKeySwitch } from '../crypto/ckks/pcks.ts';
import { SealScope } from '../crypto/ckks/seal.ts';
import { genAdditiveShare, parseShamirShare } from '../crypto/ckks/threshold.ts';
import { generateIdentity } from '../crypto/identity.ts';

const ids = ['a', 'b', 'c'];
const identities = new Map(ids.map((id) => [id, generateIdentity()]));
const rosterKeys = new Map(ids.map((id) => [id, identities.get(id)!.publicKey]));
let ctx: CkksContext;
let params: CeremonyParams;

beforeAll(async () => {
  ctx = await CkksContext.create(PARAMETER_SETS.N4096);
  params = { ceremonyId: 'ceremony-0001', paramsName: ctx.params.name, rosterDigest: 'ab'.repeat(32), threshold: 2, parties: ids };
}, 60_000);
afterAll(() => ctx?.[Symbol.dispose]());

interface Run {
  server: CeremonyServer;
  parties: CeremonyParty[];
  shares: ReturnType<CeremonyServer['closeShares']>;
}

/** Rounds 1–3; `tamper` may alter what the aggregator forwards in round 4. */
function runToShares(): Run {
  const server = new CeremonyServer(ctx, params, rosterKeys);
  const parties = ids.map((id) => new CeremonyParty(ctx, params, id, identities.get(id)!.secretKey, rosterKeys));
  parties.forEach((p) => server.receiveCommit({ party: p.self, ...p.commit() }));
  const commits = server.closeCommits();
  parties.forEach((p) => server.receiveReveal({ party: p.self, nonce: p.reveal(commits) }));
  const nonces = server.closeReveals();
  parties.forEach((p) => server.receiveCkgCommit({ party: p.self, ...p.commitShare(nonces) }));
  const ckgCommits = server.closeCkgCommits();
  parties.forEach((p) => {
    const s = p.share(ckgCommits);
    server.receiveShare(p.self, s.ckgShare, s.thresholdShares);
  });
  return { server, parties, shares: server.closeShares() };
}

function finishAll(r: Run): CeremonyKeyShare[] {
  const keys = r.parties.map((p) => p.finish(r.shares.publicKey, r.shares.ckgShares, r.shares.routed.get(p.self)!));
  keys.forEach((k) => r.server.receiveConfirm(ids[k.point - 1]!, k.publicKeySha256, k.ckgSharesSha256));
  r.server.closeConfirms();
  return keys;
}

describe('CKKS key ceremony: CKG with committed CRS nonces, then t-of-n Thresholdizer', () => {
  it('every party holds the same collective key, and any 2 of 3 decrypt a sum exactly through PCKS', () => {
    const keys = finishAll(runToShares());
    expect(new Set(keys.map((k) => k.publicKeySha256)).size).toBe(1);
    const inputs = ids.map((_, p) => Array.from({ length: 300 }, (_, k) => ((k * 37 + p * 101) % 2001) - 1000));
    const cts = inputs.map((v) => {
      using enc = new PackedEncryptor(ctx, keys[0]!.publicKey, 1);
      return enc.encryptChunk(v);
    });
    const sum = addCiphertexts(ctx, cts);
    using scope = new SealScope();
    const kg = scope.track(new ctx.seal.KeyGenerator(ctx.context));
    const analystPk = saveBytes(ctx, scope.track(kg.createPublicKey()));
    using analyst = new PackedDecryptor(ctx, saveBytes(ctx, scope.track(kg.secretKey())));
    const expected = inputs[0]!.map((_, k) => inputs.reduce((a, v) => a + v[k]!, 0));
    for (const active of [[1, 2], [1, 3], [2, 3]]) {
      const pcks = active.map((x) => pcksGenShare(ctx, genAdditiveShare(ctx, active, x, parseShamirShare(ctx, keys[x - 1]!.shamirShare)), analystPk, sum));
      const switched = pcksKeySwitch(ctx, sum, pcks.reduce((a, b) => pcksAggregateShares(ctx, a, b)));
      expect(Array.from(analyst.decrypt([switched], 300))).toEqual(expected);
    }
  });

  it('a party refuses a collective key that is not the sum of the CKG shares (aggregator substitution)', () => {
    const r = runToShares();
    const other = runToShares().shares.publicKey;
    expect(() => r.parties[0]!.finish(other, r.shares.ckgShares, r.shares.routed.get('a')!)).toThrow(/bad-public-key/);
  });

  it('a tampered threshold share is refused and names its sender', () => {
    const r = runToShares();
    const routed = r.shares.routed.get('a')!.map((s) => ({ ...s, ciphertext: s.ciphertext.slice() }));
    routed[1]!.ciphertext[40]! ^= 1;
    try {
      r.parties[0]!.finish(r.shares.publicKey, r.shares.ckgShares, routed);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CeremonyError);
      expect((e as CeremonyError).code).toBe('bad-share');
      expect((e as CeremonyError).party).toBe(routed[1]!.from);
    }
  });

  it('a commitment not signed by the roster key, or a nonce that does not open its commitment, is refused', () => {
    const server = new CeremonyServer(ctx, params, rosterKeys);
    const a = new CeremonyParty(ctx, params, 'a', identities.get('a')!.secretKey, rosterKeys);
    const c = a.commit();
    expect(() => server.receiveCommit({ party: 'b', ...c })).toThrow(/bad-signature/);
    const parties = ids.map((id) => new CeremonyParty(ctx, params, id, identities.get(id)!.secretKey, rosterKeys));
    parties.forEach((p) => server.receiveCommit({ party: p.self, ...p.commit() }));
    const commits = server.closeCommits();
    const nonce = parties[0]!.reveal(commits).slice();
    nonce[0]! ^= 1;
    expect(() => server.receiveReveal({ party: 'a', nonce })).toThrow(/bad-nonce/);
  });

  it('a round missing a party cannot close', () => {
    const server = new CeremonyServer(ctx, params, rosterKeys);
    const a = new CeremonyParty(ctx, params, 'a', identities.get('a')!.secretKey, rosterKeys);
    server.receiveCommit({ party: 'a', ...a.commit() });
    expect(() => server.closeCommits()).toThrow(/incomplete: no CRS commitment from b/);
  });
});
