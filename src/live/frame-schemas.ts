import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { MAX_CHANNEL_NAME_LENGTH } from './channel-kinds.js';
import { EVENT_ID_PATTERN } from './event-id.js';

/**
 * One schema per payload of the live API (docs/live.md): what a WebSocket client may send, what the server
 * sends over WebSocket and as Server-Sent Events. The WebSocket parser checks inbound messages with these
 * (ws-protocol.ts), the code that builds frames is typed by them (ws-protocol.ts, sse-connection.ts), and
 * the AsyncAPI document (asyncapi.ts) publishes them as they are, so the three cannot tell different stories.
 */

export const MAX_ID_LENGTH = 64;
export const MAX_SINCE_LENGTH = 64;
export const MAX_TICKET_LENGTH = 512;

/** A client's correlation id, echoed on the answer. */
export const MessageId = Type.Union(
  [
    Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }),
    Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH }),
  ],
  {
    description: `The client's id for the message: an integer or a string of 1 to ${MAX_ID_LENGTH} characters.`,
  },
);
export type MessageId = Static<typeof MessageId>;

const EventId = (description: string) => Type.String({ pattern: EVENT_ID_PATTERN, description });
const Timestamp = (description: string) => Type.String({ format: 'date-time', description });
const ChannelOf = (description = 'The channel.') => Type.String({ description });
const InboundChannel = Type.String({
  minLength: 1,
  maxLength: MAX_CHANNEL_NAME_LENGTH,
  description: `A channel name of 1 to ${MAX_CHANNEL_NAME_LENGTH} characters: a declared stream, \`user:{id}\` or \`config\`.`,
});
const EventData = Type.Unknown({ description: 'The event as published: any JSON value.' });
const ErrorCodeField = (description: string) =>
  Type.Integer({ description: `${description} Codes are those of docs/errors.md (\`/docs/errors\`).` });

// ---- WebSocket: what a client sends ----

export const SubscribeMessage = Type.Object(
  {
    type: Type.Literal('subscribe'),
    id: MessageId,
    channel: InboundChannel,
    since: Type.Optional(
      Type.Union([Type.String({ maxLength: MAX_SINCE_LENGTH }), Type.Null()], {
        description:
          'Resume after this event id (`<epoch>:<seq>`, the last one the client saw): the events after it are ' +
          'replayed, or `reset` and the snapshot come when the history no longer reaches it.',
      }),
    ),
  },
  {
    title: 'subscribe',
    description: 'Follow a channel: `subscribed`, then the snapshot or replay, then live events.',
  },
);

export const UnsubscribeMessage = Type.Object(
  { type: Type.Literal('unsubscribe'), id: MessageId, channel: InboundChannel },
  {
    title: 'unsubscribe',
    description: 'Stop following a channel; answered with `unsubscribed` even when not subscribed.',
  },
);

export const PingMessage = Type.Object(
  { type: Type.Literal('ping'), id: MessageId },
  {
    title: 'ping',
    description:
      'Answered with `pong` after everything the messages before it caused (messages are handled in order).',
  },
);

export const AuthMessage = Type.Object(
  {
    type: Type.Literal('auth'),
    id: Type.Optional(Type.Union([MessageId, Type.Null()])),
    ticket: Type.String({
      minLength: 1,
      maxLength: MAX_TICKET_LENGTH,
      description: 'A connect ticket from `POST /api/v1/auth/ws-ticket` (single use, 30 seconds).',
    }),
  },
  {
    title: 'auth',
    description:
      'Authenticates a socket opened without credentials (within 10 seconds of connecting), or renews the access ' +
      'of an open one after `auth_required` (a ticket of the same user).',
  },
);

/** Every message a client may send, by its `type`. */
export const CLIENT_MESSAGES = {
  subscribe: SubscribeMessage,
  unsubscribe: UnsubscribeMessage,
  ping: PingMessage,
  auth: AuthMessage,
} as const;
export type ClientMessageType = keyof typeof CLIENT_MESSAGES;

// ---- WebSocket: what the server sends ----

export const SubscribedFrame = Type.Object(
  {
    type: Type.Literal('subscribed'),
    id: MessageId,
    channel: ChannelOf(),
    recovered: Type.Boolean({
      description: 'True when `since` was given and every event after it is replayed next; false otherwise.',
    }),
    last_id: Type.Union([EventId('An event id.'), Type.Null()], {
      description:
        'The id of the last event the subscription starts from (the snapshot, or the last replayed event); ' +
        'null on a channel with no event yet.',
    }),
  },
  {
    title: 'subscribed',
    description: 'The answer to `subscribe`; the snapshot or the replayed events follow.',
  },
);
export type SubscribedFrame = Static<typeof SubscribedFrame>;

