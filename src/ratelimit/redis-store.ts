import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { LimitStore, Slot } from './store.js';
import { EXACT_LIMIT_MAX, type Verdict, verdict } from './window.js';

/**
 * One hash per key holds the window index and the current and previous counts. The script reads Redis's own
 * clock, so instances whose clocks drift still agree on the window, and counts only a request that fits.
 */
const HIT = `
local limit = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local idx = math.floor(now / w)
local elapsed = now - idx * w
local v = redis.call('HMGET', KEYS[1], 'i', 'c', 'p')
local i = tonumber(v[1])
local cur = tonumber(v[2]) or 0
local prev = tonumber(v[3]) or 0
if i ~= idx then
  if i == idx - 1 then prev = cur else prev = 0 end
  cur = 0
end
local allowed = 0
if prev * (w - elapsed) / w + cur + 1 <= limit then
  cur = cur + 1
  allowed = 1
end
if allowed == 1 or i ~= idx then
  redis.call('HSET', KEYS[1], 'i', idx, 'c', cur, 'p', prev)
  redis.call('PEXPIRE', KEYS[1], 2 * w)
end
return {allowed, prev, cur, elapsed}
`;

/** The exact log: a sorted set of request times; members carry a unique suffix so equal times both count. */
const LOG_HIT = `
local limit = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - w)
local n = redis.call('ZCARD', KEYS[1])
local allowed = 0
if n < limit then
  redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], w)
  allowed = 1
  n = n + 1
end
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local freeing = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
return {allowed, n, now, tonumber(newest[2]) or now, tonumber(freeing[2]) or now}
`;

/**
 * Slots are members of a sorted set scored by when they lapse: a holder renews its slot while its request
 * runs, so the slots of an instance that crashed free themselves after SLOT_TTL_MS.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
`;

const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[2]) == 1 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
end
return 1
`;

export const SLOT_TTL_MS = 30_000;
const SLOT_RENEW_MS = 10_000;

type Scripted = Redis & {
  limitLogHit(
    key: string,
    limit: number,
    windowMs: number,
    id: string,
  ): Promise<[number, number, number, number, number]>;
  limitHit(key: string, limit: number, windowMs: number): Promise<[number, number, number, number]>;
  limitAcquire(key: string, cap: number, ttlMs: number, token: string): Promise<number>;
  limitRenew(key: string, ttlMs: number, token: string): Promise<number>;
};

/** Counters and slots in Redis, shared by every instance on it. */
export class RedisStore implements LimitStore {
  private readonly redis: Scripted;

  constructor(redis: Redis) {
    redis.defineCommand('limitLogHit', { numberOfKeys: 1, lua: LOG_HIT });
    redis.defineCommand('limitHit', { numberOfKeys: 1, lua: HIT });
    redis.defineCommand('limitAcquire', { numberOfKeys: 1, lua: ACQUIRE });
    redis.defineCommand('limitRenew', { numberOfKeys: 1, lua: RENEW });
    this.redis = redis as Scripted;
  }

  async hit(key: string, limit: number, windowMs: number): Promise<Verdict> {
    if (limit <= EXACT_LIMIT_MAX) {
      const [allowed, count, now, newest, freeing] = await this.redis.limitLogHit(
        `rlog:${key}`,
        limit,
        windowMs,
        randomUUID(),
      );
      return {
        allowed: allowed === 1,
        limit,
        remaining: allowed === 1 ? Math.max(0, limit - count) : 0,
        resetMs: Math.max(0, newest + windowMs - now),
        retryAfterMs: allowed === 1 ? 0 : Math.max(1, freeing + windowMs - now),
      };
    }
    const [allowed, previous, current, elapsed] = await this.redis.limitHit(`rl:${key}`, limit, windowMs);
    return verdict(allowed === 1, limit, previous, current, windowMs, elapsed);
  }

  async acquire(key: string, cap: number): Promise<Slot | null> {
    const setKey = `cc:${key}`;
    const token = randomUUID();
    if ((await this.redis.limitAcquire(setKey, cap, SLOT_TTL_MS, token)) !== 1) return null;
    const renewal = setInterval(() => {
      this.redis.limitRenew(setKey, SLOT_TTL_MS, token).catch(() => {
        // Redis is away: the slot lapses on its own, as a crashed instance's would.
      });
    }, SLOT_RENEW_MS).unref();
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        clearInterval(renewal);
        this.redis.zrem(setKey, token).catch(() => {});
      },
    };
  }

  async close(): Promise<void> {}
}
