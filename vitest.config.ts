import { configDefaults, defineConfig } from 'vitest/config';

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
