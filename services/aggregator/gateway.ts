/**
 * PartyGateway: parties dial out and keep one bidirectional stream open. A party is admitted
 * only if it is on the roster, uses the federation's schema, and proves possession of its
 * Ed25519 identity key by signing a fresh challenge. Admitted streams are handed to the session
 * router; nothing a party sends can crash the aggregator (every handler is guarded).
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { verifyDomain } from '../../crypto/identity.ts';
import { verifyEnvelope, type Envelope } from '../../crypto/transcript.ts';
import { PartyMessage, type AggregatorMessage, type SignedEnvelope } from '../../gen/blindsum/v1/blindsum.ts';
import { kindOfPartyMessage } from '../common/transcript-records.ts';
import { AUTH_DOMAIN, authChallengeBody } from '../common/auth.ts';
import { quote, type Logger } from '../common/errors.ts';
import { PARTY_ID, type Roster } from '../common/roster.ts';
import type { ReceiptAnchor } from './transcript-log.ts';

const HELLO_TIMEOUT_MS = 10_000;
/** Bounds of the unauthenticated Hello, checked before anything else reads it. */
export const MAX_SCHEMA_DIGEST = 128;
export const MAX_SOFTWARE_VERSION = 128;


export type PartyMessageBody = NonNullable<PartyMessage['body']>;

/**
 * Opens a party's SignedEnvelope: the signature must verify against the party's roster key, and
 * the serialized message inside must be of the envelope's kind and name its session. Returns the
 * message and the envelope as it will be logged, or the reason it is refused.
 */
export function openEnvelope(publicKey: Uint8Array, partyId: string, env: SignedEnvelope): { body: PartyMessageBody; envelope: Envelope } | string {
  const envelope: Envelope = { kind: env.kind, session: env.sessionId, sender: partyId, body: env.body, signature: env.signature };
  if (!verifyEnvelope(publicKey, envelope)) return `envelope signature of ${partyId} does not verify (kind ${quote(env.kind)})`;
  let body: PartyMessageBody | undefined;
  try {
    body = PartyMessage.decode(env.body).body;
  } catch {
    return 'envelope body is not a PartyMessage';
  }
  if (!body || kindOfPartyMessage(body.$case) !== env.kind) return `envelope of kind ${quote(env.kind)} holds a ${body?.$case ?? 'empty'} message`;
  if ((body.value as { sessionId?: string }).sessionId !== env.sessionId) return 'envelope session differs from the session of the message inside';
  return { body, envelope };
}

export interface GatewayListener {
  /** A round message from an admitted party, with the signed envelope it came in. */
  onMessage(partyId: string, body: PartyMessageBody, envelope: Envelope): void;
  onDisconnect(partyId: string): void;
}

export class PartyConnection {
  readonly partyId: string;
  readonly connectedAtMs: number;
  /**
   * The last receipt this party holds, as far as the aggregator knows: from its Hello, then the
   * last receipt sent on this stream. The next receipt proves its head extends this one.
   */
  receiptAnchor: ReceiptAnchor | undefined;
  readonly #call: ServerDuplexStream<PartyMessage, AggregatorMessage>;
  #open = true;

  /** The transport peer (gRPC getPeer(): "127.0.0.1:40212", "[::1]:40212", …). */
  readonly peer: string;

  constructor(partyId: string, call: ServerDuplexStream<PartyMessage, AggregatorMessage>, peer: string = '') {
    this.partyId = partyId;
    this.#call = call;
    this.peer = peer;
    this.connectedAtMs = Date.now();
  }

