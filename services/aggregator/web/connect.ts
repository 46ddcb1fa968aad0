/**
 * The Connect protocol (connectrpc.com/docs/protocol), JSON codec only, for the AnalystService:
 * the web console's transport (docs/web.md). Unary calls are `POST /blindsum.v1.AnalystService/M`
 * with an `application/json` body in proto3 JSON; the server-streaming WatchQuery is
 * `application/connect+json` with enveloped messages. Paths come from the generated service
 * definition and bodies go through the generated fromJSON/toJSON: one definition of each call,
 * generated from the proto. Every call dispatches to the AnalystHandlers grpc-js calls
 * (analyst-service.ts), with the signed-read credentials taken from the same metadata keys as
 * headers (`x-blindsum-signature-bin` base64, as Connect carries binary headers).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { status } from '@grpc/grpc-js';
import {
  AnalystServiceService, GetBudgetRequest, GetBudgetResponse, GetCollectiveKeyRequest, GetCollectiveKeyResponse, GetResultRequest, GetResultResponse,
  ListPartiesRequest, ListPartiesResponse, QueryEvent, SubmitQueryRequest, SubmitQueryResponse, WatchQueryRequest,
} from '../../../gen/blindsum/v1/blindsum.ts';
import { connectError, connectHttpError, ErrorCode, quote, toConnectError, type ConnectError, type Logger } from '../../common/errors.ts';
import { READ_METADATA } from '../../common/query-signing.ts';
import type { AnalystHandlers, ReadAuth } from '../analyst-service.ts';
import { methodName, type ByteCounter } from '../../common/wire-bytes.ts';

/** SubmitQuery carries the signed request (≤ 256 KiB) and, for CKKS, the analyst's public key: base64 in JSON. */
export const MAX_SUBMIT_BODY_BYTES = 4 * 1024 * 1024;
/** Every other request is a query id or an analyst id. */
export const MAX_READ_BODY_BYTES = 16 * 1024;

interface Codec<T> {
  fromJSON(object: unknown): T;
  toJSON(message: T): unknown;
}

/** How each AnalystService method is served; keyed like the generated service definition, so a new RPC fails to compile until it is listed. */
interface Route {
  stream: boolean;
  maxBody: number;
  call(h: AnalystHandlers, body: unknown, auth: ReadAuth, send: (json: unknown) => void): Promise<unknown> | (() => void);
}

function unary<Req, Res>(req: Codec<Req>, res: Codec<Res>, maxBody: number, fn: (h: AnalystHandlers, r: Req, auth: ReadAuth) => Res | Promise<Res>): Route {
  return { stream: false, maxBody, call: async (h, body, auth) => res.toJSON(await fn(h, parseMessage(req, body), auth)) };
}

const ROUTES: Record<keyof typeof AnalystServiceService, Route> = {
  submitQuery: unary(SubmitQueryRequest, SubmitQueryResponse, MAX_SUBMIT_BODY_BYTES, (h, r) => h.submitQuery(r)),
  getResult: unary(GetResultRequest, GetResultResponse, MAX_READ_BODY_BYTES, async (h, r, auth) => {
    const out = await h.getResult(r, auth);
    // A secagg result arrives encoded on the release thread (for grpc-js): decoded once for JSON.
    return out instanceof Uint8Array ? GetResultResponse.decode(out) : out;
  }),
  getCollectiveKey: unary(GetCollectiveKeyRequest, GetCollectiveKeyResponse, MAX_READ_BODY_BYTES, (h) => h.getCollectiveKey()),
  getBudget: unary(GetBudgetRequest, GetBudgetResponse, MAX_READ_BODY_BYTES, (h, r, auth) => h.getBudget(r, auth)),
  listParties: unary(ListPartiesRequest, ListPartiesResponse, MAX_READ_BODY_BYTES, (h) => h.listParties()),
  watchQuery: {
    stream: true, maxBody: MAX_READ_BODY_BYTES,
    call: (h, body, auth, send) => h.watchQuery(parseMessage(WatchQueryRequest, body), auth, (ev) => send(QueryEvent.toJSON(ev))),
  },
};

/** path → route, from the generated definition's paths. */
const BY_PATH = new Map<string, Route>(Object.entries(AnalystServiceService).map(([key, def]) => [def.path, ROUTES[key as keyof typeof ROUTES]]));

/** A request the transport refuses before any handler runs. */
export class TransportRefusal extends Error {
  readonly refusal: ConnectError;
  constructor(refusal: ConnectError) {
    super(refusal.body.message);
    this.refusal = refusal;
  }
}
const refuse = (code: ErrorCode, message: string): TransportRefusal => new TransportRefusal(connectError(code, message));

function parseMessage<T>(codec: Codec<T>, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw refuse(ErrorCode.InvalidArgument, 'the request body must be a JSON object (proto3 JSON of the request message)');
  try {
    return codec.fromJSON(body);
  } catch (e) {
    throw refuse(ErrorCode.InvalidArgument, `the request does not match the request message: ${(e as Error).message.slice(0, 100)}`);
  }
}

/** Whether this path is a Connect call of the AnalystService (the console routes it here). */
export function isConnectPath(path: string): boolean {
  return path.startsWith('/blindsum.v1.AnalystService/');
}

