/**
 * Multiparty CKKS benchmark (crypto/ckks): for each vector length and party count, per-party
 * encode+encrypt time, bytes sent per value, the aggregator's homomorphic add time and one
 * party's PCKS decryption-share time, beside node-seal's own encode+encrypt and add of the same
 * number of ciphertexts at the same level (the floor in this runtime), as a ratio.
 *
 * Parties are simulated in one process: encryption is timed for one party (every party does the
 * same work), and the aggregator adds that party's ciphertexts n times over (the add cost does
 * not depend on whose ciphertext it is). Inputs are integers in [−1000, 1000].
 */
import { ckgAggregateShares, ckgGenPublicKey, ckgGenShare, genSecretKeyShare } from '../crypto/ckks/ckg.ts';
import { sampleCrp } from '../crypto/ckks/crs.ts';
import { addCiphertexts, ciphertextCount, PackedEncryptor, requiredLevel } from '../crypto/ckks/encoder.ts';
import { loadCiphertext, saveBytes } from '../crypto/ckks/objects.ts';
import { CkksContext, PARAMETER_SETS } from '../crypto/ckks/params.ts';
import type { CkksParams } from '../crypto/ckks/params.ts';
import { pcksGenShare } from '../crypto/ckks/pcks.ts';
import { SealScope } from '../crypto/ckks/seal.ts';
import { packCiphertext } from '../crypto/ckks/wire.ts';

export interface BenchCkksOptions {
  lengths?: readonly number[];
  parties?: readonly number[];
  params?: CkksParams;
  /** Cap on ciphertexts timed for PCKS shares (the rest extrapolated linearly, and said so). */
  pcksSampleCiphertexts?: number;
  /** Inputs are integers in [−bound, bound]; bound × max parties sets the level. */
  valueBounds?: readonly number[];
  /** Timings are the best of this many runs (the machine may be shared). */
  repeats?: number;
}

