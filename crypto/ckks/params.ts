/**
 * CKKS parameter sets for additive multiparty aggregation, and the context that binds one to
 * node-seal. The precision and security analysis behind each number is in
 * docs/ckks-parameters.md; the short version is in each set's `note`.
 *
 * Levels are counted in primes: level L means the ciphertext lives modulo the first L primes of
 * the key's chain. The key level is `primeBits.length` (it includes SEAL's special prime); data
 * levels run from `primeBits.length - 1` down to 1. A CKKS ciphertext is mod-switched down by
 * dropping primes from the end, without touching its noise or scale.
 */
import { loadSeal, SealScope } from './seal.ts';
import type { ParmsIdType, Seal, SEALContext } from './seal.ts';

export interface CkksParams {
  readonly name: string;
  /** Ring degree N (power of two): each ciphertext carries N values (coefficient packing). */
  readonly N: number;
  /** Bit sizes of SEAL's coefficient-modulus primes, key chain order (special prime last). */
  readonly primeBits: readonly number[];
  /** Fixed-point encoding scale Δ = 2^scaleBits applied to each integer value. */
  readonly scaleBits: number;
  /** Flooding noise σ = 2^floodingSigmaBits added by every decryption share (CKS, PCKS). */
  readonly floodingSigmaBits: number;
  /** Parties for which Δ/2 exceeds 12 standard deviations of the summed flooding noise (Δ/2 ≥ 12·σ·√n). */
  readonly maxParties: number;
  readonly note: string;
}

export const PARAMETER_SETS = {
  /**
   * N = 4096, 60 + 49 = 109 bits (the HE standard's 128-bit maximum for N = 4096, ternary secret).
   * One data level of 60 bits, Lattigo's σ_flood = 2^30. For tests and short vectors; its
   * decryption budget per key is small (`decryptionBound`: 410 ciphertexts at 3 parties).
   */
  N4096: {
    name: 'N4096',
    N: 4096,
    primeBits: [60, 49],
    scaleBits: 38,
    floodingSigmaBits: 30,
    maxParties: 100,
    note: '128-bit (logQ=109 ≤ 109); σ_flood=2^30; level 1: |sum| < 2^19',
  },
  /**
   * N = 8192, 60 + 60 + 60 = 180 bits (≤ 218, the HE standard's 128-bit maximum for N = 8192).
   * The production set: flooding σ = 2^36 (`decryptionBound`: ≈ 1.7·10^6 decrypted ciphertexts
   * per key at 3 parties, ≈ 1.7·10^4 at 30), Δ = 2^44. Level 1 (60 bits) holds |sum| < 2^13
   * exactly, level 2 (120 bits) any |sum| ≤ 2^53.
   */
  N8192: {
    name: 'N8192',
    N: 8192,
    primeBits: [60, 60, 60],
    scaleBits: 44,
    floodingSigmaBits: 36,
    maxParties: 100,
    note: '128-bit (logQ=180 ≤ 218); σ_flood=2^36; level 1: |sum| < 2^13, level 2: |sum| ≤ 2^53',
  },
  /**
   * The same ring with Lattigo's flooding σ = 2^30 and Δ = 2^38: level 1 holds |sum| < 2^19, but
   * OpenFHE's rule allows far fewer decryptions per key (`decryptionBound`: 410 at 3 parties, 4
   * at 30); for small federations that re-key often.
   */
  N8192_LOWFLOOD: {
    name: 'N8192_LOWFLOOD',
    N: 8192,
    primeBits: [60, 60, 60],
    scaleBits: 38,
    floodingSigmaBits: 30,
    maxParties: 100,
    note: '128-bit (logQ=180 ≤ 218); σ_flood=2^30; level 1: |sum| < 2^19, level 2: |sum| ≤ 2^53',
  },
} as const satisfies Record<string, CkksParams>;

export type ParameterSetName = keyof typeof PARAMETER_SETS;

/** OpenFHE's statistical security parameter s for noise flooding (its default). */
export const FLOODING_STATISTICAL_SECURITY = 30;

