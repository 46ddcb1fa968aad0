/**
 * The parties' sent logs (`<party>.sent.jsonl`, services/party/receipts.ts): the digest of every
 * envelope a party sent, recorded before sending. The auditor compares them with the exported
 * transcript: an envelope a party sent in a session that the export covers completely, but that
 * is not in the transcript, was either rejected by the aggregator (late, after the round closed)
 * or withheld from the log. The two cannot be told apart from the log alone, so these are
 * reported for the auditor to examine, never a verification failure.
 */
import { toHex } from '../../crypto/bytes.ts';
import { TranscriptFormatError, decodeEntry, envelopeDigest } from '../../crypto/transcript.ts';
import type { TranscriptFile } from '../common/transcript-file.ts';

export interface SentRecord {
  party: string;
  session: string;
  kind: string;
  envelopeDigest: string;
}

/** Parses a party's sent log (JSON lines); the party id comes from the file name. */
export function parseSentLog(text: string, party: string, source: string): SentRecord[] {
  const out: SentRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new TranscriptFormatError(`${source}:${i + 1}: not JSON`);
    }
    const { session, kind, envelopeDigest: digest } = o;
    if (typeof session !== 'string' || typeof kind !== 'string' || typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest)) {
      throw new TranscriptFormatError(`${source}:${i + 1}: expected {session, kind, envelopeDigest}`);
    }
    out.push({ party, session, kind, envelopeDigest: digest });
  });
  return out;
}

/** Sent envelopes of `sessions` (complete in the export) that are not in the exported entries. */
export function unloggedSends(file: TranscriptFile, sent: readonly SentRecord[], sessions: ReadonlySet<string>): SentRecord[] {
  const logged = new Set<string>();
  for (const link of file.entries) {
    try {
      logged.add(toHex(envelopeDigest(decodeEntry(link.entry))));
    } catch {
      /* an entry that does not decode is reported by the verifier */
    }
  }
  return sent.filter((s) => sessions.has(s.session) && !logged.has(s.envelopeDigest));
}
