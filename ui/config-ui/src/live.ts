import { ApiError, post, refreshSession } from './api.js';

/** A frame from the server, as docs/live.md lists them. */
export interface Frame {
  type: string;
  channel?: string;
  id?: string | number | null;
  ts?: string | null;
  data?: unknown;
  state?: 'ok' | 'error';
  message?: string;
  at?: string;
  code?: number;
  recovered?: boolean;
  last_id?: string | null;
}

export type LiveState = 'connecting' | 'live' | 'recovering' | 'offline';

type FrameHandler = (frame: Frame) => void;

interface Subscription {
  channel: string;
  handlers: Set<FrameHandler>;
  /** The id of the last event seen: a reconnect resumes after it, so nothing is missed or seen twice. */
  lastId: string | null;
}

const SESSION_ENDED = 4403;
const BAD_CREDENTIALS = 4401;

/**
 * One WebSocket for the page: each connection starts with a fresh connect ticket, subscriptions are sent
 * again on every reconnect with the last id seen (`since`), and the server's request for a fresh ticket
 * (`auth_required`) is answered. Reconnects back off with jitter, up to 30 seconds apart.
 */
export class LiveConnection {
  private socket: WebSocket | null = null;
  private readonly subscriptions = new Map<string, Subscription>();
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;
  private nextId = 1;
  private readonly stateListeners = new Set<(state: LiveState) => void>();
  state: LiveState = 'offline';

  constructor(private readonly onSessionEnded: (message: string) => void) {}

  onState(listener: (state: LiveState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.socket?.close(1000);
    this.socket = null;
    this.setState('offline');
  }

  /** Follows `channel`; the returned function stops following it. */
  subscribe(channel: string, handler: FrameHandler): () => void {
    let subscription = this.subscriptions.get(channel);
    if (!subscription) {
      subscription = { channel, handlers: new Set(), lastId: null };
      this.subscriptions.set(channel, subscription);
      this.sendSubscribe(subscription);
    }
    subscription.handlers.add(handler);
    return () => {
      const current = this.subscriptions.get(channel);
      if (!current) return;
      current.handlers.delete(handler);
      if (current.handlers.size === 0) {
        this.subscriptions.delete(channel);
        this.send({ type: 'unsubscribe', id: this.nextId++, channel });
      }
    };
  }

  private setState(state: LiveState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private async ticket(): Promise<string | null> {
    try {
      const answer = await post<{ ticket: string }>('/api/v1/auth/ws-ticket');
      return answer.data.ticket;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return null;
      throw error;
    }
  }

  private async connect(): Promise<void> {
    this.setState(this.attempt === 0 ? 'connecting' : 'recovering');
    let ticket: string | null;
    try {
      ticket = await this.ticket();
    } catch {
      this.retry();
      return;
    }
    if (this.stopped) return;
    // A 401 here was reported to the page already (the API client tells it when the session is over).
    if (ticket === null) return this.stop();
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(
      `${scheme}//${location.host}/api/v1/ws?ticket=${encodeURIComponent(ticket)}`,
    );
    this.socket = socket;
    socket.addEventListener('open', () => {
      this.attempt = 0;
      for (const subscription of this.subscriptions.values()) this.sendSubscribe(subscription);
      this.setState('live');
    });
    socket.addEventListener('message', (message) => {
      if (typeof message.data === 'string') this.receive(JSON.parse(message.data) as Frame);
    });
    socket.addEventListener('close', (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      if (event.code === SESSION_ENDED) {
        this.stop();
        this.onSessionEnded('Your session has ended. Sign in again.');
        return;
      }
      if (event.code === BAD_CREDENTIALS) {
        void refreshSession().then(
          (ok) => (ok ? this.retry() : this.stop()),
          () => this.retry(),
        );
        return;
      }
      this.retry();
    });
  }

  private retry(): void {
    if (this.stopped) return;
    this.setState('recovering');
    const ceiling = Math.min(30_000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    this.timer = setTimeout(() => void this.connect(), ceiling / 2 + Math.random() * (ceiling / 2));
  }

  private receive(frame: Frame): void {
    if (frame.type === 'auth_required') {
      void this.ticket().then((ticket) => ticket && this.send({ type: 'auth', ticket }));
      return;
    }
    if (frame.type === 'error' && frame.code === 1002) {
      this.stop();
      this.onSessionEnded(frame.message ?? 'Your session has ended. Sign in again.');
      return;
    }
    if (!frame.channel) return;
    const subscription = this.subscriptions.get(frame.channel);
    if (!subscription) return;
    if ((frame.type === 'event' || frame.type === 'snapshot') && typeof frame.id === 'string') {
      subscription.lastId = frame.id;
    }
    for (const handler of subscription.handlers) handler(frame);
  }

  private sendSubscribe(subscription: Subscription): void {
    this.send({
      type: 'subscribe',
      id: this.nextId++,
      channel: subscription.channel,
      ...(subscription.lastId ? { since: subscription.lastId } : {}),
    });
  }

  private send(message: Record<string, unknown>): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}
