/**
 * Fork detection over the parties' receipt books (docs/transcripts.md § forks). An aggregator
 * that shows different chains to different parties (or rewrites its log between two receipts to
 * one party) signs two heads that cannot lie on one chain. With h_k = SHA-256(h_{k−1} ‖
 * SHA-256(entry_k)), every receipt gives (index, entry hash, head) and the extension proof kept
 * with it gives the entry hashes since the party's previous receipt; the exported transcript
 * gives heads and entry hashes too. This module collects all of them and reports the first index
 * at which two sources disagree, or at which a head does not follow from an earlier known head
 * and the known entry hashes in between. Pure: no I/O.
 */
import { equalBytes } from '../../crypto/bytes.ts';
import { chainStep, extendHead } from '../../crypto/transcript.ts';
import type { HeldReceipt } from '../common/transcript-file.ts';

/** A head (and, for an entry, its hash) known from the exported transcript. */
export interface KnownLink {
  index: number;
  entryHash?: Uint8Array;
  head: Uint8Array;
}

export interface ForkFinding {
  index: number;
  reason: string;
}

interface Seen {
  value: Uint8Array;
  who: string;
}

/**
 * Checks the receipts (signatures already verified by the caller) against each other, against
 * the genesis head, and against `links` (the exported entries). Returns the first disagreement.
 */
export function findFork(genesis: Uint8Array, receipts: readonly HeldReceipt[], links: readonly KnownLink[], exportName = 'the exported transcript'): ForkFinding | undefined {
  const heads = new Map<number, Seen>([[-1, { value: genesis, who: 'the genesis head' }]]);
  const hashes = new Map<number, Seen>();
  let found: ForkFinding | undefined;
  const put = (map: Map<number, Seen>, index: number, value: Uint8Array, who: string, what: string): void => {
    if (found) return;
    const had = map.get(index);
    if (!had) map.set(index, { value, who });
    else if (!equalBytes(had.value, value)) {
      found = { index, reason: `fork: ${had.who} and ${who} name entry ${index} with different ${what}: the aggregator signed two different chains` };
    }
  };
  for (const l of links) {
    put(heads, l.index, l.head, exportName, 'chain heads');
    if (l.entryHash) put(hashes, l.index, l.entryHash, exportName, 'entry hashes');
  }
  // Each book in its file order: an extension must lead from the book's previous head to the receipt's.
  const last = new Map<string, HeldReceipt>();
  for (const r of receipts) {
    const who = `the receipt of ${r.party} for entry ${r.index}`;
    put(heads, r.index, r.head, who, 'chain heads');
    put(hashes, r.index, r.entryHash, who, 'entry hashes');
    const prev = last.get(r.party);
    if (r.extension && !found) {
      const { start, hashes: ext } = r.extension;
      ext.forEach((h, k) => put(hashes, start + k, h, `the extension proof in ${who}`, 'entry hashes'));
      // (A receipt at or before the book's previous one is a copy of the book given twice: the maps above check it.)
      if (!found && prev && r.index > prev.index && (start !== prev.index + 1 || start + ext.length - 1 !== r.index || !equalBytes(extendHead(prev.head, ext), r.head))) {
        found = { index: r.index, reason: `${r.party}'s receipt book is inconsistent at entry ${r.index}: its extension proof does not lead from the previous receipt's head (entry ${prev.index}) to this head (book altered)` };
      }
    }
    if (found) return found;
    if (!prev || r.index > prev.index) last.set(r.party, r);
  }
  if (found) return found;
  // Walk the indices: from each known head, the known entry hashes must lead to the next known head.
  const indices = [...new Set([...heads.keys(), ...hashes.keys()])].sort((a, b) => a - b);
  let running: { index: number; head: Uint8Array; who: string } | undefined;
  for (const i of indices) {
    const eh = hashes.get(i);
    const h = heads.get(i);
    if (running && eh && running.index === i - 1) {
      const next = chainStep(running.head, eh.value);
      if (h && !equalBytes(next, h.value)) {
        return { index: i, reason: `fork: the head ${h.who} names for entry ${i} does not follow from the head ${running.who} and the entry hashes in between: the two cannot be on one chain` };
      }
      running = { index: i, head: next, who: running.who };
    } else {
      running = undefined;
    }
    if (h) running = { index: i, head: h.value, who: h.who };
  }
  return undefined;
}
