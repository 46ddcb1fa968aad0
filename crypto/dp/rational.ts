/**
 * Exact non-negative rationals for sampler parameters (σ², μ). A JS number is itself an exact
 * dyadic rational, so converting one loses nothing; decimal strings ("0.1") are exact too.
 */

export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

export type RationalLike = Rational | bigint | number | string;

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

/** num/den in lowest terms; den > 0. */
export function makeRational(num: bigint, den: bigint, field = 'value'): Rational {
  if (den === 0n) throw new RangeError(`${field}: denominator is zero`);
  if (den < 0n) [num, den] = [-num, -den];
  const g = gcd(num, den) || 1n;
  return { num: num / g, den: den / g };
}

/** Exact conversion of a finite number, a bigint, a decimal/fraction string or a Rational. */
export function toRational(x: RationalLike, field = 'value'): Rational {
  if (typeof x === 'bigint') return { num: x, den: 1n };
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) throw new RangeError(`${field}: expected a finite number, got ${x}`);
    if (Number.isInteger(x)) return { num: BigInt(x), den: 1n };
    // x = m · 2^e exactly; scale by 2 until integral (at most 1074 steps for subnormals).
    let den = 1n;
    let y = x;
    while (!Number.isInteger(y)) {
      y *= 2;
      den *= 2n;
    }
    return makeRational(BigInt(y), den, field);
  }
  if (typeof x === 'string') {
    const frac = /^(-?\d+)\/(\d+)$/.exec(x);
    if (frac) return makeRational(BigInt(frac[1]!), BigInt(frac[2]!), field);
    const dec = /^(-?)(\d+)(?:\.(\d+))?$/.exec(x);
    if (!dec) throw new TypeError(`${field}: expected "p/q" or a decimal like "2.5", got ${JSON.stringify(x)}`);
    const digits = dec[3] ?? '';
    const num = BigInt(dec[2]! + digits) * (dec[1] === '-' ? -1n : 1n);
    return makeRational(num, 10n ** BigInt(digits.length), field);
  }
  if (x !== null && typeof x === 'object' && typeof x.num === 'bigint' && typeof x.den === 'bigint') {
    return makeRational(x.num, x.den, field);
  }
  throw new TypeError(`${field}: expected a number, bigint, string or {num, den} of bigints`);
}

/** As `toRational`, and checks the value is > 0. */
export function positiveRational(x: RationalLike, field: string): Rational {
  const r = toRational(x, field);
  if (r.num <= 0n) throw new RangeError(`${field}: expected a value > 0, got ${r.num}/${r.den}`);
  return r;
}

/** ⌊√n⌋ for a bigint n ≥ 0 (Newton's method on integers). */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError('isqrt: expected n ≥ 0');
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2)); // ≥ √n
  // Newton's iteration from above decreases monotonically to ⌊√n⌋.
  while (x * x > n) x = (x + n / x) / 2n;
  return x;
}

/** Approximate value as a float, for reporting and accounting only (never for sampling). */
export function rationalToNumber(r: Rational): number {
  // Scale to keep precision when num and den are both huge.
  const shift = Math.max(0, r.den.toString(2).length - 1000);
  return Number(r.num >> BigInt(shift)) / Number(r.den >> BigInt(shift));
}
