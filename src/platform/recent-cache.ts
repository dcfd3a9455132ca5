/**
 * Lookups remembered for a short while: each entry lives `ttlMs` from the moment its load started, so a
 * value is never older than that, and at most `maxEntries` are kept (the oldest go first). Concurrent
 * lookups of one key share one load. Only found values are kept: a miss is asked again every time.
 *
 * Ages are measured on the monotonic clock, never the app's (tests move that one), because the expiry
 * bounds how stale a value may be in real time.
 */
interface Entry<V> {
  value: Promise<V | undefined>;
  expiresAt: number;
  /** The value once `value` has settled on one: what `peek` hands out without a promise. */
  settled?: V;
}

export class RecentCache<K, V> {
  private readonly entries = new Map<K, Entry<V>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** The remembered value of `key`, or what `load` finds (remembered if found). */
  get(key: K, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const now = this.clock();
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > now) return entry.value;
    if (entry) this.entries.delete(key);
    const value = load();
    const fresh: Entry<V> = { value, expiresAt: now + this.ttlMs };
    this.entries.set(key, fresh);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    // A miss or a failure is not remembered; a later entry for the key (after a drop) is left alone.
    const forget = () => {
      if (this.entries.get(key) === fresh) this.entries.delete(key);
    };
    value.then((found) => {
      if (found === undefined) forget();
      else if (fresh.value === value) fresh.settled = found;
    }, forget);
    return value;
  }

  /**
   * The remembered value of `key` if it is fresh and already loaded, without waiting: the hot path asks
   * this first and goes through `get` only when it hands back nothing.
   */
  peek(key: K): V | undefined {
    const entry = this.entries.get(key);
    return entry && entry.expiresAt > this.clock() ? entry.settled : undefined;
  }

  /** Replaces the remembered value of `key`, if any, keeping its expiry (a write this process made). */
  update(key: K, change: (value: V) => V): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    if (entry.settled !== undefined) {
      entry.settled = change(entry.settled);
      entry.value = Promise.resolve(entry.settled);
      return;
    }
    const changed = entry.value.then((found) => (found === undefined ? undefined : change(found)));
    entry.value = changed;
    // Whoever reads the entry sees a failure; the entry itself must not raise an unhandled one.
    changed.then(
      (found) => {
        if (found !== undefined && entry.value === changed) entry.settled = found;
      },
      () => {},
    );
  }

  drop(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
