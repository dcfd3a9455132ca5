import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { parseEventId } from './event-id.js';

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

/** A text/event-stream response: frames, comments, and a bound on what may queue for a slow reader. */
export class EventStreamWriter {
  private keepalive: NodeJS.Timeout | undefined;

  constructor(
    private readonly raw: ServerResponse,
    /** Called when the client is dropped for reading too slowly. */
    private readonly onOverflow: () => void = () => {},
  ) {}

  get writable(): boolean {
    return !this.raw.destroyed && !this.raw.writableEnded;
  }

  open(headers: OutgoingHttpHeaders, timing: SseTiming): void {
    this.raw.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // nginx would otherwise hold events back in its buffer.
      'x-accel-buffering': 'no',
    });
    this.retry(timing.retryMs);
    this.keepalive = setInterval(() => this.write(': keepalive\n\n'), timing.keepaliveMs);
    this.raw.once('close', () => clearInterval(this.keepalive));
  }

  retry(ms: number): void {
    this.write(`retry: ${Math.round(ms)}\n\n`);
  }

  /** `id` undefined leaves the client's last event id as it is; '' clears it. */
  frame(type: string, data: unknown, id?: string): void {
    const idLine = id === undefined ? '' : `id: ${id}\n`;
    this.write(`event: ${type}\n${idLine}data: ${JSON.stringify(data) ?? 'null'}\n\n`);
  }

  /** Ends the response; `closeSocket` also ends its connection instead of keeping it alive for reuse. */
  end(closeSocket = false): void {
    clearInterval(this.keepalive);
    if (!this.writable) return;
    const socket: Socket | null = this.raw.socket;
    this.raw.end(() => {
      if (closeSocket) socket?.end();
    });
  }

  private write(text: string): void {
    if (!this.writable) return;
    this.raw.write(text);
    // Dropped rather than buffered without bound: the client reconnects with Last-Event-ID and catches up
    // from history.
    if (this.raw.writableLength > MAX_BACKLOG_BYTES) {
      this.onOverflow();
      this.raw.destroy();
    }
  }
}

export interface SseTiming {
  /** The reconnection delay suggested to clients (`retry:`). */
  readonly retryMs: number;
  /** The period of `: keepalive` comments. */
  readonly keepaliveMs: number;
}
