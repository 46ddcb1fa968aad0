import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ckgAggregateShares, ckgGenPublicKey, ckgGenShare, genSecretKeyShare, parseCkgShare, parseSecretKeyShare, serializeCkgShare, serializeSecretKeyShare } from '../crypto/ckks/ckg.ts';
import type { SecretKeyShare } from '../crypto/ckks/ckg.ts';
import { cksAggregateShares, cksGenShare, cksKeySwitch, parseCksShare, serializeCksShare } from '../crypto/ckks/cks.ts';
import { parseCiphertext, parsePlaintext } from '../crypto/ckks/codec.ts';
import { crsCommitment, crsSeed, sampleCrp } from '../crypto/ckks/crs.ts';
import { addCiphertexts, decodePlaintext, PackedDecryptor, PackedEncryptor, toNttForm } from '../crypto/ckks/encoder.ts';
import { inverseNtt } from '../crypto/ckks/ntt.ts';
import { loadCiphertext, loadSecretKey, saveBytes } from '../crypto/ckks/objects.ts';
import { CkksContext, PARAMETER_SETS } from '../crypto/ckks/params.ts';
import { parsePcksShare, pcksAggregateShares, pcksGenShare, pcksKeySwitch, serializePcksShare } from '../crypto/ckks/pcks.ts';
import { addPoly, mulPoly, subPoly, toCenteredBigInts, truncateLevel } from '../crypto/ckks/rns.ts';
import { aggregateShamirShares, genAdditiveShare, genShamirPolynomial, genShamirSecretShare, parseShamirShare, serializeShamirShare } from '../crypto/ckks/threshold.ts';
import { SealScope } from '../crypto/ckks/seal.ts';
import { randomBytes } from 'node:crypto';

const n = 3;
let ctx: CkksContext;
let secrets: SecretKeyShare[];
let publicKey: Uint8Array;
let inputs: number[][];
let sum: Uint8Array;
const LENGTH = 5000; // two ciphertexts at N = 4096

function expected(): number[] {
  return inputs[0]!.map((_, k) => inputs.reduce((acc, v) => acc + v[k]!, 0));
}

/** Test-only: SEAL's own decryption under Σ s_i (nobody holds this key in production). */
function sealDecryptUnderSum(ct: Uint8Array): Uint8Array {
  let s = secrets[0]!;
  for (let i = 1; i < n; i++) s = addPoly(s, secrets[i]!, ctx.moduli, ctx.N);
  using scope = new SealScope();
  const sk = scope.track(loadSecretKey(ctx, serializeSecretKeyShare(ctx, s)));
  const dec = scope.track(new ctx.seal.Decryptor(ctx.context, sk));
  const pt = scope.track(new ctx.seal.Plaintext());
  dec.decrypt(scope.track(loadCiphertext(ctx, toNttForm(ctx, ct))), pt);
  return saveBytes(ctx, pt);
}

beforeAll(async () => {
  ctx = await CkksContext.create(PARAMETER_SETS.N4096);
  secrets = Array.from({ length: n }, () => genSecretKeyShare(ctx));
  // CRS from committed nonces, then CKG with shares serialized as on the wire.
  const nonces = Array.from({ length: n }, () => new Uint8Array(randomBytes(32)));
  const seed = crsSeed(nonces, nonces.map(crsCommitment));
  const crp = sampleCrp(ctx, seed, 'ckg');
  const shares = secrets.map((s) => parseCkgShare(ctx, serializeCkgShare(ctx, ckgGenShare(ctx, s, crp))));
  publicKey = ckgGenPublicKey(ctx, shares.reduce((a, b) => ckgAggregateShares(ctx, a, b)), crp);
  inputs = Array.from({ length: n }, (_, p) => Array.from({ length: LENGTH }, (_, k) => ((k * 37 + p * 1001) % 2001) - 1000));
  const perParty = inputs.map((v) => {
    using enc = new PackedEncryptor(ctx, publicKey, 1);
    return enc.encrypt(v);
  });
  sum = addCiphertexts(ctx, [perParty[0]![0]!, perParty[1]![0]!, perParty[2]![0]!]);
}, 120_000);
afterAll(() => ctx?.[Symbol.dispose]());

