import type { SwitchboardError } from './errors.js';
import type { Inbound } from './frames.js';

/** How one connection attempt ended, for the live client to decide what comes next. */
export interface Closed {
  /** Whether the connection was up (open) before it ended. */
  opened: boolean;
  /** The WebSocket close code, or the HTTP status of a refused event stream. */
  code: number | null;
  reason: string;
  /** The server asked for this pause before the next attempt. */
  retryAfterMs?: number;
  /** The failure behind it, when there was one. */
  error?: SwitchboardError;
  /** The transport itself cannot work here (the WebSocket never opened although the server answers). */
  transportFailed?: boolean;
}

export interface ConnectionHooks {
  /** Up: subscriptions can be sent. */
  open(): void;
  /** Every subscription asked for since `open` is answered and what it replayed delivered. */
  ready(): void;
  frame(frame: Inbound): void;
  closed(closed: Closed): void;
}

/** One live connection (a WebSocket, or an event-stream response) carrying the client's subscriptions. */
export interface Connection {
  subscribe(channel: string, since: string | null): void;
  unsubscribe(channel: string): void;
  close(): void;
}
