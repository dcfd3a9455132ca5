import type { Static, TObject } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ErrorCode } from '../platform/problem.js';
import type { LiveEvent } from './bus.js';
import { MAX_CHANNEL_NAME_LENGTH } from './channel-kinds.js';
import {
  type AuthenticatedFrame,
  AuthMessage,
  type AuthRequiredFrame,
  CLIENT_MESSAGES,
  type ClientMessageType,
  type EventFrame,
  MAX_ID_LENGTH,
  MessageId,
  PingMessage,
  type PongFrame,
  type SnapshotFrame,
  type StreamStatus,
  type SubscribedFrame,
  SubscribeMessage,
  type UnsubscribedFrame,
  UnsubscribeMessage,
  type WsErrorFrame,
  type WsResetFrame,
  type WsStatusFrame,
  type WsUnavailableFrame,
} from './frame-schemas.js';

/**
 * The WebSocket message protocol of docs/live.md: what a client may send, checked against the schemas of
 * frame-schemas.ts (each failure with its own code and message), and the frames the server sends, typed
 * by the same schemas.
 */

export type { MessageId };

/** A parsed message: an absent or null `id` of `auth` reads as null, an absent or null `since` as undefined. */
export type ClientMessage =
  | (Omit<Static<typeof SubscribeMessage>, 'since'> & { since: string | undefined })
  | Static<typeof UnsubscribeMessage>
  | Static<typeof PingMessage>
  | (Omit<Static<typeof AuthMessage>, 'id'> & { id: MessageId | null });

/** Why a frame was refused: the error frame's `code` and `message`, and the id it answers if one was readable. */
export interface Refusal {
  id: MessageId | null;
  code: number;
  message: string;
}

/**
 * Every close code a client of the gateway can see (docs/live.md), with what it means and what the client
 * should do; the AsyncAPI document publishes this table. `by` says who closes with it: Switchboard (through
 * `CloseCode`), the ws library on a frame that breaks the protocol or its limits, or nobody (the connection
 * was cut without a close frame).
 */
export const CLOSE_CODES = {
  unauthenticated: {
    code: 4401,
    by: 'switchboard',
    meaning:
      'no credentials arrived within 10 seconds, a message other than `auth` came first, or the credentials were wrong (unknown, spent or expired ticket; invalid token or key)',
    action: 'get a new ticket (sign in again if need be) and reconnect; do not retry the same credentials',
  },
  sessionEnded: {
    code: 4403,
    by: 'switchboard',
    meaning:
      'the session ended (logout, revocation, password change, user disabled or deleted, its API key revoked or expired), access expired and no fresh ticket came in the grace period, or a password change is due',
    action: 'do not reconnect with the same credentials: sign in again (or change the password) first',
  },
  connectionCap: {
    code: 4429,
    by: 'switchboard',
    meaning:
      'the user already has SWITCHBOARD_WS_CONNECTIONS_PER_USER WebSockets open (counted across instances)',
    action: 'close another socket of this user before reconnecting, or wait; the reason says the cap',
  },
  slowConsumer: {
    code: 4409,
    by: 'switchboard',
    meaning: 'more than SWITCHBOARD_WS_MAX_BACKLOG_BYTES waited to be sent: the client reads too slowly',
    action: 'reconnect and subscribe with `since` (the last event id seen) to catch up from history',
  },
  restarting: {
    code: 1012,
    by: 'switchboard',
    meaning: 'the server is shutting down',
    action:
      'reconnect (through the load balancer, to another instance) after a short, randomised delay, with `since`',
  },
  internalError: {
    code: 1011,
    by: 'switchboard',
    meaning: 'an internal error while handling a message (the server log has it)',
    action: 'reconnect with `since` after a delay that grows on each repeat',
  },
  tooBig: {
    code: 1009,
    by: 'ws',
    meaning: 'a message over 64 KiB',
    action: 'send smaller messages; reconnect with `since`',
  },
  policyViolation: {
    code: 1008,
    by: 'ws',
    meaning: 'a message sent in more than 16,384 fragments',
    action: 'send each message in one frame; reconnect with `since`',
  },
  protocolError: {
    code: 1002,
    by: 'ws',
    meaning: 'a frame that breaks the WebSocket protocol',
    action: 'fix the client; reconnect with `since`',
  },
  invalidText: {
    code: 1007,
    by: 'ws',
    meaning: 'a text message that is not UTF-8',
    action: 'send UTF-8 text; reconnect with `since`',
  },
  abnormal: {
    code: 1006,
    by: 'nobody',
    meaning:
      'seen by the client only: the connection was cut without a close frame (no answer to heartbeats, a closing socket that did not finish the close handshake, a network failure)',
    action: 'reconnect with `since` after a short, randomised delay',
  },
} as const satisfies Record<
  string,
  { code: number; by: 'switchboard' | 'ws' | 'nobody'; meaning: string; action: string }
