/**
 * Threshold t-of-n secret keys (Mouchet et al. PETS 2021 §5; Lattigo multiparty/threshold.go).
 *
 * Thresholdizer: party i Shamir-shares its secret s_i with a random polynomial
 * f_i(X) = s_i + r_1·X + … + r_{t−1}·X^{t−1}, whose coefficients are RNS polynomials (uniform
 * modulo each prime), and sends f_i(x_j) to party j over a private channel. Sharing is linear
 * and pointwise, so it runs on NTT-form polynomials, independently modulo each prime. Party j
 * sums what it received: S_j = Σ_i f_i(x_j), a Shamir share of s = Σ_i s_i.
 *
 * Combiner: at decryption, any t parties with points x_j turn S_j into an additive share
 * λ_j·S_j with λ_j = Π_{k≠j} x_k / (x_k − x_j) mod q; those t additive shares sum to s and are
 * used in CKS/PCKS exactly like the n-of-n shares. Fewer than t shares are independent of s.
 * Points are small positive integers (e.g. the party's 1-based roster index), all distinct.
 */
import { parsePlaintext, serializePlaintext } from './codec.ts';
import type { SecretKeyShare } from './ckg.ts';
import type { CkksContext } from './params.ts';
import { addPoly, invMod, levelOf, mulScalarPoly } from './rns.ts';
import type { RnsPoly } from './rns.ts';
import { cryptoRandom, uniformPoly } from './sampler.ts';
import type { RandomSource } from './sampler.ts';

/** f_i's coefficients, constant term (the secret) first; t polynomials at the key level. */
export type ShamirPolynomial = readonly RnsPoly[];

/** A Shamir share S_j or f_i(x_j): key level, NTT form. */
export type ShamirShare = RnsPoly;

function checkPoint(ctx: CkksContext, x: number, field: string): void {
  if (!Number.isSafeInteger(x) || x < 1 || BigInt(x) >= ctx.moduli[ctx.moduli.length - 1]!) {
    throw new RangeError(`${field}: expected a positive integer point (e.g. the 1-based roster index), got ${x}`);
  }
}

/** f_i with f_i(0) = secret and t − 1 uniformly random coefficients. */
export function genShamirPolynomial(ctx: CkksContext, threshold: number, secret: SecretKeyShare, rng: RandomSource = cryptoRandom): ShamirPolynomial {
  if (!Number.isInteger(threshold) || threshold < 1) throw new RangeError(`threshold: expected an integer t ≥ 1, got ${threshold}`);
  if (levelOf(secret, ctx.N, 'secret') !== ctx.keyLevel) throw new RangeError('secret: expected the key level');
  const coeffs: RnsPoly[] = [secret.slice()];
  for (let k = 1; k < threshold; k++) coeffs.push(uniformPoly(ctx.moduli, ctx.N, ctx.keyLevel, rng));
  return coeffs;
}

/** f_i(x) for party point x (Horner's rule, modulo each prime). */
export function genShamirSecretShare(ctx: CkksContext, poly: ShamirPolynomial, x: number): ShamirShare {
  checkPoint(ctx, x, 'x');
  if (poly.length === 0) throw new RangeError('poly: expected at least the constant term');
  const N = ctx.N;
  const L = ctx.keyLevel;
  const out = new BigUint64Array(L * N);
  const xb = BigInt(x);
  for (let j = 0; j < L; j++) {
    const q = ctx.moduli[j]!;
    for (let i = j * N, end = i + N; i < end; i++) {
      let acc = 0n;
      for (let k = poly.length - 1; k >= 0; k--) acc = (acc * xb + poly[k]![i]!) % q;
      out[i] = acc;
    }
  }
  return out;
}

/** Multiply-adds per step of genShamirSecretSharesSteps by default (≈ 25–50 ms of BigInt work on this 2-core host, quiet). */
export const SHAMIR_STEP_OPS = 1 << 18;

/** The default slice: coefficients per step so that a step does about SHAMIR_STEP_OPS multiply-adds at t and this many points. */
export function shamirSlice(threshold: number, points: number): number {
  return Math.max(1, Math.floor(SHAMIR_STEP_OPS / Math.max(1, threshold * points)));
}

/**
 * f(x) for every point at once, in steps of `slice` coefficients (default: about SHAMIR_STEP_OPS
 * multiply-adds per step, whatever n and t), so that a caller can yield to
 * its event loop between steps (the whole evaluation is n·t·L·N multiply-adds: ≈ 1 s of BigInt
 * work at n = 30, t = 16, N = 8192, L = 3). Each coefficient of f is read once for all points,
 * and the reduction mod q is deferred while the accumulator stays under ~128 bits. Returns the
 * shares in the order of `points`; the same values as genShamirSecretShare for each point.
 */