  /** The party runs on this host (loopback peer): it shares the aggregator's cores (services/aggregator/deadlines.ts). */
  get onLoopback(): boolean {
    return /^(ipv4:)?127\.|^(ipv6:)?\[?::1\]?|^(ipv6:)?\[::ffff:127\.|^localhost|^unix:/.test(this.peer);
  }

  get open(): boolean {
    return this.#open;
  }

  send(body: NonNullable<AggregatorMessage['body']>): boolean {
    if (!this.#open) return false;
    try {
      this.#call.write({ body });
      return true;
    } catch {
      this.#open = false;
      return false;
    }
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      this.#call.end();
    } catch {
      /* already gone */
    }
  }

  markClosed(): void {
    this.#open = false;
  }
}

export interface GatewayOptions {
  roster: Roster;
  schemaDigest: string;
  aggregatorId: string;
  log: Logger;
  /**
   * Pin parties at the transport (--tls-pin-parties, with --tls-client-ca): a party is admitted
   * only when its TLS client certificate names it (subject CN = its party id), so a party's
   * Ed25519 key alone, or another member's certificate, does not get a connection as that party.
   */
  pinPartyCertificates?: boolean;
}

/** The subject CN of the client certificate of a call (undefined without TLS or a certificate). */
export function peerCommonName(call: { getAuthContext?(): { sslPeerCertificate?: { subject?: Record<string, string | string[] | undefined> } } | null }): string | undefined {
  const cn = call.getAuthContext?.()?.sslPeerCertificate?.subject?.['CN'];
  return Array.isArray(cn) ? (cn.length === 1 ? cn[0] : undefined) : cn;
}

export class PartyGateway {
  readonly #opts: GatewayOptions;
  readonly #connections = new Map<string, PartyConnection>();
  readonly #lastSeen = new Map<string, number>();
  #listener: GatewayListener | undefined;

  constructor(opts: GatewayOptions) {
    this.#opts = opts;
  }

  /** The aggregator's logger (for the receipt path, services/aggregator/receipts.ts). */
  get log(): Logger {
    return this.#opts.log;
  }

  setListener(listener: GatewayListener): void {
    this.#listener = listener;
  }

  connection(partyId: string): PartyConnection | undefined {
    const c = this.#connections.get(partyId);
    return c?.open ? c : undefined;
  }