>;

/** Close codes by name, for the code that closes sockets. */
export const CloseCode = Object.fromEntries(
  Object.entries(CLOSE_CODES).map(([name, entry]) => [name, entry.code]),
) as { readonly [K in keyof typeof CLOSE_CODES]: (typeof CLOSE_CODES)[K]['code'] };

/** Error frame codes (docs/errors.md). */
export const FrameError = {
  forbidden: ErrorCode.forbidden,
  invalidToken: ErrorCode.invalidToken,
  invalidMessage: ErrorCode.invalidBody,
  malformed: ErrorCode.malformedRequest,
  notFound: ErrorCode.notFound,
  conflict: ErrorCode.conflict,
  subscriptionCap: ErrorCode.concurrencyCap,
  internal: ErrorCode.internal,
} as const;

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

const isId = TypeCompiler.Compile(MessageId);
const TYPES = Object.keys(CLIENT_MESSAGES) as ClientMessageType[];
const TYPE_LIST = `${TYPES.slice(0, -1).join(', ')} or ${TYPES.at(-1)}`;

/** What a field that fails its schema is told, by field name. */
const FIELD_PROBLEMS: Record<string, (type: ClientMessageType) => string> = {
  id: (type) => `/id is required on a ${type} message`,
  channel: () => `/channel is required: a channel name of 1 to ${MAX_CHANNEL_NAME_LENGTH} characters`,
  since: () => '/since must be an event id ("<epoch>:<seq>") this channel issued',
  ticket: () => '/ticket is required: a ticket from POST /api/v1/auth/ws-ticket',
};

/** Per message type: the whole message's check, and each field's, in the schema's order, to name the first that fails. */
const checks = Object.fromEntries(
  Object.entries(CLIENT_MESSAGES).map(([type, schema]: [string, TObject]) => [
    type,
    {
      whole: TypeCompiler.Compile(schema),
      fields: Object.entries(schema.properties).map(([name, property]) => ({
        name,
        optional: !schema.required?.includes(name),
        check: TypeCompiler.Compile(property),
      })),
    },
  ]),
) as unknown as Record<
  ClientMessageType,
  { whole: { Check(value: unknown): boolean }; fields: FieldCheck[] }
>;

interface FieldCheck {
  name: string;
  optional: boolean;
  check: { Check(value: unknown): boolean };
}

/** Quotes a client's value in a message without echoing a whole 64 KiB back. */
const quote = (value: string) => JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);

