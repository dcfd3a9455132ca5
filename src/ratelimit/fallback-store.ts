import type { Redis } from 'ioredis';
import type { MemoryStore } from './memory-store.js';
import type { RedisStore } from './redis-store.js';
import type { LimitStore, Slot } from './store.js';
import type { Verdict } from './window.js';

export interface FallbackEvents {
  fellBack(reason: string): void;
  recovered(): void;
}

const PROBE_MS = 500;

/**
 * Redis while it answers, this process's memory while it does not. A failed or timed-out command, or a
 * dropped connection, switches to memory at once; a probe switches back as soon as a PING succeeds. Counts
 * taken in memory meanwhile are not carried over: for that span each instance enforces its limits alone.
 */
export class FallbackStore implements LimitStore {
  private onMemory = false;
  private closed = false;
  private probe: NodeJS.Timeout | undefined;
  private probing = false;

  constructor(
    private readonly primary: RedisStore,
    private readonly fallback: MemoryStore,
    private readonly redis: Redis,
    private readonly events: FallbackEvents,
  ) {
    redis.on('close', () => this.fallBack('the connection to Redis closed'));
    // Connection errors surface through 'close' and failed commands; without a listener ioredis prints them.
    redis.on('error', () => {});
  }

  /** True while limits are counted in this instance's memory. */
  get degraded(): boolean {
    return this.onMemory;
  }

  async hit(key: string, limit: number, windowMs: number): Promise<Verdict> {
    if (!this.onMemory) {
      try {
        return await this.primary.hit(key, limit, windowMs);
      } catch (error) {
        this.fallBack(reasonOf(error));
      }
    }
    return this.fallback.hit(key, limit, windowMs);
  }

  async acquire(key: string, cap: number): Promise<Slot | null> {
    if (!this.onMemory) {
      try {
        return await this.primary.acquire(key, cap);
      } catch (error) {
        this.fallBack(reasonOf(error));
      }
    }
    return this.fallback.acquire(key, cap);
  }

  /** Asks Redis directly, for readiness: a hung Redis is noticed even when no request is being counted. */
  async check(): Promise<boolean> {
    if (!this.onMemory) {
      try {
        await this.redis.ping();
      } catch (error) {
        this.fallBack(reasonOf(error));
      }
    }
    return !this.onMemory;
  }

  /** Switches to memory until a probe finds Redis answering again. */
  fallBack(reason: string): void {
    if (this.onMemory || this.closed) return;
    this.onMemory = true;
    this.events.fellBack(reason);
    this.probe = setInterval(() => void this.tryRedis(), PROBE_MS).unref();
  }

  private async tryRedis(): Promise<void> {
    if (this.probing || this.redis.status !== 'ready') return;
    this.probing = true;
    try {
      await this.redis.ping();
      if (this.closed || !this.onMemory) return;
      clearInterval(this.probe);
      this.onMemory = false;
      this.events.recovered();
    } catch {
      // Still away; the next probe tries again.
    } finally {
      this.probing = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.probe);
    await this.fallback.close();
  }
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
