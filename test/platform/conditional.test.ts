import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { noneMatchHits } from '../../src/platform/conditional.js';

describe('If-None-Match', () => {
  it.each([
    [undefined, false],
    ['"abc"', true],
    ['W/"abc"', true],
    ['"zzz", "abc"', true],
    ['"zzz",W/"abc" ', true],
    ['*', true],
    ['"abcd"', false],
    ['abc', false],
    ['', false],
  ])('%s against "abc": %s', (header, hits) => {
    expect(noneMatchHits(header, '"abc"')).toBe(hits);
  });

  it('matches any list that holds the tag, weak or not, and none that does not (property)', () => {
    const tag = fc.stringMatching(/^"[A-Za-z0-9_-]{1,20}"$/);
    fc.assert(
      fc.property(tag, fc.array(tag), fc.boolean(), (etag, others, weak) => {
        const rest = others.filter((other) => other !== etag);
        expect(noneMatchHits(rest.join(', '), etag)).toBe(false);
        expect(noneMatchHits([...rest, weak ? `W/${etag}` : etag].join(', '), etag)).toBe(true);
      }),
    );
  });
});
