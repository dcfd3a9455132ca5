/** What the bench process and its client workers (bench/replay/clients.ts) say to each other over IPC. */

export type ClientKind = 'ws' | 'sse';

/** Opens `count` clients that resume after `since`, each at its own moment of [startAt, startAt + spreadMs). */
export interface ReconnectRequest {
  type: 'reconnect';
  kind: ClientKind;
  /** http://127.0.0.1:PORT */
  origin: string;
  channel: string;
  /** Bearer tokens, used in turn by the clients. */
  tokens: readonly string[];
  count: number;
  /** The id the clients resume after (`since` on the WebSocket, `Last-Event-ID` on SSE). */
  since: string;
  /** A client is live once it holds every event up to this seq (the ones it missed). */
  caughtUpSeq: number;
  /** Epoch milliseconds (preciseNow) at which the first client starts. */
  startAt: number;
  spreadMs: number;
}

export type ParentMessage =
  | ReconnectRequest
  /** Checks every client holds each event after `since` up to `lastSeq`, exactly once. */
  | { type: 'verify'; lastSeq: number }
  /** Closes the clients, keeps the worker. */
  | { type: 'drop' }
  | { type: 'close' };

export interface Reconnected {
  type: 'reconnected';
  live: number;
  failed: number;
  failures: string[];
  /** Per client: milliseconds from its own start to live; NaN for one that failed. */
  toLive: Float64Array;
  /** Epoch milliseconds of the last client to go live; NaN when none did. */
  lastLiveAt: number;
}

export interface Verified {
  type: 'verified';
  /** Clients holding every event up to lastSeq exactly once. */
  complete: number;
  /** Clients that skipped an event, that received one twice, or that were reset instead of resumed. */
  gaps: number;
  duplicates: number;
  resets: number;
  /** Clients whose connection ended before the check. */
  dropped: number;
  samples: string[];
}

export type WorkerMessage = Reconnected | Verified | { type: 'fatal'; message: string };

/** Epoch milliseconds with sub-millisecond precision; the same clock in every process of the machine. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();

/** The sequence number of an event id `<epoch>:<seq>`; NaN for anything else. */
export function seqOf(id: unknown): number {
  if (typeof id !== 'string') return Number.NaN;
  const colon = id.lastIndexOf(':');
  return colon === -1 ? Number.NaN : Number(id.slice(colon + 1));
}
