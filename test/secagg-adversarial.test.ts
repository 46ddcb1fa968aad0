import { describe, expect, it } from 'vitest';
import { signDomain } from '../crypto/identity.ts';
import { consistencyCheckBody, makeSession, SecAggClient, SecAggError, SecAggServer, SecAggStage } from '../crypto/secagg/client.ts';
import type { AdvertiseKeysMsg, EncryptedShare, SecAggErrorCode, UnmaskRequest } from '../crypto/secagg/client.ts';
import { PARTIES, makeHarness, plainSum } from './secagg-helpers.ts';
import type { Harness } from './secagg-helpers.ts';

function code(f: () => unknown): SecAggErrorCode | string {
  try {
    f();
  } catch (e) {
    return e instanceof SecAggError ? e.code : `${(e as Error).name}: ${(e as Error).message}`;
  }
  return 'no error';
}

/** Runs AdvertiseKeys and ShareKeys for everyone; returns U1 and the routed shares. */
function throughShareKeys(h: Harness): { u1: AdvertiseKeysMsg[]; routed: Map<string, EncryptedShare[]> } {
  for (const c of h.clients.values()) h.server.receiveAdvertiseKeys(c.advertiseKeys());
  const u1 = h.server.closeAdvertiseKeys();
  for (const c of h.clients.values()) h.server.receiveShareKeys(c.shareKeys(u1));
  return { u1, routed: h.server.closeShareKeys() };
}

/** Runs until the UnmaskRequest exists; `masking` are the parties that send a masked input. */
function throughConsistency(h: Harness, masking: string[]): UnmaskRequest {
  const { routed } = throughShareKeys(h);
  for (const p of masking) h.server.receiveMaskedInput(h.clients.get(p)!.maskedInput(routed.get(p)!, h.inputs.get(p)!));
  const u3 = h.server.closeMaskedInputCollection();
  for (const p of u3) h.server.receiveConsistencyCheck(h.clients.get(p)!.consistencyCheck(u3));
  return h.server.closeConsistencyCheck();
}

const SURVIVORS = ['h01', 'h02', 'h04', 'h05']; // h03 drops after ShareKeys

describe('Unmasking: a client never reveals both shares of one peer', () => {
  it('refuses a request that lists a party in both survivors and dropped, and aborts', () => {
    const h = makeHarness();
    const req = throughConsistency(h, SURVIVORS);
    const c = h.clients.get('h01')!;
    expect(code(() => c.unmask({ ...req, dropped: [...req.dropped, 'h02'] }))).toBe('both-shares-requested');
    expect(c.stage).toBe(SecAggStage.Aborted);
  });
  it('refuses a dropped set that differs from U2 \\ U3 (moving a survivor to dropped)', () => {
    const h = makeHarness();
    const req = throughConsistency(h, SURVIVORS);
    const forged = { ...req, survivors: ['h01', 'h02', 'h05'], dropped: ['h03', 'h04'] };
    expect(code(() => h.clients.get('h02')!.unmask(forged))).toBe('both-shares-requested');
  });
  it('refuses a request that omits a dropped party or invents one', () => {
    const h = makeHarness();
    const req = throughConsistency(h, SURVIVORS);
    expect(code(() => h.clients.get('h01')!.unmask({ ...req, dropped: [] }))).toBe('both-shares-requested');
    expect(code(() => h.clients.get('h02')!.unmask({ ...req, dropped: ['h03', 'h03'] }))).toBe('bad-message');
  });
  it('refuses a forged signature', () => {
    const h = makeHarness();
    const req = throughConsistency(h, SURVIVORS);
    const sigs = req.signatures.map((s) => ({ party: s.party, signature: s.signature.slice() }));
    sigs[0]!.signature[10]! ^= 1;
    expect(code(() => h.clients.get('h01')!.unmask({ ...req, signatures: sigs }))).toBe('bad-signature');
  });
  it('refuses an insufficient signature set (t - 1 valid signatures)', () => {
    const h = makeHarness();
    const req = throughConsistency(h, SURVIVORS);
    expect(code(() => h.clients.get('h01')!.unmask({ ...req, signatures: req.signatures.slice(0, 2) }))).toBe('below-threshold');
  });
  it('refuses duplicated signatures counted twice and a signer outside U3', () => {
    const h = makeHarness();
    const req = throughConsistency(h, SURVIVORS);
    const s = req.signatures;
    expect(code(() => h.clients.get('h01')!.unmask({ ...req, signatures: [s[0]!, s[0]!, s[1]!] }))).toBe('bad-message');
    const outsider = { party: 'h03', signature: signDomain(h.identities.get('h03')!.secretKey, 'secagg/consistency-check', new Uint8Array(1)) };
    expect(code(() => h.clients.get('h02')!.unmask({ ...req, signatures: [...s, outsider] }))).toBe('bad-signature');
  });
  it('refuses real signatures made over a different U3 (the server showed parties different sets)', () => {
    const h = makeHarness();
    const req = throughConsistency(h, SURVIVORS);
    const session = makeSession(h.params, h.roster);
    const otherU3 = ['h01', 'h02', 'h05'];
    const signatures = otherU3.map((p) => ({ party: p, signature: signDomain(h.identities.get(p)!.secretKey, 'secagg/consistency-check', consistencyCheckBody(session, otherU3)) }));
    expect(code(() => h.clients.get('h01')!.unmask({ ...req, signatures }))).toBe('bad-signature');
  });
  it('answers at most once: a second unmask call is refused with wrong-stage', () => {
    const h = makeHarness();
    const req = throughConsistency(h, SURVIVORS);
    const c = h.clients.get('h01')!;
    const first = c.unmask(req);
    expect(first.maskKeyShares.map((s) => s.of)).toEqual(['h03']);
    expect(first.selfMaskShares.map((s) => s.of)).toEqual(SURVIVORS);
    expect(code(() => c.unmask(req))).toBe('wrong-stage');
  });
});

