import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type HistoryPolicy, InvalidSince, type LiveEvent } from '../../src/live/bus.js';
import { parseEventId } from '../../src/live/event-id.js';
import { RedisBus } from '../../src/live/redis-bus.js';
import { AppError } from '../../src/platform/problem.js';
import { connectRedis, redisReady } from '../../src/platform/redis.js';
import { TcpProxy } from '../ratelimit/tcp-proxy.js';
import { eventually, RedisRun, redisUrl } from './redis-run.js';

const run = new RedisRun();
const cleanups: (() => Promise<void>)[] = [];
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => run.end());

/** A bus on its own client, as one instance has; `policy` may be changed by the test afterwards. */
async function busOn(
  prefix: string,
  policy: HistoryPolicy = { size: 1000, maxAgeMs: 600_000 },
  url = redisUrl,
): Promise<{ bus: RedisBus; redis: Redis; policy: HistoryPolicy }> {
  const redis = connectRedis(url, prefix);
  redis.on('error', () => {});
  await redisReady(redis, 2000);
  const bus = new RedisBus(redis, () => policy);
  cleanups.push(async () => {
    await bus.close();
    redis.disconnect();
  });
  return { bus, redis, policy };
}

/** Subscribes and waits until Redis confirmed it (latest() waits for the subscription). */
async function record(bus: RedisBus, channel: string) {
  const seen: LiveEvent[] = [];
  const stop = bus.subscribe(channel, (event) => seen.push(event));
  await bus.latest(channel);
  return { seen, stop };
}

/**
 * Two instances on one Redis: `direct`, and one whose connections go through a proxy the test can cut,
 * recording what its subscribers hear on 'weather'.
 */
async function behindProxy() {
  const prefix = run.prefix();
  const proxy = new TcpProxy(new URL(redisUrl).hostname, Number(new URL(redisUrl).port || 6379));
  await proxy.start();
  cleanups.push(() => proxy.stop());
  const direct = await busOn(prefix);
  const { bus } = await busOn(prefix, undefined, proxy.url);
  const { seen } = await record(bus, 'weather');
  return { prefix, proxy, direct, bus, seen };
}

const seqs = (events: readonly LiveEvent[]) => events.map((event) => parseEventId(event.id)?.seq);
const epochOf = (event: LiveEvent) => parseEventId(event.id)?.epoch;

/** Connections subscribed to a pub/sub topic, as Redis counts them (the topic is not a key: no keyPrefix). */
async function subscribersOf(topic: string): Promise<number> {
  const [, count] = (await run.direct.pubsub('NUMSUB', topic)) as [string, number];
  return count;
}

async function unavailable(promise: Promise<unknown>): Promise<{ status: number; code: number } | null> {
  try {
    await promise;
    return null;
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return { status: error.status, code: error.code };
  }
}

