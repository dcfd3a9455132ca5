import formbody from '@fastify/formbody';
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken } from '../platform/bearer.js';
import type { CursorCodec } from '../platform/cursor.js';
import { ok } from '../platform/envelope.js';
import { NO_CONTENT } from '../platform/openapi-answers.js';
import { Envelope, keysetPage, PageEnvelope, PageQuery } from '../platform/pagination.js';
import { AppError, ErrorCode } from '../platform/problem.js';
import { clearSessionCookies, setSessionCookies } from './cookies.js';
import { noCredentials, REFRESH_COOKIE, SESSION_COOKIE } from './guard.js';
import { apiKeyItem, meOf, sessionItem, tokenResponse } from './present.js';
import { auditContext, clientMeta } from './request.js';
import { ROLES, roleLevel } from './roles.js';
import {
  ApiKeyBody,
  ApiKeyItem,
  CreatedApiKey,
  IdParams,
  LoginBody,
  Me,
  PasswordChangeBody,
  RefreshBody,
  RolesList,
  ScopeQuery,
  SessionItem,
  SetupBody,
  Ticket,
  TokenResponse,
  Validation,
} from './schemas.js';
import type { Auth } from './service.js';
import type { IssuedSession } from './sessions-service.js';

export interface AuthRoutesOptions {
  auth: Auth;
  cursors: () => CursorCodec;
  cookieSecure: boolean;
}

const PUBLIC_WRITE = { public: true, csrfExempt: true } as const;
/** What starts or renews a session: no token to check yet, but never from a foreign page. */
const SIGN_IN = { ...PUBLIC_WRITE, sameOriginOnly: true } as const;
const tags = ['auth'];

function adminScope(request: FastifyRequest, scope: 'own' | 'all' | undefined): boolean {
  if (scope !== 'all') return false;
  if (request.principal?.role !== 'admin') {
    throw new AppError(ErrorCode.forbidden, 'scope=all is for admins');
  }
  return true;
}

