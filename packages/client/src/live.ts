import { Emitter } from './emitter.js';
import type { SwitchboardError } from './errors.js';
import {
  type ChannelStatus,
  type Inbound,
  type LiveEvent,
  positionOf,
  type SubscriptionEnd,
} from './frames.js';
import type { Session } from './session.js';
import { SseConnection } from './sse-transport.js';
import type { Closed, Connection } from './transport.js';
import { WebSocketConnection, type WebSocketConstructor } from './ws-transport.js';

/** How many times a channel the server knew is asked for again when the server says it does not exist. */
const NOT_FOUND_RETRIES = 5;

/**
 * - `connecting`: the first connection is being made;
 * - `live`: connected, every subscription answered and what it missed replayed;
 * - `recovering`: the connection was lost; reconnecting and catching up;
 * - `offline`: not connected: closed, or the server has not been reachable for several attempts (the
 *   client keeps trying);
 * - `signed-out`: the session is over; nothing reconnects until someone signs in again.
 */
export type LiveState = 'connecting' | 'live' | 'recovering' | 'offline' | 'signed-out';

export type TransportName = 'websocket' | 'sse';

export interface ChannelHandlers<T = unknown> {
  /** A live or replayed event, in order, each once. */
  event?(event: LiveEvent<T>): void;
  /**
   * The channel's latest event: first on a fresh subscription, and after `reset`; null when the channel has
   * no event yet.
   */
  snapshot?(event: LiveEvent<T> | null): void;
  /**
   * The history no longer reaches back to the last event seen (it was trimmed, or the server's history was
   * lost): what was missed cannot be replayed, the snapshot follows. Reload what depends on the channel.
   */
  reset?(info: { channel: string; lastId: string | null }): void;
  /** The stream's producer is `ok` or in `error`. */
  status?(status: ChannelStatus): void;
  /** The subscription is over and will not come back. */
  end?(end: SubscriptionEnd): void;
}

export interface Subscription {
  readonly channel: string;
  /** The id of the last event delivered: where a reconnect resumes. */
  readonly lastId: string | null;
  /** Stops this subscription (the channel stays followed while others subscribe to it). */
  close(): void;
}

export interface LiveStats {
  /** Connections that came up. */
  connections: number;
  /** Events dropped because they were delivered already (none when the server keeps its promise). */
  duplicatesDropped: number;
  /** Events whose sequence skipped numbers within one epoch (none when the server keeps its promise). */
  gaps: number;
  resets: number;
}

export interface LiveEvents {
  state: LiveState;
  /** A failure behind a reconnect, for logs; the client goes on trying. */
  error: SwitchboardError;
  transport: TransportName;
}

export interface LiveOptions {
  /** `auto` (default): WebSocket when there is one and it works, else Server-Sent Events. */
  transport?: 'auto' | TransportName;
  /** The WebSocket class: the browser's by default; in Node 20, the `ws` package's. */
  WebSocket?: WebSocketConstructor;
  /** First reconnect delay (default 250 ms), doubled per failed attempt up to `maxDelayMs` (30 s), with jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Failed attempts in a row after which the state says `offline` (default 3). */
  offlineAfter?: number;
  /** How often the client pings an open WebSocket to notice a dead connection (default 25 s). */
  pingIntervalMs?: number;
  /** How long a connection may take to open (ticket, upgrade, or event-stream headers; default 10 s). */
  connectTimeoutMs?: number;
}

interface Channel {
  name: string;
  handlers: Set<ChannelHandlers<unknown>>;
  lastId: string | null;
  latest: LiveEvent | null;
  /** A reset was announced and its snapshot is awaited: the snapshot sets the position whatever it is. */
  resetting: boolean;
  /** The server answered for this channel at least once: a later "no such channel" may be a server starting. */
  confirmed: boolean;
  notFoundRetries: number;
  /** The server said the channel is empty, and a reset (after which the snapshot would be) is coming. */
  emptyAfterReset: boolean;
  retryTimer: ReturnType<typeof setTimeout> | null;
}

