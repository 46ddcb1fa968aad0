/**
 * Per-analyst quotas at the aggregator (issue 13, item 11): one analyst cannot starve the others
 * by flooding submissions. Each analyst may have at most `maxRunningPerAnalyst` queries running
 * at once and submit at most `maxSubmitsPerMinute` queries per minute (a token bucket refilled
 * continuously; invalid submissions count too); the whole aggregator runs at most `maxRunning`
 * queries at once, below the parties' own cap on concurrent sessions (64), so sessions are
 * refused here with a clear status instead of failing at the parties. Over a quota:
 * RESOURCE_EXHAUSTED naming the numbers. In memory: a restart resets the buckets.
 * The analyst is the one whose signature verified (item 10), and a token is taken only for a
 * fresh, never-seen request (services/aggregator/queries.ts): a replayed request spends nobody's rate.
 */
import { BlindsumError, ErrorCode } from '../common/errors.ts';

export interface QuotaOptions {
  maxRunningPerAnalyst: number;
  maxSubmitsPerMinute: number;
  maxRunning: number;
}

export const DEFAULT_QUOTAS: QuotaOptions = { maxRunningPerAnalyst: 4, maxSubmitsPerMinute: 30, maxRunning: 32 };

/** Buckets kept for analysts with nothing running; full idle buckets are dropped beyond this. */
const MAX_TRACKED = 10_000;

interface Bucket {
  tokens: number;
  atMs: number;
  running: number;
}

export class AnalystQuotas {
  readonly options: QuotaOptions;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  #running = 0;

  constructor(options: QuotaOptions = DEFAULT_QUOTAS, now: () => number = Date.now) {
    for (const [k, v] of Object.entries(options)) {
      if (!Number.isInteger(v) || v < 1 || v > 100_000) throw new RangeError(`quota ${k}: expected an integer in [1, 100000], got ${v}`);
    }
    this.options = options;
    this.#now = now;
  }

  #bucket(analyst: string): Bucket {
    const now = this.#now();
    let b = this.#buckets.get(analyst);
    if (!b) {
      if (this.#buckets.size >= MAX_TRACKED) this.#prune(now);
      b = { tokens: this.options.maxSubmitsPerMinute, atMs: now, running: 0 };
      this.#buckets.set(analyst, b);
    }
    const rate = this.options.maxSubmitsPerMinute / 60_000;
    b.tokens = Math.min(this.options.maxSubmitsPerMinute, b.tokens + Math.max(0, now - b.atMs) * rate);
    b.atMs = now;
    return b;
  }

  #prune(now: number): void {
    const rate = this.options.maxSubmitsPerMinute / 60_000;
    for (const [k, b] of this.#buckets) {
      if (b.running === 0 && b.tokens + (now - b.atMs) * rate >= this.options.maxSubmitsPerMinute) this.#buckets.delete(k);
    }
  }

  /** Takes one submission token (call before planning the query, so invalid ones count); throws RESOURCE_EXHAUSTED. */
  take(analyst: string): void {
    const b = this.#bucket(analyst);
    if (b.tokens < 1) {
      const waitS = Math.ceil((1 - b.tokens) / (this.options.maxSubmitsPerMinute / 60));
      throw new BlindsumError(ErrorCode.ResourceExhausted, `analyst submits too fast: at most ${this.options.maxSubmitsPerMinute} queries per minute; retry in ${waitS} s`);
    }
    b.tokens -= 1;
  }

  /** Admits one running query; returns its release (call once when it finishes). Throws RESOURCE_EXHAUSTED. */
  start(analyst: string): () => void {
    const b = this.#bucket(analyst);
    const { maxRunningPerAnalyst, maxRunning } = this.options;
    if (b.running >= maxRunningPerAnalyst) {
      throw new BlindsumError(ErrorCode.ResourceExhausted, `analyst has ${b.running} queries running, at most ${maxRunningPerAnalyst} at once; wait for one to finish`);
    }
    if (this.#running >= maxRunning) {
      throw new BlindsumError(ErrorCode.ResourceExhausted, `the aggregator runs ${this.#running} queries, at most ${maxRunning} at once; retry later`);
    }
    b.running++;
    this.#running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      b.running--;
      this.#running--;
    };
  }

  /** Queries running now (all analysts). */
  get running(): number {
    return this.#running;
  }
}
