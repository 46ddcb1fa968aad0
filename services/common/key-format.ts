/**
 * The identity key file's format (blindsum keygen, blindsum analyst keygen), parsed without Node:
 * {"type": "blindsum-ed25519-identity", "id", "secretKey": hex, "publicKey": hex}. keys.ts reads
 * files with it (and checks their mode); the web console reads the analyst's file with it.
 */
import { fromHex, toHex } from '../../crypto/bytes.ts';
import { identityFromSecret, type IdentityKeyPair } from '../../crypto/identity.ts';
import { ConfigError, validatePartyId } from './ids.ts';

export const IDENTITY_KEY_TYPE = 'blindsum-ed25519-identity';

/** The key file's JSON text for an identity. */
export function identityKeyJson(id: string, identity: IdentityKeyPair): string {
  return JSON.stringify({ type: IDENTITY_KEY_TYPE, id, secretKey: toHex(identity.secretKey), publicKey: toHex(identity.publicKey) }, null, 2) + '\n';
}

/** Parses a key file's text; `where` names it in errors (never the key itself). */
export function parseIdentityKey(text: string, where: string): { id: string; identity: IdentityKeyPair } {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ConfigError(`key file ${where} is not valid JSON`);
  }
  if (typeof o !== 'object' || o === null || o['type'] !== IDENTITY_KEY_TYPE) throw new ConfigError(`key file ${where}: not a blindsum identity key (type field)`);
  const id = validatePartyId(o['id'], `key file ${where}: id`);
  let secretKey: Uint8Array;
  try {
    secretKey = fromHex(String(o['secretKey']), 'secretKey');
  } catch {
    throw new ConfigError(`key file ${where}: secretKey is not hex`);
  }
  if (secretKey.length !== 32) throw new ConfigError(`key file ${where}: secretKey must be 32 bytes`);
  const identity = identityFromSecret(secretKey);
  if (typeof o['publicKey'] === 'string' && o['publicKey'].toLowerCase() !== toHex(identity.publicKey)) {
    throw new ConfigError(`key file ${where}: publicKey does not belong to secretKey (a damaged or edited file)`);
  }
  return { id, identity };
}
