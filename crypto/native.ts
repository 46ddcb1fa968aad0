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
