/**
 * Shamir secret sharing (Shamir 1979) of byte strings, byte-wise over GF(2^8) with the AES
 * polynomial x^8 + x^4 + x^3 + x + 1 (0x11b), as in HashiCorp Vault's `shamir` package.
 *
 * Each secret byte is the constant term of its own random polynomial of degree threshold-1;
 * a share is the vector of evaluations at x ∈ {1..255}. Shares are as long as the secret.
 * Field multiplication is a fixed 8-round shift-and-add with masks instead of log/exp tables,
 * so there is no secret-indexed memory access (JS gives no stronger timing guarantee).
 * At most 255 share holders (x = 1..255).
 */
import { randomBytes } from './native.ts';
import { abytes, clean } from './bytes.ts';

export const SHAMIR_MAX_SHARES = 255;

export interface ShamirShare {
  x: number;
  share: Uint8Array;
}

/** GF(2^8) multiplication, constant sequence of operations. */
function gfMul(a: number, b: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) {
    r ^= a & -(b & 1);
    a = ((a << 1) ^ (0x1b & -(a >>> 7))) & 0xff;
    b >>>= 1;
  }
  return r;
}

/** Multiplicative inverse a^254 (a ≠ 0); only ever applied to public x-coordinates. */
function gfInv(a: number): number {
  let r = 1;
  let base = a;
  for (let e = 254; e > 0; e >>>= 1) {
    if (e & 1) r = gfMul(r, base);
    base = gfMul(base, base);
  }
  return r;
}

function checkX(x: unknown, field: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > SHAMIR_MAX_SHARES) {
    throw new RangeError(`${field}: share index must be an integer in 1..${SHAMIR_MAX_SHARES} (0 would be the secret itself), got ${String(x)}`);
  }
  return x;
}

function checkThreshold(threshold: unknown): number {
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 1 || threshold > SHAMIR_MAX_SHARES) {
    throw new RangeError(`threshold: expected an integer in 1..${SHAMIR_MAX_SHARES}, got ${String(threshold)}`);
  }
  return threshold;
}

/** Splits `secret` into shares at the given distinct x-coordinates; any `threshold` of them recover it. */
export function shamirSplit(secret: Uint8Array, threshold: number, xs: readonly number[]): Map<number, Uint8Array> {
  abytes(secret, 'secret');
  if (secret.length === 0) throw new RangeError('secret: expected at least one byte');
  checkThreshold(threshold);
  if (!Array.isArray(xs)) throw new TypeError('xs: expected an array of share indices');
  const seen = new Set<number>();
  xs.forEach((x, i) => {
    checkX(x, `xs[${i}]`);
    if (seen.has(x)) throw new RangeError(`xs[${i}]: duplicate share index ${x}; every holder needs its own x`);
    seen.add(x);
  });
  if (xs.length < threshold) {
    throw new RangeError(`xs: ${xs.length} share holders cannot meet threshold ${threshold}; lower the threshold or add holders`);
  }
  const len = secret.length;
  // coefficients[k * len + i] = coefficient of x^(k+1) for secret byte i
  const coefficients = new Uint8Array(randomBytes((threshold - 1) * len));
  const out = new Map<number, Uint8Array>();
  for (const x of xs) {
    const share = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      // Horner: ((c_{t-1} x + c_{t-2}) x + ... + c_1) x + secret
      let acc = 0;
      for (let k = threshold - 2; k >= 0; k--) acc = gfMul(acc ^ coefficients[k * len + i]!, x);
      share[i] = acc ^ secret[i]!;
    }
    out.set(x, share);
  }
  clean(coefficients);
  return out;
}

/**
 * Recovers the secret from the first `threshold` shares with distinct x (later ones are ignored).
 * RangeError with fewer than `threshold` distinct shares, a bad x, or mismatched lengths.
 * A duplicate x with a different share value is refused (it cannot come from one dealing).
 */
export function shamirCombine(shares: readonly ShamirShare[], threshold: number): Uint8Array {
  checkThreshold(threshold);
  if (!Array.isArray(shares)) throw new TypeError('shares: expected an array of { x, share }');
  const chosen: ShamirShare[] = [];
  const byX = new Map<number, Uint8Array>();
  let len = -1;
  shares.forEach((s, i) => {
    if (typeof s !== 'object' || s === null) throw new TypeError(`shares[${i}]: expected { x, share }`);
    checkX(s.x, `shares[${i}].x`);
    abytes(s.share, `shares[${i}].share`);
    if (len === -1) len = s.share.length;
    if (s.share.length !== len || len === 0) {
      throw new RangeError(`shares[${i}].share: expected ${len} bytes like the first share, got ${s.share.length}`);
    }
    const prev = byX.get(s.x);
    if (prev !== undefined) {
      let diff = 0;
      for (let j = 0; j < len; j++) diff |= prev[j]! ^ s.share[j]!;
      if (diff !== 0) throw new RangeError(`shares[${i}]: two different shares for x = ${s.x}`);
      return;
    }
    byX.set(s.x, s.share);
    if (chosen.length < threshold) chosen.push(s);
  });
  if (chosen.length < threshold) {
    throw new RangeError(`shares: ${chosen.length} distinct shares given, threshold ${threshold} needed`);
  }
  // Lagrange basis at 0: l_j = Π_{m≠j} x_m / (x_m - x_j); in GF(2^8) subtraction is XOR.
  const secret = new Uint8Array(len);
  for (let j = 0; j < threshold; j++) {
    let num = 1;
    let den = 1;
    for (let m = 0; m < threshold; m++) {
      if (m === j) continue;
      num = gfMul(num, chosen[m]!.x);
      den = gfMul(den, chosen[m]!.x ^ chosen[j]!.x);
    }
    const l = gfMul(num, gfInv(den));
    const share = chosen[j]!.share;
    for (let i = 0; i < len; i++) secret[i] = secret[i]! ^ gfMul(share[i]!, l);
  }
  return secret;
}
