import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { AuditService } from '../audit/service.js';
import type { Auth } from '../auth/service.js';
import type { LiveService } from '../live/service.js';
import type { CursorCodec } from '../platform/cursor.js';
import type { Settings } from '../settings.js';
import type { Storage } from '../storage/database.js';
import { workspaceRoutes } from './routes.js';
import { WorkspacesService } from './service.js';

/** Preferences and shared workspaces: the service, told of user deletions, and its notices on `user:{id}`. */
export function assembleWorkspaces(options: {
  storage: Storage;
  audit: AuditService;
  auth: Auth;
  live: LiveService;
  settings: Settings;
  log: FastifyBaseLogger;
  now?: () => number;
}): WorkspacesService {
  const { storage, audit, auth, live, settings, log, now } = options;
  const service = new WorkspacesService({
    db: storage.db,
    engine: storage.engine,
    audit,
    users: auth.users,
    settings: settings.workspaces,
    publish: (userId, data) => live.bus.publish(`user:${userId}`, data),
    log,
    now,
  });
  auth.users.onDelete((userId, executor) => service.forgetUser(userId, executor));
  // A new role or new groups change what reaches the user; told once, by the instance that made the change.
  auth.events.on('user.changed', ({ userId, change }, origin) => {
    if (origin === 'here' && (change === 'role' || change === 'groups')) service.reachChanged(userId);
  });
  return service;
}

export async function registerWorkspaceRoutes(
  api: FastifyInstance,
  options: { service: WorkspacesService; cursors: () => CursorCodec; settings: Settings },
): Promise<void> {
  await api.register(workspaceRoutes, {
    service: options.service,
    cursors: options.cursors,
    bodyLimit: options.settings.workspaces.maxDocumentBytes,
  });
}
