/**
 * Mask expansion for secure aggregation: PRG(seed) = AES-256-CTR keystream with key = seed and
 * the 128-bit counter block starting at zero, read as little-endian u32 words (the approach of
 * Google's secure aggregation code). Each seed is a fresh 32-byte key used for one mask only.
 *
 * A seed never expands past 2^32 AES blocks (64 GiB, far beyond any vector here); longer
 * requests are refused rather than silently reusing counter values.
 *
 * `addMask` is the in-place fast path: it streams the keystream in 64 KiB chunks and adds or
 * subtracts it into the target modulo 2^32 or 2^64 without BigInt and without branches on data
 * (carries and borrows come from sign bits, Hacker's Delight §2-16).
 */
import { aes256Ctr, type Keystream } from './aes-ctr.ts';
import { abytes } from './bytes.ts';
import { addWordsAt } from './ring.ts';

export const PRG_SEED_LENGTH = 32;
/** Largest number of AES blocks one seed may produce. */
export const PRG_MAX_BLOCKS = 2 ** 32;
const MAX_WORDS = PRG_MAX_BLOCKS * 4;
const CHUNK_BYTES = 64 * 1024;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function checkWords(words: number, field: string): void {
  if (!Number.isSafeInteger(words) || words < 0) {
    throw new RangeError(`${field}: expected a non-negative integer number of 32-bit words, got ${words}`);
  }
  if (words > MAX_WORDS) {
    throw new RangeError(`${field}: ${words} words need more than 2^32 AES blocks from one seed; split the vector and derive one seed per part`);
  }
}

function keystream(seed: Uint8Array): Keystream {
  abytes(seed, 'seed', PRG_SEED_LENGTH);
  return aes256Ctr(seed);
}

/** Views a keystream chunk (whole words) as Int32 words in little-endian order. */
function asWords(chunk: Uint8Array): Int32Array {
  const n = chunk.length >>> 2;
  if (LITTLE_ENDIAN && chunk.byteOffset % 4 === 0) return new Int32Array(chunk.buffer, chunk.byteOffset, n);
  const out = new Int32Array(n);
  const dv = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true);
  return out;
}

/** `words` little-endian u32 words of the AES-256-CTR keystream of `seed`. */
export function expandMask(seed: Uint8Array, words: number): Uint32Array {
  checkWords(words, 'words');
  const cipher = keystream(seed);
  const out = new Uint32Array(words);
  const outI = new Int32Array(out.buffer);
  for (let w = 0; w < words; w += CHUNK_BYTES >>> 2) {
    const n = Math.min(CHUNK_BYTES >>> 2, words - w);
    outI.set(asWords(cipher.next(4 * n)), w);
  }
  return out;
}

/**
 * The sum of several signed masks, produced in order chunk by chunk: `apply(chunk)` adds the next
 * chunk.length words of Σ sign_i · PRG(seed_i) into `chunk` modulo 2^ringBits. Each keystream
 * continues where the previous chunk ended, so applying it to consecutive chunks equals addMask on
 * the whole vector. The seeds are copied into the ciphers (callers may wipe theirs).
 */
export class MaskStream {
  readonly #parts: { cipher: Keystream; sign: 1 | -1 }[];
  readonly #ringBits: 32 | 64;
  readonly #words: number;
  #done = 0;

  constructor(masks: readonly { seed: Uint8Array; sign: 1 | -1 }[], ringBits: 32 | 64, words: number) {
    if (ringBits !== 32 && ringBits !== 64) throw new RangeError(`ringBits: expected 32 or 64, got ${ringBits}`);
    checkWords(words, 'words');
    if (ringBits === 64 && words % 2 !== 0) throw new RangeError(`words: a 64-bit ring vector needs an even number of u32 words, got ${words}`);
    for (const m of masks) if (m.sign !== 1 && m.sign !== -1) throw new RangeError(`sign: expected 1 or -1, got ${m.sign}`);
    this.#parts = masks.map((m) => ({ cipher: keystream(m.seed), sign: m.sign }));
    this.#ringBits = ringBits;
    this.#words = words;
  }

  /** Words of the vector masked so far. */
  get position(): number {
    return this.#done;
  }

  /** chunk += the next chunk.length words of the summed masks, in place. */
  apply(chunk: Uint32Array): void {
    if (!(chunk instanceof Uint32Array)) throw new TypeError('chunk: expected Uint32Array');
    if (this.#ringBits === 64 && chunk.length % 2 !== 0) throw new RangeError(`chunk: a 64-bit ring chunk needs an even number of u32 words, got ${chunk.length}`);
    if (this.#done + chunk.length > this.#words) throw new RangeError(`chunk: ${chunk.length} words past word ${this.#done} exceed the vector's ${this.#words}`);
    const t = new Int32Array(chunk.buffer, chunk.byteOffset, chunk.length);
    for (const { cipher, sign } of this.#parts) {
      for (let base = 0; base < t.length; base += CHUNK_BYTES >>> 2) {
        const n = Math.min(CHUNK_BYTES >>> 2, t.length - base);
        addWordsAt(t, asWords(cipher.next(4 * n)), base, this.#ringBits, sign);
      }
    }
    this.#done += chunk.length;
  }
}

/**
 * target += sign · PRG(seed) modulo 2^ringBits, in place. For ringBits 64, `target` holds
 * little-endian (lo, hi) u32 pairs and must have even length.
 */
export function addMask(target: Uint32Array, seed: Uint8Array, ringBits: 32 | 64, sign: 1 | -1): void {
  const steps = addMaskSteps(target, seed, ringBits, sign);
  while (!steps.next().done);
}

/**
 * addMask in steps, one per 64 KiB of keystream (a mask over 10^6 entries is 8 MB: about 0.1 s),
 * so a service can give its event loop a turn between them (services/common/steps.ts). The
 * arguments are checked before the first step.
 */
export function addMaskSteps(target: Uint32Array, seed: Uint8Array, ringBits: 32 | 64, sign: 1 | -1): Generator<void, void, void> {
  if (!(target instanceof Uint32Array)) throw new TypeError('target: expected Uint32Array');
  if (ringBits !== 32 && ringBits !== 64) throw new RangeError(`ringBits: expected 32 or 64, got ${ringBits}`);
  if (sign !== 1 && sign !== -1) throw new RangeError(`sign: expected 1 or -1, got ${sign}`);
  if (ringBits === 64 && target.length % 2 !== 0) {
    throw new RangeError(`target: a 64-bit ring vector needs an even number of u32 words, got ${target.length}`);
  }
  checkWords(target.length, 'target.length');
  const cipher = keystream(seed);
  const t = new Int32Array(target.buffer, target.byteOffset, target.length);
  return (function* (): Generator<void, void, void> {
    const total = t.length;
    for (let base = 0; base < total; base += CHUNK_BYTES >>> 2) {
      const n = Math.min(CHUNK_BYTES >>> 2, total - base);
      const k = asWords(cipher.next(4 * n));
      addWordsAt(t, k, base, ringBits, sign);
      yield;
    }
  })();
}
