/**
 * node:crypto when running on Node (process.getBuiltinModule, Node ≥ 22.3), else undefined (a
 * browser). The one place that decides it: ed25519.ts, sha256.ts and keyagreement.ts use the
 * native implementation when this is defined and @noble otherwise.
 */
import type * as NodeCrypto from 'node:crypto';

export type CryptoBackend = 'native' | 'noble';

export const nodeCrypto: typeof NodeCrypto | undefined = (() => {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return p?.getBuiltinModule?.('node:crypto') as typeof NodeCrypto | undefined;
  } catch {
    return undefined;
  }
})();

/** The backend used by default here. */
export const DEFAULT_BACKEND: CryptoBackend = nodeCrypto ? 'native' : 'noble';

/** `prefix ‖ key` as a Buffer, for node:crypto's DER key import (the only place Buffers appear). */
export function derKey(prefix: Uint8Array, key: Uint8Array): Buffer {
  const out = Buffer.alloc(prefix.length + key.length);
  out.set(prefix);
  out.set(key, prefix.length);
  return out;
}

/** A copy of a Buffer as a plain Uint8Array. */
export function ownCopy(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();
}

/**
 * Fills `out` from the operating system's CSPRNG: node:crypto's randomFillSync on Node, Web
 * Crypto's getRandomValues elsewhere (at most 65536 bytes per call there). Returns `out`.
 */
export function randomFill(out: Uint8Array): Uint8Array {
  if (nodeCrypto) {
    // randomFillSync accepts at most 2^31-1 bytes per call.
    for (let off = 0; off < out.length; off += 1 << 30) nodeCrypto.randomFillSync(out, off, Math.min(1 << 30, out.length - off));
    return out;
  }
  const web = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (!web?.getRandomValues) throw new Error('no cryptographically secure random source in this runtime (node:crypto or Web Crypto)');
  for (let off = 0; off < out.length; off += 65536) web.getRandomValues(out.subarray(off, Math.min(out.length, off + 65536)));
  return out;
}

/** `n` bytes from the operating system's CSPRNG (see randomFill). */
export function randomBytes(n: number): Uint8Array {
  return randomFill(new Uint8Array(n));
}

/** node:crypto, for the few operations that have no fallback here (AES-GCM); throws a clear error elsewhere. */
export function requireNodeCrypto(what: string): typeof NodeCrypto {
  if (!nodeCrypto) throw new Error(`${what} needs node:crypto, which this runtime (a browser?) does not have`);
  return nodeCrypto;
}
