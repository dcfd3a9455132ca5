import { ErrorCode, errorOf, isSwitchboardError, networkError, SwitchboardError } from './errors.js';
import { endOfCode, type Inbound, type LiveEvent } from './frames.js';
import type { Session } from './session.js';
import { readEventStream } from './sse-reader.js';
import type { Closed, Connection, ConnectionHooks } from './transport.js';

/** Three keep-alive periods of the server (15 s each) without a byte. */
const SILENCE_LIMIT_MS = 45_000;

/** base64url of UTF-8 text, in browsers and Node alike. */
function base64url(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/**
 * The client's side of the event-stream routes (docs/live.md, Server-Sent Events): every channel on one
 * `GET /api/v1/events` response, resumed with a `Last-Event-ID` that names each channel's last event id (the
 * format the server's `id:` lines use), opened again when the set of channels changes. Credentials are the
 * session's: cookies or a bearer token, refreshed like any request's.
 */
export class SseConnection implements Connection {
  private readonly channels = new Set<string>();
  private controller: AbortController | null = null;
  private done = false;
  private opened = false;
  private restartQueued = false;
  private retryMs: number | undefined;
  private retryHints = 0;
  private generation = 0;

  constructor(
    private readonly session: Session,
    private readonly hooks: ConnectionHooks,
    /** Where each channel resumes from: the live client's last id of it, read at every (re)open. */
    private readonly positionOf: (channel: string) => string | null,
    private readonly connectTimeoutMs: number,
  ) {
    this.queueRestart();
  }

  subscribe(channel: string): void {
    this.channels.add(channel);
    this.queueRestart();
  }

  unsubscribe(channel: string): void {
    if (this.channels.delete(channel)) this.queueRestart();
  }

  close(): void {
    this.done = true;
    this.controller?.abort();
  }

  /** Several changes in one turn open one new response. */
  private queueRestart(): void {
    if (this.restartQueued || this.done) return;
    this.restartQueued = true;
    queueMicrotask(() => {
      this.restartQueued = false;
      if (this.done) return;
      this.controller?.abort();
      void this.run();
    });
  }

  private async run(): Promise<void> {
    const generation = ++this.generation;
    this.retryHints = 0;
    this.retryMs = undefined;
    if (this.channels.size === 0) {
      // Nothing to follow: the connection is up as far as anyone can tell.
      this.markOpen();
      return;
    }
    const controller = new AbortController();
    this.controller = controller;
    const url = this.session.url('/api/v1/events');
    for (const channel of this.channels.keys()) url.searchParams.append('channel', channel);
    const positions: Record<string, string> = {};
    for (const channel of this.channels) {
      const since = this.positionOf(channel);
      if (since !== null) positions[channel] = since;
    }
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (Object.keys(positions).length > 0) headers['last-event-id'] = base64url(JSON.stringify(positions));
    // A server that takes the request and never answers it is as good as gone.
    let timedOut = false;
    const openTimer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.connectTimeoutMs);
    let response: Response;
    try {
      response = await this.session.fetch(
        new Request(url, {
          headers,
          credentials: this.session.credentials,
          signal: controller.signal,
          cache: 'no-store',
        }),
      );
    } catch (error) {
      clearTimeout(openTimer);
      if (generation !== this.generation || this.done) return;
      const failure = timedOut
        ? networkError(new Error(`no answer within ${this.connectTimeoutMs} ms`))
        : isSwitchboardError(error)
          ? error
          : undefined;
      return this.finish({
        opened: this.opened,
        code: null,
        reason: failure?.message ?? String(error),
        ...(failure && { error: failure }),
      });
    }
    clearTimeout(openTimer);
    if (generation !== this.generation || this.done) {
      await response.body?.cancel().catch(() => {});
      return;
    }
    if (!response.ok || !response.body) return this.refused(response);
    this.markOpen();
    // The server writes at least a keep-alive comment every 15 s: three periods of silence mean the
    // connection died without a word (a cable pulled, a host gone).
    let lastActivity = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - lastActivity > SILENCE_LIMIT_MS) controller.abort();
    }, SILENCE_LIMIT_MS / 3);
    (watchdog as { unref?: () => void }).unref?.();
    try {
      await readEventStream(
        response.body,
        (message) => {
          if (generation === this.generation && !this.done) this.receive(message.event, message.data);
        },
        (ms) => {
          // The first hint of a response is the server's standing advice (2 s), meant for EventSource's
          // blind reconnects; this client backs off on its own. A later one is the server asking, as it
          // does when it shuts down, for clients to come back spread out: that one is honoured.
          this.retryHints += 1;
          if (this.retryHints > 1) this.retryMs = ms;
        },
        () => {
          lastActivity = Date.now();
        },
      );
    } catch {
      // A body cut short (the server died, or the client aborted it) ends like a body that ended.
    } finally {
      clearInterval(watchdog);
    }
    if (generation !== this.generation || this.done) return;
    this.finish({
      opened: true,
      code: null,
      reason: 'the event stream ended',
      ...(this.retryMs !== undefined && { retryAfterMs: this.retryMs }),
    });
  }

  private markOpen(): void {
    const first = !this.opened;
    this.opened = true;
    if (first) this.hooks.open();
    // The response carries what it replays before anything live; as the stream cannot say where the replay
    // ends, being connected is as ready as it gets.
    this.hooks.ready();
  }

  private async refused(response: Response): Promise<void> {
    const error = await errorOf(response);
    if (response.status === 404 && error.code === ErrorCode.notFound) return this.findMissing(error);
    if (response.status === 422) {
      // A position this server could not have sent (another server's, or a restored client's):
      // start those channels again from their snapshots.
      // The live client forgets their positions and subscribes them again, which opens a new response.
      for (const channel of this.channels) this.hooks.frame({ type: 'bad-position', channel });
      return;
    }
    this.finish({
      opened: this.opened,
      code: response.status,
      reason: error.message,
      error,
      ...(error.retryAfter !== null && { retryAfterMs: error.retryAfter * 1000 }),
    });
  }

  /**
   * One response carries every channel, so one unknown channel refuses them all: each is tried alone, the
   * ones refused end, the others go on.
   */
  private async findMissing(error: SwitchboardError): Promise<void> {
    const generation = this.generation;
    for (const channel of [...this.channels]) {
      const controller = new AbortController();
      const url = this.session.url(`/api/v1/streams/${encodeURIComponent(channel)}/events`);
      let status = 0;
      try {
        const response = await this.session.fetch(
          new Request(url, {
            headers: { accept: 'text/event-stream' },
            credentials: this.session.credentials,
            signal: controller.signal,
          }),
        );
        status = response.status;
        controller.abort();
        await response.body?.cancel().catch(() => {});
      } catch {
        status = 0;
      }
      if (generation !== this.generation || this.done) return;
      if (status === 404) {
        this.channels.delete(channel);
        this.hooks.frame({
          type: 'ended',
          channel,
          end: { reason: 'not-found', code: ErrorCode.notFound, message: error.message },
        });
      }
    }
    if (generation !== this.generation || this.done) return;
    void this.run();
  }

  private receive(event: string, text: string): void {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const channel = typeof body.channel === 'string' ? body.channel : '';
    const emit = (inbound: Inbound) => this.hooks.frame(inbound);
    switch (event) {
      case 'snapshot':
        return emit({
          type: 'snapshot',
          channel,
          event: typeof body.id === 'string' ? (body as unknown as LiveEvent) : null,
        });
      case 'event':
        return emit({ type: 'event', event: body as unknown as LiveEvent });
      case 'reset':
        return emit({ type: 'reset', channel });
      case 'status':
        return emit({
          type: 'status',
          channel,
          status: {
            state: body.state === 'error' ? 'error' : 'ok',
            at: String(body.at ?? ''),
            ...(typeof body.message === 'string' && { message: body.message }),
          },
        });
      case 'unavailable':
        this.channels.delete(channel);
        return emit({
          type: 'ended',
          channel,
          end: {
            reason: 'unavailable',
            code: null,
            message: String(body.message ?? 'the channel was removed'),
          },
        });
      case 'error': {
        const code = typeof body.code === 'number' ? body.code : 0;
        const message = String(body.message ?? '');
        if (channel) {
          this.channels.delete(channel);
          return emit({ type: 'ended', channel, end: endOfCode(code, message) });
        }
        // Code 1002: the session ended; the stream ends next, and the reconnect finds out for sure.
        return;
      }
    }
  }

  private finish(closed: Closed): void {
    if (this.done) return;
    this.done = true;
    this.controller?.abort();
    this.hooks.closed(closed);
  }
}

export { SwitchboardError };
