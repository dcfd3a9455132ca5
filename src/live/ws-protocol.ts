import { ErrorCode } from '../platform/problem.js';
import type { LiveEvent } from './bus.js';
import { MAX_CHANNEL_NAME_LENGTH } from './channel-kinds.js';

/**
 * The WebSocket message protocol of docs/live.md: what a client may send, checked by hand (the
 * shapes are small and every failure needs its own code and message), and the frames the server sends.
 */

/** A client's correlation id, echoed on the reply: an integer or a short string. */
export type MessageId = number | string;

export type ClientMessage =
  | { type: 'subscribe'; id: MessageId; channel: string; since: string | undefined }
  | { type: 'unsubscribe'; id: MessageId; channel: string }
  | { type: 'ping'; id: MessageId }
  | { type: 'auth'; id: MessageId | null; ticket: string };

/** Why a frame was refused: the error frame's `code` and `message`, and the id it answers if one was readable. */
export interface Refusal {
  id: MessageId | null;
  code: number;
  message: string;
}

/** Close codes of docs/live.md, plus the standard ones the gateway uses. */
export const CloseCode = {
  internalError: 1011,
  tooBig: 1009,
  restarting: 1012,
  unauthenticated: 4401,
  sessionEnded: 4403,
  slowConsumer: 4409,
  connectionCap: 4429,
} as const;

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

const MAX_ID_LENGTH = 64;
const MAX_SINCE_LENGTH = 64;
const MAX_TICKET_LENGTH = 512;
const TYPES = ['subscribe', 'unsubscribe', 'ping', 'auth'] as const;

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

const isId = (value: unknown): value is MessageId =>
  (typeof value === 'number' && Number.isSafeInteger(value)) ||
  (typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH);

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
  const id = rawId === undefined || rawId === null ? null : isId(rawId) ? rawId : undefined;
  if (id === undefined) {
    return {
      id: null,
      code: FrameError.invalidMessage,
      message: `/id must be an integer or a string of 1 to ${MAX_ID_LENGTH} characters`,
    };
  }
  const invalid = (message: string): Refusal => ({ id, code: FrameError.invalidMessage, message });
  const type = value.type;
  if (typeof type !== 'string') return invalid('/type is required: subscribe, unsubscribe, ping or auth');
  if (!(TYPES as readonly string[]).includes(type)) {
    return invalid(`unknown message type ${quote(type)}; expected subscribe, unsubscribe, ping or auth`);
  }
  if (type === 'auth') {
    const ticket = value.ticket;
    if (typeof ticket !== 'string' || ticket.length === 0 || ticket.length > MAX_TICKET_LENGTH) {
      return invalid('/ticket is required: a ticket from POST /api/v1/auth/ws-ticket');
    }
    return { type, id, ticket };
  }
  if (id === null) return invalid(`/id is required on a ${type} message`);
  if (type === 'ping') return { type, id };
  const channel = value.channel;
  if (typeof channel !== 'string' || channel.length === 0 || channel.length > MAX_CHANNEL_NAME_LENGTH) {
    return invalid(`/channel is required: a channel name of 1 to ${MAX_CHANNEL_NAME_LENGTH} characters`);
  }
  if (type === 'unsubscribe') return { type, id, channel };
  const since = value.since;
  if (
    since !== undefined &&
    since !== null &&
    (typeof since !== 'string' || since.length > MAX_SINCE_LENGTH)
  ) {
    return invalid('/since must be an event id ("<epoch>:<seq>") this channel issued');
  }
  return { type: 'subscribe', id, channel, since: since ?? undefined };
}

export const isRefusal = (parsed: ClientMessage | Refusal): parsed is Refusal => 'code' in parsed;

/** Server frames, serialized. */
export const frames = {
  subscribed: (id: MessageId, channel: string, recovered: boolean, lastId: string | null) =>
    JSON.stringify({ type: 'subscribed', id, channel, recovered, last_id: lastId }),
  unsubscribed: (id: MessageId, channel: string) => JSON.stringify({ type: 'unsubscribed', id, channel }),
  pong: (id: MessageId) => JSON.stringify({ type: 'pong', id }),
  error: (refusal: Refusal, channel?: string) =>
    JSON.stringify({
      type: 'error',
      id: refusal.id,
      code: refusal.code,
      message: refusal.message,
      ...(channel === undefined ? {} : { channel }),
    }),
  reset: (channel: string) => JSON.stringify({ type: 'reset', channel }),
  unavailable: (channel: string) => JSON.stringify({ type: 'unavailable', channel }),
  /** The stream's producer: `{state: "ok"|"error", message?, at}`. */
  status: (channel: string, status: unknown) =>
    JSON.stringify({ ...(status as object), type: 'status', channel }),
  snapshot: (event: LiveEvent) =>
    JSON.stringify({
      type: 'snapshot',
      channel: event.channel,
      id: event.id,
      ts: event.ts,
      data: event.data,
    }),
  /** The answer to an `auth` message: who the socket now acts for, and until when. */
  authenticated: (id: MessageId | null, userId: string, expiresAt: number | null) =>
    JSON.stringify({
      type: 'authenticated',
      id,
      user_id: userId,
      expires_at: expiresAt === null ? null : new Date(expiresAt).toISOString(),
    }),
  /** The access behind the socket expired: send a fresh ticket before `deadline` or be closed with 4403. */
  authRequired: (deadline: number) =>
    JSON.stringify({ type: 'auth_required', deadline: new Date(deadline).toISOString() }),
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
    });
    eventFrames.set(event, frame);
  }
  return frame;
}