describe('RedisBus', () => {
  it('publishes events with growing ids of one epoch, Redis-time stamps and the data as given', async () => {
    const { bus } = await busOn(run.prefix());
    const before = Date.now();
    const first = await bus.publish('weather', { temp: 21.5, big: 12345678901234567 });
    const second = await bus.publish('weather', 'text');
    const other = await bus.publish('traffic', null);
    expect(first).toMatchObject({ channel: 'weather', data: { temp: 21.5, big: 12345678901234567 } });
    expect(seqs([first, second])).toEqual([1, 2]);
    expect(epochOf(second)).toBe(epochOf(first));
    expect(seqs([other])).toEqual([1]);
    expect(first.ts).toMatch(RFC3339_UTC);
    expect(Math.abs(Date.parse(first.ts) - before)).toBeLessThan(5000);
    expect(await bus.latest('weather')).toEqual(second);
    expect(await bus.replay('weather', `${epochOf(first)}:0`)).toEqual({
      recovered: true,
      events: [first, second],
    });
  });

  it('replays exactly the events after an id, and tells a foreign epoch from a future or malformed id', async () => {
    const { bus } = await busOn(run.prefix());
    const published: LiveEvent[] = [];
    for (let i = 1; i <= 5; i++) published.push(await bus.publish('weather', { i }));
    const [e1, , , , e5] = published as [LiveEvent, LiveEvent, LiveEvent, LiveEvent, LiveEvent];
    expect(await bus.replay('weather', e1.id)).toEqual({ recovered: true, events: published.slice(1) });
    expect(await bus.replay('weather', e5.id)).toEqual({ recovered: true, events: [] });
    const epoch = epochOf(e1);
    expect(await bus.replay('weather', `${epoch}:0`)).toEqual({ recovered: true, events: published });
    expect(await bus.replay('weather', 'anotherEpoch:3')).toEqual({ recovered: false });
    await expect(bus.replay('weather', `${epoch}:6`)).rejects.toBeInstanceOf(InvalidSince);
    await expect(bus.replay('weather', 'not-an-id')).rejects.toBeInstanceOf(InvalidSince);
    await expect(bus.replay('weather', `${epoch}:-1`)).rejects.toBeInstanceOf(InvalidSince);
    // A channel that never had an event has no epoch an id could belong to.
    expect(await bus.replay('silent', `${epoch}:1`)).toEqual({ recovered: false });
  });

  it('keeps exactly `size` events: a replay from before them is not recovered', async () => {
    const prefix = run.prefix();
    const { bus } = await busOn(prefix, { size: 3, maxAgeMs: 600_000 });
    const published: LiveEvent[] = [];
    for (let i = 1; i <= 10; i++) published.push(await bus.publish('weather', { i }));
    expect(await run.direct.xlen(`${prefix}live:{weather}:stream`)).toBe(3);
    expect(await bus.replay('weather', published[6]!.id)).toEqual({
      recovered: true,
      events: published.slice(7),
    });
    expect(await bus.replay('weather', published[5]!.id)).toEqual({ recovered: false });
    expect(await bus.replay('weather', published[0]!.id)).toEqual({ recovered: false });
  });

  it('applies a smaller size at replay, and forgets events older than maxAge though the latest stays', async () => {
    const { bus, policy } = await busOn(run.prefix(), { size: 100, maxAgeMs: 600_000 });
    const published: LiveEvent[] = [];
    for (let i = 1; i <= 4; i++) published.push(await bus.publish('weather', { i }));
    Object.assign(policy, { size: 2 });
    expect(await bus.replay('weather', published[0]!.id)).toEqual({ recovered: false });
    expect(await bus.replay('weather', published[1]!.id)).toEqual({
      recovered: true,
      events: published.slice(2),
    });

    Object.assign(policy, { size: 100, maxAgeMs: 300 });
    const aged = await bus.publish('weather', { i: 5 });
    expect(await bus.replay('weather', published[3]!.id)).toEqual({ recovered: true, events: [aged] });
    const later = await eventually(
      () => bus.replay('weather', published[3]!.id),
      (replay) => !replay.recovered,
    );
    expect(later).toEqual({ recovered: false });
    // Up to date is still up to date, and the snapshot outlives the history.
    expect(await bus.replay('weather', aged.id)).toEqual({ recovered: true, events: [] });
    expect(await bus.latest('weather')).toEqual(aged);
  });

  it('has no latest for a channel without events; drop forgets history and latest but not the sequence', async () => {
    const { bus } = await busOn(run.prefix());
    expect(await bus.latest('weather')).toBeNull();
    const first = await bus.publish('weather', 1);
    await bus.publish('weather', 2);
    await bus.drop('weather');
    expect(await bus.latest('weather')).toBeNull();
    expect(await bus.replay('weather', first.id)).toEqual({ recovered: false });
    const third = await bus.publish('weather', 3);
    expect(third.id).toBe(`${epochOf(first)}:3`);
  });

  it('delivers to subscribers in publication order, each event once, on prefixed pub/sub topics', async () => {
    const prefix = run.prefix();
    const { bus } = await busOn(prefix);
    const { seen, stop } = await record(bus, 'weather');
    const second = await record(bus, 'weather');
    expect(await subscribersOf(`${prefix}live:weather`)).toBe(1);
    const published = await Promise.all(Array.from({ length: 200 }, (_, i) => bus.publish('weather', i)));
    await eventually(
      () => seen.length,
      (n) => n >= 200,
    );
    expect(seqs(seen)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(seen.map((event) => event.id).sort()).toEqual(published.map((event) => event.id).sort());
    expect(seen.find((event) => event.id === published[7]!.id)).toEqual(published[7]);
    expect(second.seen).toHaveLength(200);

    stop();
    second.stop();
    expect(
      await eventually(
        () => subscribersOf(`${prefix}live:weather`),
        (n) => n === 0,
      ),
    ).toBe(0);
    await bus.publish('weather', 'after');
    expect(seen).toHaveLength(200);
  });

  it('lets two instances on one Redis share one sequence, one history and every event', async () => {
    const prefix = run.prefix();
    const a = await busOn(prefix);
    const b = await busOn(prefix);
    const onA = await record(a.bus, 'weather');
    const onB = await record(b.bus, 'weather');
    const fromA = await a.bus.publish('weather', 'from a');
    const fromB = await b.bus.publish('weather', 'from b');
    expect(seqs([fromA, fromB])).toEqual([1, 2]);
    expect(epochOf(fromB)).toBe(epochOf(fromA));
    for (const { seen } of [onA, onB]) {
      await eventually(
        () => seen.length,
        (n) => n >= 2,
      );
      expect(seen).toEqual([fromA, fromB]);
    }
    expect(await b.bus.replay('weather', `${epochOf(fromA)}:0`)).toEqual({
      recovered: true,
      events: [fromA, fromB],
    });
    expect(await a.bus.latest('weather')).toEqual(fromB);
  });

  it('starts a new epoch when Redis lost the keys, so old ids are not recovered and subscribers go on', async () => {
    const prefix = run.prefix();
    const { bus } = await busOn(prefix);
    const { seen } = await record(bus, 'weather');
    let old: LiveEvent | undefined;
    for (let i = 1; i <= 5; i++) old = await bus.publish('weather', i);
    await run.flush(prefix);
    expect(await bus.latest('weather')).toBeNull();
    const fresh = await bus.publish('weather', 'after the flush');
    expect(parseEventId(fresh.id)).toEqual({ epoch: expect.any(String), seq: 1 });
    expect(epochOf(fresh)).not.toBe(epochOf(old!));
    // Seq 5 is past the new latest (1), but of another epoch: history lost, not a bad id.
    expect(await bus.replay('weather', old!.id)).toEqual({ recovered: false });
    expect(await bus.replay('weather', fresh.id)).toEqual({ recovered: true, events: [] });
    await eventually(
      () => seen.length,
      (n) => n >= 6,
    );
    expect(seen.at(-1)).toEqual(fresh);
  });

  it('after a Redis restart, reads back the events of the new epoch its subscribers missed while away', async () => {
    const { prefix, proxy, direct, seen } = await behindProxy();
    const before = await direct.bus.publish('weather', 'before');
    await eventually(
      () => seen.length,
      (n) => n >= 1,
    );
    await proxy.stop();
    // Redis comes back empty (a restart without persistence): a new epoch, published while this bus was away.
    await run.flush(prefix);
    const missed = [await direct.bus.publish('weather', 'a'), await direct.bus.publish('weather', 'b')];
    expect(epochOf(missed[0] as LiveEvent)).not.toBe(epochOf(before));
    await proxy.start();
    await eventually(
      () => seen.length,
      (n) => n >= 3,
      5000,
    );
    expect(seen).toEqual([before, ...missed]);
  });

  it('throws a 503 (code 8001) while Redis is away, then fills the gap it left for its subscribers as it reconnects', async () => {
    const { prefix, proxy, direct, bus, seen } = await behindProxy();
    const subscribers = () => subscribersOf(`${prefix}live:weather`);

    const e1 = await direct.bus.publish('weather', 1);
    await eventually(
      () => seen.length,
      (n) => n >= 1,
    );
    await proxy.stop();
    expect(await eventually(subscribers, (n) => n === 0)).toBe(0);
    const expected = { status: 503, code: 8001 };
    expect(await unavailable(bus.publish('weather', 'lost'))).toEqual(expected);
    expect(await unavailable(bus.replay('weather', e1.id))).toEqual(expected);
    expect(await unavailable(bus.latest('weather'))).toEqual(expected);
    const missed = [await direct.bus.publish('weather', 2), await direct.bus.publish('weather', 3)];

    await proxy.start();
    expect(await eventually(subscribers, (n) => n === 1, 5000)).toBe(1);
    // Read back on reconnecting, before any further event could show the gap.
    await eventually(
      () => seen.length,
      (n) => n >= 3,
      5000,
    );
    expect(seen).toEqual([e1, ...missed]);
    const next = await direct.bus.publish('weather', 4);
    await eventually(
      () => seen.length,
      (n) => n >= 4,
    );
    expect(seen).toEqual([e1, ...missed, next]);
    expect(await bus.replay('weather', e1.id)).toEqual({ recovered: true, events: [...missed, next] });
  });
});
