/**
 * A party's CKKS key material at rest: its Shamir share of the collective secret key (secret),
 * the collective public key and the ceremony it came from, in STATE_DIR/ckks-key.json with mode
 * 0600 — written atomically (temporary file, fsync, rename), refused on load if group or others
 * can read it (like ssh does), and reloaded on restart. A new ceremony replaces it.
 */
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { CeremonyKeyShare } from '../../crypto/ckks/ceremony.ts';
import { sha256Hex } from '../common/ckks.ts';
import { ConfigError } from '../common/roster.ts';

export const CKKS_KEY_FILE = 'ckks-key.json';
const TYPE = 'blindsum-ckks-key-share';

export function ckksKeyPath(stateDir: string): string {
  return join(stateDir, CKKS_KEY_FILE);
}

const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

/** Writes the key share atomically with mode 0600 (the directory is created 0700). */
export function saveCkksKey(stateDir: string, party: string, k: CeremonyKeyShare): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = ckksKeyPath(stateDir);
  const tmp = `${path}.${process.pid}.tmp`;
  const body = JSON.stringify({
    type: TYPE, v: 1, party, ceremonyId: k.ceremonyId, params: k.paramsName, rosterDigest: k.rosterDigest, threshold: k.threshold, parties: k.parties,
    point: k.point, publicKeySha256: k.publicKeySha256, publicKey: b64(k.publicKey), shamirShare: b64(k.shamirShare), ckgSharesSha256: k.ckgSharesSha256,
  });
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, body);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  const dir = openSync(stateDir, 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** The stored key share, or undefined when there is none; ConfigError when it is unsafe or malformed. */
export function loadCkksKey(stateDir: string, party: string): CeremonyKeyShare | undefined {
  const path = ckksKeyPath(stateDir);
  if (!existsSync(path)) return undefined;
  const mode = statSync(path).mode;
  if ((mode & 0o077) !== 0) throw new ConfigError(`CKKS key file ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    throw new ConfigError(`CKKS key file ${path} is not valid JSON; delete it and let the aggregator run a new key ceremony`);
  }
  const bad = (field: string): never => {
    throw new ConfigError(`CKKS key file ${path}: ${field} is missing or malformed; delete it and let the aggregator run a new key ceremony`);
  };
  if (o['type'] !== TYPE || o['v'] !== 1) bad('type');
  if (o['party'] !== party) throw new ConfigError(`CKKS key file ${path} belongs to party ${JSON.stringify(o['party'])}, not ${party}`);
  const str = (k: string): string => (typeof o[k] === 'string' ? (o[k] as string) : bad(k));
  const parties = o['parties'];
  if (!Array.isArray(parties) || parties.some((p) => typeof p !== 'string')) bad('parties');
  const threshold = o['threshold'];
  const point = o['point'];
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 1) bad('threshold');
  if (typeof point !== 'number' || !Number.isInteger(point) || point < 1 || point > (parties as string[]).length) bad('point');
  const publicKey = new Uint8Array(Buffer.from(str('publicKey'), 'base64'));
  const shamirShare = new Uint8Array(Buffer.from(str('shamirShare'), 'base64'));
  const publicKeySha256 = str('publicKeySha256');
  if (sha256Hex(publicKey) !== publicKeySha256) bad('publicKey (its SHA-256 differs from publicKeySha256)');
  return {
    ceremonyId: str('ceremonyId'), paramsName: str('params'), rosterDigest: str('rosterDigest'), threshold: threshold as number, parties: parties as string[],
    point: point as number, publicKey, publicKeySha256, shamirShare,
    ckgSharesSha256: typeof o['ckgSharesSha256'] === 'string' ? o['ckgSharesSha256'] : '',
  };
}
