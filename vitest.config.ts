import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Suites that need a Redis server. They run when SWITCHBOARD_TEST_REDIS_URL is set (.ci/run sets it), so that
 * `npm test` passes on a machine with Node alone; a new suite that needs Redis belongs in this list.
 */
const REDIS_SUITES = [
  'test/live/cluster.test.ts',
  'test/live/redis-bus.test.ts',
  'test/ratelimit/redis.test.ts',
  'test/endpoints/cluster.test.ts',
  'test/auth/auth-cache-cluster.test.ts',
  'test/live/ws-redis-away.test.ts',
  'test/client/restart-redis.test.ts',
];
const withRedis = Boolean(process.env.SWITCHBOARD_TEST_REDIS_URL);
/**
 * Suites that drive a real browser (SWITCHBOARD_TEST_BROWSER names its executable; .ci/run installs
 * Debian's chromium and sets it).
 */
const BROWSER_SUITES = [
  'test/config-ui/browser.test.ts',
  'test/client/browser.test.ts',
  'test/demo/browser.test.ts',
];
const withBrowser = Boolean(process.env.SWITCHBOARD_TEST_BROWSER);
if (!process.env.VITEST_WORKER_ID) {
  if (!withRedis) {
    console.log(
      `Left out ${REDIS_SUITES.length} suites that need Redis (${REDIS_SUITES.join(', ')}): set SWITCHBOARD_TEST_REDIS_URL=redis://127.0.0.1:6379 to run them.`,
    );
  }
  if (!withBrowser) {
    console.log(
      `Left out ${BROWSER_SUITES.length} suite(s) that need a browser (${BROWSER_SUITES.join(', ')}): set SWITCHBOARD_TEST_BROWSER=/usr/bin/chromium (or another Chromium) to run them.`,
    );
  }
  // The whole suite runs on one engine per run; .ci/run runs it twice.
  if (!process.env.SWITCHBOARD_TEST_DATABASE_URL) {
    console.log(
      'Left out the run on PostgreSQL (this one is on SQLite): set SWITCHBOARD_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test to run the suite on it.',
    );
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [
      ...configDefaults.exclude,
      // Separate processes behind nginx: `npm run test:cluster` (vitest.cluster.config.ts).
      'test/cluster/**',
      // Server processes killed mid-write: `npm run test:faults` (vitest.faults.config.ts).
      'test/faults/**',
      // Generated requests by the ten thousand: `npm run test:fuzz` (vitest.fuzz.config.ts). What they found
      // stays in npm test (test/fuzz/regressions.test.ts).
      'test/fuzz/http.test.ts',
      'test/fuzz/live.test.ts',
      'test/fuzz/config.test.ts',
      // Minutes of mixed load against the built server: `npm run test:soak` (vitest.soak.config.ts).
      'test/soak/**',
      ...(withRedis ? [] : REDIS_SUITES),
      ...(withBrowser ? [] : BROWSER_SUITES),
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
