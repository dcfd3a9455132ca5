/** One event on a channel, as every transport delivers it. */
export interface LiveEvent {
  readonly id: string;
  readonly channel: string;
  /** RFC 3339 UTC. */
  readonly ts: string;
  readonly data: unknown;
}

/** How much of a channel's past is kept for replay: at most `size` events, none older than `maxAgeMs`. */
export interface HistoryPolicy {
  readonly size: number;
  readonly maxAgeMs: number;
}

/**
 * What a replay from an id found: the events after it, or that the history no longer reaches back to it
 * (another epoch, or trimmed), in which case the client starts again from a snapshot.
 */
export type Replay =
  | { readonly recovered: true; readonly events: readonly LiveEvent[] }
  | { readonly recovered: false };

/** A `since` the channel could never have issued: from its future, or not an event id at all. */
export class InvalidSince extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidSince';
  }
}

export type Unsubscribe = () => void;

/**
 * Publish and subscribe with per-channel history. In-process by default; on Redis, every instance sees
 * every event and the history is shared.
 */
export interface EventBus {
  publish(channel: string, data: unknown): Promise<LiveEvent>;
  /** Live events only; pair with `replay` for the past. Listeners are called in publication order. */
  subscribe(channel: string, listener: (event: LiveEvent) => void): Unsubscribe;
  /** The events after `since`; throws InvalidSince for an id the channel never issued. */
  replay(channel: string, since: string): Promise<Replay>;
  /** The latest event, however old (the snapshot a fresh subscriber gets first), or null. */
  latest(channel: string): Promise<LiveEvent | null>;
  /** Forgets a channel's history (it was removed). */
  drop(channel: string): Promise<void>;
  close(): Promise<void>;
}
