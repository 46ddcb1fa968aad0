/**
 * The party node's statistics thread: planning a query and computing the party's sums (and its DP
 * noise share; for CKKS also the values it encrypts) are O(entries) and take about a second for a
 * 10^6-entry vector, so they run in a
 * worker thread (stats-worker.ts) and the node's event loop keeps serving keepalives, receipts and
 * other sessions meanwhile. One thread per node, started with the node; requests are answered in
 * order. A thread that dies fails its pending requests with the reason and is restarted on the next
 * (services/common/worker-thread.ts, the same mechanism as the aggregator's release thread).
 */
import type { Dataset, Query } from '../../stats/index.ts';
import type { CkksValueLayout } from '../common/ckks-layout.ts';
import { RequestThread, ThreadError } from '../common/worker-thread.ts';

export type StatsRequest =
  | { op: 'plan'; sessionId: string; query: Query; parties: number; ringBits: 32 | 64; rho: number }
  | { op: 'contribute'; sessionId: string; rho: number; parties: number; threshold: number; collusion: number }
  | { op: 'contributeCkks'; sessionId: string; rho: number; parties: number; threshold: number; collusion: number }
  | { op: 'forget'; sessionId: string };

export type StatsResponse =
  | { digest: string; vectorLength: number }
  | { sums: BigInt64Array; rowsUsed: number; cohort: number }
  | { values: Float64Array; layout: CkksValueLayout; rowsUsed: number; cohort: number }
  | Record<string, never>;

/** An error raised in the statistics thread (a QueryError there keeps its name). */
export { ThreadError as StatsThreadError };

export class StatsThread {
  readonly #thread: RequestThread<StatsRequest>;

  constructor(dataset: Dataset) {
    this.#thread = new RequestThread<StatsRequest>(new URL('./stats-worker.ts', import.meta.url), { dataset }, 'the statistics thread');
  }

  /** Plans `query` for a session; returns the plan digest and the vector length. */
  plan(sessionId: string, query: Query, opts: { parties: number; ringBits: 32 | 64; rho: number }): Promise<{ digest: string; vectorLength: number }> {
    return this.#thread.call({ op: 'plan', sessionId, query, ...opts });
  }

  /** The session's exact sums plus this party's noise share (rho > 0), on the plan's grid; signed 64-bit. */
  contribute(sessionId: string, opts: { rho: number; parties: number; threshold: number; collusion: number }): Promise<{ sums: BigInt64Array; rowsUsed: number; cohort: number }> {
    return this.#thread.call({ op: 'contribute', sessionId, ...opts });
  }

  /**
   * The CKKS form of `contribute`: the session's noisy sums as CKKS values (services/common/ckks-layout.ts)
   * and their layout, computed without SEAL; the values' buffer is transferred, not copied.
   */
  contributeCkks(sessionId: string, opts: { rho: number; parties: number; threshold: number; collusion: number }): Promise<{ values: Float64Array; layout: CkksValueLayout; rowsUsed: number; cohort: number }> {
    return this.#thread.call({ op: 'contributeCkks', sessionId, ...opts });
  }

  /** Drops a session's plan (the session ended before its sums were asked for). */
  forget(sessionId: string): void {
    void this.#thread.call({ op: 'forget', sessionId }).catch(() => {});
  }

  close(): Promise<void> {
    return this.#thread.close();
  }
}
