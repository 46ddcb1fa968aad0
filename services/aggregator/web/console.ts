/**
 * The web console's HTTP(S) server (--web-listen HOST:PORT, off by default; docs/web.md), beside
 * grpc-js in the aggregator process: the built pages (static.ts), the Connect JSON endpoint of the
 * AnalystService (connect.ts, the same handlers as gRPC) and, with --web-operator, the operator
 * status (operator.ts). HTTPS with the aggregator's --tls-cert/--tls-key when given (and client
 * certificates with --tls-client-ca); plain HTTP otherwise (loopback only).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { status } from '@grpc/grpc-js';
import { connectError, connectHttpError, toConnectError, type Logger } from '../../common/errors.ts';
import { isConnectPath, readAuth, sendUnaryError, serveConnect, TransportRefusal } from './connect.ts';
import { OPERATOR_STATUS_PATH, operatorStatus, type OperatorDeps } from './operator.ts';
import { DEFAULT_WEB_ROOT, ensureBuilt, SECURITY_HEADERS, serveStatic } from './static.ts';

export type WebConsoleDeps = OperatorDeps & { log: Logger };

function hostPort(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]*)\]?:(\d{1,5})$/.exec(listen);
  if (!m || Number(m[2]) > 65535) throw Object.assign(new Error(`--web-listen: expected HOST:PORT, got ${JSON.stringify(listen.slice(0, 40))}`), { name: 'ConfigError' });
  return { host: m[1]!, port: Number(m[2]) };
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]|::1)$/i;

/** The host name of a Host header ("[::1]:8080" → "[::1]", "localhost:8080" → "localhost"). */
function hostName(header: string | undefined): string {
  const h = (header ?? '').trim();
  return h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.split(':')[0]!;
}

export class WebConsole {
  readonly #d: WebConsoleDeps;
  readonly #root: string;
  #server: Server | undefined;
  #url: string | undefined;
  readonly #loopback: boolean;

  constructor(deps: WebConsoleDeps) {
    this.#d = deps;
    this.#root = deps.config.webRoot ?? DEFAULT_WEB_ROOT;
    this.#loopback = LOOPBACK.test(hostPort(deps.config.webListen!).host);
  }

  /** The base URL once listening, e.g. http://127.0.0.1:8080/. */
  get url(): string | undefined {
    return this.#url;
  }

  async start(): Promise<void> {
    const { config, log } = this.#d;
    const listen = config.webListen!;
    const { host, port } = hostPort(listen);
    await ensureBuilt(this.#root, log);
    const tls = config.tlsCertPath !== undefined && config.tlsKeyPath !== undefined;
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.#serve(req, res);
    const server: Server = tls
      ? createHttpsServer({
        cert: readFileSync(config.tlsCertPath!), key: readFileSync(config.tlsKeyPath!),
        ...(config.tlsClientCaPath !== undefined ? { ca: readFileSync(config.tlsClientCaPath), requestCert: true, rejectUnauthorized: true } : {}),
      }, handler)
      : createHttpServer(handler);
    // A slow or half-sent request cannot hold a connection for long; WatchQuery answers stream for as long as the query runs.
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    server.on('clientError', (_e, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(Object.assign(new Error(`cannot serve the web console on ${listen}: ${e.code === 'EADDRINUSE' ? 'the address is in use' : e.message.slice(0, 100)}`), { name: 'ListenError' })));
      server.listen(port, host, () => resolve());
    });
    this.#server = server;
    const addr = server.address();
    const bound = typeof addr === 'object' && addr ? addr.port : port;
    const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
    this.#url = `${tls ? 'https' : 'http'}://${shownHost}:${bound}/`;
    log('info', 'web console served', { address: listen, url: this.#url, operator: config.webOperator === true, root: this.#root });
  }

  #serve(req: IncomingMessage, res: ServerResponse): void {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    // Bound to loopback, the console answers only requests addressed to a loopback name: a page of
    // another site whose name was re-pointed at 127.0.0.1 (DNS rebinding) gets nothing.
    if (this.#loopback && !LOOPBACK.test(hostName(req.headers.host))) {
      res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8' }).end('misdirected request: this console answers only at a loopback address\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const failed = (e: unknown): void => sendUnaryError(res, e instanceof TransportRefusal ? e.refusal : toConnectError(e, this.#d.log));
    try {
      if (isConnectPath(path)) {
        serveConnect(req, res, path, this.#d.handlers, this.#d.log, this.#d.metrics.webBytes).catch(failed);
        return;
      }
      if (path === OPERATOR_STATUS_PATH || path.startsWith('/operator/') || path === '/operator') {
        if (this.#d.config.webOperator !== true) return sendUnaryError(res, connectError(status.NOT_FOUND, 'the operator page is off (start the aggregator with --web-operator)'));
        if (path === OPERATOR_STATUS_PATH) {
          if (req.method !== 'GET') return sendUnaryError(res, connectHttpError(405, 'GET only'));
          operatorStatus(this.#d, readAuth(req)).then((body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)), failed);
          return;
        }
      }
      serveStatic(req, res, path, this.#root);
    } catch (e) {
      failed(e);
    }
  }

  async close(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    this.#server = undefined;
    s.closeAllConnections(); // WatchQuery streams would otherwise hold close() open
    await new Promise<void>((r) => s.close(() => r()));
  }
}
