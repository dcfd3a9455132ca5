import cookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { DestinationStream } from 'pino';
import { Registry } from 'prom-client';
import { auditRoutes } from './audit/routes.js';
import type { AuditService } from './audit/service.js';
import { authPipeline, registerAuthRoutes, SECURITY_SCHEMES } from './auth/index.js';
import { assembleAuth } from './auth/open.js';
import { RedisAuthEvents } from './auth/redis-events.js';
import { RedisTicketStore } from './auth/redis-tickets.js';
import type { Auth } from './auth/service.js';
import type { TicketStore } from './auth/tickets.js';
import { assembleEndpoints, type Endpoints, registerConfigRoutes } from './endpoints/index.js';
import { assembleLive, registerLiveRoutes } from './live/index.js';
import { RedisBus } from './live/redis-bus.js';
import type { LiveService } from './live/service.js';
import { clientAddressOf } from './platform/client-ip.js';
import { CursorCodec } from './platform/cursor.js';
import { registerErrorHandling, sendProblem, toAppError } from './platform/errors.js';
import { registerHealth } from './platform/health.js';
import { registerMetrics } from './platform/metrics.js';
import { registerOpenApi } from './platform/openapi.js';
import { connectRedis, redisReady } from './platform/redis.js';
import { loggerOptions, registerRequestContext, requestIdOf } from './platform/request-context.js';
import { registerHeaderCountLimit, requestLimitOptions } from './platform/request-limits.js';
import { registerSecurity } from './platform/security.js';
import { registerRateLimits } from './ratelimit/index.js';
import type { Settings } from './settings.js';
import { secureDataDirs } from './storage/data-dir.js';
import { openStorage, type Storage } from './storage/database.js';
import { VERSION } from './version.js';

export interface AppOverrides {
  /** Where JSON logs go (default: standard output). */
  logStream?: DestinationStream;
  /** An already opened storage, e.g. shared by a test. */
  storage?: Storage;
  /** Extra routes registered under /api/v1 after the features (they pass authentication too). */
  routes?: FastifyPluginAsync;
  /** The clock every expiry is measured against (tests move it; default Date.now). */
  now?: () => number;
  /** Where connect tickets live (default: this process's memory). */
  ticketStore?: TicketStore;
  /** The environment `${env:…}` references read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface Switchboard {
  readonly server: FastifyInstance;
  readonly storage: Storage;
  /** Identity services: users, sessions, API keys, tickets. */
  readonly auth: Auth;
  readonly audit: AuditService;
  /** Channels, the event bus and open live connections. */
  readonly live: LiveService;
  /** The endpoint configuration: versions, activation, the producers of the active one. */
  readonly endpoints: Endpoints;
  /** Ready after start(): derived from the signing secret. */
  readonly cursors: () => CursorCodec;
  /** Migrates, resolves the signing secret, and listens. Returns the URL. */
  start(): Promise<string>;
  /** Startup hooks without listening (for in-process requests). */
  ready(): Promise<void>;
  /** Stops accepting, lets in-flight requests finish within the grace period, closes the database. */
  shutdown(): Promise<void>;
}

