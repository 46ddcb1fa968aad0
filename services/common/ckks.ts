/**
 * What the aggregator, the parties and the analyst's client agree on for the CKKS backend
 * (docs/ckks-backend.md): the parameter set, the roster digest that names a collective key, the
 * and how a plan's fixed-point sums are laid out in CKKS
 * values — one value per statistic when every sum (noise included) stays below 2^53, else each
 * sum split into two 32-bit limbs — and the lowest ciphertext level that keeps them exact.
 * Every choice here depends on the plan and the schema's bounds only, never on data, so each
 * side recomputes it and refuses a mismatch.
 *
 * node-seal is loaded by `ckksContext()` only, once per process, the first time CKKS is used.
 */
import { sha256 } from '../../crypto/sha256.ts';
import { toHex, utf8 } from '../../crypto/bytes.ts';
import { requiredLevel, ciphertextCount } from '../../crypto/ckks/encoder.ts';
import { packedLength } from '../../crypto/ckks/wire.ts';
import { CkksContext, PARAMETER_SETS, type CkksParams } from '../../crypto/ckks/params.ts';
import { releasedStdDev } from '../../crypto/dp/distributed.ts';
import { canonicalJson, type NoisePlan, type Plan, type Schema } from '../../stats/index.ts';
import type { Roster } from './roster.ts';

/**
 * The federation's parameter set: N = 8192, primes 60+60+60, Δ = 2^44, σ_flood = 2^36
 * (docs/ckks-parameters.md: 128-bit security, exact rounding up to 100 parties).
 */
export const CKKS_PARAMS: CkksParams = PARAMETER_SETS.N8192;

let context: Promise<CkksContext> | undefined;

/** The process's one CkksContext for CKKS_PARAMS (loads node-seal on first use). */
export function ckksContext(): Promise<CkksContext> {
  context ??= CkksContext.create(CKKS_PARAMS);
  return context;
}

/** Parameter set by name (analyst keys and releases name theirs). */
export function ckksParamsByName(name: string): CkksParams {
  const p = (PARAMETER_SETS as Record<string, CkksParams>)[name];
  if (!p) throw new RangeError(`unknown CKKS parameter set "${name}" (known: ${Object.keys(PARAMETER_SETS).join(', ')})`);
  return p;
}

/**
 * Hex SHA-256 of the roster's parties, keys, threshold and collusion bound: a collective key belongs to exactly
 * this roster, and a changed roster needs a new key ceremony. (The aggregator's own identity is
 * not part of it: it holds no key share.)
 */
export function rosterDigest(roster: Roster): string {
  const body = {
    v: 2,
    federation: roster.federation,
    threshold: roster.threshold,
    collusion: roster.collusion,
    parties: roster.parties.map((p) => ({ id: p.id, publicKey: toHex(p.publicKey) })),
  };
  return toHex(sha256(utf8(canonicalJson(body))));
}

/**
 * A plain Uint8Array copy of bytes from the network: protobuf decoding over gRPC yields Node
 * Buffers that are views into a shared pool, and Buffer#slice does not copy, which the CKKS codec
 * (reading BigUint64Arrays from `bytes.slice(...).buffer`) does not expect.
 */
export function ownBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

export function sha256Hex(bytes: Uint8Array): string {
  return toHex(sha256(bytes));
}


const TWO32 = 1n << 32n;

/** How a plan's sums travel as CKKS values, and at which level. */
export interface CkksLayout {
  /** Number of statistics (plan entries). */
  entries: number;
  /** 1: value i is sum i; 2: values [0, m) are the low 32-bit limbs (0 ≤ lo < 2^32), [m, 2m) the high limbs. */
  limbs: 1 | 2;
  /** CKKS values per party: entries × limbs. */
  length: number;
  /** Largest |sum of one CKKS value over all parties| the bounds allow. */
  maxAbsSum: number;
  /** The lowest ciphertext level (number of primes) that keeps every such sum exact. */
  level: number;
  ciphertexts: number;
}

