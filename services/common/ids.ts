/**
 * Identifiers and the configuration error, with no Node import (the web console parses key files
 * with the same rules: services/common/key-format.ts). roster.ts re-exports them.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const PARTY_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function validatePartyId(id: unknown, field = 'party id'): string {
  if (typeof id !== 'string' || !PARTY_ID.test(id)) {
    throw new ConfigError(`${field}: ${JSON.stringify(id)} is not a valid party id (lowercase letters, digits, '.', '_', '-', at most 64 characters)`);
  }
  return id;
}
