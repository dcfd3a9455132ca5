import type { OutgoingHttpHeaders } from 'node:http';
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { noCredentials } from '../auth/guard.js';
import type { Principal } from '../auth/principal.js';
import { AppError, ErrorCode } from '../platform/problem.js';
import { parseEventId } from './event-id.js';
import type { LiveService } from './service.js';
import { type Resume, SseConnection } from './sse-connection.js';
import {
  decodeCursor,
  EventStreamWriter,
  MAX_CURSOR_CHARS,
  MAX_SSE_CHANNELS,
  type SseTiming,
} from './sse-writer.js';

/**
 * The reconnection delay suggested to clients, and the period of `: keepalive` comments (they keep proxies
 * and load balancers from timing out a quiet stream). Read when the routes are registered, so a test can
 * shorten them for the app it starts next.
 */
export const sseTiming = { retryMs: 2_000, keepaliveMs: 15_000 };

export interface SseOptions {
  live: LiveService;
  retryMs?: number;
  keepaliveMs?: number;
}

/** The caller: the guard's (cookie or bearer), else the `?ticket=`, redeemed once. */
async function callerOf(request: FastifyRequest, live: LiveService, ticket: string | undefined) {
  let principal: Principal | null = request.principal;
  if (!principal && ticket !== undefined) {
    principal = await live.auth.tickets.redeem(ticket);
    if (!principal) {
      throw new AppError(
        ErrorCode.invalidToken,
        'the ticket is unknown, already used or expired; ask POST /api/v1/auth/ws-ticket for a new one',
        { headers: { 'www-authenticate': 'Bearer realm="switchboard"' } },
      );
    }
  }
  if (!principal) {
    throw (
      request.authFailure ??
      noCredentials('sign in first: send the session cookie, a bearer token, or ?ticket=')
    );
  }
  if (principal.mustChangePassword) {
    throw new AppError(
      ErrorCode.passwordChangeRequired,
      'change your password first (POST /api/v1/auth/password)',
    );
  }
  return principal;
}

/** Where the client's position came from: the header wins, as EventSource sends it on every reconnect. */
function positionOf(request: FastifyRequest, query: string | undefined) {
  const header = request.headers['last-event-id'];
  if (typeof header === 'string' && header !== '') {
    return { text: header, pointer: '/headers/last-event-id' };
  }
  if (query !== undefined && query !== '') return { text: query, pointer: '/querystring/last_event_id' };
  return { text: undefined, pointer: '/querystring/last_event_id' };
}

const invalidPosition = (pointer: string, message: string) =>
  new AppError(ErrorCode.invalidBody, message, { errors: [{ pointer, message }] });

const Ticket = Type.String({ minLength: 1, maxLength: 256, description: 'A connect ticket, single use' });

