/**
 * Compact wire form of a SEAL ciphertext: SEAL's uncompressed layout spends 64 bits on every
 * residue; here each residue modulo q_j takes exactly bitlen(q_j) bits (60 for 60-bit primes),
 * so a 1-prime ciphertext costs 15 bytes per packed value and a 2-prime one 30 (N values per
 * ciphertext, 2 polynomials). Lossless: `unpackCiphertext(packCiphertext(b))` returns b.
 *
 * Layout: "BSCT" | u8 version 1 | u8 level | u8 size | u8 is_ntt_form | u32 N | f64 scale |
 * u64 correction_factor | residues, LSB-first bit stream, `[poly][prime][coefficient]`.
 * All little-endian. Unpacking validates the header, the exact length and every residue.
 *
 * Both directions run one pass over 32-bit words (the LSB-first bit stream read as little-endian
 * u32 words is the same byte stream), checking each residue against its prime on the way: no
 * BigInt, no intermediate per-polynomial copies, and no second parse of the result.
 */
import { abytes } from '../bytes.ts';
import { allocCiphertext, ciphertextWords, parseCiphertextMeta, type CiphertextMeta } from './codec.ts';
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

const SIGN = 0x80000000 | 0;

/**
 * ORs residues [start, end) (int32 views of u32 halves) into the zeroed bit stream `body` from
 * bit `bit` on (two words of slack at the end), each at its own offset: no bit-buffer state.
 * Unsigned comparisons run on int32 with the sign bit flipped (qLoS = qLo ^ 2^31). Returns the
 * first residue ≥ q, or −1.
 */
function packBlock(words: Int32Array, bit: number, start: number, end: number, body: Int32Array, loBits: number, hiBits: number, qHi: number, qLoS: number): number {
  const b = loBits + hiBits;
  let o = bit;
  for (let i = start; i < end; i++, o += b) {
    const lo = words[2 * i]! | 0;
    const hi = words[2 * i + 1]! | 0;
    if (hi > qHi || (hi === qHi && (lo ^ SIGN) >= qLoS) || hi < 0) return i;
    const k = o >>> 5;
    const sh = o & 31;
    if (sh === 0) {
      body[k] = body[k]! | lo;
      body[k + 1] = body[k + 1]! | hi;
    } else {
      body[k] = body[k]! | (lo << sh);
      body[k + 1] = body[k + 1]! | (lo >>> (32 - sh)) | (hi << sh);
      body[k + 2] = body[k + 2]! | (hi >>> (32 - sh));
    }
  }
  return -1;
}

/**
 * The inverse of packBlock for residues [start, end) starting at bit `bit` of `body` (int32 view
 * with two zero words of slack at the end): each residue is read from a 64-bit window at its own
 * offset, so the loop carries no bit-buffer state. Returns the first residue ≥ q, or −1.
 */
function unpackBlock(body: Int32Array, bit: number, start: number, end: number, words: Int32Array, loBits: number, hiBits: number, qHi: number, qLoS: number): number {
  const b = loBits + hiBits;
  const loMask = loBits === 32 ? -1 : (1 << loBits) - 1;
  const hiMask = hiBits === 32 ? -1 : (1 << hiBits) - 1;
  let o = bit;
  for (let i = start; i < end; i++, o += b) {
    const k = o >>> 5;
    const sh = o & 31;
    let lo: number;
    let next: number;
    if (sh === 0) {
      lo = body[k]! & loMask;
      next = body[k + 1]!;
    } else {
      const w1 = body[k + 1]!;
      lo = ((body[k]! >>> sh) | (w1 << (32 - sh))) & loMask;
      next = (w1 >>> sh) | (body[k + 2]! << (32 - sh));
    }
    // A prime above 32 bits has loBits = 32: its high part is the window 32 bits on.
    const hi = hiBits === 0 ? 0 : next & hiMask;
    if (hi > qHi || (hi === qHi && (lo ^ SIGN) >= qLoS) || hi < 0) return i;
    words[2 * i] = lo;
    words[2 * i + 1] = hi;
  }
  return -1;
}

function notReduced(field: string, index: number): never {
  throw new RangeError(`${field}: residue ${index} is not reduced modulo its prime`);
}

/**
 * Packs residues given as u32 halves (`[poly][prime][coefficient]`, as codec.ts `ciphertextWords`
 * returns them) into the wire form; RangeError if one is not below its prime.
 */