/** The message a text frame carries, or why it is refused. */
export function parseClientMessage(text: string): ClientMessage | Refusal {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { id: null, code: FrameError.malformed, message: 'the frame is not valid JSON' };
  }
  if (!isObject(value)) {
    return { id: null, code: FrameError.malformed, message: 'a message is a JSON object with a "type"' };
  }
  const rawId = value.id;
  const id = rawId === undefined || rawId === null ? null : isId.Check(rawId) ? rawId : undefined;
  if (id === undefined) {
    return {
      id: null,
      code: FrameError.invalidMessage,
      message: `/id must be an integer or a string of 1 to ${MAX_ID_LENGTH} characters`,
    };
  }
  const invalid = (message: string): Refusal => ({ id, code: FrameError.invalidMessage, message });
  const type = value.type;
  if (typeof type !== 'string') return invalid(`/type is required: ${TYPE_LIST}`);
  if (!(TYPES as readonly string[]).includes(type)) {
    return invalid(`unknown message type ${quote(type)}; expected ${TYPE_LIST}`);
  }
  const known = type as ClientMessageType;
  const check = checks[known];
  if (!check.whole.Check(value)) {
    for (const field of check.fields) {
      const fieldValue = value[field.name];
      if (field.optional && fieldValue === undefined) continue;
      if (!field.check.Check(fieldValue)) {
        return invalid(FIELD_PROBLEMS[field.name]?.(known) ?? `/${field.name} is invalid`);
      }
    }
    // The fields' checks cover the whole one's; should they ever not, nothing unchecked gets through.
    return invalid(`not a valid ${known} message`);
  }
  const message = value as Static<(typeof CLIENT_MESSAGES)[typeof known]>;
  switch (message.type) {
    case 'auth':
      return { type: 'auth', id, ticket: message.ticket };
    case 'ping':
      return { type: 'ping', id: message.id };
    case 'unsubscribe':
      return { type: 'unsubscribe', id: message.id, channel: message.channel };
    case 'subscribe':
      return {
        type: 'subscribe',
        id: message.id,
        channel: message.channel,
        since: message.since ?? undefined,
      };
  }
}

export const isRefusal = (parsed: ClientMessage | Refusal): parsed is Refusal => 'code' in parsed;

/** Server frames, serialized; each is typed by its schema in frame-schemas.ts. */
export const frames = {
  subscribed: (id: MessageId, channel: string, recovered: boolean, lastId: string | null) =>
    JSON.stringify({
      type: 'subscribed',
      id,
      channel,
      recovered,
      last_id: lastId,
    } satisfies SubscribedFrame),
  unsubscribed: (id: MessageId, channel: string) =>
    JSON.stringify({ type: 'unsubscribed', id, channel } satisfies UnsubscribedFrame),
  pong: (id: MessageId) => JSON.stringify({ type: 'pong', id } satisfies PongFrame),
  error: (refusal: Refusal, channel?: string) =>
    JSON.stringify({
      type: 'error',
      id: refusal.id,
      code: refusal.code,
      message: refusal.message,
      ...(channel === undefined ? {} : { channel }),
    } satisfies WsErrorFrame),
  reset: (channel: string) => JSON.stringify({ type: 'reset', channel } satisfies WsResetFrame),
  unavailable: (channel: string) =>
    JSON.stringify({ type: 'unavailable', channel } satisfies WsUnavailableFrame),
  /** The stream's producer: `{state: "ok"|"error", message?, at}`. */
  status: (channel: string, status: StreamStatus) =>
    JSON.stringify({ ...status, type: 'status', channel } satisfies WsStatusFrame),
  snapshot: (event: LiveEvent) =>
    JSON.stringify({
      type: 'snapshot',
      channel: event.channel,
      id: event.id,
      ts: event.ts,
      data: event.data,
    } satisfies SnapshotFrame),
  /** The answer to an `auth` message: who the socket now acts for, and until when. */
  authenticated: (id: MessageId | null, userId: string, expiresAt: number | null) =>
    JSON.stringify({
      type: 'authenticated',
      id,
      user_id: userId,
      expires_at: expiresAt === null ? null : new Date(expiresAt).toISOString(),
    } satisfies AuthenticatedFrame),
  /** The access behind the socket expired: send a fresh ticket before `deadline` or be closed with 4403. */
  authRequired: (deadline: number) =>
    JSON.stringify({
      type: 'auth_required',
      deadline: new Date(deadline).toISOString(),
    } satisfies AuthRequiredFrame),
};

// One event goes to every subscriber of its channel as the same bytes: serialize it once.
const eventFrames = new WeakMap<LiveEvent, string>();

export function eventFrame(event: LiveEvent): string {
  let frame = eventFrames.get(event);
  if (frame === undefined) {
    frame = JSON.stringify({
      type: 'event',
      channel: event.channel,
      id: event.id,
      ts: event.ts,
      data: event.data,
    } satisfies EventFrame);
    eventFrames.set(event, frame);
  }
  return frame;
}