/**
 * Live channels over one connection: WebSocket with connect tickets, or Server-Sent Events when there is no
 * WebSocket or it cannot connect. It reconnects with exponential back-off and jitter, resumes each channel
 * after the last event it delivered (dropping any event seen already), hands `reset` and the snapshot on
 * when the history cannot fill the gap, renews its ticket when the server asks, and reports its state.
 */
export class LiveClient extends Emitter<LiveEvents> {
  state: LiveState = 'offline';
  readonly stats: LiveStats = { connections: 0, duplicatesDropped: 0, gaps: 0, resets: 0 };
  private readonly channels = new Map<string, Channel>();
  private connection: Connection | null = null;
  private transport: TransportName;
  private started = false;
  private everLive = false;
  private failures = 0;
  private transportFailures = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly options: Required<Omit<LiveOptions, 'WebSocket'>> & { WebSocket?: WebSocketConstructor };

  constructor(
    private readonly session: Session,
    options: LiveOptions = {},
  ) {
    super();
    const WebSocketImpl =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? undefined;
    this.options = {
      transport: options.transport ?? 'auto',
      baseDelayMs: options.baseDelayMs ?? 250,
      maxDelayMs: options.maxDelayMs ?? 30_000,
      offlineAfter: options.offlineAfter ?? 3,
      pingIntervalMs: options.pingIntervalMs ?? 25_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      ...(WebSocketImpl && { WebSocket: WebSocketImpl }),
    };
    this.transport = this.firstTransport();
    session.on('signed-out', () => this.signedOut());
    session.on('signed-in', () => {
      if (this.state === 'signed-out') {
        this.setState('offline');
        if (this.channels.size > 0) this.start();
      }
    });
  }

  /** The transport in use (or to be used next). */
  get transportName(): TransportName {
    return this.transport;
  }

  private firstTransport(): TransportName {
    if (this.options.transport !== 'auto') return this.options.transport;
    // An API key cannot take connect tickets; the event stream takes it as a bearer.
    if (!this.options.WebSocket || this.session.mode === 'api-key') return 'sse';
    return 'websocket';
  }

  /**
   * Follows `channel`: `handlers` get its snapshot, events, resets, status and end. Starts the connection if
   * it is not up. `since` resumes after an event id kept from earlier (e.g. across a page load).
   */
  subscribe<T = unknown>(
    channel: string,
    handlers: ChannelHandlers<T>,
    options: { since?: string } = {},
  ): Subscription {
    const h = handlers as ChannelHandlers<unknown>;
    let entry = this.channels.get(channel);
    if (entry) {
      entry.handlers.add(h);
      // A second subscriber of a followed channel starts from what the first has.
      if (entry.latest || entry.lastId) queueMicrotask(() => h.snapshot?.(entry?.latest ?? null));
    } else {
      entry = {
        name: channel,
        handlers: new Set([h]),
        lastId: options.since ?? null,
        latest: null,
        resetting: false,
        confirmed: false,
        notFoundRetries: 0,
        emptyAfterReset: false,
        retryTimer: null,
      };
      this.channels.set(channel, entry);
      this.connection?.subscribe(channel, entry.lastId);
    }
    if (!this.started && this.state !== 'signed-out') this.start();
    const live = this;
    const held = entry;
    return {
      channel,
      get lastId() {
        return held.lastId;
      },
      close() {
        live.drop(held, h);
      },
    };
  }

  /** Connects (subscribing starts it too). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.failures = 0;
    this.connect();
  }

  /** Closes the connection; subscriptions are kept and resume from where they were on `start()`. */
  stop(): void {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.connection?.close();
    this.connection = null;
    if (this.state !== 'signed-out') this.setState('offline');
  }