describe('CKG: collective public key', () => {
  it('a secret share survives its SEAL SecretKey serialization and SEAL loads it', () => {
    const bytes = serializeSecretKeyShare(ctx, secrets[0]!);
    expect(parseSecretKeyShare(ctx, bytes)).toEqual(secrets[0]);
    using scope = new SealScope();
    expect(() => scope.track(loadSecretKey(ctx, bytes))).not.toThrow();
  });

  it('ciphertexts are sent in coefficient form and convert deterministically to NTT form', () => {
    expect(parseCiphertext(ctx, sum).isNttForm).toBe(false);
    const ntt = toNttForm(ctx, sum);
    expect(parseCiphertext(ctx, ntt).isNttForm).toBe(true);
    expect(toNttForm(ctx, sum)).toEqual(ntt);
    expect(toNttForm(ctx, ntt)).toBe(ntt);
  });

  it('the collective public key encrypts in SEAL, and SEAL decrypts the sum under Σ s_i', () => {
    const m = decodePlaintext(ctx, sealDecryptUnderSum(sum), ctx.N);
    expect(Array.from(m)).toEqual(expected().slice(0, ctx.N));
  });

  it('a CRS nonce that does not open its commitment is refused', () => {
    const nonces = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
    const commitments = nonces.map(crsCommitment);
    nonces[1] = new Uint8Array(32).fill(3);
    expect(() => crsSeed(nonces, commitments)).toThrow(/nonces\[1\]/);
  });
});

describe('CKS: collective decryption by all n', () => {
  it('without flooding, c0 + Σ s_i·c1 is bit-identical to SEAL decryption under Σ s_i', () => {
    const ct = parseCiphertext(ctx, toNttForm(ctx, sum));
    let m = ct.polys[0]!;
    for (const s of secrets) m = addPoly(m, mulPoly(ct.polys[1]!, truncateLevel(s, ct.level, ctx.N), ctx.moduli, ctx.N), ctx.moduli, ctx.N);
    expect(m).toEqual(parsePlaintext(ctx, sealDecryptUnderSum(sum)).poly);
  });

  it('c0 + Σ h_i differs from SEAL decryption under Σ s_i only by the flooding noise', () => {
    const shares = secrets.map((s) => parseCksShare(ctx, serializeCksShare(ctx, cksGenShare(ctx, s, sum))));
    const pt = cksKeySwitch(ctx, sum, shares.reduce((a, b) => cksAggregateShares(ctx, a, b)));
    const ref = sealDecryptUnderSum(sum);
    const diff = subPoly(parsePlaintext(ctx, pt).poly, parsePlaintext(ctx, ref).poly, ctx.moduli, ctx.N);
    const noise = toCenteredBigInts(inverseNtt(diff, ctx.moduli, ctx.N), ctx.moduli, ctx.N);
    const sigma = 2 ** ctx.params.floodingSigmaBits * Math.sqrt(n);
    const maxAbs = noise.reduce((m, x) => Math.max(m, Math.abs(Number(x))), 0);
    expect(maxAbs).toBeGreaterThan(sigma); // flooding noise is present
    expect(maxAbs).toBeLessThan(7 * sigma); // and is nothing else
    expect(Array.from(decodePlaintext(ctx, pt))).toEqual(Array.from(decodePlaintext(ctx, ref)));
    expect(Array.from(decodePlaintext(ctx, pt))).toEqual(expected().slice(0, ctx.N));
  });
});

describe('PCKS: switching to the analyst key', () => {
  it('only the analyst decrypts, with plain SEAL, and gets the exact sums', () => {
    using scope = new SealScope();
    const kg = scope.track(new ctx.seal.KeyGenerator(ctx.context));
    const analystPk = saveBytes(ctx, scope.track(kg.createPublicKey()));
    const analystSk = saveBytes(ctx, scope.track(kg.secretKey()));
    const shares = secrets.map((s) => parsePcksShare(ctx, serializePcksShare(ctx, pcksGenShare(ctx, s, analystPk, sum))));
    const switched = pcksKeySwitch(ctx, sum, shares.reduce((a, b) => pcksAggregateShares(ctx, a, b)));
    using analyst = new PackedDecryptor(ctx, analystSk);
    const got = analyst.decrypt([switched], ctx.N);
    expect(Array.from(got)).toEqual(expected().slice(0, ctx.N));
    // someone else's key (a fresh SEAL key pair) gets noise, not the sums
    const other = scope.track(new ctx.seal.KeyGenerator(ctx.context));
    using wrong = new PackedDecryptor(ctx, saveBytes(ctx, scope.track(other.secretKey())));
    const bad = wrong.decrypt([switched], ctx.N);
    const matches = Array.from(bad).filter((v, k) => v === expected()[k]).length;
    expect(matches).toBeLessThan(ctx.N / 100);
  });
});

