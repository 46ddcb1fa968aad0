import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ringAdd, ringBytes, ringDecode, ringEncode, ringFromBytes, ringSub, ringZeros } from '../crypto/ring.ts';

const signed = (bits: 32 | 64) => fc.bigInt({ min: -(1n << BigInt(bits - 1)), max: (1n << BigInt(bits - 1)) - 1n });
const wrap = (x: bigint, bits: 32 | 64) => BigInt.asIntN(bits, x);

describe('ring vectors over Z_2^32 and Z_2^64', () => {
  it.each([32, 64] as const)('ring %i: encode/decode round-trips signed values (property)', (bits) => {
    fc.assert(fc.property(fc.array(signed(bits), { maxLength: 50 }), (xs) => {
      expect(ringDecode(ringEncode(xs, bits), bits)).toEqual(xs);
    }), { seed: 7, numRuns: 200 });
  });
  it.each([32, 64] as const)('ring %i: add and sub equal BigInt arithmetic modulo 2^bits (property)', (bits) => {
    fc.assert(fc.property(fc.array(fc.tuple(signed(bits), signed(bits)), { maxLength: 50 }), (pairs) => {
      const a = ringEncode(pairs.map((p) => p[0]), bits);
      const b = ringEncode(pairs.map((p) => p[1]), bits);
      expect(ringDecode(ringAdd(a.slice(), b, bits), bits)).toEqual(pairs.map(([x, y]) => wrap(x + y, bits)));
      expect(ringDecode(ringSub(a.slice(), b, bits), bits)).toEqual(pairs.map(([x, y]) => wrap(x - y, bits)));
    }), { seed: 11, numRuns: 200 });
  });
  it('two\'s complement layout: -1 is all ones, 64-bit lo word first', () => {
    expect(Array.from(ringEncode([-1n, 1n], 32))).toEqual([0xffffffff, 1]);
    expect(Array.from(ringEncode([-1n, 1n << 32n], 64))).toEqual([0xffffffff, 0xffffffff, 0, 1]);
  });
  it('64-bit bytes equal a little-endian BigUint64Array', () => {
    const xs = [0n, -1n, 123456789012345n, -(1n << 63n)];
    const v = ringEncode(xs, 64);
    const ref = new BigUint64Array(xs.map((x) => BigInt.asUintN(64, x)));
    expect(ringBytes(v)).toEqual(new Uint8Array(ref.buffer));
    expect(ringFromBytes(ringBytes(v), 4, 64)).toEqual(v);
  });
  it('refuses values that do not fit the signed ring, with RangeError', () => {
    expect(() => ringEncode([1n << 31n], 32)).toThrow(RangeError);
    expect(() => ringEncode([-(1n << 31n) - 1n], 32)).toThrow(RangeError);
    expect(() => ringEncode([1n << 63n], 64)).toThrow(RangeError);
    expect(() => ringEncode([1 as unknown as bigint], 32)).toThrow(TypeError);
  });
  it('ringFromBytes validates the byte length exactly', () => {
    expect(() => ringFromBytes(new Uint8Array(15), 4, 32)).toThrow(RangeError);
    expect(() => ringFromBytes(new Uint8Array(17), 4, 32)).toThrow(RangeError);
    expect(() => ringFromBytes(new Uint8Array(16), 4, 64)).toThrow(RangeError);
    expect(ringFromBytes(new Uint8Array(32), 4, 64)).toEqual(ringZeros(4, 64));
  });
  it('ringAdd refuses vectors of different lengths and odd 64-bit vectors', () => {
    expect(() => ringAdd(ringZeros(3, 32), ringZeros(4, 32), 32)).toThrow(RangeError);
    expect(() => ringAdd(new Uint32Array(3), new Uint32Array(3), 64)).toThrow(RangeError);
  });
});
