/**
 * Ed25519 (RFC 8032) behind one small interface: node:crypto's native implementation where it
 * exists (Node), @noble/curves everywhere else (a browser verifier). Both are deterministic
 * RFC 8032 Ed25519 (noble in its strict RFC 8032 mode, zip215: false, as OpenSSL), so they produce
 * identical signatures; test/rfc8032-ed25519.test.ts checks both on the RFC's vectors, on each
 * other's signatures and on tampered ones.
 * (Node Buffers appear only at the node:crypto call, which requires them.) Native verification is ~10× faster (0.1 ms against 1.3 ms here), and signatures are verified on
 * every protocol message.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import type * as NodeCrypto from 'node:crypto';
import { DEFAULT_BACKEND, derKey, nodeCrypto, ownCopy, type CryptoBackend } from './native.ts';
import { toHex } from './bytes.ts';

const native = nodeCrypto;

const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

/** Imported public keys, by hex (roster keys are few and verified often). */
const publicKeys = new Map<string, NodeCrypto.KeyObject>();
const MAX_CACHED = 4096;

function publicKeyObject(c: typeof NodeCrypto, publicKey: Uint8Array): NodeCrypto.KeyObject {
  const id = toHex(publicKey);
  let k = publicKeys.get(id);
  if (!k) {
    k = c.createPublicKey({ key: derKey(SPKI_PREFIX, publicKey), format: 'der', type: 'spki' });
    if (publicKeys.size >= MAX_CACHED) publicKeys.delete(publicKeys.keys().next().value!);
    publicKeys.set(id, k);
  }
  return k;
}

export type Ed25519Backend = CryptoBackend;

/** Which implementation `ed25519Sign`/`ed25519Verify` use by default here. */
export const ED25519_BACKEND: Ed25519Backend = DEFAULT_BACKEND;

/** Signature of `message` under the 32-byte seed `secretKey` (the caller checks the lengths). */
export function ed25519Sign(message: Uint8Array, secretKey: Uint8Array, backend: Ed25519Backend = ED25519_BACKEND): Uint8Array {
  if (backend === 'native' && native) {
    const key = native.createPrivateKey({ key: derKey(PKCS8_PREFIX, secretKey), format: 'der', type: 'pkcs8' });
    return ownCopy(native.sign(null, message, key));
  }
  return ed25519.sign(message, secretKey);
}

/** True when `signature` is `publicKey`'s signature of `message`; false (never throws) otherwise. */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array, backend: Ed25519Backend = ED25519_BACKEND): boolean {
  try {
    if (backend === 'native' && native) return native.verify(null, message, publicKeyObject(native, publicKey), signature);
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
