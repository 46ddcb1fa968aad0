/**
 * SEAL 4.1 uncompressed serialization (ComprModeType.none) ⇄ RNS polynomials.
 * Layouts (protocols.md §1, verified), little-endian:
 *   SEALHeader (16 B): u16 magic 0xA15E | u8 header size 0x10 | u8 major 4 | u8 minor 1 |
 *                      u8 compr mode 0 | u16 reserved | u64 total size
 *   Ciphertext: header | parms_id 4×u64 | u8 is_ntt_form | u64 size | u64 N | u64 L | f64 scale |
 *               u64 correction_factor | DynArray (header, u64 count, count×u64 [poly][prime][coeff])
 *   Plaintext:  header | parms_id | u64 coeff_count | f64 scale | DynArray ([prime][coeff])
 *   SecretKey:  header | Plaintext members (no second header), key level, NTT form
 *   PublicKey:  header | Ciphertext members (size 2, key level, NTT form)
 * Every parse validates magic, version, sizes, parms_id (→ level), N, L, counts and that each
 * residue is below its prime, and names the field that failed.
 */
import { abytes } from '../bytes.ts';
import type { CkksContext } from './params.ts';
import type { RnsPoly } from './rns.ts';

export interface CiphertextData {
  /** Number of primes (1..keyLevel). */
  readonly level: number;
  readonly isNttForm: boolean;
  readonly scale: number;
  readonly correctionFactor: bigint;
  /** `size` polynomials (2 for a fresh ciphertext), each at `level`. */
  readonly polys: RnsPoly[];
}

export interface PlaintextData {
  readonly level: number;
  readonly scale: number;
  /** NTT form (CKKS plaintexts and secret keys always are). */
  readonly poly: RnsPoly;
}

const MAGIC = 0xa15e;
const HEADER = 16;
const CT_FIXED = 32 + 1 + 8 + 8 + 8 + 8 + 8; // parms_id .. correction_factor
const PT_FIXED = 32 + 8 + 8; // parms_id, coeff_count, scale
const DYN_FIXED = HEADER + 8;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('crypto/ckks/codec: a little-endian platform is required (SEAL serializes little-endian)');
}

function writeHeader(dv: DataView, off: number, total: number): void {
  dv.setUint16(off, MAGIC, true);
  dv.setUint8(off + 2, HEADER);
  dv.setUint8(off + 3, 4);
  dv.setUint8(off + 4, 1);
  dv.setUint8(off + 5, 0);
  dv.setUint16(off + 6, 0, true);
  dv.setBigUint64(off + 8, BigInt(total), true);
}

function readHeader(dv: DataView, off: number, expectedTotal: number, field: string): void {
  if (dv.byteLength - off < HEADER) throw new RangeError(`${field}: truncated (no room for a SEAL header)`);
  if (dv.getUint16(off, true) !== MAGIC) throw new RangeError(`${field}: not a SEAL object (wrong magic)`);
  if (dv.getUint8(off + 2) !== HEADER) throw new RangeError(`${field}: unexpected SEAL header size`);
  if (dv.getUint8(off + 3) !== 4 || dv.getUint8(off + 4) !== 1) {
    throw new RangeError(`${field}: SEAL version ${dv.getUint8(off + 3)}.${dv.getUint8(off + 4)}, expected 4.1`);
  }
  if (dv.getUint8(off + 5) !== 0) {
    throw new RangeError(`${field}: compressed SEAL object; save with ComprModeType.none`);
  }
  const total = dv.getBigUint64(off + 8, true);
  if (total !== BigInt(expectedTotal)) {
    throw new RangeError(`${field}: header says ${total} bytes but ${expectedTotal} are present (truncated or padded)`);
  }
}

function readParmsLevel(ctx: CkksContext, dv: DataView, off: number, field: string): number {
  const id = new BigUint64Array(4);
  for (let i = 0; i < 4; i++) id[i] = dv.getBigUint64(off + 8 * i, true);
  const level = ctx.levelOf(id);
  if (level === undefined) {
    throw new RangeError(`${field}: parms_id matches no level of parameter set ${ctx.params.name} (other parameters or moduli)`);
  }
  return level;
}

