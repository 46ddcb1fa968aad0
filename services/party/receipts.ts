/**
 * A party's record of the transcript (docs/transcripts.md § receipts):
 *   - DIR/<party>.sent.jsonl: the digest of every envelope it sends, appended with fsync BEFORE
 *     the envelope leaves (what it said, whatever the aggregator logs);
 *   - DIR/<party>.receipts.jsonl: every receipt it accepted, appended with fsync. The last line
 *     is the head it holds (index + chain head), reloaded on restart and sent in Hello.
 * A receipt is accepted only if it is for an envelope this party sent, signed by the roster's
 * aggregator, and its head provably extends the last head held (the receipt carries the entry
 * hashes in between: h_j = SHA-256(h_{j−1} ‖ SHA-256(entry_j)) …). A head that does not extend
 * it is a fork or a rewritten log: the book then distrusts the aggregator until restart.
 * Receipts are mandatory: `missing(session)` names an envelope of the session still without one.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { equalBytes, toHex } from '../../crypto/bytes.ts';
import { HASH_LENGTH, MAX_EXTENSION, envelopeDigest, extendHead, genesisHead, verifyReceipt, type Envelope, type Receipt } from '../../crypto/transcript.ts';
import { parseReceipts, serializeReceipt } from '../common/transcript-file.ts';
import { quote } from '../common/errors.ts';
import { ConfigError, type Roster } from '../common/roster.ts';

const MAX_PENDING = 4096;
/** Bytes first read from the end of the receipts file to find the last receipt (doubled until a whole line is in). */
const TAIL_BYTES = 64 * 1024;

export function receiptsPath(dir: string, partyId: string): string {
  return join(dir, `${partyId}.receipts.jsonl`);
}

export function sentPath(dir: string, partyId: string): string {
  return join(dir, `${partyId}.sent.jsonl`);
}

/** The extension proof that comes with a receipt (not signed: checked by hashing). */
export interface ReceiptExtension {
  /** Index of the first entry hash. */
  start: number;
  hashes: Uint8Array[];
}

interface Pending {
  envelope: Envelope;
  digest: string;
}

function appendLine(fd: number, line: string): void {
  writeSync(fd, line + '\n');
  fsyncSync(fd);
}

/** The last receipt line of a receipts file, if any (read from the end; a line with a long extension proof may span many KiB). */
function lastReceipt(path: string): Receipt | undefined {
  if (!existsSync(path)) return undefined;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    for (let n = Math.min(size, TAIL_BYTES); ; n = Math.min(size, n * 2)) {
      const buf = Buffer.alloc(n);
      readSync(fd, buf, 0, n, size - n);
      const text = buf.toString('utf8').replace(/\s+$/, '');
      const cut = text.lastIndexOf('\n');
      // The last line is whole once a newline precedes it in the window, or the window is the whole file.
      if (cut >= 0 || n === size) return text === '' ? undefined : parseReceipts(text.slice(cut + 1), path).at(-1);
    }
  } finally {
    closeSync(fd);
  }
}

export class ReceiptBook {
  readonly path: string;
  readonly sentPath: string;
  readonly #party: string;
  readonly #roster: Roster;
  readonly #genesis: Uint8Array;
  /** Envelopes sent and not yet receipted, by digest. */
  readonly #pending = new Map<string, Pending>();
  #anchor: { index: number; head: Uint8Array } | undefined;
  #distrust: string | undefined;
  #fd: number | undefined;
  #sentFd: number | undefined;

