import cookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, LogController } from 'fastify';
import type { DestinationStream } from 'pino';
import { Registry } from 'prom-client';
import { auditRoutes } from './audit/routes.js';
import type { AuditService } from './audit/service.js';
import { assembleAuth } from './auth/assemble.js';
import { authentication, authorization, registerAuthRoutes, SECURITY_SCHEMES } from './auth/index.js';
import { RedisAuthEvents } from './auth/redis-events.js';
import { RedisTicketStore } from './auth/redis-tickets.js';
import type { Auth } from './auth/service.js';
import type { TicketStore } from './auth/tickets.js';
import { assembleConfigUi, registerConfigUi } from './config-ui/index.js';
import { assembleDemo, registerDemo } from './demo/index.js';
import { assembleEndpoints, type Endpoints, registerConfigRoutes } from './endpoints/index.js';
import { registerAsyncApi } from './live/asyncapi.js';
import { assembleLive, registerLiveRoutes } from './live/index.js';
import { RedisBus } from './live/redis-bus.js';
import type { LiveService } from './live/service.js';
import { answersWith } from './platform/answer-headers.js';
import { clientAddressOf } from './platform/client-ip.js';
import { CursorCodec } from './platform/cursor.js';
import { registerErrorHandling, sendProblem, toAppError } from './platform/errors.js';
import { registerHealth } from './platform/health.js';
import { registerMetrics } from './platform/metrics.js';
import { registerOpenApi } from './platform/openapi.js';
import { connectRedis, redisReady } from './platform/redis.js';
import { loggerOptions, registerRequestContext, requestIdOf } from './platform/request-context.js';
import {
  acceptJsonBodies,
  closesConnection,
  registerHeaderCountLimit,
  requestLimitOptions,
} from './platform/request-limits.js';
import { lazyRequestLoggers } from './platform/request-logger.js';
import { withoutPassword } from './platform/secrets.js';
import { registerSecurity, securityHeaders } from './platform/security.js';
import { holdTickShape } from './platform/tick-shape.js';
import { validatorsCoercingTextOnly } from './platform/validation.js';
import { assembleRateLimits } from './ratelimit/index.js';
import { publicUrlIsDefault, type Settings } from './settings.js';
import { type Foundation, openFoundation } from './start-up.js';
import { secureDataDirs } from './storage/data-dir.js';
import { type Storage, shownDatabase } from './storage/database.js';
import { VERSION } from './version.js';
import { assembleWidgets, registerWidgetAssetRoutes, registerWidgetRoutes } from './widgets/index.js';
import type { WidgetsService } from './widgets/service.js';
import { assembleWorkspaces, registerWorkspaceRoutes } from './workspaces/index.js';
import type { WorkspacesService } from './workspaces/service.js';

/** Connections the kernel may queue before the server accepts them (capped by net.core.somaxconn). */
const LISTEN_BACKLOG = 65_535;

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
  /** Preferences, workspaces and their sharing. */
  readonly workspaces: WorkspacesService;
  /** Widget bundles: their registration and the files served from them. */
  readonly widgets: WidgetsService;
  /** Pagination cursors, signed with a key derived from the instance secret. */
  readonly cursors: () => CursorCodec;
  /**
   * Listens, then loads the endpoint configuration: a start that fails to listen records nothing about
   * it (no recovery for a version the running server serves). Returns the URL.
   */
  start(): Promise<string>;
  /** Startup hooks and the endpoint configuration, without listening (for in-process requests). */
  ready(): Promise<void>;
  /** Stops accepting, lets in-flight requests finish within the grace period, closes the database. */
  shutdown(): Promise<void>;
}

/**
 * The composition root: the start-up sequence (storage opened and migrated, the instance secret, the
 * audit log), then the platform and every feature on it.
 */
export async function createApp(settings: Settings, overrides: AppOverrides = {}): Promise<Switchboard> {
  holdTickShape();
  const foundation = await openFoundation(settings, { storage: overrides.storage, now: overrides.now });
  try {
    return await assemble(settings, overrides, foundation);
  } catch (error) {
    if (!overrides.storage) await foundation.storage.close();
    throw error;
  }
}

