import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The cluster suite (`npm run test:cluster`): separate `switchboard serve` processes behind Debian's nginx,
 * on PostgreSQL and Redis. It runs when SWITCHBOARD_TEST_DATABASE_URL, SWITCHBOARD_TEST_REDIS_URL and
 * SWITCHBOARD_TEST_NGINX are all set (.ci/run sets them); it drives the built server (dist/), which the
 * npm script builds first.
 */
const needed = ['SWITCHBOARD_TEST_DATABASE_URL', 'SWITCHBOARD_TEST_REDIS_URL', 'SWITCHBOARD_TEST_NGINX'];
const missing = needed.filter((name) => !process.env[name]);
if (!process.env.VITEST_WORKER_ID && missing.length > 0) {
  console.log(
    `Left out the cluster suite (test/cluster): set ${missing.join(', ')} (for example postgres://postgres@127.0.0.1:5432/test, redis://127.0.0.1:6379, /usr/sbin/nginx) to run it.`,
  );
}

export default defineConfig({
  test: {
    include: missing.length > 0 ? [] : ['test/cluster/**/*.test.ts'],
    exclude: [...configDefaults.exclude],
    passWithNoTests: true,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // One cluster at a time: the machine has two cores and each suite starts three servers.
    fileParallelism: false,
  },
});
