/**
 * AES-256-CTR keystreams (FIPS 197, NIST SP 800-38A) behind one small interface: node:crypto's
 * native cipher where it exists (Node), a table-driven AES-256 in TypeScript elsewhere (the
 * browser auditor, web/pages/auditor, replays the secure-aggregation unmasking and the CKKS
 * common reference strings with it). Both give the same keystream: the 128-bit counter block is
 * incremented as one big-endian integer, as OpenSSL does. test/aes-ctr.test.ts checks the
 * TypeScript one on the FIPS 197 and SP 800-38A vectors and against node:crypto.
 *
 * The TypeScript AES uses lookup tables indexed by key-dependent bytes: it is not constant time.
 * It expands only public seeds here (masks reconstructed from revealed shares, public CRS seeds);
 * the parties, which expand secret seeds, run on Node with the native cipher.
 */
import { abytes } from './bytes.ts';
import { DEFAULT_BACKEND, nodeCrypto, type CryptoBackend } from './native.ts';

/** A keystream: `next(n)` returns its next n bytes. */
export interface Keystream {
  next(n: number): Uint8Array;
}

const SBOX = new Uint8Array(256);
const TE0 = new Uint32Array(256);
const TE1 = new Uint32Array(256);
const TE2 = new Uint32Array(256);
const TE3 = new Uint32Array(256);

(function tables(): void {
  // The S-box from the multiplicative inverse in GF(2^8) and the affine map (FIPS 197 §5.1.1).
  const exp = new Uint8Array(256);
  const log = new Uint8Array(256);
  for (let i = 0, x = 1; i < 255; i++) {
    exp[i] = x;
    log[x] = i;
    x ^= (x << 1) ^ (x & 0x80 ? 0x1b : 0); // x · 3
    x &= 0xff;
  }
  for (let i = 0; i < 256; i++) {
    const inv = i === 0 ? 0 : exp[(255 - log[i]!) % 255]!;
    let s = inv;
    for (let k = 1; k < 5; k++) s ^= ((inv << k) | (inv >>> (8 - k))) & 0xff;
    SBOX[i] = s ^ 0x63;
  }
  for (let i = 0; i < 256; i++) {
    const s = SBOX[i]!;
    const s2 = ((s << 1) ^ (s & 0x80 ? 0x1b : 0)) & 0xff;
    const s3 = s2 ^ s;
    const t = ((s2 << 24) | (s << 16) | (s << 8) | s3) >>> 0;
    TE0[i] = t;
    TE1[i] = ((t >>> 8) | (t << 24)) >>> 0;
    TE2[i] = ((t >>> 16) | (t << 16)) >>> 0;
    TE3[i] = ((t >>> 24) | (t << 8)) >>> 0;
  }
})();

/** The 60-word AES-256 key schedule (FIPS 197 §5.2). */
function expandKey(key: Uint8Array): Uint32Array {
  const w = new Uint32Array(60);
  for (let i = 0; i < 8; i++) w[i] = ((key[4 * i]! << 24) | (key[4 * i + 1]! << 16) | (key[4 * i + 2]! << 8) | key[4 * i + 3]!) >>> 0;
  let rcon = 1;
  for (let i = 8; i < 60; i++) {
    let t = w[i - 1]!;
    if (i % 8 === 0) {
      t = ((SBOX[(t >>> 16) & 0xff]! << 24) | (SBOX[(t >>> 8) & 0xff]! << 16) | (SBOX[t & 0xff]! << 8) | SBOX[t >>> 24]!) ^ (rcon << 24);
      rcon = ((rcon << 1) ^ (rcon & 0x80 ? 0x1b : 0)) & 0xff;
    } else if (i % 8 === 4) {
      t = (SBOX[t >>> 24]! << 24) | (SBOX[(t >>> 16) & 0xff]! << 16) | (SBOX[(t >>> 8) & 0xff]! << 8) | SBOX[t & 0xff]!;
    }
    w[i] = (w[i - 8]! ^ t) >>> 0;
  }
  return w;
}