/**
 * B(n): the ciphertext error before flooding, in coefficient units, for n parties — a linear fit
 * above every measurement in docs/ckks-parameters.md §2 (n = 3: 310, 10: 910, 30: 3250).
 */
export function ciphertextErrorBound(parties: number): number {
  if (!Number.isInteger(parties) || parties < 1) throw new RangeError(`parties: expected a positive integer, got ${parties}`);
  return 110 * parties;
}

/**
 * Safety factor on τ: B was measured as the largest error over ≤ 10^6 coefficients, while the
 * decryptions of one key expose up to ~10^9–10^10; the Gaussian maximum grows by
 * √(ln 10^10 / ln 10^6) ≈ 1.3 over that range, so B² by ≈ 1.7 — rounded up to 2.
 */
export const DECRYPTION_BOUND_SAFETY = 2;

/**
 * τ(n): how many ciphertexts one party may produce decryption shares (PCKS/CKS) for under one
 * collective key, from OpenFHE's flooding rule σ_flood ≥ √(12τ)·2^{s/2}·B(n) with s = 30:
 * τ = (σ_flood / (2^15·B(n)))² / 12, divided by DECRYPTION_BOUND_SAFETY. Every share counts
 * (a retried share for the same sum carries fresh flooding noise). Parties refuse past it and
 * the aggregator re-keys before it (docs/ckks-parameters.md §2, docs/ckks-backend.md §5).
 */
export function decryptionBound(p: CkksParams, parties: number): number {
  const ratio = 2 ** p.floodingSigmaBits / (2 ** (FLOODING_STATISTICAL_SECURITY / 2) * ciphertextErrorBound(parties));
  return Math.floor((ratio * ratio) / 12 / DECRYPTION_BOUND_SAFETY);
}

/** Validates a parameter set's shape before SEAL sees it (SEAL's own checks follow). */
export function checkParams(p: CkksParams): void {
  if (!Number.isInteger(p.N) || p.N < 1024 || p.N > 32768 || (p.N & (p.N - 1)) !== 0) {
    throw new RangeError(`params.N: expected a power of two in [1024, 32768], got ${p.N}`);
  }
  if (p.primeBits.length < 2) {
    throw new RangeError('params.primeBits: expected at least 2 primes (data primes + special prime)');
  }
  for (const b of p.primeBits) {
    if (!Number.isInteger(b) || b < 20 || b > 60) {
      throw new RangeError(`params.primeBits: each prime must have 20..60 bits, got ${b}`);
    }
  }
  if (!Number.isInteger(p.scaleBits) || p.scaleBits < 1 || p.scaleBits >= p.primeBits[0]! - 1) {
    throw new RangeError(`params.scaleBits: expected 1..${p.primeBits[0]! - 2}, got ${p.scaleBits}`);
  }
  if (!Number.isInteger(p.floodingSigmaBits) || p.floodingSigmaBits < 0 || p.floodingSigmaBits > 38) {
    throw new RangeError(`params.floodingSigmaBits: expected 0..38, got ${p.floodingSigmaBits}`);
  }
  if (!Number.isInteger(p.maxParties) || p.maxParties < 1) throw new RangeError(`params.maxParties: expected a positive integer`);
  // Rounding is exact while the summed flooding noise stays below Δ/2: ask for 12 σ of margin.
  if (2 ** (p.scaleBits - 1) < 12 * 2 ** p.floodingSigmaBits * Math.sqrt(p.maxParties)) {
    throw new RangeError(
      `params.scaleBits: Δ/2 = 2^${p.scaleBits - 1} is below 12·σ_flood·√maxParties; raise scaleBits or lower floodingSigmaBits/maxParties`,
    );
  }
}

/**
 * A node-seal SEALContext for one parameter set, with the prime chain and the parms_id of each
 * level read back from SEAL. Dispose it (or `using`) to free the SEAL objects it owns.
 */
