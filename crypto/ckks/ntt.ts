/**
 * Negacyclic number-theoretic transform matching SEAL exactly (protocols.md §1, verified):
 *   NTT(a)[i] = Σ_k a_k · ψ^{k·(2·bitrev(i)+1)} mod q,
 * with ψ the minimal primitive 2N-th root of unity mod q and bitrev over log2(N) bits.
 * Forward: Cooley–Tukey butterflies with ψ^{bitrev(m+i)} (Longa–Naehrig, as SEAL's
 * ntt_negacyclic_harvey); inverse: Gentleman–Sande with ψ^{-1} powers, then × N^{-1}.
 * Exact BigInt arithmetic; a multi-prime polynomial is transformed prime block by prime block.
 */
import { invMod, levelOf, mulMod, powMod } from './rns.ts';
import type { RnsPoly } from './rns.ts';

export interface NttTables {
  readonly q: bigint;
  readonly N: number;
  /** Minimal primitive 2N-th root of unity mod q. */
  readonly psi: bigint;
  /** ψ^{bitrev(i)} for i < N. */
  readonly roots: BigUint64Array;
  /** ψ^{-bitrev(i)} for i < N. */
  readonly invRoots: BigUint64Array;
  readonly nInv: bigint;
}

export function bitReverse(x: number, bits: number): number {
  let r = 0;
  for (let i = 0; i < bits; i++) r = (r << 1) | ((x >>> i) & 1);
  return r >>> 0;
}

/** The minimal primitive 2N-th root of unity modulo the prime q ≡ 1 (mod 2N). */
export function minimalPrimitiveRoot(q: bigint, N: number): bigint {
  const twoN = BigInt(2 * N);
  if ((q - 1n) % twoN !== 0n) throw new RangeError(`q: ${q} is not ≡ 1 mod 2N=${twoN}`);
  const cofactor = (q - 1n) / twoN;
  let g = 0n;
  for (let x = 2n; x < q; x++) {
    const c = powMod(x, cofactor, q);
    // c has order dividing 2N; it is primitive iff c^N = −1.
    if (powMod(c, BigInt(N), q) === q - 1n) {
      g = c;
      break;
    }
  }
  if (g === 0n) throw new RangeError(`q: no primitive 2N-th root of unity mod ${q}`);
  // All primitive 2N-th roots are g^k for odd k; take the smallest.
  const g2 = mulMod(g, g, q);
  let best = g;
  let cur = g;
  for (let k = 3; k < 2 * N; k += 2) {
    cur = mulMod(cur, g2, q);
    if (cur < best) best = cur;
  }
  return best;
}

const tableCache = new Map<string, NttTables>();

export function nttTables(q: bigint, N: number): NttTables {
  const key = `${q}:${N}`;
  const cached = tableCache.get(key);
  if (cached) return cached;
  const logN = Math.log2(N);
  if (!Number.isInteger(logN)) throw new RangeError(`N: expected a power of two, got ${N}`);
  const psi = minimalPrimitiveRoot(q, N);
  const psiInv = invMod(psi, q);
  const pow = new BigUint64Array(N);
  const powInv = new BigUint64Array(N);
  pow[0] = 1n;
  powInv[0] = 1n;
  for (let i = 1; i < N; i++) {
    pow[i] = mulMod(pow[i - 1]!, psi, q);
    powInv[i] = mulMod(powInv[i - 1]!, psiInv, q);
  }
  const roots = new BigUint64Array(N);
  const invRoots = new BigUint64Array(N);
  for (let i = 0; i < N; i++) {
    const r = bitReverse(i, logN);
    roots[i] = pow[r]!;
    invRoots[i] = powInv[r]!;
  }
  const t: NttTables = { q, N, psi, roots, invRoots, nInv: invMod(BigInt(N), q) };
  tableCache.set(key, t);
  return t;
}

/** In-place forward NTT of one prime block a[offset, offset+N). */
export function forwardNttBlock(a: BigUint64Array, offset: number, t: NttTables): void {
  const { q, N, roots } = t;
  let span = N;
  for (let m = 1; m < N; m <<= 1) {
    span >>= 1;
    for (let i = 0; i < m; i++) {
      const S = roots[m + i]!;
      const j1 = offset + 2 * i * span;
      for (let j = j1, end = j1 + span; j < end; j++) {
        const U = a[j]!;
        const V = (a[j + span]! * S) % q;
        const s = U + V;
        a[j] = s >= q ? s - q : s;
        a[j + span] = U >= V ? U - V : U + q - V;
      }
    }
  }
}

/** In-place inverse NTT of one prime block a[offset, offset+N). */
export function inverseNttBlock(a: BigUint64Array, offset: number, t: NttTables): void {
  const { q, N, invRoots, nInv } = t;
  let span = 1;
  for (let m = N; m > 1; m >>= 1) {
    const h = m >> 1;
    let j1 = offset;
    for (let i = 0; i < h; i++) {
      const S = invRoots[h + i]!;
      for (let j = j1, end = j1 + span; j < end; j++) {
        const U = a[j]!;
        const V = a[j + span]!;
        const s = U + V;
        a[j] = s >= q ? s - q : s;
        a[j + span] = ((U >= V ? U - V : U + q - V) * S) % q;
      }
      j1 += 2 * span;
    }
    span <<= 1;
  }
  for (let j = offset, end = offset + N; j < end; j++) a[j] = (a[j]! * nInv) % q;
}

/** Forward NTT of every prime block (returns a new polynomial). */
export function forwardNtt(poly: RnsPoly, moduli: readonly bigint[], N: number): RnsPoly {
  const L = levelOf(poly, N);
  const out = poly.slice();
  for (let j = 0; j < L; j++) forwardNttBlock(out, j * N, nttTables(moduli[j]!, N));
  return out;
}

/** Inverse NTT of every prime block (returns a new polynomial). */
export function inverseNtt(poly: RnsPoly, moduli: readonly bigint[], N: number): RnsPoly {
  const L = levelOf(poly, N);
  const out = poly.slice();
  for (let j = 0; j < L; j++) inverseNttBlock(out, j * N, nttTables(moduli[j]!, N));
  return out;
}