function best(repeats: number, fn: () => void): number {
  let min = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

function ms(t0: number): number {
  return performance.now() - t0;
}

export async function benchCkks(options: BenchCkksOptions = {}): Promise<void> {
  const lengths = options.lengths ?? [1e3, 1e5, 1e6];
  const partyCounts = options.parties ?? [3, 10, 30];
  const params = options.params ?? PARAMETER_SETS.N8192;
  const pcksSample = options.pcksSampleCiphertexts ?? 16;
  const bounds = options.valueBounds ?? [100, 1000];
  const repeats = options.repeats ?? 5;
  using ctx = await CkksContext.create(params);
  const { seal } = ctx;
  using scope = new SealScope();

  // Collective key of 3 parties (the key's shape does not depend on n).
  const secrets = [0, 1, 2].map(() => genSecretKeyShare(ctx));
  const crp = sampleCrp(ctx, new Uint8Array(32).fill(7), 'ckg');
  const publicKey = ckgGenPublicKey(ctx, secrets.map((s) => ckgGenShare(ctx, s, crp)).reduce((a, b) => ckgAggregateShares(ctx, a, b)), crp);
  const analyst = scope.track(new seal.KeyGenerator(ctx.context));
  const analystPk = saveBytes(ctx, scope.track(analyst.createPublicKey()));

  // node-seal's own pipeline, for the floor.
  const rawPk = scope.track(analyst.createPublicKey());
  const rawEnc = scope.track(new seal.Encryptor(ctx.context, rawPk));
  const rawEv = scope.track(new seal.Evaluator(ctx.context));
  const ckksEncoder = scope.track(new seal.CKKSEncoder(ctx.context));
  const slots = ckksEncoder.slotCount();

  console.log(`\nMultiparty CKKS (${params.name}: N=${params.N}, primes ${params.primeBits.join('+')} bits, Δ=2^${params.scaleBits}, σ_flood=2^${params.floodingSigmaBits}); ${ctx.N} values per ciphertext (coefficient packing)`);
  console.log('bound  length   n lvl  cts  enc ms/party  raw enc ms  ratio/ct  ratio/value  B/value SEAL  B/value wire  add ms (agg)  raw add ms  PCKS ms/party');

  for (const bound of bounds)
  for (const length of lengths) {
    const maxParties = Math.max(...partyCounts);
    const level = requiredLevel(ctx, bound * maxParties);
    const count = ciphertextCount(ctx, length);
    const values = Float64Array.from({ length }, (_, k) => ((k * 7919) % (2 * bound + 1)) - bound);

    // Per-party encode + encrypt (ours), then raw node-seal encode + encrypt of as many ciphertexts.
    using enc = new PackedEncryptor(ctx, publicKey, level);
    enc.encryptChunk(values.subarray(0, Math.min(length, ctx.N))); // warm-up
    let cts: Uint8Array[] = [];

    const pt = scope.track(new seal.Plaintext());
    const rawCt = scope.track(new seal.Ciphertext());
    const chunk = new Float64Array(slots).map((_, i) => values[i % length]!);
    const levelId = ctx.parmsIdHandle(level);
    // Ours and raw alternate within each repetition, so both see the same machine load.
    let encMs = Infinity;
    let rawEncMs = Infinity;
    for (let r = 0; r < repeats; r++) {
      encMs = Math.min(encMs, best(1, () => {
        cts = enc.encrypt(values);
      }));
      rawEncMs = Math.min(rawEncMs, best(1, () => {
        for (let c = 0; c < count; c++) {
          ckksEncoder.encode(chunk, 2 ** params.scaleBits, pt);
          rawEv.plainModSwitchToInplace(pt, levelId);
          rawEnc.encrypt(pt, rawCt);
          saveBytes(ctx, rawCt);
        }
      }));
    }
    const bytes = cts.reduce((a, c) => a + c.length, 0);
    const wireBytes = cts.reduce((a, c) => a + packCiphertext(ctx, c).length, 0);

    // PCKS share of one party for every ciphertext of the sum (timed on up to pcksSample).
    const timed = Math.min(count, pcksSample);
    let t0 = performance.now();
    for (let c = 0; c < timed; c++) pcksGenShare(ctx, secrets[0]!, analystPk, cts[c]!);
    const pcksMs = (ms(t0) / timed) * count;

    for (const n of partyCounts) {
      // Aggregator: load and add n ciphertexts per position (ours: SEAL's evaluator on our bytes).
      const addMs = best(repeats, () => {
        for (let c = 0; c < count; c++) addCiphertexts(ctx, new Array<Uint8Array>(n).fill(cts[c]!));
      });
      // Raw: the same number of in-memory adds on node-seal ciphertexts (no load/save).
      const a = scope.track(loadCiphertext(ctx, cts[0]!));
      const b = scope.track(loadCiphertext(ctx, cts[0]!));
      const rawAddMs = best(repeats, () => {
        for (let c = 0; c < count * (n - 1); c++) rawEv.addInplace(a, b);
      });
      // raw needs ⌈length/(N/2)⌉ ciphertexts for the same values (its time is linear in count).
      const perValue = encMs / ((rawEncMs * Math.ceil(length / slots)) / count);
      console.log(
        [
          String(bound).padEnd(5),
          String(length).padEnd(8),
          String(n).padStart(2),
          String(level).padStart(3),
          String(count).padStart(4),
          encMs.toFixed(1).padStart(13),
          rawEncMs.toFixed(1).padStart(11),
          (encMs / rawEncMs).toFixed(2).padStart(9),
          perValue.toFixed(2).padStart(12),
          (bytes / length).toFixed(1).padStart(13),
          (wireBytes / length).toFixed(1).padStart(13),
          addMs.toFixed(1).padStart(13),
          rawAddMs.toFixed(1).padStart(11),
          `${pcksMs.toFixed(0).padStart(14)}${timed < count ? ` (timed ${timed} of ${count})` : ''}`,
        ].join(' '),
      );
    }
  }
  console.log(`times: best of ${repeats} runs. raw enc = CKKSEncoder.encode + mod switch + Encryptor.encrypt + save of as many ciphertexts (N/2 slots each);`);
  console.log('ratio/ct compares the same number of ciphertexts; ratio/value the same number of values (ours packs N per ciphertext, SEAL N/2).');
  console.log('B/value SEAL = uncompressed SEAL bytes; wire = crypto/ckks/wire.ts packing (bitlen(q) bits per residue).');
  console.log('add ms = addCiphertexts (validate + load each received ciphertext, add, save the sum); raw add = in-memory addInplace only.');
}
