import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { fastifyCookie } from '@fastify/cookie';
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { WebSocketServer } from 'ws';
import { SESSION_COOKIE } from '../auth/guard.js';
import { allowedOrigins } from '../auth/index.js';
import type { Principal } from '../auth/principal.js';
import { AppError, ErrorCode } from '../platform/problem.js';
import { requestIdOf } from '../platform/request-context.js';
import { answerOnSocket } from '../platform/socket-answer.js';
import type { Settings } from '../settings.js';
import type { LiveService } from './service.js';
import { type InitialAuth, WsConnection } from './ws-connection.js';
import { CloseCode } from './ws-protocol.js';

/** Largest message a client may send; ws closes a connection that sends more with 1009. */
export const MAX_INBOUND_BYTES = 64 * 1024;

/**
 * Timings of the gateway (the API contract fixes the first two). Mutable so tests can shorten them before the app
 * starts; the gateway reads them when it is registered.
 */
export const wsTimings = {
  /** How long a socket opened without credentials has to send `{"type":"auth","ticket"}`. */
  authTimeoutMs: 10_000,
  /** Ping interval; a socket that has not answered the previous ping by the next one is terminated. */
  heartbeatMs: 30_000,
  /** How often open sockets are checked for expired access (against the app's clock). */
  expiryCheckMs: 1_000,
  /** On shutdown, how long sockets get to complete the 1012 close handshake before they are cut. */
  shutdownCloseMs: 2_000,
};

export interface WsGatewayOptions {
  live: LiveService;
  settings: Settings;
  now?: () => number;
  /** Limits an upgrade before any work is done for it (the IP floor); rejects with the AppError to answer. */
  admitUpgrade?: (request: IncomingMessage) => Promise<void>;
}

const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

/** An HTTP answer on a socket that asked to upgrade but will not be: the usual failure envelope. */
function rejectUpgrade(request: IncomingMessage, socket: Duplex, error: AppError): void {
  answerOnSocket(socket, error, requestIdOf(request));
}

/**
 * GET /ws: the WebSocket gateway. Upgrades arrive on the HTTP server's `upgrade` event, outside Fastify's
 * routing and hooks, so this plugin authenticates them itself; the route registered here only answers
 * plain requests (426) and documents the endpoint.
 */