/** GET /streams/{channel}/events and GET /events: live data as Server-Sent Events. */
export const sseRoutes: FastifyPluginAsyncTypebox<SseOptions> = async (app, options) => {
  const { live } = options;
  const timing: SseTiming = {
    retryMs: options.retryMs ?? sseTiming.retryMs,
    keepaliveMs: options.keepaliveMs ?? sseTiming.keepaliveMs,
  };
  const open = new Set<SseConnection>();
  // One timer for every stream rather than one each: a stream's first comment comes within one period.
  const keepalive = setInterval(() => {
    for (const connection of open) connection.keepalive();
  }, timing.keepaliveMs);
  keepalive.unref();
  app.addHook('onClose', async () => clearInterval(keepalive));

  // Open streams would hold the server's close() until the grace period ran out; clients are told to come
  // back a little later, spread out so they do not all return at once.
  app.addHook('preClose', async () => {
    for (const connection of open) connection.shutdown(timing.retryMs + Math.random() * timing.retryMs);
  });

  async function serve(
    request: FastifyRequest,
    reply: FastifyReply,
    channels: readonly string[],
    ticket: string | undefined,
    position: { resume: Resume; pointer: string; multi: boolean },
  ): Promise<void> {
    const principal = await callerOf(request, live, ticket);
    for (const name of channels) live.channelFor(principal, name);
    // A stream may stay open for days: what it keeps must not include Fastify's request and reply.
    const requestId = request.id;
    const connection: SseConnection = new SseConnection(principal, live, position.multi, () => {
      release();
      // The access log has the request; this says why its stream ended.
      if (open.delete(connection)) {
        app.log.info({ request_id: requestId, ended_by: connection.endReason }, 'event stream ended');
      }
    });
    // Before any header: over the cap is a real 429.
    const release = await live.open(connection);
    reply.raw.once('close', () => connection.finish());
    try {
      await connection.subscribeAll(channels, position.resume, position.pointer);
    } catch (error) {
      connection.finish();
      throw error;
    }
    if (connection.endedEarly !== undefined) {
      connection.finish();
      throw new AppError(ErrorCode.sessionRevoked, 'your session ended; sign in again');
    }
    reply.hijack();
    if (reply.raw.destroyed || request.raw.socket.destroyed) {
      connection.finish();
      return;
    }
    open.add(connection);
    connection.begin(
      new EventStreamWriter(reply.raw, () => {
        connection.endReason = 'slow_consumer';
      }),
      reply.getHeaders() as OutgoingHttpHeaders,
      position.resume,
      timing.retryMs,
    );
  }

  const common = {
    exposeHeadRoute: false,
    // Tickets are redeemed by the handler: the guard, which knows only cookies and bearers, must let them by.
    config: { access: { public: true } },
  };
  const security: Record<string, string[]>[] = [{ session: [] }, { bearer: [] }];
  const description =
    'text/event-stream. Authenticate with the session cookie, a bearer token, or `?ticket=` (single use; ' +
    'a reconnecting EventSource must use the cookie). Frames: `snapshot` first, then `event` with `id:`; ' +
    '`reset`, `unavailable`, `error`; `: keepalive` every 15 s. Resume with `Last-Event-ID` or ' +
    '`?last_event_id=`. Over the per-user cap: 429 (code 5003) before any byte of stream.';

  app.get(
    '/streams/:channel/events',
    {
      ...common,
      schema: {
        tags: ['live'],
        summary: 'Server-Sent Events of one channel: its snapshot, then its events',
        description,
        security,
        params: Type.Object({ channel: Type.String({ minLength: 1, maxLength: 80 }) }),
        querystring: Type.Object({
          ticket: Type.Optional(Ticket),
          last_event_id: Type.Optional(Type.String({ maxLength: 64, description: 'Resume after this id' })),
        }),
        headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ maxLength: 64 })) }),
      },
    },
    async (request, reply) => {
      const { channel } = request.params;
      const { text, pointer } = positionOf(request, request.query.last_event_id);
      if (text !== undefined && !parseEventId(text)) {
        throw invalidPosition(pointer, 'is not an event id of this stream (<epoch>:<seq>)');
      }
      const resume = new Map(text === undefined ? [] : [[channel, text]]);
      await serve(request, reply, [channel], request.query.ticket, { resume, pointer, multi: false });
    },
  );

  app.get(
    '/events',
    {
      ...common,
      schema: {
        tags: ['live'],
        summary: 'Server-Sent Events of several channels on one response',
        description: `${description} The \`id:\` encodes every channel's last event id.`,
        security,
        querystring: Type.Object({
          channel: Type.Array(Type.String({ minLength: 1, maxLength: 80 }), {
            minItems: 1,
            maxItems: MAX_SSE_CHANNELS,
          }),
          ticket: Type.Optional(Ticket),
          last_event_id: Type.Optional(Type.String({ maxLength: MAX_CURSOR_CHARS })),
        }),
        headers: Type.Object({
          'last-event-id': Type.Optional(Type.String({ maxLength: MAX_CURSOR_CHARS })),
        }),
      },
    },
    async (request, reply) => {
      const channels = [...new Set(request.query.channel)];
      const { text, pointer } = positionOf(request, request.query.last_event_id);
      const resume = text === undefined ? new Map<string, string>() : decodeCursor(text);
      if (!resume) throw invalidPosition(pointer, 'is not an id this server sent on /events');
      await serve(request, reply, channels, request.query.ticket, { resume, pointer, multi: true });
    },
  );
};
