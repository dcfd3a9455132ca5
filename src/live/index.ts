import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Auth } from '../auth/service.js';
import type { LiveSettings, Settings } from '../settings.js';
import type { EventBus } from './bus.js';
import { ChannelRegistry } from './channels.js';
import { MemoryBus } from './memory-bus.js';
import { streamRoutes } from './routes.js';
import { type AcquireSlot, LiveService } from './service.js';
import { sseRoutes } from './sse.js';
import { wsGateway } from './ws-gateway.js';

/** The live-data feature: channels, the bus, and the routes that deliver it. */
export function assembleLive(options: {
  settings: LiveSettings;
  auth: Auth;
  acquireSlot: AcquireSlot;
  now?: () => number;
  bus?: (channels: ChannelRegistry) => EventBus;
}): LiveService {
  const { settings } = options;
  const channels = new ChannelRegistry({ size: settings.historySize, maxAgeMs: settings.historyMaxAgeMs });
  const bus = options.bus?.(channels) ?? new MemoryBus((name) => channels.historyOf(name), options.now);
  return new LiveService(
    bus,
    channels,
    options.auth,
    options.acquireSlot,
    { connectionsPerUser: settings.connectionsPerUser, recheckMs: settings.recheckMs },
    options.now,
  );
}

/** /streams (list, publish, SSE) and /events under the API scope. */
export async function registerLiveRoutes(
  api: FastifyInstance,
  options: {
    live: LiveService;
    settings: Settings;
    now?: () => number;
    admitUpgrade?: (request: IncomingMessage) => Promise<void>;
  },
): Promise<void> {
  await api.register(streamRoutes, { prefix: '/streams', live: options.live });
  await api.register(sseRoutes, { live: options.live });
  await api.register(wsGateway, options);
}
