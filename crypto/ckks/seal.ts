/**
 * Loading node-seal 7 once, and freeing every SEAL object deterministically.
 *
 * node-seal 7 exposes the Emscripten bindings directly: every SEAL object lives on the WASM heap
 * and must be released with `.delete()` (a leak ends in `RangeError: WebAssembly.Memory()`).
 * Every binding implements `[Symbol.dispose]`, so a `using` declaration frees it at scope exit;
 * `SealScope` frees a group of objects in reverse order of creation.
 */
import initialize from 'node-seal';
import type { ClassHandle, MainModule } from 'node-seal';

export type Seal = MainModule;
export type {
  Ciphertext,
  Plaintext,
  PublicKey,
  SecretKey,
  SEALContext,
  ParmsIdType,
  Evaluator,
  Encryptor,
} from 'node-seal';

let loading: Promise<Seal> | undefined;

/** The node-seal runtime, instantiated once per process (the WASM module is ~1 MB). */
export function loadSeal(): Promise<Seal> {
  loading ??= initialize();
  return loading;
}

/**
 * A group of SEAL objects freed together, in reverse order of `track`:
 * `using scope = new SealScope(); const ct = scope.track(new seal.Ciphertext());`.
 */
export class SealScope implements Disposable {
  #objects: ClassHandle[] = [];

  track<T extends ClassHandle>(object: T): T {
    this.#objects.push(object);
    return object;
  }

  /** Frees every tracked object that is still alive; safe to call twice. */
  [Symbol.dispose](): void {
    for (let i = this.#objects.length - 1; i >= 0; i--) {
      const o = this.#objects[i]!;
      if (!o.isDeleted()) o.delete();
    }
    this.#objects = [];
  }
}

/** Copies the bytes node-seal returns from `saveToArray` into a plain Uint8Array. */
export function toUint8Array(value: unknown, field: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
  }
  if (Array.isArray(value)) return Uint8Array.from(value as number[]);
  throw new TypeError(`${field}: node-seal returned an unexpected serialization type`);
}
