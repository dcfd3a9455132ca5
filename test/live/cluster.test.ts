import { get } from 'node:http';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Principal } from '../../src/auth/principal.js';
import type { LiveEvent } from '../../src/live/bus.js';
import type { LiveConnection, Subscription, Transport } from '../../src/live/service.js';
import { Client, errorCode } from '../client.js';
import { type SignedIn, TEST_CONTEXT, type TestApp } from '../fixture.js';
import { LiveSocket, socketUrl } from '../live-client.js';
import { TcpProxy } from '../ratelimit/tcp-proxy.js';
import { clusterHarness } from './cluster-harness.js';
import { eventually, redisUrl } from './redis-run.js';

const harness = clusterHarness();
const run = harness.redis;

/** Two instances of one deployment: one database, one Redis, one key prefix. */
async function cluster(env: Record<string, string> = {}, redis = redisUrl) {
  const prefix = run.prefix();
  const shared = {
    SWITCHBOARD_REDIS_URL: redis,
    SWITCHBOARD_REDIS_KEY_PREFIX: prefix,
    // Long enough that only the bus event, not the periodic re-check, can end a stream within a second.
    SWITCHBOARD_STREAM_RECHECK_INTERVAL: '10s',
    ...env,
  };
  const { a, b } = await harness.pair(shared, { ...shared, SWITCHBOARD_REDIS_URL: redisUrl });
  for (const t of [a, b]) {
    t.app.live.channels.declare({ name: 'weather', access: { minRole: 'viewer' } });
  }
  return { a, b, prefix };
}

/** A live connection as a transport would register it, recording what the service does to it. */
interface Recorded extends LiveConnection {
  ended: { reason: string; at: number }[];
  rightsChanges: number;
}

function connection(principal: Principal, transport: Transport = 'ws'): Recorded {
  return {
    transport,
    principal,
    ended: [],
    rightsChanges: 0,
    end(reason) {
      this.ended.push({ reason, at: Date.now() });
    },
    rightsChanged() {
      this.rightsChanges += 1;
    },
  };
}

/** Opens a connection on `t` for the signed-in session and subscribes it to `channel`. */
async function follow(t: TestApp, session: SignedIn, channel: string, since?: string) {
  const conn = connection(await t.app.auth.authenticateBearer(session.accessToken));
  const close = await t.app.live.open(conn);
  harness.cleanup(close);
  const events: LiveEvent[] = [];
  const endings: string[] = [];
  const subscription: Subscription = await t.app.live.subscribe(conn, channel, since, {
    event: (event) => events.push(event),
    ended: (reason) => endings.push(reason),
  });
  harness.cleanup(() => subscription.stop());
  // What it started with, as a transport sends it: start() lets go of the replay and the snapshot.
  const initial = { ...subscription };
  subscription.start();
  return { conn, subscription: initial, events, endings };
}

/** The same cookie jar, talking to another instance: a browser behind a load balancer. */
function sameBrowserOn(t: TestApp, session: SignedIn): Client {
  const client = new Client(t.url, t.origin);
  for (const [name, cookie] of session.client.jar) client.jar.set(name, { ...cookie });
  return client;
}

/** An SSE response read raw (no automatic reconnection): its text, and when it ended. */
function sse(t: TestApp, path: string, headers: Record<string, string>) {
  const stream = { status: 0, text: '', endedAt: undefined as number | undefined, close: () => {} };
  return new Promise<typeof stream>((resolve, reject) => {
    const request = get(`${t.url}${path}`, { headers, agent: false }, (res) => {
      stream.status = res.statusCode ?? 0;
      stream.close = () => {
        request.destroy();
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        stream.text += chunk;
      });
      res.on('close', () => {
        stream.endedAt ??= Date.now();
      });
      harness.cleanup(stream.close);
      resolve(stream);
    });
    request.on('error', reject);
  });
}

/** The `id:` of every `event: event` frame so far. */
const sseEventIds = (text: string) =>
  text
    .split('\n\n')
    .filter((frame) => /^event: event$/m.test(frame))
    .map((frame) => /^id: (.*)$/m.exec(frame)?.[1]);

/** A WebSocket on `t` authenticated by `?ticket=`, cut after the test. */
async function socket(t: TestApp, ticket: string): Promise<LiveSocket> {
  const ws = new LiveSocket(new WebSocket(socketUrl(t, `?ticket=${encodeURIComponent(ticket)}`)));
  harness.cleanup(() => ws.terminate());
  await ws.opened;
  return ws;
}

