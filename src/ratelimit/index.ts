import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import { AUTHENTICATION, AUTHORIZATION } from '../auth/index.js';
import { writeAtHead } from '../platform/answer-headers.js';
import { addressKey } from '../platform/client-ip.js';
import type { LimitSettings } from '../settings.js';
import { FallbackStore } from './fallback-store.js';
import { MemoryStore } from './memory-store.js';
import { type ConcurrencyName, OPERATIONS, type OperationName } from './operations.js';
import { RedisStore } from './redis-store.js';
import { RateLimits, tighter, writeRateLimitHeaders } from './service.js';
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
    /** The client address as limits count it (platform/client-ip.ts addressKey); '' until the floor sets it. */
    rateLimitAddress: string;
    /** The concurrency slot this request holds, if its route is capped. */
    concurrencySlot: Slot | null;
  }
}

/** Health checks are for load balancers and orchestrators, which must never be refused. */
const UNCOUNTED = new Set(['/healthz', '/readyz']);

/**
 * The path of a request's URL as sent, without its query. Compared with UNCOUNTED as sent, rather than as
 * routed: another spelling of a health check's path is counted like any request, never the reverse.
 */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** The plugin on the whole server that decorates requests with the verdict and slot. */
export const RATE_LIMITS = 'switchboard-rate-limits';

export interface RateLimitFeature {
  readonly limits: RateLimits;
  /** Whether limits are counted in Redis (shared by every instance) or in this process's memory. */
  readonly store: 'redis' | 'memory';
  /** True while Redis is configured but unreachable, and limits are counted per instance; asks Redis. */
  degraded(): Promise<boolean>;
  /** For the whole server: the IP floor on every request and the RateLimit-* headers on every answer. */
  readonly plugin: FastifyPluginAsync;
  /**
   * For the API scope, between authentication and authorization: the per-user or unauthenticated tier,
   * which needs `request.principal` and counts the requests authorization then refuses (401s included).
   */
  readonly callerTier: FastifyPluginAsync;
  /**
   * For the API scope, after authorization: the route's operations and concurrency cap, keyed by user or
   * address, those keyed by the username in the body (sign-in) once it is parsed, and the slot given back
   * before the answer goes out.
   */
  readonly routeLimits: FastifyPluginAsync;
  /** The IP floor for requests Fastify's hooks never see (WebSocket upgrades); throws the 429. */
  floor(address: string): Promise<void>;
  /** A slot of `key` out of `cap`, on the same store as the limits (shared across instances on Redis). */
  acquireSlot(key: string, cap: number): Promise<Slot | null>;
  close(): Promise<void>;
}

/**
 * Builds the limiter on memory or, with a Redis client, on Redis with the memory fallback; its plugins
 * put it on the request path.
 */
