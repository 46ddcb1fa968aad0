/**
 * The aggregator's release thread: the O(entries) work of a secure-aggregation query — planning
 * it at submission, the release (decoding the unmasked sum, the range check, post-processing, the
 * JSON of the result, of the exact sums and of the Released record) and GetResult's reading and
 * protobuf encoding of a stored result — takes 0.1–0.6 s per step at 10^6 entries, so it runs in
 * a worker thread (release-worker.ts) while the event loop keeps serving party streams,
 * keepalives, round deadlines and other analysts. The event loop keeps every check and every
 * durable write (the query row, the budget, the transcript entries), in the same order as before;
 * the thread computes, and reads the database only for GetResult, on its own read-only connection.
 * CKKS queries are planned on the event loop: their plan is handed to the CKKS backend, whose
 * SEAL objects live there.
 */
import type { Schema, Query } from '../../stats/index.ts';
import { RequestThread } from '../common/worker-thread.ts';
import type { PreparedJson } from './store.ts';

/** What fixes a plan: the query and the federation's parameters (the thread plans it again from these if it lost it). */
export interface PlanArgs {
  query: Query;
  parties: number;
  ringBits: 32 | 64;
  /** zCDP ρ (0: exact); with threshold and collusion it fixes the noise plan. */
  rho: number;
  threshold: number;
  collusion: number;
}

export interface Planned {
  digest: string;
  vectorLength: number;
  ringBits: 32 | 64;
  /** The thread's time to plan, ms (each party plans it too: part of the AdvertiseKeys deadline). */
  planMs: number;
}

/** A release computed by the thread, ready to be logged and stored as it is. */
export interface Release {
  resultJson: string;
  postError: string;
  /** The Released transcript record (jsonBody), byte for byte what the event loop used to build. */
  releasedBody: Uint8Array;
  json: PreparedJson;
  /** DP queries: ρ spent and the noise's effect on the result. */
  rhoSpent?: number;
  uncertaintyJson?: string;
}

export type ReleaseRequest =
  | { op: 'plan'; key: string; args: PlanArgs }
  | { op: 'release'; key: string; args: PlanArgs; digest: string; queryId: string; sum: Uint32Array; contributors: string[]; minCohort: number }
  | { op: 'getResult'; queryId: string }
  | { op: 'forget'; key: string };

export class ReleaseThread {
  readonly #thread: RequestThread<ReleaseRequest>;

  /** `dbPath`: the aggregator's database, read by GetResult (omit when GetResult is not served). */
  constructor(schema: Schema, dbPath?: string) {
    this.#thread = new RequestThread<ReleaseRequest>(new URL('./release-worker.ts', import.meta.url), { schema, dbPath }, 'the release thread');
  }

  /** Plans a query (and its noise) and keeps the plan under `key` until release or forget. */
  plan(key: string, args: PlanArgs): Promise<Planned> {
    return this.#thread.call<Planned>({ op: 'plan', key, args });
  }

  /**
   * The release of the unmasked sum `sum` (ring words) for the plan under `key` (planned again
   * from `args` if the thread restarted, and checked against `digest`). Throws a ThreadError named
   * ReleaseCheckError when a sum is outside the plan's range: nothing may be released then.
   * The sum's buffer is moved to the thread (8 MB at 10^6 entries, not copied): `sum` is empty afterwards.
   */
  release(key: string, o: { args: PlanArgs; digest: string; queryId: string; sum: Uint32Array; contributors: string[]; minCohort: number }): Promise<Release> {
    return this.#thread.call<Release>({ op: 'release', key, ...o }, [o.sum.buffer as ArrayBuffer]);
  }

  /** GetResult's response for a stored query, protobuf-encoded (undefined: no such query). */
  getResult(queryId: string): Promise<Uint8Array | undefined> {
    return this.#thread.call<Uint8Array | undefined>({ op: 'getResult', queryId });
  }

  /** Drops a plan (its query failed or was refused before its release). */
  forget(key: string): void {
    if (this.#thread.running) void this.#thread.call({ op: 'forget', key }).catch(() => {});
  }

  close(): Promise<void> {
    return this.#thread.close();
  }
}
