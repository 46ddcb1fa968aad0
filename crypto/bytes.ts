/**
 * Byte helpers shared by every protocol in crypto/. Uint8Array only, never Buffer.
 * What JavaScript cannot guarantee: constant time beyond "no data-dependent branch" and
 * memory wiping (the engine may copy buffers); see docs/security.md.
 */

/** Asserts `value` is a Uint8Array (optionally of a given length), naming the field on failure. */
export function abytes(value: unknown, field: string, length?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${field}: expected Uint8Array`);
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${field}: expected ${length} bytes, got ${value.length}`);
  }
  return value;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Constant-time equality (no early exit on the first differing byte). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

export function fromUtf8(b: Uint8Array): string {
  return decoder.decode(b);
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex: string, field = 'hex'): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new TypeError(`${field}: expected an even-length hexadecimal string`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function u32be(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`u32: ${n} out of range`);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
}

export function u64be(n: bigint): Uint8Array {
  if (n < 0n || n >= 1n << 64n) throw new RangeError('u64: out of range');
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n, false);
  return out;
}

/**
 * Unambiguous encoding of a list of byte strings: each part is preceded by its length (u32
 * big-endian). Used wherever several fields are hashed, signed or bound into a KDF `info`,
 * so that ("ab","c") and ("a","bc") never collide.
 */
export function lengthPrefixed(...parts: (Uint8Array | string)[]): Uint8Array {
  const bytes = parts.map((p) => (typeof p === 'string' ? utf8(p) : p));
  const chunks: Uint8Array[] = [];
  for (const b of bytes) chunks.push(u32be(b.length), b);
  return concatBytes(...chunks);
}

/** Best-effort zeroing of secret bytes (JS cannot guarantee no copies remain). */
export function clean(...arrays: Uint8Array[]): void {
  for (const a of arrays) a.fill(0);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_VALUE[B64.charCodeAt(i)] = i;

/** Standard base64 (RFC 4648 §4) with padding. */
export function toBase64(b: Uint8Array): string {
  const parts: string[] = [];
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += B64[n >>> 18]! + B64[(n >>> 12) & 63]! + (i + 1 < b.length ? B64[(n >>> 6) & 63]! : '=') + (i + 2 < b.length ? B64[n & 63]! : '=');
    if (s.length >= 8192) {
      parts.push(s);
      s = '';
    }
  }
  parts.push(s);
  return parts.join('');
}

/**
 * Decodes standard base64 (RFC 4648 §4). Padding is optional and trailing bits that do not
 * make a whole byte are dropped, as node's Buffer.from(s, 'base64') does; any character outside
 * the alphabet (or '=' before the end) is a TypeError naming `field`.
 */
export function fromBase64(s: string, field = 'base64'): Uint8Array {
  if (typeof s !== 'string') throw new TypeError(`${field}: expected a base64 string`);
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 61 && s.length - end < 2) end--;
  const out = new Uint8Array(Math.floor((end * 6) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? B64_VALUE[c]! : -1;
    if (v < 0) throw new TypeError(`${field}: expected base64`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  return o === out.length ? out : out.subarray(0, o);
}
