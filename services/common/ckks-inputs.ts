/**
 * The CKKS encrypted inputs as every side checks them (docs/ckks-backend.md §2): the aggregator
 * when it accepts an EncryptedInput, every decryptor before it computes a PCKS share, and the
 * auditor. One definition, so the three cannot drift:
 *   - `parseInputCiphertexts`: the layout's count of fresh coefficient-form ciphertexts at the
 *     layout's level with scale 2^scaleBits (the checks the aggregator has always made);
 *   - `sumContributions` / `ContributionSum`: the homomorphic sum in NTT form (SEAL's addition
 *     and NTT are deterministic, so every side gets the same bytes and the same SHA-256);
 *   - `openContribution` / `openCommit`: a party's signed EncryptedInput (one chunk of its input)
 *     / InputCommit envelope, verified against the reader's own roster;
 *   - `commitListDigest`: the SHA-256 of the commitment list of the commit round, which every
 *     revealed input names;
 *   - `inputDigest`: the SHA-256 of a ciphertext as sent (compact wire form, canonical for a
 *     valid ciphertext), the key under which exact copies are refused.
 */
import type { CkksContext } from '../../crypto/ckks/params.ts';
import { CiphertextAccumulator } from '../../crypto/ckks/sum.ts';
import { allocCiphertext, type CiphertextMeta } from '../../crypto/ckks/codec.ts';
import { packedMeta, unpackCiphertextAs, unpackWords } from '../../crypto/ckks/wire.ts';
import { concatBytes, toHex } from '../../crypto/bytes.ts';
import { envelopeDigest, verifyEnvelope } from '../../crypto/transcript.ts';
import { PartyMessage, type SignedContribution } from '../../gen/blindsum/v1/blindsum.ts';
import { sha256 as sha256Bytes } from '../../crypto/sha256.ts';
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
 * Validates a party's encrypted input (compact wire form) and returns the SEAL ciphertexts. The
 * packed header is checked first (count, level, size, form, scale: a wrong shape costs nothing),
 * then one pass unpacks every residue and checks it below its prime. Throws a RangeError naming
 * the ciphertext and the check.
 */
export function parseInputCiphertexts(ctx: CkksContext, shape: InputShape, packed: readonly Uint8Array[], field = 'ciphertexts'): Uint8Array[] {
  return inputMetas(ctx, shape, packed, field).map((d, i) => unpackCiphertextAs(ctx, d, packed[i]!, `${field}[${i}]`));
}

/** The header checks of `parseInputCiphertexts`, for every ciphertext, before any is unpacked. */
function inputMetas(ctx: CkksContext, shape: InputShape, packed: readonly Uint8Array[], field: string, first = 0): CiphertextMeta[] {
  if (packed.length !== shape.ciphertexts) throw new RangeError(`${field}: expected ${shape.ciphertexts} ciphertexts, got ${packed.length}`);
  const scale = 2 ** ctx.params.scaleBits;
  return packed.map((bytes, i) => {
    const f = `${field}[${first + i}]`;
    const d = packedMeta(ctx, bytes, f);
    if (d.level !== shape.level || d.size !== 2 || d.isNttForm || d.scale !== scale || d.correctionFactor !== 1n) {
      throw new RangeError(`${f}: expected a fresh coefficient-form ciphertext at level ${shape.level} with scale 2^${ctx.params.scaleBits}`);
    }
    return d;
  });
}

/**
 * The homomorphic sums, ciphertext by ciphertext, of contributors' validated inputs, added one
 * contributor at a time (SEAL's evaluator in place, crypto/ckks/sum.ts), so a reader holds one
 * contributor's SEAL bytes at a time, not all of them. Modular addition does not depend on the
 * order: every side (aggregator, decryptors, auditor) gets the same bytes. Dispose it to free
 * the SEAL accumulators.
 */
export class ContributionSum implements Disposable {
  readonly #acc: CiphertextAccumulator;
  readonly #count: number;
  #contributors = 0;
  #scratch: { bytes: Uint8Array; words: Uint32Array } | undefined;

