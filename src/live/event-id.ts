/**
 * Event ids are `<epoch>:<seq>`: seq grows by one per event on a channel, and the epoch changes whenever
 * that sequence starts over (a memory bus restarting, a Redis that lost its streams). A client that sends
 * an id of another epoch is told its history is gone instead of being given a wrong gap.
 */
export interface EventId {
  readonly epoch: string;
  readonly seq: number;
}

/** An event id's form, also the `pattern` of every event id in the AsyncAPI document (frame-schemas.ts). */
export const EVENT_ID_PATTERN = '^([A-Za-z0-9_-]{1,32}):(0|[1-9][0-9]{0,15})$';
const EVENT_ID = new RegExp(EVENT_ID_PATTERN);

export function formatEventId(epoch: string, seq: number): string {
  return `${epoch}:${seq}`;
}

/** Undefined for anything that is not an id this server could have issued. */
export function parseEventId(text: string): EventId | undefined {
  const match = EVENT_ID.exec(text);
  if (!match) return undefined;
  const seq = Number(match[2]);
  return Number.isSafeInteger(seq) ? { epoch: match[1] ?? '', seq } : undefined;
}
