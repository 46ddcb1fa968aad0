/**
 * Ed25519 (RFC 8032 §7.1) and SHA-256 (FIPS 180-4) behind crypto/ed25519.ts and crypto/sha256.ts:
 * the native (node:crypto) and portable (@noble) implementations both reproduce the official
 * vectors, accept each other's signatures, and agree on tampered signatures and random inputs.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { fromHex, toHex } from '../crypto/bytes.ts';
import { ED25519_BACKEND, ed25519Sign, ed25519Verify } from '../crypto/ed25519.ts';
import { sha256 } from '../crypto/sha256.ts';
import { generateIdentity } from '../crypto/identity.ts';

/** RFC 8032 §7.1, TEST 1–3 and TEST SHA(abc). */
const VECTORS = [
  {
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7', pub: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025', msg: 'af82',
    sig: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

const BACKENDS = ['native', 'noble'] as const;

describe('RFC 8032 §7.1 Ed25519 test vectors, native and noble', () => {
  it('runs natively on Node (the services use node:crypto)', () => {
    expect(ED25519_BACKEND).toBe('native');
  });

  for (const backend of BACKENDS) {
    it(`${backend}: signs every vector exactly and verifies it`, () => {
      for (const v of VECTORS) {
        const sig = ed25519Sign(fromHex(v.msg), fromHex(v.secret), backend);
        expect(toHex(sig)).toBe(v.sig);
        expect(ed25519Verify(fromHex(v.sig), fromHex(v.msg), fromHex(v.pub), backend)).toBe(true);
      }
    });
  }

  it('each accepts the other\'s signatures on random messages, and both refuse the same tampered ones', () => {
    for (let i = 0; i < 50; i++) {
      const id = generateIdentity();
      const msg = new Uint8Array(randomBytes(1 + (i * 37) % 300));
      const a = ed25519Sign(msg, id.secretKey, 'native');
      const b = ed25519Sign(msg, id.secretKey, 'noble');
      expect(toHex(a)).toBe(toHex(b)); // deterministic RFC 8032 signatures
      for (const backend of BACKENDS) expect(ed25519Verify(a, msg, id.publicKey, backend)).toBe(true);
      const bad = a.slice();
      bad[i % 64]! ^= 1 << (i % 8);
      expect(ed25519Verify(bad, msg, id.publicKey, 'native')).toBe(false);
      expect(ed25519Verify(bad, msg, id.publicKey, 'noble')).toBe(false);
      const other = generateIdentity();
      expect(ed25519Verify(a, msg, other.publicKey, 'native')).toBe(ed25519Verify(a, msg, other.publicKey, 'noble'));
    }
  });

  it('malformed keys and signatures verify as false, never throw', () => {
    const v = VECTORS[1]!;
    for (const backend of BACKENDS) {
      expect(ed25519Verify(fromHex(v.sig), fromHex(v.msg), new Uint8Array(32).fill(0xff), backend)).toBe(false);
      expect(ed25519Verify(new Uint8Array(64).fill(0xff), fromHex(v.msg), fromHex(v.pub), backend)).toBe(false);
    }
  });
});

describe('FIPS 180-4 SHA-256, native and noble', () => {
  it('"abc", the empty string and a 1 MB random buffer agree', () => {
    for (const backend of BACKENDS) {
      expect(toHex(sha256(new TextEncoder().encode('abc'), backend))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
      expect(toHex(sha256(new Uint8Array(0), backend))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    }
    const big = new Uint8Array(randomBytes(1 << 20));
    expect(toHex(sha256(big, 'native'))).toBe(toHex(sha256(big, 'noble')));
  });
});
