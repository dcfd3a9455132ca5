import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyPluginAsync } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, type Reply } from '../client.js';
import { startTestApp, type TestApp } from '../fixture.js';
import { TcpProxy } from './tcp-proxy.js';

const redisUrl = process.env.SWITCHBOARD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Every key this run writes lives under it, so runs sharing a Redis never see each other's counts. */
const runPrefix = `sbtest:${randomBytes(6).toString('hex')}:`;
const METRICS_TOKEN = 'metrics-token-0123456789';
const ME = '/api/v1/auth/me';
const SLOW = '/api/v1/test/slow';
const UNREACHABLE = 'Redis is unreachable: rate limits now count in this instance only';

let direct: Redis;
let tests = 0;
const open: TestApp[] = [];
const proxies: TcpProxy[] = [];

beforeAll(() => {
  direct = new Redis(redisUrl);
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});

afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await direct.scan(cursor, 'MATCH', `${runPrefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await direct.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await direct.quit();
});

/** A prefix of its own per test: the counts of one test must not spend another's budget. */
function freshPrefix(): string {
  tests += 1;
  return `${runPrefix}t${tests}:`;
}

async function app(env: Record<string, string>, routes?: FastifyPluginAsync): Promise<TestApp> {
  const t = await startTestApp({ env, routes });
  open.push(t);
  return t;
}

async function proxy(): Promise<TcpProxy> {
  const target = new URL(redisUrl);
  const p = new TcpProxy(target.hostname, Number(target.port || 6379));
  proxies.push(p);
  await p.start();
  return p;
}

async function keysUnder(prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await direct.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/** Polls a condition that depends on real sockets reconnecting; fails with the last value seen. */
async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await sleep(50);
  }
}

const remaining = (res: Reply) => Number(res.headers['ratelimit-remaining']);
const retryAfter = (res: Reply) => Number(res.headers['retry-after']);
const readyz = (t: TestApp) => t.client().call('/readyz');
const degraded = async (t: TestApp) => (await readyz(t)).body?.degraded as string[] | undefined;

/** Waits until the instance is back on Redis, then checks it said so in its log and its metric. */
async function expectBackOnRedis(t: TestApp): Promise<void> {
  expect(
    await eventually(
      () => degraded(t),
      (d) => d?.length === 0,
      5000,
    ),
  ).toEqual([]);
  expect(logged(t, 'Redis is back')).toBe(true);
  expect(await fallbackGauge(t)).toBe('0');
}
const fallbackGauge = async (t: TestApp) => {
  const res = await t.client().call('/metrics', { bearer: METRICS_TOKEN });
  return /^switchboard_rate_limit_fallback (\d+)$/m.exec(String(res.body))?.[1];
};
const logged = (t: TestApp, message: string) => t.logs.some((line) => String(line.msg).startsWith(message));

/** A public route capped at one in flight per caller whose requests wait until the test lets them go. */
class Gate extends EventEmitter {
  open = false;
  private readonly waiting: (() => void)[] = [];

  pass(): Promise<void> {
    if (this.open) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.emit('enter');
    });
  }

  releaseAll(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  routes: FastifyPluginAsync = async (api) => {
    api.get(
      '/test/slow',
      { config: { access: { public: true }, rateLimit: { concurrency: 'config.test' } } },
      async () => {
        await this.pass();
        return { done: true };
      },
    );
  };
}

/** The reply to a request that should be refused; fails at once, rather than hang, if it reaches the handler. */
async function refusedOrEntered(gate: Gate, t: TestApp): Promise<Reply> {
  const res = await Promise.race([t.client().call(SLOW), once(gate, 'enter').then(() => null)]);
  if (res === null) throw new Error(`${SLOW} got past its concurrency cap`);
  return res;
}

describe('rate limits on a shared Redis', () => {
  it('count the unauthenticated tier once across instances, in Redis under the key prefix', async () => {
    const prefix = freshPrefix();
    const env = {
      SWITCHBOARD_REDIS_URL: redisUrl,
      SWITCHBOARD_REDIS_KEY_PREFIX: prefix,
      SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '4',
    };
    const a = await app(env);
    const b = await app(env);
    const seen: number[] = [];
    for (const t of [a, a, b, b]) {
      const res = await t.client().call(ME);
      expect(res.status).toBe(401);
      seen.push(remaining(res));
    }
    expect(seen).toEqual([3, 2, 1, 0]);
    for (const t of [a, b]) {
      const res = await t.client().call(ME);
      expect(res.status).toBe(429);
      expect(errorCode(res)).toBe(5000);
      expect(retryAfter(res)).toBeGreaterThanOrEqual(1);
    }
    expect((await keysUnder(prefix)).length).toBeGreaterThan(0);
  });

  it('count a per-operation limit across instances', async () => {
    const env = {
      SWITCHBOARD_REDIS_URL: redisUrl,
      SWITCHBOARD_REDIS_KEY_PREFIX: freshPrefix(),
      SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '1000',
      SWITCHBOARD_RATE_LIMITS: 'login.ip=3/1m',
    };
    const a = await app(env);
    const b = await app(env);
    const login = (t: TestApp) =>
      t.client().call('/api/v1/auth/login', { json: { username: 'nobody', password: 'not-the-password' } });
    for (const t of [a, b, a]) expect((await login(t)).status).toBe(401);
    const refused = await login(b);
    expect(refused.status).toBe(429);
    expect(errorCode(refused)).toBe(5001);
    expect(retryAfter(refused)).toBeGreaterThanOrEqual(1);
  });

  it('cap concurrent requests across instances, and free the slot when the request ends', async () => {
    const gate = new Gate();
    const env = {
      SWITCHBOARD_REDIS_URL: redisUrl,
      SWITCHBOARD_REDIS_KEY_PREFIX: freshPrefix(),
      // The poll below spends the tier on its refused tries.
      SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '1000',
    };
    const a = await app(env, gate.routes);
    const b = await app(env, gate.routes);
    try {
      const entered = once(gate, 'enter');
      const first = a.client().call(SLOW);
      await entered;
      const refused = await refusedOrEntered(gate, b);
      expect(refused.status).toBe(429);
      expect(errorCode(refused)).toBe(5002);
      expect(retryAfter(refused)).toBeGreaterThanOrEqual(1);
      gate.releaseAll();
      expect((await first).status).toBe(200);
      gate.open = true;
      expect((await b.client().call(SLOW)).status).toBe(200);

      // A client that hangs up mid-request must not keep its slot.
      gate.open = false;
      const hungUp = once(gate, 'enter');
      const socket = connect(Number(new URL(a.url).port), '127.0.0.1');
      socket.on('error', () => {});
      socket.write(`GET ${SLOW} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      await hungUp;
      expect(errorCode(await refusedOrEntered(gate, b))).toBe(5002);
      socket.destroy();
      gate.open = true;
      const after = await eventually(
        () => b.client().call(SLOW),
        (res) => res.status === 200,
        3000,
      );
      expect(after.status).toBe(200);
    } finally {
      gate.releaseAll();
    }
  });
});

