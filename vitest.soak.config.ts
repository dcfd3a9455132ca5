import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The soak (`npm run test:soak`): the engine of bench/soak for SWITCHBOARD_SOAK_SECONDS (180 by default, as
 * .ci/run runs it; the bench's own run is 30 minutes) against the built server (dist/), which the npm script
 * builds first. SWITCHBOARD_SOAK_SUBSCRIBERS sets the number of subscribers (2,000 by default).
 */
const seconds = Number(process.env.SWITCHBOARD_SOAK_SECONDS ?? 180);

export default defineConfig({
  test: {
    include: ['test/soak/**/*.test.ts'],
    exclude: [...configDefaults.exclude],
    // Set-up (users, subscribers), the soak itself, and stopping everything.
    testTimeout: 60_000,
    hookTimeout: (seconds + 600) * 1000,
    fileParallelism: false,
  },
});
