/**
 * How long to wait after failures, for polls and for attempts within one poll. Jitter only ever shortens a
 * delay, so a delay never exceeds its cap; several streams failing against the same upstream at once spread
 * out instead of retrying in step.
 */

const MAX_POLL_BACKOFF_MS = 5 * 60_000;
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2_000;
const JITTER = 0.1;

function jittered(delayMs: number, random: () => number): number {
  const r = Math.min(1, Math.max(0, random()));
  return Math.floor(delayMs * (1 - JITTER * r));
}

/**
 * Delay before the next poll after `failures` consecutive failed polls: the interval when 0; then doubling
 * from the interval, capped at max(interval, 5 minutes), with up to 10% jitter (injectable random for tests).
 * Never below the interval: backing off must not poll an upstream faster than configured.
 */
export function nextPollDelay(
  intervalMs: number,
  failures: number,
  random: () => number = Math.random,
): number {
  if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) {
    throw new RangeError(`a poll interval must be a positive number of milliseconds, not ${intervalMs}`);
  }
  const count = Number.isFinite(failures) ? Math.floor(failures) : failures > 0 ? Number.MAX_SAFE_INTEGER : 0;
  if (count <= 0) return intervalMs;
  const cap = Math.max(intervalMs, MAX_POLL_BACKOFF_MS);
  // 2 ** count overflows to Infinity for large counts, which the cap absorbs.
  const backedOff = Math.min(cap, intervalMs * 2 ** count);
  return Math.max(intervalMs, jittered(backedOff, random));
}

/** Delay before retry number `retry` (0 for the first retry) within one poll: 100 ms × 2^n, at most 2 s. */
export function retryDelay(retry: number, random: () => number = Math.random): number {
  const n = Math.max(0, Math.floor(retry));
  return jittered(Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** n), random);
}
