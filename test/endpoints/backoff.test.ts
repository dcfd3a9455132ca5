import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextPollDelay, retryDelay } from '../../src/endpoints/producers/backoff.js';

const FIVE_MINUTES = 300_000;
const interval = fc.integer({ min: 1, max: 3_600_000 });
const failures = fc.integer({ min: 0, max: 200 });
const random = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('nextPollDelay', () => {
  it('is the interval itself after no failure', () => {
    fc.assert(
      fc.property(interval, random, (ms, r) => {
        expect(nextPollDelay(ms, 0, () => r)).toBe(ms);
      }),
    );
  });

  it('doubles from the interval, less up to 10% jitter', () => {
    expect(nextPollDelay(1000, 1, () => 0)).toBe(2000);
    expect(nextPollDelay(1000, 2, () => 0)).toBe(4000);
    expect(nextPollDelay(1000, 3, () => 0)).toBe(8000);
    expect(nextPollDelay(1000, 3, () => 0.5)).toBe(7600);
    expect(nextPollDelay(1000, 30, () => 0)).toBe(FIVE_MINUTES);
    expect(nextPollDelay(1000, 30, () => 0.999)).toBeGreaterThanOrEqual(FIVE_MINUTES * 0.9);
    // An interval beyond five minutes is its own cap.
    expect(nextPollDelay(600_000, 4, () => 0)).toBe(600_000);
  });

  it('is never below the interval', () => {
    fc.assert(
      fc.property(interval, failures, random, (ms, n, r) => {
        expect(nextPollDelay(ms, n, () => r)).toBeGreaterThanOrEqual(ms);
      }),
    );
  });

  it('never exceeds max(interval, 5 minutes)', () => {
    fc.assert(
      fc.property(interval, failures, random, (ms, n, r) => {
        expect(nextPollDelay(ms, n, () => r)).toBeLessThanOrEqual(Math.max(ms, FIVE_MINUTES));
      }),
    );
    expect(nextPollDelay(1000, Number.POSITIVE_INFINITY, () => 0)).toBe(FIVE_MINUTES);
  });

  it('does not shrink as failures grow, for a fixed random', () => {
    fc.assert(
      fc.property(interval, failures, failures, random, (ms, a, b, r) => {
        const [fewer, more] = a <= b ? [a, b] : [b, a];
        expect(nextPollDelay(ms, more, () => r)).toBeGreaterThanOrEqual(nextPollDelay(ms, fewer, () => r));
      }),
    );
  });

  it('refuses an interval that is not a positive number', () => {
    for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => nextPollDelay(bad, 1)).toThrow(RangeError);
  });
});

describe('retryDelay', () => {
  it('doubles from 100 ms up to 2 s, less up to 10% jitter', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => retryDelay(n, () => 0))).toEqual([
      100, 200, 400, 800, 1600, 2000, 2000,
    ]);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), random, (n, r) => {
        const delay = retryDelay(n, () => r);
        const base = Math.min(2000, 100 * 2 ** n);
        expect(delay).toBeLessThanOrEqual(base);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(base * 0.9));
      }),
    );
  });
});
