import type { LimitStore, Slot } from './store.js';
import { EXACT_LIMIT_MAX, fits, logVerdict, type Verdict, verdict } from './window.js';

interface Counter {
  index: number;
  current: number;
  previous: number;
  windowMs: number;
}

const SWEEP_MS = 60_000;

/** A log of request times, for limits counted exactly. */
interface Log {
  times: number[];
  windowMs: number;
}

/**
 * Counters in this process: the default, and the fallback while Redis is unreachable. Kept by scope, then by
 * subject: a tier finds its client's counter without joining the two into a key to hash on every request.
 */
export class MemoryStore implements LimitStore {
  private readonly counters = new Map<string, Map<string, Counter>>();
  private readonly logs = new Map<string, Map<string, Log>>();
  private readonly slots = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    // Keys of clients that went away would otherwise stay forever.
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  async hit(key: string, limit: number, windowMs: number): Promise<Verdict> {
    return this.hitNow('', key, limit, windowMs);
  }

  hitNow(scope: string, subject: string, limit: number, windowMs: number): Verdict {
    return limit <= EXACT_LIMIT_MAX
      ? this.logHit(inScope(this.logs, scope), subject, limit, windowMs)
      : this.counterHit(inScope(this.counters, scope), subject, limit, windowMs);
  }

  private logHit(logs: Map<string, Log>, subject: string, limit: number, windowMs: number): Verdict {
    const now = this.now();
    let log = logs.get(subject);
    if (!log || log.windowMs !== windowMs) {
      log = { times: [], windowMs };
      logs.set(subject, log);
    }
    const { times } = log;
    while (times.length > 0 && (times[0] ?? 0) <= now - windowMs) times.shift();
    const allowed = times.length < limit;
    if (allowed) times.push(now);
    return logVerdict(allowed, limit, times, windowMs, now);
  }

  private counterHit(
    counters: Map<string, Counter>,
    subject: string,
    limit: number,
    windowMs: number,
  ): Verdict {
    const now = this.now();
    const index = Math.floor(now / windowMs);
    const elapsed = now - index * windowMs;
    let counter = counters.get(subject);
    if (!counter || counter.windowMs !== windowMs) {
      counter = { index, current: 0, previous: 0, windowMs };
      counters.set(subject, counter);
    } else if (counter.index !== index) {
      counter.previous = counter.index === index - 1 ? counter.current : 0;
      counter.current = 0;
      counter.index = index;
    }
    const allowed = fits(limit, counter.previous, counter.current, windowMs, elapsed);
    if (allowed) counter.current += 1;
    return verdict(allowed, limit, counter.previous, counter.current, windowMs, elapsed);
  }

  async acquire(key: string, cap: number): Promise<Slot | null> {
    const held = this.slots.get(key) ?? 0;
    if (held >= cap) return null;
    this.slots.set(key, held + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.slots.get(key) ?? 1) - 1;
        if (left > 0) this.slots.set(key, left);
        else this.slots.delete(key);
      },
    };
  }

  /** Counters whose windows have both passed are empty anyway. */
  sweep(): void {
    const now = this.now();
    for (const counters of this.counters.values()) {
      for (const [subject, counter] of counters) {
        if ((counter.index + 2) * counter.windowMs <= now) counters.delete(subject);
      }
    }
    for (const logs of this.logs.values()) {
      for (const [subject, log] of logs) {
        if ((log.times[log.times.length - 1] ?? 0) <= now - log.windowMs) logs.delete(subject);
      }
    }
  }

  /** Keys held, for tests of the sweep. */
  get size(): number {
    let size = 0;
    for (const counters of this.counters.values()) size += counters.size;
    for (const logs of this.logs.values()) size += logs.size;
    return size;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}

/** The map of one scope, made on first use (scopes are a handful of names: tiers, and '' for whole keys). */
function inScope<T>(byScope: Map<string, Map<string, T>>, scope: string): Map<string, T> {
  let entries = byScope.get(scope);
  if (!entries) {
    entries = new Map();
    byScope.set(scope, entries);
  }
  return entries;
}
