/**
 * Module aliases of the browser bundles (web/build.ts): Node-only imports of shared library code
 * resolve to shims that throw if ever called (web/lib/shims/). A page may import only pure code;
 * the shims make the bundle build, and the page test checks the console works without them.
 */
import { join } from 'node:path';

export function browserAliases(webRoot: string): Record<string, string> {
  const shims = join(webRoot, 'lib', 'shims');
  return {
    '@grpc/grpc-js': join(shims, 'grpc-js.ts'),
    'node:crypto': join(shims, 'node-unavailable.ts'),
    'node:fs/promises': join(shims, 'node-unavailable.ts'),
  };
}