function writeParms(ctx: CkksContext, dv: DataView, off: number, level: number): void {
  const id = ctx.parmsId(level);
  for (let i = 0; i < 4; i++) dv.setBigUint64(off + 8 * i, id[i]!, true);
}

function checkResidues(ctx: CkksContext, data: BigUint64Array, level: number, field: string): void {
  const N = ctx.N;
  const blocks = data.length / N;
  // Compare as (hi, lo) u32 halves: no BigInt per residue.
  const words = new Uint32Array(data.buffer, data.byteOffset, data.length * 2);
  for (let b = 0; b < blocks; b++) {
    const q = ctx.moduli[b % level]!;
    const qHi = Number(q >> 32n);
    const qLo = Number(q & 0xffffffffn);
    for (let i = b * N, end = i + N; i < end; i++) {
      const hi = words[2 * i + 1]!;
      if (hi > qHi || (hi === qHi && words[2 * i]! >= qLo)) {
        throw new RangeError(`${field}: residue ${i} is not reduced modulo its prime`);
      }
    }
  }
}

function readDyn(bytes: Uint8Array, dv: DataView, off: number, count: number, field: string): BigUint64Array {
  readHeader(new DataView(bytes.buffer, bytes.byteOffset + off, DYN_FIXED), 0, DYN_FIXED + 8 * count, `${field} data`);
  const n = dv.getBigUint64(off + HEADER, true);
  if (n !== BigInt(count)) throw new RangeError(`${field}: data holds ${n} residues, expected ${count}`);
  const start = off + DYN_FIXED;
  return new BigUint64Array(bytes.slice(start, start + 8 * count).buffer);
}

function writeDyn(out: Uint8Array, dv: DataView, off: number, data: BigUint64Array[]): void {
  let count = 0;
  for (const d of data) count += d.length;
  writeHeader(dv, off, DYN_FIXED + 8 * count);
  dv.setBigUint64(off + HEADER, BigInt(count), true);
  let p = off + DYN_FIXED;
  for (const d of data) {
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), p);
    p += d.byteLength;
  }
}

/** A ciphertext's fields without its residues (the header checks of `parseCiphertext`). */
export interface CiphertextMeta {
  readonly level: number;
  /** Number of polynomials. */
  readonly size: number;
  readonly isNttForm: boolean;
  readonly scale: number;
  readonly correctionFactor: bigint;
}

/** Byte offset of the residues in SEAL's uncompressed ciphertext layout. */
export const CIPHERTEXT_DATA_OFFSET: number = HEADER + CT_FIXED + DYN_FIXED;

/**
 * Every check of `parseCiphertext` except the residue bounds, without copying anything: magic,
 * version, sizes, parms_id (→ level), N, L, scale, exact length and the DynArray header. For
 * bytes SEAL produced itself, or whose residues are checked on the way (wire.ts).
 */
