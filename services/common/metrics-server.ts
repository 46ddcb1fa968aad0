/**
 * The Prometheus text endpoint (`--metrics-listen HOST:PORT`, off by default) of the aggregator and
 * the party: GET /metrics answers the registry's exposition (prom-client, docs/dependencies.md);
 * anything else 404. Plain HTTP on the address given: bind it to a management network or loopback.
 */
import { createServer } from 'node:http';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Parses HOST:PORT ([::1]:9090 for IPv6). */
function hostPort(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]*)\]?:(\d{1,5})$/.exec(listen);
  if (!m || Number(m[2]) > 65535) throw Object.assign(new Error(`--metrics-listen: expected HOST:PORT, got ${JSON.stringify(listen.slice(0, 40))}`), { name: 'ConfigError' });
  return { host: m[1]!, port: Number(m[2]) };
}

export function startMetricsServer(listen: string, registry: Registry): Promise<MetricsServer> {
  const { host, port } = hostPort(listen);
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(e as Error).message.slice(0, 100)}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(Object.assign(new Error(`cannot serve metrics on ${listen}: ${e.code === 'EADDRINUSE' ? 'the address is in use' : e.message.slice(0, 100)}`), { name: 'ListenError' })));
    server.listen(port, host, () => {
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr ? addr.port : port,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
