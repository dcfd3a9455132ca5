import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The fault suite (`npm run test:faults`): a server process killed with SIGKILL in the middle of writes,
 * SWITCHBOARD_FAULT_ROUNDS times (5 by default, as .ci/run runs it; the full run is 100), on SQLite and, with
 * SWITCHBOARD_TEST_DATABASE_URL, on PostgreSQL (test/faults/crash.test.ts); and a server whose data directory
 * is a small tmpfs filled up under its writes (test/faults/disk-full.test.ts: it mounts one, so it needs
 * root, and fails rather than skips without). It drives the built server (dist/), which the npm script
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
