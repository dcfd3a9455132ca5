import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { AuditService } from '../audit/service.js';
import type { LiveService } from '../live/service.js';
import type { Settings } from '../settings.js';
import type { Storage } from '../storage/database.js';
import { FunctionTester } from './function-test.js';
import { LeaseStore } from './lease-store.js';
import { LeaseKeeper } from './producers/leases.js';
import { configRoutes } from './routes.js';
import { EndpointRuntime } from './runtime.js';
import { EndpointConfigService } from './service.js';

/** How often an instance checks that it runs the active version, besides the bus telling it. */
const SYNC_INTERVAL_MS = 10_000;

export interface Endpoints {
  readonly service: EndpointConfigService;
  readonly runtime: EndpointRuntime;
  readonly tester: FunctionTester;
  /** Bootstraps, loads the active version, and follows activations made on other instances. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The endpoint-configuration feature: versions, the runtime that runs the active one, its producers. */
export function assembleEndpoints(options: {
  storage: Storage;
  audit: AuditService;
  live: LiveService;
  settings: Settings;
  log: FastifyBaseLogger;
  env: NodeJS.ProcessEnv;
  now?: () => number;
}): Endpoints {
  const { storage, audit, live, settings, log, env, now } = options;
  const holder = `${hostname().slice(0, 40)}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const leases = new LeaseKeeper(new LeaseStore(storage.db), holder, settings.endpoints.leaseMs, log, now);
  const runtime = new EndpointRuntime(live, leases, settings.endpoints, log, env, now);
  const service = new EndpointConfigService({
    db: storage.db,
    audit,
    runtime,
    settings: settings.endpoints,
    log,
    env,
    publish: (notice) => live.bus.publish('config', notice),
    now,
  });
  const tester = new FunctionTester(runtime, settings.endpoints.functionsDir, env);
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  const sync = () => {
    service
      .sync()
      .catch((error: Error) =>
        log.warn({ reason: error.message }, 'could not check the active configuration'),
      );
  };
  return {
    service,
    runtime,
    tester,
    async start() {
      await service.start();
      // Another instance's activation reaches this one through the bus at once, or the poll within 10 s.
      unsubscribe = live.bus.subscribe('config', (event) => {
        const notice = event.data as { type?: string; version?: string };
        if (notice.type === 'activated' && notice.version !== runtime.loaded) sync();
      });
      timer = setInterval(sync, SYNC_INTERVAL_MS).unref();
    },
    async stop() {
      clearInterval(timer);
      unsubscribe?.();
      await runtime.stop();
    },
  };
}

export async function registerConfigRoutes(
  api: FastifyInstance,
  options: { endpoints: Endpoints; settings: Settings },
): Promise<void> {
  await api.register(configRoutes, {
    prefix: '/config',
    service: options.endpoints.service,
    tester: options.endpoints.tester,
    bodyLimit: options.settings.endpoints.configBodyLimitBytes,
  });
}
