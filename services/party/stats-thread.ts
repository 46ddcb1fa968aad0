/**
 * The party node's statistics thread: planning a query and computing the party's sums (and its DP
 * noise share; for CKKS also the values it encrypts) are O(entries) and take about a second for a
 * 10^6-entry vector, so they run in a
 * worker thread (stats-worker.ts) and the node's event loop keeps serving keepalives, receipts and
 * other sessions meanwhile. One thread per node, started with the node; requests are answered in
 * order. A thread that dies fails its pending requests with the reason and is restarted on the next.
 */
import { Worker } from 'node:worker_threads';
import type { Dataset, Query } from '../../stats/index.ts';
import type { CkksValueLayout } from '../common/ckks-layout.ts';

export type StatsRequest =
  | { id: number; op: 'plan'; sessionId: string; query: Query; parties: number; ringBits: 32 | 64; rho: number }
  | { id: number; op: 'contribute'; sessionId: string; rho: number; parties: number; threshold: number; collusion: number }
  | { id: number; op: 'contributeCkks'; sessionId: string; rho: number; parties: number; threshold: number; collusion: number }
  | { id: number; op: 'forget'; sessionId: string };

export type StatsResponse =
  | { id: number; digest: string; vectorLength: number }
  | { id: number; sums: BigInt64Array; rowsUsed: number; cohort: number }
  | { id: number; values: Float64Array; layout: CkksValueLayout; rowsUsed: number; cohort: number }
  | { id: number }
  | { id: number; error: string; errorName: string };

type Without<T> = T extends unknown ? Omit<T, 'id'> : never;

/** An error raised in the statistics thread (a QueryError there keeps its name). */
export class StatsThreadError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export class StatsThread {
  readonly #dataset: Dataset;
  #worker: Worker | undefined;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (r: StatsResponse) => void; reject: (e: Error) => void }>();
  #closed = false;

  constructor(dataset: Dataset) {
    this.#dataset = dataset;
    this.#start();
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL('./stats-worker.ts', import.meta.url), { workerData: { dataset: this.#dataset } });
    worker.unref();
    worker.on('message', (res: StatsResponse) => {
      const p = this.#pending.get(res.id);
      if (!p) return;
      this.#pending.delete(res.id);
      if ('error' in res) p.reject(new StatsThreadError(res.errorName, res.error));
      else p.resolve(res);
    });
    const fail = (why: string): void => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      for (const p of this.#pending.values()) p.reject(new Error(`the statistics thread stopped: ${why}`));
      this.#pending.clear();
    };
    worker.on('error', (e) => fail(e.message));
    worker.on('exit', (code) => fail(`exit code ${code}`));
    this.#worker = worker;
    return worker;
  }

  #call<T extends StatsResponse>(req: Without<StatsRequest>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the statistics thread is closed'));
    const worker = this.#start();
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (r: StatsResponse) => void, reject });
      worker.ref(); // a request in flight keeps the process alive
      worker.postMessage({ ...req, id });
    }).finally(() => {
      if (this.#pending.size === 0) this.#worker?.unref();
    });
  }

  /** Plans `query` for a session; returns the plan digest and the vector length. */
  plan(sessionId: string, query: Query, opts: { parties: number; ringBits: 32 | 64; rho: number }): Promise<{ digest: string; vectorLength: number }> {
    return this.#call<{ id: number; digest: string; vectorLength: number }>({ op: 'plan', sessionId, query, ...opts });
  }

  /** The session's exact sums plus this party's noise share (rho > 0), on the plan's grid; signed 64-bit. */
  contribute(sessionId: string, opts: { rho: number; parties: number; threshold: number; collusion: number }): Promise<{ sums: BigInt64Array; rowsUsed: number; cohort: number }> {
    return this.#call<{ id: number; sums: BigInt64Array; rowsUsed: number; cohort: number }>({ op: 'contribute', sessionId, ...opts });
  }

  /**
   * The CKKS form of `contribute`: the session's noisy sums as CKKS values (services/common/ckks-layout.ts)
   * and their layout, computed without SEAL; the values' buffer is transferred, not copied.
   */
  contributeCkks(sessionId: string, opts: { rho: number; parties: number; threshold: number; collusion: number }): Promise<{ values: Float64Array; layout: CkksValueLayout; rowsUsed: number; cohort: number }> {
    return this.#call<{ id: number; values: Float64Array; layout: CkksValueLayout; rowsUsed: number; cohort: number }>({ op: 'contributeCkks', sessionId, ...opts });
  }

  /** Drops a session's plan (the session ended before its sums were asked for). */
  forget(sessionId: string): void {
    if (this.#worker) void this.#call({ op: 'forget', sessionId }).catch(() => {});
  }

  async close(): Promise<void> {
    this.#closed = true;
    const w = this.#worker;
    this.#worker = undefined;
    for (const p of this.#pending.values()) p.reject(new Error('the statistics thread is closed'));
    this.#pending.clear();
    if (w) await w.terminate();
  }
}
