/** How many records a sampler lets through, per key and in all, per window. */
export interface SamplingPolicy {
  windowMs: number;
  /** Keys remembered at once; the oldest is forgotten beyond it. */
  maxKeys: number;
  /** Records let through per window whatever the key, so rotating keys cannot flood the table either. */
  maxPerWindow: number;
}

export const REFUSAL_SAMPLING: SamplingPolicy = { windowMs: 60_000, maxKeys: 10_000, maxPerWindow: 600 };

/**
 * Lets one record per key through per window and counts the rest, so events an attacker can cause at will
 * are on record without filling the table: each record says how many of its kind were left out before it.
 * Kept in memory: each instance samples on its own.
 */
export class AuditSampler {
  private readonly seen = new Map<string, { at: number; skipped: number }>();
  private windowStart = Number.NEGATIVE_INFINITY;
  private admittedInWindow = 0;

  constructor(
    private readonly policy: SamplingPolicy,
    private readonly now: () => number,
  ) {}

  /** Undefined when this one is left out; else how many of its key were left out since the last one. */
  admit(key: string): number | undefined {
    const now = this.now();
    const entry = this.seen.get(key);
    if (entry && now - entry.at < this.policy.windowMs) {
      entry.skipped += 1;
      return undefined;
    }
    if (now - this.windowStart >= this.policy.windowMs) {
      this.windowStart = now;
      this.admittedInWindow = 0;
    }
    if (this.admittedInWindow >= this.policy.maxPerWindow) {
      if (entry) entry.skipped += 1;
      return undefined;
    }
    this.admittedInWindow += 1;
    // Re-inserted, so the map's order is the order of last admission and the first key is the stalest.
    this.seen.delete(key);
    if (this.seen.size >= this.policy.maxKeys) {
      const stalest = this.seen.keys().next().value;
      if (stalest !== undefined) this.seen.delete(stalest);
    }
    this.seen.set(key, { at: now, skipped: 0 });
    return entry?.skipped ?? 0;
  }
}
