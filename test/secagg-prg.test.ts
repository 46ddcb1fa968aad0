import { describe, expect, it } from 'vitest';
import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { addMask, addMaskSteps, expandMask } from '../crypto/prg.ts';

const seed = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 3);
const seed2 = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

function nodeKeystreamWords(key: Uint8Array, words: number): number[] {
  const ks = createCipheriv('aes-256-ctr', key, new Uint8Array(16)).update(new Uint8Array(4 * words));
  const dv = new DataView(ks.buffer, ks.byteOffset, ks.byteLength);
  return Array.from({ length: words }, (_, i) => dv.getUint32(4 * i, true));
}

describe('expandMask = AES-256-CTR keystream, counter from zero, little-endian u32', () => {
  it.each([0, 1, 3, 4, 16384, 16385, 3 * 16384 + 5])('equals node:crypto AES-256-CTR for %i words', (words) => {
    expect(Array.from(expandMask(seed, words))).toEqual(nodeKeystreamWords(seed, words));
  });
  it('block i is AES-256-ECB of the 128-bit big-endian counter i (independent construction)', () => {
    const ecb = createCipheriv('aes-256-ecb', seed, null).setAutoPadding(false);
    const counters = new Uint8Array(16 * 3);
    counters[15] = 0;
    counters[31] = 1;
    counters[47] = 2;
    const blocks = ecb.update(counters);
    const words = expandMask(seed, 12);
    expect(Buffer.from(words.buffer).equals(blocks)).toBe(true);
  });
  it('different seeds give different streams; same seed is deterministic', () => {
    expect(expandMask(seed, 8)).toEqual(expandMask(seed, 8));
    expect(expandMask(seed, 8)).not.toEqual(expandMask(seed2, 8));
  });
  it('refuses more than 2^32 AES blocks from one seed, a bad length and a bad seed', () => {
    expect(() => expandMask(seed, 2 ** 34 + 1)).toThrow(RangeError);
    expect(() => expandMask(seed, -1)).toThrow(RangeError);
    expect(() => expandMask(seed, 1.5)).toThrow(RangeError);
    expect(() => expandMask(new Uint8Array(16), 4)).toThrow(RangeError);
  });
});

function refAdd(target: Uint32Array, key: Uint8Array, ringBits: 32 | 64, sign: 1 | -1): Uint32Array {
  const ks = expandMask(key, target.length);
  const out = new Uint32Array(target.length);
  const step = ringBits / 32;
  for (let i = 0; i < target.length; i += step) {
    const read = (v: Uint32Array) => (ringBits === 32 ? BigInt(v[i]!) : (BigInt(v[i + 1]!) << 32n) | BigInt(v[i]!));
    const r = BigInt.asUintN(ringBits, read(target) + BigInt(sign) * read(ks));
    out[i] = Number(r & 0xffffffffn);
    if (ringBits === 64) out[i + 1] = Number(r >> 32n);
  }
  return out;
}

describe('addMask equals a BigInt reference modulo 2^32 and 2^64', () => {
  const cases: [32 | 64, 1 | -1][] = [[32, 1], [32, -1], [64, 1], [64, -1]];
  it.each(cases)('ring %i, sign %i, random vectors across chunk boundaries', (ringBits, sign) => {
    fc.assert(
      fc.property(fc.uint32Array({ minLength: 0, maxLength: 40_000 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (arr, key) => {
        const target = arr.length % 2 === 0 || ringBits === 32 ? arr : arr.subarray(0, arr.length - 1);
        const expected = refAdd(target, key, ringBits, sign);
        const t = target.slice();
        addMask(t, key, ringBits, sign);
        expect(t).toEqual(expected);
      }),
      { seed: 20261123, numRuns: 12 },
    );
  });
  it.each(cases)('ring %i, sign %i: all-ones and all-zero words force every carry and borrow', (ringBits, sign) => {
    for (const fill of [0xffffffff, 0, 0x80000000, 0x7fffffff]) {
      const t = new Uint32Array(2 * 20_000).fill(fill);
      const expected = refAdd(t, seed, ringBits, sign);
      addMask(t, seed, ringBits, sign);
      expect(t).toEqual(expected);
    }
  });
  it('adding then subtracting the same mask restores the vector (both rings)', () => {
    for (const ringBits of [32, 64] as const) {
      const orig = expandMask(seed2, 50_002);
      const t = orig.slice();
      addMask(t, seed, ringBits, 1);
      expect(t).not.toEqual(orig);
      addMask(t, seed, ringBits, -1);
      expect(t).toEqual(orig);
    }
  });
  it('refuses an odd-length 64-bit vector, a bad ring and a bad sign', () => {
    expect(() => addMask(new Uint32Array(3), seed, 64, 1)).toThrow(RangeError);
    expect(() => addMask(new Uint32Array(4), seed, 16 as 32, 1)).toThrow(RangeError);
    expect(() => addMask(new Uint32Array(4), seed, 32, 2 as 1)).toThrow(RangeError);
    expect(() => addMask([1, 2] as unknown as Uint32Array, seed, 32, 1)).toThrow(TypeError);
  });
  it('addMaskSteps (the aggregator\'s unmasking in event-loop slices) yields once per 64 KiB of keystream and ends equal to addMask; it checks its arguments before the first step', () => {
    const words = 3 * 16_384 + 10; // 3 full 64 KiB chunks and a partial one
    for (const ringBits of [32, 64] as const) {
      const a = Uint32Array.from({ length: words }, (_, i) => (i * 2_654_435_761) >>> 0);
      const b = a.slice();
      addMask(a, seed, ringBits, -1);
      const steps = addMaskSteps(b, seed, ringBits, -1);
      let yields = 0;
      while (!steps.next().done) yields++;
      expect(yields).toBe(4);
      expect(b).toEqual(a);
    }
    expect(() => addMaskSteps(new Uint32Array(3), seed, 64, 1)).toThrow(RangeError);
  });
});
