import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

export const redisUrl = process.env.SWITCHBOARD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** One run's keys on a shared Redis: a prefix of their own per test, all deleted at the end. */
export class RedisRun {
  readonly direct = new Redis(redisUrl);
  private readonly root = `sbtest:${randomBytes(6).toString('hex')}:`;
  private tests = 0;

  prefix(): string {
    this.tests += 1;
    return `${this.root}t${this.tests}:`;
  }

  async keysUnder(prefix: string): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.direct.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    return found;
  }

  /** What FLUSHALL would do to one prefix, without touching other runs. */
  async flush(prefix: string): Promise<void> {
    const keys = await this.keysUnder(prefix);
    if (keys.length > 0) await this.direct.del(...keys);
  }

  async end(): Promise<void> {
    await this.flush(this.root);
    await this.direct.quit();
  }
}

/** Polls until `ok` holds or `ms` pass; returns the last value seen so the assertion shows it. */
export async function eventually<T>(
  probe: () => Promise<T> | T,
  ok: (value: T) => boolean,
  ms = 3000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await sleep(20);
  }
}
