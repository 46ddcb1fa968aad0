/**
 * Ed25519 identities (RFC 8032) with domain-separated signatures.
 *
 * A signature never covers raw bytes directly: it covers
 *   SHA-256( lengthPrefixed("blindsum/v1/sig", domain) || body )
 * so that a signature made for one purpose (e.g. "secagg/advertise-keys") can never be replayed
 * as another (e.g. "transcript/receipt"), and nothing depends on canonical re-encoding: the signer
 * signs the exact bytes it sends.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from './sha256.ts';
import { abytes, concatBytes, lengthPrefixed } from './bytes.ts';
import { ed25519Sign, ed25519Verify } from './ed25519.ts';

export interface IdentityKeyPair {
  /** 32-byte Ed25519 seed (secret). */
  readonly secretKey: Uint8Array;
  /** 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
}

export function generateIdentity(): IdentityKeyPair {
  const secretKey = ed25519.utils.randomSecretKey();
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

export function identityFromSecret(secretKey: Uint8Array): IdentityKeyPair {
  abytes(secretKey, 'secretKey', 32);
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

function validateDomain(domain: string): void {
  if (typeof domain !== 'string' || !/^[a-z0-9][a-z0-9/._-]*$/.test(domain)) {
    throw new TypeError(`domain: expected a lowercase label like "secagg/advertise-keys", got ${JSON.stringify(domain)}`);
  }
}

/** The 32-byte digest that is actually signed for `body` under `domain`. */
export function signingDigest(domain: string, body: Uint8Array): Uint8Array {
  validateDomain(domain);
  abytes(body, 'body');
  return sha256(concatBytes(lengthPrefixed('blindsum/v1/sig', domain), body));
}

export function signDomain(secretKey: Uint8Array, domain: string, body: Uint8Array): Uint8Array {
  abytes(secretKey, 'secretKey', 32);
  return ed25519Sign(signingDigest(domain, body), secretKey);
}

/** Returns false (never throws) for a wrong signature, wrong key or malformed input. */
export function verifyDomain(publicKey: Uint8Array, domain: string, body: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  try {
    return ed25519Verify(signature, signingDigest(domain, body), publicKey);
  } catch {
    return false;
  }
}
