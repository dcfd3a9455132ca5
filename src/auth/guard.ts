import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ErrorCode } from '../platform/problem.js';
import { sameSecret } from '../platform/secrets.js';
import { type AccessRule, admits } from './access.js';
import { type Presented, pendingPasswordChange, type Resolution } from './credentials.js';
import type { Principal } from './principal.js';
import type { Auth } from './service.js';

/** What a route demands of its caller, declared in its `config.access`. Without it: any signed-in user. */
export interface RouteAccess {
  /** No credentials needed (a valid one is still recognised). */
  public?: boolean;
  rule?: AccessRule;
  /** Answer 404 rather than 403 where a 403 would reveal that something exists. */
  hideAs404?: boolean;
  /** Reachable by a user who must change their password first. */
  duringPasswordChange?: boolean;
  /** Needs a signed-in session: API keys are refused. */
  sessionOnly?: boolean;
  /** Cookie-authenticated writes here need no CSRF token (login, setup, refresh, logout). */
  csrfExempt?: boolean;
  /**
   * A request whose Origin (or Referer) names an origin that is not allowed is refused, with or without
   * credentials: a foreign page must not sign a browser into an account of its choosing (login CSRF).
   * One with neither header passes: clients that are not browsers do not send them.
   */
  sameOriginOnly?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** The authenticated caller, or null. */
    principal: Principal | null;
    /** Why the credential that was presented did not authenticate, if one was and it did not. */
    authFailure: AppError | null;
  }
}

export const SESSION_COOKIE = 'session';
export const CSRF_COOKIE = 'csrf_token';
export const REFRESH_COOKIE = 'refresh_token';
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function noCredentials(detail: string): AppError {
  return new AppError(ErrorCode.noCredentials, detail, {
    headers: { 'www-authenticate': 'Bearer realm="switchboard"' },
  });
}

function csrfRejected(detail: string): AppError {
  return new AppError(ErrorCode.csrfRejected, detail);
}

/** What an HTTP request presents to the credential sources; a ticket only where a route asks for one. */
export function presentedBy(request: FastifyRequest, ticket?: string): Presented {
  return { headers: request.headers, cookies: request.cookies, ticket };
}

/**
 * The two request hooks every API route passes: `authenticate` works out who is calling (through the
 * credential sources: session cookie first, else a bearer JWT or API key) and `authorize` applies CSRF,
 * Origin and the route's access rule. They are separate so the per-user rate limiter can sit between them.
 */
export function authHooks(auth: Auth, allowedOrigins: ReadonlySet<string>) {
  const { sessions } = auth;

  async function resolveAndWait(request: FastifyRequest): Promise<void> {
    try {
      const { principal, failure } = await auth.credentials.resolve(presentedBy(request), request.log);
      request.principal = principal;
      request.authFailure = failure;
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      request.authFailure = error;
    }
  }

  // Callback style: a busy client's credential is answered from what was read a moment ago, with no
  // promise on the way; only what needs the database waits for it.
  function authenticate(request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void {
    request.principal = null;
    request.authFailure = null;
    let known: Resolution | undefined;
    try {
      known = auth.credentials.resolveNow(presentedBy(request), request.log);
    } catch (error) {
      if (!(error instanceof AppError)) return done(error as Error);
      request.authFailure = error;
      return done();
    }
    if (known === undefined) {
      resolveAndWait(request).then(() => done(), done);
      return;
    }
    request.principal = known.principal;
    request.authFailure = known.failure;
    done();
  }

  /** Where the request says it comes from: an allowed origin, another one, or nowhere (no header). */
  function originOf(request: FastifyRequest): 'allowed' | 'foreign' | 'absent' {
    const origin = request.headers.origin;
    if (typeof origin === 'string') return allowedOrigins.has(origin) ? 'allowed' : 'foreign';
    const referer = request.headers.referer;
    if (typeof referer !== 'string') return 'absent';
    try {
      return allowedOrigins.has(new URL(referer).origin) ? 'allowed' : 'foreign';
    } catch {
      return 'foreign';
    }
  }

  function checkCsrf(request: FastifyRequest, principal: Principal): void {
    const header = request.headers[CSRF_HEADER];
    const cookie = request.cookies[CSRF_COOKIE];
    if (typeof header !== 'string' || !cookie) {
      throw csrfRejected(`send the ${CSRF_COOKIE} cookie's value in the X-CSRF-Token header`);
    }
    if (!sameSecret(header, cookie) || !sessions.csrfTokenMatches(principal.sessionId ?? '', cookie)) {
      throw csrfRejected('X-CSRF-Token does not match this session; reload to get a fresh token');
    }
    if (originOf(request) !== 'allowed') {
      throw csrfRejected('the request comes from an origin that is not allowed (check Origin or Referer)');
    }
  }

  function authorize(request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void {
    try {
      checkAccess(request);
    } catch (error) {
      return done(error as Error);
    }
    done();
  }

  function checkAccess(request: FastifyRequest): void {
    const access = request.routeOptions.config.access ?? {};
    const principal = request.principal;
    if (principal?.credential === 'cookie' && !SAFE_METHODS.has(request.method) && !access.csrfExempt) {
      checkCsrf(request, principal);
    }
    if (access.sameOriginOnly && originOf(request) === 'foreign') {
      throw csrfRejected('sign in from an allowed origin: this request comes from another site');
    }
    if (access.public) return;
    if (!principal) {
      throw request.authFailure ?? noCredentials('sign in first: send the session cookie or a bearer token');
    }
    const passwordChange = access.duringPasswordChange ? undefined : pendingPasswordChange(principal);
    if (passwordChange) throw passwordChange;
    if (access.sessionOnly && principal.sessionId === null) {
      throw new AppError(ErrorCode.forbidden, 'this needs a signed-in session; API keys cannot do it');
    }
    if (access.rule && !admits(principal, access.rule)) {
      if (access.hideAs404) throw new AppError(ErrorCode.notFound, 'not found');
      throw new AppError(ErrorCode.forbidden, 'you do not have access to this');
    }
  }

  return { authenticate, authorize };
}
