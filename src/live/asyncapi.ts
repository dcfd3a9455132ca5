import type { TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { MAX_CHANNEL_NAME_LENGTH } from './channel-kinds.js';
import {
  AuthenticatedFrame,
  AuthMessage,
  AuthRequiredFrame,
  EventFrame,
  PingMessage,
  PongFrame,
  SnapshotFrame,
  SSE_FRAMES,
  SubscribedFrame,
  SubscribeMessage,
  UnsubscribedFrame,
  UnsubscribeMessage,
  WsErrorFrame,
  WsResetFrame,
  WsStatusFrame,
  WsUnavailableFrame,
} from './frame-schemas.js';
import { EventsHeaders, EventsQuery, StreamEventsHeaders, StreamEventsQuery } from './sse.js';
import { MAX_BACKLOG_BYTES, MAX_SSE_CHANNELS } from './sse-writer.js';
import { MAX_SUBSCRIPTIONS } from './ws-connection.js';
import { MAX_INBOUND_BYTES, WsQuery } from './ws-gateway.js';
import { CLOSE_CODES } from './ws-protocol.js';

/**
 * The AsyncAPI 3.0 document of the live API (docs/live.md), served at /asyncapi.json: the WebSocket and
 * the two event-stream routes, every message with the schema of frame-schemas.ts that the code parses or
 * builds it with, the close codes from ws-protocol.ts, and the query schemas the routes validate.
 */

export interface AsyncApiOptions {
  /** Switchboard's version, the document's `info.version`. */
  version: string;
  /** SWITCHBOARD_PUBLIC_URL: the servers' host, scheme and path. */
  publicUrl: string;
}

/** A JSON document; the parser in test/live/asyncapi.test.ts checks its shape against the specification. */
export type AsyncApiDocument = Record<string, unknown>;

interface Example {
  name: string;
  summary: string;
  payload: unknown;
}

interface MessageSpec {
  /** The WebSocket `type`, or the event-stream `event:` name. */
  name: string;
  schema: TSchema;
  examples: Example[];
  /** Event streams only: what the frame's `id:` line holds. */
  sseId?: string;
}

const USER = '3f1c9a52-7d4e-4f0b-9a61-2b8e5c0d7e14';
const TS = '2025-05-04T09:30:00.000Z';
const weather = { temperature: 18.5, wind: 'NW 12 km/h' };
const example = (name: string, summary: string, payload: unknown): Example => ({ name, summary, payload });
const ref = (path: string) => ({ $ref: path });
const titled = (schema: TSchema) => ({
  title: schema.title as string | undefined,
  description: schema.description as string | undefined,
});

/** What a client sends on the WebSocket. */
const CLIENT: Record<string, MessageSpec> = {
  subscribe: {
    name: 'subscribe',
    schema: SubscribeMessage,
    examples: [
      example('fresh', 'A fresh subscription', { type: 'subscribe', id: 1, channel: 'weather' }),
      example('resume', 'Resume after the last event seen', {
        type: 'subscribe',
        id: 'w-2',
        channel: 'weather',
        since: 'k3x9:41',
      }),
    ],
  },
  unsubscribe: {
    name: 'unsubscribe',
    schema: UnsubscribeMessage,
    examples: [
      example('leave', 'Stop following a channel', { type: 'unsubscribe', id: 2, channel: 'weather' }),
    ],
  },
  ping: {
    name: 'ping',
    schema: PingMessage,
    examples: [example('ping', 'A ping', { type: 'ping', id: 3 })],
  },
  auth: {
    name: 'auth',
    schema: AuthMessage,
    examples: [
      example('renew', 'A fresh ticket, after auth_required', {
        type: 'auth',
        id: 4,
        ticket: 'Yq3rX0b2mN8vK1pQ7sT4uW6zA9cE5fH2jL0nR3tV8xZ',
      }),
    ],
  },
};

/** What the server sends on the WebSocket. */
const SERVER: Record<string, MessageSpec> = {
  subscribed: {
    name: 'subscribed',
    schema: SubscribedFrame,
    examples: [
      example('fresh', 'A fresh subscription; the snapshot follows', {
        type: 'subscribed',
        id: 1,
        channel: 'weather',
        recovered: false,
        last_id: 'k3x9:42',
      }),
      example('recovered', 'Resumed: the events after `since` follow', {
        type: 'subscribed',
        id: 'w-2',
        channel: 'weather',
        recovered: true,
        last_id: 'k3x9:45',
      }),
    ],
  },
  unsubscribed: {
    name: 'unsubscribed',
    schema: UnsubscribedFrame,
    examples: [example('left', 'Unsubscribed', { type: 'unsubscribed', id: 2, channel: 'weather' })],
  },
  pong: { name: 'pong', schema: PongFrame, examples: [example('pong', 'A pong', { type: 'pong', id: 3 })] },
  snapshot: {
    name: 'snapshot',
    schema: SnapshotFrame,
    examples: [
      example('latest', 'The latest event', {
        type: 'snapshot',
        channel: 'weather',
        id: 'k3x9:42',
        ts: TS,
        data: weather,
      }),
    ],
  },
  event: {
    name: 'event',
    schema: EventFrame,
    examples: [
      example('live', 'An event', {
        type: 'event',
        channel: 'weather',
        id: 'k3x9:43',
        ts: TS,
        data: weather,
      }),
    ],
  },
  reset: {
    name: 'reset',
    schema: WsResetFrame,
    examples: [
      example('reset', 'The history no longer reaches `since`', { type: 'reset', channel: 'weather' }),
    ],
  },
  unavailable: {
    name: 'unavailable',
    schema: WsUnavailableFrame,
    examples: [example('removed', 'The channel was removed', { type: 'unavailable', channel: 'weather' })],
  },
  status: {
    name: 'status',
    schema: WsStatusFrame,
    examples: [
      example('failing', 'The source fails', {
        type: 'status',
        channel: 'weather',
        state: 'error',
        message: 'endpoint "weather": answered 503 Service Unavailable',
        at: TS,
      }),
      example('recovered', 'The source answers again', {
        type: 'status',
        channel: 'weather',
        state: 'ok',
        at: TS,
      }),
    ],
  },
  error: {
    name: 'error',
    schema: WsErrorFrame,
    examples: [
      example('unknown', 'No such channel, or not yours to follow', {
        type: 'error',
        id: 1,
        code: 3000,
        message: 'no channel "weather" that you may subscribe to',
      }),
      example('lost', 'The right to a channel went', {
        type: 'error',
        id: 1,
        code: 1001,
        message: 'you no longer have access to "weather"; the subscription ended',
        channel: 'weather',
      }),
      example('malformed', 'Not JSON', {
        type: 'error',
        id: null,
        code: 2001,
        message: 'the frame is not valid JSON',
      }),
    ],
  },
  authenticated: {
    name: 'authenticated',
    schema: AuthenticatedFrame,
    examples: [
      example('renewed', 'Access renewed', {
        type: 'authenticated',
        id: 4,
        user_id: USER,
        expires_at: '2025-05-04T09:45:00.000Z',
      }),
    ],
  },
  auth_required: {
    name: 'auth_required',
    schema: AuthRequiredFrame,
    examples: [
      example('expired', 'Send a fresh ticket within the grace period', {
        type: 'auth_required',
        deadline: '2025-05-04T09:31:00.000Z',
      }),
    ],
  },
};

/** The answers each client message gets. */
const REPLIES: Record<string, string[]> = {
  subscribe: ['subscribed', 'error'],
  unsubscribe: ['unsubscribed', 'error'],
  ping: ['pong', 'error'],
  auth: ['authenticated', 'error'],
};

const SSE_IDS = {
  one: 'the event id (`<epoch>:<seq>`)',
  many: 'base64url of a JSON object `{channel: last event id}` covering every channel of the response',
};

/** The named frames of an event stream: `event:` is the name, `data:` the JSON payload. */
const SSE: Record<keyof typeof SSE_FRAMES, MessageSpec> = {
  snapshot: {
    name: 'snapshot',
    schema: SSE_FRAMES.snapshot,
    sseId: 'the id of the snapshot event; none on a channel with no event yet (after `reset`: an empty id)',
    examples: [
      example('latest', 'The latest event', { id: 'k3x9:42', channel: 'weather', ts: TS, data: weather }),
      example('empty', 'A channel with no event yet', { id: null, channel: 'weather', ts: null, data: null }),
    ],
  },
  event: {
    name: 'event',
    schema: SSE_FRAMES.event,
    sseId: 'the event',
    examples: [example('live', 'An event', { id: 'k3x9:43', channel: 'weather', ts: TS, data: weather })],
  },
  reset: {
    name: 'reset',
    schema: SSE_FRAMES.reset,
    examples: [
      example('reset', 'The history no longer reaches the id given', {
        channel: 'weather',
        last_event_id: 'k3x9:2',
        message: 'the history no longer reaches back to that id; a snapshot follows',
      }),
    ],
  },
  unavailable: {
    name: 'unavailable',
    schema: SSE_FRAMES.unavailable,
    examples: [
      example('removed', 'The channel was removed', {
        channel: 'weather',
        message: '"weather" is no longer available',
      }),
    ],
  },
  status: {
    name: 'status',
    schema: SSE_FRAMES.status,
    examples: [
      example('failing', 'The source fails', {
        state: 'error',
        message: 'endpoint "weather": answered 503 Service Unavailable',
        at: TS,
        channel: 'weather',
      }),
    ],
  },
  error: {
    name: 'error',
    schema: SSE_FRAMES.error,
    examples: [
      example('lost', 'The right to a channel went', {
        channel: 'weather',
        code: 1001,
        message: 'you may no longer follow "weather"',
      }),
      example('ended', 'The session ended; the response ends', {
        code: 1002,
        message: 'the session ended (logout); sign in again',
      }),
    ],
  },
};

const wsMessage = (spec: MessageSpec) => ({
  name: spec.name,
  ...titled(spec.schema),
  contentType: 'application/json',
  payload: spec.schema,
  examples: spec.examples,
});

const sseMessage = (spec: MessageSpec) => ({
  name: spec.name,
  title: `${spec.name} (event stream)`,
  description:
    `${spec.schema.description ?? ''} Sent as \`event: ${spec.name}\`` +
    (spec.sseId
      ? `, with an \`id:\` line: on one channel ${spec.sseId}; on \`/events\` ${SSE_IDS.many}`
      : '') +
    '; `data:` is this JSON.',
  contentType: 'application/json',
  payload: spec.schema,
  examples: spec.examples,
  'x-sse-event': spec.name,
});

const capitalized = (name: string) =>
  name.replace(/(^|_)([a-z])/g, (_match, _underscore, letter: string) => letter.toUpperCase());

function closeCodeTable(): string {
  const rows = Object.values(CLOSE_CODES).map(
    (entry) => `| ${entry.code} | ${entry.by} | ${entry.meaning} | ${entry.action} |`,
  );
  return ['| code | closed by | meaning | what the client does |', '|---|---|---|---|', ...rows].join('\n');
}

const WS_DESCRIPTION = `One WebSocket carries any number of channels (at most ${MAX_SUBSCRIPTIONS} at once) as JSON text
messages of at most ${MAX_INBOUND_BYTES / 1024} KiB; unknown extra fields are ignored. A plain \`GET\` without the
upgrade is answered with 426 (code 2006). An upgrade refused before the handshake gets an HTTP problem document
instead (429 over the per-address limit, 503 while the server shuts down).

**Authentication**, in this order: \`?ticket=\` (from \`POST /api/v1/auth/ws-ticket\`, single use, 30 seconds); the
\`session\` cookie, only when the upgrade's \`Origin\` is allowed (\`SWITCHBOARD_PUBLIC_URL\`'s origin or one of
\`SWITCHBOARD_CORS_ORIGINS\`); \`Authorization: Bearer\` with an access token or an API key; none of these: the socket
opens and waits 10 seconds for an \`auth\` message. When the access expires the server sends \`auth_required\`; an
\`auth\` message with a fresh ticket before its \`deadline\` renews it.

Messages are handled one at a time, in the order sent: a \`ping\` is answered after everything the messages before it
caused. The server pings every 30 seconds; a socket that has not answered the previous ping by the next one is cut.
A subscription starts with \`subscribed\`; then \`reset\` when \`since\` is no longer covered, the replayed events or the
snapshot, then \`status\` when the stream has a producer, then live events.

**Close codes** (also as \`x-close-codes\`):

${closeCodeTable()}`;

const SSE_DESCRIPTION = `\`text/event-stream\`. Every refusal comes before the stream, as a problem document: 401
(codes 1008, 1009, 1002), 403 (1007, a password change is due), 404 (3000, no such channel or not yours), 422 (2000, an
id this server could not have sent), 429 (5003, over \`SWITCHBOARD_SSE_CONNECTIONS_PER_USER\`). A stream starts with
\`retry: 2000\`, then per channel a \`snapshot\` (or the replayed \`event\`s after \`Last-Event-ID\`, or \`reset\` and a
\`snapshot\`), then \`status\` for a stream with a producer, then live \`event\`s (a named type: listen with
\`addEventListener('event', …)\`). \`: keepalive\` comments come every 15 seconds. On shutdown a \`retry:\` hint of 2 to 4
seconds ends the response. A client that lets ${MAX_BACKLOG_BYTES / (1024 * 1024)} MiB queue up is disconnected;
it reconnects with \`Last-Event-ID\` and catches up from history. Authenticate with the session cookie,
\`Authorization: Bearer\`, or \`?ticket=\` (single use: a reconnecting \`EventSource\` must rely on the cookie).`;

const sseHeaders = (schema: TSchema) => ({
  ...schema,
  description:
    '`Last-Event-ID` (sent by `EventSource` when it reconnects) resumes after that id; it wins over `?last_event_id=`.',
});

/** Builds the document; `registerAsyncApi` serves it. */
export function asyncApiDocument(options: AsyncApiOptions): AsyncApiDocument {
  const url = new URL(options.publicUrl);
  const secure = url.protocol === 'https:';
  const pathname = url.pathname.replace(/\/+$/, '');
  const at = pathname === '' ? {} : { pathname };

  const messages: Record<string, unknown> = {};
  for (const spec of Object.values(CLIENT)) messages[`ws${capitalized(spec.name)}`] = wsMessage(spec);
  for (const spec of Object.values(SERVER)) messages[`ws${capitalized(spec.name)}`] = wsMessage(spec);
  for (const spec of Object.values(SSE)) messages[`sse${capitalized(spec.name)}`] = sseMessage(spec);

  const wsMessages = Object.fromEntries(
    [...Object.values(CLIENT), ...Object.values(SERVER)].map((spec) => [
      spec.name,
      ref(`#/components/messages/ws${capitalized(spec.name)}`),
    ]),
  );
  const sseMessages = Object.fromEntries(
    Object.values(SSE).map((spec) => [spec.name, ref(`#/components/messages/sse${capitalized(spec.name)}`)]),
  );

  const operations: Record<string, unknown> = {};
  for (const spec of Object.values(CLIENT)) {
    operations[`receive${capitalized(spec.name)}`] = {
      action: 'receive',
      channel: ref('#/channels/websocket'),
      summary: `A client sends \`${spec.name}\`.`,
      messages: [ref(`#/channels/websocket/messages/${spec.name}`)],
      reply: {
        channel: ref('#/channels/websocket'),
        messages: (REPLIES[spec.name] ?? []).map((name) => ref(`#/channels/websocket/messages/${name}`)),
      },
    };
  }
  for (const spec of Object.values(SERVER)) {
    operations[`send${capitalized(spec.name)}`] = {
      action: 'send',
      channel: ref('#/channels/websocket'),
      summary: `Switchboard sends \`${spec.name}\` on the WebSocket.`,
      messages: [ref(`#/channels/websocket/messages/${spec.name}`)],
    };
  }
  for (const [channel, binding] of [
    ['streamEvents', 'streamEvents'],
    ['events', 'events'],
  ] as const) {
    for (const spec of Object.values(SSE)) {
      operations[`${channel}Send${capitalized(spec.name)}`] = {
        action: 'send',
        channel: ref(`#/channels/${channel}`),
        summary: `Switchboard sends \`event: ${spec.name}\` on the event stream.`,
        messages: [ref(`#/channels/${channel}/messages/${spec.name}`)],
        bindings: ref(`#/components/operationBindings/${binding}`),
      };
    }
  }

  const security = (...names: string[]) => names.map((name) => ref(`#/components/securitySchemes/${name}`));

  return {
    asyncapi: '3.0.0',
    id: 'urn:switchboard:live',
    info: {
      title: 'Switchboard live API',
      version: options.version,
      description:
        'Live channels over WebSocket and Server-Sent Events (docs/live.md): both carry the same events from the ' +
        'same channels with the same replay rules. This document describes Switchboard: `receive` operations are ' +
        'messages a client sends, `send` operations the frames Switchboard sends. Events are `{id, channel, ts, ' +
        'data}`, `id` is `<epoch>:<seq>`. The HTTP routes are in `/openapi.json`; error codes in `/docs/errors`.',
    },
    defaultContentType: 'application/json',
    servers: {
      websocket: {
        host: url.host,
        ...at,
        protocol: secure ? 'wss' : 'ws',
        title: 'WebSocket',
        description: 'SWITCHBOARD_PUBLIC_URL, as a WebSocket URL.',
        security: security('ticket', 'session', 'bearer'),
      },
      http: {
        host: url.host,
        ...at,
        protocol: secure ? 'https' : 'http',
        title: 'Server-Sent Events',
        description: 'SWITCHBOARD_PUBLIC_URL.',
        security: security('session', 'bearer', 'ticket'),
      },
    },
    channels: {
      websocket: {
        address: '/api/v1/ws',
        title: 'WebSocket',
        summary: 'Subscribe to channels; events, snapshots, status and answers come back on the same socket.',
        description: WS_DESCRIPTION,
        servers: [ref('#/servers/websocket')],
        messages: wsMessages,
        bindings: {
          ws: {
            method: 'GET',
            query: WsQuery,
            headers: {
              type: 'object',
              properties: {
                Authorization: { type: 'string', description: 'Bearer, with an access token or an API key.' },
                Cookie: {
                  type: 'string',
                  description: 'The `session` cookie; counted only from an allowed `Origin`.',
                },
                Origin: { type: 'string' },
              },
            },
            bindingVersion: '0.1.0',
          },
        },
        'x-close-codes': Object.values(CLOSE_CODES).map((entry) => ({ ...entry })),
      },
      streamEvents: {
        address: '/api/v1/streams/{channel}/events',
        title: 'Server-Sent Events of one channel',
        description: `${SSE_DESCRIPTION} The \`id:\` of each frame is its event id.`,
        parameters: {
          channel: {
            description: `A channel name of 1 to ${MAX_CHANNEL_NAME_LENGTH} characters.`,
            examples: ['weather'],
          },
        },
        servers: [ref('#/servers/http')],
        messages: sseMessages,
      },
      events: {
        address: '/api/v1/events',
        title: 'Server-Sent Events of several channels',
        description:
          `${SSE_DESCRIPTION} Several channels (\`?channel=a&channel=b\`, at most ${MAX_SSE_CHANNELS}) on one ` +
          `response; the \`id:\` of each frame is ${SSE_IDS.many}, so one \`Last-Event-ID\` resumes them all.`,
        servers: [ref('#/servers/http')],
        messages: sseMessages,
      },
    },
    operations,
    components: {
      messages,
      securitySchemes: {
        ticket: {
          type: 'httpApiKey',
          in: 'query',
          name: 'ticket',
          description: 'A connect ticket from `POST /api/v1/auth/ws-ticket`: single use, valid 30 seconds.',
        },
        session: {
          type: 'httpApiKey',
          in: 'cookie',
          name: 'session',
          description:
            'The session cookie set by sign-in. On the WebSocket only from an allowed `Origin` (any site can make a ' +
            'browser open a WebSocket that carries it).',
        },
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'An access token (JWT) or an API key (`sbk_…`).',
        },
      },
      operationBindings: {
        streamEvents: {
          http: {
            method: 'GET',
            query: StreamEventsQuery,
            'x-headers': sseHeaders(StreamEventsHeaders),
            bindingVersion: '0.3.0',
          },
        },
        events: {
          http: {
            method: 'GET',
            query: EventsQuery,
            'x-headers': sseHeaders(EventsHeaders),
            bindingVersion: '0.3.0',
          },
        },
      },
    },
  };
}

/** GET /asyncapi.json: public like /openapi.json and, like it, outside the OpenAPI document. */
export function registerAsyncApi(app: FastifyInstance, options: AsyncApiOptions): void {
  // Built once: it depends only on the version and the public URL.
  const body = JSON.stringify(asyncApiDocument(options));
  app.get('/asyncapi.json', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('application/json; charset=utf-8').send(body),
  );
}