export class CkksContext implements Disposable {
  readonly seal: Seal;
  readonly params: CkksParams;
  readonly context: SEALContext;
  readonly N: number;
  /** Key-level primes, key chain order (the special prime last). */
  readonly moduli: readonly bigint[];
  /** Number of primes at the key level. */
  readonly keyLevel: number;
  /** Highest data level (ciphertexts are born here unless encrypted lower). */
  readonly topLevel: number;
  #parmsIds: BigUint64Array[] = [];
  #parmsIdHandles: ParmsIdType[] = [];
  #scope = new SealScope();

  private constructor(seal: Seal, params: CkksParams) {
    checkParams(params);
    this.seal = seal;
    this.params = params;
    this.N = params.N;
    const s = this.#scope;
    const parms = s.track(new seal.EncryptionParameters(seal.SchemeType.ckks));
    parms.setPolyModulusDegree(params.N);
    const chain = s.track(seal.CoeffModulus.Create(params.N, Int32Array.from(params.primeBits)));
    parms.setCoeffModulus(chain);
    this.context = s.track(new seal.SEALContext(parms, true, seal.SecLevelType.tc128));
    if (!this.context.parametersSet()) {
      const max = seal.CoeffModulus.MaxBitCount(params.N, seal.SecLevelType.tc128);
      s[Symbol.dispose]();
      throw new RangeError(
        `params ${params.name}: SEAL refused the parameters (128-bit security allows at most ${max} modulus bits for N=${params.N})`,
      );
    }
    this.keyLevel = params.primeBits.length;
    this.topLevel = this.keyLevel - 1;
    let data = s.track(this.context.keyContextData());
    const moduli = (seal.jsArrayFromVecModulus(s.track(s.track(data.parms()).coeffModulus())) as bigint[]).map(BigInt);
    this.moduli = Object.freeze(moduli);
    // Walk the chain from the key level down to level 1 (chainIndex 0).
    const ids: BigUint64Array[] = new Array(this.keyLevel + 1);
    const handles: ParmsIdType[] = new Array(this.keyLevel + 1);
    for (;;) {
      const level = data.chainIndex() + 1;
      const handle = s.track(data.parmsId());
      handles[level] = handle;
      ids[level] = BigUint64Array.from(handle.values() as BigUint64Array);
      if (data.chainIndex() === 0) break;
      data = s.track(data.nextContextData());
    }
    this.#parmsIds = ids;
    this.#parmsIdHandles = handles;
  }

  static async create(params: CkksParams): Promise<CkksContext> {
    return new CkksContext(await loadSeal(), params);
  }

  /** The 4×u64 parms_id SEAL writes into every object at `level` (1..keyLevel). */
  parmsId(level: number): BigUint64Array {
    this.checkLevel(level, this.keyLevel);
    return this.#parmsIds[level]!;
  }

  /** SEAL's handle for the parms_id at `level`, owned by this context (do not delete). */
  parmsIdHandle(level: number): ParmsIdType {
    this.checkLevel(level, this.keyLevel);
    return this.#parmsIdHandles[level]!;
  }

  /** The level whose parms_id equals `id`, or undefined. */
  levelOf(id: BigUint64Array): number | undefined {
    for (let l = 1; l <= this.keyLevel; l++) {
      const p = this.#parmsIds[l]!;
      if (p[0] === id[0] && p[1] === id[1] && p[2] === id[2] && p[3] === id[3]) return l;
    }
    return undefined;
  }

  checkLevel(level: number, max: number = this.topLevel): void {
    if (!Number.isInteger(level) || level < 1 || level > max) {
      throw new RangeError(`level: expected an integer in 1..${max}, got ${level}`);
    }
  }

  /** Total bits of the modulus at `level` (the product of its first `level` primes). */
  modulusBits(level: number): number {
    this.checkLevel(level, this.keyLevel);
    let q = 1n;
    for (let j = 0; j < level; j++) q *= this.moduli[j]!;
    return q.toString(2).length;
  }

  [Symbol.dispose](): void {
    this.#scope[Symbol.dispose]();
  }
}
