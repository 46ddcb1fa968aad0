/**
 * Randomized Hadamard rotation for distributed DP on L2-bounded vectors (Kairouz, Liu, Steinke,
 * "The Distributed Discrete Gaussian Mechanism for Federated Learning with Secure Aggregation",
 * ICML 2021 (KLS21), §4.2; Agarwal, Kairouz, Liu, NeurIPS 2021 (AKL21), §4; Suresh et al. 2017).
 *
 * A vector x ∈ R^d is zero-padded to D = 2^⌈log₂ d⌉ and mapped to y = H·diag(s)·x / √D, where H is
 * the (Sylvester) Walsh–Hadamard matrix (entries ±1, H·H = D·I, symmetric) and s ∈ {±1}^D are
 * public random signs. H/√D·diag(s) is orthogonal, so ‖y‖₂ = ‖x‖₂ and the inverse is
 * x = diag(s)·H·y / √D. Why rotate: each coordinate of y is Σ_j ±x_j/√D with independent random
 * signs, sub-Gaussian with variance proxy ‖x‖²/D (Hoeffding), so a spiky vector is flattened to
 * max_i |y_i| ≈ ‖x‖·√(2 ln(2D)/D) with high probability, and the per-coordinate stochastic
 * rounding and the modular wrap in 2^b that follow see coordinates of comparable size.
 *
 * The signs are shared by every party in a round and are public: they come from the round's
 * public seed by SHA-256 (domain-separated) and the AES-256-CTR PRG of `crypto/prg.ts`. Their
 * secrecy is not needed for privacy (the DP guarantee rests on the norm bound, which rotation
 * preserves); the bound on the wrap probability assumes the data do not depend on the signs.
 *
 * The fast Walsh–Hadamard transform runs in place in O(D log D) float64 operations.
 */
import { abytes, concatBytes, utf8 } from '../bytes.ts';
import { expandMask } from '../prg.ts';
import { sha256 } from '../sha256.ts';

/** Largest padded dimension accepted (2^24 coordinates). */
export const MAX_ROTATION_DIMENSION = 1 << 24;

const SIGN_DOMAIN = 'blindsum/v1/ddp/hadamard-signs';

/** D = the smallest power of two ≥ d (d ≥ 1). */
export function paddedDimension(d: number): number {
  if (!Number.isSafeInteger(d) || d < 1 || d > MAX_ROTATION_DIMENSION) {
    throw new RangeError(`d: expected an integer in [1, ${MAX_ROTATION_DIMENSION}], got ${d}`);
  }
  let D = 1;
  while (D < d) D *= 2;
  return D;
}

function checkPow2(D: number): void {
  if (!Number.isSafeInteger(D) || D < 1 || D > MAX_ROTATION_DIMENSION || (D & (D - 1)) !== 0) {
    throw new RangeError(`D: expected a power of two in [1, ${MAX_ROTATION_DIMENSION}], got ${D}`);
  }
}

/**
 * The public signs s ∈ {±1}^D of a round: bit i of PRG(SHA-256(domain ‖ len ‖ roundSeed)) gives
 * s_i = +1 (bit 0) or −1 (bit 1). Deterministic: every party derives the same signs.
 */
export function rotationSigns(roundSeed: Uint8Array, D: number): Int8Array {
  abytes(roundSeed, 'roundSeed');
  checkPow2(D);
  if (roundSeed.length < 16 || roundSeed.length > 1024) {
    throw new RangeError(`roundSeed: expected 16 to 1024 bytes, got ${roundSeed.length}`);
  }
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, roundSeed.length, false);
  const key = sha256(concatBytes(utf8(SIGN_DOMAIN), len, roundSeed));
  const words = expandMask(key, Math.ceil(D / 32));
  const s = new Int8Array(D);
  for (let i = 0; i < D; i++) s[i] = (words[i >>> 5]! >>> (i & 31)) & 1 ? -1 : 1;
  return s;
}

/** In-place unnormalized fast Walsh–Hadamard transform: v ← H·v (length a power of two). */
export function fwht(v: Float64Array): Float64Array {
  const n = v.length;
  checkPow2(n);
  for (let h = 1; h < n; h *= 2) {
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = v[j]!;
        const b = v[j + h]!;
        v[j] = a + b;
        v[j + h] = a - b;
      }
    }
  }
  return v;
}

/** y = H·diag(s)·pad(x)/√D, D = s.length ≥ x.length. A new array; x is not modified. */
export function rotate(x: Float64Array, signs: Int8Array): Float64Array {
  const D = signs.length;
  checkPow2(D);
  if (!(x instanceof Float64Array)) throw new TypeError('x: expected a Float64Array');
  if (x.length > D) throw new RangeError(`x: length ${x.length} exceeds the padded dimension ${D}`);
  const y = new Float64Array(D);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!Number.isFinite(v)) throw new RangeError(`x[${i}]: expected a finite number`);
    y[i] = signs[i]! * v;
  }
  fwht(y);
  const inv = 1 / Math.sqrt(D);
  for (let i = 0; i < D; i++) y[i]! *= inv;
  return y;
}

/** The exact inverse: x = diag(s)·H·y/√D, truncated to the first `d` coordinates. */
export function unrotate(y: Float64Array, signs: Int8Array, d: number = y.length): Float64Array {
  const D = signs.length;
  checkPow2(D);
  if (!(y instanceof Float64Array) || y.length !== D) {
    throw new RangeError(`y: expected a Float64Array of length ${D}`);
  }
  if (!Number.isSafeInteger(d) || d < 1 || d > D) throw new RangeError(`d: expected an integer in [1, ${D}], got ${d}`);
  const v = Float64Array.from(y);
  fwht(v);
  const inv = 1 / Math.sqrt(D);
  const x = new Float64Array(d);
  for (let i = 0; i < d; i++) x[i] = signs[i]! * v[i]! * inv;
  return x;
}
