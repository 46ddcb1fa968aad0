/**
 * Key agreement for secure aggregation: X25519 (RFC 7748) followed by HKDF-SHA256 (RFC 5869).
 *
 *   agree(sk, pk, info) = HKDF-SHA256(ikm = X25519(sk, pk), salt = "blindsum/secagg/v1", info, 32)
 *
 * The raw X25519 output is never used as a key: callers bind the session, the purpose and both
 * party ids into `info` (see secagg.ts). A low-order peer key, which would force the all-zero
 * shared secret (RFC 7748 §6.1), is refused with a RangeError.
 *
 * X25519 and HKDF run on node:crypto where it exists (Node; X25519 + HKDF about 6× faster than pure JS here) and on
 * @noble elsewhere (a browser); both give identical outputs (test/rfc7748-x25519.test.ts runs the
 * RFC vectors on each). Node Buffers appear only at the node:crypto calls, which require them.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { DEFAULT_BACKEND, derKey, nodeCrypto, ownCopy, type CryptoBackend } from './native.ts';
import { abytes, clean, utf8 } from './bytes.ts';

const native = nodeCrypto;

export type X25519Backend = CryptoBackend;
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);


export const X25519_KEY_LENGTH = 32;
export const AGREED_KEY_LENGTH = 32;
const SALT = utf8('blindsum/secagg/v1');

export interface X25519KeyPair {
  /** 32-byte X25519 secret scalar (secret). */
  secretKey: Uint8Array;
  /** 32-byte X25519 public u-coordinate. */
  publicKey: Uint8Array;
}

export function generateX25519KeyPair(): X25519KeyPair {
  const secretKey = x25519.utils.randomSecretKey();
  return { secretKey, publicKey: x25519PublicKey(secretKey) };
}

/** X25519 public key of a secret scalar (used to check reconstructed secrets). */
export function x25519PublicKey(secretKey: Uint8Array, backend: X25519Backend = DEFAULT_BACKEND): Uint8Array {
  abytes(secretKey, 'secretKey', X25519_KEY_LENGTH);
  if (backend === 'native' && native) {
    const spki = native.createPublicKey(native.createPrivateKey({ key: derKey(PKCS8_PREFIX, secretKey), format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
    return ownCopy(spki).slice(SPKI_PREFIX.length);
  }
  return x25519.getPublicKey(secretKey);
}

/**
 * Raw X25519(sk, pk). Throws RangeError for a low-order peer key (all-zero result).
 * Exposed for the RFC 7748 vectors; protocol code should call `agree`.
 */
export function x25519SharedSecret(secretKey: Uint8Array, peerPublicKey: Uint8Array, backend: X25519Backend = DEFAULT_BACKEND): Uint8Array {
  abytes(secretKey, 'secretKey', X25519_KEY_LENGTH);
  abytes(peerPublicKey, 'peerPublicKey', X25519_KEY_LENGTH);
  let shared: Uint8Array;
  try {
    if (backend === 'native' && native) {
      const privateKey = native.createPrivateKey({ key: derKey(PKCS8_PREFIX, secretKey), format: 'der', type: 'pkcs8' });
      const publicKey = native.createPublicKey({ key: derKey(SPKI_PREFIX, peerPublicKey), format: 'der', type: 'spki' });
      shared = ownCopy(native.diffieHellman({ privateKey, publicKey }));
    } else {
      shared = x25519.scalarMult(secretKey, peerPublicKey);
    }
  } catch {
    // noble refuses low-order points before and after the ladder; OpenSSL refuses an all-zero result.
    throw new RangeError('peerPublicKey: low-order X25519 point (shared secret would be all zero); ask the peer for a fresh key');
  }
  let acc = 0;
  for (let i = 0; i < shared.length; i++) acc |= shared[i]!;
  if (acc === 0) {
    throw new RangeError('peerPublicKey: low-order X25519 point (shared secret would be all zero); ask the peer for a fresh key');
  }
  return shared;
}

/** True when `publicKey` is 32 bytes and not a low-order point (cheap sanity check for servers). */
export function isValidX25519PublicKey(publicKey: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== X25519_KEY_LENGTH) return false;
  // X25519 clamps every scalar to a multiple of the cofactor 8, so the product is zero exactly
  // when the point lies in the small subgroup; any fixed scalar works as the probe.
  const probe = new Uint8Array(32).fill(0x42);
  try {
    x25519SharedSecret(probe, publicKey);
    return true;
  } catch {
    return false;
  }
}

/** 32-byte key = HKDF-SHA256(X25519(secretKey, peerPublicKey), salt "blindsum/secagg/v1", info). */
export function agree(secretKey: Uint8Array, peerPublicKey: Uint8Array, info: Uint8Array, backend: X25519Backend = DEFAULT_BACKEND): Uint8Array {
  abytes(info, 'info');
  const shared = x25519SharedSecret(secretKey, peerPublicKey, backend);
  try {
    if (backend === 'native' && native) return new Uint8Array(native.hkdfSync('sha256', shared, SALT, info, AGREED_KEY_LENGTH));
    return hkdf(sha256, shared, SALT, info, AGREED_KEY_LENGTH);
  } finally {
    clean(shared);
  }
}
