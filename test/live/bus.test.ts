import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidSince } from '../../src/live/bus.js';
import { formatEventId, parseEventId } from '../../src/live/event-id.js';
import { MemoryBus } from '../../src/live/memory-bus.js';

const policy =
  (size: number, maxAgeMs = 600_000) =>
  () => ({ size, maxAgeMs });

describe('event ids', () => {
  it('round-trip', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        (epoch, seq) => {
          expect(parseEventId(formatEventId(epoch, seq))).toEqual({ epoch, seq });
        },
      ),
    );
  });

  it('refuse what this server could not have issued', () => {
    for (const bad of [
      '',
      '1',
      ':1',
      'a:',
      'a:-1',
      'a:01',
      'a:1.5',
      'a:99999999999999999',
      'a b:1',
      'a:1:2',
    ]) {
      expect(parseEventId(bad), bad).toBeUndefined();
    }
  });
});

describe('the in-process bus', () => {
  it('replays exactly the events after any id the history still covers, else says it cannot', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 0, max: 60 }),
        fc.nat(),
        async (size, count, pick) => {
          const bus = new MemoryBus(policy(size));
          const published = [];
          for (let i = 0; i < count; i += 1) published.push(await bus.publish('c', { i }));
          const from = count === 0 ? 0 : pick % (count + 1);
          const replay = await bus.replay('c', formatEventId(bus.epoch, from));
          const missed = published.slice(from);
          if (missed.length <= size) {
            expect(replay).toEqual({ recovered: true, events: missed });
          } else {
            expect(replay).toEqual({ recovered: false });
          }
        },
      ),
    );
  });

  it('numbers events per channel from 1, in order, with the bus epoch', async () => {
    const bus = new MemoryBus(policy(10));
    const a1 = await bus.publish('a', 1);
    const b1 = await bus.publish('b', 1);
    const a2 = await bus.publish('a', 2);
    expect([a1.id, b1.id, a2.id]).toEqual([`${bus.epoch}:1`, `${bus.epoch}:1`, `${bus.epoch}:2`]);
    expect(Date.parse(a2.ts)).not.toBeNaN();
    expect(a2.ts.endsWith('Z')).toBe(true);
  });

  it('tells another epoch from a gap, and refuses ids from the future', async () => {
    const bus = new MemoryBus(policy(10));
    await bus.publish('c', 1);
    expect(await bus.replay('c', 'someotherepoch:1')).toEqual({ recovered: false });
    await expect(bus.replay('c', `${bus.epoch}:2`)).rejects.toBeInstanceOf(InvalidSince);
    await expect(bus.replay('c', 'not an id')).rejects.toBeInstanceOf(InvalidSince);
    expect(await bus.replay('c', `${bus.epoch}:1`)).toEqual({ recovered: true, events: [] });
  });

  it('drops events older than the age limit from replay, but keeps the latest for snapshots', async () => {
    const clock = { now: 1_700_000_000_000 };
    const bus = new MemoryBus(policy(100, 60_000), () => clock.now);
    const first = await bus.publish('c', 'old');
    clock.now += 61_000;
    expect(await bus.replay('c', formatEventId(bus.epoch, 0))).toEqual({ recovered: false });
    expect(await bus.latest('c')).toEqual(first);
    const second = await bus.publish('c', 'new');
    expect(await bus.replay('c', first.id)).toEqual({ recovered: true, events: [second] });
  });

  it('delivers to subscribers in order until they unsubscribe', async () => {
    const bus = new MemoryBus(policy(10));
    const seen: unknown[] = [];
    const stop = bus.subscribe('c', (e) => seen.push(e.data));
    await bus.publish('c', 1);
    await bus.publish('other', 'x');
    await bus.publish('c', 2);
    stop();
    await bus.publish('c', 3);
    expect(seen).toEqual([1, 2]);
  });
});