export function parseCiphertextMeta(ctx: CkksContext, bytes: Uint8Array, field = 'ciphertext'): CiphertextMeta {
  abytes(bytes, field);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < HEADER + CT_FIXED + DYN_FIXED) throw new RangeError(`${field}: truncated (${bytes.length} bytes)`);
  readHeader(dv, 0, bytes.length, field);
  const level = readParmsLevel(ctx, dv, HEADER, field);
  const ntt = dv.getUint8(HEADER + 32);
  if (ntt > 1) throw new RangeError(`${field}: is_ntt_form must be 0 or 1, got ${ntt}`);
  const size = dv.getBigUint64(HEADER + 33, true);
  const N = dv.getBigUint64(HEADER + 41, true);
  const L = dv.getBigUint64(HEADER + 49, true);
  const scale = dv.getFloat64(HEADER + 57, true);
  const correctionFactor = dv.getBigUint64(HEADER + 65, true);
  if (size < 2n || size > 16n) throw new RangeError(`${field}: size ${size} out of range 2..16`);
  if (N !== BigInt(ctx.N)) throw new RangeError(`${field}: N=${N}, parameter set ${ctx.params.name} has N=${ctx.N}`);
  if (L !== BigInt(level)) throw new RangeError(`${field}: ${L} primes but parms_id is level ${level}`);
  if (!Number.isFinite(scale) || scale <= 0) throw new RangeError(`${field}: scale must be finite and positive`);
  const count = Number(size) * ctx.N * level;
  const expected = HEADER + CT_FIXED + DYN_FIXED + 8 * count;
  if (bytes.length !== expected) throw new RangeError(`${field}: ${bytes.length} bytes, expected ${expected}`);
  readHeader(new DataView(bytes.buffer, bytes.byteOffset + HEADER + CT_FIXED, DYN_FIXED), 0, DYN_FIXED + 8 * count, `${field} data`);
  if (dv.getBigUint64(HEADER + CT_FIXED + HEADER, true) !== BigInt(count)) throw new RangeError(`${field}: data holds a wrong residue count, expected ${count}`);
  return { level, size: Number(size), isNttForm: ntt === 1, scale, correctionFactor };
}

/**
 * The residues of a ciphertext as little-endian u32 halves (lo, hi), `[poly][prime][coefficient]`,
 * in a fresh aligned array or `into` (one copy). Call `parseCiphertextMeta` first.
 */
export function ciphertextWords(bytes: Uint8Array, into?: Uint32Array): Uint32Array {
  const start = bytes.byteOffset + CIPHERTEXT_DATA_OFFSET;
  const n = bytes.length - CIPHERTEXT_DATA_OFFSET;
  if (into && into.length !== n / 4) throw new RangeError(`ciphertext: expected room for ${n / 4} words`);
  const out = into ?? new Uint32Array(n / 4);
  new Uint8Array(out.buffer, out.byteOffset, n).set(new Uint8Array(bytes.buffer, start, n));
  return out;
}

/** Bytes before a ciphertext's view in its buffer so that its residues start 4-byte aligned. */
const ALIGN_PAD = (4 - (CIPHERTEXT_DATA_OFFSET % 4)) % 4;

/**
 * SEAL bytes of a ciphertext with the header written and the residues left to the caller, who
 * fills `words` (u32 halves, `[poly][prime][coefficient]`, a view of the same memory: no copy).
 * `bytes` is a view at a small offset of its buffer so that `words` is aligned.
 */
export function allocCiphertext(ctx: CkksContext, meta: CiphertextMeta, field = 'ciphertext'): { bytes: Uint8Array; words: Uint32Array } {
  ctx.checkLevel(meta.level, ctx.keyLevel);
  if (!Number.isInteger(meta.size) || meta.size < 2 || meta.size > 16) throw new RangeError(`${field}: size ${meta.size} out of range 2..16`);
  const count = meta.size * ctx.N * meta.level;
  const total = CIPHERTEXT_DATA_OFFSET + 8 * count;
  const buffer = new ArrayBuffer(ALIGN_PAD + total);
  const bytes = new Uint8Array(buffer, ALIGN_PAD, total);
  writeCiphertextHeader(ctx, bytes, meta, count);
  return { bytes, words: new Uint32Array(buffer, ALIGN_PAD + CIPHERTEXT_DATA_OFFSET, 2 * count) };
}

function writeCiphertextHeader(ctx: CkksContext, out: Uint8Array, meta: CiphertextMeta, count: number): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  writeHeader(dv, 0, out.length);
  writeParms(ctx, dv, HEADER, meta.level);
  dv.setUint8(HEADER + 32, meta.isNttForm ? 1 : 0);
  dv.setBigUint64(HEADER + 33, BigInt(meta.size), true);
  dv.setBigUint64(HEADER + 41, BigInt(ctx.N), true);
  dv.setBigUint64(HEADER + 49, BigInt(meta.level), true);
  dv.setFloat64(HEADER + 57, meta.scale, true);
  dv.setBigUint64(HEADER + 65, meta.correctionFactor, true);
  writeHeader(dv, HEADER + CT_FIXED, DYN_FIXED + 8 * count);
  dv.setBigUint64(HEADER + CT_FIXED + HEADER, BigInt(count), true);
}