  connectedIds(): string[] {
    return [...this.#connections.values()].filter((c) => c.open).map((c) => c.partyId).sort();
  }

  /** How many connected parties run on this host (loopback peers). */
  loopbackCount(): number {
    return [...this.#connections.values()].filter((c) => c.open && c.onLoopback).length;
  }

  lastSeenMs(partyId: string): number {
    return this.#lastSeen.get(partyId) ?? 0;
  }

  closeAll(): void {
    for (const c of this.#connections.values()) c.close();
    this.#connections.clear();
  }

  /** gRPC handler for PartyGatewayService.Connect. */
  readonly connect = (call: ServerDuplexStream<PartyMessage, AggregatorMessage>): void => {
    const { roster, schemaDigest, aggregatorId, log } = this.#opts;
    let state: 'hello' | 'auth' | 'admitted' | 'closed' = 'hello';
    let claimedId = '';
    let nonce = new Uint8Array(0);
    let anchor: ReceiptAnchor | undefined;
    let connection: PartyConnection | undefined;
    const peer = call.getPeer();

    const reject = (reason: string): void => {
      log('warn', 'party rejected', { peer, party: claimedId ? quote(claimedId) : undefined, reason });
      state = 'closed';
      try {
        call.write({ body: { $case: 'rejected', value: { reason } } });
        call.end();
      } catch {
        /* stream already gone */
      }
    };
    const helloTimer = setTimeout(() => {
      if (state === 'hello' || state === 'auth') reject('no Hello/AuthResponse within 10 s');
    }, HELLO_TIMEOUT_MS);
    helloTimer.unref();

    call.on('data', (msg: PartyMessage) => {
      try {
        const body = msg.body;
        if (body === undefined) throw new Error('empty message');
        if (state === 'hello') {
          if (body.$case !== 'hello') return reject(`expected Hello first, got ${body.$case}`);
          const hello = body.value;
          // Unauthenticated input: bounded before use, quoted at most by a short prefix.
          if (!PARTY_ID.test(hello.partyId)) return reject(`party id ${quote(hello.partyId)} is not a valid party id (lowercase letters, digits, . _ -, at most 64 characters)`);
          if (hello.schemaDigest.length > MAX_SCHEMA_DIGEST || hello.softwareVersion.length > MAX_SOFTWARE_VERSION) {
            return reject(`schema digest or software version longer than ${MAX_SCHEMA_DIGEST} characters`);
          }
          if (hello.lastReceiptHead.length !== 0 && hello.lastReceiptHead.length !== 32) return reject('last receipt head must be empty or 32 bytes');
          if (hello.lastReceiptIndex > BigInt(Number.MAX_SAFE_INTEGER)) return reject('last receipt index out of range');
          claimedId = hello.partyId;
          if (!roster.publicKeys.has(claimedId)) return reject(`party "${claimedId}" is not on the roster of federation "${roster.federation}"`);
          if (this.#opts.pinPartyCertificates) {
            const cn = peerCommonName(call);
            if (cn !== claimedId) {
              return reject(`party "${claimedId}" presented a TLS client certificate for ${cn === undefined ? 'no name' : quote(cn)}: this aggregator pins parties (--tls-pin-parties), so a party's certificate must name it (CN ${claimedId}; blindsum certs --client ${claimedId})`);
            }
          }
          if (hello.schemaDigest !== schemaDigest) {
            return reject(`schema mismatch: party uses schema ${quote(hello.schemaDigest, 12)}, the federation uses ${schemaDigest.slice(0, 12)}…`);
          }
          anchor = hello.lastReceiptHead.length === 32 ? { index: Number(hello.lastReceiptIndex), head: hello.lastReceiptHead.slice() } : undefined;
          nonce = new Uint8Array(randomBytes(32));
          state = 'auth';
          call.write({ body: { $case: 'challenge', value: { nonce, aggregatorId } } });
          return;
        }
        if (state === 'auth') {
          if (body.$case !== 'auth') return reject(`expected AuthResponse, got ${body.$case}`);
          const pk = roster.publicKeys.get(claimedId)!;
          if (!verifyDomain(pk, AUTH_DOMAIN, authChallengeBody(aggregatorId, nonce, claimedId), body.value.signature)) {
            return reject(`party "${claimedId}" failed to prove its identity (bad signature over the challenge)`);
          }
          clearTimeout(helloTimer);
          state = 'admitted';
          const previous = this.#connections.get(claimedId);
          if (previous) {
            previous.close();
            this.#listener?.onDisconnect(claimedId);
          }
          connection = new PartyConnection(claimedId, call, peer);
          connection.receiptAnchor = anchor;
          this.#connections.set(claimedId, connection);
          this.#lastSeen.set(claimedId, Date.now());
          connection.send({ $case: 'welcome', value: { partyId: claimedId, threshold: roster.threshold } });
          log('info', 'party connected', { party: claimedId, peer });
          return;
        }
        if (state === 'admitted' && connection) {
          this.#lastSeen.set(claimedId, Date.now());
          if (body.$case !== 'envelope') {
            log('warn', 'unsigned round message ignored (parties send every round message in a SignedEnvelope)', { party: claimedId, type: body.$case });
            return;
          }
          const opened = openEnvelope(roster.publicKeys.get(claimedId)!, claimedId, body.value);
          if (typeof opened === 'string') {
            log('warn', 'envelope refused', { party: claimedId, reason: opened });
            return;
          }
          this.#listener?.onMessage(claimedId, opened.body, opened.envelope);
        }
      } catch (e) {
        log('warn', 'bad message from party', { party: claimedId ? quote(claimedId) : undefined, peer, error: quote((e as Error).message, 200) });
      }
    });

    const gone = (why: string): void => {
      clearTimeout(helloTimer);
      if (state === 'closed') return;
      state = 'closed';
      if (connection) {
        connection.markClosed();
        if (this.#connections.get(claimedId) === connection) {
          this.#connections.delete(claimedId);
          log('info', 'party disconnected', { party: claimedId, why });
          this.#listener?.onDisconnect(claimedId);
        }
      }
    };
    call.on('end', () => {
      gone('stream ended');
      try {
        call.end();
      } catch {
        /* ignore */
      }
    });
    call.on('error', (e: Error) => gone(e.message));
    call.on('cancelled' as 'close', () => gone('cancelled'));
  };
}