describe('stage order is enforced', () => {
  it('client: every step out of order is refused with wrong-stage and leaves the stage unchanged', () => {
    const h = makeHarness();
    const c = h.clients.get('h01')!;
    expect(code(() => c.shareKeys([]))).toBe('wrong-stage');
    expect(code(() => c.maskedInput([], h.inputs.get('h01')!))).toBe('wrong-stage');
    expect(code(() => c.consistencyCheck(PARTIES))).toBe('wrong-stage');
    expect(code(() => c.unmask({ survivors: [], dropped: [], signatures: [] }))).toBe('wrong-stage');
    expect(c.stage).toBe(SecAggStage.AdvertiseKeys);
    c.advertiseKeys();
    expect(code(() => c.advertiseKeys())).toBe('wrong-stage');
    expect(c.stage).toBe(SecAggStage.ShareKeys);
  });
  it('server: receive/close outside their stage are refused; each stage closes once', () => {
    const h = makeHarness();
    const s = h.server;
    const adv = h.clients.get('h01')!.advertiseKeys();
    expect(code(() => s.receiveShareKeys({ party: 'h01', shares: [] }))).toBe('wrong-stage');
    expect(code(() => s.receiveMaskedInput({ party: 'h01', masked: h.inputs.get('h01')! }))).toBe('wrong-stage');
    expect(code(() => s.closeShareKeys())).toBe('wrong-stage');
    expect(code(() => s.finish())).toBe('wrong-stage');
    s.receiveAdvertiseKeys(adv);
    for (const p of ['h02', 'h03']) s.receiveAdvertiseKeys(h.clients.get(p)!.advertiseKeys());
    s.closeAdvertiseKeys();
    expect(code(() => s.closeAdvertiseKeys())).toBe('wrong-stage');
    expect(code(() => s.receiveAdvertiseKeys(h.clients.get('h04')!.advertiseKeys()))).toBe('wrong-stage');
  });
  it('server: the session is Done after finish and refuses everything afterwards', () => {
    const h = makeHarness();
    const req = throughConsistency(h, PARTIES);
    for (const p of PARTIES) h.server.receiveUnmasking(h.clients.get(p)!.unmask(req));
    expect(h.server.finish()).toEqual(plainSum(h, PARTIES));
    expect(code(() => h.server.finish())).toBe('wrong-stage');
  });
});

