import type { FastifyReply } from 'fastify';
import { CSRF_COOKIE, REFRESH_COOKIE, SESSION_COOKIE } from './guard.js';
import type { IssuedSession } from './sessions-service.js';

const PATHS = {
  [SESSION_COOKIE]: '/api',
  [CSRF_COOKIE]: '/',
  [REFRESH_COOKIE]: '/api/v1/auth/refresh',
} as const;

/**
 * The three cookies of a browser session. All are SameSite=Strict; only the CSRF token is readable by
 * scripts (double-submit), and the refresh token is sent to the refresh route alone. They live as long as
 * the refresh token, so an expired access token is answered "expired, refresh it" rather than "who are you".
 */
export function setSessionCookies(
  reply: FastifyReply,
  issued: IssuedSession,
  secure: boolean,
  now: number,
): void {
  const maxAge = Math.max(1, Math.floor((issued.refreshExpiresAt - now) / 1000));
  const common = { secure, sameSite: 'strict' as const, maxAge };
  reply.setCookie(SESSION_COOKIE, issued.accessToken, {
    ...common,
    httpOnly: true,
    path: PATHS[SESSION_COOKIE],
  });
  reply.setCookie(CSRF_COOKIE, issued.csrfToken, { ...common, httpOnly: false, path: PATHS[CSRF_COOKIE] });
  reply.setCookie(REFRESH_COOKIE, issued.refreshToken, {
    ...common,
    httpOnly: true,
    path: PATHS[REFRESH_COOKIE],
  });
}

export function clearSessionCookies(reply: FastifyReply, secure: boolean): void {
  for (const [name, path] of Object.entries(PATHS)) {
    reply.clearCookie(name, { path, secure, sameSite: 'strict', httpOnly: name !== CSRF_COOKIE });
  }
}
