import type { OutgoingHttpHeaders } from 'node:http';
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { pendingPasswordChange } from '../auth/credentials.js';
import { noCredentials, presentedBy } from '../auth/guard.js';
import { AppError, ErrorCode, invalidField } from '../platform/problem.js';
import { ChannelName } from './channel-kinds.js';
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

/**
 * The caller: the one the request hooks resolved (cookie or bearer), else the `?ticket=`'s. The ticket
 * comes last here, unlike on the WebSocket: an EventSource reconnects to the same URL, spent ticket and
 * all, and its cookie must still get it in.
 */
async function callerOf(request: FastifyRequest, live: LiveService, ticket: string | undefined) {
  let { principal, authFailure: failure } = request;
  if (!principal && ticket !== undefined) {
    ({ principal, failure } = await live.auth.credentials.resolve(presentedBy(request, ticket), request.log));
  }
  if (!principal) {
    throw failure ?? noCredentials('sign in first: send the session cookie, a bearer token, or ?ticket=');
  }
  const passwordChange = pendingPasswordChange(principal);
  if (passwordChange) throw passwordChange;
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

const invalidPosition = (pointer: string, message: string) => invalidField(pointer, message, message);

const Ticket = Type.String({ minLength: 1, maxLength: 256, description: 'A connect ticket, single use' });

/** What GET /streams/{channel}/events takes; the AsyncAPI document (asyncapi.ts) shows the same schemas. */
export const StreamEventsQuery = Type.Object({
  ticket: Type.Optional(Ticket),
  last_event_id: Type.Optional(Type.String({ maxLength: 64, description: 'Resume after this id' })),
});
export const StreamEventsHeaders = Type.Object({
  'last-event-id': Type.Optional(Type.String({ maxLength: 64 })),
});

/** What GET /events takes. */
export const EventsQuery = Type.Object({
  channel: Type.Array(ChannelName, {
    minItems: 1,
    maxItems: MAX_SSE_CHANNELS,
  }),
  ticket: Type.Optional(Ticket),
  last_event_id: Type.Optional(Type.String({ maxLength: MAX_CURSOR_CHARS })),
});
export const EventsHeaders = Type.Object({
  'last-event-id': Type.Optional(Type.String({ maxLength: MAX_CURSOR_CHARS })),
});

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
  const EVENT_STREAM = {
    description: 'The stream, open until the client leaves, access ends or the server stops',
    content: { 'text/event-stream': { schema: { type: 'string', description: 'Frames (docs/live.md)' } } },
  };
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
        params: Type.Object({ channel: ChannelName }),
        querystring: StreamEventsQuery,
        headers: StreamEventsHeaders,
        errors: [401, 403],
        answers: { 200: EVENT_STREAM },
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
        querystring: EventsQuery,
        headers: EventsHeaders,
        errors: [401, 403],
        answers: { 200: EVENT_STREAM },
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
