import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { LiveEvent } from './bus.js';
import { parseEventId } from './event-id.js';
import type { SseFrameData } from './frame-schemas.js';

/** Channels one /events response may carry: all their ids travel back in one Last-Event-ID header. */
export const MAX_SSE_CHANNELS = 32;
export const MAX_CURSOR_CHARS = 8_192;

/** What may queue for a client that reads slower than events come; past it the client is dropped. */
export const MAX_BACKLOG_BYTES = 1024 * 1024;

/**
 * The `id:` of a several-channel response: every channel's last event id, as base64url JSON, so one
 * Last-Event-ID resumes them all. Empty when no channel has an id yet (the client then sends none).
 */
export function encodeCursor(lastIds: ReadonlyMap<string, string>): string {
  if (lastIds.size === 0) return '';
  return Buffer.from(JSON.stringify(Object.fromEntries(lastIds))).toString('base64url');
}

/** Undefined for anything `encodeCursor` could not have produced. */
export function decodeCursor(text: string): Map<string, string> | undefined {
  if (text.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const entries = Object.entries(value);
  if (entries.length > MAX_SSE_CHANNELS) return undefined;
  const lastIds = new Map<string, string>();
  for (const [channel, id] of entries) {
    if (typeof id !== 'string' || !parseEventId(id)) return undefined;
    lastIds.set(channel, id);
  }
  return lastIds;
}

/** Bytes as one HTTP/1.1 chunk. */
function chunkOf(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, CRLF]);
}
const CRLF = Buffer.from('\r\n');

/**
 * An event is serialized once, however many streams carry it: its `data:` JSON, and for one-channel
 * streams (whose `id:` is the event's own) the whole frame, as bytes (bare and as a chunk) that every
 * response writes as they are.
 */
const eventData = new WeakMap<LiveEvent, string>();
const ownIdFrames = new WeakMap<LiveEvent, { bare: Buffer; chunk?: Buffer }>();

function dataOf(event: LiveEvent): string {
  let data = eventData.get(event);
  if (data === undefined) {
    data = JSON.stringify(event);
    eventData.set(event, data);
  }
  return data;
}

function ownIdFrameOf(event: LiveEvent): { bare: Buffer; chunk?: Buffer } {
  let frame = ownIdFrames.get(event);
  if (frame === undefined) {
    frame = { bare: Buffer.from(`event: event\nid: ${event.id}\ndata: ${dataOf(event)}\n\n`) };
    ownIdFrames.set(event, frame);
  }
  return frame;
}

/**
 * A text/event-stream response: frames, comments, and a bound on what may queue for a slow reader.
 *
 * Once the headers are out, frames go straight to the socket as chunks framed here: ServerResponse.write
 * costs a cork, a tick and four socket writes per frame, which with thousands of streams per event was
 * most of what an SSE delivery cost beyond a WebSocket one.
 */
export class EventStreamWriter {
  private socket: Socket | undefined;
  /** Inside `batch`: frames wait in the corked socket. */
  private corked = false;

  constructor(
    private readonly raw: ServerResponse,
    /** Called when the client is dropped for reading too slowly. */
    private readonly onOverflow: () => void = () => {},
  ) {}

  get writable(): boolean {
    return !this.raw.destroyed && !this.raw.writableEnded && !this.socket?.destroyed;
  }

  open(headers: OutgoingHttpHeaders, retryMs: number): void {
    this.raw.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // nginx would otherwise hold events back in its buffer.
      'x-accel-buffering': 'no',
    });
    this.raw.flushHeaders();
    const socket = this.raw.socket;
    // Only once the headers are on the socket itself (not queued behind a pipelined response) and the body
    // is chunked (HTTP/1.1): an HTTP/1.0 client keeps Node's own framing.
    const owner = (socket as (Socket & { _httpMessage?: unknown }) | null)?._httpMessage;
    if (socket && owner === this.raw && this.raw.chunkedEncoding) this.socket = socket;
    this.retry(retryMs);
  }

  retry(ms: number): void {
    this.write(Buffer.from(`retry: ${Math.round(ms)}\n\n`));
  }

  /** A comment line: it keeps proxies and load balancers from timing out a quiet stream. */
  keepalive(): void {
    this.write(KEEPALIVE);
  }

  /** `id` undefined leaves the client's last event id as it is; '' clears it. Data is typed by its schema. */
  frame<K extends keyof SseFrameData>(type: K, data: SseFrameData[K], id?: string): void {
    const idLine = id === undefined ? '' : `id: ${id}\n`;
    this.write(Buffer.from(`event: ${type}\n${idLine}data: ${JSON.stringify(data) ?? 'null'}\n\n`));
  }

  /** An `event` frame; `id` is the event's own unless given (the cursor of a several-channel stream). */
  event(event: LiveEvent, id?: string): void {
    if (id !== undefined && id !== event.id) {
      this.write(Buffer.from(`event: event\nid: ${id}\ndata: ${dataOf(event)}\n\n`));
      return;
    }
    const frame = ownIdFrameOf(event);
    if (this.socket) frame.chunk ??= chunkOf(frame.bare);
    this.write(frame.bare, frame.chunk);
  }

  /**
   * Runs `send` with the socket corked, so that its frames (a replay is hundreds of them) leave in a few
   * system calls instead of one each. Whatever waits is handed on well before the backlog bound, so that a
   * client is never dropped for frames the cork held back.
   */
  batch(send: () => void): void {
    const socket = this.socket;
    if (!socket || this.corked) return send();
    socket.cork();
    this.corked = true;
    try {
      send();
    } finally {
      this.corked = false;
      socket.uncork();
    }
  }

  /** Ends the response; `closeSocket` also ends its connection instead of keeping it alive for reuse. */
  end(closeSocket = false): void {
    if (!this.writable) return;
    const socket: Socket | null = this.raw.socket;
    this.raw.end(() => {
      if (closeSocket) socket?.end();
    });
  }

  private write(bare: Buffer, chunk?: Buffer): void {
    if (!this.writable) return;
    let backlog: number;
    if (this.socket) {
      this.socket.write(chunk ?? chunkOf(bare));
      backlog = this.socket.writableLength;
      if (this.corked && backlog >= BATCH_FLUSH_BYTES) {
        this.socket.uncork();
        this.socket.cork();
        backlog = this.socket.writableLength;
      }
    } else {
      this.raw.write(bare);
      backlog = this.raw.writableLength;
    }
    // Dropped rather than buffered without bound: the client reconnects with Last-Event-ID and catches up
    // from history.
    if (backlog > MAX_BACKLOG_BYTES) {
      this.onOverflow();
      this.raw.destroy();
    }
  }
}

const KEEPALIVE = Buffer.from(': keepalive\n\n');
/** What a batch holds back before handing it to the kernel: well under MAX_BACKLOG_BYTES. */
const BATCH_FLUSH_BYTES = Math.min(64 * 1024, MAX_BACKLOG_BYTES / 2);

export interface SseTiming {
  /** The reconnection delay suggested to clients (`retry:`). */
  readonly retryMs: number;
  /** The period of `: keepalive` comments. */
  readonly keepaliveMs: number;
}
