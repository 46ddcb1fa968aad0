/**
 * Bytes in and out of a gRPC service, counted where grpc-js turns messages into bytes and back:
 * a service definition's serializers are wrapped so that each message's encoded size is reported
 * with its method. Server side (countServer): requests are received, responses sent; client side
 * (countClient): requests are sent, responses received. The count is the protobuf messages'
 * sizes: gRPC's 5-byte frame per message, HTTP/2 headers and TLS records are not included.
 */
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

export type ByteDirection = 'received' | 'sent';

/** Told the size of each message: its method's name (e.g. "Connect") and its direction. */
export type ByteCounter = (method: string, direction: ByteDirection, bytes: number) => void;

/** The short name of a method from its path ("/blindsum.v1.AnalystService/SubmitQuery" → "SubmitQuery"). */
export function methodName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function wrap<S extends Record<string, unknown>>(service: S, count: ByteCounter, side: 'server' | 'client'): S {
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(service)) {
    const m = def as MethodDefinition<unknown, unknown>;
    const name = methodName(m.path);
    const inbound = side === 'server' ? 'requestDeserialize' : 'responseDeserialize';
    const outbound = side === 'server' ? 'responseSerialize' : 'requestSerialize';
    const deserialize = m[inbound];
    const serialize = m[outbound];
    out[key] = {
      ...m,
      [inbound]: (bytes: Buffer): unknown => {
        count(name, 'received', bytes.length);
        return deserialize(bytes);
      },
      [outbound]: (value: unknown): Buffer => {
        const bytes = serialize(value);
        count(name, 'sent', bytes.length);
        return bytes;
      },
    };
  }
  return out as S;
}

/** A server's service definition that counts requests received and responses sent. */
export function countServer<S extends ServiceDefinition>(service: S, count: ByteCounter): S {
  return wrap(service as unknown as Record<string, unknown>, count, 'server') as unknown as S;
}

/** A client's service definition that counts requests sent and responses received. */
export function countClient<S extends ServiceDefinition>(service: S, count: ByteCounter): S {
  return wrap(service as unknown as Record<string, unknown>, count, 'client') as unknown as S;
}