describe('threshold t-of-n', () => {
  it('any t = 2 of n = 3 parties decrypt (CKS, and PCKS to the analyst); Σ λ_j S_j equals Σ s_i; one party alone cannot', () => {
    const t = 2;
    const points = [1, 2, 3];
    const polys = secrets.map((s) => genShamirPolynomial(ctx, t, s));
    // party j receives f_i(x_j) from every i (serialized as on the wire) and sums them
    const S = points.map((x) =>
      polys.map((f) => parseShamirShare(ctx, serializeShamirShare(ctx, genShamirSecretShare(ctx, f, x)))).reduce((a, b) => aggregateShamirShares(ctx, a, b)),
    );
    let total = secrets[0]!;
    for (let i = 1; i < n; i++) total = addPoly(total, secrets[i]!, ctx.moduli, ctx.N);
    for (const active of [[1, 2], [1, 3], [2, 3]]) {
      const additive = active.map((x) => genAdditiveShare(ctx, active, x, S[x - 1]!));
      expect(additive.reduce((a, b) => addPoly(a, b, ctx.moduli, ctx.N))).toEqual(total);
      const shares = additive.map((s) => cksGenShare(ctx, s, sum));
      const pt = cksKeySwitch(ctx, sum, shares.reduce((a, b) => cksAggregateShares(ctx, a, b)));
      expect(Array.from(decodePlaintext(ctx, pt))).toEqual(expected().slice(0, ctx.N));
    }
    // PCKS with the survivors' additive shares (one party dropped out): the analyst reads the sums
    {
      using scope = new SealScope();
      const kg = scope.track(new ctx.seal.KeyGenerator(ctx.context));
      const analystPk = saveBytes(ctx, scope.track(kg.createPublicKey()));
      const active = [1, 3];
      const shares = active.map((x) => pcksGenShare(ctx, genAdditiveShare(ctx, active, x, S[x - 1]!), analystPk, sum));
      using analyst = new PackedDecryptor(ctx, saveBytes(ctx, scope.track(kg.secretKey())));
      const got = analyst.decrypt([pcksKeySwitch(ctx, sum, shares.reduce((a, b) => pcksAggregateShares(ctx, a, b)))], ctx.N);
      expect(Array.from(got)).toEqual(expected().slice(0, ctx.N));
    }
    // fewer than t: a lone party's (t−1 = 1) Lagrange share is not the secret, decryption is noise
    const lone = genAdditiveShare(ctx, [2], 2, S[1]!);
    expect(lone).not.toEqual(total);
    const pt = cksKeySwitch(ctx, sum, cksGenShare(ctx, lone, sum));
    const got = decodePlaintext(ctx, pt);
    const matches = Array.from(got).filter((v, k) => v === expected()[k]).length;
    expect(matches).toBeLessThan(ctx.N / 100);
  });

  it('t = 3 of n = 5: every 3-subset recombines Σ s_i exactly, no 2-subset does', () => {
    const t = 3;
    const points = [1, 2, 3, 4, 5];
    const secrets5 = points.map(() => genSecretKeyShare(ctx));
    let total = secrets5[0]!;
    for (let i = 1; i < points.length; i++) total = addPoly(total, secrets5[i]!, ctx.moduli, ctx.N);
    const polys = secrets5.map((s) => genShamirPolynomial(ctx, t, s));
    const S = points.map((x) => polys.map((f) => genShamirSecretShare(ctx, f, x)).reduce((a, b) => aggregateShamirShares(ctx, a, b)));
    const subsets = (k: number, from: number[]): number[][] =>
      k === 0 ? [[]] : from.flatMap((x, i) => subsets(k - 1, from.slice(i + 1)).map((rest) => [x, ...rest]));
    for (const active of subsets(3, points)) {
      const combined = active.map((x) => genAdditiveShare(ctx, active, x, S[x - 1]!)).reduce((a, b) => addPoly(a, b, ctx.moduli, ctx.N));
      expect(combined).toEqual(total);
    }
    for (const active of subsets(2, points)) {
      const combined = active.map((x) => genAdditiveShare(ctx, active, x, S[x - 1]!)).reduce((a, b) => addPoly(a, b, ctx.moduli, ctx.N));
      expect(combined).not.toEqual(total);
    }
    expect(() => genAdditiveShare(ctx, [1, 1, 2], 1, S[0]!)).toThrow(/twice/);
    expect(() => genAdditiveShare(ctx, [2, 3, 4], 1, S[0]!)).toThrow(/ownPoint/);
  });
});
