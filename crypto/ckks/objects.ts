/**
 * Moving bytes in and out of node-seal objects for one CkksContext. Every loader validates the
 * bytes with the codec first (so malformed input fails with a named field, not a WASM abort),
 * and every returned SEAL object must be freed by the caller (`using`, or a SealScope).
 */
import { parseCiphertext, parsePlaintext, parsePublicKey, parseSecretKey, serializePlaintext } from './codec.ts';
import type { CkksContext } from './params.ts';
import { toUint8Array } from './seal.ts';
import type { Ciphertext, Plaintext, PublicKey, SecretKey } from './seal.ts';

interface Saveable {
  saveToArray(mode: { value: 0 | 1 | 2 }): unknown;
}

/** Uncompressed SEAL bytes of any SEAL object. */
export function saveBytes(ctx: CkksContext, object: Saveable, field = 'object'): Uint8Array {
  return toUint8Array(object.saveToArray(ctx.seal.ComprModeType.none), field);
}

export function loadCiphertext(ctx: CkksContext, bytes: Uint8Array, field = 'ciphertext'): Ciphertext {
  parseCiphertext(ctx, bytes, field);
  const ct = new ctx.seal.Ciphertext();
  ct.loadFromArray(ctx.context, bytes);
  return ct;
}

export function loadPlaintext(ctx: CkksContext, bytes: Uint8Array, field = 'plaintext'): Plaintext {
  parsePlaintext(ctx, bytes, field);
  const pt = new ctx.seal.Plaintext();
  pt.loadFromArray(ctx.context, bytes);
  return pt;
}

export function loadPublicKey(ctx: CkksContext, bytes: Uint8Array, field = 'publicKey'): PublicKey {
  parsePublicKey(ctx, bytes, field);
  const pk = new ctx.seal.PublicKey();
  pk.loadFromArray(ctx.context, bytes);
  return pk;
}

export function loadSecretKey(ctx: CkksContext, bytes: Uint8Array, field = 'secretKey'): SecretKey {
  parseSecretKey(ctx, bytes, field);
  const sk = new ctx.seal.SecretKey();
  sk.loadFromArray(ctx.context, bytes);
  return sk;
}

/** An all-zero NTT-form plaintext at `level` with the given scale (to encrypt zero there). */
export function zeroPlaintext(ctx: CkksContext, level: number, scale: number): Plaintext {
  const bytes = serializePlaintext(ctx, { level, scale, poly: new BigUint64Array(level * ctx.N) });
  const pt = new ctx.seal.Plaintext();
  pt.loadFromArray(ctx.context, bytes);
  return pt;
}