describe('several instances on one Redis', () => {
  it('serve WebSocket and SSE clients on B with events published on A, and close them when A logs the session out', async () => {
    const { a, b } = await cluster();
    const admin = await a.signIn(await a.createUser({ role: 'admin' }));
    const viewer = await a.signIn(await a.createUser({ role: 'viewer' }));
    const cookie = `session=${viewer.client.cookie('session')}`;
    const ticket = (await viewer.client.call('/api/v1/auth/ws-ticket', { method: 'POST' })).body.data.ticket;

    // The ticket was issued by A; B redeems it.
    const ws = await socket(b, ticket);
    ws.send({ type: 'subscribe', id: 1, channel: 'weather' });
    await eventually(() => ws.all.find((m) => m.type === 'subscribed'), Boolean);
    const stream = await sse(b, '/api/v1/streams/weather/events', { cookie });
    expect(stream.status).toBe(200);
    await eventually(
      () => stream.text,
      (text) => text.includes('event: snapshot'),
    );

    const published = await admin.client.call('/api/v1/streams/weather/publish', { json: { temp: 7 } });
    expect(published.status).toBe(202);
    const id: string = published.body.data.id;
    const wsEvent = await eventually(() => ws.all.find((m) => m.type === 'event'), Boolean);
    expect(wsEvent).toMatchObject({ type: 'event', channel: 'weather', id, data: { temp: 7 } });
    expect(
      await eventually(
        () => sseEventIds(stream.text),
        (ids) => ids.length > 0,
      ),
    ).toEqual([id]);

    // Reconnecting to the other instance with Last-Event-ID replays what was missed there.
    stream.close();
    const missed = [await b.app.live.bus.publish('weather', 1), await a.app.live.bus.publish('weather', 2)];
    const resumed = await sse(a, '/api/v1/streams/weather/events', { cookie, 'last-event-id': id });
    expect(
      await eventually(
        () => sseEventIds(resumed.text),
        (ids) => ids.length >= 2,
      ),
    ).toEqual(missed.map((event) => event.id));
    expect(resumed.text).not.toContain('event: reset');
    const onB = await sse(b, '/api/v1/streams/weather/events', { cookie });
    await eventually(
      () => onB.text,
      (text) => text.includes('event: snapshot'),
    );

    const loggedOutAt = Date.now();
    expect((await viewer.client.call('/api/v1/auth/logout', { method: 'POST' })).status).toBeLessThan(300);
    await eventually(() => ws.closedWith !== undefined && onB.endedAt !== undefined, Boolean, 1000);
    expect(ws.closedWith?.code).toBe(4403);
    expect(ws.closedWith!.at - loggedOutAt).toBeLessThan(1000);
    expect(onB.endedAt! - loggedOutAt).toBeLessThan(1000);
  });

  it('deliver an event published on A to a subscriber on B, and replay it on either', async () => {
    const { a, b } = await cluster();
    const viewer = await b.signIn(await a.createUser({ role: 'viewer' }));
    const admin = await a.signIn(await a.createUser({ role: 'admin' }));
    const onB = await follow(b, viewer, 'weather');

    const res = await admin.client.call('/api/v1/streams/weather/publish', { json: { temp: 21 } });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const second = await a.app.live.bus.publish('weather', { temp: 22 });
    const third = await b.app.live.bus.publish('weather', { temp: 23 });
    await eventually(
      () => onB.events.length,
      (n) => n >= 3,
    );
    expect(onB.events.map((event) => event.id)).toEqual([res.body.data.id, second.id, third.id]);
    expect(onB.events[0]).toMatchObject({ channel: 'weather', data: { temp: 21 } });

    // A client that reconnects to whichever instance gets what it missed.
    for (const t of [a, b]) {
      const again = await follow(t, viewer, 'weather', res.body.data.id);
      expect(again.subscription.recovered).toBe(true);
      expect(again.subscription.replayed).toEqual([second, third]);
      expect(again.subscription.lastId).toBe(third.id);
      const fresh = await follow(t, viewer, 'weather');
      expect(fresh.subscription.snapshot).toEqual(third);
    }
  });

  it('redeem a ticket issued on A on B exactly once, and count pending tickets across instances', async () => {
    const { a, b, prefix } = await cluster();
    const user = await a.createUser({ role: 'viewer' });
    const session = await a.signIn(user);
    const onB = sameBrowserOn(b, session);
    const issue = (client: Client) => client.call('/api/v1/auth/ws-ticket', { method: 'POST' });

    const first = await issue(session.client);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.data.expires_in).toBe(30);
    const ticket: string = first.body.data.ticket;
    const keys = await run.keysUnder(prefix);
    expect(keys.some((key) => key.startsWith(`${prefix}ticket:`))).toBe(true);
    expect(keys.some((key) => key.includes(ticket))).toBe(false);
    expect(await b.app.auth.tickets.redeem(ticket)).toMatchObject({
      userId: user.record.id,
      credential: 'ticket',
    });
    expect(await a.app.auth.tickets.redeem(ticket)).toBeNull();
    expect(await b.app.auth.tickets.redeem(ticket)).toBeNull();

    // Racing instances: one wins.
    const raced: string = (await issue(onB)).body.data.ticket;
    const wins = await Promise.all([a.app.auth.tickets.redeem(raced), b.app.auth.tickets.redeem(raced)]);
    expect(wins.filter((principal) => principal !== null)).toHaveLength(1);

    for (const client of [session.client, onB, session.client, onB, session.client]) {
      expect((await issue(client)).status).toBe(200);
    }
    for (const client of [onB, session.client]) {
      const refused = await issue(client);
      expect(refused.status).toBe(429);
      expect(errorCode(refused)).toBe(5004);
      expect(refused.body.error_detail.retry_after).toBeGreaterThanOrEqual(1);
    }
  });

  it('end a connection on B within a second of its session being revoked on A, by logout or by an admin', async () => {
    const { a, b } = await cluster();
    const user = await a.createUser({ role: 'viewer' });
    const byLogout = await a.signIn(user);
    const byAdmin = await a.signIn(user);
    const local = await a.signIn(user);
    const other = await a.signIn(user);
    const first = await follow(b, byLogout, 'weather');
    const second = await follow(b, byAdmin, 'weather');
    const onItsOwn = await follow(b, local, 'weather');
    const bystander = await follow(b, other, 'weather');

    const loggedOutAt = Date.now();
    expect((await byLogout.client.call('/api/v1/auth/logout', { method: 'POST' })).status).toBeLessThan(300);
    await eventually(
      () => first.conn.ended.length,
      (n) => n > 0,
      1000,
    );
    expect(first.conn.ended[0]?.at).toBeLessThan(loggedOutAt + 1000);

    // Revoked on B itself: ended at once, and B's own relay message does not end it again (checked below,
    // once a later message from A has come through).
    await b.app.auth.sessions.revoke(onItsOwn.conn.principal.sessionId!, 'revoked_by_admin', TEST_CONTEXT);
    expect(onItsOwn.conn.ended).toHaveLength(1);

    const revokedAt = Date.now();
    const sessionId = second.conn.principal.sessionId!;
    expect(await a.app.auth.sessions.revoke(sessionId, 'revoked_by_admin', TEST_CONTEXT)).toBe(true);
    await eventually(
      () => second.conn.ended.length,
      (n) => n > 0,
      1000,
    );
    expect(second.conn.ended[0]?.at).toBeLessThan(revokedAt + 1000);
    expect(bystander.conn.ended).toEqual([]);
    expect(first.conn.ended).toHaveLength(1);
    expect(onItsOwn.conn.ended).toHaveLength(1);
  });

  it("re-check B's connections within a second of a role change or a disable on A", async () => {
    const { a, b } = await cluster();
    const user = await a.createUser({ role: 'editor' });
    const session = await a.signIn(user);
    const onConfig = await follow(b, session, 'config');

    const changedAt = Date.now();
    await a.app.auth.users.update(user.record.id, { role: 'viewer' }, TEST_CONTEXT);
    await eventually(
      () => onConfig.conn.rightsChanges,
      (n) => n > 0,
      1000,
    );
    expect(Date.now() - changedAt).toBeLessThan(1000);
    expect(onConfig.conn.principal.role).toBe('viewer');
    // The next event on a channel the user lost ends that subscription, not the connection.
    await a.app.live.bus.publish('config', { activated: 1 });
    expect(
      await eventually(
        () => onConfig.endings,
        (endings) => endings.length > 0,
      ),
    ).toEqual(['forbidden']);
    expect(onConfig.events).toEqual([]);
    expect(onConfig.conn.ended).toEqual([]);

    const disabledAt = Date.now();
    await a.app.auth.users.update(user.record.id, { disabled: true }, TEST_CONTEXT);
    await eventually(
      () => onConfig.conn.ended.length,
      (n) => n > 0,
      1000,
    );
    expect(onConfig.conn.ended[0]?.at).toBeLessThan(disabledAt + 1000);
  });

  it("re-check B's API-key connections within a second of their owner's demotion or disable on A", async () => {
    const { a, b } = await cluster();
    const owner = await a.createUser({ role: 'editor' });
    const session = await a.signIn(owner);
    const created = await session.client.call('/api/v1/auth/api-keys', {
      json: { name: 'wall', role: 'editor' },
    });
    expect(created.status).toBe(201);
    const conn = connection(await b.app.auth.authenticateBearer(created.body.data.key));
    harness.cleanup(await b.app.live.open(conn));

    const demotedAt = Date.now();
    await a.app.auth.users.update(owner.record.id, { role: 'viewer' }, TEST_CONTEXT);
    await eventually(
      () => conn.rightsChanges,
      (n) => n > 0,
      1000,
    );
    expect(Date.now() - demotedAt).toBeLessThan(1000);
    expect(conn.principal).toMatchObject({ role: 'viewer', apiKeyId: created.body.data.id });

    const disabledAt = Date.now();
    await a.app.auth.users.update(owner.record.id, { disabled: true }, TEST_CONTEXT);
    await eventually(
      () => conn.ended.length,
      (n) => n > 0,
      1000,
    );
    expect(conn.ended[0]?.at).toBeLessThan(disabledAt + 1000);
  });

  it('hold the per-user connection cap across instances', async () => {
    const { a, b } = await cluster({ SWITCHBOARD_WS_CONNECTIONS_PER_USER: '2' });
    const session = await a.signIn(await a.createUser());
    const principal = await a.app.auth.authenticateBearer(session.accessToken);
    harness.cleanup(await a.app.live.open(connection(principal)));
    const closeOnB = await b.app.live.open(connection(principal));
    await expect(a.app.live.open(connection(principal))).rejects.toMatchObject({ status: 429, code: 5003 });
    // The other transport counts separately.
    harness.cleanup(await b.app.live.open(connection(principal, 'sse')));
    closeOnB();
    const reopened = await eventually(
      () => a.app.live.open(connection(principal)).catch(() => null),
      (close) => close !== null,
    );
    expect(reopened).toBeTypeOf('function');
    if (reopened) harness.cleanup(reopened);
  });

  it('keep live subscribers going when Redis lost its keys, and reset a reconnect from the old epoch', async () => {
    const { a, b, prefix } = await cluster();
    const session = await a.signIn(await a.createUser());
    const onB = await follow(b, session, 'weather');
    for (let i = 1; i <= 5; i++) await a.app.live.bus.publish('weather', { i });
    await eventually(
      () => onB.events.length,
      (n) => n >= 5,
    );
    const before = onB.events.at(-1)!;

    await run.flush(prefix);
    const after = await a.app.live.bus.publish('weather', { i: 'after' });
    expect(after.id.endsWith(':1')).toBe(true);
    // Seq 1 is below what B last sent, but of a new epoch: it is new.
    await eventually(
      () => onB.events.length,
      (n) => n >= 6,
    );
    expect(onB.events.at(-1)).toEqual(after);

    const again = await follow(a, session, 'weather', before.id);
    expect(again.subscription.recovered).toBe(false);
    expect(again.subscription.snapshot).toEqual(after);
  });

  it('answer 503 (code 8001) to publishes while Redis is away, and publish again once it is back', async () => {
    const target = new URL(redisUrl);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 6379));
    await proxy.start();
    harness.cleanup(() => proxy.stop());
    const { a, b } = await cluster({ SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '1000' }, proxy.url);
    const admin = await a.signIn(await a.createUser({ role: 'admin' }));
    const viewer = await a.signIn(await a.createUser({ role: 'viewer' }));
    const onB = await follow(b, viewer, 'weather');
    const publish = () => admin.client.call('/api/v1/streams/weather/publish', { json: { temp: 1 } });

    await proxy.stop();
    const refused = await publish();
    expect(refused.status).toBe(503);
    expect(errorCode(refused)).toBe(8001);
    expect(refused.body.error_detail.retryable).toBe(true);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const refusedStream = await sse(a, '/api/v1/streams/weather/events', {
      cookie: `session=${viewer.client.cookie('session')}`,
    });
    expect(refusedStream.status).toBe(503);
    const handlers = { event: () => {}, ended: () => {} };
    await expect(
      a.app.live.subscribe(connection(onB.conn.principal), 'weather', undefined, handlers),
    ).rejects.toMatchObject({ status: 503, code: 8001 });

    await proxy.start();
    const accepted = await eventually(publish, (res) => res.status === 202, 5000);
    expect(accepted.status).toBe(202);
    await eventually(
      () => onB.events.length,
      (n) => n >= 1,
    );
    expect(onB.events[0]?.id).toBe(accepted.body.data.id);
  });
});
