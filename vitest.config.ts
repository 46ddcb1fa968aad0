import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';

// Every process the tests spawn (the CLI, the federations' aggregator and parties: several hundred
// in `npm test`) inherits this and reuses Node's on-disk compile cache — V8 code and the stripped
// TypeScript of each module, keyed by the source's hash, so an edited file is recompiled — instead
// of compiling the CLI's ~200 modules again: start-up falls from ~1.8 s to ~1 s per process.
// Only speed changes; an NODE_COMPILE_CACHE the caller set is kept.
process.env['NODE_COMPILE_CACHE'] ??= join(tmpdir(), 'blindsum-node-compile-cache');

// Parties retry a lost aggregator after at most 1 s (production: backoff up to 30 s), so a test that
// restarts the aggregator does not wait for a backoff that grew while it was down. No test asserts
// the backoff schedule; reconnection itself is still what the restart tests check.
process.env['BLINDSUM_TEST_RECONNECT_MAX_MS'] ??= '1000';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Large-vector tests run with `npm run test:scale` (vitest.scale.config.ts).
    exclude: [...configDefaults.exclude, 'test/scale/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