  constructor(dir: string, partyId: string, roster: Roster) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new ConfigError(`cannot create receipts directory ${dir}: ${(e as Error).message}`);
    }
    this.path = receiptsPath(dir, partyId);
    this.sentPath = sentPath(dir, partyId);
    this.#party = partyId;
    this.#roster = roster;
    this.#genesis = genesisHead(roster.federation, roster.aggregator.id);
    let last: Receipt | undefined;
    try {
      last = lastReceipt(this.path);
    } catch (e) {
      throw new ConfigError(`receipts file ${this.path} is damaged (${(e as Error).message}); move it aside for the auditor and restart`);
    }
    if (last && last.party === partyId && verifyReceipt(roster.aggregator.publicKey, this.#genesis, last)) this.#anchor = { index: last.index, head: last.head };
  }

  /** The last receipt held (index and head), sent in Hello; undefined before the first one. */
  get anchor(): { index: number; head: Uint8Array } | undefined {
    return this.#anchor ? { index: this.#anchor.index, head: this.#anchor.head.slice() } : undefined;
  }

  /** Why this party no longer trusts the aggregator (a head that does not extend, or receipts withheld), if it does not. */
  get distrust(): string | undefined {
    return this.#distrust;
  }

  /**
   * Records an envelope about to be sent: its digest is appended to the sent log with fsync
   * before it leaves, and its receipt is expected.
   */
  expect(envelope: Envelope): void {
    const digest = toHex(envelopeDigest(envelope));
    this.#sentFd ??= openSync(this.sentPath, 'a', 0o600);
    appendLine(this.#sentFd, JSON.stringify({ session: envelope.session, kind: envelope.kind, envelopeDigest: digest, atMs: Date.now() }));
    // Never forget an unreceipted envelope to make room: an aggregator that withholds receipts
    // while flooding the party with sessions would otherwise erase the evidence. Too many
    // envelopes without a receipt is itself a reason to stop trusting the aggregator.
    if (this.#pending.size >= MAX_PENDING) {
      this.#distrust ??= `${MAX_PENDING} envelopes this party sent have no receipt (the aggregator withholds receipts)`;
      return;
    }
    this.#pending.set(digest, { envelope, digest });
  }

  /** The reason to refuse going on with `session`: an envelope of it still without a valid receipt. */
  missing(session: string): string | undefined {
    for (const p of this.#pending.values()) {
      if (p.envelope.session === session) return `no valid transcript receipt for this party's ${p.envelope.kind} envelope of this session (receipts are mandatory)`;
    }
    return undefined;
  }

  /** Forgets every expected receipt (the stream is gone; receipts of the old stream never come). */
  forgetAll(): void {
    this.#pending.clear();
  }

  /** Forgets what a session still expects (it ended: aborted, refused or finished). */
  forget(session: string): void {
    for (const [k, p] of this.#pending) if (p.envelope.session === session) this.#pending.delete(k);
  }

  /**
   * Checks and stores a receipt; returns the reason when it is refused (nothing stored). A head
   * that does not extend the last one held also sets `distrust`.
   */
  accept(r: Receipt, extension: ReceiptExtension = { start: r.index + 1, hashes: [] }): string | undefined {
    if (this.#distrust) return `the aggregator is no longer trusted: ${this.#distrust}`;
    if (r.party !== this.#party) return `receipt names party ${quote(r.party)}`;
    const key = toHex(r.envelopeDigest);
    const sent = this.#pending.get(key);
    if (!sent) return 'receipt for an envelope this party did not send (or already receipted)';
    if (sent.envelope.kind !== r.kind || sent.envelope.session !== r.session) return 'receipt kind or session differs from the envelope sent';
    if (!verifyReceipt(this.#roster.aggregator.publicKey, this.#genesis, r)) return "receipt is not signed by the roster's aggregator key";
    const anchor = this.#anchor;
    if (anchor) {
      const why = this.#extends(anchor, r, extension);
      if (why) {
        this.#distrust = `receipt for entry ${r.index}: ${why} (a forked or rewritten transcript)`;
        return this.#distrust;
      }
    }
    this.#fd ??= openSync(this.path, 'a', 0o600);
    appendLine(this.#fd, serializeReceipt(r, extension.hashes.length > 0 ? extension : undefined));
    this.#pending.delete(key);
    this.#anchor = { index: r.index, head: r.head.slice() };
    return undefined;
  }

  #extends(anchor: { index: number; head: Uint8Array }, r: Receipt, ext: ReceiptExtension): string | undefined {
    const held = `the head this party holds at entry ${anchor.index}`;
    if (r.index <= anchor.index) return `its index is not after ${held}`;
    const needed = r.index - anchor.index;
    if (needed > MAX_EXTENSION) return `it is ${needed} entries after ${held}, more than the ${MAX_EXTENSION} an extension proof may span: it cannot show that its head extends it`;
    if (ext.start !== anchor.index + 1 || ext.hashes.length !== needed) {
      return `the aggregator sent ${ext.hashes.length} entry hashes from entry ${ext.start}, not the ${needed} after ${held}: it cannot show that its head extends it`;
    }
    if (!ext.hashes.every((h) => h.length === HASH_LENGTH) || !equalBytes(ext.hashes.at(-1)!, r.entryHash)) return 'its extension proof is malformed';
    if (!equalBytes(extendHead(anchor.head, ext.hashes), r.head)) return `its head does not extend ${held}`;
    return undefined;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    if (this.#sentFd !== undefined) closeSync(this.#sentFd);
    this.#fd = undefined;
    this.#sentFd = undefined;
  }
}
