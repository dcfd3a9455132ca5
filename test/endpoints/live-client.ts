import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventSource } from 'eventsource';
import { WebSocket } from 'ws';
import type { SignedIn, TestApp } from '../fixture.js';

/** Polls `probe` until it returns something other than undefined, or fails after `timeoutMs`. */
export async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A WebSocket frame, or the data of an event-stream frame, as the server sent it. */
export interface Frame {
  type?: string;
  channel?: string;
  id?: string | number | null;
  ts?: string | null;
  data?: unknown;
  state?: 'ok' | 'error';
  message?: string;
  code?: number;
  recovered?: boolean;
  last_id?: string | null;
  [field: string]: unknown;
}

/**
 * A `ws` client that keeps every frame it receives (`all`) and a queue of those not yet taken (`frames`),
 * so a test can wait for the one it expects and still look at everything afterwards.
 */
export class LiveSocket {
  readonly all: Frame[] = [];
  readonly frames: Frame[] = [];
  closedWith: { code: number; reason: string } | undefined;
  readonly opened: Promise<void>;
  private nextId = 1;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.all.push(frame);
      this.frames.push(frame);
    });
    ws.on('close', (code, reason) => {
      this.closedWith = { code, reason: reason.toString() };
    });
    ws.on('error', () => {});
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Removes and returns the first queued frame that matches. */
  next(match: (frame: Frame) => boolean, what: string, timeoutMs = 5000): Promise<Frame> {
    return until(
      () => {
        const index = this.frames.findIndex(match);
        return index === -1 ? undefined : this.frames.splice(index, 1)[0];
      },
      what,
      timeoutMs,
    );
  }

  /** Forgets the frames received so far, so `next` waits for ones still to come (`all` keeps them). */
  discard(): void {
    this.frames.length = 0;
  }

  /** Sends a message with a fresh id and waits for the frame that answers it. */
  call(message: Record<string, unknown>): Promise<Frame> {
    const id = this.nextId++;
    this.send({ ...message, id });
    return this.next((f) => f.id === id, `the answer to ${JSON.stringify(message)}`);
  }

  /** Subscribes and returns the `subscribed` frame (or the error that refused it). */
  subscribe(channel: string, since?: string): Promise<Frame> {
    return this.call({ type: 'subscribe', channel, ...(since === undefined ? {} : { since }) });
  }

  /** The frames received so far for `channel`, in order. */
  of(channel: string): Frame[] {
    return this.all.filter((f) => f.channel === channel);
  }

  /** Whether the socket is still open: a ping gets its pong. */
  async alive(): Promise<boolean> {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    return (await this.call({ type: 'ping' })).type === 'pong';
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    }
  }
}

/**
 * An open WebSocket for `who`: by a connect ticket in the query (what a browser does) or by the access
 * token as a bearer (what other clients do).
 */
export async function openSocket(
  t: TestApp,
  who: SignedIn,
  via: 'ticket' | 'bearer' = 'bearer',
): Promise<LiveSocket> {
  const base = `${t.url.replace(/^http/, 'ws')}/api/v1/ws`;
  let socket: LiveSocket;
  if (via === 'ticket') {
    const issued = await who.client.call('/api/v1/auth/ws-ticket', { method: 'POST', json: {} });
    if (issued.status !== 200) throw new Error(`no ticket: ${issued.status} ${JSON.stringify(issued.body)}`);
    socket = new LiveSocket(new WebSocket(`${base}?ticket=${encodeURIComponent(issued.body.data.ticket)}`));
  } else {
    socket = new LiveSocket(new WebSocket(base, { headers: { authorization: `Bearer ${who.accessToken}` } }));
  }
  await socket.opened;
  return socket;
}

/** One event of an event-stream, by its `event:` type, with its data parsed. */
export interface SseFrame {
  type: string;
  data: Frame;
  lastEventId: string;
}

/** An EventSource (the eventsource package) on `path` whose requests carry `who`'s access token. */
export function openEventSource(t: TestApp, path: string, who: SignedIn) {
  const received: SseFrame[] = [];
  const source = new EventSource(`${t.url}${path}`, {
    fetch: (input, init) =>
      fetch(input, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${who.accessToken}` },
      }),
  });
  for (const type of ['snapshot', 'event', 'status', 'reset', 'unavailable', 'error']) {
    source.addEventListener(type, (event: Event) => {
      // The `error` type also fires for connection failures, which carry no data.
      if (event instanceof MessageEvent) {
        received.push({ type, data: JSON.parse(event.data), lastEventId: event.lastEventId });
      }
    });
  }
  return {
    source,
    received,
    /** Waits for the first received frame after `from` that matches, and returns its index and the frame. */
    next(match: (frame: SseFrame) => boolean, what: string, from = 0, timeoutMs = 5000) {
      return until(
        () => {
          const index = received.findIndex((frame, i) => i >= from && match(frame));
          return index === -1 ? undefined : { index, frame: received[index] as SseFrame };
        },
        what,
        timeoutMs,
      );
    },
    close: () => source.close(),
  };
}

/** A request the upstream received. */
export interface UpstreamRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

/** What the upstream answers on one path; `body` may be a function of how many times the path was asked. */
export interface UpstreamAnswer {
  status: number;
  body: unknown | ((hit: number) => unknown);
  /** How long to wait before answering. */
  delayMs?: number;
}

/**
 * A real HTTP server on 127.0.0.1 whose answers the test sets per path: JSON bodies, any status. Paths with
 * no answer set are 404s. Every request is recorded.
 */
export class Upstream {
  readonly requests: UpstreamRequest[] = [];
  private readonly answers = new Map<string, UpstreamAnswer>();
  private readonly hits = new Map<string, number>();
  private readonly server: Server;
  port = 0;

  constructor() {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://upstream.invalid');
      this.requests.push({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
      });
      const hit = (this.hits.get(url.pathname) ?? 0) + 1;
      this.hits.set(url.pathname, hit);
      const answer = this.answers.get(url.pathname);
      req.resume();
      if (!answer) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no such path"}');
        return;
      }
      const body = typeof answer.body === 'function' ? answer.body(hit) : answer.body;
      const send = () =>
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (answer.delayMs) setTimeout(send, answer.delayMs).unref();
      else send();
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  answer(path: string, status: number, body: UpstreamAnswer['body'], delayMs?: number): void {
    this.answers.set(path, { status, body, ...(delayMs === undefined ? {} : { delayMs }) });
  }

  requestsTo(path: string): UpstreamRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
