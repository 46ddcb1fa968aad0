import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ckgGenPublicKey, ckgGenShare, genSecretKeyShare, serializeSecretKeyShare } from '../crypto/ckks/ckg.ts';
import type { SecretKeyShare } from '../crypto/ckks/ckg.ts';
import { sampleCrp } from '../crypto/ckks/crs.ts';
import { addCiphertexts, ciphertextCount, PackedDecryptor, PackedEncryptor, requiredLevel } from '../crypto/ckks/encoder.ts';
import { parseCiphertext } from '../crypto/ckks/codec.ts';
import { CkksContext, PARAMETER_SETS } from '../crypto/ckks/params.ts';

let ctx: CkksContext;
let s: SecretKeyShare;
let pk: Uint8Array;
beforeAll(async () => {
  ctx = await CkksContext.create(PARAMETER_SETS.N8192);
  s = genSecretKeyShare(ctx);
  const crp = sampleCrp(ctx, new Uint8Array(32).fill(9), 'ckg');
  pk = ckgGenPublicKey(ctx, ckgGenShare(ctx, s, crp), crp);
});
afterAll(() => ctx?.[Symbol.dispose]());

describe('coefficient-packed encoder (N8192)', () => {
  it('chooses the lowest level that keeps the sum exact, and refuses sums beyond 2^53', () => {
    expect(requiredLevel(ctx, 0)).toBe(1);
    expect(requiredLevel(ctx, 2 ** 13 - 1)).toBe(1);
    expect(requiredLevel(ctx, 2 ** 13)).toBe(2);
    expect(requiredLevel(ctx, 2 ** 53 - 1)).toBe(2);
    expect(() => requiredLevel(ctx, 2 ** 60)).toThrow(/2\^53/);
    expect(ciphertextCount(ctx, 8193)).toBe(2);
  });

  it('packs N values per ciphertext at the chosen level; large and negative values decode exactly at level 2', () => {
    const length = 8192 + 100;
    const big = Array.from({ length }, (_, k) => (k % 2 ? -1 : 1) * (2 ** 50 - k * 1_000_003));
    using enc = new PackedEncryptor(ctx, pk, 2);
    const a = enc.encrypt(big);
    const b = enc.encrypt(big.map((v) => -Math.trunc(v / 4)));
    expect(a.length).toBe(2);
    expect(parseCiphertext(ctx, a[0]!).level).toBe(2);
    const sums = a.map((c, i) => addCiphertexts(ctx, [c, b[i]!]));
    using dec = new PackedDecryptor(ctx, serializeSecretKeyShare(ctx, s));
    const got = dec.decrypt(sums, length);
    expect(Array.from(got)).toEqual(big.map((v) => v - Math.trunc(v / 4)));
  });

  it('refuses values that are not safe integers on the fixed-point grid', () => {
    using enc = new PackedEncryptor(ctx, pk, 1);
    expect(() => enc.encryptChunk([1.5])).toThrow(/values\[0\]/);
    expect(() => enc.encryptChunk([2 ** 53])).toThrow(/values\[0\]/);
    expect(() => enc.encryptChunk(new Array(8193).fill(0))).toThrow(/at most N/);
  });
});