export const UnsubscribedFrame = Type.Object(
  { type: Type.Literal('unsubscribed'), id: MessageId, channel: ChannelOf() },
  { title: 'unsubscribed', description: 'The answer to `unsubscribe`.' },
);
export type UnsubscribedFrame = Static<typeof UnsubscribedFrame>;

export const PongFrame = Type.Object(
  { type: Type.Literal('pong'), id: MessageId },
  { title: 'pong', description: 'The answer to `ping`.' },
);
export type PongFrame = Static<typeof PongFrame>;

export const WsErrorFrame = Type.Object(
  {
    type: Type.Literal('error'),
    id: Type.Union([MessageId, Type.Null()], {
      description:
        'The id of the message refused (null when none could be read), or of the `subscribe` whose subscription ended.',
    }),
    code: ErrorCodeField(
      'Why: 2001 not JSON, not an object, or binary; 2000 an invalid message (unknown `type`, a missing or wrong ' +
        'field, a `since` this server never issued); 3000 no such channel or not yours to follow; 4000 already ' +
        'subscribed; 5002 too many subscriptions; 1001 the right to the channel was lost (with `channel`) or ' +
        'the ticket is another user’s; 1002/1009 the ticket of an `auth` was refused; 8001 Redis is away (retry the ' +
        'subscribe in a moment).',
    ),
    message: Type.String({ description: 'What went wrong, for people.' }),
    channel: Type.Optional(ChannelOf('Set when a subscription ended because its rights went.')),
  },
  {
    title: 'error',
    description:
      'A refused message, or a subscription that ended because its rights went. The socket stays open.',
  },
);
export type WsErrorFrame = Static<typeof WsErrorFrame>;

export const WsResetFrame = Type.Object(
  { type: Type.Literal('reset'), channel: ChannelOf() },
  {
    title: 'reset',
    description:
      'The `since` of a subscribe is no longer covered by the history (trimmed, or another epoch): the snapshot follows; ' +
      'the client reloads what it shows.',
  },
);
export type WsResetFrame = Static<typeof WsResetFrame>;

export const WsUnavailableFrame = Type.Object(
  { type: Type.Literal('unavailable'), channel: ChannelOf() },
  { title: 'unavailable', description: 'The channel was removed; the subscription is over.' },
);
export type WsUnavailableFrame = Static<typeof WsUnavailableFrame>;

/** A stream producer's state, as the bus carries it on `status:{stream}` (endpoints/producers/producer.ts). */
export const StreamStatus = Type.Object({
  state: Type.Union([Type.Literal('ok'), Type.Literal('error')], {
    description: "The stream's producer: `ok`, or `error` while its source fails.",
  }),
  message: Type.Optional(Type.String({ description: 'Why the source fails (with `error`).' })),
  at: Timestamp('When the state began (RFC 3339 UTC).'),
});
export type StreamStatus = Static<typeof StreamStatus>;

export const WsStatusFrame = Type.Object(
  { ...StreamStatus.properties, type: Type.Literal('status'), channel: ChannelOf() },
  {
    title: 'status',
    description:
      "The stream's producer: after the snapshot when there is one, then whenever the state or the error's message changes.",
  },
);
export type WsStatusFrame = Static<typeof WsStatusFrame>;

const eventFields = {
  channel: ChannelOf(),
  id: EventId('The event id, `<epoch>:<seq>`: resume after it with `since`.'),
  ts: Timestamp('When it was published (RFC 3339 UTC).'),
  data: EventData,
};

export const SnapshotFrame = Type.Object(
  { type: Type.Literal('snapshot'), ...eventFields },
  {
    title: 'snapshot',
    description:
      "The channel's latest event, on a fresh subscription or after `reset`; none when the channel has none.",
  },
);
export type SnapshotFrame = Static<typeof SnapshotFrame>;

export const EventFrame = Type.Object(
  { type: Type.Literal('event'), ...eventFields },
  { title: 'event', description: 'A replayed or live event, in order, none twice.' },
);
export type EventFrame = Static<typeof EventFrame>;

