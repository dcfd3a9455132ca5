import { Redis } from 'ioredis';
import { withTimeout } from '../../platform/health.js';
import { type Finding, fail, ok, reason, skipped, warn } from './check.js';

export const REDIS_TIMEOUT_MS = 3000;
/** Over this, instances disagree on when things expire by more than a user would shrug off… */
export const SKEW_WARN_MS = 1000;
/** …and over this, tokens, tickets and leases expire early or live on. */
export const SKEW_FAIL_MS = 5000;

const CLOCK_FIX =
  "synchronise this machine's clock and the Redis host's (NTP: chrony or systemd-timesyncd); instances " +
  'compare times through Redis and the tokens they issue, so connect tickets, producer leases and access ' +
  'tokens expire early or live on';

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 3 : 1)} s`;

/** The clock of this machine against Redis's TIME, read halfway through the round trip. */
function skewFinding(offsetMs: number, roundTripMs: number): Finding {
  const size = Math.abs(offsetMs);
  const trip = `(round trip ${Math.round(roundTripMs)} ms)`;
  if (size <= SKEW_WARN_MS)
    return ok('clock-skew', `this machine's clock and Redis's agree within ${Math.ceil(size)} ms ${trip}`);
  const finding = `this machine's clock is ${seconds(size)} ${offsetMs > 0 ? 'behind' : 'ahead of'} Redis's ${trip}`;
  if (size > SKEW_FAIL_MS)
    return fail('clock-skew', `${finding}, over the ${SKEW_FAIL_MS / 1000} s allowed`, CLOCK_FIX);
  return warn('clock-skew', `${finding}, over ${SKEW_WARN_MS / 1000} s`, CLOCK_FIX);
}

/**
 * Whether Redis answers PING (`redis`) and how far this machine's clock is from its TIME (`clock-skew`).
 * One connection attempt, no retries: the server's client (connectRedis) keeps trying, which a report
 * must not wait for. The URL is a secret (it may hold a password) and is never shown.
 */
export async function redisFindings(
  url: string | undefined,
  now: () => number = Date.now,
): Promise<Finding[]> {
  if (!url) {
    const why =
      'SWITCHBOARD_REDIS_URL is not set: each instance keeps its own limits, live history and tickets';
    return [skipped('redis', why), skipped('clock-skew', why)];
  }
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: REDIS_TIMEOUT_MS,
    commandTimeout: REDIS_TIMEOUT_MS,
    retryStrategy: () => null,
  });
  // Kept for the finding: a failed connection rejects with "Connection is closed", the event says why.
  let lastError: unknown;
  redis.on('error', (error) => {
    lastError = error;
  });
  try {
    await withTimeout(redis.connect(), REDIS_TIMEOUT_MS + 500, 'Redis');
    const started = performance.now();
    await redis.ping();
    const pingMs = Math.round(performance.now() - started);
    const before = now();
    const [secondsText, microsText] = await redis.time();
    const after = now();
    const redisMs = Number(secondsText) * 1000 + Number(microsText) / 1000;
    return [
      ok('redis', `SWITCHBOARD_REDIS_URL answers PING (${pingMs} ms)`),
      skewFinding(redisMs - (before + after) / 2, after - before),
    ];
  } catch (error) {
    return [
      fail(
        'redis',
        `SWITCHBOARD_REDIS_URL does not answer: ${reason(lastError ?? error)}`,
        'check that Redis runs and accepts connections from this machine, and the URL (host, port, password, rediss:// for TLS)',
      ),
      skipped('clock-skew', 'Redis does not answer'),
    ];
  } finally {
    redis.disconnect();
  }
}
