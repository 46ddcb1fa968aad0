import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CkksContext, PARAMETER_SETS } from '../crypto/ckks/params.ts';
import { parseCiphertext, parseSecretKey, serializeCiphertext } from '../crypto/ckks/codec.ts';
import { forwardNtt, inverseNtt, minimalPrimitiveRoot, nttTables } from '../crypto/ckks/ntt.ts';
import { fromSigned, powMod } from '../crypto/ckks/rns.ts';
import { toUint8Array } from '../crypto/ckks/seal.ts';

let ctx: CkksContext;
beforeAll(async () => {
  ctx = await CkksContext.create(PARAMETER_SETS.N4096);
});
afterAll(() => ctx[Symbol.dispose]());

function centered(x: bigint, q: bigint): bigint {
  return x > q / 2n ? x - q : x;
}

describe('negacyclic NTT matching SEAL', () => {
  it('the minimal primitive 2N-th root ψ satisfies ψ^N = −1 for every prime', () => {
    for (const q of ctx.moduli) {
      const psi = minimalPrimitiveRoot(q, ctx.N);
      expect(powMod(psi, BigInt(ctx.N), q)).toBe(q - 1n);
      expect(nttTables(q, ctx.N).psi).toBe(psi);
    }
  });

  it('the inverse NTT of a SEAL-generated secret key has coefficients in {−1, 0, 1} for every prime', () => {
    const { seal } = ctx;
    const kg = new seal.KeyGenerator(ctx.context);
    const sk = kg.secretKey();
    const s = parseSecretKey(ctx, toUint8Array(sk.saveToArray(seal.ComprModeType.none), 'sk'));
    sk.delete();
    kg.delete();
    const coeffs = inverseNtt(s, ctx.moduli, ctx.N);
    const counts = new Map<bigint, number>();
    for (let j = 0; j < ctx.keyLevel; j++) {
      const q = ctx.moduli[j]!;
      for (let i = 0; i < ctx.N; i++) {
        const c = centered(coeffs[j * ctx.N + i]!, q);
        expect([-1n, 0n, 1n]).toContain(c);
        // the same integer polynomial under every prime
        expect(c).toBe(centered(coeffs[i]!, ctx.moduli[0]!));
        if (j === 0) counts.set(c, (counts.get(c) ?? 0) + 1);
      }
    }
    // a ternary secret uses all three values
    expect(counts.size).toBe(3);
  });

  it('round-trips: inverse(forward(a)) = a for random residues', () => {
    const a = new BigUint64Array(ctx.keyLevel * ctx.N);
    for (let j = 0; j < ctx.keyLevel; j++) {
      for (let i = 0; i < ctx.N; i++) a[j * ctx.N + i] = BigInt(Math.floor(Math.random() * 2 ** 40)) % ctx.moduli[j]!;
    }
    expect(inverseNtt(forwardNtt(a, ctx.moduli, ctx.N), ctx.moduli, ctx.N)).toEqual(a);
  });

  it('forward NTT of small integers equals SEAL NTT form (via a SEAL plaintext transform)', () => {
    const { seal } = ctx;
    // SEAL computes NTT(m): load the ciphertext (m, m) in coefficient form, transform it to NTT
    // form with SEAL's evaluator, and compare with the TypeScript transform.
    const vals = Array.from({ length: ctx.N }, (_, i) => (i * 7919) % 201 - 100);
    const level = ctx.topLevel;
    const m = fromSigned(vals, ctx.moduli, ctx.N, level);
    const ours = forwardNtt(m, ctx.moduli, ctx.N);
    const ev = new seal.Evaluator(ctx.context);
    const ct = new seal.Ciphertext();
    ct.loadFromArray(ctx.context, serializeCt(m, false));
    ev.cipherTransformToNttInplace(ct);
    const bytes = toUint8Array(ct.saveToArray(seal.ComprModeType.none), 'ct');
    ct.delete();
    ev.delete();
    const pt = parsePlaintextLike(bytes);
    expect(pt).toEqual(ours);
  });
});

function serializeCt(m: BigUint64Array, ntt: boolean): Uint8Array {
  return serializeCiphertext(ctx, { level: m.length / ctx.N, isNttForm: ntt, scale: 1, correctionFactor: 1n, polys: [m, m] });
}
function parsePlaintextLike(bytes: Uint8Array): BigUint64Array {
  const ct = parseCiphertext(ctx, bytes);
  expect(ct.isNttForm).toBe(true);
  expect(ct.polys[1]).toEqual(ct.polys[0]);
  return ct.polys[0]!;
}
