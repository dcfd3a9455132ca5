import { Redis } from 'ioredis';

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
