/**
 * The party gateway's service definition, with one change to grpc-js's serializer: a message body
 * marked with `encodeOnce` (a PCKS request chunk, the same for all t decryptors: n contributors'
 * signed chunks, ~15 MB at 30 parties) is encoded once and the bytes reused for every recipient,
 * instead of being encoded again per send. The bytes are never mutated (grpc-js copies them into
 * its own length-prefixed frame).
 */
import { AggregatorMessage, PartyGatewayServiceService } from '../../gen/blindsum/v1/blindsum.ts';

const shared = new WeakSet<object>();
const encoded = new WeakMap<object, Buffer>();

/** Marks `value` (the value of an AggregatorMessage body) to be encoded once for all its sends. */
export function encodeOnce<T extends object>(value: T): T {
  shared.add(value);
  return value;
}

function serialize(message: AggregatorMessage): Buffer {
  const value = message.body?.value;
  if (!value || !shared.has(value)) return Buffer.from(AggregatorMessage.encode(message).finish());
  let bytes = encoded.get(value);
  if (!bytes) {
    const e = AggregatorMessage.encode(message).finish();
    bytes = Buffer.from(e.buffer, e.byteOffset, e.byteLength);
    encoded.set(value, bytes);
  }
  return bytes;
}

export const PartyGatewayService: typeof PartyGatewayServiceService = {
  ...PartyGatewayServiceService,
  connect: { ...PartyGatewayServiceService.connect, responseSerialize: serialize },
};
