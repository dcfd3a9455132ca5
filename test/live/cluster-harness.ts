import { afterAll, afterEach } from 'vitest';
import { startTestApp, type TestApp } from '../fixture.js';
import { RedisRun } from './redis-run.js';

export type StartOptions = NonNullable<Parameters<typeof startTestApp>[0]>;
export type Cleanup = () => void | Promise<void>;

/** What a cluster test file starts on the way, all of it undone after each test. */
export interface ClusterHarness {
  /** This file's keys on the shared Redis, deleted after the last test. */
  readonly redis: RedisRun;
  /** Starts an app that closes after the test. */
  start(options?: StartOptions): Promise<TestApp>;
  /** Two instances of one deployment: the second on the first's database. */
  pair(
    env: Record<string, string>,
    envOfSecond?: Record<string, string>,
  ): Promise<{ a: TestApp; b: TestApp }>;
  /** Runs `cleanup` after the test, before the apps close; the last one registered runs first. */
  cleanup(cleanup: Cleanup): void;
  /** Closes one of the started apps during the test (an instance stopping). */
  stop(t: TestApp): Promise<void>;
}

/** Registers the file's afterEach and afterAll; call it once, at the top of the file. */
export function clusterHarness(): ClusterHarness {
  const redis = new RedisRun();
  const started: TestApp[] = [];
  const cleanups: Cleanup[] = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    // The instance that owns the database closes last, since its close drops it.
    for (const t of started.splice(0).reverse()) await t.close();
  });
  afterAll(() => redis.end());

  const start = async (options?: StartOptions) => {
    const t = await startTestApp(options);
    started.push(t);
    return t;
  };

  return {
    redis,
    start,
    async pair(env, envOfSecond = env) {
      const a = await start({ env });
      const b = await start({ env: envOfSecond, shareDatabaseWith: a });
      return { a, b };
    },
    cleanup(cleanup) {
      cleanups.push(cleanup);
    },
    async stop(t) {
      await t.close();
      started.splice(started.indexOf(t), 1);
    },
  };
}
