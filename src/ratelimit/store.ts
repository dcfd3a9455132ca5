import type { Verdict } from './window.js';

/** A held concurrency slot; release is idempotent. */
export interface Slot {
  release(): void;
}

/** Where counters and slots live: this process's memory, or Redis shared by every instance. */
export interface LimitStore {
  /** Counts one request against `key` if it fits `limit` per sliding `windowMs`. */
  hit(key: string, limit: number, windowMs: number): Promise<Verdict>;
  /**
   * `hit` of the key `${scope}:${subject}` without waiting, for a store that can answer at once (memory);
   * absent where it cannot. Apart, because joining them is most of the cost of finding the counter.
   */
  hitNow?(scope: string, subject: string, limit: number, windowMs: number): Verdict;
  /** Takes one of `cap` slots of `key`, or null when all are taken. */
  acquire(key: string, cap: number): Promise<Slot | null>;
  close(): Promise<void>;
}