  constructor(ctx: CkksContext, count: number) {
    this.#count = count;
    this.#acc = new CiphertextAccumulator(ctx, count);
  }

  /**
   * Adds one contributor's validated ciphertexts (`parseInputCiphertexts`). If SEAL refuses one
   * midway, the sum is unusable: the error propagates and the caller must discard this object.
   */
  add(ciphertexts: readonly Uint8Array[]): void {
    if (ciphertexts.length !== this.#count) throw new RangeError('contributions: every contributor must send the same number of ciphertexts');
    ciphertexts.forEach((ct, c) => this.#acc.add(c, ct, `ciphertexts[${c}]`));
    this.#contributors++;
  }

  /**
   * Validates one contributor's packed input exactly as `parseInputCiphertexts` does (every
   * header first, then each ciphertext's residues while it is unpacked) and adds it, unpacking
   * each ciphertext into one reused buffer (SEAL's load copies it). An invalid ciphertext throws
   * after the ones before it were added: for readers that discard the whole sum on any error
   * (decryptors, audit verify), not for the aggregator, which drops one party and goes on.
   */
  addPacked(ctx: CkksContext, shape: InputShape, packed: readonly Uint8Array[], field = 'ciphertexts'): void {
    if (shape.ciphertexts !== this.#count) throw new RangeError('contributions: every contributor must send the same number of ciphertexts');
    const metas = inputMetas(ctx, shape, packed, field);
    this.#scratch ??= allocCiphertext(ctx, metas[0]!, field);
    const { bytes, words } = this.#scratch;
    metas.forEach((d, c) => {
      unpackWords(ctx, d, packed[c]!, `${field}[${c}]`, words);
      this.#acc.add(c, bytes, `${field}[${c}]`);
    });
    words.fill(0);
    this.#contributors++;
  }

  /**
   * Adds a chunk of a contributor's input that `parseChunk` validated, at its positions: for a sum
   * built chunk by chunk as inputs stream in (the aggregator). SEAL's own load and add checks
   * aside (which a ciphertext that passed `parseChunk` does not fail), nothing throws here.
   */
  addParsedChunk(chunk: readonly (readonly [number, Uint8Array])[], field = 'ciphertexts'): void {
    for (const [c, bytes] of chunk) this.#acc.add(c, bytes, `${field}[${c}]`);
    this.#contributors = Math.max(this.#contributors, 1);
  }

  /** Takes a chunk added with `addParsedChunk` out of the sum again (an input that stayed incomplete). */
  subPackedChunk(ctx: CkksContext, level: number, offset: number, packed: readonly Uint8Array[], field = 'ciphertexts'): void {
    for (const [c, bytes] of this.parseChunk(ctx, level, offset, packed, field)) this.#acc.sub(c, bytes);
  }

  /**
   * Validates a chunk (every header, then every ciphertext's residues while it is unpacked) and
   * returns its positions and SEAL bytes, adding nothing; throws a RangeError naming the ciphertext.
   */
  parseChunk(ctx: CkksContext, level: number, offset: number, packed: readonly Uint8Array[], field = 'ciphertexts'): [number, Uint8Array][] {
    if (!Number.isSafeInteger(offset) || offset < 0 || packed.length === 0 || offset + packed.length > this.#count) {
      throw new RangeError(`${field}: a chunk of ${packed.length} ciphertexts at offset ${offset} does not fit an input of ${this.#count}`);
    }
    const metas = inputMetas(ctx, { ciphertexts: packed.length, level }, packed, field, offset);
    return metas.map((d, i) => [offset + i, unpackCiphertextAs(ctx, d, packed[i]!, `${field}[${offset + i}]`)]);
  }

  /** The sums in NTT form (what PCKS shares are computed on); read once. */
  sums(): Uint8Array[] {
    if (this.#contributors === 0) throw new RangeError('contributions: expected at least one');
    return this.#acc.sums(true);
  }

  [Symbol.dispose](): void {
    this.#acc[Symbol.dispose]();
  }
}

/** The homomorphic sums of all contributors' validated inputs, in NTT form (ContributionSum). */
export function sumContributions(ctx: CkksContext, inputs: readonly (readonly Uint8Array[])[]): Uint8Array[] {
  if (inputs.length === 0) throw new RangeError('contributions: expected at least one');
  using sum = new ContributionSum(ctx, inputs[0]!.length);
  for (const x of inputs) sum.add(x);
  return sum.sums();
}

/** Hex SHA-256 of each sum (SEAL bytes, NTT form), as named in PCKS requests and shares. */
export function sumDigests(sums: readonly Uint8Array[]): string[] {
  return sums.map(sha256Hex);
}

type Body = NonNullable<PartyMessage['body']>;

/** A party's signed envelope of `kind` for `session`, verified against `publicKey`; its message. */
function openSigned(publicKey: Uint8Array, party: string, session: string, c: SignedContribution, kind: string, what: string, verify = true): Body {
  if (c.partyId !== party) throw new RangeError(`${what} of ${JSON.stringify(party.slice(0, 64))} is signed as ${JSON.stringify(c.partyId.slice(0, 64))}`);
  if (c.kind !== kind) throw new RangeError(`${what} of ${party} is a ${JSON.stringify(c.kind.slice(0, 64))} envelope, not ${kind}`);
  if (c.sessionId !== session) throw new RangeError(`${what} of ${party} is signed for another session`);
  if (verify && !verifyEnvelope(publicKey, { kind: c.kind, session: c.sessionId, sender: party, body: c.body, signature: c.signature })) {
    throw new RangeError(`the signature of ${party}'s ${what} does not verify against its roster key`);
  }
  let body: PartyMessage['body'];
  try {
    body = PartyMessage.decode(c.body).body;
  } catch {
    throw new RangeError(`${what} of ${party} is not a PartyMessage`);
  }
  if (!body || (body.value as { sessionId?: string }).sessionId !== session) throw new RangeError(`${what} of ${party} holds no message of this session`);
  return body;
}

/**
 * A contributor's signed EncryptedInput for `session`, verified against `publicKey` (the reader's
 * roster key for `party`): its packed ciphertexts and the commitment list it names. Throws a
 * RangeError with the reason otherwise. `verify = false` skips only the signature (for a reader
 * that checks every ciphertext against the sender's signed commitment and has verified one
 * signed chunk of that sender already).
 */
export function openContribution(publicKey: Uint8Array, party: string, session: string, c: SignedContribution, verify = true): { ciphertexts: Uint8Array[]; commitmentsSha256: string; offset: number } {
  const body = openSigned(publicKey, party, session, c, CkksEntryKind.EncryptedInput, 'contribution', verify);
  if (body.$case !== 'encryptedInput') throw new RangeError(`contribution of ${party} does not hold an EncryptedInput`);
  return { ciphertexts: body.value.ciphertexts.map(ownBytes), commitmentsSha256: body.value.commitmentsSha256, offset: body.value.offset };
}

/** A party's signed InputCommit for `session`: the digests it commits to (`count` hex SHA-256). */
export function openCommit(publicKey: Uint8Array, party: string, session: string, c: SignedContribution, count: number): string[] {
  const body = openSigned(publicKey, party, session, c, CkksEntryKind.InputCommit, 'commitment');
  if (body.$case !== 'inputCommit') throw new RangeError(`commitment of ${party} does not hold an InputCommit`);
  const d = body.value.ciphertextsSha256;
  if (d.length !== count || d.some((x) => !/^[0-9a-f]{64}$/.test(x))) throw new RangeError(`commitment of ${party}: expected ${count} hex SHA-256 digests`);
  return [...d];
}

/** Hex SHA-256 of a commitment list: the envelope digests of its signed commits, in order. */
export function commitListDigest(commits: readonly SignedContribution[]): string {
  return toHex(sha256Bytes(concatBytes(...commits.map((c) => envelopeDigest({ kind: c.kind, session: c.sessionId, sender: c.partyId, body: c.body })))));
}
