import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/** One request of an open-loop schedule. Latency runs from when it was due, not from when it was sent. */
export interface Sample {
  /** Milliseconds since the loop started at which the request was due. */
  dueMs: number;
  latencyMs: number;
  ok: boolean;
}

export interface LoopResult {
  samples: Sample[];
  /** Requests still unanswered when the drain time ran out (counted as failures, not as samples). */
  unfinished: number;
  /** From the start of the schedule to the last answer, at least the scheduled duration. */
  elapsedMs: number;
  /** The first few failure messages, for the report. */
  failures: string[];
}

/**
 * Fires `request` at a fixed rate for `durationMs`, whether or not earlier requests have been answered
 * (an open loop): a slow server cannot slow the schedule down, so queueing shows up in the latencies
 * instead of being hidden (no coordinated omission). If the generator itself falls behind, the late
 * requests are sent at once and their lateness is counted in their latency.
 *
 * `request` resolves to true for the expected answer, false (or a rejection) for anything else.
 */
export async function openLoop(options: {
  ratePerSecond: number;
  durationMs: number;
  request: (index: number) => Promise<boolean>;
  drainMs?: number;
}): Promise<LoopResult> {
  const interval = 1000 / options.ratePerSecond;
  const total = Math.floor((options.durationMs * options.ratePerSecond) / 1000);
  const samples: Sample[] = [];
  const failures: string[] = [];
  const pending = new Set<Promise<void>>();
  const start = performance.now();
  let lastAnswer = start;

  const launch = (index: number, due: number) => {
    const done = (ok: boolean) => {
      const now = performance.now();
      lastAnswer = Math.max(lastAnswer, now);
      samples.push({ dueMs: due - start, latencyMs: now - due, ok });
    };
    const promise = options
      .request(index)
      .then(done, (error: unknown) => {
        if (failures.length < 5) failures.push(error instanceof Error ? error.message : String(error));
        done(false);
      })
      .finally(() => pending.delete(promise));
    pending.add(promise);
  };

  let next = 0;
  while (next < total) {
    const now = performance.now();
    while (next < total && start + next * interval <= now) {
      launch(next, start + next * interval);
      next += 1;
    }
    if (next < total) await sleep(Math.max(0, start + next * interval - performance.now()));
  }
  const drained = await Promise.race([
    Promise.allSettled([...pending]).then(() => true),
    sleep(options.drainMs ?? 15_000).then(() => false),
  ]);
  return {
    samples: [...samples],
    unfinished: drained ? 0 : pending.size,
    elapsedMs: Math.max(options.durationMs, lastAnswer - start),
    failures: [...failures],
  };
}

/** Event-loop delay of this process (the load generator) from `start()` to `stop()`, in milliseconds. */
export function loopDelayMonitor(): { start(): void; stop(): { p99: number; max: number } } {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  return {
    start: () => histogram.enable(),
    stop: () => {
      histogram.disable();
      return { p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 };
    },
  };
}