describe('rate limits when Redis goes away', () => {
  it('fall back to each instance’s memory, say so, and share counts again once Redis is back', async () => {
    const redis = await proxy();
    const env = {
      SWITCHBOARD_REDIS_URL: redis.url,
      SWITCHBOARD_REDIS_KEY_PREFIX: freshPrefix(),
      SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '3',
      SWITCHBOARD_METRICS_TOKEN: METRICS_TOKEN,
    };
    const a = await app(env);
    const b = await app(env);
    expect(remaining(await a.client().call(ME))).toBe(2);
    expect(remaining(await b.client().call(ME))).toBe(1);
    expect(await degraded(a)).toEqual([]);
    expect(await fallbackGauge(a)).toBe('0');

    await redis.stop();
    const statuses: number[] = [];
    const meA = async () => {
      const res = await a.client().call(ME);
      statuses.push(res.status);
      return res;
    };
    expect(
      await eventually(
        () => degraded(a),
        (d) => d?.includes('redis') ?? false,
        1500,
      ),
    ).toEqual(['redis']);
    const ready = await readyz(a);
    expect(ready.status).toBe(200);
    expect(ready.body.degraded).toEqual(['redis']);
    expect(logged(a, UNREACHABLE)).toBe(true);
    expect(a.logs.find((line) => line.msg === UNREACHABLE)?.level).toBe(40);
    expect(await fallbackGauge(a)).toBe('1');
    // Memory starts empty: A has its own three, and B, counting alone, is not charged for them.
    for (let i = 0; i < 3; i += 1) expect((await meA()).status).toBe(401);
    const refused = await meA();
    expect(refused.status).toBe(429);
    expect(errorCode(refused)).toBe(5000);
    expect(retryAfter(refused)).toBeGreaterThanOrEqual(1);
    const alone = await b.client().call(ME);
    expect(alone.status).toBe(401);
    expect(remaining(alone)).toBe(2);
    expect(statuses.every((s) => s < 500)).toBe(true);

    await redis.start();
    for (const t of [a, b]) await expectBackOnRedis(t);
    // Back on Redis's two counted requests: A is no longer refused by its memory, and B then spends the last.
    const shared = await a.client().call(ME);
    expect(shared.status).toBe(401);
    expect(remaining(shared)).toBe(0);
    expect(errorCode(await b.client().call(ME))).toBe(5000);
  });

  it('start with Redis unreachable and count in memory', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const address = closed.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const t = await app({
      SWITCHBOARD_REDIS_URL: `redis://127.0.0.1:${port}`,
      SWITCHBOARD_REDIS_KEY_PREFIX: freshPrefix(),
      SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '2',
    });
    const ready = await readyz(t);
    expect(ready.status).toBe(200);
    expect(ready.body.degraded).toEqual(['redis']);
    const first = await t.client().call(ME);
    expect(first.status).toBe(401);
    expect(remaining(first)).toBe(1);
    expect((await t.client().call(ME)).status).toBe(401);
    const refused = await t.client().call(ME);
    expect(refused.status).toBe(429);
    expect(errorCode(refused)).toBe(5000);
    expect(logged(t, UNREACHABLE)).toBe(true);
  });

  it('fall back when Redis hangs, and return when it answers again', async () => {
    const redis = await proxy();
    const prefix = freshPrefix();
    const t = await app({
      SWITCHBOARD_REDIS_URL: redis.url,
      SWITCHBOARD_REDIS_KEY_PREFIX: prefix,
      SWITCHBOARD_METRICS_TOKEN: METRICS_TOKEN,
    });
    expect((await t.client().call(ME)).status).toBe(401);
    expect(await degraded(t)).toEqual([]);

    redis.pause();
    // The connection stays open, so only a command's timeout can tell that Redis stopped answering.
    // Readiness asks Redis itself: it notices before any request is counted.
    expect(await degraded(t)).toEqual(['redis']);
    const res = await t.client().call(ME);
    expect(res.status).toBe(401);
    expect(Number(res.headers['ratelimit-limit'])).toBeGreaterThan(0);
    expect(await fallbackGauge(t)).toBe('1');
    expect(logged(t, UNREACHABLE)).toBe(true);
    expect(logged(t, 'Redis is back')).toBe(false);

    redis.resume();
    await expectBackOnRedis(t);
  });
});
