/**
 * Arithmetic on RNS polynomials: a polynomial at level L is a BigUint64Array of L·N residues laid
 * out `[prime][coefficient]`, exactly SEAL's layout, so the codec copies without reordering.
 * Primes are below 2^61, so products are computed with BigInt (exact; the hot loops are
 * element-wise and run once per share).
 */

export type RnsPoly = BigUint64Array;

export function mulMod(a: bigint, b: bigint, q: bigint): bigint {
  return (a * b) % q;
}

export function powMod(base: bigint, exp: bigint, q: bigint): bigint {
  let result = 1n;
  let b = base % q;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % q;
    b = (b * b) % q;
    e >>= 1n;
  }
  return result;
}

/** Inverse of a modulo the prime q (Fermat); RangeError when a ≡ 0. */
export function invMod(a: bigint, q: bigint): bigint {
  const r = ((a % q) + q) % q;
  if (r === 0n) throw new RangeError('invMod: 0 has no inverse');
  return powMod(r, q - 2n, q);
}

/** Number of primes of a polynomial of `poly.length` residues for ring degree N. */
export function levelOf(poly: RnsPoly, N: number, field = 'poly'): number {
  if (!(poly instanceof BigUint64Array)) throw new TypeError(`${field}: expected BigUint64Array`);
  if (poly.length === 0 || poly.length % N !== 0) {
    throw new RangeError(`${field}: length ${poly.length} is not a positive multiple of N=${N}`);
  }
  return poly.length / N;
}

function sameLevel(a: RnsPoly, b: RnsPoly, moduli: readonly bigint[], N: number): number {
  const L = levelOf(a, N, 'a');
  if (b.length !== a.length) throw new RangeError(`b: expected ${a.length} residues like a, got ${b.length}`);
  if (L > moduli.length) throw new RangeError(`poly: level ${L} exceeds the ${moduli.length} primes given`);
  return L;
}

/** a + b mod each prime, into `out` (may alias a or b). */
export function addPoly(a: RnsPoly, b: RnsPoly, moduli: readonly bigint[], N: number, out: RnsPoly = new BigUint64Array(a.length)): RnsPoly {
  const L = sameLevel(a, b, moduli, N);
  for (let j = 0; j < L; j++) {
    const q = moduli[j]!;
    for (let i = j * N, end = i + N; i < end; i++) {
      const s = a[i]! + b[i]!;
      out[i] = s >= q ? s - q : s;
    }
  }
  return out;
}

/** a − b mod each prime, into `out` (may alias a or b). */
export function subPoly(a: RnsPoly, b: RnsPoly, moduli: readonly bigint[], N: number, out: RnsPoly = new BigUint64Array(a.length)): RnsPoly {
  const L = sameLevel(a, b, moduli, N);
  for (let j = 0; j < L; j++) {
    const q = moduli[j]!;
    for (let i = j * N, end = i + N; i < end; i++) {
      const x = a[i]!;
      const y = b[i]!;
      out[i] = x >= y ? x - y : x + q - y;
    }
  }
  return out;
}

/** −a mod each prime. */
export function negPoly(a: RnsPoly, moduli: readonly bigint[], N: number): RnsPoly {
  const L = levelOf(a, N, 'a');
  const out = new BigUint64Array(a.length);
  for (let j = 0; j < L; j++) {
    const q = moduli[j]!;
    for (let i = j * N, end = i + N; i < end; i++) out[i] = a[i] === 0n ? 0n : q - a[i]!;
  }
  return out;
}

/** Pointwise a·b mod each prime (a product of polynomials when both are in NTT form). */
export function mulPoly(a: RnsPoly, b: RnsPoly, moduli: readonly bigint[], N: number, out: RnsPoly = new BigUint64Array(a.length)): RnsPoly {
  const L = sameLevel(a, b, moduli, N);
  for (let j = 0; j < L; j++) {
    const q = moduli[j]!;
    for (let i = j * N, end = i + N; i < end; i++) out[i] = (a[i]! * b[i]!) % q;
  }
  return out;
}

/** a · c_j mod q_j, with one scalar per prime (e.g. a Lagrange coefficient reduced mod each prime). */
export function mulScalarPoly(a: RnsPoly, scalars: readonly bigint[], moduli: readonly bigint[], N: number): RnsPoly {
  const L = levelOf(a, N, 'a');
  if (scalars.length < L) throw new RangeError(`scalars: expected ${L} values, got ${scalars.length}`);
  const out = new BigUint64Array(a.length);
  for (let j = 0; j < L; j++) {
    const q = moduli[j]!;
    const c = ((scalars[j]! % q) + q) % q;
    for (let i = j * N, end = i + N; i < end; i++) out[i] = (a[i]! * c) % q;
  }
  return out;
}

/** The first `level` prime blocks of a polynomial (SEAL drops primes from the end). */
export function truncateLevel(a: RnsPoly, level: number, N: number): RnsPoly {
  const L = levelOf(a, N, 'a');
  if (!Number.isInteger(level) || level < 1 || level > L) {
    throw new RangeError(`level: expected 1..${L}, got ${level}`);
  }
  return a.slice(0, level * N);
}

/** Lifts signed integer coefficients into the RNS representation at `level` (coefficient domain). */
export function fromSigned(values: ArrayLike<number | bigint>, moduli: readonly bigint[], N: number, level: number): RnsPoly {
  if (values.length > N) throw new RangeError(`values: at most N=${N} coefficients, got ${values.length}`);
  const out = new BigUint64Array(level * N);
  for (let j = 0; j < level; j++) {
    const q = moduli[j]!;
    const base = j * N;
    for (let i = 0; i < values.length; i++) {
      const v = BigInt(values[i]!);
      const r = v % q;
      out[base + i] = r < 0n ? r + q : r;
    }
  }
  return out;
}

/**
 * Chinese remaindering of a coefficient-domain polynomial at `level`, centered in (−Q/2, Q/2]
 * with Q the product of its primes.
 */
export function toCenteredBigInts(a: RnsPoly, moduli: readonly bigint[], N: number): bigint[] {
  const L = levelOf(a, N, 'a');
  let Q = 1n;
  for (let j = 0; j < L; j++) Q *= moduli[j]!;
  const basis: bigint[] = [];
  for (let j = 0; j < L; j++) {
    const q = moduli[j]!;
    const Qj = Q / q;
    basis.push((Qj * invMod(Qj % q, q)) % Q);
  }
  const half = Q / 2n;
  const out = new Array<bigint>(N);
  for (let i = 0; i < N; i++) {
    let x = 0n;
    for (let j = 0; j < L; j++) x += a[j * N + i]! * basis[j]!;
    x %= Q;
    out[i] = x > half ? x - Q : x;
  }
  return out;
}
