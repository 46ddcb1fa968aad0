/**
 * The gateway's challenge–response: a party proves possession of its roster key by signing, under
 * this domain, the aggregator's id, a fresh nonce and its own id (the aggregator checks it in
 * services/aggregator/gateway.ts, the party signs it in services/party/node.ts).
 */
import { lengthPrefixed } from '../../crypto/bytes.ts';

export const AUTH_DOMAIN = 'gateway/auth';

/** The bytes a party signs to prove its identity to the aggregator. */
export function authChallengeBody(aggregatorId: string, nonce: Uint8Array, partyId: string): Uint8Array {
  return lengthPrefixed(aggregatorId, nonce, partyId);
}
