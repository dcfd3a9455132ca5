/**
 * Two ways of counting a sliding window, both stores use the same ones and this module holds their
 * arithmetic:
 * - a log of request times, exact: never more than the limit in any span of one window, and never a refusal
 *   for a client below the limit. Memory grows with the limit, so it is used up to EXACT_LIMIT_MAX.
 * - above that, a weighted counter: the count of the current fixed window plus the previous window's count
 *   weighted by how much of it the sliding window still covers. Two numbers per key; its error is a small
 *   share of a large limit, while with small limits it would refuse clients that keep to them.
 */

/** The largest limit counted exactly, with one timestamp per request in the window. */
export const EXACT_LIMIT_MAX = 1000;

export interface Verdict {
  allowed: boolean;
  limit: number;
  /** Requests still allowed now (0 when refused). */
  remaining: number;
  /** Milliseconds until the current fixed window ends. */
  resetMs: number;
  /** Refused: milliseconds until one more request would be allowed. */
  retryAfterMs: number;
}

/** The weighted count in the sliding window ending now. */
export function estimate(previous: number, current: number, windowMs: number, elapsedMs: number): number {
  return (previous * (windowMs - elapsedMs)) / windowMs + current;
}

/** True when one more request fits. */
export function fits(
  limit: number,
  previous: number,
  current: number,
  windowMs: number,
  elapsedMs: number,
): boolean {
  return estimate(previous, current, windowMs, elapsedMs) + 1 <= limit;
}

/**
 * The verdict for a request, given the counts after it was (or was not) counted and how far into the current
 * window it came.
 */
export function verdict(
  allowed: boolean,
  limit: number,
  previous: number,
  current: number,
  windowMs: number,
  elapsedMs: number,
): Verdict {
  const resetMs = windowMs - elapsedMs;
  if (allowed) {
    const remaining = Math.max(0, Math.floor(limit - estimate(previous, current, windowMs, elapsedMs)));
    return { allowed, limit, remaining, resetMs, retryAfterMs: 0 };
  }
  return {
    allowed,
    limit,
    remaining: 0,
    resetMs,
    retryAfterMs: waitForRoom(limit, previous, current, windowMs, elapsedMs),
  };
}

/**
 * The verdict of the exact log: `times` holds the window's request times, oldest first, the request in
 * question included when allowed.
 */
export function logVerdict(
  allowed: boolean,
  limit: number,
  times: readonly number[],
  windowMs: number,
  now: number,
): Verdict {
  const newest = times[times.length - 1] ?? now;
  const resetMs = Math.max(0, newest + windowMs - now);
  if (allowed)
    return { allowed, limit, remaining: Math.max(0, limit - times.length), resetMs, retryAfterMs: 0 };
  // Room comes when enough of the oldest requests leave the window to bring the count below the limit.
  const freeing = times[times.length - limit] ?? now;
  return { allowed, limit, remaining: 0, resetMs, retryAfterMs: Math.max(1, freeing + windowMs - now) };
}

/** How long until the weighted count has room for one more request, assuming nothing else is counted. */
export function waitForRoom(
  limit: number,
  previous: number,
  current: number,
  windowMs: number,
  elapsedMs: number,
): number {
  if (current + 1 <= limit) {
    // Room comes within this window as the previous window's weight shrinks.
    const needElapsed = previous > 0 ? windowMs * (1 - (limit - current - 1) / previous) : 0;
    return Math.max(0, Math.ceil(needElapsed - elapsedMs));
  }
  // Not before the next window, where this window's count becomes the shrinking "previous".
  const intoNext = current > 0 ? windowMs * Math.max(0, 1 - (limit - 1) / current) : 0;
  return Math.ceil(windowMs - elapsedMs + intoNext);
}

/** Whole seconds for a header: rounded up, and never below 1. */
export const toSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));
