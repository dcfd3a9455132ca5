import { bearerToken } from '../platform/bearer.js';
import { AppError, ErrorCode } from '../platform/problem.js';
import type { CredentialSource } from './credentials.js';
import { SESSION_COOKIE } from './guard.js';
import type { Auth } from './service.js';

/**
 * Every way a caller proves who they are, in the order they are tried (docs/live.md lists it for the
 * WebSocket). HTTP routes, SSE and the WebSocket gateway all resolve through this list, so a new way of
 * signing in is one more entry here and its test (docs/contributing.md has the recipe).
 */
export function credentialSources(auth: Auth): CredentialSource[] {
  return [
    {
      // Single use; presented by live streams only (`?ticket=`, or the WebSocket's `auth` message).
      name: 'ticket',
      ambient: false,
      find: (presented) => presented.ticket,
      async authenticate(ticket) {
        const principal = await auth.tickets.redeem(ticket);
        if (principal) return principal;
        throw new AppError(
          ErrorCode.invalidToken,
          'the ticket is unknown, already used or expired; ask POST /api/v1/auth/ws-ticket for a new one',
          { headers: { 'www-authenticate': 'Bearer realm="switchboard"' } },
        );
      },
    },
    {
      // The access token a browser session keeps in its cookie.
      name: 'session cookie',
      ambient: true,
      find: (presented) => presented.cookies[SESSION_COOKIE] || undefined,
      authenticate: (token) => auth.sessions.authenticateAccessToken(token, 'cookie'),
      authenticateNow: (token) => auth.sessions.authenticateAccessTokenNow(token, 'cookie'),
    },
    {
      // An access token (JWT) or an API key, for clients that are not browsers.
      name: 'bearer',
      ambient: false,
      find: (presented) => bearerToken(presented.headers.authorization),
      authenticate: (token) => auth.authenticateBearer(token),
      authenticateNow: (token) => auth.authenticateBearerNow(token),
    },
  ];
}
