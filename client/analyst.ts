/**
 * The analyst's client library: submit a federated query, follow its progress, fetch the
 * result. Used by `blindsum query` and `blindsum demo`, and meant for analysts' own code.
 */
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { AnalystServiceClient, type GetBudgetResponse, type GetCollectiveKeyResponse, type GetResultResponse, type ListPartiesResponse, type QueryEvent } from '../gen/blindsum/v1/blindsum.ts';
import { GRPC_OPTIONS } from '../services/common/grpc-options.ts';
import { queryToProto } from '../services/common/query-codec.ts';
import { channelCredentials } from '../services/common/tls.ts';
import type { PrivacySpec, Query, QueryResult } from '../stats/index.ts';
import type { AnalystCkksKey } from './ckks-analyst.ts';

export interface QueryOutcome {
  queryId: string;
  status: string;
  error: string;
  result: QueryResult | undefined;
  contributors: string[];
  refusals: { partyId: string; reason: string }[];
  entryNames: string[];
  aggregate: number[];
  /** Exact integer sums on the fixed-point grid, and each entry's scale (value = sum / 2^scale). */
  exactSums: bigint[];
  scaleBits: number[];
  /** Differential privacy: 0 / empty for exact queries. */
  rhoCharged: number;
  rhoSpent: number;
  /** Noise standard deviation of each entry of `aggregate`. */
  noiseStd: number[];
  /** DP-noise standard deviation of each numeric result field, keyed like `numericFields`. */
  uncertainty: Record<string, number | null>;
  elapsedMs: number;
  /** Backend "ckks": decrypted here, by the analyst's key (the aggregator holds only ciphertexts). */
  ckks?: {
    params: string;
    level: number;
    limbs: number;
    ciphertexts: number;
    /** Bytes of the encrypted release. */
    bytes: number;
    /** Largest |decrypted value − its rounding| in grid units (rounding is exact below 1/2). */
    maxRawError: number;
    decryptors: string[];
  };
}

/** A gRPC failure with the server's message (never a stack). */
export class AnalystError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'AnalystError';
    this.code = code;
  }
}

function wrap(e: ServiceError): AnalystError {
  return new AnalystError(e.code, e.details || e.message);
}

export class AnalystClient {
  readonly #client: AnalystServiceClient;

  /** `tlsCaPath`: CA certificate that signed the aggregator's TLS certificate (omit on loopback). */
  constructor(address: string, tlsCaPath?: string) {
    this.#client = new AnalystServiceClient(address, channelCredentials(tlsCaPath), GRPC_OPTIONS);
  }

  close(): void {
    this.#client.close();
  }

  /** `privacy`: the query's DP cost (rho, or epsilon with delta); omit for an exact query. */
  submit(query: Query, opts: { backend?: string; analyst?: string; privacy?: PrivacySpec; analystPublicKey?: Uint8Array } = {}): Promise<{ queryId: string; planDigest: string }> {
    const p = opts.privacy;
    const privacy = { rho: p?.rho ?? 0, epsilon: p?.epsilon ?? 0, delta: p?.delta ?? 0 };
    const request = { query: queryToProto(query), backend: opts.backend ?? 'secagg', analyst: opts.analyst ?? 'analyst', privacy, analystPublicKey: opts.analystPublicKey ?? new Uint8Array(0) };
    return new Promise((resolve, reject) => {
      this.#client.submitQuery(request, (err, res) => (err ? reject(wrap(err)) : resolve(res)));
    });
  }

  /** The federation's collective CKKS public key and its SHA-256 (status "pending" until the key ceremony has run). */
  getCollectiveKey(): Promise<GetCollectiveKeyResponse> {
    return new Promise((resolve, reject) => {
      this.#client.getCollectiveKey({}, new Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(wrap(err)) : resolve(res)));
    });
  }

  getBudget(analyst: string): Promise<GetBudgetResponse> {
    return new Promise((resolve, reject) => {
      this.#client.getBudget({ analyst }, (err, res) => (err ? reject(wrap(err)) : resolve(res)));
    });
  }

