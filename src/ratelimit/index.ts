import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import { addressKey } from '../platform/client-ip.js';
import type { LimitSettings } from '../settings.js';
import { FallbackStore } from './fallback-store.js';
import { MemoryStore } from './memory-store.js';
import { type ConcurrencyName, OPERATIONS, type OperationName } from './operations.js';
import { RedisStore } from './redis-store.js';
import { RateLimits, rateLimitHeaders, tighter } from './service.js';
import type { LimitStore, Slot } from './store.js';
import type { Verdict } from './window.js';

/** What a route spends besides the global tiers, declared in its `config.rateLimit`. */
export interface RouteRateLimit {
  /** Named operations whose sliding windows this route counts against. */
  operations?: readonly OperationName[];
  /** A cap on this route's simultaneous requests per user. */
  concurrency?: ConcurrencyName;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    rateLimit?: RouteRateLimit;
  }
  interface FastifyRequest {
    /** The limit closest to refusing this request, reported in the RateLimit-* headers. */
    rateLimitVerdict: Verdict | null;
    /** The concurrency slot this request holds, if its route is capped. */
    concurrencySlot: Slot | null;
  }
}

/** Health checks are for load balancers and orchestrators, which must never be refused. */
const UNCOUNTED = new Set(['/healthz', '/readyz']);

export interface RateLimitFeature {
  readonly limits: RateLimits;
  /** True while Redis is configured but unreachable, and limits are counted per instance; asks Redis. */
  degraded(): Promise<boolean>;
  /** API-scope hook between authentication and authorization: the per-user or unauthenticated tier. */
  callerTier(request: FastifyRequest): Promise<void>;
  /** API-scope hook after authorization: the route's operations and concurrency cap, keyed by user or address. */
  routeLimits(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** API-scope hook once the body is parsed: operations keyed by the username in it (sign-in). */
  usernameLimits(request: FastifyRequest): Promise<void>;
  /** API-scope onSend hook: gives the concurrency slot back before the answer goes out. */
  releaseSlot(request: FastifyRequest): Promise<void>;
  /** The IP floor for requests Fastify's hooks never see (WebSocket upgrades); throws the 429. */
  floor(address: string): Promise<void>;
  /** A slot of `key` out of `cap`, on the same store as the limits (shared across instances on Redis). */
  acquireSlot(key: string, cap: number): Promise<Slot | null>;
  close(): Promise<void>;
}

/**
 * Builds the limiter on memory or, with a Redis client, on Redis with the memory fallback, and registers
 * the IP floor and the RateLimit headers on the whole server.
 */
export function registerRateLimits(
  server: FastifyInstance,
  options: {
    settings: LimitSettings;
    redis?: Redis;
    metrics: Registry;
    log: FastifyBaseLogger;
    /** The clock of the memory store (Redis uses its own). */
    now?: () => number;
  },
): RateLimitFeature {
  const { settings, redis, log } = options;
  const refusals = new Counter({
    name: 'switchboard_rate_limit_refusals_total',
    help: 'Requests refused with a 429, by the limit that refused them',
    labelNames: ['limit'],
    registers: [options.metrics],
  });
  const onMemory = new Gauge({
    name: 'switchboard_rate_limit_fallback',
    help: '1 while Redis is unreachable and rate limits are counted in this instance alone',
    registers: [options.metrics],
  });
  const fallbacks = new Counter({
    name: 'switchboard_rate_limit_fallbacks_total',
    help: 'Times rate limiting fell back from Redis to this instance',
    registers: [options.metrics],
  });
  const memory = new MemoryStore(options.now);
  let fallback: FallbackStore | undefined;
  let store: LimitStore = memory;
  if (redis) {
    fallback = new FallbackStore(new RedisStore(redis), memory, redis, {
      fellBack(reason) {
        onMemory.set(1);
        fallbacks.inc();
        log.warn({ reason }, 'Redis is unreachable: rate limits now count in this instance only');
      },
      recovered() {
        onMemory.set(0);
        log.info('Redis is back: rate limits are shared across instances again');
      },
    });
    store = fallback;
  }
  const limits = new RateLimits(settings, store, { refused: (limit) => refusals.inc({ limit }) });

  const note = (request: FastifyRequest, verdict: Verdict | null) => {
    request.rateLimitVerdict = tighter(request.rateLimitVerdict, verdict);
  };
  const addressOf = (request: FastifyRequest) => addressKey(request.ip);

  server.decorateRequest('rateLimitVerdict', null);
  server.decorateRequest('concurrencySlot', null);
  if (settings.enabled) {
    server.addHook('onRequest', async (request) => {
      if (UNCOUNTED.has(request.routeOptions.url ?? '')) return;
      note(request, await limits.floor(addressOf(request)));
    });
    server.addHook('onSend', async (request, reply) => {
      const verdict = request.rateLimitVerdict;
      if (verdict && !reply.hasHeader('ratelimit-limit')) reply.headers(rateLimitHeaders(verdict));
    });
  }

  return {
    limits,
    degraded: async () => (fallback ? !(await fallback.check()) : false),
    async callerTier(request) {
      if (!settings.enabled) return;
      note(request, await limits.caller(request.principal?.userId ?? null, addressOf(request)));
    },
    async routeLimits(request, reply) {
      const route = request.routeOptions.config.rateLimit;
      if (!settings.enabled || !route) return;
      const userId = request.principal?.userId ?? null;
      const byAddress = `ip:${addressOf(request)}`;
      const byUser = userId === null ? byAddress : `user:${userId}`;
      for (const name of route.operations ?? []) {
        const key = OPERATIONS[name].key;
        if (key === 'username') continue;
        note(request, await limits.operation(name, key === 'ip' ? byAddress : byUser));
      }
      if (route.concurrency) {
        const slot = await limits.acquire(route.concurrency, byUser);
        // 'close' comes however the response ends: sent, failed, or the client went away.
        if (slot) {
          request.concurrencySlot = slot;
          reply.raw.once('close', () => slot.release());
        }
      }
    },
    async usernameLimits(request) {
      const route = request.routeOptions.config.rateLimit;
      if (!settings.enabled || !route?.operations) return;
      const username = usernameIn(request.body);
      if (username === null) return;
      for (const name of route.operations) {
        if (OPERATIONS[name].key === 'username') {
          note(request, await limits.operation(name, `username:${username}`));
        }
      }
    },
    async releaseSlot(request) {
      // Before the answer is sent, so a client that sends its next request on receiving it finds the slot
      // free; 'close' still covers answers that never get this far.
      request.concurrencySlot?.release();
    },
    async floor(address) {
      if (settings.enabled) await limits.floor(addressKey(address));
    },
    acquireSlot: (key, cap) => store.acquire(key, cap),
    close: () => store.close(),
  };
}

function usernameIn(body: unknown): string | null {
  if (body === null || typeof body !== 'object') return null;
  const username = (body as { username?: unknown }).username;
  if (typeof username !== 'string' || username.length === 0 || username.length > 256) return null;
  return username.trim().toLowerCase();
}