export const AuthenticatedFrame = Type.Object(
  {
    type: Type.Literal('authenticated'),
    id: Type.Union([MessageId, Type.Null()], {
      description: 'The id of the `auth` message, null when it had none.',
    }),
    user_id: Type.String({ description: 'The user the socket acts for.' }),
    expires_at: Type.Union([Timestamp('RFC 3339 UTC.'), Type.Null()], {
      description:
        'When its access expires (`auth_required` then comes); null for an API key, which has no renewal.',
    }),
  },
  { title: 'authenticated', description: 'The answer to `auth`.' },
);
export type AuthenticatedFrame = Static<typeof AuthenticatedFrame>;

export const AuthRequiredFrame = Type.Object(
  {
    type: Type.Literal('auth_required'),
    deadline: Timestamp('Send `{"type":"auth","ticket"}` before this, or the socket is closed with 4403.'),
  },
  {
    title: 'auth_required',
    description: 'The access behind the socket expired: get a new ticket and send it in an `auth` message.',
  },
);
export type AuthRequiredFrame = Static<typeof AuthRequiredFrame>;

/** Every frame the server sends on a WebSocket, by its `type`. */
export const SERVER_FRAMES = {
  subscribed: SubscribedFrame,
  unsubscribed: UnsubscribedFrame,
  pong: PongFrame,
  error: WsErrorFrame,
  reset: WsResetFrame,
  unavailable: WsUnavailableFrame,
  status: WsStatusFrame,
  snapshot: SnapshotFrame,
  event: EventFrame,
  authenticated: AuthenticatedFrame,
  auth_required: AuthRequiredFrame,
} as const satisfies Record<string, TSchema>;

// ---- Server-Sent Events: the data of each `event:` type ----

const sseEventFields = {
  id: EventId('The event id, `<epoch>:<seq>`.'),
  channel: ChannelOf(),
  ts: Timestamp('When it was published (RFC 3339 UTC).'),
  data: EventData,
};

export const SseEvent = Type.Object(sseEventFields, {
  title: 'event',
  description: 'A replayed or live event, in order, none twice; its `id:` line resumes after it.',
});
export type SseEvent = Static<typeof SseEvent>;

export const SseEmptySnapshot = Type.Object(
  { id: Type.Null(), channel: ChannelOf(), ts: Type.Null(), data: Type.Null() },
  { description: 'A channel with no event yet (no `id:` line).' },
);

export const SseSnapshot = Type.Union([Type.Object(sseEventFields), SseEmptySnapshot], {
  title: 'snapshot',
  description: "The channel's latest event, first on a fresh subscription and after `reset`.",
});
export type SseSnapshot = Static<typeof SseSnapshot>;

export const SseReset = Type.Object(
  {
    channel: ChannelOf(),
    last_event_id: Type.String({ description: 'The id the client resumed from.' }),
    message: Type.String(),
  },
  {
    title: 'reset',
    description: 'The history no longer reaches back to the id the client gave: a snapshot follows.',
  },
);
export type SseReset = Static<typeof SseReset>;

export const SseUnavailable = Type.Object(
  { channel: ChannelOf(), message: Type.String() },
  { title: 'unavailable', description: 'The channel was removed from the configuration; it stops here.' },
);
export type SseUnavailable = Static<typeof SseUnavailable>;

export const SseStatus = Type.Object(
  { ...StreamStatus.properties, channel: ChannelOf() },
  {
    title: 'status',
    description:
      "The stream's producer: after the snapshot when there is one, then whenever the state or the error's message changes.",
  },
);
export type SseStatus = Static<typeof SseStatus>;

export const SseError = Type.Object(
  {
    channel: Type.Optional(ChannelOf('Set when the right to this channel was lost (code 1001).')),
    code: ErrorCodeField('1001 the right to `channel` was lost; 1002 the session ended (the response ends).'),
    message: Type.String(),
  },
  {
    title: 'error',
    description:
      'The right to a channel was lost (that channel stops; a one-channel response ends), or the session ended.',
  },
);
export type SseError = Static<typeof SseError>;

/** The data of every named frame of an event stream, by its `event:` type. */
export const SSE_FRAMES = {
  snapshot: SseSnapshot,
  event: SseEvent,
  reset: SseReset,
  unavailable: SseUnavailable,
  status: SseStatus,
  error: SseError,
} as const satisfies Record<string, TSchema>;

/** What `EventStreamWriter.frame` may write under each type. */
export type SseFrameData = { [K in keyof typeof SSE_FRAMES]: Static<(typeof SSE_FRAMES)[K]> };
