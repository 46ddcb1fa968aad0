import { defineConfig } from 'vitest/config';

/** npm run test:scale: tests at 30 parties or 10^5–10^6 statistics (minutes each), never in npm test. */
export default defineConfig({
  test: {
    include: ['test/scale/**/*.test.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
