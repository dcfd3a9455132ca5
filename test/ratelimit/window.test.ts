import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/ratelimit/memory-store.js';
import { parseOverrides, parseRate } from '../../src/ratelimit/parse.js';
import { EXACT_LIMIT_MAX, waitForRoom } from '../../src/ratelimit/window.js';

/** A store on a clock the test moves. */
function storeAt(start: number) {
  const clock = { now: start };
  return { clock, store: new MemoryStore(() => clock.now) };
}

describe('the sliding window', () => {
  const limits = {
    exact: fc.integer({ min: 1, max: 40 }),
    weighted: fc.integer({ min: EXACT_LIMIT_MAX + 1, max: EXACT_LIMIT_MAX + 50 }),
  };

  it('never lets more than the limit through in any window-long span (exact log)', () => {
    fc.assert(
      fc.property(
        limits.exact,
        fc.integer({ min: 1000, max: 60_000 }),
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 200 }),
        (limit, windowMs, gaps) => {
          const { clock, store } = storeAt(1_700_000_000_000);
          const allowedAt: number[] = [];
          for (const gap of gaps) {
            clock.now += gap;
            if (store.hitNow('t', 'k', limit, windowMs).allowed) allowedAt.push(clock.now);
          }
          for (const t of allowedAt) {
            expect(allowedAt.filter((u) => u >= t && u < t + windowMs).length).toBeLessThanOrEqual(limit);
          }
        },
      ),
    );
  });

  it('keeps within the limit per fixed window, and twice it per span, above the exact range', () => {
    fc.assert(
      fc.property(
        limits.weighted,
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 3000 }),
        (limit, gaps) => {
          const windowMs = 10_000;
          const { clock, store } = storeAt(1_700_000_000_000);
          const allowedAt: number[] = [];
          for (const gap of gaps) {
            clock.now += gap;
            if (store.hitNow('t', 'k', limit, windowMs).allowed) allowedAt.push(clock.now);
          }
          const perWindow = new Map<number, number>();
          for (const t of allowedAt) {
            const w = Math.floor(t / windowMs);
            perWindow.set(w, (perWindow.get(w) ?? 0) + 1);
          }
          for (const count of perWindow.values()) expect(count).toBeLessThanOrEqual(limit);
          for (let i = 0; i < allowedAt.length; i += 97) {
            const t = allowedAt[i] ?? 0;
            expect(allowedAt.filter((u) => u >= t && u < t + windowMs).length).toBeLessThanOrEqual(2 * limit);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  for (const [mode, limit] of Object.entries(limits)) {
    it(`never refuses a steady client 10% below the limit (${mode})`, () => {
      fc.assert(
        fc.property(limit, fc.integer({ min: 0, max: 60_000 }), (n, offset) => {
          const { clock, store } = storeAt(1_700_000_000_000 + offset);
          const gap = (60_000 / n) * 1.1;
          for (let i = 0; i < n * 3; i += 1) {
            expect(store.hitNow('t', 'k', n, 60_000).allowed).toBe(true);
            clock.now += gap;
          }
        }),
        { numRuns: 20 },
      );
    });
  }

  it('allows the next request once Retry-After has passed, and not earlier', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 50 }), limits.weighted),
        fc.integer({ min: 1000, max: 120_000 }),
        fc.integer({ min: 0, max: 3_000_000 }),
        fc.integer({ min: 0, max: 200 }),
        (limit, windowMs, offset, burst) => {
          const { clock, store } = storeAt(1_700_000_000_000 + offset);
          let refused = null;
          for (let i = 0; i <= burst + limit; i += 1) {
            const v = store.hitNow('t', 'k', limit, windowMs);
            if (!v.allowed) {
              refused = v;
              break;
            }
          }
          expect(refused).not.toBeNull();
          expect(refused!.retryAfterMs).toBeGreaterThan(0);
          expect(refused!.remaining).toBe(0);
          const before = clock.now;
          if (refused!.retryAfterMs > 2) {
            clock.now = before + refused!.retryAfterMs - 2;
            expect(store.hitNow('t', 'probe-early', limit, windowMs).allowed).toBe(true); // a different key is unaffected
            expect(store.hitNow('t', 'k', limit, windowMs).allowed).toBe(false);
          }
          clock.now = before + refused!.retryAfterMs;
          expect(store.hitNow('t', 'k', limit, windowMs).allowed).toBe(true);
        },
      ),
    );
  });

  it('reports remaining requests that count down to zero', () => {
    const { store } = storeAt(1_700_000_000_000);
    const remaining = Array.from({ length: 4 }, () => store.hitNow('t', 'k', 3, 60_000).remaining);
    expect(remaining).toEqual([2, 1, 0, 0]);
  });

  it('waits into the next window when the current one alone is full', () => {
    // 5 of 5 used 10 s into a minute: the next window starts in 50 s, and there the 5 still weigh 5·(1-f),
    // which drops to 4 after a fifth of it (12 s).
    expect(waitForRoom(5, 0, 5, 60_000, 10_000)).toBe(50_000 + 12_000);
    // 10 in the previous window weigh 5 halfway through this one; they weigh 4 at 60%, 6 s later.
    expect(waitForRoom(5, 10, 0, 60_000, 30_000)).toBe(6000);
  });

  it('forgets keys whose windows have passed', () => {
    const { clock, store } = storeAt(1_700_000_000_000);
    for (let i = 0; i < 100; i += 1) store.hitNow('t', `client-${i}`, 5, 1000);
    expect(store.size).toBe(100);
    clock.now += 2000;
    store.sweep();
    expect(store.size).toBe(0);
  });

  it('frees a concurrency slot once, however often it is released', async () => {
    const { store } = storeAt(0);
    const a = await store.acquire('job', 2);
    const b = await store.acquire('job', 2);
    expect(await store.acquire('job', 2)).toBeNull();
    a!.release();
    a!.release();
    const c = await store.acquire('job', 2);
    expect(c).not.toBeNull();
    expect(await store.acquire('job', 2)).toBeNull();
    b!.release();
    c!.release();
  });
});

describe('rate settings', () => {
  it('reads <count>/<duration>', () => {
    expect(parseRate('30/1m')).toEqual({ limit: 30, windowMs: 60_000 });
    expect(parseRate(' 5 / 10s ')).toEqual({ limit: 5, windowMs: 10_000 });
    for (const bad of [
      '',
      '30',
      '30/',
      '/1m',
      '0/1m',
      '-1/1m',
      '30/1',
      '30/500ms',
      '30/2d',
      '1.5/1m',
      'x/1m',
    ]) {
      expect(parseRate(bad), bad).toBeUndefined();
    }
  });

  it('round-trips any valid rate', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 1440 }), (n, minutes) => {
        expect(parseRate(`${n}/${minutes}m`)).toEqual({ limit: n, windowMs: minutes * 60_000 });
      }),
    );
  });

  it('reads overrides and refuses unknown, repeated or unreadable ones', () => {
    const known = (n: string) => ['a', 'b'].includes(n);
    expect(parseOverrides('a=3/1m, b=off', known, parseRate)).toEqual(
      new Map([
        ['a', { limit: 3, windowMs: 60_000 }],
        ['b', null],
      ]),
    );
    expect(parseOverrides('', known, parseRate)).toEqual(new Map());
    for (const bad of ['c=1/1m', 'a=1/1m,a=2/1m', 'a', 'a=', 'a=lots']) {
      expect(parseOverrides(bad, known, parseRate), bad).toBeUndefined();
    }
  });
});
