/** Logging a party's envelope in the transcript and answering with the signed receipt (both backends). */
import type { Envelope } from '../../crypto/transcript.ts';
import type { PartyGateway } from './gateway.ts';
import type { TranscriptLog } from './transcript-log.ts';

/** Appends the envelope being delivered by `party` and sends the party its signed receipt. */
export function logPartyEnvelope(transcript: TranscriptLog, gateway: PartyGateway, party: string, envelope: Envelope | undefined): void {
  if (!envelope || envelope.sender !== party) throw new Error('internal: no envelope for the delivered message');
  const r = transcript.appendParty(envelope);
  const connection = gateway.connection(party);
  if (!connection) return;
  // The proof that this head extends the last one the party holds (docs/transcripts.md § receipts).
  const ext = transcript.extension(connection.receiptAnchor, r.index);
  if (ext.error) gateway.log('error', 'cannot prove to the party that the transcript extends its last receipt; it will refuse this receipt', { party, index: r.index, reason: ext.error });
  connection.receiptAnchor = { index: r.index, head: r.head };
  connection.send({
    $case: 'receipt',
    value: {
      sessionId: r.session, kind: r.kind, index: BigInt(r.index), entryHash: r.entryHash, head: r.head, envelopeDigest: r.envelopeDigest, signature: r.signature,
      extensionStart: BigInt(ext.start), extension: ext.hashes,
    },
  });
}
