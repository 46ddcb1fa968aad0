/**
 * Builds the web console's static assets with esbuild (docs/web.md): every page is a folder
 * `web/pages/<page>/` holding `index.html`, `main.ts` and optionally `style.css`; it is built to
 * `<outDir>/<page>/` as `index.html` (copied), `main.js` (one ES module bundle, browser
 * platform, no inline scripts: the pages run under a strict Content-Security-Policy) and
 * `style.css`, and `seal_throws.wasm` when the page bundles node-seal. Nothing is fetched from a
 * CDN: every import is bundled from node_modules.
 *
 *   node web/build.ts [outDir]      (default dist/web; run by `npm ci` through `prepare`)
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { browserAliases } from './aliases.ts';

export const WEB_ROOT: string = dirname(fileURLToPath(import.meta.url));
export const PAGES_DIR: string = join(WEB_ROOT, 'pages');
export const DEFAULT_OUT_DIR: string = resolve(WEB_ROOT, '..', 'dist', 'web');

/** The pages: every folder under web/pages with an index.html and a main.ts. */
export function listPages(): string[] {
  if (!existsSync(PAGES_DIR)) return [];
  return readdirSync(PAGES_DIR)
    .filter((p) => statSync(join(PAGES_DIR, p)).isDirectory())
    .filter((p) => existsSync(join(PAGES_DIR, p, 'index.html')) && existsSync(join(PAGES_DIR, p, 'main.ts')))
    .sort();
}

/**
 * Node-only imports that code shared with the services brings into a page, resolved for the
 * browser: @grpc/grpc-js (imported by gen/ for its Node clients; pages use only the message
 * codecs) is replaced by web/lib/grpc-js-browser.ts; node-seal's `import("module")`, which its
 * Emscripten loader runs only on Node, is left external (never evaluated in a browser).
 */
const browserShims: Plugin = {
  name: 'blindsum-browser-shims',
  setup(b) {
    b.onResolve({ filter: /^@grpc\/grpc-js$/ }, () => ({ path: join(WEB_ROOT, 'lib', 'grpc-js-browser.ts') }));
    b.onResolve({ filter: /^module$/ }, (args) => (args.importer.includes('node-seal') ? { path: 'module', external: true } : undefined));
  },
};

/** Builds one page into `<outDir>/<page>/`. */
export async function buildPage(page: string, outDir: string = DEFAULT_OUT_DIR, opts: { minify?: boolean } = {}): Promise<void> {
  const src = join(PAGES_DIR, page);
  const dst = join(outDir, page);
  mkdirSync(dst, { recursive: true });
  const result = await build({
    entryPoints: [join(src, 'main.ts')],
    plugins: [browserShims],
    metafile: true,
    outfile: join(dst, 'main.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: opts.minify ?? true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    alias: browserAliases(WEB_ROOT),
  });
  // node-seal's loader fetches its WebAssembly next to the bundle (new URL('seal_throws.wasm', import.meta.url)).
  for (const input of Object.keys(result.metafile.inputs)) {
    const m = /node_modules\/node-seal\/dist\/(seal_\w+)\.js$/.exec(input);
    if (m) copyFileSync(resolve(input.slice(0, -'.js'.length) + '.wasm'), join(dst, `${m[1]}.wasm`));
  }
  copyFileSync(join(src, 'index.html'), join(dst, 'index.html'));
  if (existsSync(join(src, 'style.css'))) copyFileSync(join(src, 'style.css'), join(dst, 'style.css'));
}

/** Builds every page; returns their names. */
export async function buildAll(outDir: string = DEFAULT_OUT_DIR, opts: { minify?: boolean } = {}): Promise<string[]> {
  const pages = listPages();
  for (const p of pages) await buildPage(p, outDir, opts);
  return pages;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? DEFAULT_OUT_DIR);
  buildAll(out).then(
    (pages) => console.error(`web console: built ${pages.length} page(s) (${pages.join(', ') || 'none'}) into ${out}`),
    (e: unknown) => {
      console.error(`web console build failed: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
