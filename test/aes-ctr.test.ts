/**
 * crypto/aes-ctr.ts: the TypeScript AES-256 (the browser auditor's) on the FIPS 197 and
 * NIST SP 800-38A vectors, and its CTR keystream equal to node:crypto's for random keys, IVs
 * (counter carries across words included) and read sizes; crypto/bytes.ts base64 equal to
 * Buffer's on random bytes and on the lenient inputs Buffer accepts.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aes256Ctr, aes256EncryptBlock } from '../crypto/aes-ctr.ts';
import { fromBase64, fromHex, toBase64, toHex } from '../crypto/bytes.ts';
import { expandMask } from '../crypto/prg.ts';

describe('AES-256 in TypeScript', () => {
  it('encrypts the FIPS 197 Appendix C.3 block', () => {
    const key = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    expect(toHex(aes256EncryptBlock(key, fromHex('00112233445566778899aabbccddeeff')))).toBe('8ea2b7ca516745bfeafc49904b496089');
  });

  it('gives the SP 800-38A F.5.5 CTR-AES256 keystream', () => {
    const key = fromHex('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4');
    const iv = fromHex('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff');
    const plain = fromHex('6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710');
    const ks = aes256Ctr(key, iv, 'noble').next(plain.length);
    const ct = plain.map((b, i) => b ^ ks[i]!);
    expect(toHex(ct)).toBe('601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c52b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6');
  });

  it('equals node:crypto aes-256-ctr for random keys, counters near a carry, and uneven reads', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), fc.array(fc.nat(100), { minLength: 1, maxLength: 8 }), (key, iv, nearCarry, reads) => {
      if (nearCarry) iv.fill(0xff, 8); // the low 64 bits wrap: the carry must cross into the high words
      const native = createCipheriv('aes-256-ctr', key, iv);
      const ts = aes256Ctr(key, iv, 'noble');
      for (const n of reads) expect(toHex(ts.next(n))).toBe(toHex(native.update(new Uint8Array(n))));
    }), { numRuns: 200 });
  });

  it('the native and TypeScript backends expand the same masks (crypto/prg.ts uses the default one)', () => {
    const seed = new Uint8Array(randomBytes(32));
    const words = expandMask(seed, 70_000);
    const ts = aes256Ctr(seed, new Uint8Array(16), 'noble').next(4 * 70_000);
    expect(toHex(new Uint8Array(words.buffer))).toBe(toHex(ts));
  });
});

describe('base64', () => {
  it('encodes and decodes as Buffer does', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      const s = Buffer.from(b).toString('base64');
      expect(toBase64(b)).toBe(s);
      expect(toHex(fromBase64(s))).toBe(toHex(b));
      expect(toHex(fromBase64(s.replace(/=+$/, '')))).toBe(toHex(b));
    }), { numRuns: 500 });
  });

  it('drops trailing bits as Buffer does, and refuses characters outside the alphabet', () => {
    for (const s of ['', 'A', 'AB', 'ABC', 'ABCDE', 'ABCDEF', 'QQ==', 'QUI=', '/+/+']) expect(toHex(fromBase64(s))).toBe(Buffer.from(s, 'base64').toString('hex'));
    for (const s of ['AB$D', 'A=BC', 'ü===']) expect(() => fromBase64(s)).toThrow(TypeError);
  });
});
