/**
 * Identity key files at rest: JSON with the Ed25519 secret key, written with mode 0600 and
 * refused on load if group or others can read it (like ssh does).
 */
import { chmodSync, openSync, closeSync, writeSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { toHex } from '../../crypto/bytes.ts';
import { generateIdentity, type IdentityKeyPair } from '../../crypto/identity.ts';
import { identityKeyJson, parseIdentityKey } from './key-format.ts';
import { ConfigError, validatePartyId } from './roster.ts';

export interface IdentityFile {
  readonly id: string;
  readonly identity: IdentityKeyPair;
}

/** Creates a new key file; refuses to overwrite an existing one. */
export function writeNewIdentityFile(path: string, id: string): IdentityFile {
  validatePartyId(id);
  const identity = generateIdentity();
  const body = identityKeyJson(id, identity);
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (e) {
    throw new ConfigError(`cannot create key file ${path}: ${(e as NodeJS.ErrnoException).code === 'EEXIST' ? 'it already exists (refusing to overwrite a key)' : (e as Error).message}`);
  }
  try {
    writeSync(fd, body);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600);
  return { id, identity };
}

export function loadIdentityFile(path: string): IdentityFile {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (e) {
    throw new ConfigError(`cannot read key file ${path}: ${(e as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(`key file ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read key file ${path}: ${(e as Error).message}`);
  }
  return parseIdentityKey(text, path);
}

/**
 * A new identity key at `path` (0600) and its public entry {id, publicKey} at `path.pub.json`, as
 * `blindsum keygen` and `blindsum analyst keygen` write them.
 */
export function writeIdentityWithPublicEntry(path: string, id: string): { identity: IdentityFile; entry: { id: string; publicKey: string } } {
  const identity = writeNewIdentityFile(path, id);
  const entry = { id, publicKey: toHex(identity.identity.publicKey) };
  writeFileSync(`${path}.pub.json`, JSON.stringify(entry, null, 2) + '\n');
  return { identity, entry };
}