describe('every incoming message is validated', () => {
  it('a tampered share ciphertext fails authentication at its recipient, which aborts', () => {
    const h = makeHarness();
    const { routed } = throughShareKeys(h);
    const mine = routed.get('h01')!.map((e) => ({ ...e, ciphertext: e.ciphertext.slice() }));
    mine[1]!.ciphertext[30]! ^= 0x04;
    const c = h.clients.get('h01')!;
    let err: unknown;
    try {
      c.maskedInput(mine, h.inputs.get('h01')!);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SecAggError);
    expect((err as SecAggError).code).toBe('bad-ciphertext');
    expect((err as SecAggError).party).toBe(mine[1]!.from);
    expect(c.stage).toBe(SecAggStage.Aborted);
  });
  it('a share re-addressed to another recipient (same bytes) does not authenticate', () => {
    const h = makeHarness();
    const { routed } = throughShareKeys(h);
    const forH02 = routed.get('h02')!.find((e) => e.from === 'h03')!;
    const mine = routed.get('h01')!.map((e) => (e.from === 'h03' ? { ...forH02, to: 'h01' } : e));
    expect(code(() => h.clients.get('h01')!.maskedInput(mine, h.inputs.get('h01')!))).toBe('bad-ciphertext');
  });
  it('server AdvertiseKeys: bad signature, outsider, duplicate, replay from another session, low-order key', () => {
    const h = makeHarness();
    const s = h.server;
    const m = h.clients.get('h01')!.advertiseKeys();
    expect(code(() => s.receiveAdvertiseKeys({ ...m, signature: m.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) }))).toBe('bad-signature');
    expect(code(() => s.receiveAdvertiseKeys({ ...m, party: 'h99' }))).toBe('bad-message');
    expect(code(() => s.receiveAdvertiseKeys({ ...m, party: 'h02' }))).toBe('bad-signature');
    expect(code(() => s.receiveAdvertiseKeys({ ...m, sPk: new Uint8Array(32) }))).toBe('bad-message');
    expect(code(() => s.receiveAdvertiseKeys({ ...m, cPk: m.sPk }))).toBe('bad-message');
    const other = new SecAggServer({ ...h.params, sessionId: 'query-2' }, h.roster);
    expect(code(() => other.receiveAdvertiseKeys(m))).toBe('bad-signature');
    s.receiveAdvertiseKeys(m);
    expect(code(() => s.receiveAdvertiseKeys(m))).toBe('bad-message');
  });
  it('client ShareKeys: refuses U1 with a forged message, a missing self, or below t', () => {
    const h = makeHarness();
    const msgs = PARTIES.map((p) => h.clients.get(p)!.advertiseKeys());
    const forged = msgs.map((m, i) => (i === 1 ? { ...m, cPk: msgs[2]!.cPk } : m));
    expect(code(() => h.clients.get('h01')!.shareKeys(forged))).toBe('bad-signature');
    expect(code(() => h.clients.get('h02')!.shareKeys(msgs.filter((m) => m.party !== 'h02')))).toBe('bad-message');
    expect(code(() => h.clients.get('h03')!.shareKeys(msgs.filter((m) => m.party === 'h03' || m.party === 'h04')))).toBe('below-threshold');
    expect(code(() => h.clients.get('h04')!.shareKeys([...msgs, msgs[0]!]))).toBe('bad-message');
  });
  it('server ShareKeys: wrong sender field, missing recipient, wrong ciphertext length, not in U1', () => {
    const h = makeHarness();
    for (const p of ['h01', 'h02', 'h03', 'h04']) h.server.receiveAdvertiseKeys(h.clients.get(p)!.advertiseKeys());
    const u1 = h.server.closeAdvertiseKeys();
    const m = h.clients.get('h01')!.shareKeys(u1);
    expect(code(() => h.server.receiveShareKeys({ ...m, shares: m.shares.slice(1) }))).toBe('bad-message');
    expect(code(() => h.server.receiveShareKeys({ ...m, shares: m.shares.map((e) => ({ ...e, from: 'h02' })) }))).toBe('bad-message');
    expect(code(() => h.server.receiveShareKeys({ ...m, shares: m.shares.map((e, i) => (i === 0 ? { ...e, to: m.shares[1]!.to } : e)) }))).toBe('bad-message');
    expect(code(() => h.server.receiveShareKeys({ ...m, shares: m.shares.map((e) => ({ ...e, ciphertext: e.ciphertext.subarray(1) })) }))).toBe('bad-message');
    expect(code(() => h.server.receiveShareKeys({ party: 'h05', shares: [] }))).toBe('bad-message');
    h.server.receiveShareKeys(m);
  });
  it('server MaskedInput: wrong length, not in U2, duplicate; Unmasking: incomplete share lists, sender outside U4', () => {
    const h = makeHarness();
    const { routed } = throughShareKeys(h);
    const y = h.clients.get('h01')!.maskedInput(routed.get('h01')!, h.inputs.get('h01')!);
    expect(code(() => h.server.receiveMaskedInput({ ...y, masked: y.masked.subarray(1) }))).toBe('bad-message');
    expect(code(() => h.server.receiveMaskedInput({ party: 'h77', masked: y.masked }))).toBe('bad-message');
    h.server.receiveMaskedInput(y);
    expect(code(() => h.server.receiveMaskedInput(y))).toBe('bad-message');
    for (const p of ['h02', 'h04', 'h05']) h.server.receiveMaskedInput(h.clients.get(p)!.maskedInput(routed.get(p)!, h.inputs.get(p)!));
    const u3 = h.server.closeMaskedInputCollection();
    for (const p of ['h01', 'h02', 'h04']) h.server.receiveConsistencyCheck(h.clients.get(p)!.consistencyCheck(u3));
    const c5 = h.clients.get('h05')!.consistencyCheck(u3);
    expect(code(() => h.server.receiveConsistencyCheck({ ...c5, party: 'h03' }))).toBe('bad-message');
    const req = h.server.closeConsistencyCheck();
    const r1 = h.clients.get('h01')!.unmask(req);
    expect(code(() => h.server.receiveUnmasking({ ...r1, maskKeyShares: [] }))).toBe('bad-message');
    expect(code(() => h.server.receiveUnmasking({ ...r1, selfMaskShares: r1.selfMaskShares.slice(1) }))).toBe('bad-message');
    expect(code(() => h.server.receiveUnmasking({ ...r1, party: 'h05' }))).toBe('bad-message');
    h.server.receiveUnmasking(r1);
  });
  it('a wrong mask-key share is detected at finish (reconstructed key ≠ advertised sPk) and aborts', () => {
    const h = makeHarness();
    const req = throughConsistency(h, SURVIVORS);
    for (const p of ['h01', 'h02', 'h04']) {
      const r = h.clients.get(p)!.unmask(req);
      if (p === 'h01') r.maskKeyShares[0]!.share[0]! ^= 1;
      h.server.receiveUnmasking(r);
    }
    expect(code(() => h.server.finish())).toBe('bad-share');
    expect(h.server.stage).toBe(SecAggStage.Aborted);
  });
  it('parameters are validated: unsorted roster, threshold out of range, bad ring, missing roster key', () => {
    const h = makeHarness();
    const id = h.identities.get('h01')!.secretKey;
    expect(() => new SecAggServer({ ...h.params, parties: ['h02', 'h01', 'h03'] }, h.roster)).toThrow(RangeError);
    expect(() => new SecAggServer({ ...h.params, threshold: 1 }, h.roster)).toThrow(RangeError);
    expect(() => new SecAggServer({ ...h.params, threshold: 6 }, h.roster)).toThrow(RangeError);
    expect(() => new SecAggServer({ ...h.params, ringBits: 16 as 32 }, h.roster)).toThrow(RangeError);
    expect(() => new SecAggServer({ ...h.params, vectorLength: 0 }, h.roster)).toThrow(RangeError);
    expect(() => new SecAggServer(h.params, new Map([...h.roster].slice(1)))).toThrow(RangeError);
    expect(() => new SecAggClient(h.params, 'h99', id, h.roster)).toThrow(RangeError);
  });
  it('abort wipes the client: it refuses every later step', () => {
    const h = makeHarness();
    const c = h.clients.get('h01')!;
    c.advertiseKeys();
    c.abort();
    expect(c.stage).toBe(SecAggStage.Aborted);
    expect(code(() => c.shareKeys([]))).toBe('wrong-stage');
  });
});

