/** What the soak engine and its subscriber workers (bench/soak/subscribers.ts) say to each other over IPC. */

/**
 * How a subscriber follows its channels: a WebSocket (`subscribe` per channel), an SSE response of one
 * channel (`/streams/{channel}/events`), or one SSE response of several (`/events?channel=…`).
 */
export type SubscriberKind = 'ws' | 'sse' | 'sse-multi';

export interface SubscriberSpec {
  kind: SubscriberKind;
  /** Bearer token of the user it is. */
  token: string;
  /** The channels it follows; `sse` takes the first only. */
  channels: string[];
  /** The channels it must keep hearing from (a producer's stream), for the stall check. */
  steady: string[];
}

export interface ConnectRequest {
  type: 'connect';
  /** http://127.0.0.1:PORT */
  origin: string;
  subscribers: SubscriberSpec[];
  /** Connections being opened at once. */
  concurrency: number;
}

export type ParentMessage =
  | ConnectRequest
  /** Closes `count` subscribers picked at random and opens each again, resuming where it was. */
  | { type: 'churn'; count: number }
  /** What happened so far; `staleAfterMs` is how long a steady channel may be silent before it counts as stalled. */
  | { type: 'stats'; staleAfterMs: number }
  | { type: 'close' };

export interface Connected {
  type: 'connected';
  ready: number;
  failed: number;
  failures: string[];
  elapsedMs: number;
}

/** Totals of one worker since it started (counters only grow, except `open` and the stall figures). */
export interface WorkerStats {
  type: 'stats';
  /** Subscribers whose connection is open and subscribed right now. */
  open: number;
  subscribers: number;
  /** Events and snapshots received, every channel. */
  events: number;
  /** Missing events: a seq that skipped ahead, by how many it skipped. */
  gaps: number;
  /** An event whose seq was not past the last one. */
  duplicates: number;
  /** `reset` frames: the history no longer reached back to where a subscriber resumed. */
  resets: number;
  /** Event ids of another epoch than the channel's first. */
  epochChanges: number;
  /** Connections that ended without the worker closing them, by reason. */
  dropped: Record<string, number>;
  /** Reconnects asked for (churn) and after a drop, and those that failed. */
  reconnects: number;
  reconnectFailures: number;
  /** Frames that were not expected (an `error` frame, `unavailable`, anything unknown). */
  unexpected: number;
  /** A few of the above, to say what went wrong. */
  samples: string[];
  /** `status` frames, and those that said `error`. */
  statusFrames: number;
  statusErrors: number;
  /** Open subscribers with a steady channel silent for longer than `staleAfterMs`. */
  stalled: number;
  /** Per channel, the highest seq any subscriber of this worker holds, and the lowest among open ones. */
  channelSeq: Record<string, { max: number; minOpen: number }>;
}

export type WorkerMessage = Connected | WorkerStats | { type: 'fatal'; message: string };

/** The sequence number of an event id `<epoch>:<seq>`; NaN for anything else. */
export function seqOf(id: unknown): number {
  if (typeof id !== 'string') return Number.NaN;
  const colon = id.lastIndexOf(':');
  return colon === -1 ? Number.NaN : Number(id.slice(colon + 1));
}

export function epochOf(id: string): string {
  return id.slice(0, Math.max(0, id.lastIndexOf(':')));
}
