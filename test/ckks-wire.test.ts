import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ckgGenPublicKey, ckgGenShare, genSecretKeyShare } from '../crypto/ckks/ckg.ts';
import { sampleCrp } from '../crypto/ckks/crs.ts';
import { PackedEncryptor } from '../crypto/ckks/encoder.ts';
import { CkksContext, PARAMETER_SETS } from '../crypto/ckks/params.ts';
import { serializeCiphertext } from '../crypto/ckks/codec.ts';
import { uniformPoly } from '../crypto/ckks/sampler.ts';
import { packCiphertext, packedLength, unpackCiphertext } from '../crypto/ckks/wire.ts';

/** The format spelled out residue by residue with BigInt: the oracle for the word-level packer. */
function referencePack(level: number, size: number, ntt: boolean, scale: number, polys: BigUint64Array[]): Uint8Array {
  const bits = ctx.moduli.slice(0, level).map((q) => BigInt(q.toString(2).length));
  const out = new Uint8Array(packedLength(ctx, level, size));
  out.set([0x42, 0x53, 0x43, 0x54, 1, level, size, ntt ? 1 : 0]);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, ctx.N, true);
  dv.setFloat64(12, scale, true);
  dv.setBigUint64(20, 1n, true);
  let acc = 0n;
  let at = 0n;
  let k = 28;
  for (const p of polys) for (let j = 0; j < level; j++) for (let i = 0; i < ctx.N; i++) {
    acc |= p[j * ctx.N + i]! << at;
    at += bits[j]!;
    for (; at >= 8n; at -= 8n, acc >>= 8n) out[k++] = Number(acc & 0xffn);
  }
  if (at > 0n) out[k++] = Number(acc);
  expect(k).toBe(out.length);
  return out;
}

let ctx: CkksContext;
let ct: Uint8Array;
beforeAll(async () => {
  ctx = await CkksContext.create(PARAMETER_SETS.N4096);
  const s = genSecretKeyShare(ctx);
  const crp = sampleCrp(ctx, new Uint8Array(32), 'ckg');
  using enc = new PackedEncryptor(ctx, ckgGenPublicKey(ctx, ckgGenShare(ctx, s, crp), crp), 1);
  ct = enc.encryptChunk([1, -2, 3, 2 ** 40, -(2 ** 52)]);
});
afterAll(() => ctx?.[Symbol.dispose]());

describe('compact ciphertext wire form', () => {
  it('round-trips SEAL bytes exactly and spends bitlen(q) bits per residue', () => {
    const packed = packCiphertext(ctx, ct);
    expect(packed.length).toBe(packedLength(ctx, 1));
    // 2 polynomials × N residues × 60 bits, plus a 28-byte header
    expect(packed.length).toBe(28 + (2 * ctx.N * 60) / 8);
    expect(packed.length / ctx.N).toBeLessThan(16);
    expect(unpackCiphertext(ctx, packed)).toEqual(ct);
  });

  it('packs exactly as the bit-stream definition, for every prime width and size (60- and 49-bit primes, 2 and 3 polynomials)', () => {
    for (const [level, size] of [[1, 2], [2, 2], [2, 3]] as const) {
      const polys = Array.from({ length: size }, () => uniformPoly(ctx.moduli, ctx.N, level));
      // the largest residue of each prime and zero, at the block edges
      polys[0]![0] = ctx.moduli[0]! - 1n;
      polys[0]![ctx.N - 1] = 0n;
      polys[size - 1]![level * ctx.N - 1] = ctx.moduli[level - 1]! - 1n;
      const seal = serializeCiphertext(ctx, { level, isNttForm: size === 3, scale: 2 ** 38, correctionFactor: 1n, polys });
      const packed = packCiphertext(ctx, seal);
      expect(packed).toEqual(referencePack(level, size, size === 3, 2 ** 38, polys));
      expect(unpackCiphertext(ctx, packed)).toEqual(seal);
      // an unaligned view (as protobuf decoding hands it over) unpacks the same
      const shifted = new Uint8Array(packed.length + 3);
      shifted.set(packed, 3);
      expect(unpackCiphertext(ctx, shifted.subarray(3))).toEqual(seal);
    }
  });

  it('refuses nonzero padding and an unreduced residue in the 49-bit prime', () => {
    const polys = [uniformPoly(ctx.moduli, ctx.N, 2), uniformPoly(ctx.moduli, ctx.N, 2)];
    polys[1]![2 * ctx.N - 1] = ctx.moduli[1]!; // = q: not reduced
    const bad = referencePack(2, 2, true, 1, polys);
    expect(() => unpackCiphertext(ctx, bad)).toThrow(/residue 16383 is not reduced/);
    const seal = packCiphertext(ctx, serializeCiphertext(ctx, { level: 1, isNttForm: false, scale: 1, correctionFactor: 1n, polys: [uniformPoly(ctx.moduli, ctx.N, 1), uniformPoly(ctx.moduli, ctx.N, 1)] }));
    expect(seal.length).toBe(packedLength(ctx, 1));
  });

  it('refuses truncated, mislabelled or unreduced input', () => {
    const packed = packCiphertext(ctx, ct);
    expect(() => unpackCiphertext(ctx, packed.subarray(0, packed.length - 1))).toThrow(/bytes, expected/);
    const magic = packed.slice();
    magic[0] = 0;
    expect(() => unpackCiphertext(ctx, magic)).toThrow(/magic/);
    const level = packed.slice();
    level[5] = 2; // the key level of N4096: the length no longer matches
    expect(() => unpackCiphertext(ctx, level)).toThrow(RangeError);
    const high = packed.slice();
    // the first residue's 60 bits are all ones: ≥ q
    high.fill(0xff, 28, 28 + 7);
    high[28 + 7] = high[28 + 7]! | 0x0f;
    expect(() => unpackCiphertext(ctx, high)).toThrow(/not reduced/);
  });
});
