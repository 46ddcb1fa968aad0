/**
 * Stands in for node:crypto and node:fs/promises in the browser bundles (web/aliases.ts). The
 * console imports pure library code (planning, noise plans, signing) whose modules also hold
 * Node-only functions it never calls (dataset loading, seeded AES-CTR streams, party-side noise
 * sampling); calling one fails loudly instead of silently doing something else.
 */
function unavailable(name: string): never {
  throw new Error(`${name} is not available in the browser (party-side or file code; the web console never needs it)`);
}

export function createCipheriv(): never {
  return unavailable('node:crypto createCipheriv');
}
export function randomFillSync(): never {
  return unavailable('node:crypto randomFillSync');
}
export function readFile(): never {
  return unavailable('node:fs/promises readFile');
}
