/**
 * A Connect protocol client (JSON codec) for the browser: unary calls as `POST /<service>/<Method>`
 * with application/json, server-streaming calls as application/connect+json envelopes read from
 * the response body. Messages go through the generated fromJSON/toJSON (gen/), the same
 * definitions the aggregator's endpoint uses (services/aggregator/web/connect.ts).
 */

export interface Codec<T> {
  fromJSON(object: unknown): T;
  toJSON(message: T): unknown;
}

/** A Connect error ({code, message}) or a transport failure (code "unavailable"). */
export class ConnectCallError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ConnectCallError';
    this.code = code;
  }
}

const SERVICE = '/blindsum.v1.AnalystService/';

async function errorOf(res: Response): Promise<ConnectCallError> {
  const text = await res.text().catch(() => '');
  try {
    const o = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof o.code === 'string') return new ConnectCallError(o.code, typeof o.message === 'string' ? o.message : '');
  } catch {
    /* not a Connect error body */
  }
  return new ConnectCallError('unknown', `HTTP ${res.status}: ${text.slice(0, 120)}`);
}

async function post(method: string, contentType: string, body: BodyInit, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
  try {
    return await fetch(SERVICE + method, {
      method: 'POST', body, headers: { 'content-type': contentType, 'connect-protocol-version': '1', ...headers }, credentials: 'omit', ...(signal ? { signal } : {}),
    });
  } catch (e) {
    throw new ConnectCallError('unavailable', `cannot reach the aggregator's web console (${(e as Error).message.slice(0, 80)})`);
  }
}

export async function unaryCall<Req, Res>(method: string, reqCodec: Codec<Req>, resCodec: Codec<Res>, req: Req, headers: Record<string, string> = {}): Promise<Res> {
  const res = await post(method, 'application/json', JSON.stringify(reqCodec.toJSON(req)), headers);
  if (!res.ok) throw await errorOf(res);
  return resCodec.fromJSON(await res.json());
}

function envelope(flags: number, json: unknown): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(json));
  const out = new Uint8Array(5 + body.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, body.length);
  out.set(body, 5);
  return out;
}

/** A server-streaming call: `onMessage` for each message; resolves at the end of the stream, rejects with its error. */
export async function streamCall<Req, Res>(
  method: string, reqCodec: Codec<Req>, resCodec: Codec<Res>, req: Req, headers: Record<string, string>, onMessage: (m: Res) => void, signal?: AbortSignal,
): Promise<void> {
  const res = await post(method, 'application/connect+json', envelope(0, reqCodec.toJSON(req)) as BodyInit, headers, signal);
  if (!res.ok || !res.body) throw await errorOf(res);
  const reader = res.body.getReader();
  let buf = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (value) {
      const next = new Uint8Array(buf.length + value.length);
      next.set(buf);
      next.set(value, buf.length);
      buf = next;
    }
    while (buf.length >= 5) {
      const len = new DataView(buf.buffer, buf.byteOffset).getUint32(1);
      if (buf.length < 5 + len) break;
      const flags = buf[0]!;
      const json = JSON.parse(new TextDecoder().decode(buf.subarray(5, 5 + len))) as unknown;
      buf = buf.slice(5 + len);
      if (flags & 2) {
        const err = (json as { error?: { code?: string; message?: string } }).error;
        if (err) throw new ConnectCallError(err.code ?? 'unknown', err.message ?? '');
        return;
      }
      onMessage(resCodec.fromJSON(json));
    }
    if (done) throw new ConnectCallError('unavailable', 'the stream ended without its end message (connection lost?)');
  }
}
