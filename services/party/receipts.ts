/**
 * A party's receipts (docs/transcripts.md): for every envelope it sends, the aggregator answers
 * with a signed receipt (entry index, entry hash, chain head). The party checks that the receipt
 * is for an envelope it really sent and, when the roster names the aggregator, that the
 * aggregator signed it; then appends it durably (fsync) to DIR/<party>.receipts.jsonl. An auditor
 * later checks the receipts against the exported transcript: evidence against a rewritten log.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../crypto/bytes.ts';
import { envelopeDigest, genesisHead, verifyReceipt, type Envelope, type Receipt } from '../../crypto/transcript.ts';
import { serializeReceipt } from '../audit/transcript-file.ts';
import { ConfigError, type Roster } from '../common/roster.ts';

const MAX_PENDING = 4096;

export function receiptsPath(dir: string, partyId: string): string {
  return join(dir, `${partyId}.receipts.jsonl`);
}

export class ReceiptBook {
  readonly path: string;
  readonly #party: string;
  readonly #roster: Roster;
  readonly #pending = new Map<string, Envelope>();
  #fd: number | undefined;

  constructor(dir: string, partyId: string, roster: Roster) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new ConfigError(`cannot create receipts directory ${dir}: ${(e as Error).message}`);
    }
    this.path = receiptsPath(dir, partyId);
    this.#party = partyId;
    this.#roster = roster;
  }

  /** Remembers an envelope about to be sent, so its receipt can be matched. */
  expect(envelope: Envelope): void {
    if (this.#pending.size >= MAX_PENDING) this.#pending.delete(this.#pending.keys().next().value!);
    this.#pending.set(toHex(envelopeDigest(envelope)), envelope);
  }

  /** Checks and stores a receipt; returns the reason when it is refused (nothing stored). */
  accept(r: Receipt): string | undefined {
    if (r.party !== this.#party) return `receipt names party ${r.party}`;
    const key = toHex(r.envelopeDigest);
    const sent = this.#pending.get(key);
    if (!sent) return 'receipt for an envelope this party did not send (or already receipted)';
    if (sent.kind !== r.kind || sent.session !== r.session) return 'receipt kind or session differs from the envelope sent';
    const agg = this.#roster.aggregator;
    if (agg && !verifyReceipt(agg.publicKey, genesisHead(this.#roster.federation, agg.id), r)) return "receipt is not signed by the roster's aggregator key";
    this.#pending.delete(key);
    this.#fd ??= openSync(this.path, 'a', 0o600);
    writeSync(this.#fd, serializeReceipt(r) + '\n');
    fsyncSync(this.#fd);
    return undefined;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}
