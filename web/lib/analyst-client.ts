/**
 * The analyst's client in the browser: the same calls as client/analyst.ts, over the Connect
 * protocol. Every query is a QueryRequest serialized once and signed here with the analyst's
 * Ed25519 key, and every read carries a signature: the CLI's signing code
 * (services/common/query-signing.ts), so the aggregator and every party verify it exactly as
 * they verify the CLI's. The key never leaves this page.
 */
import {
  GetBudgetRequest, GetBudgetResponse, GetCollectiveKeyRequest, GetCollectiveKeyResponse, GetResultRequest, GetResultResponse,
  ListPartiesRequest, ListPartiesResponse, QueryEvent, SubmitQueryRequest, SubmitQueryResponse, WatchQueryRequest,
} from '../../gen/blindsum/v1/blindsum.ts';
import { READ_METADATA, signQueryRequest, signRead } from '../../services/common/query-signing.ts';
import { queryToProto } from '../../services/common/query-codec.ts';
import { sha256Hex } from '../../services/common/ckks.ts';
import type { IdentityKeyPair } from '../../crypto/identity.ts';
import type { Query } from '../../stats/query-types.ts';
import type { PrivacySpec } from '../../stats/privacy.ts';
import { streamCall, unaryCall } from './connect-client.ts';

export interface SignedInAnalyst {
  readonly id: string;
  readonly identity: IdentityKeyPair;
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export class WebAnalystClient {
  readonly #me: SignedInAnalyst;
  #federation: string | undefined;

  constructor(me: SignedInAnalyst) {
    this.#me = me;
  }

  get analyst(): string {
    return this.#me.id;
  }

  /** The signed-read headers (the gRPC metadata keys; the -bin value base64). */
  async #readHeaders(method: string, requestBytes: Uint8Array): Promise<Record<string, string>> {
    const federation = await this.federation();
    const ts = String(Date.now());
    return {
      [READ_METADATA.analyst]: this.#me.id, [READ_METADATA.timestamp]: ts,
      [READ_METADATA.signature]: base64(signRead(this.#me.identity.secretKey, federation, method, this.#me.id, ts, requestBytes)),
    };
  }

  async federation(): Promise<string> {
    this.#federation ??= (await this.listParties()).federation;
    return this.#federation;
  }

  listParties(): Promise<ListPartiesResponse> {
    return unaryCall('ListParties', ListPartiesRequest, ListPartiesResponse, {});
  }

  getCollectiveKey(): Promise<GetCollectiveKeyResponse> {
    return unaryCall('GetCollectiveKey', GetCollectiveKeyRequest, GetCollectiveKeyResponse, {});
  }

  async getBudget(): Promise<GetBudgetResponse> {
    const req = { analyst: this.#me.id };
    return unaryCall('GetBudget', GetBudgetRequest, GetBudgetResponse, req, await this.#readHeaders('GetBudget', GetBudgetRequest.encode(req).finish()));
  }

  /**
   * Signs and submits a query; `privacy` omitted = exact (only where allowed). Backend "ckks" needs
   * the analyst's CKKS public key: as the CLI's client does, its SHA-256 is signed into the request
   * (analyst_key_sha256) and the key travels beside it, so the release is re-encrypted to it.
   */
  async submit(query: Query, privacy?: PrivacySpec, opts: { backend?: 'secagg' | 'ckks'; ckksPublicKey?: Uint8Array } = {}): Promise<SubmitQueryResponse> {
    const backend = opts.backend ?? 'secagg';
    const analystPublicKey = backend === 'ckks' ? opts.ckksPublicKey : new Uint8Array(0);
    if (!analystPublicKey) throw new Error('backend "ckks" needs your CKKS key file (blindsum analyst ckks-keygen): the result is encrypted to it');
    const { signedRequest, signature } = signQueryRequest(this.#me.identity.secretKey, {
      queryId: crypto.randomUUID(), federation: await this.federation(), analyst: this.#me.id, query: queryToProto(query), backend,
      privacy: { rho: privacy?.rho ?? 0, epsilon: privacy?.epsilon ?? 0, delta: privacy?.delta ?? 0 },
      analystKeySha256: analystPublicKey.length > 0 ? sha256Hex(analystPublicKey) : '', issuedAtMs: BigInt(Date.now()),
    });
    return unaryCall('SubmitQuery', SubmitQueryRequest, SubmitQueryResponse, { signedRequest, signature, analystPublicKey });
  }

  /** Follows a query's rounds until its final event. */
  async watch(queryId: string, onEvent: (ev: QueryEvent) => void, signal?: AbortSignal): Promise<void> {
    const req = { queryId };
    await streamCall('WatchQuery', WatchQueryRequest, QueryEvent, req, await this.#readHeaders('WatchQuery', WatchQueryRequest.encode(req).finish()), onEvent, signal);
  }

  async getResult(queryId: string): Promise<GetResultResponse> {
    const req = { queryId };
    return unaryCall('GetResult', GetResultRequest, GetResultResponse, req, await this.#readHeaders('GetResult', GetResultRequest.encode(req).finish()));
  }
}
