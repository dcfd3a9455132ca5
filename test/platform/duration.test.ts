import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/platform/duration.js';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

describe('durations', () => {
  it('parse a count and a unit', () => {
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration(' 7d ')).toBe(604_800_000);
    expect(parseDuration('250ms')).toBe(250);
  });

  it('refuse a bare number, an unknown unit, a sign, a fraction or spaces inside', () => {
    for (const text of ['15', '15x', '-1s', '1.5h', '1 h', 'm', '', '1e3s', '15M']) {
      expect(parseDuration(text)).toBeUndefined();
    }
  });

  it('read back what they format', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.constantFrom(...Object.values(UNIT_MS)),
        (n, unit) => {
          const ms = n * unit;
          expect(parseDuration(formatDuration(ms))).toBe(ms);
        },
      ),
    );
  });

  it('give a count times its unit for every well-formed string', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 999_999_999 }),
        fc.constantFrom(...Object.keys(UNIT_MS)),
        (n, unit) => {
          expect(parseDuration(`${n}${unit}`)).toBe(n * UNIT_MS[unit as keyof typeof UNIT_MS]);
        },
      ),
    );
  });

  it('never throw, whatever the input', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const ms = parseDuration(text);
        expect(ms === undefined || (Number.isSafeInteger(ms) && ms >= 0)).toBe(true);
      }),
    );
  });
});