/** The composition root: wires the platform and every feature. */
export async function createApp(settings: Settings, overrides: AppOverrides = {}): Promise<Switchboard> {
  const storage = overrides.storage ?? openStorage(settings.database, settings.databasePoolSize);
  const logger = overrides.logStream
    ? { ...loggerOptions(settings.logLevel), stream: overrides.logStream }
    : loggerOptions(settings.logLevel);
  const server = Fastify({
    logger,
    // Deprecated for fastify 6 in favour of logController, whose typed form needs every hook spelled out.
    disableRequestLogging: true,
    requestIdLogLabel: 'request_id',
    genReqId: requestIdOf,
    ...requestLimitOptions(settings),
    trustProxy: settings.trustedProxies.length > 0 ? [...settings.trustedProxies] : false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: {
      customOptions: { allErrors: true, removeAdditional: false, coerceTypes: 'array', useDefaults: true },
    },
    // Errors raised before routing (a malformed URL, say) take the same path as every other error.
    frameworkErrors: (error, request, reply) => sendProblem(request, reply, toAppError(error)),
  });

  const metrics = new Registry();
  const redis = settings.redisUrl ? connectRedis(settings.redisUrl, settings.redisKeyPrefix) : undefined;
  const { auth, audit, open } = assembleAuth(settings, storage, {
    now: overrides.now,
    ticketStore: overrides.ticketStore ?? (redis ? new RedisTicketStore(redis, overrides.now) : undefined),
  });
  // Sessions ended and users changed here must end the streams other instances hold for them.
  const authRelay = redis ? new RedisAuthEvents(redis, auth.events, server.log) : undefined;
  let cursorCodec: CursorCodec | undefined;
  const cursors = () => {
    if (!cursorCodec) throw new Error('cursors are available once the app is ready');
    return cursorCodec;
  };

  server.addHook('onReady', async () => {
    for (const warning of secureDataDirs(settings)) server.log.warn(warning);
    const secret = await open();
    cursorCodec = new CursorCodec(secret);
    if (redis) {
      await Promise.all([
        redisReady(redis, 2000).catch((error: Error) =>
          server.log.warn(
            { reason: error.message },
            'Redis is not answering yet; limits count in memory until it does',
          ),
        ),
        // Until it is subscribed, sessions ended elsewhere reach this instance's streams by the re-check.
        authRelay?.start(2000).catch(() => {}),
      ]);
    }
    await auth.setup.prepare(server.log);
    auth.startMaintenance(server.log);
    await endpoints.start();
    if (!settings.cookieSecure) {
      server.log.warn(
        { public_url: settings.publicUrl },
        'SWITCHBOARD_PUBLIC_URL is plain HTTP on the network: cookies are sent without Secure; serve HTTPS in production',
      );
      server.log.warn(
        { public_url: settings.publicUrl },
        'SWITCHBOARD_PUBLIC_URL is plain HTTP on the network: WebSockets are ws://, so connect tickets, bearer tokens and live data cross it unencrypted; serve HTTPS (wss://) in production',
      );
    }
  });
  server.addHook('onClose', async () => {
    auth.stopMaintenance();
    await endpoints.stop();
    await live.close();
    authRelay?.close();
    await rateLimits.close();
    redis?.disconnect();
    await storage.close();
  });

  registerErrorHandling(server);
  registerRequestContext(server);
  registerHeaderCountLimit(server, settings.maxHeaders);
  await registerSecurity(server, settings);
  const rateLimits = registerRateLimits(server, {
    settings: settings.limits,
    redis,
    metrics,
    log: server.log,
    now: overrides.now,
  });
  const live = assembleLive({
    settings: settings.live,
    auth,
    acquireSlot: rateLimits.acquireSlot,
    now: overrides.now,
    bus: redis ? (channels) => new RedisBus(redis, (name) => channels.historyOf(name)) : undefined,
  });
  const endpoints = assembleEndpoints({
    storage,
    audit,
    live,
    settings,
    log: server.log,
    env: overrides.env ?? process.env,
    now: overrides.now,
  });
  await registerOpenApi(server, VERSION, SECURITY_SCHEMES);
  registerHealth(server, {
    version: VERSION,
    checks: { database: () => storage.ping() },
    degraded: async () => ((await rateLimits.degraded()) ? ['redis'] : []),
    timeoutMs: settings.readinessTimeoutMs,
    startedAt: Date.now(),
  });
  registerMetrics(server, settings.metricsToken, metrics);
  await server.register(cookie);
  await server.register(
    async (api) => {
      // The request pipeline, in order (docs/rate-limits.md lists it); hooks apply to the routes registered after them.
      const { authenticate, authorize, auditRefusals } = authPipeline(api, { auth, settings });
      api.addHook('onError', auditRefusals);
      api.addHook('onRequest', authenticate);
      api.addHook('onRequest', rateLimits.callerTier);
      api.addHook('onRequest', authorize);
      api.addHook('onRequest', rateLimits.routeLimits);
      api.addHook('preValidation', rateLimits.usernameLimits);
      api.addHook('onSend', rateLimits.releaseSlot);
      await registerAuthRoutes(api, { auth, cursors, settings });
      await api.register(auditRoutes, { prefix: '/audit', audit, cursors });
      await registerConfigRoutes(api, { endpoints, settings });
      // Upgrades bypass the hooks above, so the IP floor is applied to them here.
      const addressOf = clientAddressOf(settings.trustedProxies);
      await registerLiveRoutes(api, {
        live,
        settings,
        now: overrides.now,
        admitUpgrade: (request) => rateLimits.floor(addressOf(request)),
      });
      if (overrides.routes) await api.register(overrides.routes);
    },
    { prefix: '/api/v1' },
  );

  let shuttingDown: Promise<void> | undefined;
  // Responses finishing during shutdown close their keep-alive connection, so close() need not wait on it.
  server.addHook('onSend', async (_request, reply) => {
    if (shuttingDown) reply.header('connection', 'close');
  });
  return {
    server,
    storage,
    auth,
    audit,
    live,
    endpoints,
    cursors,
    async ready() {
      await server.ready();
    },
    async start() {
      return server.listen({ host: settings.host, port: settings.port });
    },
    shutdown() {
      shuttingDown ??= (async () => {
        const deadline = setTimeout(() => {
          server.log.warn(
            { grace_ms: settings.shutdownGraceMs },
            'grace period over; closing remaining connections',
          );
          server.server.closeAllConnections();
        }, settings.shutdownGraceMs);
        try {
          await server.close();
        } finally {
          clearTimeout(deadline);
        }
      })();
      return shuttingDown;
    },
  };
}