async function assemble(
  settings: Settings,
  overrides: AppOverrides,
  foundation: Foundation,
): Promise<Switchboard> {
  const { storage, audit } = foundation;
  // Read before anything connects: a directory that cannot be served stops the start here.
  const configUi = await assembleConfigUi(settings.configUi);
  const demo = await assembleDemo(settings.demo);
  const logger = overrides.logStream
    ? { ...loggerOptions(settings.logLevel), stream: overrides.logStream }
    : loggerOptions(settings.logLevel);
  const limits = requestLimitOptions(settings);
  const answerHeaders = securityHeaders(settings.publicUrl);
  let shuttingDown: Promise<void> | undefined;
  const server = Fastify({
    logger,
    childLoggerFactory: lazyRequestLoggers,
    // Per-request lines are request-context.ts's; the top-level options for this are deprecated (FSTDEP023, 024).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    genReqId: requestIdOf,
    ...limits,
    // The security headers and the request id, on answers written before routing too.
    http: {
      ...limits.http,
      ServerResponse: answersWith({
        fixed: answerHeaders.everyAnswer,
        forPages: answerHeaders.pages,
        requestId: requestIdOf,
        // While shutting down, so that close() need not wait on keep-alive connections.
        closesConnection: (response, statusCode) =>
          closesConnection(response, statusCode, shuttingDown !== undefined),
      }),
    },
    trustProxy: settings.trustedProxies.length > 0 ? [...settings.trustedProxies] : false,
    // A workspace name of 100 characters, each percent-encoded from up to 4 bytes.
    routerOptions: { maxParamLength: 1200 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: {
      customOptions: { allErrors: true, removeAdditional: false, coerceTypes: 'array', useDefaults: true },
    },
    schemaController: validatorsCoercingTextOnly(),
    // Errors raised before routing (a malformed URL, say) take the same path as every other error.
    frameworkErrors: (error, request, reply) => sendProblem(request, reply, toAppError(error)),
  });

  const metrics = new Registry();
  const redis = settings.redisUrl ? connectRedis(settings.redisUrl, settings.redisKeyPrefix) : undefined;
  const auth = assembleAuth(settings, foundation, {
    now: overrides.now,
    ticketStore: overrides.ticketStore ?? (redis ? new RedisTicketStore(redis, overrides.now) : undefined),
  });
  // Sessions ended and users changed here must end the streams other instances hold for them.
  const authRelay = redis ? new RedisAuthEvents(redis, auth.events, server.log) : undefined;
  const cursorCodec = new CursorCodec(foundation.secret);
  const cursors = () => cursorCodec;

  server.addHook('onReady', async () => {
    for (const warning of secureDataDirs(settings)) server.log.warn(warning);
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
    auth.startMaintenance(server.log);
    if (redis && publicUrlIsDefault(settings)) {
      server.log.warn(
        { public_url: settings.publicUrl },
        'SWITCHBOARD_REDIS_URL is set but SWITCHBOARD_PUBLIC_URL is not: tokens are issued for ' +
          `${settings.publicUrl}, and instances with another public URL reject them; give every instance ` +
          'sharing this Redis the same SWITCHBOARD_PUBLIC_URL (docs/live.md)',
      );
    }
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
  acceptJsonBodies(server);
  await registerSecurity(server, {
    headers: answerHeaders.everyAnswer,
    corsOrigins: settings.corsOrigins,
    corsCredentials: settings.corsCredentials,
  });
  const rateLimits = assembleRateLimits({
    settings: settings.limits,
    redis,
    metrics,
    log: server.log,
    now: overrides.now,
  });
  await server.register(rateLimits.plugin);
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
  const workspaces = assembleWorkspaces({
    storage,
    audit,
    auth,
    live,
    settings,
    log: server.log,
    now: overrides.now,
  });
  const widgets = assembleWidgets({ storage, audit, settings, log: server.log, now: overrides.now });
  await registerOpenApi(server, VERSION, SECURITY_SCHEMES, { maxHeaderBytes: settings.maxHeaderBytes });
  registerAsyncApi(server, { version: VERSION, publicUrl: settings.publicUrl });
  // Listening comes before the first admin and the active endpoint configuration are in place: until they
  // are, a load balancer must not send traffic here (a sign-in would fail, streams would be missing).
  let openedForBusiness = false;
  registerHealth(server, {
    version: VERSION,
    checks: {
      database: () => storage.ping(),
      startup: async () => {
        if (!openedForBusiness)
          throw new Error('still starting: the active endpoint configuration is loading');
      },
    },
    // Redis away is a fallback (limits and fan-out per instance), not a reason to take the instance out.
    fallbacks: redis ? { redis: async () => !(await rateLimits.degraded()) } : {},
    timeoutMs: settings.readinessTimeoutMs,
    startedAt: Date.now(),
  });
  registerMetrics(server, settings.metricsToken, metrics);
  await server.register(
    async (api) => {
      // Cookies are the API's alone: the hooks that read and write them stay off every other route.
      await api.register(cookie);
      // The request pipeline, in order (docs/rate-limits.md lists it): each plugin's hooks run in the order
      // the plugins are registered, and apply to the routes registered after them. Each declares what it
      // needs registered before it.
      await api.register(authentication, { auth, settings });
      await api.register(rateLimits.callerTier);
      await api.register(authorization, { auth, settings });
      await api.register(rateLimits.routeLimits);
      await registerAuthRoutes(api, { auth, cursors, settings });
      await api.register(auditRoutes, { prefix: '/audit', audit, cursors });
      await registerConfigRoutes(api, { endpoints, settings });
      await registerWorkspaceRoutes(api, { service: workspaces, cursors, settings });
      await registerWidgetRoutes(api, widgets);
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
  // Widget files sit outside the API (no session cookie reaches them) but are for signed-in callers: the
  // same hooks, in a scope of their own (docs/widgets.md).
  await server.register(
    async (assets) => {
      await assets.register(cookie);
      await assets.register(authentication, { auth, settings });
      await assets.register(rateLimits.callerTier);
      await assets.register(authorization, { auth, settings });
      await registerWidgetAssetRoutes(assets, widgets);
    },
    { prefix: '/widget-assets' },
  );
  // The Config UI's page is public (the API it calls enforces access): no authentication, no cookies.
  await registerConfigUi(server, configUi);
  await registerDemo(server, demo);

  // What a running server does and says for the first time waits until it listens, so that a start that
  // fails (the port taken) leaves no trace: no recovery recorded, no setup token printed and then lost.
  let opened: Promise<void> | undefined;
  const openForBusiness = () =>
    (opened ??= (async () => {
      await auth.setup.prepare(server.log);
      await endpoints.start();
      // Not awaited: readiness does not wait on a registry (a bundle not fetched yet is on its first request).
      if (settings.widgets.prewarm) {
        void widgets
          .prewarm()
          .catch((error: Error) => server.log.warn({ reason: error.message }, 'widget pre-warm failed'));
      }
      openedForBusiness = true;
    })());
  return {
    server,
    storage,
    auth,
    audit,
    live,
    endpoints,
    workspaces,
    widgets,
    cursors,
    async ready() {
      await server.ready();
      await openForBusiness();
    },
    async start() {
      // Node's default accept queue (511) overflows when thousands of clients reconnect at once (after a
      // deploy): each connection dropped there waits a SYN retransmit, a second or more. The kernel caps the
      // figure at net.core.somaxconn.
      const url = await server.listen({ host: settings.host, port: settings.port, backlog: LISTEN_BACKLOG });
      await openForBusiness();
      server.log.info(
        {
          url,
          database: shownDatabase(settings.database),
          bus: redis ? 'redis' : 'memory',
          rate_limit_store: rateLimits.store,
          ...(settings.redisUrl && { redis: withoutPassword(settings.redisUrl) }),
        },
        `Switchboard listening on ${url}`,
      );
      return url;
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