/**
 * SEAL bytes of a ciphertext from its fields and residues given as u32 halves (as
 * `ciphertextWords` returns them). Checks the shape, not the residue bounds (the caller did).
 */
export function ciphertextFromWords(ctx: CkksContext, meta: CiphertextMeta, words: Uint32Array, field = 'ciphertext'): Uint8Array {
  ctx.checkLevel(meta.level, ctx.keyLevel);
  const count = meta.size * ctx.N * meta.level;
  if (words.length !== 2 * count) throw new RangeError(`${field}: expected ${2 * count} words for ${meta.size} polynomials at level ${meta.level}`);
  const out = new Uint8Array(CIPHERTEXT_DATA_OFFSET + 8 * count);
  writeCiphertextHeader(ctx, out, meta, count);
  out.set(new Uint8Array(words.buffer, words.byteOffset, 8 * count), CIPHERTEXT_DATA_OFFSET);
  return out;
}

function parseCiphertextBody(ctx: CkksContext, bytes: Uint8Array, field: string): CiphertextData {
  const meta = parseCiphertextMeta(ctx, bytes, field);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const per = ctx.N * meta.level;
  const data = readDyn(bytes, dv, HEADER + CT_FIXED, meta.size * per, field);
  checkResidues(ctx, data, meta.level, field);
  const polys: RnsPoly[] = [];
  for (let k = 0; k < meta.size; k++) polys.push(data.slice(k * per, (k + 1) * per));
  return { level: meta.level, isNttForm: meta.isNttForm, scale: meta.scale, correctionFactor: meta.correctionFactor, polys };
}

function serializeCiphertextBody(ctx: CkksContext, ct: CiphertextData, field: string): Uint8Array {
  ctx.checkLevel(ct.level, ctx.keyLevel);
  const per = ctx.N * ct.level;
  if (ct.polys.length < 2) throw new RangeError(`${field}.polys: expected at least 2 polynomials`);
  for (const p of ct.polys) {
    if (!(p instanceof BigUint64Array) || p.length !== per) {
      throw new RangeError(`${field}.polys: each must be a BigUint64Array of ${per} residues (level ${ct.level})`);
    }
  }
  const count = ct.polys.length * per;
  const out = new Uint8Array(HEADER + CT_FIXED + DYN_FIXED + 8 * count);
  const dv = new DataView(out.buffer);
  writeHeader(dv, 0, out.length);
  writeParms(ctx, dv, HEADER, ct.level);
  dv.setUint8(HEADER + 32, ct.isNttForm ? 1 : 0);
  dv.setBigUint64(HEADER + 33, BigInt(ct.polys.length), true);
  dv.setBigUint64(HEADER + 41, BigInt(ctx.N), true);
  dv.setBigUint64(HEADER + 49, BigInt(ct.level), true);
  dv.setFloat64(HEADER + 57, ct.scale, true);
  dv.setBigUint64(HEADER + 65, ct.correctionFactor, true);
  writeDyn(out, dv, HEADER + CT_FIXED, ct.polys);
  return out;
}

function parsePlaintextBody(ctx: CkksContext, bytes: Uint8Array, field: string): PlaintextData {
  abytes(bytes, field);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < HEADER + PT_FIXED + DYN_FIXED) throw new RangeError(`${field}: truncated (${bytes.length} bytes)`);
  readHeader(dv, 0, bytes.length, field);
  const level = readParmsLevel(ctx, dv, HEADER, field);
  const coeffCount = dv.getBigUint64(HEADER + 32, true);
  const scale = dv.getFloat64(HEADER + 40, true);
  const count = ctx.N * level;
  if (coeffCount !== BigInt(count)) throw new RangeError(`${field}: coeff_count ${coeffCount}, expected N·L = ${count}`);
  if (!Number.isFinite(scale) || scale <= 0) throw new RangeError(`${field}: scale must be finite and positive`);
  const expected = HEADER + PT_FIXED + DYN_FIXED + 8 * count;
  if (bytes.length !== expected) throw new RangeError(`${field}: ${bytes.length} bytes, expected ${expected}`);
  const poly = readDyn(bytes, dv, HEADER + PT_FIXED, count, field);
  checkResidues(ctx, poly, level, field);
  return { level, scale, poly };
}