export function assembleRateLimits(options: {
  settings: LimitSettings;
  redis?: Redis;
  metrics: Registry;
  log: FastifyBaseLogger;
  /** The clock of the memory store (Redis uses its own). */
  now?: () => number;
}): RateLimitFeature {
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

  // The verdict closest to refusing is kept, and its headers join the answer's head as it is written: once,
  // however many limits a request passes, and without going through the reply's headers. A refusal's own
  // headers (a 429) are the reply's and win.
  const note = (request: FastifyRequest, reply: FastifyReply, verdict: Verdict | null) => {
    const kept = request.rateLimitVerdict;
    const tightest = tighter(kept, verdict);
    if (tightest === kept || tightest === null) return;
    request.rateLimitVerdict = tightest;
    writeAtHead(reply.raw, writeVerdict, request);
  };
  const noteLater = (request: FastifyRequest, reply: FastifyReply, done: HookDone) => (verdict: Verdict) => {
    note(request, reply, verdict);
    done();
  };

  const plugin = fp(
    async (server) => {
      server.decorateRequest('rateLimitVerdict', null);
      server.decorateRequest('rateLimitAddress', '');
      server.decorateRequest('concurrencySlot', null);
      if (!settings.enabled) return;
      // Callback style, and the memory store answers at once: no promise, no closure per request.
      server.addHook('onRequest', (request, reply, done) => {
        if (UNCOUNTED.has(pathOf(request.url))) return done();
        // Computed once: behind trusted proxies it is a walk through X-Forwarded-For.
        const address = addressKey(request.ip);
        request.rateLimitAddress = address;
        let verdict: Verdict | undefined;
        try {
          verdict = limits.floorNow(address);
        } catch (error) {
          return done(error as Error);
        }
        if (verdict === undefined) {
          limits.floor(address).then(noteLater(request, reply, done), done);
          return;
        }
        note(request, reply, verdict);
        done();
      });
    },
    { name: RATE_LIMITS, fastify: '5.x' },
  );

  const callerTier = fp(
    async (api) => {
      // Off, no hook at all: each one, however quick to return, is a step every request takes.
      if (!settings.enabled) return;
      api.addHook('onRequest', (request, reply, done) => {
        const userId = request.principal?.userId ?? null;
        const address = addressOf(request);
        let verdict: Verdict | undefined;
        try {
          verdict = limits.callerNow(userId, address);
        } catch (error) {
          return done(error as Error);
        }
        if (verdict === undefined) {
          limits.caller(userId, address).then(noteLater(request, reply, done), done);
          return;
        }
        note(request, reply, verdict);
        done();
      });
    },
    {
      name: 'switchboard-rate-limit-caller',
      fastify: '5.x',
      dependencies: [RATE_LIMITS, AUTHENTICATION],
      decorators: { request: ['principal', 'rateLimitVerdict'] },
    },
  );

  async function byRoute(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const route = request.routeOptions.config.rateLimit;
    if (!route) return;
    const userId = request.principal?.userId ?? null;
    const byAddress = `ip:${addressOf(request)}`;
    const byUser = userId === null ? byAddress : `user:${userId}`;
    for (const name of route.operations ?? []) {
      const key = OPERATIONS[name].key;
      if (key === 'username') continue;
      note(request, reply, await limits.operation(name, key === 'ip' ? byAddress : byUser));
    }
    if (route.concurrency) {
      const slot = await limits.acquire(route.concurrency, byUser);
      // 'close' comes however the response ends: sent, failed, or the client went away.
      if (slot) {
        request.concurrencySlot = slot;
        reply.raw.once('close', () => slot.release());
      }
    }
  }

  async function byUsername(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const route = request.routeOptions.config.rateLimit;
    if (!route?.operations) return;
    const username = usernameIn(request.body);
    if (username === null) return;
    for (const name of route.operations) {
      if (OPERATIONS[name].key === 'username') {
        note(request, reply, await limits.operation(name, `username:${username}`));
      }
    }
  }

  type SendDone = (error: Error | null, payload?: unknown) => void;
  // Before the answer is sent, so a client that sends its next request on receiving it finds the slot free;
  // 'close' still covers answers that never get this far.
  const releaseSlot = (request: FastifyRequest, _reply: FastifyReply, payload: unknown, done: SendDone) => {
    request.concurrencySlot?.release();
    done(null, payload);
  };

  const routeLimits = fp(
    async (api) => {
      if (!settings.enabled) return;
      // On the routes that declare limits only (as route hooks, after every hook of the API's): the others,
      // the busiest reads among them, take no step for limits they do not have.
      api.addHook('onRoute', (route) => {
        const declared = route.config?.rateLimit;
        if (!declared) return;
        route.onRequest = [...hooksOf(route.onRequest), byRoute];
        if (declared.operations) route.preValidation = [...hooksOf(route.preValidation), byUsername];
        if (declared.concurrency) route.onSend = [...hooksOf(route.onSend), releaseSlot];
      });
    },
    {
      name: 'switchboard-rate-limit-routes',
      fastify: '5.x',
      // Requests authorization refuses hold no slot and spend no operation.
      dependencies: [RATE_LIMITS, AUTHORIZATION],
      decorators: { request: ['principal', 'rateLimitVerdict', 'concurrencySlot'] },
    },
  );

  return {
    limits,
    store: redis ? 'redis' : 'memory',
    degraded: async () => (fallback ? !(await fallback.check()) : false),
    plugin,
    callerTier,
    routeLimits,
    async floor(address) {
      if (settings.enabled) await limits.floor(addressKey(address));
    },
    acquireSlot: (key, cap) => store.acquire(key, cap),
    close: () => store.close(),
  };
}

type HookDone = (error?: Error) => void;

/** The client address limits count by: the floor's, or (on a path the floor does not count) worked out now. */
function addressOf(request: FastifyRequest): string {
  return request.rateLimitAddress || addressKey(request.ip);
}

/** The RateLimit-* headers of the verdict a request holds when its answer's head is written. */
function writeVerdict(request: FastifyRequest, headers: OutgoingHttpHeaders): void {
  const verdict = request.rateLimitVerdict;
  if (verdict !== null) writeRateLimitHeaders(verdict, headers);
}

function usernameIn(body: unknown): string | null {
  if (body === null || typeof body !== 'object') return null;
  const username = (body as { username?: unknown }).username;
  if (typeof username !== 'string' || username.length === 0 || username.length > 256) return null;
  return username.trim().toLowerCase();
}

/** A route's hooks of one kind as a list: Fastify takes one function or several. */
function hooksOf<T>(hooks: T | T[] | undefined): T[] {
  if (hooks === undefined) return [];
  return Array.isArray(hooks) ? hooks : [hooks];
}
