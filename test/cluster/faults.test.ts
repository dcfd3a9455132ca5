import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveSocket, until } from '../live-client.js';
import { freePort } from '../ports.js';
import { Cluster, PrivatePostgres, PrivateRedis } from './cluster-harness.js';
import { ClusterPeople, clusterConfig, type Person, STREAM } from './cluster-people.js';

const eventsOf = (ws: LiveSocket) => ws.of(STREAM).filter((f) => f.type === 'event' || f.type === 'snapshot');

/**
 * Faults while three instances serve behind nginx: one instance stopped (SIGTERM), PostgreSQL restarted,
 * Redis restarted (its data gone). The suite runs a PostgreSQL and a Redis of its own, so it can restart
 * them without touching the machine's.
 */
describe('three instances behind nginx, under faults', () => {
  let cluster: Cluster;
  let redis: PrivateRedis;
  let database: PrivatePostgres;
  let p: ClusterPeople;
  let watchers: Person[] = [];

  beforeAll(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    database = new PrivatePostgres(await freePort());
    await database.start();
    cluster = await Cluster.start(
      { SWITCHBOARD_RATE_LIMITS: 'login.ip=off,login.username=off,streams.publish=off' },
      {
        through: () => ({ database: database.url, redis: redis.url }),
      },
    );
    p = await new ClusterPeople(cluster).start();
    await p.activate(clusterConfig(), 'faults');
    watchers = await Promise.all(Array.from({ length: 3 }, (_, i) => p.viewer(`watcher${i}`)));
  }, 180_000);

  afterAll(async () => {
    const statuses = cluster?.nginx.statuses() ?? [];
    await cluster?.close();
    await redis?.stop();
    await database?.remove();
    // The only 5xx nginx passed on were the 503s of the database outage.
    expect(statuses.filter((status) => status >= 500 && status !== 503)).toEqual([]);
  }, 60_000);

  it('an instance stopped with SIGTERM: its clients reconnect through nginx to the others and miss nothing', async () => {
    const sockets = await Promise.all(watchers.flatMap((who) => [0, 1, 2].map(() => p.socket(who))));
    await Promise.all(sockets.map((ws) => ws.subscribe(STREAM)));
    const ids = [await p.publish({ n: 0 })];
    await until(() => sockets.every((ws) => eventsOf(ws).length >= 1), 'the first event');
    const stopped = cluster.instances[1];
    const exit = stopped?.stop();
    // Those on the stopped instance are told 1012 (restarting); the client's job is to come back with its last id.
    await until(() => sockets.some((ws) => ws.closedWith?.code === 1012), 'a 1012 close', 15_000);
    expect(await exit).toBe(0);
    const moved = sockets.filter((ws) => ws.closedWith);
    expect(moved.length).toBeGreaterThan(0);
    for (const ws of moved) expect(ws.closedWith?.code).toBe(1012);
    ids.push(await p.publish({ n: 1 }));
    const back = await Promise.all(
      moved.map(async (old) => {
        const who = watchers[sockets.indexOf(old) % watchers.length] as Person;
        const ws = await p.socket(who);
        const last = eventsOf(old).at(-1)?.id as string;
        const subscribed = await ws.subscribe(STREAM, last);
        expect(subscribed.recovered).toBe(true);
        return ws;
      }),
    );
    ids.push(await p.publish({ n: 2 }));
    const staying = sockets.filter((ws) => !ws.closedWith);
    await until(
      () => [...back, ...staying].every((ws) => eventsOf(ws).some((f) => f.id === ids[2])),
      'the last event everywhere',
    );
    for (const ws of staying) expect(eventsOf(ws).map((f) => f.id)).toEqual(ids);
    for (const [i, ws] of back.entries()) {
      expect([...eventsOf(moved[i] as LiveSocket), ...eventsOf(ws)].map((f) => f.id)).toEqual(ids);
    }
    await Promise.all([...back, ...staying].map((ws) => ws.close()));
    await stopped?.start();
  });

  it('PostgreSQL restarted: 503 with Retry-After meanwhile, answers again after it without restarting Switchboard', async () => {
    const admin = p.admin;
    expect((await admin.client.call('/api/v1/config/versions')).status).toBe(200);
    await database.stop();
    try {
      const during: { status: number; retryAfter: unknown }[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await admin.client.call('/api/v1/config/versions');
        during.push({ status: res.status, retryAfter: res.headers['retry-after'] });
      }
      for (const answer of during) {
        expect(answer.status).toBe(503);
        expect(Number(answer.retryAfter)).toBeGreaterThan(0);
      }
      for (const instance of cluster.instances) {
        expect((await fetch(`${instance.url}/readyz`)).status, instance.name).toBe(503);
        expect((await fetch(`${instance.url}/healthz`)).status, instance.name).toBe(200);
      }
    } finally {
      await database.start();
    }
    const deadline = Date.now() + 10_000;
    let statuses: number[] = [];
    while (Date.now() < deadline) {
      statuses = await Promise.all(
        [0, 1, 2, 3, 4, 5].map(async () => (await admin.client.call('/api/v1/config/versions')).status),
      );
      if (statuses.every((status) => status === 200)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
  });

  it('Redis restarted: instances stay up, limits fall back, subscribers get what is published once it is back', async () => {
    const who = watchers[0] as Person;
    const sockets = await Promise.all([0, 1, 2].map(() => p.socket(who)));
    await Promise.all(sockets.map((ws) => ws.subscribe(STREAM)));
    await redis.stop();
    for (const instance of cluster.instances) {
      const health = await fetch(`${instance.url}/healthz`);
      expect(health.status, instance.name).toBe(200);
      // Ready still, and saying what it does without: Redis has a fallback.
      const ready = await fetch(`${instance.url}/readyz`);
      expect(ready.status, instance.name).toBe(200);
      expect(JSON.stringify(((await ready.json()) as { degraded: unknown }).degraded)).toContain('redis');
    }
    // Rate limits count per instance meanwhile: requests are still answered, with their headers.
    const during = await who.client.call('/api/v1/auth/me');
    expect(during.status).toBe(200);
    expect(during.headers['ratelimit-limit']).toBeDefined();
    await redis.start();
    // Once every instance has its Redis again, a new event reaches every subscriber, wherever it is.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const id = await p.publish({ after: 'redis' });
    await until(
      () => sockets.every((ws) => ws.closedWith || eventsOf(ws).some((f) => f.id === id)),
      'the event after Redis came back',
      15_000,
    );
    for (const ws of sockets.filter((s) => !s.closedWith))
      expect(eventsOf(ws).some((f) => f.id === id)).toBe(true);
    await Promise.all(sockets.map((ws) => ws.close()));
  });
});
