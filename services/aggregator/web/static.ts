/**
 * The web console's static pages (dist/web, built by web/build.ts): GET and HEAD only, regular
 * files under the root only (no directory listing, no path outside it), and the security headers
 * every answer of the console carries (a strict Content-Security-Policy: scripts, styles and
 * connections from this origin only, no inline code, no framing).
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../common/errors.ts';

export const DEFAULT_WEB_ROOT: string = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:", "connect-src 'self'",
  "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

/**
 * The policy of the pages that run node-seal's WebAssembly: the same, plus 'wasm-unsafe-eval' —
 * the auditor page recomputes CKKS keys and sums, the analyst page decrypts CKKS results with the
 * analyst's CKKS key (docs/web.md). The operator page runs no WebAssembly.
 */
export const WASM_CONTENT_SECURITY_POLICY: string = CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'");

/** The pages served under WASM_CONTENT_SECURITY_POLICY (they load node-seal). */
export const WASM_PAGES: readonly string[] = ['/auditor/', '/analyst/'];

/** Headers on every answer of the console (pages, Connect calls, errors). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.txt': 'text/plain; charset=utf-8',
};

/** Builds the pages into `root` when any is missing (e.g. an install with --ignore-scripts). */
export async function ensureBuilt(root: string, log: Logger): Promise<void> {
  const { listPages, buildAll } = await import('../../../web/build.ts');
  const missing = listPages().filter((p) => !existsSync(join(root, p, 'index.html')) || !existsSync(join(root, p, 'main.js')));
  if (missing.length === 0) return;
  log('info', `web console: building the pages (${missing.join(', ')}) into ${root} (npm run build:web does this ahead of time)`);
  await buildAll(root);
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
}

/** Serves `path` (already without its query string) from `root`. */
export function serveStatic(req: IncomingMessage, res: ServerResponse, path: string, root: string): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    return;
  }
  if (path === '/' || path === '') {
    res.writeHead(302, { location: '/analyst/' }).end();
    return;
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('bad path encoding\n');
    return;
  }
  // Refused outright: traversal, backslashes, NUL, dot files.
  if (decoded.split('/').some((s) => s === '..' || s.startsWith('.')) || decoded.includes('\\') || decoded.includes('\0')) {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('path refused\n');
    return;
  }
  // "/analyst" → "/analyst/" (relative asset URLs resolve against the folder).
  const page = /^\/([a-z0-9-]+)$/.exec(decoded);
  if (page && existsSync(join(root, page[1]!, 'index.html'))) {
    res.writeHead(301, { location: `/${page[1]}/` }).end();
    return;
  }
  const rel = decoded.endsWith('/') ? `${decoded}index.html` : decoded;
  let rootReal: string;
  try {
    rootReal = realpathSync(root);
  } catch {
    return notFound(res);
  }
  const file = resolve(rootReal, `.${rel}`);
  if (!file.startsWith(rootReal + sep)) return notFound(res);
  let real: string;
  try {
    real = realpathSync(file);
    if (!real.startsWith(rootReal + sep) || !statSync(real).isFile()) return notFound(res);
  } catch {
    return notFound(res);
  }
  const body = readFileSync(real);
  if (WASM_PAGES.some((p) => decoded.startsWith(p))) res.setHeader('content-security-policy', WASM_CONTENT_SECURITY_POLICY);
  res.writeHead(200, { 'content-type': TYPES[extname(real)] ?? 'application/octet-stream', 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}
