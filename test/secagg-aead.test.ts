import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { utf8 } from '../crypto/bytes.ts';
import { AEAD_OVERHEAD, AeadError, aeadOpen, aeadSeal } from '../crypto/aead.ts';

const key = new Uint8Array(randomBytes(32));
const aad = utf8('secagg/share|q1|a|b');
const plaintext = new Uint8Array(randomBytes(64));

describe('AES-256-GCM seal/open', () => {
  it('round-trips and adds exactly nonce + tag', () => {
    const sealed = aeadSeal(key, plaintext, aad);
    expect(sealed.length).toBe(plaintext.length + AEAD_OVERHEAD);
    expect(aeadOpen(key, sealed, aad)).toEqual(plaintext);
  });
  it('uses a fresh random nonce for every seal', () => {
    expect(aeadSeal(key, plaintext, aad).subarray(0, 12)).not.toEqual(aeadSeal(key, plaintext, aad).subarray(0, 12));
  });
  it('fails with AeadError on every flipped bit position class, wrong aad, wrong key and truncation', () => {
    const sealed = aeadSeal(key, plaintext, aad);
    for (const pos of [0, 11, 12, 40, sealed.length - 16, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[pos]! ^= 1;
      expect(() => aeadOpen(key, bad, aad)).toThrow(AeadError);
    }
    expect(() => aeadOpen(key, sealed, utf8('secagg/share|q1|b|a'))).toThrow(AeadError);
    const otherKey = key.slice();
    otherKey[0]! ^= 0x80;
    expect(() => aeadOpen(otherKey, sealed, aad)).toThrow(AeadError);
    expect(() => aeadOpen(key, sealed.subarray(0, 27), aad)).toThrow(AeadError);
  });
  it('error messages carry no key or plaintext bytes', () => {
    const bad = aeadSeal(key, plaintext, aad);
    bad[20]! ^= 1;
    try {
      aeadOpen(key, bad, aad);
      expect.unreachable();
    } catch (e) {
      const msg = (e as Error).message;
      expect(msg).not.toContain(Buffer.from(key).toString('hex').slice(0, 8));
      expect(msg).toMatch(/authentication failed/);
    }
  });
  it('rejects a key of the wrong length with RangeError', () => {
    expect(() => aeadSeal(new Uint8Array(16), plaintext, aad)).toThrow(RangeError);
  });
});
