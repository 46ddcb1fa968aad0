import { describe, expect, it } from 'vitest';
import { CkksContext, PARAMETER_SETS } from '../crypto/ckks/params.ts';
import { loadSeal, SealScope } from '../crypto/ckks/seal.ts';

describe('node-seal loading and disposal', () => {
  it('loads node-seal once per process', async () => {
    expect(await loadSeal()).toBe(await loadSeal());
  });

  it('a SealScope frees every tracked object at scope exit, and disposing twice is safe', async () => {
    const seal = await loadSeal();
    let kept: { isDeleted(): boolean }[] = [];
    {
      using scope = new SealScope();
      kept = [scope.track(new seal.Plaintext()), scope.track(new seal.Ciphertext())];
      expect(kept.every((o) => !o.isDeleted())).toBe(true);
    }
    expect(kept.every((o) => o.isDeleted())).toBe(true);
    const scope = new SealScope();
    scope.track(new seal.Plaintext());
    scope[Symbol.dispose]();
    expect(() => scope[Symbol.dispose]()).not.toThrow();
  });

  it('a CkksContext reads the prime chain and levels back from SEAL, and SEAL refuses insecure chains', async () => {
    using ctx = await CkksContext.create(PARAMETER_SETS.N8192);
    expect(ctx.moduli.map((q) => q.toString(2).length)).toEqual([60, 60, 60]);
    expect(ctx.keyLevel).toBe(3);
    expect(ctx.topLevel).toBe(2);
    expect(ctx.levelOf(ctx.parmsId(1))).toBe(1);
    expect(ctx.modulusBits(2)).toBe(120);
    await expect(CkksContext.create({ ...PARAMETER_SETS.N4096, name: 'too-big', primeBits: [60, 50] })).rejects.toThrow(/128-bit security allows at most 109/);
    await expect(CkksContext.create({ ...PARAMETER_SETS.N4096, name: 'thin-margin', scaleBits: 32 })).rejects.toThrow(/scaleBits/);
  });
});