/** Encrypts the block (s0..s3, big-endian words) under the schedule `w` into `out` at `off`. */
function encryptBlock(w: Uint32Array, s0: number, s1: number, s2: number, s3: number, out: Uint8Array, off: number): void {
  s0 ^= w[0]!; s1 ^= w[1]!; s2 ^= w[2]!; s3 ^= w[3]!;
  let k = 4;
  for (let round = 1; round < 14; round++, k += 4) {
    const t0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ TE3[s3 & 0xff]! ^ w[k]!;
    const t1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^ TE3[s0 & 0xff]! ^ w[k + 1]!;
    const t2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ w[k + 2]!;
    const t3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ w[k + 3]!;
    s0 = t0 >>> 0; s1 = t1 >>> 0; s2 = t2 >>> 0; s3 = t3 >>> 0;
  }
  const r = [s0, s1, s2, s3];
  for (let c = 0; c < 4; c++) {
    const v = ((SBOX[r[c]! >>> 24]! << 24) | (SBOX[(r[(c + 1) & 3]! >>> 16) & 0xff]! << 16) | (SBOX[(r[(c + 2) & 3]! >>> 8) & 0xff]! << 8) | SBOX[r[(c + 3) & 3]! & 0xff]!) ^ w[k + c]!;
    out[off + 4 * c] = v >>> 24;
    out[off + 4 * c + 1] = (v >>> 16) & 0xff;
    out[off + 4 * c + 2] = (v >>> 8) & 0xff;
    out[off + 4 * c + 3] = v & 0xff;
  }
}

/** The AES-256 encryption of one 16-byte block (for the FIPS 197 vectors). */
export function aes256EncryptBlock(key: Uint8Array, block: Uint8Array): Uint8Array {
  abytes(key, 'key', 32);
  abytes(block, 'block', 16);
  const v = new DataView(block.buffer, block.byteOffset, 16);
  const out = new Uint8Array(16);
  encryptBlock(expandKey(key), v.getUint32(0), v.getUint32(4), v.getUint32(8), v.getUint32(12), out, 0);
  return out;
}

class TsCtr implements Keystream {
  readonly #w: Uint32Array;
  readonly #ctr: Uint32Array;
  readonly #block = new Uint8Array(16);
  #used = 16;

  constructor(key: Uint8Array, iv: Uint8Array) {
    this.#w = expandKey(key);
    const v = new DataView(iv.buffer, iv.byteOffset, 16);
    this.#ctr = Uint32Array.of(v.getUint32(0), v.getUint32(4), v.getUint32(8), v.getUint32(12));
  }

  #refill(): void {
    const c = this.#ctr;
    encryptBlock(this.#w, c[0]!, c[1]!, c[2]!, c[3]!, this.#block, 0);
    for (let i = 3; i >= 0; i--) if ((c[i] = (c[i]! + 1) >>> 0) !== 0) break;
    this.#used = 0;
  }

  next(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n && this.#used < 16) out[off++] = this.#block[this.#used++]!;
    const c = this.#ctr;
    while (n - off >= 16) {
      encryptBlock(this.#w, c[0]!, c[1]!, c[2]!, c[3]!, out, off);
      for (let i = 3; i >= 0; i--) if ((c[i] = (c[i]! + 1) >>> 0) !== 0) break;
      off += 16;
    }
    if (off < n) {
      this.#refill();
      while (off < n) out[off++] = this.#block[this.#used++]!;
    }
    return out;
  }
}

/** Zeros the native cipher encrypts into keystream (grown to the largest read). */
let ZEROS = new Uint8Array(64 * 1024);

/** The AES-256-CTR keystream under `key` from the counter block `iv` (default zero). */
export function aes256Ctr(key: Uint8Array, iv: Uint8Array = new Uint8Array(16), backend: CryptoBackend = DEFAULT_BACKEND): Keystream {
  abytes(key, 'key', 32);
  abytes(iv, 'iv', 16);
  if (backend === 'native' && nodeCrypto) {
    const cipher = nodeCrypto.createCipheriv('aes-256-ctr', key, iv);
    return {
      next(n: number): Uint8Array {
        if (ZEROS.length < n) ZEROS = new Uint8Array(n); // shared: update() only reads it
        const b = cipher.update(ZEROS.subarray(0, n));
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength); // a fresh buffer: no copy
      },
    };
  }
  return new TsCtr(key, iv);
}
