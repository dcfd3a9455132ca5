import type { FastifyInstance } from 'fastify';
import type { CursorCodec } from '../platform/cursor.js';
import type { SecurityScheme } from '../platform/openapi.js';
import type { Settings } from '../settings.js';
import { authHooks } from './guard.js';
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
 * Registers authentication on the API scope it is given (so every route there passes it) and the /auth
 * and /users routes. Routes declare what they need in `config.access`; without it, a signed-in user.
 */
export async function registerAuth(
  api: FastifyInstance,
  options: { auth: Auth; cursors: () => CursorCodec; settings: Settings },
): Promise<void> {
  const { auth, cursors, settings } = options;
  const hooks = authHooks(auth, allowedOrigins(settings));
  api.decorateRequest('principal', null);
  api.decorateRequest('authFailure', null);
  api.addHook('onRequest', hooks.authenticate);
  api.addHook('onRequest', hooks.authorize);
  // Every route that needs credentials says so in the OpenAPI document.
  api.addHook('onRoute', (route) => {
    if (route.config?.access?.public || route.schema?.hide) return;
    route.schema = { ...route.schema, security: [{ session: [] }, { bearer: [] }] };
  });
  await api.register(authRoutes, { prefix: '/auth', auth, cursors, cookieSecure: settings.cookieSecure });
  await api.register(usersRoutes, { prefix: '/users', auth, cursors });
}
