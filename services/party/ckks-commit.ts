/**
 * The commit round of a CKKS query, at a party (docs/ckks-backend.md §2): a party first sends only
 * the SHA-256 of its ciphertexts (InputCommit); it reveals them (EncryptedInput) only after the
 * aggregator has forwarded every commitment (InputCommitments), and names that list's SHA-256.
 * Before revealing, it checks the list: every commitment signed by its party's roster key for
 * this session, from distinct session participants (sorted), at least t, its own unchanged, no
 * two naming an equal ciphertext (a party committing to a copy of another's input). Decryptors
 * later require every contribution to name the same list and match its commitment in it, so no
 * input in a sum can have been chosen after another was revealed (the cancellation attack).
 */
import type { InputCommitments } from '../../gen/blindsum/v1/blindsum.ts';
import { commitListDigest, openCommit } from '../common/ckks-inputs.ts';
import type { Roster } from '../common/roster.ts';
import { Refuse } from './contribution.ts';

export interface CommitView {
  parties: string[];
  /** SHA-256 of each ciphertext this party committed to. */
  inputDigests: string[];
}

export interface VerifiedCommitments {
  /** Hex SHA-256 of the list, named in this party's EncryptedInput. */
  sha256: string;
  /** Each committer's committed ciphertext digests. */
  byParty: Map<string, string[]>;
}

/** Checks the forwarded commitment list before this party reveals its input; throws Refuse. */
export function verifyCommitments(roster: Roster, self: string, s: CommitView, m: InputCommitments): VerifiedCommitments {
  const t = roster.threshold;
  const ids = m.commits.map((c) => c.partyId);
  if (!ids.every((x, i) => i === 0 || ids[i - 1]! < x) || ids.some((p) => !s.parties.includes(p)) || ids.length < t || !ids.includes(self)) {
    throw new Refuse(`the commitment list must hold at least t = ${t} distinct session participants, sorted, this party included`);
  }
  const byParty = new Map<string, string[]>();
  const owner = new Map<string, string>();
  m.commits.forEach((c, i) => {
    let d: string[];
    try {
      d = openCommit(roster.publicKeys.get(c.partyId)!, c.partyId, m.sessionId, c, s.inputDigests.length);
    } catch (e) {
      throw new Refuse(`commitment ${i} (${c.partyId}): ${(e as Error).message}`);
    }
    if (c.partyId === self && d.some((x, j) => x !== s.inputDigests[j])) throw new Refuse('the commitment listed under this party is not the one it sent');
    for (const x of d) {
      const other = owner.get(x);
      if (other !== undefined) throw new Refuse(`the commitments of ${other} and ${c.partyId} name an equal ciphertext (an exact copy)`);
      owner.set(x, c.partyId);
    }
    byParty.set(c.partyId, d);
  });
  return { sha256: commitListDigest(m.commits), byParty };
}
