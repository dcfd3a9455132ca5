/**
 * Subscribers in worker processes, for every bench that fans one channel out to many: connecting them,
 * waiting for what was published to arrive, and counting what did (deliveries, duplicates, missing).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { openLoop } from '../lib/load.js';
import { type LatencySummary, summarize } from '../lib/stats.js';
import { type Collected, type ConnectRequest, preciseNow } from './protocol.js';
import type { SubscriberWorker } from './workers.js';

/** Connections each worker opens at once. */
export const CONNECT_CONCURRENCY = 100;
/** How long deliveries may trail the last publish before what has not come counts as missing. */
export const DRAIN_MS = 5000;

/** Opens `count` subscribers shared among the workers; resolves once each is confirmed or failed. */
export async function connectSubscribers(
  workers: readonly SubscriberWorker[],
  request: Omit<ConnectRequest, 'type' | 'count' | 'concurrency'>,
  count: number,
) {
  const start = performance.now();
  const connected = await Promise.all(
    workers.map((worker, i) =>
      worker.ask(
        {
          ...request,
          type: 'connect',
          count: Math.floor(count / workers.length) + (i < count % workers.length ? 1 : 0),
          concurrency: CONNECT_CONCURRENCY,
        },
        'connected',
        300_000,
      ),
    ),
  );
  return {
    seconds: (performance.now() - start) / 1000,
    ready: connected.reduce((sum, c) => sum + c.ready, 0),
    failures: connected.flatMap((c) => (c.failed ? [`${c.failed} failed: ${c.failures.join('; ')}`] : [])),
  };
}

/** Waits until `expected` deliveries arrived, but not for ever, then has every worker hand over what it got. */
export async function drainAndCollect(
  workers: readonly SubscriberWorker[],
  expected: number,
): Promise<Collected[]> {
  const drainUntil = performance.now() + DRAIN_MS;
  while (performance.now() < drainUntil) {
    const progress = await Promise.all(workers.map((w) => w.ask({ type: 'progress' }, 'progress', 10_000)));
    if (progress.reduce((sum, p) => sum + p.delivered, 0) >= expected) break;
    await sleep(100);
  }
  const collected: Collected[] = [];
  for (const worker of workers) collected.push(await worker.ask({ type: 'collect' }, 'collected', 60_000));
  return collected;
}

export interface Tally {
  delivered: number;
  duplicates: number;
  /** Deliveries owed to `subscribers` for `events` events that never came (duplicates not counted). */
  missing: number;
  /** Deliveries per second over the publishing time, or to the last delivery when longer. */
  rate: number;
  /** A delivery that never came is infinitely late: with more than 1% missing, p99 is ∞. */
  latency: LatencySummary;
}

/** What the workers received of `events` events (seq 1…events) published for `durationS` from `firstSentAt`. */
export function tally(
  collected: readonly Collected[],
  options: { subscribers: number; ready: number; events: number; durationS: number; firstSentAt: number },
): Tally {
  const latencies = collected.flatMap((c) => Array.from(c.latencies));
  const delivered = latencies.length;
  let duplicates = 0;
  for (let seq = 1; seq <= options.events; seq += 1) {
    const received = collected.reduce((sum, c) => sum + (c.perSeq[seq] ?? 0), 0);
    duplicates += Math.max(0, received - options.ready);
  }
  const missing = options.subscribers * options.events - (delivered - duplicates);
  const lastDeliveryAt = Math.max(...collected.map((c) => c.lastDeliveryAt).filter((t) => !Number.isNaN(t)));
  const windowS = Math.max(
    options.durationS,
    Number.isFinite(lastDeliveryAt) ? (lastDeliveryAt - options.firstSentAt) / 1000 : 0,
  );
  return {
    delivered,
    duplicates,
    missing,
    rate: delivered / windowS,
    latency: summarize(
      missing > 0 ? latencies.concat(new Array<number>(missing).fill(Number.POSITIVE_INFINITY)) : latencies,
    ),
  };
}

/**
 * The measured window: `rate` events a second for `durationS` (seq 1…, by `publish`), then what the workers
 * received of them; `spanS` is the window's length, to the end of the collection.
 */
export async function publishAndCollect(
  workers: readonly SubscriberWorker[],
  options: { rate: number; durationS: number; expected: number },
  publish: (seq: number) => Promise<boolean>,
) {
  const windowStart = performance.now();
  const firstSentAt = preciseNow();
  const publishing = await openLoop({
    ratePerSecond: options.rate,
    durationMs: options.durationS * 1000,
    request: (index) => publish(index + 1),
  });
  const collected = await drainAndCollect(workers, options.expected);
  return { publishing, collected, firstSentAt, spanS: (performance.now() - windowStart) / 1000 };
}
