import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The fuzz suite (`npm run test:fuzz`): requests drawn from the OpenAPI document the server serves, for
 * every operation, as every role and as nobody, each answer held to the document (test/fuzz/contract.ts);
 * WebSocket frames and SSE query strings; configuration documents drawn from the configuration's JSON
 * Schema through save, diff and activate. SWITCHBOARD_FUZZ_REQUESTS requests (10,000 by default, as CI runs
 * it; the full run is 100,000), on SQLite and, with SWITCHBOARD_TEST_DATABASE_URL, on PostgreSQL;
 * SWITCHBOARD_FUZZ_SEED replays a run (every run prints its seed).
 */
export default defineConfig({
  test: {
    include: ['test/fuzz/http.test.ts', 'test/fuzz/live.test.ts', 'test/fuzz/config.test.ts'],
    exclude: [...configDefaults.exclude],
    testTimeout: 4 * 3600_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
