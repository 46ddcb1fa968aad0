/**
 * Stands in for @grpc/grpc-js in the browser bundles (web/build.ts maps the import here). The
 * generated protocol code (gen/blindsum/v1/blindsum.ts) imports grpc-js for its Node gRPC
 * clients; the pages use only its message codecs (encode/decode), so the clients are never
 * constructed in a browser, and constructing one says why.
 */
export class Client {
  constructor() {
    throw new Error('gRPC (grpc-js) clients do not run in a browser: the console uses its own transport');
  }
}

export function makeGenericClientConstructor(): typeof Client {
  return Client;
}
