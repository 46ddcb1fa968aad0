/**
 * Measures the decryption error of the multiparty CKKS pipeline (crypto/ckks) end to end:
 * n parties encrypt integer vectors under the collective key, the ciphertexts are summed, every
 * party sends a PCKS share to the analyst's key, and the analyst decrypts with plain SEAL.
 * Reports, per parameter set, party count and vector length, the largest |decoded − exact| before
 * rounding, the standard deviation of that error, and whether rounding recovered every sum.
 * Also reports the fresh ciphertext noise (in coefficient units) of a sum of n encryptions,
 * measured with a test-only reconstruction of Σ s_i, which sizes the flooding noise.
 */
import { ckgAggregateShares, ckgGenPublicKey, ckgGenShare, genSecretKeyShare, serializeSecretKeyShare } from '../crypto/ckks/ckg.ts';
import type { SecretKeyShare } from '../crypto/ckks/ckg.ts';
import { sampleCrp } from '../crypto/ckks/crs.ts';
import { addCiphertexts, decodePlaintext, PackedDecryptor, PackedEncryptor, requiredLevel } from '../crypto/ckks/encoder.ts';
import { saveBytes } from '../crypto/ckks/objects.ts';
import { CkksContext, PARAMETER_SETS } from '../crypto/ckks/params.ts';
import type { CkksParams } from '../crypto/ckks/params.ts';
import { pcksAggregateShares, pcksGenShare, pcksKeySwitch } from '../crypto/ckks/pcks.ts';
import { addPoly } from '../crypto/ckks/rns.ts';
import { SealScope } from '../crypto/ckks/seal.ts';

export interface ErrorRow {
  params: string;
  parties: number;
  length: number;
  level: number;
  maxAbsError: number;
  stdError: number;
  /** Largest |decoded − exact| of SEAL's decryption under Σ s_i (no flooding), in value units. */
  freshMaxAbsError: number;
  exactAfterRounding: boolean;
}

export async function measureCkksError(params: CkksParams, parties: number, length: number): Promise<ErrorRow> {
  using ctx = await CkksContext.create(params);
  using scope = new SealScope();
  const secrets: SecretKeyShare[] = Array.from({ length: parties }, () => genSecretKeyShare(ctx));
  const crp = sampleCrp(ctx, new Uint8Array(32).fill(parties), 'ckg');
  const pk = ckgGenPublicKey(ctx, secrets.map((s) => ckgGenShare(ctx, s, crp)).reduce((a, b) => ckgAggregateShares(ctx, a, b)), crp);
  const bound = 1000;
  const level = requiredLevel(ctx, bound * parties);
  const inputs = Array.from({ length: parties }, (_, p) => Float64Array.from({ length }, (_, k) => ((k * 7919 + p * 104729) % (2 * bound + 1)) - bound));
  const exact = new Float64Array(length);
  for (const v of inputs) for (let k = 0; k < length; k++) exact[k]! += v[k]!;
  const perParty = inputs.map((v) => {
    using enc = new PackedEncryptor(ctx, pk, level);
    return enc.encrypt(v);
  });
  const sums = perParty[0]!.map((_, c) => addCiphertexts(ctx, perParty.map((p) => p[c]!)));

  const kg = scope.track(new ctx.seal.KeyGenerator(ctx.context));
  const analystPk = saveBytes(ctx, scope.track(kg.createPublicKey()));
  using analyst = new PackedDecryptor(ctx, saveBytes(ctx, scope.track(kg.secretKey())));
  const switched = sums.map((ct) => pcksKeySwitch(ctx, ct, secrets.map((s) => pcksGenShare(ctx, s, analystPk, ct)).reduce((a, b) => pcksAggregateShares(ctx, a, b))));
  const raw = analyst.decrypt(switched, length, false);
  const rounded = analyst.decrypt(switched, length, true);

  // Test-only: SEAL's own decryption under Σ s_i gives the fresh (pre-flooding) noise.
  let total = secrets[0]!;
  for (let i = 1; i < parties; i++) total = addPoly(total, secrets[i]!, ctx.moduli, ctx.N);
  using summed = new PackedDecryptor(ctx, serializeSecretKeyShare(ctx, total));
  let freshMax = 0;
  for (let c = 0; c < sums.length; c++) {
    const count = Math.min(ctx.N, length - c * ctx.N);
    const fresh = decodePlaintext(ctx, summed.decryptToPlaintext(sums[c]!), count, false);
    for (let k = 0; k < count; k++) freshMax = Math.max(freshMax, Math.abs(fresh[k]! - exact[c * ctx.N + k]!));
  }

  let maxAbs = 0;
  let sq = 0;
  let exactAll = true;
  for (let k = 0; k < length; k++) {
    const e = raw[k]! - exact[k]!;
    maxAbs = Math.max(maxAbs, Math.abs(e));
    sq += e * e;
    if (rounded[k] !== exact[k]) exactAll = false;
  }
  return {
    params: params.name,
    parties,
    length,
    level,
    maxAbsError: maxAbs,
    stdError: Math.sqrt(sq / length),
    freshMaxAbsError: freshMax,
    exactAfterRounding: exactAll,
  };
}

/** Prints the error table used in docs/ckks-parameters.md. */
export async function benchCkksError(
  sets: readonly CkksParams[] = [PARAMETER_SETS.N4096, PARAMETER_SETS.N8192],
  parties: readonly number[] = [3, 10, 30],
  lengths: readonly number[] = [1e3, 1e5],
): Promise<ErrorRow[]> {
  const rows: ErrorRow[] = [];
  console.log('\nCKKS decryption error (value units; inputs in [−1000, 1000]; PCKS to an analyst key, SEAL decryption)');
  console.log('params   n  length  level  max|err|   std(err)   expected σ   fresh max|err| (no flooding)  exact after rounding');
  for (const p of sets) {
    for (const n of parties) {
      for (const length of lengths) {
        const r = await measureCkksError(p, n, length);
        rows.push(r);
        const sigma = (2 ** p.floodingSigmaBits * Math.sqrt(n)) / 2 ** p.scaleBits;
        console.log(
          `${r.params.padEnd(7)} ${String(n).padStart(2)} ${String(length).padStart(7)} ${String(r.level).padStart(6)}  ${r.maxAbsError.toExponential(3)}  ${r.stdError.toExponential(3)}  ${sigma.toExponential(3)}  ${r.freshMaxAbsError.toExponential(3).padStart(12)}                 ${r.exactAfterRounding}`,
        );
      }
    }
  }
  return rows;
}
