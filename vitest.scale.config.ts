import { defineConfig } from 'vitest/config';

/** Large-vector tests (10^6 values): `npm run test:scale`, never part of `npm test`. */
export default defineConfig({
  test: {
    include: ['test/scale/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
