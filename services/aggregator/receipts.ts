/** Logging a party's envelope in the transcript and answering with the signed receipt (both backends). */
import type { Envelope } from '../../crypto/transcript.ts';
import type { PartyGateway } from './gateway.ts';
import type { TranscriptLog } from './transcript-log.ts';

/** Appends the envelope being delivered by `party` and sends the party its signed receipt. */
export function logPartyEnvelope(transcript: TranscriptLog, gateway: PartyGateway, party: string, envelope: Envelope | undefined): void {
  if (!envelope || envelope.sender !== party) throw new Error('internal: no envelope for the delivered message');
  const r = transcript.appendParty(envelope);
  gateway.connection(party)?.send({
    $case: 'receipt',
    value: { sessionId: r.session, kind: r.kind, index: BigInt(r.index), entryHash: r.entryHash, head: r.head, envelopeDigest: r.envelopeDigest, signature: r.signature },
  });
}
