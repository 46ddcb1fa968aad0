/**
 * Stands in for @grpc/grpc-js in the browser bundles (web/aliases.ts): gen/ imports it for the
 * Node gRPC client constructors, which the console never uses (it speaks the Connect protocol,
 * web/lib/connect-client.ts). Calling one fails with a clear message.
 */
export class Client {}

export function makeGenericClientConstructor(): unknown {
  return class {
    constructor() {
      throw new Error('gRPC clients do not run in the browser; the web console uses the Connect protocol (web/lib/connect-client.ts)');
    }
  };
}
