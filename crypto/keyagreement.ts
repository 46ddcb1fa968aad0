/**
 * Key agreement for secure aggregation: X25519 (RFC 7748) followed by HKDF-SHA256 (RFC 5869).
 *
 *   agree(sk, pk, info) = HKDF-SHA256(ikm = X25519(sk, pk), salt = "blindsum/secagg/v1", info, 32)
 *
 * The raw X25519 output is never used as a key: callers bind the session, the purpose and both
 * party ids into `info` (see secagg.ts). A low-order peer key, which would force the all-zero
 * shared secret (RFC 7748 §6.1), is refused with a RangeError.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes, clean, utf8 } from './bytes.ts';

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
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

/** X25519 public key of a secret scalar (used to check reconstructed secrets). */
export function x25519PublicKey(secretKey: Uint8Array): Uint8Array {
  abytes(secretKey, 'secretKey', X25519_KEY_LENGTH);
  return x25519.getPublicKey(secretKey);
}

/**
 * Raw X25519(sk, pk). Throws RangeError for a low-order peer key (all-zero result).
 * Exposed for the RFC 7748 vectors; protocol code should call `agree`.
 */
export function x25519SharedSecret(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  abytes(secretKey, 'secretKey', X25519_KEY_LENGTH);
  abytes(peerPublicKey, 'peerPublicKey', X25519_KEY_LENGTH);
  let shared: Uint8Array;
  try {
    shared = x25519.scalarMult(secretKey, peerPublicKey);
  } catch {
    // noble refuses low-order points before and after the ladder.
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
export function agree(secretKey: Uint8Array, peerPublicKey: Uint8Array, info: Uint8Array): Uint8Array {
  abytes(info, 'info');
  const shared = x25519SharedSecret(secretKey, peerPublicKey);
  try {
    return hkdf(sha256, shared, SALT, info, AGREED_KEY_LENGTH);
  } finally {
    clean(shared);
  }
}
