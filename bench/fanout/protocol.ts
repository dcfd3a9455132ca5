/** What the bench process and its subscriber workers (bench/fanout/subscribers.ts) say to each other over IPC. */

/** How a subscriber connects and what it reads. */
export type ClientKind = 'ws' | 'socketio' | 'switchboard-ws' | 'switchboard-sse';

export interface ConnectRequest {
  type: 'connect';
  kind: ClientKind;
  /** http://127.0.0.1:PORT */
  origin: string;
  channel: string;
  /** Bearer token for Switchboard; unused by the baselines. */
  token?: string;
  count: number;
  /** Connections being opened at once. */
  concurrency: number;
  /** Events the measurement will publish (seq 1..events): sizes the buffers. */
  events: number;
}

export type ParentMessage =
  | ConnectRequest
  | { type: 'start' }
  | { type: 'progress' }
  | { type: 'collect' }
  | { type: 'close' };

export interface Connected {
  type: 'connected';
  /** Subscribers this request added that are confirmed. */
  ready: number;
  failed: number;
  failures: string[];
  /** Milliseconds from the first connection attempt to the last subscription confirmed. */
  elapsedMs: number;
}

export interface Progress {
  type: 'progress';
  /** Deliveries of measured events (seq ≥ 1) so far. */
  delivered: number;
}

export interface Collected {
  type: 'collected';
  /** Delivery latencies in milliseconds (receive time − sent_at), one per delivery of seq ≥ 1. */
  latencies: Float64Array;
  /** Deliveries per seq (index = seq). */
  perSeq: Uint32Array;
  /** Epoch milliseconds of the last delivery; NaN when none. */
  lastDeliveryAt: number;
  /** Connections that closed or failed after they were ready, by reason. */
  dropped: Record<string, number>;
  /** This worker's event-loop delay over the window, ms. */
  loopDelay: { p99: number; max: number };
  /** Frames that were not ours or would not parse. */
  unexpected: number;
  unexpectedSamples: string[];
}

export type WorkerMessage = Connected | Progress | Collected | { type: 'fatal'; message: string };

/** The payload every published event carries. */
export interface FanoutPayload {
  seq: number;
  /** Epoch milliseconds with sub-millisecond precision (performance.timeOrigin + performance.now()). */
  sent_at: number;
}

/** Epoch milliseconds with sub-millisecond precision; the same clock in every process of the machine. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();