  /** Drops the connection and connects again (as a lost connection would), resuming every channel. */
  reconnect(): void {
    if (!this.started) return this.start();
    this.connection?.close();
    this.connection = null;
    if (this.timer) clearTimeout(this.timer);
    this.connect();
  }

  /** Stops and ends every subscription. */
  close(): void {
    this.stop();
    for (const channel of [...this.channels.values()]) {
      this.end(channel, { reason: 'closed', code: null, message: 'the client closed it' });
    }
  }

  private drop(channel: Channel, handlers: ChannelHandlers<unknown>): void {
    channel.handlers.delete(handlers);
    if (channel.handlers.size > 0 || this.channels.get(channel.name) !== channel) return;
    this.channels.delete(channel.name);
    if (channel.retryTimer) clearTimeout(channel.retryTimer);
    this.connection?.unsubscribe(channel.name);
  }

  private end(channel: Channel, end: SubscriptionEnd): void {
    if (this.channels.get(channel.name) !== channel) return;
    this.channels.delete(channel.name);
    if (channel.retryTimer) clearTimeout(channel.retryTimer);
    if (end.reason !== 'closed' && end.reason !== 'signed-out') this.connection?.unsubscribe(channel.name);
    for (const handlers of channel.handlers) handlers.end?.(end);
  }

