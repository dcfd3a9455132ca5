import { Redis, ReplyError } from 'ioredis';
import { AppError, ErrorCode } from './problem.js';

/** How long a Redis command may take before its caller treats Redis as away. */
export const REDIS_COMMAND_TIMEOUT_MS = 500;

/**
 * A Redis client that fails fast instead of queueing: no offline queue, no per-command retries, a short
 * command timeout, and reconnection attempts at most a second apart. Callers fall back while it is away and
 * pick it up again when it returns.
 */
export function connectRedis(url: string, keyPrefix: string): Redis {
  return new Redis(url, {
    keyPrefix,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 1000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    lazyConnect: true,
  });
}

/** Resolves once the client is connected, or rejects after `timeoutMs`; it keeps trying either way. */
export async function redisReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'wait') redis.connect().catch(() => {});
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

/** Replies that mean "not now" rather than "wrong": a dataset still loading, a replica, a failover. */
const TRANSIENT_REPLY = /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN)\b/;

/**
 * Awaits a Redis call for a feature that cannot work without Redis: Redis being away (no connection, a
 * timeout, a transient reply) becomes a 503 with code 8001; any other reply error is a bug and passes through.
 */
export async function orUnavailable<T>(feature: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof ReplyError && !TRANSIENT_REPLY.test((error as Error).message)) throw error;
    throw new AppError(ErrorCode.unavailable, `${feature} is unavailable: Redis is not answering`, {
      retryAfter: 1,
    });
  }
}
