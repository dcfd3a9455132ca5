/** What the live API delivers (docs/live.md; the AsyncAPI document at /asyncapi.json describes each frame). */

/** An event of a channel: `id` is `<epoch>:<seq>`, `ts` RFC 3339 UTC, `data` the published JSON value. */
export interface LiveEvent<T = unknown> {
  id: string;
  channel: string;
  ts: string;
  data: T;
}

/** The state of a stream's producer (`status` frames). */
export interface ChannelStatus {
  state: 'ok' | 'error';
  message?: string;
  at: string;
}

/** Why a subscription ended for good (it is not retried). */
export interface SubscriptionEnd {
  /**
   * `unavailable`: the channel was removed; `not-found`: no such channel, or one you may not follow;
   * `forbidden`: you lost the right to it; `refused`: the server refused it otherwise (`code` says why);
   * `signed-out`: the session ended; `closed`: you closed it.
   */
  reason: 'unavailable' | 'not-found' | 'forbidden' | 'refused' | 'signed-out' | 'closed';
  code: number | null;
  message: string;
}

/** What a transport hands the live client, the same whichever it is. */
export type Inbound =
  | { type: 'subscribed'; channel: string; recovered: boolean; lastId: string | null }
  | { type: 'snapshot'; channel: string; event: LiveEvent | null }
  | { type: 'event'; event: LiveEvent }
  | { type: 'reset'; channel: string }
  | { type: 'status'; channel: string; status: ChannelStatus }
  | { type: 'ended'; channel: string; end: SubscriptionEnd }
  /** A subscribe the server could not take now (Redis away): send it again in a moment. */
  | { type: 'retry-subscribe'; channel: string }
  /** The position the client gave was refused: subscribe again from the snapshot. */
  | { type: 'bad-position'; channel: string };

/** `<epoch>:<seq>` taken apart; undefined for anything else. */
export function positionOf(id: string | null | undefined): { epoch: string; seq: number } | undefined {
  if (!id) return undefined;
  const colon = id.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const seq = Number(id.slice(colon + 1));
  return Number.isSafeInteger(seq) ? { epoch: id.slice(0, colon), seq } : undefined;
}

export function endOfCode(code: number, message: string): SubscriptionEnd {
  if (code === 3000) return { reason: 'not-found', code, message };
  if (code === 1001) return { reason: 'forbidden', code, message };
  return { reason: 'refused', code, message };
}
