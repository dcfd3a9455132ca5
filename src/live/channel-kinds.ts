import { Type } from '@sinclair/typebox';
import { type AccessRule, admits } from '../auth/access.js';
import type { Principal } from '../auth/principal.js';
import type { HistoryPolicy } from './bus.js';

/**
 * Every kind of channel and its rules, in one table: the names it owns, who may follow it, who writes it,
 * and what the WebSocket, SSE and publish paths get from it. The registry (channels.ts), the transports
 * and the endpoint configuration's name check all read this table; adding a kind is an entry here and its
 * case in test/live/channel-kinds.test.ts (docs/contributing.md has the recipe).
 */

/** The longest channel name any path accepts (WebSocket `channel`, SSE and publish paths); every kind fits. */
export const MAX_CHANNEL_NAME_LENGTH = 80;

/** A channel name in a path or query, as the SSE and publish routes take it. */
export const ChannelName = Type.String({ minLength: 1, maxLength: MAX_CHANNEL_NAME_LENGTH });

/** Names a stream may be declared under (docs/live.md), unless another kind owns the name. */
export const STREAM_NAME = /^[a-z][a-z0-9._-]{0,63}$/;

/** Who writes a channel's events. */
export type Writers =
  /** Switchboard itself only: POST /streams/{channel}/publish answers 403. */
  | 'switchboard'
  /** Also publishers through POST /streams/{channel}/publish, when the channel admits them (docs/live.md). */
  | 'publishers';

/** One channel, as the registry hands it to the transports and the publish route. */
export interface Channel {
  readonly name: string;
  /** Its kind's name, shown in GET /streams. */
  readonly kind: string;
  /** Shown to clients in GET /streams. */
  readonly meta: Record<string, unknown>;
  readonly history: HistoryPolicy;
  readonly writers: Writers;
  /**
   * The channel its producer's state travels on, which WebSocket and SSE subscribers get as `status` frames
   * beside its events; undefined when it has no producer.
   */
  readonly statusChannel: string | undefined;
  /** Who may follow it: subscribe over WebSocket or SSE, see it in GET /streams; asked again for every event. */
  admits(principal: Principal): boolean;
}

/** A stream as the endpoint configuration declares it. */
export interface ChannelDeclaration {
  name: string;
  access: AccessRule;
  /** Shown to clients in GET /streams. */
  meta?: Record<string, unknown>;
  history?: Partial<HistoryPolicy>;
}

/** What a kind may read of the registry. */
export interface KindContext {
  /** The history of a channel that sets none. */
  readonly defaults: HistoryPolicy;
  /** The declared streams, by name. */
  readonly streams: ReadonlyMap<string, Channel>;
}

export interface ChannelKind {
  /** Shown as `kind` in GET /streams. */
  readonly kind: string;
  /**
   * The names this kind owns, none longer than MAX_CHANNEL_NAME_LENGTH. A name belongs to the first kind in
   * CHANNEL_KINDS that matches it, so the built-ins, listed before `stream`, reserve theirs (`config`).
   */
  readonly names: RegExp;
  /**
   * False for channels clients cannot name: subscribing to one or publishing to it answers as for a
   * channel that does not exist (404), so they leak nothing.
   */
  readonly addressable: boolean;
  /** The channel of `name` (a name this kind owns), or undefined when there is none by that name now. */
  channel(name: string, context: KindContext): Channel | undefined;
  /** The channels of this kind GET /streams offers `principal`, before their `admits` is asked. */
  offered(principal: Principal, context: KindContext): Iterable<string>;
}

/** Where a stream's producer state travels: `status:{stream}`, one event deep, kept a week. */
export const statusChannelOf = (stream: string) => `status:${stream}`;
const STATUS_HISTORY: HistoryPolicy = { size: 1, maxAgeMs: 7 * 86_400_000 };

const nobody = () => false;

/** A stream of the active endpoint configuration, with its own access rule. */
const streamKind: ChannelKind = {
  kind: 'stream',
  names: STREAM_NAME,
  addressable: true,
  channel: (name, { streams }) => streams.get(name),
  offered: (_principal, { streams }) => streams.keys(),
};

/** `user:{id}`: that user's own events (e.g. `preferences.updated`). */
const userKind: ChannelKind = {
  kind: 'user',
  names: /^user:[A-Za-z0-9_-]{1,64}$/,
  addressable: true,
  channel: (name, { defaults }) => {
    const owner = name.slice('user:'.length);
    return {
      name,
      kind: 'user',
      meta: { description: 'Events for this user only' },
      history: defaults,
      writers: 'switchboard',
      statusChannel: undefined,
      admits: (principal) => principal.userId === owner,
    };
  },
  offered: (principal) => [`user:${principal.userId}`],
};

/** `config`: activations and recovery of the endpoint configuration, for editors and admins. */
const configKind: ChannelKind = {
  kind: 'config',
  names: /^config$/,
  addressable: true,
  channel: (name, { defaults }) => ({
    name,
    kind: 'config',
    meta: { description: 'Configuration activations and recovery' },
    history: defaults,
    writers: 'switchboard',
    statusChannel: undefined,
    admits: (principal) => admits(principal, { minRole: 'editor' }),
  }),
  offered: () => ['config'],
};

/** `status:{stream}`: a producer's state, delivered only beside its stream, never subscribed to by name. */
const statusKind: ChannelKind = {
  kind: 'status',
  names: new RegExp(`^status:${STREAM_NAME.source.slice(1)}`),
  addressable: false,
  channel: (name) => ({
    name,
    kind: 'status',
    meta: {},
    history: STATUS_HISTORY,
    writers: 'switchboard',
    statusChannel: undefined,
    admits: nobody,
  }),
  offered: () => [],
};

/** Every kind, in the order names are matched and GET /streams lists channels. */
export const CHANNEL_KINDS: readonly ChannelKind[] = [userKind, configKind, streamKind, statusKind];

/** The kind that owns `name`, or undefined for a name no channel can have. */
export function kindOf(name: string): ChannelKind | undefined {
  if (name.length > MAX_CHANNEL_NAME_LENGTH) return undefined;
  return CHANNEL_KINDS.find((kind) => kind.names.test(name));
}

/** What a declared stream's name must look like, as the endpoint configuration's schema says it. */
export const STREAM_NAME_RULE = 'must be a channel name: a lowercase letter, then up to 63 of a-z 0-9 . _ -';

/** Why a name the stream rule allows is still not a stream's (a built-in kind owns it), or undefined. */
export function reservedNameProblem(name: string): string | undefined {
  if (!STREAM_NAME.test(name) || kindOf(name) === streamKind) return undefined;
  return `"${name}" is a built-in channel`;
}

/** Why a stream cannot be declared under `name`, or undefined when it can. */
export function streamNameProblem(name: string): string | undefined {
  return STREAM_NAME.test(name) ? reservedNameProblem(name) : STREAM_NAME_RULE;
}

/** A declared stream: its producer's state travels beside it, and publishers may write it too. */
export function declaredStream(declaration: ChannelDeclaration, defaults: HistoryPolicy): Channel {
  const rule = declaration.access;
  return {
    name: declaration.name,
    kind: streamKind.kind,
    meta: { ...declaration.meta },
    history: { ...defaults, ...declaration.history },
    writers: 'publishers',
    statusChannel: statusChannelOf(declaration.name),
    admits: (principal) => admits(principal, rule),
  };
}