/**
 * The layout of a plan's sums: |sum| ≤ parties × maxRowsPerParty × ⌈bound·2^scale⌉, plus 8
 * standard deviations of every party's DP noise (the same headroom `planNoise` checks against the
 * ring). Up to 2^53 − 1 one value per sum; beyond, two 32-bit limbs whose sums stay below
 * parties·2^32 whatever the data.
 */
export function ckksLayout(ctx: CkksContext, plan: Plan, schema: Schema, noise?: NoisePlan): CkksLayout {
  const rows = plan.parties * schema.maxRowsPerParty;
  let maxAbs = 0;
  plan.entries.forEach((e, i) => {
    const term = Math.ceil(e.bound * 2 ** plan.scaleBits[i]!);
    const headroom = noise ? 8 * releasedStdDev(noise.perEntry[i]!.noise, plan.parties) : 0;
    maxAbs = Math.max(maxAbs, rows * term + headroom);
  });
  const entries = plan.entries.length;
  const oneValue = maxAbs <= Number.MAX_SAFE_INTEGER;
  const limbs: 1 | 2 = oneValue ? 1 : 2;
  const maxAbsSum = oneValue ? Math.ceil(maxAbs) : plan.parties * 2 ** 32;
  const length = entries * limbs;
  return { entries, limbs, length, maxAbsSum, level: requiredLevel(ctx, maxAbsSum), ciphertexts: ciphertextCount(ctx, length) };
}

/** Bytes per EncryptedInput chunk the aggregator aims at: a PCKS request carries one chunk of each contributor. */
export const INPUT_CHUNK_BYTES = 512 * 1024;

/** The aggregator's choice of StartSession.ckks_input_chunk: ~INPUT_CHUNK_BYTES of ciphertexts per chunk. */
export function defaultInputChunk(ctx: CkksContext, layout: CkksLayout): number {
  return Math.max(1, Math.min(layout.ciphertexts, Math.floor(INPUT_CHUNK_BYTES / packedLength(ctx, layout.level))));
}

/** The chunk size a StartSession names, checked against the layout (0: the whole input in one chunk). */
export function inputChunk(layout: CkksLayout, named: number): number {
  if (!Number.isSafeInteger(named) || named < 0) throw new RangeError(`ckks_input_chunk: expected a non-negative integer, got ${named}`);
  return named === 0 ? layout.ciphertexts : Math.min(named, layout.ciphertexts);
}

/** A party's (noisy) sums as CKKS values (safe integers), per the layout. */
export function toCkksValues(layout: CkksLayout, sums: readonly bigint[]): Float64Array {
  if (sums.length !== layout.entries) throw new RangeError(`sums: expected ${layout.entries} entries, got ${sums.length}`);
  const out = new Float64Array(layout.length);
  sums.forEach((s, i) => {
    if (layout.limbs === 1) {
      if (s > BigInt(Number.MAX_SAFE_INTEGER) || s < -BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new RangeError(`sums[${i}]: ${s} is beyond 2^53 − 1, outside the bounds of the plan`);
      }
      out[i] = Number(s);
      return;
    }
    if (s >= 1n << 63n || s < -(1n << 63n)) throw new RangeError(`sums[${i}]: beyond the 64-bit range of the plan`);
    const lo = ((s % TWO32) + TWO32) % TWO32;
    out[i] = Number(lo);
    out[layout.entries + i] = Number((s - lo) / TWO32);
  });
  return out;
}

/** The summed CKKS values (rounded integers) back to the plan's exact sums. */
export function fromCkksValues(layout: CkksLayout, values: ArrayLike<number>): bigint[] {
  if (values.length !== layout.length) throw new RangeError(`values: expected ${layout.length}, got ${values.length}`);
  const out: bigint[] = [];
  for (let i = 0; i < layout.entries; i++) {
    const v = values[i]!;
    if (!Number.isSafeInteger(v)) throw new RangeError(`values[${i}]: ${v} is not an exact integer (decryption failed or the key is wrong)`);
    if (layout.limbs === 1) out.push(BigInt(v));
    else {
      const hi = values[layout.entries + i]!;
      if (!Number.isSafeInteger(hi)) throw new RangeError(`values[${layout.entries + i}]: ${hi} is not an exact integer`);
      out.push(BigInt(hi) * TWO32 + BigInt(v));
    }
  }
  return out;
}
