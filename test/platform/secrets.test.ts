import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sameDigest, sameSecret } from '../../src/platform/secrets.js';

describe('secret comparisons', () => {
  it('sameDigest says equal exactly when the strings are', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        expect(sameDigest(a, b)).toBe(a === b);
        expect(sameDigest(a, a)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('sameDigest tells apart strings that differ in one character anywhere, or in length', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 64 }),
        fc.nat(),
        fc.integer({ min: 1, max: 0xffff }),
        (text, at, flip) => {
          const i = at % text.length;
          const changed =
            text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ flip) + text.slice(i + 1);
          expect(sameDigest(text, changed)).toBe(false);
          expect(sameDigest(text, text.slice(0, -1))).toBe(false);
          expect(sameDigest(text, `${text}x`)).toBe(false);
        },
      ),
    );
  });

  it('sameSecret compares texts of any length', () => {
    expect(sameSecret('a', 'a')).toBe(true);
    expect(sameSecret('a', 'ab')).toBe(false);
    expect(sameSecret('', '')).toBe(true);
  });
});
