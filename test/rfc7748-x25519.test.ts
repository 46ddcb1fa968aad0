import { describe, expect, it } from 'vitest';
import { createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import { fromHex, toHex, utf8 } from '../crypto/bytes.ts';
import { agree, generateX25519KeyPair, isValidX25519PublicKey, x25519PublicKey, x25519SharedSecret } from '../crypto/keyagreement.ts';

// RFC 7748 §5.2 (single X25519 calls and the iterated test) and §6.1 (Diffie-Hellman).
describe('RFC 7748 §5.2 X25519 test vectors', () => {
  it('vector 1: scalar a546e36b… times u e6db6867… gives c3da5537…', () => {
    const k = fromHex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4');
    const u = fromHex('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c');
    expect(toHex(x25519SharedSecret(k, u))).toBe('c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552');
  });
  it('vector 2: scalar 4b66e9d4… times u e5210f12… (top bit set, masked) gives 95cbde94…', () => {
    const k = fromHex('4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d');
    const u = fromHex('e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493');
    expect(toHex(x25519SharedSecret(k, u))).toBe('95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957');
  });
  it('iterated from k = u = 9: after 1 and after 1,000 iterations', () => {
    let k: Uint8Array = fromHex('0900000000000000000000000000000000000000000000000000000000000000');
    let u: Uint8Array = k.slice();
    for (let i = 1; i <= 1000; i++) {
      const r = x25519SharedSecret(k, u);
      u = k;
      k = r;
      if (i === 1) expect(toHex(k)).toBe('422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079');
    }
    expect(toHex(k)).toBe('684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51');
  });
});

describe('RFC 7748 §6.1 Diffie-Hellman', () => {
  const alice = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const alicePub = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
  const bob = fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  const bobPub = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
  it('public keys of Alice and Bob', () => {
    expect(toHex(x25519PublicKey(alice))).toBe(alicePub);
    expect(toHex(x25519PublicKey(bob))).toBe(bobPub);
  });
  it('both sides compute the same shared secret K', () => {
    expect(toHex(x25519SharedSecret(alice, fromHex(bobPub)))).toBe(shared);
    expect(toHex(x25519SharedSecret(bob, fromHex(alicePub)))).toBe(shared);
  });
});

function b64url(b: Uint8Array): string {
  return Buffer.from(b).toString('base64url');
}

describe('agree (X25519 + HKDF-SHA256)', () => {
  it('is symmetric and equals node:crypto X25519 followed by node:crypto HKDF', async () => {
    const { hkdfSync } = await import('node:crypto');
    const a = generateX25519KeyPair();
    const b = generateX25519KeyPair();
    const info = utf8('pairwise-mask|q1|a|b');
    const ab = agree(a.secretKey, b.publicKey, info);
    expect(toHex(ab)).toBe(toHex(agree(b.secretKey, a.publicKey, info)));
    const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64url(a.secretKey), x: b64url(a.publicKey) }, format: 'jwk' });
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(b.publicKey) }, format: 'jwk' });
    const ikm = diffieHellman({ privateKey, publicKey });
    const expected = new Uint8Array(hkdfSync('sha256', ikm, utf8('blindsum/secagg/v1'), info, 32));
    expect(toHex(ab)).toBe(toHex(expected));
  });
  it('different info gives an unrelated key', () => {
    const a = generateX25519KeyPair();
    const b = generateX25519KeyPair();
    expect(toHex(agree(a.secretKey, b.publicKey, utf8('x')))).not.toBe(toHex(agree(a.secretKey, b.publicKey, utf8('y'))));
  });
  // Low-order points of Curve25519 (the list used by libsodium's blocklist).
  const lowOrder = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ];
  it.each(lowOrder)('refuses the low-order peer key %s with a RangeError', (hex) => {
    const a = generateX25519KeyPair();
    expect(() => agree(a.secretKey, fromHex(hex), utf8('i'))).toThrow(RangeError);
    expect(isValidX25519PublicKey(fromHex(hex))).toBe(false);
  });
  it('accepts a fresh public key and refuses wrong lengths', () => {
    const a = generateX25519KeyPair();
    expect(isValidX25519PublicKey(a.publicKey)).toBe(true);
    expect(() => agree(a.secretKey, new Uint8Array(31), utf8('i'))).toThrow(RangeError);
    expect(() => agree(new Uint8Array(33), a.publicKey, utf8('i'))).toThrow(RangeError);
  });
});

describe('native (node:crypto) and portable (noble) X25519 + HKDF agree', () => {
  const v1 = { k: 'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4', u: 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c', out: 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552' };
  const v2 = { k: '4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d', u: 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493', out: '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957' };
  for (const backend of ['native', 'noble'] as const) {
    it(`${backend}: RFC 7748 §5.2 vectors 1 and 2, §6.1 public keys, and a low-order point refused`, () => {
      for (const v of [v1, v2]) expect(toHex(x25519SharedSecret(fromHex(v.k), fromHex(v.u), backend))).toBe(v.out);
      expect(toHex(x25519PublicKey(fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'), backend))).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
      expect(() => x25519SharedSecret(fromHex(v1.k), new Uint8Array(32), backend)).toThrow(RangeError);
    });
  }
  it('agree() gives the same key on both, for random key pairs and infos', () => {
    for (let i = 0; i < 20; i++) {
      const a = generateX25519KeyPair();
      const b = generateX25519KeyPair();
      const info = utf8(`info-${i}`);
      const native = agree(a.secretKey, b.publicKey, info, 'native');
      expect(toHex(agree(a.secretKey, b.publicKey, info, 'noble'))).toBe(toHex(native));
      expect(toHex(agree(b.secretKey, a.publicKey, info, 'noble'))).toBe(toHex(native));
      expect(toHex(x25519PublicKey(a.secretKey, 'noble'))).toBe(toHex(a.publicKey));
    }
  });
});
