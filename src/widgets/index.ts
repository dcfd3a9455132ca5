import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { AuditService } from '../audit/service.js';
import type { Settings } from '../settings.js';
import type { Storage } from '../storage/database.js';
import { widgetAssetRoutes, widgetRoutes } from './routes.js';
import { WidgetsService } from './service.js';

/** The widget registry's service on the app's storage. */
export function assembleWidgets(options: {
  storage: Storage;
  audit: AuditService;
  settings: Settings;
  log: FastifyBaseLogger;
  now?: () => number;
}): WidgetsService {
  return new WidgetsService({
    db: options.storage.db,
    audit: options.audit,
    settings: options.settings.widgets,
    log: options.log,
    now: options.now ?? Date.now,
  });
}

/** /api/v1/widgets, in the API scope (its hooks authenticate and authorize). */
export async function registerWidgetRoutes(api: FastifyInstance, service: WidgetsService): Promise<void> {
  await api.register(widgetRoutes, { prefix: '/widgets', service });
}

/** /widget-assets/…, in a scope of its own that the caller gives the same authentication hooks. */
export async function registerWidgetAssetRoutes(
  scope: FastifyInstance,
  service: WidgetsService,
): Promise<void> {
  await scope.register(widgetAssetRoutes, { service });
}
