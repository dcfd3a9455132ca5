import { describe, expect, it } from 'vitest';
import { RecentCache } from '../../src/platform/recent-cache.js';

/** A cache on a clock the test moves, and a loader that counts its reads. */
function setUp(ttlMs = 500, maxEntries = 3) {
  const clock = { now: 0 };
  const cache = new RecentCache<string, string>(ttlMs, maxEntries, () => clock.now);
  const reads: string[] = [];
  const rows = new Map<string, string>([
    ['a', 'A'],
    ['b', 'B'],
    ['c', 'C'],
    ['d', 'D'],
  ]);
  const get = (key: string) =>
    cache.get(key, async () => {
      reads.push(key);
      return rows.get(key);
    });
  return { clock, cache, reads, rows, get };
}

describe('RecentCache', () => {
  it('serves a value for ttlMs from the start of its read, then reads again', async () => {
    const { clock, reads, rows, get } = setUp();
    expect(await get('a')).toBe('A');
    rows.set('a', 'A2');
    clock.now = 499;
    expect(await get('a')).toBe('A');
    clock.now = 500;
    expect(await get('a')).toBe('A2');
    expect(reads).toEqual(['a', 'a']);
  });

  it('shares one read among concurrent lookups, and remembers no miss', async () => {
    const { reads, get } = setUp();
    expect(await Promise.all([get('a'), get('a'), get('a')])).toEqual(['A', 'A', 'A']);
    expect(await get('zz')).toBeUndefined();
    expect(await get('zz')).toBeUndefined();
    expect(reads).toEqual(['a', 'zz', 'zz']);
  });

  it('reads again after a drop or a clear, and forgets a failed read', async () => {
    const { cache, reads, get } = setUp();
    await get('a');
    cache.drop('a');
    await get('a');
    await get('b');
    cache.clear();
    await get('b');
    expect(reads).toEqual(['a', 'a', 'b', 'b']);
    await expect(cache.get('x', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await cache.get('x', async () => 'X')).toBe('X');
  });

  it('keeps at most maxEntries, the oldest going first', async () => {
    const { cache, reads, get } = setUp();
    for (const key of ['a', 'b', 'c', 'd']) await get(key);
    expect(cache.size).toBe(3);
    await get('b');
    await get('a');
    expect(reads).toEqual(['a', 'b', 'c', 'd', 'a']);
  });

  it('applies an update to the remembered value only', async () => {
    const { cache, get } = setUp();
    await get('a');
    cache.update('a', (value) => `${value}!`);
    cache.update('b', (value) => `${value}!`);
    expect(await get('a')).toBe('A!');
    expect(await get('b')).toBe('B');
  });

  it('hands out a loaded, fresh value without waiting (peek), and nothing else', async () => {
    const { clock, cache, get } = setUp();
    expect(cache.peek('a')).toBeUndefined();
    const loading = get('a');
    expect(cache.peek('a')).toBeUndefined();
    await loading;
    expect(cache.peek('a')).toBe('A');
    await get('zz');
    expect(cache.peek('zz')).toBeUndefined();
    clock.now = 500;
    expect(cache.peek('a')).toBeUndefined();
  });

  it('peeks at a change made to a loaded value at once, and at one made while loading once it lands', async () => {
    const { cache, get } = setUp();
    await get('a');
    cache.update('a', (v) => `${v}!`);
    expect(cache.peek('a')).toBe('A!');
    expect(await get('a')).toBe('A!');
    const loading = get('b');
    cache.update('b', (v) => `${v}?`);
    expect(cache.peek('b')).toBeUndefined();
    expect(await loading).toBe('B');
    expect(await get('b')).toBe('B?');
    expect(cache.peek('b')).toBe('B?');
    cache.drop('b');
    expect(cache.peek('b')).toBeUndefined();
  });
});
