import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { CursorCodec } from '../platform/cursor.js';
import type { SecurityScheme } from '../platform/openapi.js';
import type { Settings } from '../settings.js';
import { allowedOrigins } from './credentials.js';
import { authHooks } from './guard.js';
import { refusalAudit } from './refusal-audit.js';
import { authRoutes } from './routes.js';
import type { Auth } from './service.js';
import { ssoRoutes } from './sso/routes.js';
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

export const AUTHENTICATION = 'switchboard-authentication';
export const AUTHORIZATION = 'switchboard-authorization';

interface AuthPluginOptions {
  auth: Auth;
  settings: Settings;
}

/**
 * Who is calling, on the API scope it is registered in: decorates requests with `principal` (the caller,
 * or null) and `authFailure` (why a credential presented did not authenticate), works them out in an
 * onRequest hook, marks the routes that need credentials in the OpenAPI document, and audits refusals.
 */
export const authentication = fp<AuthPluginOptions>(
  async (api, { auth, settings }) => {
    api.decorateRequest('principal', null);
    api.decorateRequest('authFailure', null);
    api.addHook('onRoute', (route) => {
      if (route.config?.access?.public || route.schema?.hide) return;
      route.schema = { ...route.schema, security: [{ session: [] }, { bearer: [] }] };
    });
    api.addHook('onError', refusalAudit(auth.deps.audit, api.log));
    api.addHook('onRequest', authHooks(auth, allowedOrigins(settings)).authenticate);
  },
  { name: AUTHENTICATION, fastify: '5.x' },
);

/**
 * What the caller may do: an onRequest hook applying CSRF, Origin and the route's access rule (its
 * `config.access`; without it, a signed-in user). Separate from authentication so that whatever needs
 * the caller before the refusals (the per-user rate limit) can be registered between them.
 */
export const authorization = fp<AuthPluginOptions>(
  async (api, { auth, settings }) => {
    api.addHook('onRequest', authHooks(auth, allowedOrigins(settings)).authorize);
  },
  {
    name: AUTHORIZATION,
    fastify: '5.x',
    dependencies: [AUTHENTICATION],
    decorators: { request: ['principal', 'authFailure'] },
  },
);

/** The /auth and /users routes. */
export async function registerAuthRoutes(
  api: FastifyInstance,
  options: { auth: Auth; cursors: () => CursorCodec; settings: Settings },
): Promise<void> {
  const { auth, cursors, settings } = options;
  await api.register(authRoutes, { prefix: '/auth', auth, cursors, cookieSecure: settings.cookieSecure });
  await api.register(ssoRoutes, { prefix: '/auth', auth, cookieSecure: settings.cookieSecure });
  await api.register(usersRoutes, { prefix: '/users', auth, cursors });
}