describe('low-order X25519 keys', () => {
  it('a client refuses a correctly signed low-order cPk (ShareKeys) or sPk (MaskedInput), naming the peer', async () => {
    const { fromHex } = await import('../crypto/bytes.ts');
    const { advertiseKeysBody } = await import('../crypto/secagg/client.ts');
    const lowOrder = fromHex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800');
    for (const field of ['cPk', 'sPk'] as const) {
      const h = makeHarness();
      const session = makeSession(h.params, h.roster);
      const msgs = PARTIES.map((p) => h.clients.get(p)!.advertiseKeys());
      const m = { ...msgs[3]!, [field]: lowOrder };
      m.signature = signDomain(h.identities.get('h04')!.secretKey, 'secagg/advertise-keys', advertiseKeysBody(session, 'h04', m.cPk, m.sPk));
      const u1 = msgs.map((x, i) => (i === 3 ? m : x));
      const c = h.clients.get('h01')!;
      let err: unknown;
      try {
        // h04 itself sees its genuine U1; everyone else sees the low-order key.
        const shares = PARTIES.map((p) => h.clients.get(p)!.shareKeys(p === 'h04' ? msgs : u1));
        const routed = shares.flatMap((s) => s.shares).filter((e) => e.to === 'h01');
        c.maskedInput(routed, h.inputs.get('h01')!);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SecAggError);
      expect((err as SecAggError).code).toBe('bad-message');
      expect((err as SecAggError).party).toBe('h04');
    }
  });
});
