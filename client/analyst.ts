/**
 * The analyst's client library: submit a federated query, follow its progress, fetch the
 * result. Used by `blindsum query` and `blindsum demo`, and meant for analysts' own code.
 * The client is signed in with the analyst's Ed25519 identity (blindsum analyst keygen): every
 * query is a QueryRequest it serializes once and signs, and every read carries a signature
 * (services/common/query-request.ts).
 */
import { randomUUID } from 'node:crypto';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  AnalystServiceClient, GetBudgetRequest, GetResultRequest, WatchQueryRequest,
  type GetBudgetResponse, type GetCollectiveKeyResponse, type GetResultResponse, type ListPartiesResponse, type QueryEvent,
} from '../gen/blindsum/v1/blindsum.ts';
import { sha256Hex } from '../services/common/ckks.ts';
import { GRPC_OPTIONS } from '../services/common/grpc-options.ts';
import type { IdentityFile } from '../services/common/keys.ts';
import { queryToProto } from '../services/common/query-codec.ts';
import { READ_METADATA, signQueryRequest, signRead } from '../services/common/query-request.ts';
import { channelCredentials, explainTlsFailure, type TlsContext } from '../services/common/tls.ts';
import type { PrivacySpec, Query } from '../stats/index.ts';
import type { AnalystCkksKey } from './ckks-release.ts';
import { openCkksOutcome, outcomeFromResponse, type QueryOutcome } from './outcome.ts';

// The outcome of a query and its CKKS decryption have no Node import (the web console runs them): client/outcome.ts.
export { openCkksOutcome, outcomeFromResponse, type QueryOutcome } from './outcome.ts';

/** A gRPC failure with the server's message (never a stack). */
export class AnalystError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'AnalystError';
    this.code = code;
  }
}

/**
 * A transport failure in one sentence with its likely cause (the raw gRPC text only after it).
 * `tls` says what this client sent: TLS or not, a client certificate or not (mutual TLS).
 */
export function explainTransport(code: number, details: string, tls: TlsContext = { tls: true, clientCert: false }): string {
  if (/ECONNREFUSED/i.test(details)) return `cannot reach the aggregator: nothing listens at that address (is it running? right --aggregator host:port?)`;
  const failure = explainTlsFailure(details, tls);
  if (failure) return failure.sentence;
  if (code === 14 && /DNS|getaddrinfo|ENOTFOUND/i.test(details)) return `cannot resolve the aggregator's host name (${details.slice(0, 80)})`;
  if (code === 14 && /No connection established/i.test(details)) return `cannot connect to the aggregator (is it running? right --aggregator host:port?) (${details.slice(0, 120)})`;
  return details;
}

export const NO_ANALYST_KEY =
  'no analyst key: create one with `blindsum analyst keygen --id NAME --out NAME.key`, have the operator add NAME.key.pub.json to analysts.json (blindsum analyst roster), then give --analyst-key NAME.key or set BLINDSUM_ANALYST_KEY';

export interface AnalystClientOptions {
  /** The analyst's Ed25519 identity (blindsum analyst keygen; loadIdentityFile). Without it only ListParties and GetCollectiveKey work. */
  identity?: IdentityFile;
  /** CA certificate that signed the aggregator's TLS certificate (omit on loopback). */
  tlsCaPath?: string;
  /** Mutual TLS: this client's certificate and key (for an aggregator started with --tls-client-ca). */
  tlsCertPath?: string;
  tlsKeyPath?: string;
  /** The federation's name, signed into every request (default: asked from the aggregator once). */
  federation?: string;
}

export class AnalystClient {
  readonly #client: AnalystServiceClient;
  readonly #identity: IdentityFile | undefined;
  readonly #tls: TlsContext;
  #federation: string | undefined;

