/**
 * Signed artifacts (a synthetic-data model, a trained model): the object as JSON with an integrity
 * block — the SHA-256 digest of the canonical JSON of everything else (stats/canonical.ts) and an
 * Ed25519 signature over it (crypto/identity.ts, a domain per artifact type) by the author's
 * identity key. Loading recomputes both and refuses a file whose content changed after signing.
 * The embedded public key only proves integrity; pass `trustedKeys` to also require a known
 * signer (otherwise anyone could re-sign an edited artifact with a key of their own).
 */
import { sha256 } from '../crypto/sha256.ts';
import { fromHex, toHex, utf8 } from '../crypto/bytes.ts';
import { signDomain, verifyDomain, type IdentityKeyPair } from '../crypto/identity.ts';
import { canonicalJson } from './canonical.ts';

export interface Integrity {
  /** Hex SHA-256 of the canonical JSON of the artifact without this block. */
  digest: string;
  signer: { id: string; publicKey: string };
  /** Hex Ed25519 signature (crypto/identity.ts signDomain) over the same bytes. */
  signature: string;
}

function body(artifact: object): Uint8Array {
  const { integrity: _drop, ...rest } = artifact as { integrity?: Integrity };
  return utf8(canonicalJson(rest));
}

/** The artifact with its integrity block (digest and signature by `signer` under `domain`). */
export function signArtifact<T extends object>(artifact: T, domain: string, signer: { id: string; identity: IdentityKeyPair }): Omit<T, 'integrity'> & { integrity: Integrity } {
  const b = body(artifact);
  const { integrity: _drop, ...rest } = artifact as T & { integrity?: Integrity };
  return {
    ...(rest as Omit<T, 'integrity'>),
    integrity: { digest: toHex(sha256(b)), signer: { id: signer.id, publicKey: toHex(signer.identity.publicKey) }, signature: toHex(signDomain(signer.identity.secretKey, domain, b)) },
  };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Checks the integrity block of `json` (an object already checked for format and version): digest,
 * signature, and the signer against `trustedKeys` (hex public keys) when given. Errors are made by
 * `fail` (the artifact type's own error class) and say what to do.
 */
export function verifyIntegrity(json: Record<string, unknown>, domain: string, opts: { trustedKeys?: string[]; source: string; writtenBy: string }, fail: (message: string) => Error): void {
  const src = opts.source;
  const integ = json['integrity'];
  if (!isObject(integ) || typeof integ['digest'] !== 'string' || typeof integ['signature'] !== 'string' || !isObject(integ['signer']) || typeof integ['signer']['publicKey'] !== 'string') {
    throw fail(`${src}: no integrity block (digest, signer, signature); only files written by ${opts.writtenBy} can be loaded`);
  }
  const signer = integ['signer'] as { id?: unknown; publicKey: string };
  const b = body(json);
  const digest = toHex(sha256(b));
  if (digest !== integ['digest']) {
    throw fail(`${src}: digest mismatch (content ${digest.slice(0, 16)}…, signed ${String(integ['digest']).slice(0, 16)}…): the file was modified after it was signed; use the original file or redo it`);
  }
  let pk: Uint8Array;
  let sig: Uint8Array;
  try {
    pk = fromHex(signer.publicKey, 'publicKey');
    sig = fromHex(integ['signature'], 'signature');
  } catch {
    throw fail(`${src}: signer public key or signature is not hex`);
  }
  const who = String(signer.id ?? '?').slice(0, 64);
  if (!verifyDomain(pk, domain, b, sig)) throw fail(`${src}: the signature does not verify for signer ${who}: the file or its integrity block was altered`);
  if (opts.trustedKeys && !opts.trustedKeys.map((k) => k.toLowerCase()).includes(signer.publicKey.toLowerCase())) {
    throw fail(`${src}: signed by ${who} (${signer.publicKey.slice(0, 16)}…), which is not a trusted key; pass that signer's public key`);
  }
}
