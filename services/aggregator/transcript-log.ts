/**
 * The aggregator's durable transcript (docs/transcripts.md): every signed envelope appended to a
 * hash chain (crypto/transcript.ts), each link written to its own SQLite file
 * (transcript.sqlite: WAL, synchronous=FULL) before the step it records takes effect, with the
 * aggregator's signature over the chain head. Also loading the aggregator's identity key (the
 * roster's "aggregator"), the extension proofs that come with receipts, and the export of a
 * slice of the chain.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { equalBytes, toHex } from '../../crypto/bytes.ts';
import { generateIdentity } from '../../crypto/identity.ts';
import { EntryKind, MAX_EXTENSION, TRANSCRIPT_VERSION, TranscriptChain, blobDigest, decodeEntry, genesisHead, resolveBlob, type ChainLink, type Entry, type Envelope, type Receipt } from '../../crypto/transcript.ts';
import { logsByDigest } from '../common/blobs.ts';
import { BLOB_DIR, BlobStore, type BlobRetention } from './blob-store.ts';
import { jsonBody, type FailedRecord } from '../common/transcript-records.ts';
import type { TranscriptFile, TranscriptSelection } from '../common/transcript-file.ts';
import { loadIdentityFile, type IdentityFile } from '../common/keys.ts';
import { ConfigError, type Roster } from '../common/roster.ts';

export const AGGREGATOR_KEY_FILE = 'aggregator.key';
export const TRANSCRIPT_DB_FILE = 'transcript.sqlite';
/** See crypto/transcript.ts; a party further behind is shown no extension and refuses the receipt. */
export { MAX_EXTENSION };

/** The last receipt a party holds: its entry index and the chain head after it. */
export interface ReceiptAnchor {
  index: number;
  head: Uint8Array;
}

/** Entry hashes from `start` up to a receipt's entry; `error` says why none could be given. */
export interface Extension {
  start: number;
  hashes: Uint8Array[];
  error?: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS transcript_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transcript (
  idx INTEGER PRIMARY KEY, session TEXT NOT NULL, kind TEXT NOT NULL, sender TEXT NOT NULL, at_ms INTEGER NOT NULL,
  entry BLOB NOT NULL, entry_hash BLOB NOT NULL, head BLOB NOT NULL, head_signature BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS transcript_session ON transcript (session);
`;

/**
 * Loads the aggregator's identity from `keyPath` (`blindsum aggregator --key`, a file from
 * `blindsum keygen`) or else DATA_DIR/aggregator.key. The roster names the aggregator: the key's
 * id and public key must be the roster's. Without the file, the error says how to make one and
 * list it (a key created here could never match the roster).
 */
export function loadAggregatorIdentity(dataDir: string, aggregatorId: string, roster: Roster, keyPath?: string): IdentityFile {
  const path = keyPath ?? join(dataDir, AGGREGATOR_KEY_FILE);
  let identity: IdentityFile;
  if (existsSync(path)) identity = loadIdentityFile(path);
  else {
    throw new ConfigError(
      `no aggregator key at ${path}: create one with \`blindsum keygen --id ${roster.aggregator.id} --out aggregator.key\`, list aggregator.key.pub.json in the roster ` +
        `(\`blindsum roster … --aggregator aggregator.key.pub.json\`) and start with --key aggregator.key (or copy it to ${join(dataDir, AGGREGATOR_KEY_FILE)})`,
    );
  }
  if (identity.id !== aggregatorId) throw new ConfigError(`aggregator key file ${path} is for "${identity.id}", but this aggregator runs as "${aggregatorId}"; pass --aggregator-id ${identity.id}`);
  const listed = roster.aggregator;
  if (listed.id !== identity.id || !equalBytes(listed.publicKey, identity.identity.publicKey)) {
    throw new ConfigError(`the roster lists aggregator "${listed.id}" with another public key than ${path} holds; fix the roster or the key file`);
  }
  return identity;
}

export interface TranscriptLogOptions {
  /** How long blobs are kept (default: forever). */
  blobRetention?: BlobRetention;
  /** Which bodies are logged by digest (default logsByDigest; the bench logs all inline to measure the log before blobs). */
  byDigest?: (kind: string, length: number) => boolean;
}

