/**
 * One CKKS protocol run (a key ceremony or a query session) as seen by the aggregator: rounds
 * collected with a deadline, every accepted party envelope appended to the transcript with a
 * signed receipt for its sender, refusals and invalid messages recorded with the reason, and
 * aggregator messages logged before they are sent.
 */
import type { Envelope } from '../../../crypto/transcript.ts';
import type { AggregatorMessage } from '../../../gen/blindsum/v1/blindsum.ts';
import type { Logger } from '../../common/errors.ts';
import type { RoundDeadlines } from '../deadlines.ts';
import type { PartyGateway, PartyMessageBody } from '../gateway.ts';
import { RoundCollector } from '../rounds.ts';
import { logPartyEnvelope } from '../receipts.ts';
import type { TranscriptLog } from '../transcript-log.ts';

export interface RoundContext {
  gateway: PartyGateway;
  transcript: TranscriptLog;
  roundTimeoutMs: number;
  /** Deadlines sized from each round's work (services/aggregator/deadlines.ts); roundTimeoutMs alone when absent. */
  deadlines?: RoundDeadlines;
  log: Logger;
}

export interface RoundResult {
  /** Parties whose message was accepted, sorted. */
  accepted: string[];
  /** Why each other expected party has no accepted message (refused, invalid, timed out, gone). */
  failed: Map<string, string>;
}

/**
 * `accept` returns false for a message that does not belong to this round (ignored), 'more' for
 * an accepted chunk of an answer that continues in further messages, and throws when the message
 * is invalid (the party leaves the run with that reason).
 */
export type RoundAccept = (party: string, body: PartyMessageBody) => boolean | 'more';

export class RoundRunner {
  readonly #ctx: RoundContext;
  readonly sessionId: string;
  #round: RoundCollector | undefined;
  #envelope: Envelope | undefined;
  /** Parties let go of in the open round (neither accepted nor failed): see `release`. */
  #released = new Set<string>();
  /** Called when a party of the open round refuses, sends an invalid message or disconnects. */
  onFailure: ((party: string) => void) | undefined;

  /** How log lines name this run: a query's session by its query id, a key ceremony by its id. */
  readonly #ids: Record<string, string>;

  constructor(ctx: RoundContext, sessionId: string, what: 'query' | 'ceremony' = 'query') {
    this.#ctx = ctx;
    this.sessionId = sessionId;
    this.#ids = what === 'query' ? { queryId: sessionId } : { ceremony: sessionId };
  }

  /** Delivers a party message to the open round; false when no round expects it. */
  deliver(partyId: string, body: PartyMessageBody, envelope: Envelope): boolean {
    this.#envelope = envelope;
    try {
      return this.#round?.deliver(partyId, body) ?? false;
    } finally {
      this.#envelope = undefined;
    }
  }

  disconnected(partyId: string): void {
    const round = this.#round;
    if (!round) return;
    round.disconnected(partyId);
    this.onFailure?.(partyId);
  }

  /**
   * Stops waiting for `party` in the open round without counting it as failed (a PCKS attempt
   * that another decryptor's failure made useless): the round closes without it.
   */
  release(party: string): void {
    if (!this.#round) return;
    this.#released.add(party);
    this.#round.disconnected(party);
  }

  send(ids: readonly string[], body: NonNullable<AggregatorMessage['body']>): void {
    for (const id of ids) this.#ctx.gateway.connection(id)?.send(body);
  }

  logAggregator(kind: string, body: Uint8Array): void {
    this.#ctx.transcript.appendAggregator(kind, this.sessionId, body);
  }

  abort(ids: readonly string[], reason: string): void {
    this.send(ids, { $case: 'abort', value: { sessionId: this.sessionId, reason } });
  }

  /** Collects one round from `expected` within `roundTimeoutMs` (default: the context's); parties that are not connected fail at once. */
  async collect(stage: string, expected: readonly string[], accept: RoundAccept, roundTimeoutMs: number = this.#ctx.roundTimeoutMs): Promise<RoundResult> {
    const { gateway, log } = this.#ctx;
    const startedAt = performance.now();
    const failed = new Map<string, string>();
    const accepted: string[] = [];
    const online = expected.filter((id) => {
      if (gateway.connection(id)) return true;
      failed.set(id, 'not connected');
      return false;
    });
    const round = new RoundCollector(
      online,
      (party, body) => {
        if (body.$case === 'refusal' && body.value.sessionId === this.sessionId) {
          this.#logParty(party);
          failed.set(party, `refused: ${body.value.reason}`);
          log('info', 'party refused', { ...this.#ids, party, stage, reason: body.value.reason });
          this.onFailure?.(party);
          return 'refused';
        }
        if ((body.value as { sessionId?: string }).sessionId !== this.sessionId) return 'ignored';
        let outcome: boolean | 'more';
        try {
          outcome = accept(party, body);
          if (outcome === false) return 'ignored';
        } catch (e) {
          const why = `invalid ${stage} message: ${(e as Error).message}`;
          failed.set(party, why);
          log('warn', 'invalid protocol message; party dropped', { ...this.#ids, party, stage, error: (e as Error).message });
          this.abort([party], why);
          this.onFailure?.(party);
          return 'refused';
        }
        this.#logParty(party);
        if (outcome === 'more') return 'more';
        accepted.push(party);
        return 'accepted';
      },
      roundTimeoutMs,
    );
    this.#round = round;
    this.#released = new Set();
    await round.done;
    this.#round = undefined;
    const released = this.#released;
    for (const p of round.timedOut) {
      failed.set(p, `no ${stage} message within ${roundTimeoutMs} ms`);
      this.abort([p], `${stage}: no answer within ${roundTimeoutMs} ms`);
    }
    for (const p of online) if (!failed.has(p) && !accepted.includes(p) && !released.has(p)) failed.set(p, `disconnected during ${stage}`);
    log('info', 'round closed', { ...this.#ids, stage, ms: Math.round(performance.now() - startedAt), deadlineMs: roundTimeoutMs, accepted: accepted.length, failed: failed.size });
    return { accepted: accepted.sort(), failed };
  }

  /** Appends the envelope being delivered and sends its sender the signed receipt. */
  #logParty(party: string): void {
    logPartyEnvelope(this.#ctx.transcript, this.#ctx.gateway, party, this.#envelope);
  }
}

export function describeFailures(failed: ReadonlyMap<string, string>): string {
  return [...failed].map(([p, why]) => `${p}: ${why}`).join('; ');
}
