import { get, type IncomingHttpHeaders } from 'node:http';
import { EventSource } from 'eventsource';
import { expect } from 'vitest';
import { WebSocket } from 'ws';
import type { SignedIn, TestApp } from './fixture.js';

/** Polls `probe` until it returns something truthy, and returns that; fails after `timeoutMs`. */
export async function until<T>(
  probe: () => T | undefined | null | false,
  what: string,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
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

/** How a socket closed, and when (Date.now()). */
export interface Closed {
  code: number;
  reason: string;
  at: number;
}

/** The gateway's URL on `t`, with `query` (from its `?`) appended. */
export function socketUrl(t: TestApp, query = ''): string {
  return `${t.url.replace(/^http/, 'ws')}/api/v1/ws${query}`;
}

/**
 * A `ws` client that keeps every frame it receives (`all`) and a queue of those not yet taken (`frames`),
 * so a test can wait for the one it expects and still look at everything afterwards. `F` is how the test
 * reads frames; tests that look into fields of every kind of frame read them loosely.
 */
export class LiveSocket<F extends Frame = Frame> {
  readonly all: F[] = [];
  readonly frames: F[] = [];
  closedWith: Closed | undefined;
  readonly closed: Promise<Closed>;
  readonly opened: Promise<void>;
  // Well above the ids tests pick by hand, so an answer is never mistaken for another's.
  private nextId = 1000;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as F;
      this.all.push(frame);
      this.frames.push(frame);
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closedWith = { code, reason: reason.toString(), at: Date.now() };
        resolve(this.closedWith);
      }),
    );
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    // A socket refused before it opens is the expected outcome of some tests, which never await `opened`.
    this.opened.catch(() => {});
    ws.on('error', () => {});
  }

  /** Sends a string as it is, anything else as JSON. */
  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Removes and returns the first queued frame that matches. */
  next(match: (frame: F) => boolean = () => true, what = 'a frame', timeoutMs = 5000): Promise<F> {
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

  /** Sends a message (with a fresh id unless it has one) and waits for the frame answering its id. */
  call(message: Record<string, unknown>): Promise<F> {
    const id = (message.id as string | number | undefined) ?? this.nextId++;
    this.send({ ...message, id });
    return this.next((f) => f.id === id, `the answer to ${JSON.stringify(message)}`);
  }

  /** Everything queued before the answer to a ping sent now (the server handles messages in order). */
  async drain(): Promise<F[]> {
    const pong = await this.call({ type: 'ping' });
    expect(pong.type).toBe('pong');
    return this.frames.splice(0);
  }

  /** Subscribes and returns the `subscribed` frame (or the error that refused it). */
  subscribe(channel: string, since?: string): Promise<F> {
    return this.call({ type: 'subscribe', channel, ...(since === undefined ? {} : { since }) });
  }

  /** The frames received so far for `channel`, in order. */
  of(channel: string): F[] {
    return this.all.filter((f) => f.channel === channel);
  }

  /** Whether the socket is still open: a ping gets its pong. */
  async alive(): Promise<boolean> {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    return (await this.call({ type: 'ping' })).type === 'pong';
  }

  /** Closes with a close frame, and resolves once the socket is closed. */
  close(): Promise<Closed> {
    this.ws.close();
    return this.closed;
  }

  /** Cuts the connection without a close frame. */
  terminate(): void {
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
  let socket: LiveSocket;
  if (via === 'ticket') {
    const issued = await who.client.call('/api/v1/auth/ws-ticket', { method: 'POST', json: {} });
    if (issued.status !== 200) throw new Error(`no ticket: ${issued.status} ${JSON.stringify(issued.body)}`);
    socket = new LiveSocket(
      new WebSocket(socketUrl(t, `?ticket=${encodeURIComponent(issued.body.data.ticket)}`)),
    );
  } else {
    socket = new LiveSocket(
      new WebSocket(socketUrl(t), { headers: { authorization: `Bearer ${who.accessToken}` } }),
    );
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

/** One frame of an event-stream as read off the wire. */
export interface RawFrame {
  event?: string;
  id?: string;
  data?: any;
  retry?: number;
  comment?: string;
}

/** The complete frames of an event-stream text, by the rules of the SSE spec for the fields used here. */
export function parseFrames(text: string): RawFrame[] {
  const blocks = text.split('\n\n');
  blocks.pop();
  return blocks.map((block) => {
    const frame: RawFrame = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        frame.comment = line.slice(1).trim();
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') frame.data = JSON.parse(value);
      else if (field === 'id') frame.id = value;
      else if (field === 'event') frame.event = value;
      else if (field === 'retry') frame.retry = Number(value);
    }
    return frame;
  });
}

export interface RawStream {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** performance.now() when the response ended, if it has. */
  endedAt: number | undefined;
  frames(): RawFrame[];
  events(): RawFrame[];
  json(): Promise<any>;
  close(): void;
}

/** A GET of `base` + `path` on its own connection, resolved once the status line and headers are in. */
export function openRawStream(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    const request = get(`${base}${path}`, { headers, agent: false }, (res) => {
      const stream: RawStream = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        text: '',
        endedAt: undefined,
        frames: () => parseFrames(stream.text),
        events: () => stream.frames().filter((f) => f.event !== undefined),
        json: async () => {
          await until(() => stream.endedAt !== undefined, 'the body');
          return JSON.parse(stream.text);
        },
        close: () => request.destroy(),
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        stream.text += chunk;
      });
      res.on('close', () => {
        stream.endedAt ??= performance.now();
      });
      resolve(stream);
    });
    request.on('error', reject);
  });
}
