import { isSwitchboardError } from './errors.js';
import { endOfCode, type Inbound, type LiveEvent } from './frames.js';
import type { Session } from './session.js';
import type { Closed, Connection, ConnectionHooks } from './transport.js';

/** What the client needs of a WebSocket: the browser's, or the `ws` package's in Node 20. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(
    type: string,
    listener: (event: { data?: unknown; code?: number; reason?: string }) => void,
  ): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;

interface ServerFrame {
  type: string;
  id?: string | number | null;
  channel?: string;
  recovered?: boolean;
  last_id?: string | null;
  ts?: string;
  data?: unknown;
  state?: 'ok' | 'error';
  message?: string;
  at?: string;
  code?: number;
}

/**
 * The client's side of `GET /api/v1/ws` (docs/live.md, WebSocket): opened with a fresh connect ticket,
 * subscriptions sent with `since`, a `ping` after them whose `pong` says the replay is over (messages are
 * answered in order), a fresh ticket sent when the server asks (`auth_required`), and a ping of its own so
 * a connection that silently died is noticed.
 */
export class WebSocketConnection implements Connection {
  private socket: WebSocketLike | null = null;
  private done = false;
  private opened = false;
  private nextId = 1;
  /** Subscribe message ids to their channel, to place an `error` answer. */
  private readonly pending = new Map<string, string>();
  private readonly queued = new Map<string, string | null>();
  private readyPing: string | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private heartbeatPing: string | null = null;

  constructor(
    private readonly session: Session,
    private readonly WebSocketImpl: WebSocketConstructor,
    private readonly hooks: ConnectionHooks,
    private readonly pingIntervalMs: number,
    private readonly connectTimeoutMs: number,
  ) {
    void this.connect();
  }

