import { AppError, ErrorCode, type ErrorCodeValue } from '../platform/problem.js';
import type { LimitSettings } from '../settings.js';
import { type ConcurrencyName, OPERATIONS, type OperationName } from './operations.js';
import type { LimitStore, Slot } from './store.js';
import { toSeconds, type Verdict } from './window.js';

export type Tier = 'ip_floor' | 'unauthenticated' | 'authenticated';

export interface RateLimitObserver {
  /** A request was refused by the named limit. */
  refused(limit: string): void;
}

/** The rules: which budget a request spends, and the 429 it gets when that budget is spent. */
export class RateLimits {
  constructor(
    readonly settings: LimitSettings,
    private readonly store: LimitStore,
    private readonly observer: RateLimitObserver,
  ) {}

  /** Every request from the address, before anything else is known about it. */
  floor(address: string): Promise<Verdict> {
    return this.tier('ip_floor', address, this.settings.ipFloor);
  }

  /** A request whose caller is known (per user) or not (per address). */
  caller(userId: string | null, address: string): Promise<Verdict> {
    return userId === null
      ? this.tier('unauthenticated', address, this.settings.unauthenticated)
      : this.tier('authenticated', userId, this.settings.authenticated);
  }

  /** `floor` without waiting, where the store counts in memory; undefined where it does not. */
  floorNow(address: string): Verdict | undefined {
    return this.tierNow('ip_floor', address, this.settings.ipFloor);
  }

  /** `caller` without waiting, where the store counts in memory; undefined where it does not. */
  callerNow(userId: string | null, address: string): Verdict | undefined {
    return userId === null
      ? this.tierNow('unauthenticated', address, this.settings.unauthenticated)
      : this.tierNow('authenticated', userId, this.settings.authenticated);
  }

  /** One request of a named operation by `subject`; null when that operation's limit is off. */
  async operation(name: OperationName, subject: string): Promise<Verdict | null> {
    const rate = this.settings.operations[name];
    if (rate === null) return null;
    const result = await this.store.hit(`op:${name}:${subject}`, rate.limit, rate.windowMs);
    if (!result.allowed) {
      this.observer.refused(name);
      throw refusal(
        ErrorCode.operationRateLimited,
        `too many requests of this kind (${OPERATIONS[name].doc.replace(/\.$/, '').toLowerCase()}: at most ${rate.limit} per ${describeWindow(rate.windowMs)}); try again in ${toSeconds(result.retryAfterMs)} s`,
        result,
      );
    }
    return result;
  }

  /** A slot of a capped slow operation for `userKey`; null when that cap is off. */
  async acquire(name: ConcurrencyName, userKey: string): Promise<Slot | null> {
    const cap = this.settings.concurrency[name];
    if (cap === null) return null;
    const slot = await this.store.acquire(`${name}:${userKey}`, cap);
    if (slot === null) {
      this.observer.refused(`${name} (concurrency)`);
      throw new AppError(
        ErrorCode.concurrencyCap,
        `you already have ${cap} of these running (at most ${cap} at once); wait for ${cap === 1 ? 'it' : 'one'} to finish`,
        { retryAfter: 1 },
      );
    }
    return slot;
  }

  private async tier(tier: Tier, subject: string, limit: number): Promise<Verdict> {
    // The same counter as tierNow's where the store has one (WebSocket upgrades share the HTTP floor).
    const now = this.tierNow(tier, subject, limit);
    if (now !== undefined) return now;
    return this.judged(
      tier,
      limit,
      await this.store.hit(`${tier}:${subject}`, limit, this.settings.windowMs),
    );
  }

  private tierNow(tier: Tier, subject: string, limit: number): Verdict | undefined {
    const result = this.store.hitNow?.(tier, subject, limit, this.settings.windowMs);
    return result && this.judged(tier, limit, result);
  }

  /** The verdict, or the 429 that refuses the request. */
  private judged(tier: Tier, limit: number, result: Verdict): Verdict {
    if (!result.allowed) {
      this.observer.refused(tier);
      const who = tier === 'authenticated' ? 'for your account' : 'from your address';
      throw refusal(
        ErrorCode.rateLimited,
        `too many requests ${who} (at most ${limit} per ${describeWindow(this.settings.windowMs)}); try again in ${toSeconds(result.retryAfterMs)} s`,
        result,
      );
    }
    return result;
  }
}

function refusal(code: ErrorCodeValue, detail: string, result: Verdict): AppError {
  return new AppError(code, detail, {
    retryAfter: toSeconds(result.retryAfterMs),
    headers: rateLimitHeaders(result),
  });
}

/** The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers) for a verdict. */
export function rateLimitHeaders(result: Verdict): Record<string, string> {
  const headers: Record<string, string> = {};
  writeRateLimitHeaders(result, headers);
  return headers;
}

/** `rateLimitHeaders`, written into headers being assembled. */
export function writeRateLimitHeaders(result: Verdict, headers: Record<string, unknown>): void {
  headers['ratelimit-limit'] = String(result.limit);
  headers['ratelimit-remaining'] = String(result.remaining);
  headers['ratelimit-reset'] = String(toSeconds(result.resetMs));
}

/** The verdict a client should hear about: the one closest to refusing. */
export function tighter(a: Verdict | null, b: Verdict | null): Verdict | null {
  if (!a) return b;
  if (!b) return a;
  if (a.remaining !== b.remaining) return a.remaining < b.remaining ? a : b;
  return a.resetMs >= b.resetMs ? a : b;
}

function describeWindow(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1000, 'second'],
  ];
  for (const [size, name] of units) {
    if (ms % size === 0) return ms === size ? name : `${ms / size} ${name}s`;
  }
  return `${ms} ms`;
}