  constructor(address: string, opts: AnalystClientOptions = {}) {
    this.#client = new AnalystServiceClient(address, channelCredentials({
      ...(opts.tlsCaPath !== undefined ? { caPath: opts.tlsCaPath } : {}),
      ...(opts.tlsCertPath !== undefined ? { certPath: opts.tlsCertPath } : {}), ...(opts.tlsKeyPath !== undefined ? { keyPath: opts.tlsKeyPath } : {}),
    }), GRPC_OPTIONS);
    this.#identity = opts.identity;
    this.#federation = opts.federation;
    this.#tls = { tls: opts.tlsCaPath !== undefined, clientCert: opts.tlsCertPath !== undefined };
  }

  /** A gRPC failure as an AnalystError whose message says the likely cause (explainTransport). */
  #wrap(e: ServiceError): AnalystError {
    return new AnalystError(e.code, explainTransport(e.code, e.details || e.message, this.#tls));
  }

  /** The analyst this client is signed in as (undefined without a key). */
  get analyst(): string | undefined {
    return this.#identity?.id;
  }

  close(): void {
    this.#client.close();
  }

  #signer(): IdentityFile {
    if (!this.#identity) throw new AnalystError(16, NO_ANALYST_KEY);
    return this.#identity;
  }

  /** Metadata of a signed read: analyst id, timestamp, Ed25519 signature over (federation, method, analyst, timestamp, SHA-256 of the request). */
  async #readMetadata(method: string, requestBytes: Uint8Array): Promise<Metadata> {
    const me = this.#signer();
    const federation = await this.#federationName();
    const ts = String(Date.now());
    const md = new Metadata();
    md.set(READ_METADATA.analyst, me.id);
    md.set(READ_METADATA.timestamp, ts);
    md.set(READ_METADATA.signature, Buffer.from(signRead(me.identity.secretKey, federation, method, me.id, ts, requestBytes)));
    return md;
  }

  async #federationName(): Promise<string> {
    this.#federation ??= (await this.listParties()).federation;
    return this.#federation;
  }

  /**
   * Signs and submits a query. `privacy`: the query's DP cost (rho, or epsilon with delta); omit for
   * an exact query. The query id is a random UUID chosen here (`queryId` only for tests).
   */
  async submit(query: Query, opts: { backend?: string; privacy?: PrivacySpec; analystPublicKey?: Uint8Array; queryId?: string } = {}): Promise<{ queryId: string; planDigest: string }> {
    const me = this.#signer();
    const p = opts.privacy;
    const privacy = { rho: p?.rho ?? 0, epsilon: p?.epsilon ?? 0, delta: p?.delta ?? 0 };
    const analystPublicKey = opts.analystPublicKey ?? new Uint8Array(0);
    const { signedRequest, signature } = signQueryRequest(me.identity.secretKey, {
      queryId: opts.queryId ?? randomUUID(), federation: await this.#federationName(), analyst: me.id, query: queryToProto(query), backend: opts.backend ?? 'secagg', privacy,
      analystKeySha256: analystPublicKey.length > 0 ? sha256Hex(analystPublicKey) : '', issuedAtMs: BigInt(Date.now()),
    });
    return this.submitSigned(signedRequest, signature, analystPublicKey);
  }

  /** Sends an already signed request (services/common/query-request.ts signQueryRequest). */
  submitSigned(signedRequest: Uint8Array, signature: Uint8Array, analystPublicKey: Uint8Array = new Uint8Array(0)): Promise<{ queryId: string; planDigest: string }> {
    return new Promise((resolve, reject) => {
      this.#client.submitQuery({ signedRequest, signature, analystPublicKey }, (err, res) => (err ? reject(this.#wrap(err)) : resolve(res)));
    });
  }

  /** The federation's collective CKKS public key and its SHA-256 (status "pending" until the key ceremony has run). */
  getCollectiveKey(): Promise<GetCollectiveKeyResponse> {
    return new Promise((resolve, reject) => {
      this.#client.getCollectiveKey({}, new Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(this.#wrap(err)) : resolve(res)));
    });
  }

  /** The budget of this analyst (or of `analyst`: auditors only). */
  async getBudget(analyst?: string): Promise<GetBudgetResponse> {
    const req = { analyst: analyst ?? this.#signer().id };
    const md = await this.#readMetadata('GetBudget', GetBudgetRequest.encode(req).finish());
    return new Promise((resolve, reject) => {
      this.#client.getBudget(req, md, (err, res) => (err ? reject(this.#wrap(err)) : resolve(res)));
    });
  }

  /** Streams progress events until the final one. */
  async watch(queryId: string, onEvent: (ev: QueryEvent) => void, deadlineMs = 600_000): Promise<void> {
    const md = await this.#readMetadata('WatchQuery', WatchQueryRequest.encode({ queryId }).finish());
    return new Promise((resolve, reject) => {
      const stream = this.#client.watchQuery({ queryId }, md, { deadline: Date.now() + deadlineMs });
      stream.on('data', (ev: QueryEvent) => onEvent(ev));
      stream.on('error', (e: ServiceError) => reject(this.#wrap(e)));
      stream.on('end', () => resolve());
    });
  }

  async getResult(queryId: string): Promise<GetResultResponse> {
    const md = await this.#readMetadata('GetResult', GetResultRequest.encode({ queryId }).finish());
    return new Promise((resolve, reject) => {
      this.#client.getResult({ queryId }, md, (err, res) => (err ? reject(this.#wrap(err)) : resolve(res)));
    });
  }

  listParties(): Promise<ListPartiesResponse> {
    return new Promise((resolve, reject) => {
      this.#client.listParties({}, new Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(this.#wrap(err)) : resolve(res)));
    });
  }

  /**
   * Submit, follow to completion, fetch the result. Backend "ckks" needs `ckksKey`, the analyst's
   * own key pair (blindsum analyst-keygen): the result is decrypted and post-processed here.
   */
  async run(
    query: Query,
    opts: { backend?: string; privacy?: PrivacySpec; onEvent?: (ev: QueryEvent) => void; deadlineMs?: number; ckksKey?: AnalystCkksKey } = {},
  ): Promise<QueryOutcome> {
    const t0 = performance.now();
    if (opts.backend === 'ckks' && !opts.ckksKey) throw new AnalystError(3, 'backend "ckks" needs the analyst\'s CKKS key pair (create one with: blindsum analyst ckks-keygen)');
    const { queryId } = await this.submit(query, { ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.privacy ? { privacy: opts.privacy } : {}), ...(opts.ckksKey ? { analystPublicKey: opts.ckksKey.publicKey } : {}) });
    await this.watch(queryId, opts.onEvent ?? (() => {}), opts.deadlineMs);
    const r = await this.getResult(queryId);
    if (r.ckks && r.status === 'done' && opts.ckksKey) return openCkksOutcome(query, r, opts.ckksKey, t0);
    return outcomeFromResponse(r, performance.now() - t0);
  }
}
