import type { LimitStore, Slot } from './store.js';
import { EXACT_LIMIT_MAX, fits, logVerdict, type Verdict, verdict } from './window.js';

interface Counter {
  index: number;
  current: number;
  previous: number;
  windowMs: number;
}

const SWEEP_MS = 60_000;

/** Counters in this process: the default, and the fallback while Redis is unreachable. */
export class MemoryStore implements LimitStore {
  private readonly counters = new Map<string, Counter>();
  private readonly logs = new Map<string, { times: number[]; windowMs: number }>();
  private readonly slots = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    // Keys of clients that went away would otherwise stay forever.
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  async hit(key: string, limit: number, windowMs: number): Promise<Verdict> {
    return this.hitNow(key, limit, windowMs);
  }

  hitNow(key: string, limit: number, windowMs: number): Verdict {
    return limit <= EXACT_LIMIT_MAX
      ? this.logHit(key, limit, windowMs)
      : this.counterHit(key, limit, windowMs);
  }

  private logHit(key: string, limit: number, windowMs: number): Verdict {
    const now = this.now();
    let log = this.logs.get(key);
    if (!log || log.windowMs !== windowMs) {
      log = { times: [], windowMs };
      this.logs.set(key, log);
    }
    const { times } = log;
    while (times.length > 0 && (times[0] ?? 0) <= now - windowMs) times.shift();
    const allowed = times.length < limit;
    if (allowed) times.push(now);
    return logVerdict(allowed, limit, times, windowMs, now);
  }

  private counterHit(key: string, limit: number, windowMs: number): Verdict {
    const now = this.now();
    const index = Math.floor(now / windowMs);
    const elapsed = now - index * windowMs;
    let counter = this.counters.get(key);
    if (!counter || counter.windowMs !== windowMs) {
      counter = { index, current: 0, previous: 0, windowMs };
      this.counters.set(key, counter);
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
    for (const [key, counter] of this.counters) {
      if ((counter.index + 2) * counter.windowMs <= now) this.counters.delete(key);
    }
    for (const [key, log] of this.logs) {
      if ((log.times[log.times.length - 1] ?? 0) <= now - log.windowMs) this.logs.delete(key);
    }
  }

  /** Keys held, for tests of the sweep. */
  get size(): number {
    return this.counters.size + this.logs.size;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
