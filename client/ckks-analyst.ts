/**
 * The analyst's side of the CKKS backend: the analyst's own CKKS key pair (secret file 0600,
 * read and written here), and the last step of a query — decrypting the release, rounding and
 * post-processing it — in client/ckks-release.ts (no Node import: the web console's analyst page
 * runs the same code). Loaded (with node-seal) only for backend "ckks".
 */
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { toBase64 } from '../crypto/bytes.ts';
import { saveBytes } from '../crypto/ckks/objects.ts';
import { SealScope } from '../crypto/ckks/seal.ts';
import { CKKS_PARAMS } from '../services/common/ckks.ts';
import { ConfigError } from '../services/common/roster.ts';
import { CKKS_KEY_TYPE as TYPE, ckksContextFor as contextFor, parseAnalystCkksKey, type AnalystCkksKey } from './ckks-release.ts';

// Decryption and post-processing have no Node import (the web console runs them): client/ckks-release.ts.
export { openRelease, parseAnalystCkksKey, type AnalystCkksKey, type OpenedRelease } from './ckks-release.ts';

const b64 = toBase64;

/** A fresh CKKS key pair for the analyst (plain SEAL key generation). */
export async function generateAnalystKey(params: string = CKKS_PARAMS.name): Promise<AnalystCkksKey> {
  const { ctx, owned } = await contextFor(params);
  try {
    using scope = new SealScope();
    const kg = scope.track(new ctx.seal.KeyGenerator(ctx.context));
    const publicKey = saveBytes(ctx, scope.track(kg.createPublicKey()), 'publicKey');
    const secretKey = saveBytes(ctx, scope.track(kg.secretKey()), 'secretKey');
    return { params: ctx.params.name, publicKey, secretKey };
  } finally {
    if (owned) ctx[Symbol.dispose]();
  }
}

/** Writes the key pair to PATH (mode 0600, never overwritten) and the public key to PATH.pub. */
export function writeAnalystKeyFile(path: string, key: AnalystCkksKey): void {
  const write = (file: string, body: string, mode: number): void => {
    let fd: number;
    try {
      fd = openSync(file, 'wx', mode);
    } catch (e) {
      throw new ConfigError(`cannot create ${file}: ${(e as NodeJS.ErrnoException).code === 'EEXIST' ? 'it already exists (refusing to overwrite a key)' : (e as Error).message}`);
    }
    try {
      writeSync(fd, body);
    } finally {
      closeSync(fd);
    }
  };
  write(path, JSON.stringify({ type: TYPE, params: key.params, publicKey: b64(key.publicKey), secretKey: b64(key.secretKey) }) + '\n', 0o600);
  write(`${path}.pub`, JSON.stringify({ type: `${TYPE}.pub`, params: key.params, publicKey: b64(key.publicKey) }) + '\n', 0o644);
}

export function loadAnalystKeyFile(path: string): AnalystCkksKey {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (e) {
    throw new ConfigError(`cannot read CKKS key file ${path}: ${(e as Error).message}; create one with: blindsum analyst-keygen --out ${path}`);
  }
  if ((mode & 0o077) !== 0) throw new ConfigError(`CKKS key file ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
  return parseAnalystCkksKey(readFileSync(path, 'utf8'), path);
}
