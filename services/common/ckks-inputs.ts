/**
 * The CKKS encrypted inputs as every side checks them (docs/ckks-backend.md §2): the aggregator
 * when it accepts an EncryptedInput, every decryptor before it computes a PCKS share, and the
 * auditor. One definition, so the three cannot drift:
 *   - `parseInputCiphertexts`: the layout's count of fresh coefficient-form ciphertexts at the
 *     layout's level with scale 2^scaleBits (the checks the aggregator has always made);
 *   - `sumContributions`: the homomorphic sum in NTT form (SEAL's addition and NTT are
 *     deterministic, so every side gets the same bytes and the same SHA-256);
 *   - `openContribution`: a contributor's signed EncryptedInput envelope, verified against the
 *     reader's own roster;
 *   - `inputDigest`: the SHA-256 of a ciphertext as sent (compact wire form, canonical for a
 *     valid ciphertext), the key under which exact copies are refused.
 */
import { parseCiphertext } from '../../crypto/ckks/codec.ts';
import { addCiphertexts, toNttForm } from '../../crypto/ckks/encoder.ts';
import type { CkksContext } from '../../crypto/ckks/params.ts';
import { unpackCiphertext } from '../../crypto/ckks/wire.ts';
import { verifyEnvelope } from '../../crypto/transcript.ts';
import { PartyMessage, type SignedContribution } from '../../gen/blindsum/v1/blindsum.ts';
import { ownBytes, sha256Hex } from './ckks.ts';
import { CkksEntryKind } from './ckks-kinds.ts';

/** What an encrypted input must look like: `ciphertexts` ciphertexts at `level`. */
export interface InputShape {
  ciphertexts: number;
  level: number;
}

/** Hex SHA-256 of one ciphertext as sent (compact wire form). */
export function inputDigest(packed: Uint8Array): string {
  return sha256Hex(packed);
}

/**
 * Validates a party's encrypted input (compact wire form) and returns the SEAL ciphertexts.
 * Throws a RangeError naming the ciphertext and the check.
 */
export function parseInputCiphertexts(ctx: CkksContext, shape: InputShape, packed: readonly Uint8Array[], field = 'ciphertexts'): Uint8Array[] {
  if (packed.length !== shape.ciphertexts) throw new RangeError(`${field}: expected ${shape.ciphertexts} ciphertexts, got ${packed.length}`);
  const scale = 2 ** ctx.params.scaleBits;
  return packed.map((bytes, i) => {
    const ct = unpackCiphertext(ctx, ownBytes(bytes), `${field}[${i}]`);
    const d = parseCiphertext(ctx, ct, `${field}[${i}]`);
    if (d.level !== shape.level || d.polys.length !== 2 || d.isNttForm || d.scale !== scale || d.correctionFactor !== 1n) {
      throw new RangeError(`${field}[${i}]: expected a fresh coefficient-form ciphertext at level ${shape.level} with scale 2^${ctx.params.scaleBits}`);
    }
    return ct;
  });
}

/**
 * The homomorphic sums, ciphertext by ciphertext, of the contributors' validated inputs (in the
 * order given: the sorted contributor list), in NTT form — what PCKS shares are computed on.
 */
export function sumContributions(ctx: CkksContext, inputs: readonly (readonly Uint8Array[])[]): Uint8Array[] {
  if (inputs.length === 0) throw new RangeError('contributions: expected at least one');
  const count = inputs[0]!.length;
  if (inputs.some((x) => x.length !== count)) throw new RangeError('contributions: every contributor must send the same number of ciphertexts');
  return Array.from({ length: count }, (_, c) => toNttForm(ctx, addCiphertexts(ctx, inputs.map((x) => x[c]!))));
}

/** Hex SHA-256 of each sum (SEAL bytes, NTT form), as named in PCKS requests and shares. */
export function sumDigests(sums: readonly Uint8Array[]): string[] {
  return sums.map(sha256Hex);
}

/**
 * A contributor's signed EncryptedInput for `session`, verified against `publicKey` (the
 * reader's roster key for `party`). Returns the packed ciphertexts; throws a RangeError with the
 * reason otherwise.
 */
export function openContribution(publicKey: Uint8Array, party: string, session: string, c: SignedContribution): Uint8Array[] {
  if (c.partyId !== party) throw new RangeError(`contribution of ${JSON.stringify(party.slice(0, 64))} is signed as ${JSON.stringify(c.partyId.slice(0, 64))}`);
  if (c.kind !== CkksEntryKind.EncryptedInput) throw new RangeError(`contribution of ${party} is a ${JSON.stringify(c.kind.slice(0, 64))} envelope, not an encrypted input`);
  if (c.sessionId !== session) throw new RangeError(`contribution of ${party} is signed for another session`);
  if (!verifyEnvelope(publicKey, { kind: c.kind, session: c.sessionId, sender: party, body: c.body, signature: c.signature })) {
    throw new RangeError(`the signature of ${party}'s contribution does not verify against its roster key`);
  }
  let body: PartyMessage['body'];
  try {
    body = PartyMessage.decode(c.body).body;
  } catch {
    throw new RangeError(`contribution of ${party} is not a PartyMessage`);
  }
  if (body?.$case !== 'encryptedInput' || body.value.sessionId !== session) throw new RangeError(`contribution of ${party} does not hold an EncryptedInput of this session`);
  return body.value.ciphertexts.map(ownBytes);
}