interface Row { idx: number; session: string; kind: string; sender: string; at_ms: number; entry: Uint8Array; head: Uint8Array; head_signature: Uint8Array }

export class TranscriptLog {
  readonly federation: string;
  readonly aggregatorId: string;
  readonly #db: DatabaseSync;
  readonly #chain: TranscriptChain;
  /** The bodies of entries logged by digest (DATA_DIR/transcript-blobs). */
  readonly blobs: BlobStore;
  readonly #byDigest: (kind: string, length: number) => boolean;

  constructor(path: string, federation: string, identity: IdentityFile, opts: TranscriptLogOptions = {}) {
    this.federation = federation;
    this.aggregatorId = identity.id;
    this.blobs = new BlobStore(join(dirname(path), BLOB_DIR), opts.blobRetention);
    this.#byDigest = opts.byDigest ?? logsByDigest;
    this.#db = new DatabaseSync(path);
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
    this.#db.exec(SCHEMA);
    const genesis = genesisHead(federation, identity.id);
    const meta = this.#db.prepare(`SELECT value FROM transcript_meta WHERE key = 'genesis'`).get() as { value: string } | undefined;
    if (meta && meta.value !== Buffer.from(genesis).toString('hex')) {
      throw new ConfigError(`${path} holds the transcript of another federation or aggregator; use a fresh --data-dir`);
    }
    const version = (this.#db.prepare(`SELECT value FROM transcript_meta WHERE key = 'version'`).get() as { value: string } | undefined)?.value;
    if (meta && version !== TRANSCRIPT_VERSION) {
      throw new ConfigError(`${path} holds a ${version ?? 'blindsum/transcript/v1'} transcript; this aggregator writes ${TRANSCRIPT_VERSION} (another chain hash): export and archive the old log, then use a fresh --data-dir`);
    }
    if (!meta) {
      this.#db.prepare(`INSERT INTO transcript_meta (key, value) VALUES ('genesis', ?), ('federation', ?), ('aggregator', ?), ('version', ?)`)
        .run(Buffer.from(genesis).toString('hex'), federation, identity.id, TRANSCRIPT_VERSION);
    }
    const last = this.#db.prepare(`SELECT idx, head FROM transcript ORDER BY idx DESC LIMIT 1`).get() as { idx: number; head: Uint8Array } | undefined;
    this.#chain = new TranscriptChain(identity.identity.secretKey, genesis, last ? { nextIndex: Number(last.idx) + 1, head: new Uint8Array(last.head) } : undefined);
  }

  /** Opens (or creates) the log of the aggregator that writes it. */
  static open(dataDir: string, federation: string, identity: IdentityFile, opts: TranscriptLogOptions = {}): TranscriptLog {
    const log = new TranscriptLog(join(dataDir, TRANSCRIPT_DB_FILE), federation, identity, opts);
    log.blobs.removeStrayTemporaries();
    return log;
  }

  /**
   * Opens an existing log in an aggregator's data directory to export it (also while the
   * aggregator runs). Exporting signs nothing: the aggregator's key is not needed (it may live
   * elsewhere, `blindsum aggregator --key`); a throwaway key stands in, and nothing is appended.
   */
  static openExisting(dataDir: string): TranscriptLog {
    const path = join(dataDir, TRANSCRIPT_DB_FILE);
    if (!existsSync(path)) throw new ConfigError(`no transcript in ${dataDir} (expected ${TRANSCRIPT_DB_FILE}); pass the aggregator's --data-dir`);
    const db = new DatabaseSync(path, { readOnly: true });
    let federation: string | undefined;
    let aggregator: string | undefined;
    try {
      federation = (db.prepare(`SELECT value FROM transcript_meta WHERE key = 'federation'`).get() as { value: string } | undefined)?.value;
      aggregator = (db.prepare(`SELECT value FROM transcript_meta WHERE key = 'aggregator'`).get() as { value: string } | undefined)?.value;
    } finally {
      db.close();
    }
    if (federation === undefined || aggregator === undefined) throw new ConfigError(`${path} has no transcript metadata`);
    return new TranscriptLog(path, federation, { id: aggregator, identity: generateIdentity() });
  }

  get length(): number {
    return this.#chain.nextIndex;
  }

  /**
   * Appends an envelope durably; returns the link (index, hash, head, head signature). A body of
   * a blob kind (or a large release: services/common/blobs.ts) is logged by its digest B(body): the blob is on disk (fsynced) before the entry
   * that names it is written. Returns B(body) too when it was computed.
   */
  append(envelope: Envelope, atMs: number = Date.now()): ChainLink & { bodyDigest?: Uint8Array } {
    let bodyDigest: Uint8Array | undefined;
    if (this.#byDigest(envelope.kind, envelope.body.length)) {
      bodyDigest = blobDigest(envelope.body);
      this.blobs.put(bodyDigest, envelope.body);
    }
    const link = this.#chain.prepare(envelope, atMs, bodyDigest);
    this.#db
      .prepare(`INSERT INTO transcript (idx, session, kind, sender, at_ms, entry, entry_hash, head, head_signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(link.index, envelope.session, envelope.kind, envelope.sender, atMs, link.entry, link.entryHash, link.head, link.headSignature);
    this.#chain.commit(link);
    return bodyDigest ? { ...link, bodyDigest } : link;
  }

  /** Signs an aggregator-originated entry with the aggregator's key and appends it. */
  appendAggregator(kind: string, session: string, body: Uint8Array): ChainLink {
    return this.append(this.#chain.signAsAggregator(kind, session, this.aggregatorId, body));
  }

  /** Appends a party's envelope and returns its signed receipt. */
  appendParty(envelope: Envelope): Receipt {
    const link = this.append(envelope);
    return this.#chain.receipt(envelope.sender, link, envelope, link.bodyDigest);
  }

  /**
   * The body of a logged entry: inline, or read back from the blob store (checked against the
   * digest the entry logs). Throws when the blob is gone (deleted by retention) or altered.
   */
  bodyOf(e: Entry): Uint8Array {
    if (!e.blobAbsent) return e.body;
    const blob = this.blobs.get(toHex(e.bodyDigest!));
    if (!blob || !resolveBlob(e, blob)) throw new Error(`transcript entry ${e.index} (${e.kind}): its blob is ${blob ? 'altered' : 'absent'} in ${this.blobs.dir}`);
    return e.body;
  }

  /**
   * The extension proof from the head a party holds to entry `to` (its next receipt): the entry
   * hashes anchor.index+1 … to, read from the log. Without an anchor (the party's first receipt)
   * none is needed. When the anchor's head is not this log's head at that index (another chain,
   * or a party's book from elsewhere), or the gap exceeds MAX_EXTENSION, no hashes are given and
   * `error` says why: the party then refuses the receipt.
   */
  extension(anchor: ReceiptAnchor | undefined, to: number): Extension {
    if (!anchor) return { start: to + 1, hashes: [] };
    const start = anchor.index + 1;
    if (anchor.index >= to) return { start, hashes: [], error: `the party's last receipt is for entry ${anchor.index}, not before entry ${to}` };
    if (to - anchor.index > MAX_EXTENSION) return { start, hashes: [], error: `the party's last receipt (entry ${anchor.index}) is ${to - anchor.index} entries behind; at most ${MAX_EXTENSION} entry hashes are sent` };
    const row = this.#db.prepare(`SELECT head FROM transcript WHERE idx = ?`).get(anchor.index) as { head: Uint8Array } | undefined;
    if (!row || !equalBytes(new Uint8Array(row.head), anchor.head)) return { start, hashes: [], error: `the party's head at entry ${anchor.index} is not in this log` };
    const rows = this.#db.prepare(`SELECT entry_hash FROM transcript WHERE idx >= ? AND idx <= ? ORDER BY idx`).all(start, to) as { entry_hash: Uint8Array }[];
    return { start, hashes: rows.map((r) => new Uint8Array(r.entry_hash)) };
  }

  /**
   * Queries submitted but neither released nor failed in the log (left by a crash): logs each as
   * failed, as the store marks them on restart. Returns their ids.
   */
  failInterrupted(reason: string): string[] {
    const rows = this.#db
      .prepare(
        `SELECT session FROM transcript WHERE kind = ? AND session NOT IN (SELECT session FROM transcript WHERE kind IN (?, ?)) ORDER BY idx`,
      )
      .all(EntryKind.QuerySubmitted, EntryKind.Released, EntryKind.Failed) as { session: string }[];
    for (const { session } of rows) this.appendAggregator(EntryKind.Failed, session, jsonBody({ queryId: session, error: reason } satisfies FailedRecord));
    return rows.map((r) => r.session);
  }

  /**
   * The smallest contiguous slice covering the selection (whole chain by default), with the
   * signed head before it, so the slice verifies on its own.
   */
  export(selection: TranscriptSelection = {}, now: number = Date.now()): TranscriptFile {
    let range: { lo: number | null; hi: number | null };
    if (selection.queries) {
      const marks = selection.queries.map(() => '?').join(',');
      range = this.#db.prepare(`SELECT MIN(idx) AS lo, MAX(idx) AS hi FROM transcript WHERE session IN (${marks})`).get(...selection.queries) as typeof range;
    } else if (selection.fromMs !== undefined || selection.toMs !== undefined) {
      range = this.#db.prepare(`SELECT MIN(idx) AS lo, MAX(idx) AS hi FROM transcript WHERE at_ms >= ? AND at_ms <= ?`).get(selection.fromMs ?? 0, selection.toMs ?? Number.MAX_SAFE_INTEGER) as typeof range;
    } else {
      range = { lo: 0, hi: this.length - 1 };
    }
    const lo = range.lo === null ? this.length : Number(range.lo);
    const hi = range.hi === null ? lo - 1 : Number(range.hi);
    const rows = this.#db.prepare(`SELECT * FROM transcript WHERE idx >= ? AND idx <= ? ORDER BY idx`).all(lo, hi) as unknown as Row[];
    const genesis = this.#chain.genesis;
    let previousHead = genesis;
    let previousHeadSignature = new Uint8Array(0);
    if (lo > 0) {
      const prev = this.#db.prepare(`SELECT head, head_signature FROM transcript WHERE idx = ?`).get(lo - 1) as { head: Uint8Array; head_signature: Uint8Array };
      previousHead = new Uint8Array(prev.head);
      previousHeadSignature = new Uint8Array(prev.head_signature);
    }
    return {
      federation: this.federation, aggregatorId: this.aggregatorId, genesis, from: lo, previousHead, previousHeadSignature, logLength: this.length,
      selection, exportedAtMs: now, blobs: this.blobs,
      entries: rows.map((r) => ({ entry: new Uint8Array(r.entry), head: new Uint8Array(r.head), headSignature: new Uint8Array(r.head_signature) })),
    };
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /**
   * The bodies of the envelopes `sender` sent in `session` with `kind`, in log order (e.g. the
   * chunks of a masked input the aggregator must take out of a sum again). Read one at a time.
   */
  *partyBodies(session: string, sender: string, kind: string): Generator<Uint8Array> {
    const rows = this.#db.prepare(`SELECT entry FROM transcript WHERE session = ? AND sender = ? AND kind = ? ORDER BY idx`).iterate(session, sender, kind) as Iterable<{ entry: Uint8Array }>;
    for (const r of rows) yield this.bodyOf(decodeEntry(new Uint8Array(r.entry)));
  }

  /**
   * The `nth` (from 0, in log order) envelope `sender` sent in `session` with `kind`, its body read
   * back from the blob store (e.g. a chunk of an encrypted input a PCKS request forwards).
   */
  partyEnvelope(session: string, sender: string, kind: string, nth: number): Envelope {
    const r = this.#db.prepare(`SELECT entry FROM transcript WHERE session = ? AND sender = ? AND kind = ? ORDER BY idx LIMIT 1 OFFSET ?`).get(session, sender, kind, nth) as { entry: Uint8Array } | undefined;
    if (!r) throw new Error(`internal: no ${kind} entry ${nth} of ${sender} in session ${session}`);
    const e = decodeEntry(new Uint8Array(r.entry));
    return { kind: e.kind, session: e.session, sender: e.sender, body: this.bodyOf(e), signature: e.signature };
  }

  /** Whether any entry names `session` (a query id chosen by an analyst must not reuse a ceremony's or another query's id). */
  hasSession(session: string): boolean {
    return this.#db.prepare('SELECT 1 FROM transcript WHERE session = ? LIMIT 1').get(session) !== undefined;
  }
}
