/**
 * Compact wire form of a SEAL ciphertext: SEAL's uncompressed layout spends 64 bits on every
 * residue; here each residue modulo q_j takes exactly bitlen(q_j) bits (60 for 60-bit primes),
 * so a 1-prime ciphertext costs 15 bytes per packed value and a 2-prime one 30 (N values per
 * ciphertext, 2 polynomials). Lossless: `unpackCiphertext(packCiphertext(b))` returns b.
 *
 * Layout: "BSCT" | u8 version 1 | u8 level | u8 size | u8 is_ntt_form | u32 N | f64 scale |
 * u64 correction_factor | residues, LSB-first bit stream, `[poly][prime][coefficient]`.
 * All little-endian. Unpacking validates the header, the exact length and every residue.
 */
import { abytes } from '../bytes.ts';
import { parseCiphertext, serializeCiphertext } from './codec.ts';
import type { CkksContext } from './params.ts';

const MAGIC = [0x42, 0x53, 0x43, 0x54]; // "BSCT"
const HEAD = 4 + 4 + 4 + 8 + 8;

function primeBits(ctx: CkksContext, level: number): number[] {
  return ctx.moduli.slice(0, level).map((q) => q.toString(2).length);
}

/** Packed size in bytes of a ciphertext with `size` polynomials at `level`. */
export function packedLength(ctx: CkksContext, level: number, size = 2): number {
  const bits = primeBits(ctx, level).reduce((a, b) => a + b, 0) * ctx.N * size;
  return HEAD + Math.ceil(bits / 8);
}

/** SEAL ciphertext bytes → compact wire bytes. */
export function packCiphertext(ctx: CkksContext, sealBytes: Uint8Array): Uint8Array {
  const ct = parseCiphertext(ctx, sealBytes);
  const N = ctx.N;
  const bits = primeBits(ctx, ct.level);
  const out = new Uint8Array(packedLength(ctx, ct.level, ct.polys.length));
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = 1;
  out[5] = ct.level;
  out[6] = ct.polys.length;
  out[7] = ct.isNttForm ? 1 : 0;
  dv.setUint32(8, N, true);
  dv.setFloat64(12, ct.scale, true);
  dv.setBigUint64(20, ct.correctionFactor, true);
  let p = HEAD;
  let acc = 0;
  let accBits = 0;
  const put = (value: number, n: number): void => {
    acc += value * 2 ** accBits;
    accBits += n;
    while (accBits >= 8) {
      const b = acc % 256;
      out[p++] = b;
      acc = (acc - b) / 256;
      accBits -= 8;
    }
  };
  for (const poly of ct.polys) {
    const words = new Uint32Array(poly.buffer, poly.byteOffset, poly.length * 2);
    for (let j = 0; j < ct.level; j++) {
      const b = bits[j]!;
      const loBits = Math.min(32, b);
      const hiBits = b - loBits;
      for (let i = j * N, end = i + N; i < end; i++) {
        if (loBits === 32) {
          put(words[2 * i]! & 0xffff, 16);
          put(words[2 * i]! >>> 16, 16);
        } else put(words[2 * i]!, loBits);
        if (hiBits > 0) put(words[2 * i + 1]!, hiBits);
      }
    }
  }
  if (accBits > 0) out[p++] = acc;
  return out;
}

/** Compact wire bytes → SEAL ciphertext bytes, validated (header, length, every residue < q). */
export function unpackCiphertext(ctx: CkksContext, packed: Uint8Array, field = 'packedCiphertext'): Uint8Array {
  abytes(packed, field);
  if (packed.length < HEAD) throw new RangeError(`${field}: truncated (${packed.length} bytes)`);
  for (let i = 0; i < 4; i++) if (packed[i] !== MAGIC[i]) throw new RangeError(`${field}: wrong magic (expected "BSCT")`);
  if (packed[4] !== 1) throw new RangeError(`${field}: version ${packed[4]}, expected 1`);
  const dv = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const level = packed[5]!;
  const size = packed[6]!;
  const ntt = packed[7]!;
  ctx.checkLevel(level, ctx.keyLevel);
  if (size < 2 || size > 16) throw new RangeError(`${field}: size ${size} out of range 2..16`);
  if (ntt > 1) throw new RangeError(`${field}: is_ntt_form must be 0 or 1`);
  if (dv.getUint32(8, true) !== ctx.N) throw new RangeError(`${field}: N=${dv.getUint32(8, true)}, parameter set has N=${ctx.N}`);
  const scale = dv.getFloat64(12, true);
  const correctionFactor = dv.getBigUint64(20, true);
  const expected = packedLength(ctx, level, size);
  if (packed.length !== expected) throw new RangeError(`${field}: ${packed.length} bytes, expected ${expected}`);
  const N = ctx.N;
  const bits = primeBits(ctx, level);
  let p = HEAD;
  let acc = 0;
  let accBits = 0;
  const take = (n: number): number => {
    while (accBits < n) {
      acc += packed[p++]! * 2 ** accBits;
      accBits += 8;
    }
    const v = acc % 2 ** n;
    acc = (acc - v) / 2 ** n;
    accBits -= n;
    return v;
  };
  const polys: BigUint64Array[] = [];
  for (let k = 0; k < size; k++) {
    const poly = new BigUint64Array(level * N);
    const words = new Uint32Array(poly.buffer);
    for (let j = 0; j < level; j++) {
      const b = bits[j]!;
      const loBits = Math.min(32, b);
      const hiBits = b - loBits;
      for (let i = j * N, end = i + N; i < end; i++) {
        words[2 * i] = loBits === 32 ? take(16) + take(16) * 65536 : take(loBits);
        words[2 * i + 1] = hiBits > 0 ? take(hiBits) : 0;
      }
    }
    polys.push(poly);
  }
  if (acc !== 0) throw new RangeError(`${field}: nonzero padding bits`);
  const sealBytes = serializeCiphertext(ctx, { level, isNttForm: ntt === 1, scale, correctionFactor, polys }, field);
  parseCiphertext(ctx, sealBytes, field); // residues < q, scale valid
  return sealBytes;
}
