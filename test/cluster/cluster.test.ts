import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestProvider } from '../auth/sso/oidc-fixture.js';
import { Client } from '../client.js';
import { Upstream } from '../endpoints/upstream.js';
import { type LiveSocket, type RawStream, until } from '../live-client.js';
import { freePort } from '../ports.js';
import { ADMIN, Cluster } from './cluster-harness.js';
import { ClusterPeople, clusterConfig, type Person, STREAM } from './cluster-people.js';

/** Authenticated requests one user may make per window: the limit the cluster holds together. */
const PER_USER = 300;
const OIDC_CLIENT = { clientId: 'switchboard', clientSecret: 'cluster-client-secret-0123456789' };

/**
 * The product as operators run it: three `switchboard serve` processes on one PostgreSQL and one Redis,
 * behind Debian's nginx, checked through nginx and the public API only (a lease row read from the database
 * names the instance to kill, nothing more).
 */
describe('three instances behind nginx', () => {
  let cluster: Cluster;
  let upstream: Upstream;
  let provider: TestProvider;
  let admin: Person;
  const people: Person[] = [];

  let p: ClusterPeople;
  const signIn = (username: string, password: string) => p.signIn(username, password);
  const viewer = (username: string) => p.viewer(username);
  const socket = (who: Person) => p.socket(who);
  const sse = (who: Person, path?: string, headers?: Record<string, string>) => p.sse(who, path, headers);
  const publish = (data: unknown) => p.publish(data);
  const liveEverywhere = (stream: string, withinMs: number) => p.liveEverywhere(stream, withinMs);
  const config = (extra: Record<string, unknown> = {}) => clusterConfig(extra);

  beforeAll(async () => {
    upstream = await new Upstream().start();
    upstream.answer('/tick', 200, (hit: number) => ({ hit }));
    const publicPort = await freePort();
    provider = await TestProvider.start({
      ...OIDC_CLIENT,
      redirectUri: `http://127.0.0.1:${publicPort}/api/v1/auth/oidc/callback`,
    });
    cluster = await Cluster.start(
      {
        SWITCHBOARD_OIDC_ISSUER: provider.issuer,
        SWITCHBOARD_OIDC_CLIENT_ID: OIDC_CLIENT.clientId,
        SWITCHBOARD_OIDC_CLIENT_SECRET: OIDC_CLIENT.clientSecret,
        SWITCHBOARD_SSO_ROLE_MAP: 'ops=editor',
        SWITCHBOARD_ENDPOINT_HOSTS: `127.0.0.1:${upstream.port}`,
        SWITCHBOARD_RATE_LIMIT_AUTHENTICATED: String(PER_USER),
        SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '10000',
        SWITCHBOARD_RATE_LIMITS: 'login.ip=off,login.username=off,streams.publish=off',
        SWITCHBOARD_PRODUCER_LEASE: '2s',
      },
      { nginxPort: publicPort },
    );
    p = await new ClusterPeople(cluster).start();
    admin = p.admin;
    const saved = await admin.client.call('/api/v1/config', {
      json: { config: config(), message: 'cluster' },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(201);
    for (let i = 0; i < 30; i++) people.push(await viewer(`viewer${i}`));
  }, 120_000);

  afterAll(async () => {
    const statuses = cluster?.nginx.statuses() ?? [];
    await cluster?.close();
    await upstream?.close();
    await provider?.close();
    // nginx answered no 5xx of its own or of an instance during the whole suite.
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
  }, 60_000);

  it('a sign-in through nginx holds on every instance', async () => {
    const person = people[0] as Person;
    for (const instance of cluster.instances) {
      const res = await fetch(`${instance.url}/api/v1/auth/me`, {
        headers: { authorization: `Bearer ${person.token}` },
      });
      expect(res.status, instance.name).toBe(200);
    }
    // The cookie too, whichever instance nginx picks each time.
    for (let i = 0; i < 6; i++) expect((await person.client.call('/api/v1/auth/me')).status).toBe(200);
  });

  it('an event published through nginx reaches 300 WebSocket and 300 SSE subscribers, each once and in order', async () => {
    const sockets: LiveSocket[] = [];
    const streams: RawStream[] = [];
    for (const person of people) {
      const batch = await Promise.all(Array.from({ length: 10 }, () => socket(person)));
      await Promise.all(batch.map((ws) => ws.subscribe(STREAM)));
      sockets.push(...batch);
      streams.push(...(await Promise.all(Array.from({ length: 10 }, () => sse(person)))));
    }
    expect(streams.every((s) => s.status === 200)).toBe(true);
    await until(() => streams.every((s) => s.frames().length > 0), 'every stream to start', 10_000);
    const ids: string[] = [];
    for (let n = 0; n < 20; n++) ids.push(await publish({ n }));
    await until(
      () =>
        sockets.every((ws) => ws.of(STREAM).filter((f) => f.type === 'event').length >= 20) &&
        streams.every((s) => s.events().filter((f) => f.event === 'event').length >= 20),
      'every subscriber to have the 20 events',
      20_000,
    );
    for (const ws of sockets) {
      expect(
        ws
          .of(STREAM)
          .filter((f) => f.type === 'event')
          .map((f) => f.id),
      ).toEqual(ids);
    }
    for (const s of streams) {
      expect(
        s
          .events()
          .filter((f) => f.event === 'event')
          .map((f) => f.data.id),
      ).toEqual(ids);
    }
    // They were spread over the three instances.
    await Promise.all(sockets.map((ws) => ws.close()));
    for (const s of streams) s.close();
    await until(
      () =>
        new Set(
          cluster.nginx
            .accessLog()
            .filter((l) => l.includes('/events') || l.includes('/ws'))
            .map((l) => l.split(' ')[3]),
        ).size === 3,
      'nginx to log streams on all three instances',
    );
  }, 120_000);

  it('a single sign-on started on one instance finishes on another', async () => {
    provider.accounts.set('sso-lin', {
      sub: 'sso-lin',
      preferred_username: 'lin',
      name: 'Lin',
      groups: ['ops'],
    });
    provider.signInAs = 'sso-lin';
    for (let round = 0; round < 3; round++) {
      provider.forgetBrowser();
      const browser = new Client(cluster.url, cluster.url);
      const start = await browser.call('/api/v1/auth/oidc/login?return_to=/config-ui/');
      expect(start.status).toBe(302);
      const back = new URL(await provider.authorize(String(start.headers.location)));
      const done = await browser.call(`${back.pathname}${back.search}`);
      expect(done.status, JSON.stringify(done.body)).toBe(302);
      expect(done.headers.location).toBe('/config-ui/');
      const me = await browser.call('/api/v1/auth/me');
      expect(me.body.data).toMatchObject({ username: 'lin', role: 'editor', auth_method: 'oidc' });
    }
    // nginx sent starts and callbacks round robin: each callback reached another instance than its start.
    await until(
      () => cluster.nginx.accessLog().filter((line) => line.includes('/oidc/callback')).length === 3,
      'the log',
    );
    const log = cluster.nginx.accessLog().filter((line) => line.includes('/oidc/'));
    const upstreams = (path: string) =>
      log.filter((line) => line.includes(path)).map((line) => line.split(' ')[3]);
    const starts = upstreams('/oidc/login');
    const callbacks = upstreams('/oidc/callback');
    expect(starts.some((address, i) => address !== callbacks[i])).toBe(true);
  });

  it('counts failed sign-ins for the lockout across the instances', async () => {
    const person = await viewer('forgetful');
    const client = new Client(cluster.url, cluster.url);
    for (let attempt = 0; attempt < 10; attempt++) {
      const wrong = await client.call('/api/v1/auth/login', {
        json: { username: person.username, password: `wrong-${attempt}` },
      });
      expect(wrong.status).toBe(401);
    }
    const right = await client.call('/api/v1/auth/login', {
      json: { username: person.username, password: 'cluster-viewer-Password-42' },
    });
    expect(right.status).toBe(429);
    expect(right.body.error_detail.error_code).toBe(1003);
  });

  it('a sign-out through nginx ends the WebSocket and SSE streams of that session on every instance within a second', async () => {
    const person = await viewer('leaving');
    const sockets = await Promise.all(Array.from({ length: 6 }, () => socket(person)));
    const streams = await Promise.all(Array.from({ length: 6 }, () => sse(person)));
    await until(() => streams.every((s) => s.frames().length > 0), 'the streams to start');
    const out = await person.client.call('/api/v1/auth/logout', { method: 'POST' });
    expect(out.status).toBe(204);
    const loggedOut = performance.now();
    await until(
      () => sockets.every((ws) => ws.closedWith) && streams.every((s) => s.endedAt !== undefined),
      'every stream to end',
      3000,
    );
    const slowest = Math.max(...streams.map((s) => (s.endedAt as number) - loggedOut));
    expect(slowest).toBeLessThan(1000);
    for (const ws of sockets) expect(ws.closedWith?.code).toBe(4403);
    const wsTimes = sockets.map((ws) => (ws.closedWith?.at as number) - (performance.timeOrigin + loggedOut));
    expect(Math.max(...wsTimes)).toBeLessThan(1000);
  });

  it('holds a per-user SSE cap across the instances', async () => {
    const person = await viewer('capped');
    const streams = await Promise.all(Array.from({ length: 10 }, () => sse(person)));
    expect(streams.map((s) => s.status)).toEqual(Array(10).fill(200));
    const over = await sse(person);
    expect(over.status).toBe(429);
    expect((await over.json()).error_detail.error_code).toBe(5003);
    for (const s of streams) s.close();
  });

  it('holds a per-user rate limit across the instances within 10% of its setting', async () => {
    const person = await viewer('hurried');
    let ok = 0;
    let refused = 0;
    for (let round = 0; round < 8; round++) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, () =>
          fetch(`${cluster.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${person.token}` } }),
        ),
      );
      for (const res of answers) {
        if (res.status === 200) ok++;
        else if (res.status === 429) refused++;
        await res.arrayBuffer();
      }
    }
    expect(ok + refused).toBe(400);
    // The sign-in spent one of the window's requests already.
    expect(ok).toBeGreaterThanOrEqual(PER_USER * 0.9 - 1);
    expect(ok).toBeLessThanOrEqual(PER_USER * 1.1);
  });

  it('a client that reconnects through nginx with Last-Event-ID misses nothing', async () => {
    const person = people[1] as Person;
    const first = await sse(person);
    await until(() => first.frames().length > 0, 'the stream to start');
    const before: string[] = [];
    for (let n = 0; n < 5; n++) before.push(await publish({ before: n }));
    await until(() => first.events().filter((f) => f.event === 'event').length >= 5, 'five events');
    const lastSeen = first
      .events()
      .filter((f) => f.event === 'event')
      .at(-1)?.id as string;
    first.close();
    const missed: string[] = [];
    for (let n = 0; n < 5; n++) missed.push(await publish({ missed: n }));
    // Three reconnects: nginx sends them round robin, so at least two land elsewhere.
    for (let attempt = 0; attempt < 3; attempt++) {
      const again = await sse(person, `/api/v1/streams/${STREAM}/events`, { 'last-event-id': lastSeen });
      await until(() => again.events().filter((f) => f.event === 'event').length >= 5, 'the missed events');
      expect(
        again
          .events()
          .filter((f) => f.event === 'event')
          .map((f) => f.data.id),
      ).toEqual(missed);
      expect(again.events().some((f) => f.event === 'reset')).toBe(false);
      again.close();
    }
    expect(before).toHaveLength(5);
  });

  it('a configuration activated through one instance is live on all three within a second', async () => {
    const saved = await admin.client.call('/api/v1/config', {
      json: {
        config: config({ 'plant.extra': { function: 'clock', interval: '1h' } }),
        message: 'one more stream',
      },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(201);
    expect(await liveEverywhere('plant.extra', 1000)).toEqual([]);
  });

  it('a shared workspace edited through one instance notifies grantees connected to the others', async () => {
    const owner = await signIn(ADMIN.username, ADMIN.password);
    const grantees = people.slice(2, 8);
    const sockets = await Promise.all(grantees.map((person) => socket(person)));
    const me = await Promise.all(grantees.map((person) => person.client.call('/api/v1/auth/me')));
    await Promise.all(sockets.map((ws, i) => ws.subscribe(`user:${me[i]?.body.data.id}`)));
    const put = await owner.client.call('/api/v1/workspaces/control-room', {
      method: 'PUT',
      json: { tiles: [] },
    });
    expect([200, 201]).toContain(put.status);
    const grants = await owner.client.call('/api/v1/workspaces/control-room/grants', {
      method: 'PUT',
      json: grantees.map((person) => ({
        principal_type: 'user',
        principal: person.username,
        access: 'view',
      })),
    });
    expect(grants.status, JSON.stringify(grants.body)).toBe(200);
    for (const ws of sockets) ws.discard();
    const edited = await owner.client.call('/api/v1/workspaces/control-room', {
      method: 'PUT',
      json: { tiles: [{ id: 'pump' }] },
    });
    expect(edited.status).toBe(200);
    await Promise.all(
      sockets.map((ws) =>
        ws.next(
          (f) => f.type === 'event' && (f.data as { type?: string })?.type === 'preferences.updated',
          'the notice',
          5000,
        ),
      ),
    );
    await Promise.all(sockets.map((ws) => ws.close()));
  });

  it('kill -9 of the instance running a producer: another takes over within twice the lease, no gap, no duplicate', async () => {
    const saved = await admin.client.call('/api/v1/config', {
      json: {
        config: {
          ...config({ 'plant.ticks': { endpoint: 'ticker', interval: '1s' } }),
          endpoints: { ticker: { url: `${upstream.base}/tick`, retries: 0 } },
        },
        message: 'a ticking stream',
      },
    });
    expect(saved.status).toBe(201);
    expect(await liveEverywhere('plant.ticks', 1000)).toEqual([]);
    const watcher = people[9] as Person;
    const ticks = await sse(watcher, '/api/v1/streams/plant.ticks/events');
    await until(
      () => ticks.events().filter((f) => f.event === 'event').length >= 2,
      'the first ticks',
      10_000,
    );
    const database = new pg.Client({ connectionString: cluster.databaseUrl });
    await database.connect();
    const lease = await database.query("select holder from producer_leases where stream = 'plant.ticks'");
    await database.end();
    const pid = Number(String(lease.rows[0]?.holder).split(':')[1]);
    const victim = cluster.instances.find((instance) => instance.process?.pid === pid);
    expect(victim, `the lease holder ${lease.rows[0]?.holder}`).toBeDefined();
    const killedAt = Date.now();
    await victim?.kill();
    const seen = () => ticks.events().filter((f) => f.event === 'event');
    const countAtKill = seen().length;
    await until(() => seen().length >= countAtKill + 3, 'ticks from the new holder', 15_000);
    const events = seen();
    // The first tick after the kill came within twice the lease (2 s) and one interval (1 s).
    const resumed = events.slice(countAtKill).find((f) => Date.parse(f.data.ts) > killedAt);
    expect(Date.parse(resumed?.data.ts) - killedAt).toBeLessThan(2 * 2000 + 1000 + 500);
    expect(new Set(events.map((f) => f.id)).size).toBe(events.length);
    // Each poll of the upstream once, in order: no poll's result lost, none published twice.
    const hits = events.map((f) => f.data.data.hit as number);
    expect(hits).toEqual([...hits].sort((a, b) => a - b));
    expect(new Set(hits).size).toBe(hits.length);
    ticks.close();
    await victim?.start();
  });
});
