/**
 * What the aggregator, the parties and the analyst's client agree on for the CKKS backend
 * (docs/ckks-backend.md): the parameter set, the roster digest that names a collective key, and
 * how a plan's fixed-point sums are laid out in CKKS values (ckks-layout.ts, which needs no SEAL)
 * — one value per statistic when every sum (noise included) stays below 2^53, else each
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
import { canonicalJson, type NoisePlan, type Plan, type Schema } from '../../stats/index.ts';
import { ckksValueLayout, type CkksValueLayout } from './ckks-layout.ts';
import type { Roster } from './roster.ts';

export { ckksValueLayout, toCkksValues, type CkksValueLayout } from './ckks-layout.ts';

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
export interface CkksLayout extends CkksValueLayout {
  /** The lowest ciphertext level (number of primes) that keeps every such sum exact. */
  level: number;
  ciphertexts: number;
}

/** A value layout's level and ciphertext count under `ctx`'s modulus chain (O(1)). */
export function ckksLevel(ctx: CkksContext, v: CkksValueLayout): CkksLayout {
  return { entries: v.entries, limbs: v.limbs, length: v.length, maxAbsSum: v.maxAbsSum, level: requiredLevel(ctx, v.maxAbsSum), ciphertexts: ciphertextCount(ctx, v.length) };
}

/** The layout of a plan's sums (ckksValueLayout), with the lowest level that keeps every sum exact. */
export function ckksLayout(ctx: CkksContext, plan: Plan, schema: Schema, noise?: NoisePlan): CkksLayout {
  return ckksLevel(ctx, ckksValueLayout(plan, schema, noise));
}

/** Bytes per EncryptedInput chunk the aggregator aims at: a PCKS request carries one chunk of each contributor. */
export const INPUT_CHUNK_BYTES = 1024 * 1024;

/** The aggregator's choice of StartSession.ckks_input_chunk: ~INPUT_CHUNK_BYTES of ciphertexts per chunk (1 MiB: 8 ciphertexts at level 1, 4 at level 2). */
export function defaultInputChunk(ctx: CkksContext, layout: CkksLayout): number {
  return Math.max(1, Math.min(layout.ciphertexts, Math.floor(INPUT_CHUNK_BYTES / packedLength(ctx, layout.level))));
}

/** The chunk size a StartSession names, checked against the layout (0: the whole input in one chunk). */
export function inputChunk(layout: CkksLayout, named: number): number {
  if (!Number.isSafeInteger(named) || named < 0) throw new RangeError(`ckks_input_chunk: expected a non-negative integer, got ${named}`);
  return named === 0 ? layout.ciphertexts : Math.min(named, layout.ciphertexts);
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