  private setState(state: LiveState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  private connect(): void {
    this.timer = null;
    if (!this.started) return;
    if (this.failures >= this.options.offlineAfter) this.setState('offline');
    else this.setState(this.everLive ? 'recovering' : 'connecting');
    const hooks = {
      open: () => {
        if (this.connection !== connection) return;
        this.stats.connections += 1;
      },
      ready: () => {
        if (this.connection !== connection) return;
        this.failures = 0;
        this.transportFailures = 0;
        this.everLive = true;
        // A channel waiting to be asked for again is not live yet.
        if (![...this.channels.values()].some((c) => c.retryTimer !== null)) this.setState('live');
      },
      frame: (frame: Inbound) => {
        if (this.connection === connection) this.receive(frame);
      },
      closed: (closed: Closed) => {
        if (this.connection !== connection) return;
        this.connection = null;
        this.lost(closed);
      },
    };
    let connection: Connection;
    if (this.transport === 'websocket' && this.options.WebSocket) {
      connection = new WebSocketConnection(
        this.session,
        this.options.WebSocket,
        hooks,
        this.options.pingIntervalMs,
        this.options.connectTimeoutMs,
      );
    } else {
      connection = new SseConnection(
        this.session,
        hooks,
        (name) => this.channels.get(name)?.lastId ?? null,
        this.options.connectTimeoutMs,
      );
    }
    this.connection = connection;
    this.emit('transport', this.transport);
    for (const channel of this.channels.values()) connection.subscribe(channel.name, channel.lastId);
  }

  private lost(closed: Closed): void {
    if (closed.error) this.emit('error', closed.error);
    if (!this.session.isSignedIn) return this.signedOut();
    if (!this.started) return;
    if (closed.transportFailed && this.options.transport === 'auto' && this.transport === 'websocket') {
      this.transportFailures += 1;
      // The server answers (the ticket came) but no WebSocket opens: a proxy in the way. Events still flow.
      if (this.transportFailures >= 2) this.transport = 'sse';
    }
    if (!closed.opened) this.failures += 1;
    const ceiling = Math.min(
      this.options.maxDelayMs,
      this.options.baseDelayMs * 2 ** Math.min(this.failures, 16),
    );
    // Half fixed, half random: clients cut at the same moment do not all come back at the same moment.
    let delay = ceiling / 2 + Math.random() * (ceiling / 2);
    if (closed.retryAfterMs !== undefined) delay = Math.max(delay, closed.retryAfterMs);
    if (closed.code === 4429) delay = Math.max(delay, 5_000);
    this.setState(
      this.failures >= this.options.offlineAfter ? 'offline' : this.everLive ? 'recovering' : 'connecting',
    );
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private signedOut(): void {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const connection = this.connection;
    this.connection = null;
    connection?.close();
    this.setState('signed-out');
  }

  private receive(frame: Inbound): void {
    const channel = this.channels.get(frame.type === 'event' ? frame.event.channel : frame.channel);
    if (!channel) return;
    if (frame.type !== 'ended' && frame.type !== 'retry-subscribe' && frame.type !== 'bad-position') {
      channel.confirmed = true;
      channel.notFoundRetries = 0;
    }
    switch (frame.type) {
      case 'subscribed':
        // A channel with no event yet has no snapshot to send (WebSocket): say so as an empty snapshot, after
        // the reset when the subscription resumed from a position the server no longer has.
        if (!frame.recovered && frame.lastId === null) {
          if (channel.lastId === null) this.snapshot(channel, null);
          else channel.emptyAfterReset = true;
        }
        return;
      case 'event':
        return this.deliver(channel, frame.event);
      case 'snapshot':
        return this.snapshot(channel, frame.event);
      case 'reset':
        this.stats.resets += 1;
        channel.resetting = true;
        for (const handlers of channel.handlers)
          handlers.reset?.({ channel: channel.name, lastId: channel.lastId });
        if (channel.emptyAfterReset) {
          channel.emptyAfterReset = false;
          this.snapshot(channel, null);
        }
        return;
      case 'status':
        for (const handlers of channel.handlers) handlers.status?.(frame.status);
        return;
      case 'ended':
        // A channel that existed a moment ago and is now unknown is most likely on a server still starting
        // (it answers before its configuration is loaded) or between two configurations: a removal says
        // `unavailable`. Asked again a few times before the subscription is given up.
        if (
          frame.end.reason === 'not-found' &&
          channel.confirmed &&
          channel.notFoundRetries < NOT_FOUND_RETRIES
        ) {
          channel.notFoundRetries += 1;
          return this.resubscribeLater(channel, 250 * 2 ** channel.notFoundRetries);
        }
        return this.end(channel, frame.end);
      case 'retry-subscribe':
        return this.resubscribeLater(channel, 1_000);
      case 'bad-position':
        this.stats.resets += 1;
        channel.resetting = true;
        for (const handlers of channel.handlers)
          handlers.reset?.({ channel: channel.name, lastId: channel.lastId });
        channel.lastId = null;
        this.connection?.subscribe(channel.name, null);
        return;
    }
  }

  private resubscribeLater(channel: Channel, delayMs: number): void {
    if (channel.retryTimer) return;
    if (this.state === 'live') this.setState('recovering');
    channel.retryTimer = setTimeout(() => {
      channel.retryTimer = null;
      if (this.channels.get(channel.name) === channel)
        this.connection?.subscribe(channel.name, channel.lastId);
    }, delayMs);
  }

  private snapshot(channel: Channel, event: LiveEvent | null): void {
    const position = positionOf(event?.id);
    const last = positionOf(channel.lastId);
    // After a resume without reset the snapshot can only repeat what was delivered: keep the position.
    if (!channel.resetting && position && last && position.epoch === last.epoch && position.seq <= last.seq) {
      return;
    }
    channel.resetting = false;
    channel.lastId = event?.id ?? null;
    channel.latest = event;
    for (const handlers of channel.handlers) handlers.snapshot?.(event);
  }

  private deliver(channel: Channel, event: LiveEvent): void {
    const position = positionOf(event.id);
    const last = positionOf(channel.lastId);
    if (position && last && position.epoch === last.epoch) {
      if (position.seq <= last.seq) {
        this.stats.duplicatesDropped += 1;
        return;
      }
      if (position.seq > last.seq + 1) this.stats.gaps += 1;
    }
    channel.resetting = false;
    channel.lastId = event.id;
    channel.latest = event;
    for (const handlers of channel.handlers) handlers.event?.(event);
  }
}
