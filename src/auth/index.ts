import type { FastifyInstance } from 'fastify';
import type { CursorCodec } from '../platform/cursor.js';
import type { SecurityScheme } from '../platform/openapi.js';
import type { Settings } from '../settings.js';
import { authHooks } from './guard.js';
import { refusalAudit } from './refusal-audit.js';
import { authRoutes } from './routes.js';
import type { Auth } from './service.js';
import { usersRoutes } from './users-routes.js';

/** How clients authenticate, for the OpenAPI document. */
export const SECURITY_SCHEMES: Record<string, SecurityScheme> = {
  session: {
    type: 'apiKey',
    in: 'cookie',
    name: 'session',
    description: 'Session cookie set by sign-in; writes also need X-CSRF-Token.',
  },
  bearer: { type: 'http', scheme: 'bearer', description: 'An access token (JWT) or an API key (sbk_…).' },
};

/** The origins cookie-authenticated writes may come from: the public URL's and the CORS list's. */
export function allowedOrigins(settings: Pick<Settings, 'publicUrl' | 'corsOrigins'>): Set<string> {
  return new Set([new URL(settings.publicUrl).origin, ...settings.corsOrigins.filter((o) => o !== '*')]);
}

/**
 * Authentication on the API scope it is given: decorates requests with the caller and returns the two
 * onRequest hooks, `authenticate` (who is calling) and `authorize` (CSRF, Origin and the route's access
 * rule), for the composition root to add in order with whatever belongs between them, and the onError
 * hook that audits refusals. Routes declare what they need in `config.access`; without it, a signed-in user.
 */
export function authPipeline(api: FastifyInstance, options: { auth: Auth; settings: Settings }) {
  api.decorateRequest('principal', null);
  api.decorateRequest('authFailure', null);
  // Every route that needs credentials says so in the OpenAPI document.
  api.addHook('onRoute', (route) => {
    if (route.config?.access?.public || route.schema?.hide) return;
    route.schema = { ...route.schema, security: [{ session: [] }, { bearer: [] }] };
  });
  return {
    ...authHooks(options.auth, allowedOrigins(options.settings)),
    auditRefusals: refusalAudit(options.auth.deps.audit, api.log),
  };
}

/** The /auth and /users routes. */
export async function registerAuthRoutes(
  api: FastifyInstance,
  options: { auth: Auth; cursors: () => CursorCodec; settings: Settings },
): Promise<void> {
  const { auth, cursors, settings } = options;
  await api.register(authRoutes, { prefix: '/auth', auth, cursors, cookieSecure: settings.cookieSecure });
  await api.register(usersRoutes, { prefix: '/users', auth, cursors });
}
