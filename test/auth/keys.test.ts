import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { digest, RememberedDigests } from '../../src/auth/keys.js';

describe('RememberedDigests', () => {
  const key = randomBytes(32);
  let current = key;
  const remembering = (max?: number) => {
    current = key;
    return new RememberedDigests(() => current, max);
  };

  it('computes the digest of a value it does not remember', () => {
    const digests = remembering();
    expect(digests.digest('sbk_unknown')).toBe(digest(key, 'sbk_unknown'));
  });

  it('hands out what it remembers, and only that', () => {
    const digests = remembering();
    // A stand-in digest shows that the remembered one is used rather than computed again.
    digests.remember('sbk_known', 'remembered');
    expect(digests.digest('sbk_known')).toBe('remembered');
    expect(digests.digest('sbk_known2')).toBe(digest(key, 'sbk_known2'));
  });

  it('forgets the oldest beyond its size', () => {
    const digests = remembering(2);
    digests.digest('a');
    digests.remember('a', 'A');
    digests.remember('b', 'B');
    digests.remember('b', 'B');
    digests.remember('c', 'C');
    expect(digests.digest('a')).toBe(digest(key, 'a'));
    expect(digests.digest('b')).toBe('B');
    expect(digests.digest('c')).toBe('C');
  });

  it('forgets everything when the key changes', () => {
    const digests = remembering();
    digests.digest('a');
    digests.remember('a', 'A');
    current = randomBytes(32);
    expect(digests.digest('a')).toBe(digest(current, 'a'));
    current = key;
    expect(digests.digest('a')).toBe(digest(key, 'a'));
  });
});
