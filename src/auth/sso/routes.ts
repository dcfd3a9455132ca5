import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ok } from '../../platform/envelope.js';
import { Envelope } from '../../platform/pagination.js';
import { setSessionCookies } from '../cookies.js';
import { tokenResponse } from '../present.js';
import { clientMeta } from '../request.js';
import { TokenResponse } from '../schemas.js';
import type { Auth } from '../service.js';
import type { IssuedSession } from '../sessions-service.js';
import { PENDING_LOGIN_COOKIE, PENDING_LOGIN_PATH, PENDING_LOGIN_TTL_S } from './pending-login.js';

export interface SsoRoutesOptions {
  auth: Auth;
  cookieSecure: boolean;
}

const tags = ['auth'];
const SIGN_IN_LIMITS = { operations: ['login.ip'] as const };

const Providers = Type.Object({
  local: Type.Literal(true),
  oidc: Type.Union([Type.Object({ display_name: Type.String(), login_url: Type.String() }), Type.Null()]),
  msal: Type.Union([
    Type.Object({ client_id: Type.String(), tenants: Type.Array(Type.String()), authority: Type.String() }),
    Type.Null(),
  ]),
});

/** Single sign-on under /auth: the providers, OIDC's login and callback, and MSAL id tokens (docs/sso.md). */
export const ssoRoutes: FastifyPluginAsyncTypebox<SsoRoutesOptions> = async (app, { auth, cookieSecure }) => {
  const { sso } = auth;
  const now = auth.deps.now;

  /** The new session's cookies; whatever session the browser held before ends, as at a password sign-in. */
  async function signedIn(request: FastifyRequest, reply: FastifyReply, issued: IssuedSession) {
    const previous = request.principal?.sessionId;
    if (previous) await auth.sessions.revoke(previous, 'replaced');
    setSessionCookies(reply, issued, cookieSecure, now());
  }

  app.get(
    '/providers',
    {
      config: { access: { public: true } },
      schema: { tags, summary: 'Which sign-in methods are on', response: { 200: Envelope(Providers) } },
    },
    async () => ok(sso.providers()),
  );

  app.get(
    '/oidc/login',
    {
      config: { access: { public: true }, rateLimit: SIGN_IN_LIMITS },
      schema: {
        tags,
        summary: 'Start an OpenID Connect sign-in (302 to the provider)',
        answers: { 302: { description: 'To the provider; Location says where', type: 'null' } },
        querystring: Type.Object(
          { return_to: Type.Optional(Type.String({ maxLength: 2048 })) },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const { url, cookie } = await sso.startOidc(request.query.return_to, clientMeta(request), request.log);
      // Lax, unlike the session's cookies: it must come back with the provider's redirect to the callback.
      reply.setCookie(PENDING_LOGIN_COOKIE, cookie, {
        httpOnly: true,
        secure: cookieSecure,
        sameSite: 'lax',
        path: PENDING_LOGIN_PATH,
        maxAge: PENDING_LOGIN_TTL_S,
      });
      return reply.redirect(url, 302);
    },
  );

  app.get(
    '/oidc/callback',
    {
      config: { access: { public: true }, rateLimit: SIGN_IN_LIMITS },
      schema: {
        tags,
        summary:
          "The provider's redirect back: finishes the sign-in (302 to return_to with the session cookies)",
        errors: [401],
        answers: { 302: { description: 'Signed in; Location is return_to', type: 'null' } },
      },
    },
    async (request, reply) => {
      const sealed = request.cookies[PENDING_LOGIN_COOKIE];
      // Spent or not, the pending login is over.
      reply.clearCookie(PENDING_LOGIN_COOKIE, {
        httpOnly: true,
        secure: cookieSecure,
        sameSite: 'lax',
        path: PENDING_LOGIN_PATH,
      });
      const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
      const { issued, returnTo } = await sso.finishOidc(sealed, query, clientMeta(request), request.log);
      await signedIn(request, reply, issued);
      return reply.redirect(returnTo, 302);
    },
  );

  app.post(
    '/msal',
    {
      config: {
        access: { public: true, csrfExempt: true, sameOriginOnly: true },
        rateLimit: SIGN_IN_LIMITS,
      },
      schema: {
        tags,
        summary: 'Sign in with a Microsoft Entra ID (MSAL) id token',
        body: Type.Object(
          { id_token: Type.String({ minLength: 1, maxLength: 16_384 }) },
          { additionalProperties: false },
        ),
        response: { 200: Envelope(TokenResponse) },
        errors: [401],
      },
    },
    async (request, reply) => {
      const issued = await sso.signInWithMsal(request.body.id_token, clientMeta(request), request.log);
      await signedIn(request, reply, issued);
      return ok(tokenResponse(issued, now()));
    },
  );
};
