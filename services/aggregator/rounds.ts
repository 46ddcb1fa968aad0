/**
 * Collecting one protocol round: wait until every expected party has answered, refused or
 * disconnected, or the round deadline passes. Late or unexpected messages are ignored (and
 * logged by the caller); a party whose message is invalid is dropped from the session.
 */
import type { PartyMessageBody } from './gateway.ts';

/** 'more': accepted, and the party's answer continues in further messages (a chunked input). */
export type RoundHandler = (partyId: string, body: PartyMessageBody) => 'accepted' | 'more' | 'refused' | 'ignored';

export class RoundCollector {
  readonly #pending: Set<string>;
  readonly #handler: RoundHandler;
  readonly #done: Promise<void>;
  #resolve!: () => void;
  #timer: NodeJS.Timeout | undefined;
  readonly timedOut = new Set<string>();

  constructor(expected: Iterable<string>, handler: RoundHandler, timeoutMs: number) {
    this.#pending = new Set(expected);
    this.#handler = handler;
    this.#done = new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
    if (this.#pending.size === 0) this.#finish();
    else {
      this.#timer = setTimeout(() => {
        for (const p of this.#pending) this.timedOut.add(p);
        this.#pending.clear();
        this.#finish();
      }, timeoutMs);
    }
  }

  get done(): Promise<void> {
    return this.#done;
  }

  /** Returns false when the message was not expected in this round. */
  deliver(partyId: string, body: PartyMessageBody): boolean {
    if (!this.#pending.has(partyId)) return false;
    const outcome = this.#handler(partyId, body);
    if (outcome === 'ignored') return false;
    if (outcome === 'more') return true;
    this.#pending.delete(partyId);
    if (this.#pending.size === 0) this.#finish();
    return true;
  }

  disconnected(partyId: string): void {
    if (this.#pending.delete(partyId) && this.#pending.size === 0) this.#finish();
  }

  #finish(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#resolve();
  }
}