/** The routes under /auth (docs/auth.md). */
export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (
  app,
  { auth, cursors, cookieSecure },
) => {
  await app.register(formbody, { bodyLimit: 16_384 });
  const now = auth.deps.now;

  function signedIn(reply: FastifyReply, issued: IssuedSession) {
    setSessionCookies(reply, issued, cookieSecure, now());
    return ok(tokenResponse(issued, now()));
  }

  app.post(
    '/setup',
    {
      config: { access: SIGN_IN, rateLimit: { operations: ['setup'] } },
      schema: {
        tags,
        summary: 'Create the first admin (needs the setup token)',
        body: SetupBody,
        errors: [401, 409],
        headers: Type.Object({ 'x-setup-token': Type.Optional(Type.String({ maxLength: 256 })) }),
        response: { 201: Envelope(TokenResponse) },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const issued = await auth.setup.setup(
        {
          username: body.username,
          password: body.password,
          fullName: body.full_name,
          token: body.setup_token ?? request.headers['x-setup-token'],
        },
        clientMeta(request),
      );
      reply.code(201);
      return signedIn(reply, issued);
    },
  );

  app.post(
    '/login',
    {
      config: { access: SIGN_IN, rateLimit: { operations: ['login.ip', 'login.username'] } },
      schema: {
        tags,
        summary: 'Sign in with a username and password (JSON or form)',
        body: LoginBody,
        errors: [401],
        response: { 200: Envelope(TokenResponse) },
      },
    },
    async (request, reply) => {
      const issued = await auth.login.login(
        request.body.username,
        request.body.password,
        clientMeta(request),
      );
      // Whatever session the client held before is ended, never carried over into the new one.
      const previous = request.principal?.sessionId;
      if (previous) await auth.sessions.revoke(previous, 'replaced');
      return signedIn(reply, issued);
    },
  );

  app.post(
    '/refresh',
    {
      config: { access: SIGN_IN, rateLimit: { operations: ['refresh'] } },
      schema: {
        tags,
        summary: 'Rotate the refresh token (cookie or body) for a new access token',
        body: RefreshBody,
        errors: [401],
        response: { 200: Envelope(TokenResponse) },
      },
    },
    async (request, reply) => {
      const token = request.body?.refresh_token ?? request.cookies[REFRESH_COOKIE];
      if (!token) {
        throw new AppError(
          ErrorCode.refreshInvalid,
          'no refresh token: send the refresh_token cookie or body field',
        );
      }
      return signedIn(reply, await auth.sessions.refresh(token, clientMeta(request)));
    },
  );

  app.post(
    '/logout',
    {
      config: { access: PUBLIC_WRITE },
      schema: {
        tags,
        summary: 'End the session and clear its cookies (always 204)',
        answers: {
          204: {
            type: 'null',
            description: 'Signed out; End-Session-URL names where to sign out at the provider too',
            headers: { 'end-session-url': { type: 'string', maxLength: 4096 } },
          },
        },
      },
    },
    async (request, reply) => {
      const token = request.cookies[SESSION_COOKIE] ?? bearerToken(request.headers.authorization);
      const sessionId =
        request.principal?.sessionId ?? (token ? await auth.sessions.sessionIdOf(token) : undefined);
      if (sessionId) {
        await auth.sessions.revoke(sessionId, 'logout', auditContext(request), 'auth.logout');
      }
      clearSessionCookies(reply, cookieSecure);
      // Where the browser goes to sign out at the provider too, when the settings ask for it (docs/sso.md);
      // also when the access token has expired, as it often has by the time someone signs out.
      const method =
        request.principal?.authMethod ?? (sessionId ? await auth.sessions.methodOf(sessionId) : undefined);
      const endSession = await auth.sso.endSessionUrl(method);
      if (endSession) reply.header('end-session-url', endSession);
      return reply.code(204).send();
    },
  );

  app.get(
    '/me',
    {
      config: { access: { duringPasswordChange: true } },
      schema: { tags, summary: 'Who is signed in', response: { 200: Envelope(Me) } },
    },
    async (request) => ok(meOf(request.principal!)),
  );

  app.get(
    '/validate',
    {
      config: { access: { public: true, duringPasswordChange: true } },
      schema: {
        tags,
        summary: 'Check a token, sent in the Authorization header or the session cookie',
        description: 'Never in the URL: URLs end up in logs, proxies and browser history.',
        // No parameters at all: `?token=` is refused (422), not quietly ignored.
        querystring: Type.Object({}, { additionalProperties: false }),
        errors: [401],
        response: { 200: Envelope(Validation) },
      },
    },
    async (request) => {
      const principal = request.principal;
      if (!principal) {
        throw (
          request.authFailure ??
          noCredentials('no token: send it as Authorization: Bearer <token>, or the session cookie')
        );
      }
      const expiresAt = principal.expiresAt === null ? null : new Date(principal.expiresAt).toISOString();
      return ok({ valid: true as const, user: meOf(principal), expires_at: expiresAt });
    },
  );

  app.post(
    '/password',
    {
      config: {
        access: { duringPasswordChange: true, sessionOnly: true },
        rateLimit: { operations: ['password.change'] },
      },
      schema: {
        tags,
        summary: 'Change your password; ends every other session',
        body: PasswordChangeBody,
        response: { 200: Envelope(TokenResponse) },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const issued = await auth.login.changePassword(
        principal,
        request.body.current_password,
        request.body.new_password,
        clientMeta(request),
      );
      if (principal.credential === 'cookie') setSessionCookies(reply, issued, cookieSecure, now());
      return ok(tokenResponse(issued, now()));
    },
  );

  app.get(
    '/sessions',
    {
      schema: {
        tags,
        summary: "Your live sessions (admins: ?scope=all for everyone's)",
        querystring: Type.Composite([PageQuery, ScopeQuery]),
        response: { 200: PageEnvelope(SessionItem) },
      },
    },
    async (request) => {
      const principal = request.principal!;
      if (request.query.scope === 'all' && principal.sessionId === null) {
        throw new AppError(ErrorCode.forbidden, "API keys cannot list other users' sessions");
      }
      const all = adminScope(request, request.query.scope);
      const userId = all ? undefined : principal.userId;
      return keysetPage({
        query: request.query,
        codec: cursors(),
        scope: `sessions:${userId ?? '*'}`,
        fetch: (after, limit) =>
          auth.sessions.listLive(
            userId,
            after && { createdAt: String(after[0]), id: String(after[1]) },
            limit,
          ),
        keyOf: (s) => [s.createdAt, s.id],
        present: (s) => sessionItem(s, principal.sessionId),
      });
    },
  );

  app.delete(
    '/sessions',
    {
      config: { access: { sessionOnly: true } },
      schema: {
        tags,
        summary: 'End every session of yours but this one',
        response: { 200: Envelope(Type.Object({ revoked: Type.Integer() })) },
      },
    },
    async (request) =>
      ok({ revoked: await auth.sessions.revokeOthers(request.principal!, auditContext(request)) }),
  );

  app.delete(
    '/sessions/:id',
    {
      schema: {
        tags,
        summary: "End one session (yours; admins: anyone's)",
        params: IdParams,
        answers: { 204: NO_CONTENT },
      },
    },
    async (request, reply) => {
      await auth.sessions.revokeAs(request.principal!, request.params.id, auditContext(request));
      return reply.code(204).send();
    },
  );

  app.get(
    '/api-keys',
    {
      config: { rateLimit: { operations: ['api_keys.list'] } },
      schema: {
        tags,
        summary:
          "Your API keys (admins: ?scope=all for everyone's); the keys themselves are never shown again",
        querystring: Type.Composite([PageQuery, ScopeQuery]),
        response: { 200: PageEnvelope(ApiKeyItem) },
      },
    },
    async (request) => {
      const all = adminScope(request, request.query.scope);
      const userId = all ? undefined : request.principal!.userId;
      return keysetPage({
        query: request.query,
        codec: cursors(),
        scope: `api-keys:${userId ?? '*'}`,
        fetch: (after, limit) =>
          auth.apiKeys.list(userId, after && { createdAt: String(after[0]), id: String(after[1]) }, limit),
        keyOf: (k) => [k.createdAt, k.id],
        present: apiKeyItem,
      });
    },
  );

  app.post(
    '/api-keys',
    {
      config: { access: { sessionOnly: true }, rateLimit: { operations: ['api_keys.create'] } },
      schema: {
        tags,
        summary: 'Create an API key (role at most your own); the key is in this response only',
        body: ApiKeyBody,
        response: { 201: Envelope(CreatedApiKey) },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const { record, key } = await auth.apiKeys.create(
        request.principal!,
        { name: body.name, role: body.role, expiresAt: body.expires_at, scopes: body.scopes },
        auditContext(request),
      );
      reply.code(201);
      return ok({ ...apiKeyItem(record), key });
    },
  );

  app.delete(
    '/api-keys/:id',
    {
      config: { access: { sessionOnly: true }, rateLimit: { operations: ['api_keys.revoke'] } },
      schema: {
        tags,
        summary: "Revoke an API key (yours; admins: anyone's)",
        params: IdParams,
        answers: { 204: NO_CONTENT },
      },
    },
    async (request, reply) => {
      await auth.apiKeys.revoke(request.principal!, request.params.id, auditContext(request));
      return reply.code(204).send();
    },
  );

  app.post(
    '/ws-ticket',
    {
      config: { access: { sessionOnly: true }, rateLimit: { operations: ['tickets.issue'] } },
      schema: {
        tags,
        summary: 'A single-use ticket to open a live stream',
        response: { 200: Envelope(Ticket) },
      },
    },
    async (request) => {
      const issued = await auth.tickets.issue(request.principal!);
      return ok({ ticket: issued.ticket, expires_in: Math.round((issued.expiresAt - now()) / 1000) });
    },
  );

  app.get(
    '/roles',
    {
      schema: {
        tags,
        summary: 'Roles and known groups, for share dialogs',
        response: { 200: Envelope(RolesList) },
      },
    },
    async () =>
      ok({
        roles: ROLES.map((name) => ({ name, level: roleLevel(name) })),
        groups: await auth.users.knownGroups(),
      }),
  );
};
