/**
 * AES-256-GCM (node:crypto; there is no browser fallback: only the parties seal and open shares) with a random 96-bit nonce, for the encrypted Shamir shares of
 * ShareKeys. Sealed layout: nonce (12) ‖ ciphertext ‖ tag (16).
 *
 * Every key in secure aggregation is fresh per session and pair and encrypts one message, so
 * random nonces are far from the 2^32-message bound of NIST SP 800-38D §8.3.
 */
import { randomBytes, requireNodeCrypto } from './native.ts';
import { abytes } from './bytes.ts';

export const AEAD_KEY_LENGTH = 32;
export const AEAD_NONCE_LENGTH = 12;
export const AEAD_TAG_LENGTH = 16;
/** Bytes added to a plaintext by `aeadSeal`. */
export const AEAD_OVERHEAD = AEAD_NONCE_LENGTH + AEAD_TAG_LENGTH;

/** Decryption failed: wrong key, wrong aad, or tampered/truncated ciphertext. Never carries secrets. */
export class AeadError extends Error {
  constructor(message = 'aead: authentication failed (wrong key, wrong associated data, or tampered ciphertext)') {
    super(message);
    this.name = 'AeadError';
  }
}

function u8(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function aeadSeal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  abytes(key, 'key', AEAD_KEY_LENGTH);
  abytes(plaintext, 'plaintext');
  abytes(aad, 'aad');
  const nonce = u8(randomBytes(AEAD_NONCE_LENGTH));
  const cipher = requireNodeCrypto('AES-256-GCM').createCipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_LENGTH });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const last = cipher.final();
  const tag = cipher.getAuthTag();
  const out = new Uint8Array(AEAD_NONCE_LENGTH + body.length + last.length + AEAD_TAG_LENGTH);
  out.set(nonce, 0);
  out.set(body, AEAD_NONCE_LENGTH);
  out.set(last, AEAD_NONCE_LENGTH + body.length);
  out.set(tag, out.length - AEAD_TAG_LENGTH);
  return out;
}

export function aeadOpen(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  abytes(key, 'key', AEAD_KEY_LENGTH);
  abytes(sealed, 'sealed');
  abytes(aad, 'aad');
  if (sealed.length < AEAD_OVERHEAD) {
    throw new AeadError(`aead: sealed message too short (${sealed.length} bytes, at least ${AEAD_OVERHEAD} expected)`);
  }
  const nonce = sealed.subarray(0, AEAD_NONCE_LENGTH);
  const ciphertext = sealed.subarray(AEAD_NONCE_LENGTH, sealed.length - AEAD_TAG_LENGTH);
  const tag = sealed.subarray(sealed.length - AEAD_TAG_LENGTH);
  const c = requireNodeCrypto('AES-256-GCM');
  let body: Uint8Array | undefined;
  try {
    const decipher = c.createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_LENGTH });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    body = decipher.update(ciphertext);
    const last = decipher.final();
    const out = new Uint8Array(body.length + last.length);
    out.set(body, 0);
    out.set(last, body.length);
    return out;
  } catch {
    throw new AeadError();
  } finally {
    // GCM's update() releases plaintext before the tag is checked: never keep it around.
    body?.fill(0);
  }
}
