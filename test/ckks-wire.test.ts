import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ckgGenPublicKey, ckgGenShare, genSecretKeyShare } from '../crypto/ckks/ckg.ts';
import { sampleCrp } from '../crypto/ckks/crs.ts';
import { PackedEncryptor } from '../crypto/ckks/encoder.ts';
import { CkksContext, PARAMETER_SETS } from '../crypto/ckks/params.ts';
import { packCiphertext, packedLength, unpackCiphertext } from '../crypto/ckks/wire.ts';

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