export function* genShamirSecretSharesSteps(ctx: CkksContext, poly: ShamirPolynomial, points: readonly number[], slice: number = shamirSlice(poly.length, points.length)): Generator<void, ShamirShare[], void> {
  for (const [k, x] of points.entries()) checkPoint(ctx, x, `points[${k}]`);
  if (poly.length === 0) throw new RangeError('poly: expected at least the constant term');
  if (!Number.isInteger(slice) || slice < 1) throw new RangeError(`slice: expected a positive integer, got ${slice}`);
  const N = ctx.N;
  const L = ctx.keyLevel;
  const t = poly.length;
  const xs = points.map((x) => BigInt(x));
  const outs = points.map(() => new BigUint64Array(L * N));
  // acc < q·x^R + … stays below 2^(60 + R·bits(x)): reduce every R steps, R·bits(x) ≤ 64.
  const bits = Math.max(1, Math.ceil(Math.log2(Math.max(2, ...points) + 1)));
  const every = Math.max(1, Math.floor(64 / bits));
  const c = new Array<bigint>(t);
  let complete = false;
  try {
    for (let j = 0; j < L; j++) {
      const q = ctx.moduli[j]!;
      for (let start = j * N, end = start + N; start < end; start += slice) {
        const stop = Math.min(end, start + slice);
        for (let i = start; i < stop; i++) {
          for (let k = 0; k < t; k++) c[k] = poly[k]![i]!;
          for (let p = 0; p < xs.length; p++) {
            const xb = xs[p]!;
            let acc = c[t - 1]!;
            for (let k = t - 2, r = 1; k >= 0; k--, r++) {
              acc = acc * xb + c[k]!;
              if (r % every === 0) acc %= q;
            }
            outs[p]![i] = acc % q;
          }
        }
        yield;
      }
    }
    complete = true;
  } finally {
    // Abandoned (return()) or failed half-way: the partial shares are secret, erase them.
    if (!complete) for (const o of outs) o.fill(0n);
    c.fill(0n);
  }
  return outs;
}

/** genShamirSecretSharesSteps run to completion (no yielding). */
export function genShamirSecretShares(ctx: CkksContext, poly: ShamirPolynomial, points: readonly number[]): ShamirShare[] {
  return drainSteps(genShamirSecretSharesSteps(ctx, poly, points));
}

/** Runs a step generator to completion synchronously. */
export function drainSteps<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Sum of received Shamir shares (fold over the n senders): S_j = Σ_i f_i(x_j). */
export function aggregateShamirShares(ctx: CkksContext, a: ShamirShare, b: ShamirShare): ShamirShare {
  return addPoly(a, b, ctx.moduli, ctx.N);
}

/** λ_own mod each key-level prime for the active set (own point included). */
export function lagrangeCoefficients(ctx: CkksContext, activePoints: readonly number[], ownPoint: number): bigint[] {
  checkPoint(ctx, ownPoint, 'ownPoint');
  const seen = new Set<number>();
  for (const [i, x] of activePoints.entries()) {
    checkPoint(ctx, x, `activePoints[${i}]`);
    if (seen.has(x)) throw new RangeError(`activePoints[${i}]: point ${x} appears twice`);
    seen.add(x);
  }
  if (!seen.has(ownPoint)) throw new RangeError(`activePoints: must include ownPoint ${ownPoint}`);
  return ctx.moduli.map((q) => {
    let num = 1n;
    let den = 1n;
    const xj = BigInt(ownPoint);
    for (const x of activePoints) {
      if (x === ownPoint) continue;
      const xk = BigInt(x);
      num = (num * xk) % q;
      den = (den * (((xk - xj) % q) + q)) % q;
    }
    return (num * invMod(den, q)) % q;
  });
}

/**
 * Combiner: party `ownPoint`'s additive share λ·S for the set of `activePoints` taking part in
 * this decryption (exactly t of them; all must use the same set).
 */
export function genAdditiveShare(ctx: CkksContext, activePoints: readonly number[], ownPoint: number, ownShare: ShamirShare): SecretKeyShare {
  if (levelOf(ownShare, ctx.N, 'ownShare') !== ctx.keyLevel) throw new RangeError('ownShare: expected the key level');
  return mulScalarPoly(ownShare, lagrangeCoefficients(ctx, activePoints, ownPoint), ctx.moduli, ctx.N);
}

/** A Shamir share on the wire (to be encrypted to its recipient by the caller): SEAL Plaintext layout. */
export function serializeShamirShare(ctx: CkksContext, share: ShamirShare): Uint8Array {
  return serializePlaintext(ctx, { level: ctx.keyLevel, scale: 1, poly: share }, 'shamirShare');
}

export function parseShamirShare(ctx: CkksContext, bytes: Uint8Array): ShamirShare {
  const pt = parsePlaintext(ctx, bytes, 'shamirShare');
  if (pt.level !== ctx.keyLevel) throw new RangeError(`shamirShare: level ${pt.level}, expected the key level ${ctx.keyLevel}`);
  return pt.poly;
}