export const wsGateway: FastifyPluginAsyncTypebox<WsGatewayOptions> = async (app, options) => {
  const { live, settings } = options;
  const { auth } = live;
  const now = options.now ?? Date.now;
  const path = `${app.prefix}/ws`;
  const origins = allowedOrigins(settings);
  const timings = { ...wsTimings };
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_INBOUND_BYTES,
  });
  const connections = new Set<WsConnection>();
  let closing = false;

  const deps = {
    live,
    log: app.log,
    now,
    redeem: (ticket: string) => auth.tickets.redeem(ticket),
    accessTtlMs: settings.accessTokenTtlMs,
    authGraceMs: settings.live.wsAuthGraceMs,
    maxBacklogBytes: settings.live.wsMaxBacklogBytes,
  };

  async function tryToken(token: string, as: 'cookie' | 'bearer'): Promise<Principal | AppError> {
    try {
      return as === 'cookie'
        ? await auth.sessions.authenticateAccessToken(token, 'cookie')
        : await auth.authenticateBearer(token);
    } catch (error) {
      if (error instanceof AppError) return error;
      throw error;
    }
  }

  /**
   * The credentials of the upgrade request, in the order docs/live.md lists them. The session cookie counts only
   * from an allowed Origin: any site can make a browser open a WebSocket carrying it.
   */
  async function initialAuth(request: IncomingMessage, url: URL): Promise<InitialAuth> {
    const ticket = url.searchParams.get('ticket');
    if (ticket !== null) {
      const principal = await auth.tickets.redeem(ticket);
      return principal
        ? { kind: 'principal', principal }
        : { kind: 'refused', reason: 'the ticket is unknown, spent or expired' };
    }
    const bearer = BEARER.exec(request.headers.authorization ?? '')?.[1];
    const origin = request.headers.origin;
    const session =
      origin !== undefined && origins.has(origin) && request.headers.cookie
        ? fastifyCookie.parse(request.headers.cookie)[SESSION_COOKIE]
        : undefined;
    if (session) {
      const outcome = await tryToken(session, 'cookie');
      if (!(outcome instanceof AppError)) return { kind: 'principal', principal: outcome };
      if (!bearer) return { kind: 'refused', reason: outcome.message };
    }
    if (bearer) {
      const outcome = await tryToken(bearer, 'bearer');
      return outcome instanceof AppError
        ? { kind: 'refused', reason: outcome.message }
        : { kind: 'principal', principal: outcome };
    }
    return { kind: 'none' };
  }

  function onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://localhost');
    } catch {
      return rejectUpgrade(
        request,
        socket,
        new AppError(ErrorCode.malformedRequest, 'the request URL is malformed'),
      );
    }
    if (url.pathname !== path) {
      return rejectUpgrade(
        request,
        socket,
        new AppError(ErrorCode.unknownRoute, `no WebSocket endpoint at ${url.pathname}; use ${path}`),
      );
    }
    if (closing) {
      return rejectUpgrade(
        request,
        socket,
        new AppError(ErrorCode.unavailable, 'the server is restarting; reconnect', { retryAfter: 1 }),
      );
    }
    const admit = options.admitUpgrade?.(request) ?? Promise.resolve();
    admit.then(
      () => accept(request, socket, head, url),
      (error: unknown) =>
        rejectUpgrade(
          request,
          socket,
          error instanceof AppError ? error : new AppError(ErrorCode.internal, 'internal error'),
        ),
    );
  }

  function accept(request: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    wss.handleUpgrade(request, socket, head, (ws) => {
      const connection = new WsConnection(ws, deps);
      connections.add(connection);
      void connection.closed.then(() => connections.delete(connection));
      // A handshake that completed while shutdown began would miss the 1012 round.
      if (closing) return connection.close(CloseCode.restarting, 'server restarting; reconnect');
      connection.begin(initialAuth(request, url), timings.authTimeoutMs);
    });
  }

  app.server.on('upgrade', onUpgrade);
  const heartbeat = setInterval(() => {
    for (const connection of connections) connection.heartbeat();
  }, timings.heartbeatMs).unref();
  const expiry = setInterval(() => {
    for (const connection of connections) connection.checkExpiry();
  }, timings.expiryCheckMs).unref();

  // Before the HTTP server closes: it would otherwise wait for every upgraded socket to end on its own.
  app.addHook('preClose', async () => {
    closing = true;
    clearInterval(heartbeat);
    clearInterval(expiry);
    const open = [...connections];
    for (const connection of open) connection.close(CloseCode.restarting, 'server restarting; reconnect');
    await Promise.race([
      Promise.all(open.map((c) => c.closed)),
      delay(timings.shutdownCloseMs, undefined, { ref: false }),
    ]);
    for (const connection of connections) connection.terminate();
  });
  app.addHook('onClose', async () => {
    clearInterval(heartbeat);
    clearInterval(expiry);
    app.server.off('upgrade', onUpgrade);
    wss.close();
  });

  app.get(
    '/ws',
    {
      config: { access: { public: true } },
      schema: {
        tags: ['live'],
        summary: 'WebSocket: subscribe to channels (upgrade only; a plain request is a 426)',
        description:
          'Authenticate with `?ticket=`, the session cookie from an allowed Origin, `Authorization: Bearer`, ' +
          'or a first `{"type":"auth","ticket"}` message within 10 s. Messages and close codes: docs/live.md.',
        querystring: Type.Object({ ticket: Type.Optional(Type.String({ maxLength: 512 })) }),
        // Public only so that a plain request gets its 426; the upgrade itself needs credentials.
        security: [{ session: [] }, { bearer: [] }],
      },
    },
    async () => {
      throw new AppError(
        ErrorCode.upgradeRequired,
        'this endpoint speaks WebSocket only; send an upgrade request',
        {
          headers: { upgrade: 'websocket', connection: 'Upgrade' },
        },
      );
    },
  );
};
