import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { fastifyCookie } from '@fastify/cookie';
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { WebSocketServer } from 'ws';
import { AppError, ErrorCode } from '../platform/problem.js';
import { requestIdOf } from '../platform/request-context.js';
import { answerOnSocket } from '../platform/socket-answer.js';
import type { Settings } from '../settings.js';
import type { LiveService } from './service.js';
import { type InitialAuth, WsConnection } from './ws-connection.js';
import { CloseCode } from './ws-protocol.js';

/** Largest message a client may send; ws closes a connection that sends more with 1009. */
export const MAX_INBOUND_BYTES = 64 * 1024;

/** The upgrade's query; the AsyncAPI document (asyncapi.ts) shows the same schema. */
export const WsQuery = Type.Object({
  ticket: Type.Optional(Type.String({ maxLength: 512, description: 'A connect ticket, single use' })),
});

/**
 * Timings of the gateway (docs/live.md states the first two). Mutable so tests can shorten them before the app
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
    redeem: (ticket: string) => auth.credentials.resolve({ headers: {}, cookies: {}, ticket }, app.log),
    accessTtlMs: settings.accessTokenTtlMs,
    authGraceMs: settings.live.wsAuthGraceMs,
    maxBacklogBytes: settings.live.wsMaxBacklogBytes,
  };

  /**
   * The credentials of the upgrade request, through the same sources as every request (docs/live.md lists
   * their order). The session cookie counts only from an allowed Origin: any site can make a browser open a
   * WebSocket carrying it.
   */
  async function initialAuth(request: IncomingMessage, url: URL): Promise<InitialAuth> {
    const presented = {
      headers: request.headers,
      cookies: request.headers.cookie ? fastifyCookie.parse(request.headers.cookie) : {},
      ticket: url.searchParams.get('ticket') ?? undefined,
      upgrade: true,
    };
    const log = app.log.child({ request_id: requestIdOf(request) });
    const { principal, failure } = await auth.credentials.resolve(presented, log);
    if (principal) return { kind: 'principal', principal };
    return failure ? { kind: 'refused', reason: failure.message } : { kind: 'none' };
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
      const connection = new WsConnection(ws, deps, socket);
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
          'or a first `{"type":"auth","ticket"}` message within 10 s. Messages and close codes: docs/live.md and /asyncapi.json.',
        querystring: WsQuery,
        // Public only so that a plain request gets its 426; the upgrade itself needs credentials.
        security: [{ session: [] }, { bearer: [] }],
        errors: [401, 403, 426],
        answers: { 101: { description: 'Switched to the WebSocket protocol (docs/live.md)' } },
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
