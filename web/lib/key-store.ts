/**
 * The analyst's key, optionally kept in this browser's IndexedDB, encrypted under a passphrase:
 * PBKDF2-HMAC-SHA-256 (600,000 iterations, 16-byte random salt; OWASP 2023) derives an AES-256-GCM
 * key, which encrypts the key file's text with a 12-byte random IV. What is stored: the analyst
 * id (to show which key is saved), salt, IV, iteration count and ciphertext. A wrong passphrase
 * fails GCM's authentication; nothing about the key is stored in the clear.
 */

const DB = 'blindsum-console';
const STORE = 'keys';
const RECORD = 'analyst-key';
export const PBKDF2_ITERATIONS = 600_000;

export interface SavedKey {
  id: string;
  salt: Uint8Array;
  iv: Uint8Array;
  iterations: number;
  ciphertext: Uint8Array;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(new Error(`cannot open this browser's storage (IndexedDB): ${r.error?.message ?? 'unknown error'}`));
  });
}

async function tx<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const req = fn(db.transaction(STORE, mode).objectStore(STORE));
      req.onsuccess = () => resolve(req.result as T);
      req.onerror = () => reject(new Error(`browser storage failed: ${req.error?.message ?? 'unknown error'}`));
    });
  } finally {
    db.close();
  }
}

async function deriveKey(passphrase: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt: salt as BufferSource, iterations }, base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

/** Encrypts the key file's text under `passphrase` and stores it (replacing any saved key). */
export async function saveKey(id: string, keyFileText: string, passphrase: string): Promise<void> {
  if (passphrase.length < 8) throw new Error('choose a passphrase of at least 8 characters');
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await deriveKey(passphrase, salt, PBKDF2_ITERATIONS);
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv as BufferSource }, key, new TextEncoder().encode(keyFileText)));
  const record: SavedKey = { id, salt, iv, iterations: PBKDF2_ITERATIONS, ciphertext };
  await tx('readwrite', (s) => s.put(record, RECORD));
}

/** The saved key's analyst id and parameters (no secret), or undefined. */
export async function savedKey(): Promise<SavedKey | undefined> {
  const r = await tx<SavedKey | undefined>('readonly', (s) => s.get(RECORD));
  return r ?? undefined;
}

/** The key file's text, decrypted; a clear error for a wrong passphrase. */
export async function unlockKey(passphrase: string): Promise<string> {
  const r = await savedKey();
  if (!r) throw new Error('no key is saved in this browser');
  const key = await deriveKey(passphrase, r.salt, r.iterations);
  try {
    return new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: r.iv as BufferSource }, key, r.ciphertext as BufferSource));
  } catch {
    throw new Error('wrong passphrase (the saved key did not decrypt)');
  }
}

export async function forgetKey(): Promise<void> {
  await tx('readwrite', (s) => s.delete(RECORD));
}