export function packWords(ctx: CkksContext, meta: CiphertextMeta, words: Uint32Array, field = 'ciphertext'): Uint8Array {
  const N = ctx.N;
  const { level, size } = meta;
  if (words.length !== 2 * size * level * N) throw new RangeError(`${field}: expected ${2 * size * level * N} words`);
  const bits = primeBits(ctx, level);
  const total = packedLength(ctx, level, size);
  const body = new Int32Array(Math.ceil((total - HEAD) / 4) + 2); // two words of slack
  const src = new Int32Array(words.buffer, words.byteOffset, words.length);
  let bit = 0;
  for (let k = 0; k < size; k++) {
    for (let j = 0; j < level; j++) {
      const q = ctx.moduli[j]!;
      const b = bits[j]!;
      const start = (k * level + j) * N;
      const bad = packBlock(src, bit, start, start + N, body, Math.min(32, b), b - Math.min(32, b), Number(q >> 32n), Number(q & 0xffffffffn) ^ SIGN);
      if (bad >= 0) notReduced(field, bad);
      bit += b * N;
    }
  }
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = 1;
  out[5] = level;
  out[6] = size;
  out[7] = meta.isNttForm ? 1 : 0;
  dv.setUint32(8, N, true);
  dv.setFloat64(12, meta.scale, true);
  dv.setBigUint64(20, meta.correctionFactor, true);
  out.set(new Uint8Array(body.buffer, 0, total - HEAD), HEAD);
  return out;
}

/** SEAL ciphertext bytes → compact wire bytes (every residue checked below its prime). */
export function packCiphertext(ctx: CkksContext, sealBytes: Uint8Array, field = 'ciphertext'): Uint8Array {
  const meta = parseCiphertextMeta(ctx, sealBytes, field);
  return packWords(ctx, meta, ciphertextWords(sealBytes), field);
}

/** The header of a packed ciphertext, validated (magic, version, level, size, N, exact length). */
export function packedMeta(ctx: CkksContext, packed: Uint8Array, field = 'packedCiphertext'): CiphertextMeta {
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
  if (!Number.isFinite(scale) || scale <= 0) throw new RangeError(`${field}: scale must be finite and positive`);
  const correctionFactor = dv.getBigUint64(20, true);
  const expected = packedLength(ctx, level, size);
  if (packed.length !== expected) throw new RangeError(`${field}: ${packed.length} bytes, expected ${expected}`);
  return { level, size, isNttForm: ntt === 1, scale, correctionFactor };
}

/**
 * The residues of a packed ciphertext as u32 halves (`[poly][prime][coefficient]`), each checked
 * below its prime, and the padding checked zero. Call `packedMeta` first.
 */
export function unpackWords(ctx: CkksContext, meta: CiphertextMeta, packed: Uint8Array, field = 'packedCiphertext', into?: Uint32Array): Uint32Array {
  const N = ctx.N;
  const { level, size } = meta;
  const bits = primeBits(ctx, level);
  const bodyLength = packed.length - HEAD;
  const used = Math.ceil(bodyLength / 4);
  const body = new Int32Array(used + 2); // two words of slack for the 64-bit windows
  new Uint8Array(body.buffer).set(packed.subarray(HEAD));
  const words = into ?? new Uint32Array(2 * size * level * N);
  if (words.length !== 2 * size * level * N) throw new RangeError(`${field}: expected room for ${2 * size * level * N} words`);
  const dst = new Int32Array(words.buffer, words.byteOffset, words.length);
  let bit = 0;
  for (let k = 0; k < size; k++) {
    for (let j = 0; j < level; j++) {
      const q = ctx.moduli[j]!;
      const b = bits[j]!;
      const start = (k * level + j) * N;
      const bad = unpackBlock(body, bit, start, start + N, dst, Math.min(32, b), b - Math.min(32, b), Number(q >> 32n), Number(q & 0xffffffffn) ^ SIGN);
      if (bad >= 0) notReduced(field, bad);
      bit += b * N;
    }
  }
  // Bits after the stream, up to the end of its last byte, must be zero (canonical form).
  const tail = bit & 31;
  if (tail !== 0 && body[used - 1]! >>> tail !== 0) throw new RangeError(`${field}: nonzero padding bits`);
  return words;
}

/** Compact wire bytes → SEAL ciphertext bytes, validated (header, length, every residue < q). */
export function unpackCiphertext(ctx: CkksContext, packed: Uint8Array, field = 'packedCiphertext'): Uint8Array {
  return unpackCiphertextAs(ctx, packedMeta(ctx, packed, field), packed, field);
}

/**
 * Unpacks (validated header `meta` from `packedMeta`) straight into SEAL ciphertext bytes written
 * with `as` for the header fields (e.g. a PCKS share's normalized scale): one pass, no copy.
 */
export function unpackCiphertextAs(ctx: CkksContext, as: CiphertextMeta, packed: Uint8Array, field = 'packedCiphertext'): Uint8Array {
  const { bytes, words } = allocCiphertext(ctx, as, field);
  unpackWords(ctx, as, packed, field, words);
  return bytes;
}
