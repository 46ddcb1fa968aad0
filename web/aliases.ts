/**
 * Module aliases of the browser bundles (web/build.ts): Node-only imports of shared library code
 * resolve to shims that throw if ever called (web/lib/shims/); @grpc/grpc-js is mapped by the
 * build's plugin (web/build.ts) to web/lib/grpc-js-browser.ts. A page may import only pure code;
 * the shims make the bundle build, and the page test checks the console works without them.
 */
import { join } from 'node:path';

export function browserAliases(webRoot: string): Record<string, string> {
  const shims = join(webRoot, 'lib', 'shims');
  return {
    'node:crypto': join(shims, 'node-unavailable.ts'),
    'node:fs/promises': join(shims, 'node-unavailable.ts'),
  };
}
