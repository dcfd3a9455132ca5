import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The fault suite (`npm run test:faults`): a server process killed with SIGKILL in the middle of writes,
 * SWITCHBOARD_FAULT_ROUNDS times (5 by default, as .ci/run runs it; the full run is 100), on SQLite and, with
 * SWITCHBOARD_TEST_DATABASE_URL, on PostgreSQL. It drives the built server (dist/), which the npm script
 * builds first.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    exclude: [...configDefaults.exclude],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
