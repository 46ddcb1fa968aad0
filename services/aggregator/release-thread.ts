/**
 * The aggregator's planning and release threads: the O(entries) work of a secure-aggregation
 * query — planning it at submission, the release (decoding the unmasked sum, the range check,
 * post-processing, the JSON of the result, of the exact sums and of the Released record, writing
 * the result's row) and GetResult's reading and protobuf encoding of a stored result — takes
 * 0.1–0.6 s per step at 10^6 entries, so it runs in worker threads (release-worker.ts) while the
 * event loop keeps serving party streams, keepalives, round deadlines and other analysts.
 *
 * The event loop keeps every check and every other durable write (the query, the budget, the
 * transcript entries), in the same order as before; the release thread writes a released query's
 * row on its own connection before the event loop announces the release; GetResult reads on a
 * read-only connection. One thread plans and answers GetResult (each under ~1 s at 10^6
 * entries), the other computes releases (seconds at 10^6 entries; a DP release of a non-count kind
 * post-processes 200 noise replicates), so a long release never holds up a submission or a read. No plan
 * is kept between submission and release (a 10^6-entry plan is ~50 MB of heap): the release plans
 * the query again from the same arguments and checks the digest it was submitted with. A CKKS
 * query is planned here too: only its value layout goes back to the CKKS backend (whose SEAL
 * objects live on the event loop), and its release's entry names, scales and DP figures come
 * from `ckksRelease`.
 */
import type { Schema, Query } from '../../stats/index.ts';
import type { CkksValueLayout } from '../common/ckks-layout.ts';
import { RequestThread } from '../common/worker-thread.ts';
import type { FinishRecord, PreparedJson } from './store.ts';

/** What fixes a plan: the query and the federation's parameters. */
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
  /** CKKS queries: how the sums travel as CKKS values (services/common/ckks-layout.ts). */
  ckks?: CkksValueLayout;
}

/** What a CKKS release needs from the plan (the sums themselves stay encrypted to the analyst). */
export interface CkksReleaseFigures {
  /** The Released transcript record (jsonBody). */
  releasedBody: Uint8Array;
  entryNames: string[];
  scaleBits: number[];
  rhoSpent?: number;
  noiseStd?: number[];
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
  /** DP releases of the judged kinds: the noise verdict (stats/noise-verdict.ts) as JSON. */
  noiseJson?: string;
}

export type ReleaseRequest =
  | { op: 'plan'; args: PlanArgs; ckks?: boolean }
  | { op: 'ckksRelease'; args: PlanArgs; digest: string; queryId: string; contributors: string[] }
  | { op: 'release'; args: PlanArgs; digest: string; queryId: string; sum: Uint32Array; contributors: string[]; minCohort: number }
  | { op: 'getResult'; queryId: string }
  | { op: 'finish'; queryId: string; record: FinishRecord };

export class ReleaseThread {
  /** Planning and GetResult. */
  readonly #planner: RequestThread<ReleaseRequest>;
  /** Releases. */
  readonly #releaser: RequestThread<ReleaseRequest>;

  /** `dbPath`: the aggregator's database (AggregatorStore.path), read by GetResult, written by finish. */
  constructor(schema: Schema, dbPath: string) {
    const url = new URL('./release-worker.ts', import.meta.url);
    this.#planner = new RequestThread<ReleaseRequest>(url, { schema, dbPath }, 'the planning thread');
    this.#releaser = new RequestThread<ReleaseRequest>(url, { schema, dbPath }, 'the release thread');
  }

  /** Plans a query (and its noise): the digest, the vector's length and the time it took. */
  plan(args: PlanArgs): Promise<Planned> {
    return this.#planner.call<Planned>({ op: 'plan', args });
  }

  /** Plans a CKKS query: as `plan`, with its CKKS value layout (a RangeError when the sums do not fit). */
  planCkks(args: PlanArgs): Promise<Planned & { ckks: CkksValueLayout }> {
    return this.#planner.call<Planned & { ckks: CkksValueLayout }>({ op: 'plan', args, ckks: true });
  }

  /** The plan's part of a CKKS release (entry names, scales, DP figures, the Released record), planned again and checked against `digest`. */
  ckksRelease(o: { args: PlanArgs; digest: string; queryId: string; contributors: string[] }): Promise<CkksReleaseFigures> {
    return this.#releaser.call<CkksReleaseFigures>({ op: 'ckksRelease', ...o });
  }

  /**
   * The release of the unmasked sum `sum` (ring words) of the query planned from `args`, whose
   * plan must have the submitted `digest`. Throws a ThreadError named ReleaseCheckError when a sum
   * is outside the plan's range: nothing may be released then. The sum's buffer is moved to the
   * thread (8 MB at 10^6 entries, not copied): `sum` is empty afterwards.
   */
  release(o: { args: PlanArgs; digest: string; queryId: string; sum: Uint32Array; contributors: string[]; minCohort: number }): Promise<Release> {
    return this.#releaser.call<Release>({ op: 'release', ...o }, [o.sum.buffer as ArrayBuffer]);
  }

  /**
   * Writes a released query's row (store.ts writeFinish) on the release thread's own connection
   * (synchronous = FULL): at 10^6 entries ~7 MB of JSON, 0.05–0.3 s of writing and fsync that
   * would otherwise pause the event loop. Resolves once it is on disk. The event loop's own writes
   * to the database meanwhile wait for SQLite's write lock (busy_timeout), as they would for it.
   */
  finish(queryId: string, record: FinishRecord): Promise<void> {
    return this.#releaser.call<void>({ op: 'finish', queryId, record });
  }

  /** GetResult's response for a stored query, protobuf-encoded (undefined: no such query). */
  getResult(queryId: string): Promise<Uint8Array | undefined> {
    return this.#planner.call<Uint8Array | undefined>({ op: 'getResult', queryId });
  }

  async close(): Promise<void> {
    await Promise.all([this.#planner.close(), this.#releaser.close()]);
  }
}