/** Past its limit, a body is still read and discarded up to this size (so the client sees the 400), then the connection is cut. */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;

/** The body, at most `max` bytes (refused past it; the rest is discarded, not kept). */
function readBody(req: IncomingMessage, max: number, res: ServerResponse): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = (what: string): void => {
      req.removeAllListeners('data');
      let drained = size;
      req.on('data', (c: Buffer) => {
        drained += c.length;
        if (drained > DRAIN_MAX_BYTES) req.destroy();
      });
      if (declared > DRAIN_MAX_BYTES) res.setHeader('connection', 'close');
      reject(refuse(ErrorCode.InvalidArgument, `${what} is larger than this method's limit of ${max} bytes`));
    };
    if (declared > max) return tooLarge(`request body of ${declared} bytes`);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) return tooLarge('request body');
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(bytes: Uint8Array): unknown {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  try {
    return JSON.parse(text);
  } catch {
    throw refuse(ErrorCode.InvalidArgument, `the request body is not valid JSON: ${quote(text)}`);
  }
}

/** The signed-read credentials from the headers (the metadata keys grpc-js reads; -bin values base64). */
export function readAuth(req: IncomingMessage): ReadAuth {
  const header = (k: string): string => {
    const v = req.headers[k];
    return (Array.isArray(v) ? v[0] : v ?? '').slice(0, 256);
  };
  const sig = header(READ_METADATA.signature);
  if (sig !== '' && !/^[A-Za-z0-9+/_-]*={0,2}$/.test(sig)) throw refuse(ErrorCode.InvalidArgument, `header ${READ_METADATA.signature} is not base64`);
  return { analyst: header(READ_METADATA.analyst), timestampMs: header(READ_METADATA.timestamp), signature: new Uint8Array(Buffer.from(sig, 'base64')) };
}

/** A Connect envelope: flags, big-endian length, JSON. Flag 2 ends the stream. */
function envelope(flags: number, json: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(json), 'utf8');
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

export function sendUnaryError(res: ServerResponse, e: ConnectError): void {
  if (res.headersSent) return void res.end();
  res.writeHead(e.httpStatus, { 'content-type': 'application/json' }).end(JSON.stringify(e.body));
}

/**
 * Serves one Connect call; never throws (every failure is an answer). `count` is told the size of
 * each request body read and each successful response body or stream envelope sent (error
 * answers are not counted, as grpc-js's counters see only messages).
 */
export async function serveConnect(req: IncomingMessage, res: ServerResponse, path: string, handlers: AnalystHandlers, log: Logger, count: ByteCounter = () => {}): Promise<void> {
  const route = BY_PATH.get(path);
  const fail = (e: unknown): ConnectError => (e instanceof TransportRefusal ? e.refusal : toConnectError(e, log));
  if (!route) return sendUnaryError(res, connectError(status.UNIMPLEMENTED, `no method ${quote(path)} in blindsum.v1.AnalystService`));
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    return sendUnaryError(res, connectHttpError(405, 'Connect calls are POST'));
  }
  const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const want = route.stream ? 'application/connect+json' : 'application/json';
  if (type !== want) {
    res.setHeader('accept-post', want);
    return sendUnaryError(res, connectHttpError(415, `this method takes content-type ${want} (the JSON codec; protobuf is served over gRPC)`));
  }
  let bytes: Buffer;
  try {
    bytes = await readBody(req, route.maxBody, res);
  } catch (e) {
    return sendUnaryError(res, fail(e));
  }
  const method = methodName(path);
  count(method, 'received', bytes.length);
  if (!route.stream) {
    try {
      const out = Buffer.from(JSON.stringify(await route.call(handlers, parseJson(bytes), readAuth(req), () => {})), 'utf8');
      count(method, 'sent', out.length);
      res.writeHead(200, { 'content-type': 'application/json' }).end(out);
    } catch (e) {
      sendUnaryError(res, fail(e));
    }
    return;
  }
  // Server streaming: the request is one enveloped message; errors end the stream (HTTP 200).
  res.writeHead(200, { 'content-type': 'application/connect+json' });
  const end = (error?: ConnectError): void => {
    if (!res.writableEnded) res.end(envelope(2, error ? { error: error.body } : {}));
  };
  let unsubscribe: (() => void) | undefined;
  try {
    if (bytes.length < 5 || bytes[0] !== 0 || bytes.readUInt32BE(1) !== bytes.length - 5) {
      throw refuse(ErrorCode.InvalidArgument, 'a streaming request is one uncompressed Connect envelope (flags 0, 4-byte length, JSON)');
    }
    const result = route.call(handlers, parseJson(bytes.subarray(5)), readAuth(req), (json) => {
      if (res.writableEnded) return;
      const e = envelope(0, json);
      count(method, 'sent', e.length);
      res.write(e);
      if ((json as { final?: boolean }).final === true) {
        unsubscribe?.();
        end();
      }
    });
    unsubscribe = typeof result === 'function' ? result : undefined;
    if (res.writableEnded) unsubscribe?.();
  } catch (e) {
    end(fail(e));
    return;
  }
  res.on('close', () => unsubscribe?.());
}
