/**
 * What a decryptor checks before it computes a PCKS share (docs/ckks-backend.md §2): the request
 * carries every contributor's signed EncryptedInput envelope (the chunk of its input at the
 * request's offset), not the sum. The party verifies each
 * signature against its own roster; that each is an EncryptedInput of this session from a distinct
 * participant, at least t of them, itself included with exactly the ciphertexts it sent; that each
 * names the commitment list this party saw before it revealed, and matches its commitment there
 * (ckks-commit.ts: no input chosen after another was revealed); validates
 * every ciphertext as the aggregator does; refuses any exact copy of an input seen in another
 * session (a durable table in its state directory; two equal ciphertexts within the session cannot
 * get here: the commitment list it checked before revealing holds none); and recomputes the sum
 * with the aggregator's own deterministic function. Its share is then for that sum only, whatever
 * the aggregator would have liked decrypted.
 */
import type { CkksContext } from '../../crypto/ckks/params.ts';
import type { PCKSRequest } from '../../gen/blindsum/v1/blindsum.ts';
import { sha256Hex, type CkksLayout } from '../common/ckks.ts';
import { copiedInput, type InputDigestTable } from '../common/ckks-input-digests.ts';
import { ContributionSum, inputDigest, openContribution, sumDigests } from '../common/ckks-inputs.ts';
import type { Roster } from '../common/roster.ts';
import { Refuse } from './contribution.ts';

/** What the party remembers of a session it contributed to. */
export interface PcksSessionView {
  layout: CkksLayout;
  /** The session's participants (from StartSession, checked against the roster). */
  parties: string[];
  analystKeySha256: string;
  /** SHA-256 of each ciphertext this party sent (compact wire form). */
  inputDigests: string[];
  /** The commitment list this party saw and revealed after (undefined before it revealed). */
  commitments: { sha256: string; byParty: Map<string, string[]> } | undefined;
  /**
   * Contributors one of whose chunks this party verified signed, naming the commitment list it
   * saw: their other chunks need no signature check (each ciphertext must equal the contributor's
   * signed commitment; the signature adds only "revealed after this list", shown once).
   */
  signedBy?: Set<string>;
}

export interface VerifiedSum {
  /** The first ciphertext position the request covers. */
  offset: number;
  /** The recomputed sums at positions offset, offset + 1, …: SEAL bytes, NTT form. */
  sums: Uint8Array[];
  sumSha256: string[];
}

const sortedUnique = (xs: readonly string[]): boolean => xs.every((x, i) => i === 0 || xs[i - 1]! < x);

/**
 * Verifies one PCKS request — the contributors' chunks at one offset — and recomputes the sum at
 * those positions; throws Refuse with the reason. Each position's sum is checked on its own
 * against the signed commitments, so a long input is key-switched one chunk at a time.
 */
/**
 * Verifies one PCKS request — the contributors' chunks at one offset — and recomputes the sum at
 * those positions, one contributor per step (services/common/steps.ts: the event loop turns
 * between slices); throws Refuse with the reason. Each position's sum is checked on its own
 * against the signed commitments, so a long input is key-switched one chunk at a time.
 */
export function* verifyPcksRequestSteps(
  ctx: CkksContext, roster: Roster, self: string, keyParties: readonly string[], s: PcksSessionView, seen: InputDigestTable, m: PCKSRequest,
): Generator<void, VerifiedSum, void> {
  const t = roster.threshold;
  if (sha256Hex(m.analystPublicKey) !== s.analystKeySha256) throw new Refuse('the analyst key differs from the one announced at StartSession');
  if (!sortedUnique(m.contributors) || m.contributors.some((p) => !s.parties.includes(p)) || m.contributors.length < t || !m.contributors.includes(self)) {
    throw new Refuse(`contributors must be at least t = ${t} distinct session participants, sorted, this party included`);
  }
  if (!sortedUnique(m.decryptors) || m.decryptors.some((p) => !m.contributors.includes(p) || !keyParties.includes(p)) || m.decryptors.length < t || !m.decryptors.includes(self)) {
    throw new Refuse(`decryptors must be at least t = ${t} contributors, sorted, this party included`);
  }
  const commitments = s.commitments;
  if (!commitments) throw new Refuse('this party has not revealed its input in this session (no commitment list)');
  if (m.contributions.length !== m.contributors.length) {
    throw new Refuse(`the PCKS request carries ${m.contributions.length} signed contributions for ${m.contributors.length} contributors`);
  }
  const total = s.layout.ciphertexts;
  const offset = m.offset;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= total) throw new Refuse(`offset ${offset}: the input has ${total} ciphertexts`);
  // Each contributor's chunk is validated and added as it is unpacked; any refusal discards the
  // partial sum with the request.
  let count = -1;
  let sum: ContributionSum | undefined;
  /** Contributors whose chunk passed every check here (signed, unless signedBy already held them). */
  const verified: string[] = [];
  try {
    for (let i = 0; i < m.contributors.length; i++) {
      const p = m.contributors[i]!;
      const c = m.contributions[i]!;
      let packed: Uint8Array[];
      let named: string;
      let at: number;
      try {
        ({ ciphertexts: packed, commitmentsSha256: named, offset: at } = openContribution(roster.publicKeys.get(p)!, p, m.sessionId, c, !s.signedBy?.has(p)));
        if (at !== offset) throw new RangeError(`the chunk starts at ciphertext ${at}, the request at ${offset}`);
        if (count < 0) {
          count = packed.length;
          if (count === 0 || offset + count > total) throw new RangeError(`a chunk of ${count} ciphertexts at offset ${offset} does not fit an input of ${total}`);
          sum = new ContributionSum(ctx, count);
        } else if (packed.length !== count) throw new RangeError(`the chunk holds ${packed.length} ciphertexts, the other contributors' ${count}`);
        sum!.addPacked(ctx, { ciphertexts: count, level: s.layout.level }, packed, `${p}.ciphertexts`); // validated as the aggregator does, then added
      } catch (e) {
        throw new Refuse(`contribution ${i} (${p}): ${(e as Error).message}`);
      }
      const d = packed.map(inputDigest);
      if (named !== commitments.sha256) throw new Refuse(`contribution ${i} (${p}) was revealed after another commitment list than this party saw`);
      const committed = commitments.byParty.get(p);
      if (!committed || committed.length !== total || d.some((x, j) => x !== committed[offset + j])) throw new Refuse(`contribution ${i} (${p}) is not the input ${p} committed to`);
      if (p === self && d.some((x, j) => x !== s.inputDigests[offset + j])) {
        throw new Refuse('the contribution listed under this party is not the encrypted input it sent');
      }
      const copy = copiedInput(seen, d, m.sessionId, p, offset);
      if (copy) throw new Refuse(copy);
      verified.push(p);
      yield;
    }
    const sums = sum!.sums();
    s.signedBy ??= new Set();
    for (const p of verified) s.signedBy.add(p);
    return { offset, sums, sumSha256: sumDigests(sums) };
  } finally {
    sum?.[Symbol.dispose]();
  }
}
