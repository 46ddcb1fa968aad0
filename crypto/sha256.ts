/**
 * SHA-256 (FIPS 180-4) behind one small interface: node:crypto's native hash where it exists
 * (Node), @noble/hashes elsewhere (a browser verifier). Same function, same digests; the native
 * one hashes the large messages this project signs and chains (ciphertexts, masked vectors) about
 * ten times faster. test/rfc8032-ed25519.test.ts checks both on FIPS vectors and on each other.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { DEFAULT_BACKEND, nodeCrypto, ownCopy, type CryptoBackend } from './native.ts';

const native = nodeCrypto;

/** The 32-byte SHA-256 digest of `data`. */
export function sha256(data: Uint8Array, backend: CryptoBackend = DEFAULT_BACKEND): Uint8Array {
  if (backend === 'native' && native) {
    return ownCopy(native.createHash('sha256').update(data).digest());
  }
  return nobleSha256(data);
}

/** An incremental SHA-256 (same digests as `sha256` of the concatenation of the updates). */
export interface Sha256Hasher {
  update(data: Uint8Array | string): Sha256Hasher;
  digest(): Uint8Array;
}

export function sha256Hasher(backend: CryptoBackend = DEFAULT_BACKEND): Sha256Hasher {
  if (backend === 'native' && native) {
    const h = native.createHash('sha256');
    const self: Sha256Hasher = {
      update(data) {
        h.update(data);
        return self;
      },
      digest() {
        return ownCopy(h.digest());
      },
    };
    return self;
  }
  const h = nobleSha256.create();
  const encoder = new TextEncoder();
  const self: Sha256Hasher = {
    update(data) {
      h.update(typeof data === 'string' ? encoder.encode(data) : data);
      return self;
    },
    digest() {
      return h.digest();
    },
  };
  return self;
}