  /** Streams progress events until the final one. */
  watch(queryId: string, onEvent: (ev: QueryEvent) => void, deadlineMs = 600_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const stream = this.#client.watchQuery({ queryId }, new Metadata(), { deadline: Date.now() + deadlineMs });
      stream.on('data', (ev: QueryEvent) => onEvent(ev));
      stream.on('error', (e: ServiceError) => reject(wrap(e)));
      stream.on('end', () => resolve());
    });
  }

  getResult(queryId: string): Promise<GetResultResponse> {
    return new Promise((resolve, reject) => {
      this.#client.getResult({ queryId }, (err, res) => (err ? reject(wrap(err)) : resolve(res)));
    });
  }

  listParties(): Promise<ListPartiesResponse> {
    return new Promise((resolve, reject) => {
      this.#client.listParties({}, new Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(wrap(err)) : resolve(res)));
    });
  }

  /**
   * Submit, follow to completion, fetch the result. Backend "ckks" needs `ckksKey`, the analyst's
   * own key pair (blindsum analyst-keygen): the result is decrypted and post-processed here.
   */
  async run(
    query: Query,
    opts: { backend?: string; analyst?: string; privacy?: PrivacySpec; onEvent?: (ev: QueryEvent) => void; deadlineMs?: number; ckksKey?: AnalystCkksKey } = {},
  ): Promise<QueryOutcome> {
    const t0 = performance.now();
    if (opts.backend === 'ckks' && !opts.ckksKey) throw new AnalystError(3, 'backend "ckks" needs the analyst\'s CKKS key pair (create one with: blindsum analyst-keygen)');
    const { queryId } = await this.submit(query, { ...opts, ...(opts.ckksKey ? { analystPublicKey: opts.ckksKey.publicKey } : {}) });
    await this.watch(queryId, opts.onEvent ?? (() => {}), opts.deadlineMs);
    const r = await this.getResult(queryId);
    if (r.ckks && r.status === 'done' && opts.ckksKey) return openCkksOutcome(query, r, opts.ckksKey, t0);
    return outcomeFromResponse(r, performance.now() - t0);
  }
}

/**
 * A CKKS result, decrypted with the analyst's key, rounded and post-processed (client/ckks-analyst.ts);
 * `startedAt` (performance.now() at submission) makes elapsedMs include the decryption.
 */
export async function openCkksOutcome(query: Query, r: GetResultResponse, key: AnalystCkksKey, startedAt?: number): Promise<QueryOutcome> {
  const { openRelease } = await import('./ckks-analyst.ts');
  const o = await openRelease(query, r, key);
  const base = outcomeFromResponse(r, 0);
  return {
    ...base, result: o.result, error: o.postError || base.error, exactSums: o.sums, aggregate: o.sums.map((s, i) => Number(s) * 2 ** -r.scaleBits[i]!),
    uncertainty: o.uncertainty, elapsedMs: startedAt === undefined ? 0 : performance.now() - startedAt,
    ckks: { params: r.ckks!.params, level: o.level, limbs: o.limbs, ciphertexts: o.ciphertexts, bytes: o.bytes, maxRawError: o.maxRawError, decryptors: r.ckks!.decryptors },
  };
}

export function outcomeFromResponse(r: GetResultResponse, elapsedMs = 0): QueryOutcome {
  return {
    queryId: r.queryId, status: r.status, error: r.error,
    result: r.resultJson ? (JSON.parse(r.resultJson) as QueryResult) : undefined,
    contributors: r.contributors, refusals: r.refusals, entryNames: r.entryNames, aggregate: r.aggregate,
    exactSums: r.exactSums, scaleBits: r.scaleBits, rhoCharged: r.rhoCharged, rhoSpent: r.rhoSpent, noiseStd: r.noiseStd,
    uncertainty: r.uncertaintyJson ? (JSON.parse(r.uncertaintyJson) as Record<string, number | null>) : {}, elapsedMs,
  };
}