  private async connect(): Promise<void> {
    let ticket: string;
    try {
      ticket = await this.session.ticket(AbortSignal.timeout(this.connectTimeoutMs));
    } catch (error) {
      const failure = isSwitchboardError(error) ? error : undefined;
      return this.end({
        opened: false,
        code: failure?.status ?? null,
        reason: failure?.message ?? String(error),
        ...(failure && { error: failure }),
        ...(failure?.retryAfter != null && { retryAfterMs: failure.retryAfter * 1000 }),
      });
    }
    if (this.done) return;
    const url = this.session.url(`/api/v1/ws?ticket=${encodeURIComponent(ticket)}`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketImpl(url.toString());
    } catch (error) {
      return this.end({ opened: false, code: null, reason: String(error), transportFailed: true });
    }
    this.socket = socket;
    // An upgrade nobody answers would otherwise hold the client until the operating system gives up.
    const openTimer = setTimeout(() => {
      if (this.opened || this.done) return;
      socket.close();
      this.end({
        opened: false,
        code: null,
        reason: 'the WebSocket did not open in time',
        transportFailed: true,
      });
    }, this.connectTimeoutMs);
    (openTimer as { unref?: () => void }).unref?.();
    socket.addEventListener('open', () => {
      clearTimeout(openTimer);
      if (this.done) return;
      this.opened = true;
      this.hooks.open();
      for (const [channel, since] of this.queued) this.sendSubscribe(channel, since);
      this.queued.clear();
      this.askReady();
      this.heartbeat = setInterval(() => this.beat(), this.pingIntervalMs);
      (this.heartbeat as { unref?: () => void }).unref?.();
    });
    socket.addEventListener('message', (event) => {
      if (this.done || typeof event.data !== 'string') return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(event.data) as ServerFrame;
      } catch {
        return;
      }
      this.receive(frame);
    });
    socket.addEventListener('close', (event) => {
      clearTimeout(openTimer);
      this.end({
        opened: this.opened,
        code: event.code ?? null,
        reason: event.reason ?? '',
        // A socket that never opened although the ticket came: the WebSocket is what fails here.
        ...(!this.opened && { transportFailed: true }),
      });
    });
  }

  subscribe(channel: string, since: string | null): void {
    if (this.opened) {
      this.sendSubscribe(channel, since);
      this.askReady();
    } else {
      this.queued.set(channel, since);
    }
  }

  unsubscribe(channel: string): void {
    this.queued.delete(channel);
    if (this.opened) this.send({ type: 'unsubscribe', id: this.nextId++, channel });
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.stopHeartbeat();
    this.socket?.close(1000, 'client closed');
  }

  private sendSubscribe(channel: string, since: string | null): void {
    const id = String(this.nextId++);
    this.pending.set(id, channel);
    this.send({ type: 'subscribe', id, channel, ...(since && { since }) });
  }

  /** A ping behind the subscribes: its pong comes after everything they replayed. */
  private askReady(): void {
    this.readyPing = `ready-${this.nextId++}`;
    this.send({ type: 'ping', id: this.readyPing });
  }

  private beat(): void {
    if (this.heartbeatPing !== null) {
      // The previous ping went unanswered: the connection is gone even if no close came.
      this.socket?.close(4000, 'no answer to ping');
      this.end({ opened: true, code: 1006, reason: 'no answer to ping' });
      return;
    }
    this.heartbeatPing = `beat-${this.nextId++}`;
    this.send({ type: 'ping', id: this.heartbeatPing });
  }

  private send(message: Record<string, unknown>): void {
    if (this.socket?.readyState === OPEN) this.socket.send(JSON.stringify(message));
  }

  private receive(frame: ServerFrame): void {
    const channel = frame.channel ?? '';
    const emit = (inbound: Inbound) => this.hooks.frame(inbound);
    switch (frame.type) {
      case 'subscribed':
        this.pending.delete(String(frame.id));
        return emit({
          type: 'subscribed',
          channel,
          recovered: frame.recovered === true,
          lastId: frame.last_id ?? null,
        });
      case 'snapshot':
        return emit({ type: 'snapshot', channel, event: eventOf(frame) });
      case 'event':
        return emit({ type: 'event', event: eventOf(frame) as LiveEvent });
      case 'reset':
        return emit({ type: 'reset', channel });
      case 'status':
        return emit({
          type: 'status',
          channel,
          status: {
            state: frame.state ?? 'ok',
            at: frame.at ?? '',
            ...(frame.message !== undefined && { message: frame.message }),
          },
        });
      case 'unavailable':
        return emit({
          type: 'ended',
          channel,
          end: { reason: 'unavailable', code: null, message: frame.message ?? 'the channel was removed' },
        });
      case 'pong':
        if (frame.id === this.heartbeatPing) this.heartbeatPing = null;
        if (frame.id === this.readyPing) {
          this.readyPing = null;
          this.hooks.ready();
        }
        return;
      case 'auth_required':
        void this.renew();
        return;
      case 'error':
        return this.refused(frame);
    }
  }

  private refused(frame: ServerFrame): void {
    const code = frame.code ?? 0;
    const message = frame.message ?? '';
    const channel = frame.channel ?? this.pending.get(String(frame.id));
    if (frame.id !== undefined && frame.id !== null) this.pending.delete(String(frame.id));
    if (!channel) return;
    // Already subscribed: the subscription stands.
    if (code === 4000) return;
    if (code === 8001) return this.hooks.frame({ type: 'retry-subscribe', channel });
    if (code === 2000 && /since/i.test(message)) return this.hooks.frame({ type: 'bad-position', channel });
    this.hooks.frame({ type: 'ended', channel, end: endOfCode(code, message) });
  }

  /** The server's access for this socket runs out: a fresh ticket keeps it open. */
  private async renew(): Promise<void> {
    try {
      const ticket = await this.session.ticket();
      this.send({ type: 'auth', ticket, id: `auth-${this.nextId++}` });
    } catch {
      // No ticket (the session is over, or the server is away): the server closes the socket at its
      // deadline, and the reconnect finds out which.
    }
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private end(closed: Closed): void {
    if (this.done && this.socket === null) return;
    const wasDone = this.done;
    this.done = true;
    this.stopHeartbeat();
    this.socket = null;
    if (!wasDone) this.hooks.closed(closed);
  }
}

function eventOf(frame: ServerFrame): LiveEvent | null {
  if (typeof frame.id !== 'string') return null;
  return { id: frame.id, channel: frame.channel ?? '', ts: frame.ts ?? '', data: frame.data };
}