function serializePlaintextBody(ctx: CkksContext, pt: PlaintextData, field: string): Uint8Array {
  ctx.checkLevel(pt.level, ctx.keyLevel);
  const count = ctx.N * pt.level;
  if (!(pt.poly instanceof BigUint64Array) || pt.poly.length !== count) {
    throw new RangeError(`${field}.poly: expected a BigUint64Array of ${count} residues (level ${pt.level})`);
  }
  const out = new Uint8Array(HEADER + PT_FIXED + DYN_FIXED + 8 * count);
  const dv = new DataView(out.buffer);
  writeHeader(dv, 0, out.length);
  writeParms(ctx, dv, HEADER, pt.level);
  dv.setBigUint64(HEADER + 32, BigInt(count), true);
  dv.setFloat64(HEADER + 40, pt.scale, true);
  writeDyn(out, dv, HEADER + PT_FIXED, [pt.poly]);
  return out;
}

export function parseCiphertext(ctx: CkksContext, bytes: Uint8Array, field = 'ciphertext'): CiphertextData {
  return parseCiphertextBody(ctx, bytes, field);
}

export function serializeCiphertext(ctx: CkksContext, ct: CiphertextData, field = 'ciphertext'): Uint8Array {
  return serializeCiphertextBody(ctx, ct, field);
}

export function parsePlaintext(ctx: CkksContext, bytes: Uint8Array, field = 'plaintext'): PlaintextData {
  return parsePlaintextBody(ctx, bytes, field);
}

export function serializePlaintext(ctx: CkksContext, pt: PlaintextData, field = 'plaintext'): Uint8Array {
  return serializePlaintextBody(ctx, pt, field);
}

/** A SecretKey: Plaintext members at the key level (all primes, NTT form). Returns its polynomial. */
export function parseSecretKey(ctx: CkksContext, bytes: Uint8Array, field = 'secretKey'): RnsPoly {
  const pt = parsePlaintextBody(ctx, bytes, field);
  if (pt.level !== ctx.keyLevel) throw new RangeError(`${field}: level ${pt.level}, a secret key is at the key level ${ctx.keyLevel}`);
  return pt.poly;
}

export function serializeSecretKey(ctx: CkksContext, s: RnsPoly, field = 'secretKey'): Uint8Array {
  return serializePlaintextBody(ctx, { level: ctx.keyLevel, scale: 1, poly: s }, field);
}

/** A PublicKey: Ciphertext members (size 2, key level, NTT form). Returns (p0, p1). */
export function parsePublicKey(ctx: CkksContext, bytes: Uint8Array, field = 'publicKey'): [RnsPoly, RnsPoly] {
  const ct = parseCiphertextBody(ctx, bytes, field);
  if (ct.level !== ctx.keyLevel) throw new RangeError(`${field}: level ${ct.level}, a public key is at the key level ${ctx.keyLevel}`);
  if (ct.polys.length !== 2 || !ct.isNttForm) throw new RangeError(`${field}: expected 2 polynomials in NTT form`);
  return [ct.polys[0]!, ct.polys[1]!];
}

export function serializePublicKey(ctx: CkksContext, p0: RnsPoly, p1: RnsPoly, field = 'publicKey'): Uint8Array {
  return serializeCiphertextBody(
    ctx,
    { level: ctx.keyLevel, isNttForm: true, scale: 1, correctionFactor: 1n, polys: [p0, p1] },
    field,
  );
}
