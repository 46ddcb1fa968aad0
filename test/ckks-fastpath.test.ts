/**
 * The SEAL fast paths (issue 14 item 6) against the BigInt RNS definitions they replace: the
 * same bytes where the computation is deterministic (sums, the key switch, the wire form), and
 * for the randomized PCKS share, its decryption under the analyst's key minus s_i·c1: the
 * flooding noise with σ = 2^floodingSigmaBits, as docs/ckks-parameters.md states.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ckgAggregateShares, ckgGenPublicKey, ckgGenShare, genSecretKeyShare, type SecretKeyShare } from '../crypto/ckks/ckg.ts';
import { parseCiphertext, parseSecretKey, serializeCiphertext } from '../crypto/ckks/codec.ts';
import { sampleCrp } from '../crypto/ckks/crs.ts';
import { PackedDecryptor, PackedEncryptor, toNttForm } from '../crypto/ckks/encoder.ts';
import { inverseNtt } from '../crypto/ckks/ntt.ts';
import { saveBytes } from '../crypto/ckks/objects.ts';
import { CkksContext, PARAMETER_SETS } from '../crypto/ckks/params.ts';
import { parsePcksShare, pcksAggregateShares, pcksCombine, pcksKeySwitch, PcksShareGenerator, unpackPcksShare } from '../crypto/ckks/pcks.ts';
import { addPoly, mulPoly, subPoly, toCenteredBigInts, truncateLevel } from '../crypto/ckks/rns.ts';
import { SealScope } from '../crypto/ckks/seal.ts';
import { CiphertextAccumulator } from '../crypto/ckks/sum.ts';
import { packCiphertext, unpackCiphertext } from '../crypto/ckks/wire.ts';
import { ContributionSum, parseInputCiphertexts, sumContributions } from '../services/common/ckks-inputs.ts';

let ctx: CkksContext;
let secrets: SecretKeyShare[];
let pk: Uint8Array;
const scope = new SealScope();
let analystPk: Uint8Array;
let analystSk: Uint8Array;
beforeAll(async () => {
  ctx = await CkksContext.create(PARAMETER_SETS.N8192);
  secrets = [0, 1, 2].map(() => genSecretKeyShare(ctx));
  const crp = sampleCrp(ctx, new Uint8Array(32).fill(3), 'ckg');
  pk = ckgGenPublicKey(ctx, secrets.map((s) => ckgGenShare(ctx, s, crp)).reduce((a, b) => ckgAggregateShares(ctx, a, b)), crp);
  const kg = scope.track(new ctx.seal.KeyGenerator(ctx.context));
  analystPk = saveBytes(ctx, scope.track(kg.createPublicKey()));
  analystSk = saveBytes(ctx, scope.track(kg.secretKey()));
});
afterAll(() => {
  scope[Symbol.dispose]();
  ctx?.[Symbol.dispose]();
});

const values = (party: number, level: number): Float64Array =>
  Float64Array.from({ length: ctx.N }, (_, k) => ((k * 7919 + party * 104729) % (level === 1 ? 2001 : 2 ** 40)) - (level === 1 ? 1000 : 2 ** 39));

describe('CKKS fast paths equal their BigInt definitions', () => {
  it('a party encrypts straight to the wire form: valid inputs that the three parties sum (SEAL, in place) to the residue-wise sum, in NTT form, in any order', () => {
    for (const level of [1, 2]) {
      using enc = new PackedEncryptor(ctx, pk, level);
      const packed = [0, 1, 2].map((p) => enc.encryptPacked(values(p, level)));
      const inputs = packed.map((cts) => parseInputCiphertexts(ctx, { ciphertexts: 1, level }, cts));
      const sums = sumContributions(ctx, inputs);
      const reversed = sumContributions(ctx, [...inputs].reverse());
      expect(reversed).toEqual(sums);
      // reference: residue-wise addition of the parsed polynomials, then SEAL's NTT
      const parsed = inputs.map((x) => parseCiphertext(ctx, x[0]!));
      const ref = parsed.reduce((a, b) => ({ ...a, polys: a.polys.map((p, k) => addPoly(p, b.polys[k]!, ctx.moduli, ctx.N)) }));
      expect(sums[0]).toEqual(toNttForm(ctx, serializeCiphertext(ctx, ref)));
      // the wire form is canonical: packing the unpacked input gives the bytes sent
      expect(packCiphertext(ctx, unpackCiphertext(ctx, packed[0]![0]!))).toEqual(packed[0]![0]);
    }
  });

  it('encryptPackedSteps yields once per ciphertext and gives valid inputs of the same shape as encryptPacked (the party encrypts with turns of its event loop)', () => {
    using enc = new PackedEncryptor(ctx, pk, 2);
    const v = Float64Array.from({ length: 2 * ctx.N + 3 }, (_, k) => (k % 101) - 50);
    const steps = enc.encryptPackedSteps(v);
    let yields = 0;
    let r = steps.next();
    while (!r.done) {
      yields++;
      r = steps.next();
    }
    expect(yields).toBe(3);
    expect(r.value).toHaveLength(3);
    expect(parseInputCiphertexts(ctx, { ciphertexts: 3, level: 2 }, r.value)).toHaveLength(3);
    expect(r.value.map((c) => c.length)).toEqual(enc.encryptPacked(v).map((c) => c.length));
  });

  it('a decryptor\'s one-pass sum (validate and add each packed ciphertext through one buffer) equals sumContributions, and refuses what parseInputCiphertexts refuses', () => {
    using enc = new PackedEncryptor(ctx, pk, 1);
    const shape = { ciphertexts: 2, level: 1 };
    const packed = [0, 1, 2].map((p) => enc.encryptPacked(Float64Array.from({ length: ctx.N + 5 }, (_, k) => ((k + p * 31) % 201) - 100)));
    const ref = sumContributions(ctx, packed.map((cts) => parseInputCiphertexts(ctx, shape, cts)));
    {
      using sum = new ContributionSum(ctx, 2);
      for (const cts of packed) sum.addPacked(ctx, shape, cts);
      expect(sum.sums()).toEqual(ref);
    }
    const bad = packed[1]!.map((c) => c.slice());
    bad[1]!.fill(0xff, 28, 36); // an unreduced first residue in the second ciphertext
    expect(() => parseInputCiphertexts(ctx, shape, bad, 'p2.ciphertexts')).toThrow(/p2.ciphertexts\[1\]: residue 0 is not reduced/);
    using sum = new ContributionSum(ctx, 2);
    expect(() => sum.addPacked(ctx, shape, bad, 'p2.ciphertexts')).toThrow(/p2.ciphertexts\[1\]: residue 0 is not reduced/);
    using enc2 = new PackedEncryptor(ctx, pk, 2);
    expect(() => sum.addPacked(ctx, shape, enc2.encryptPacked([1, 2]).concat(enc2.encryptPacked([3])), 'p3.ciphertexts')).toThrow(/p3.ciphertexts\[0\]: expected a fresh coefficient-form ciphertext at level 1/);
  });

  it('the accumulator refuses a ciphertext of another shape at a position, and a position left empty', () => {
    using enc1 = new PackedEncryptor(ctx, pk, 1);
    using enc2 = new PackedEncryptor(ctx, pk, 2);
    using acc = new CiphertextAccumulator(ctx, 2);
    acc.add(0, enc1.encryptChunk([1]));
    expect(() => acc.add(0, enc2.encryptChunk([1]))).toThrow(/differ from the other ciphertexts/);
    expect(() => acc.sums()).toThrow(/position 1: no ciphertext/);
  });

  it('PCKS on SEAL: the aggregator\'s key switch equals the RNS definition byte for byte, and the analyst decrypts the exact sums', () => {
    using enc = new PackedEncryptor(ctx, pk, 2);
    const inputs = [0, 1, 2].map((p) => parseInputCiphertexts(ctx, { ciphertexts: 1, level: 2 }, enc.encryptPacked(values(p, 2))));
    const [sum] = sumContributions(ctx, inputs);
    const shares = secrets.map((s) => {
      using gen = new PcksShareGenerator(ctx, s, analystPk);
      return unpackPcksShare(ctx, packCiphertext(ctx, gen.share(sum!)), 2);
    });
    const fast = pcksCombine(ctx, sum!, shares);
    const ref = pcksKeySwitch(ctx, sum!, shares.map((b) => parsePcksShare(ctx, b)).reduce((a, b) => pcksAggregateShares(ctx, a, b)));
    expect(fast).toEqual(ref);
    using analyst = new PackedDecryptor(ctx, analystSk);
    const [v0, v1, v2] = [0, 1, 2].map((p) => values(p, 2));
    const expected = v0!.map((v, k) => v + v1![k]! + v2![k]!);
    expect(Array.from(analyst.decrypt([fast], ctx.N))).toEqual(Array.from(expected));
    expect(() => unpackPcksShare(ctx, packCiphertext(ctx, shares[0]!), 1)).toThrow(/at level 1/);
  });

  it('a PCKS share from SEAL is s_i·c1 + (an encryption of zero under the analyst key) + flooding: h0 + h1·s′ − s_i·c1 has mean ≈ 0 and σ ≈ 2^36', () => {
    using enc = new PackedEncryptor(ctx, pk, 1);
    const [sum] = sumContributions(ctx, [parseInputCiphertexts(ctx, { ciphertexts: 1, level: 1 }, enc.encryptPacked(values(0, 1)))]);
    const c1 = parseCiphertext(ctx, sum!).polys[1]!;
    const sAnalyst = truncateLevel(parseSecretKey(ctx, analystSk), 1, ctx.N);
    using gen = new PcksShareGenerator(ctx, secrets[0]!, analystPk);
    const noise: number[] = [];
    for (let r = 0; r < 3; r++) {
      const { h0, h1 } = parsePcksShare(ctx, gen.share(sum!));
      const d = subPoly(addPoly(h0, mulPoly(h1, sAnalyst, ctx.moduli, ctx.N), ctx.moduli, ctx.N), mulPoly(c1, truncateLevel(secrets[0]!, 1, ctx.N), ctx.moduli, ctx.N), ctx.moduli, ctx.N);
      noise.push(...toCenteredBigInts(inverseNtt(d, ctx.moduli, ctx.N), ctx.moduli, ctx.N).map(Number));
    }
    const sigma = 2 ** ctx.params.floodingSigmaBits;
    const mean = noise.reduce((a, b) => a + b, 0) / noise.length;
    const sd = Math.sqrt(noise.reduce((a, b) => a + (b - mean) ** 2, 0) / noise.length);
    expect(Math.abs(mean) / sigma).toBeLessThan(0.05); // 3·8192 draws: the standard error is 0.006σ
    expect(Math.abs(sd / sigma - 1)).toBeLessThan(0.03);
    expect(Math.max(...noise.map(Math.abs))).toBeLessThan(7 * sigma);
    // the encryption of zero's own noise (u·e′ + e0, a few hundred units) is invisible at this scale;
    // two shares of the same sum differ (fresh randomness each time)
    expect(gen.share(sum!)).not.toEqual(gen.share(sum!));
  });
});
