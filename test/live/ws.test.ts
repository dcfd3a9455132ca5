import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { wsTimings } from '../../src/live/ws-gateway.js';
import { errorCode } from '../client.js';
import { type SignedIn, startTestApp, type TestApp, testClock } from '../fixture.js';
import { type Closed, LiveSocket, socketUrl, until } from '../live-client.js';

// Short enough to keep the suite fast, long enough that a busy machine does not trip them by accident.
wsTimings.authTimeoutMs = 400;
wsTimings.heartbeatMs = 250;
wsTimings.expiryCheckMs = 50;
wsTimings.shutdownCloseMs = 500;

const ENV = {
  SWITCHBOARD_RATE_LIMITS: 'login.ip=off,login.username=off,tickets.issue=off',
  SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '10000',
  SWITCHBOARD_WS_CONNECTIONS_PER_USER: '2',
};

/** The tests here look into fields of every kind of frame, so they read frames loosely. */
type TestSocket = LiveSocket<any>;

function open(
  t: TestApp,
  options: { query?: string; headers?: Record<string, string>; autoPong?: boolean } = {},
): TestSocket {
  return new LiveSocket<any>(
    new WebSocket(socketUrl(t, options.query), {
      headers: options.headers,
      autoPong: options.autoPong ?? true,
    }),
  );
}

async function ticketOf(who: SignedIn): Promise<string> {
  const res = await who.client.call('/api/v1/auth/ws-ticket', { method: 'POST', json: {} });
  expect(res.status).toBe(200);
  return res.body.data.ticket;
}

/** An open, authenticated socket (by ticket); checked with a ping. */
async function connect(t: TestApp, who: SignedIn): Promise<TestSocket> {
  const socket = open(t, { query: `?ticket=${encodeURIComponent(await ticketOf(who))}` });
  await socket.opened;
  await socket.drain();
  return socket;
}

/** Whether a socket that was just opened stays open ('open') or is closed, and with which code. */
async function outcomeOf(socket: TestSocket): Promise<'open' | number> {
  await socket.opened;
  socket.send({ type: 'ping', id: 'probe' });
  return until(
    () => socket.closedWith?.code ?? (socket.frames.some((f) => f.id === 'probe') ? 'open' : undefined),
    'the socket to settle',
  );
}

const userIdOf = (who: SignedIn): string => who.body.data.user.id;

async function closedWithin(socket: TestSocket, ms: number): Promise<Closed> {
  const started = Date.now();
  const closed = await until(() => socket.closedWith, 'the socket to close', ms + 2000);
  expect(Date.now() - started).toBeLessThan(ms);
  return closed;
}

describe('WebSocket gateway', () => {
  let t: TestApp;
  let admin: SignedIn;

  beforeAll(async () => {
    t = await startTestApp({ env: ENV });
    admin = await t.signIn(await t.createUser({ role: 'admin' }));
    const channels = t.app.live.channels;
    channels.declare({ name: 'weather', access: { minRole: 'viewer' } });
    channels.declare({ name: 'plant.alarms', access: { minRole: 'editor', groups: { oneOf: ['ops'] } } });
    channels.declare({ name: 'tiny', access: { minRole: 'viewer' }, history: { size: 2 } });
  });
  afterAll(() => t.close());

  const viewer = async () => t.signIn(await t.createUser({ role: 'viewer' }));
  const publish = (channel: string, data: unknown) => t.app.live.bus.publish(channel, data);

  describe('authentication', () => {
    it('accepts a ticket in the query, once', async () => {
      const who = await viewer();
      const ticket = await ticketOf(who);
      const socket = open(t, { query: `?ticket=${ticket}` });
      await socket.opened;
      const subscribed = await socket.subscribe(`user:${userIdOf(who)}`);
      expect(subscribed).toMatchObject({ type: 'subscribed', channel: `user:${userIdOf(who)}` });
      const again = open(t, { query: `?ticket=${ticket}` });
      expect((await again.closed).code).toBe(4401);
      await socket.close();
    });

    it('closes with 4401 for an unknown or empty ticket, and a bad bearer token', async () => {
      for (const socket of [
        open(t, { query: '?ticket=not-a-ticket' }),
        open(t, { query: '?ticket=' }),
        open(t, { headers: { authorization: 'Bearer not.a.jwt' } }),
        open(t, { headers: { authorization: 'Bearer sbk_not_a_key' } }),
      ]) {
        const closed = await socket.closed;
        expect(closed.code).toBe(4401);
        expect(closed.reason.length).toBeGreaterThan(0);
      }
    });

    it('accepts the session cookie only from an allowed Origin', async () => {
      const who = await viewer();
      const cookie = `session=${who.client.cookie('session')}`;
      const allowed = open(t, { headers: { cookie, origin: t.origin } });
      await allowed.opened;
      expect((await allowed.subscribe(`user:${userIdOf(who)}`)).type).toBe('subscribed');
      await allowed.close();
      // A page on another site can make the browser send the cookie: it must not authenticate anything.
      const foreign: Record<string, string>[] = [{ cookie, origin: 'https://evil.example' }, { cookie }];
      for (const headers of foreign) {
        const refused = open(t, { headers });
        await refused.opened;
        refused.send({ type: 'subscribe', id: 1, channel: `user:${userIdOf(who)}` });
        expect((await until(() => refused.closedWith, 'the refusal')).code).toBe(4401);
        expect(refused.frames.filter((f) => f.type === 'subscribed')).toEqual([]);
      }
    });

    it('accepts a bearer access token and an API key', async () => {
      const who = await viewer();
      const jwt = open(t, { headers: { authorization: `Bearer ${who.accessToken}` } });
      await jwt.opened;
      expect((await jwt.subscribe('weather')).type).toBe('subscribed');
      await jwt.close();
      const created = await who.client.call('/api/v1/auth/api-keys', {
        method: 'POST',
        json: { name: 'ws', role: 'viewer' },
      });
      expect(created.status).toBe(201);
      const key = open(t, { headers: { authorization: `Bearer ${created.body.data.key}` } });
      await key.opened;
      expect((await key.subscribe('weather')).type).toBe('subscribed');
      await key.close();
    });

    it('waits for a first auth message, and answers it', async () => {
      const who = await viewer();
      const socket = open(t);
      await socket.opened;
      socket.send({ type: 'auth', ticket: await ticketOf(who) });
      socket.send({ type: 'subscribe', id: 1, channel: 'weather' });
      const authenticated = await socket.next((f) => f.type === 'authenticated');
      expect(authenticated.user_id).toBe(userIdOf(who));
      expect(Date.parse(authenticated.expires_at)).toBeGreaterThan(Date.now());
      expect(await socket.next((f) => f.id === 1)).toMatchObject({ type: 'subscribed', channel: 'weather' });
      await socket.close();
    });

    it('closes with 4401 when no auth message comes in time', async () => {
      const socket = open(t);
      await socket.opened;
      const started = Date.now();
      expect((await socket.closed).code).toBe(4401);
      expect(Date.now() - started).toBeGreaterThanOrEqual(wsTimings.authTimeoutMs - 50);
    });

    it('closes with 4401 for a bad ticket in the auth message, or anything else first', async () => {
      const bad = open(t);
      await bad.opened;
      bad.send({ type: 'auth', ticket: 'nope' });
      expect((await bad.closed).code).toBe(4401);
      const early = open(t);
      await early.opened;
      early.send({ type: 'subscribe', id: 1, channel: 'weather' });
      expect((await early.closed).code).toBe(4401);
      expect(early.frames).toEqual([]);
    });

    it('answers a plain GET with 426 and other upgrade paths with 404', async () => {
      const res = await t.client().call('/api/v1/ws');
      expect(res.status).toBe(426);
      expect(res.headers.upgrade).toBe('websocket');
      expect(errorCode(res)).toBe(2006);
      const elsewhere = new WebSocket(`${t.url.replace(/^http/, 'ws')}/api/v1/nope`);
      const status = await new Promise<number>((resolve) =>
        elsewhere.on('unexpected-response', (_req, response) => resolve(response.statusCode ?? 0)),
      );
      elsewhere.on('error', () => {});
      expect(status).toBe(404);
      const spec = await t.client().call('/openapi.json');
      expect(spec.body.paths['/api/v1/ws']).toBeDefined();
    });
  });

  describe('messages', () => {
    let socket: TestSocket;
    let who: SignedIn;
    beforeAll(async () => {
      who = await viewer();
      socket = await connect(t, who);
    });
    afterAll(() => socket.close());

    it('answers ping with pong and the same id', async () => {
      expect(await socket.call({ type: 'ping', id: 'abc' })).toEqual({ type: 'pong', id: 'abc' });
      expect(await socket.call({ type: 'ping', id: 7 })).toEqual({ type: 'pong', id: 7 });
    });

    it('refuses malformed frames with an error frame and keeps the socket open', async () => {
      const cases: [string | Buffer, number, unknown][] = [
        ['not json', 2001, null],
        ['[1,2]', 2001, null],
        ['"ping"', 2001, null],
        ['null', 2001, null],
        [JSON.stringify({ type: 'dance', id: 4 }), 2000, 4],
        [JSON.stringify({ id: 5 }), 2000, 5],
        [JSON.stringify({ type: 'subscribe', channel: 'weather' }), 2000, null],
        [JSON.stringify({ type: 'subscribe', id: 6 }), 2000, 6],
        [JSON.stringify({ type: 'subscribe', id: 8, channel: 42 }), 2000, 8],
        [JSON.stringify({ type: 'unsubscribe', id: 9 }), 2000, 9],
        [JSON.stringify({ type: 'ping' }), 2000, null],
        [JSON.stringify({ type: 'ping', id: { nested: true } }), 2000, null],
        [JSON.stringify({ type: 'auth', id: 10 }), 2000, 10],
        [Buffer.from(JSON.stringify({ type: 'ping', id: 11 })), 2001, null],
      ];
      for (const [frame, code, id] of cases) {
        socket.ws.send(frame, { binary: Buffer.isBuffer(frame) });
        const error = await socket.next((f) => f.type === 'error', `the error for ${String(frame)}`);
        expect(error, String(frame)).toMatchObject({ type: 'error', id, code });
        expect(typeof error.message).toBe('string');
      }
      expect(await socket.call({ type: 'ping', id: 'still-open' })).toEqual({
        type: 'pong',
        id: 'still-open',
      });
      expect(socket.closedWith).toBeUndefined();
    });

    it('gives an unknown and a forbidden channel the same error', async () => {
      const unknown = await socket.subscribe('no.such.channel');
      const forbidden = await socket.subscribe('plant.alarms');
      const otherUser = await socket.subscribe(`user:${userIdOf(admin)}`);
      const config = await socket.subscribe('config');
      for (const [frame, name] of [
        [unknown, 'no.such.channel'],
        [forbidden, 'plant.alarms'],
        [otherUser, `user:${userIdOf(admin)}`],
        [config, 'config'],
      ] as const) {
        expect(frame.type).toBe('error');
        expect(frame.code).toBe(3000);
        expect(frame.message.replace(name, '<name>')).toBe(
          unknown.message.replace('no.such.channel', '<name>'),
        );
      }
    });

    it('refuses a bad since with 2000', async () => {
      await publish('weather', { t: 1 });
      for (const since of ['garbage', '', 'abc:-1', 'otherepoch:x', `${'a'.repeat(65)}`]) {
        const frame = await socket.subscribe('weather', since);
        expect(frame, since).toMatchObject({ type: 'error', code: 2000 });
      }
      const latest = await t.app.live.bus.latest('weather');
      const epoch = latest!.id.split(':')[0];
      expect(await socket.subscribe('weather', `${epoch}:999999`)).toMatchObject({
        type: 'error',
        code: 2000,
      });
      // None of the refusals left a subscription behind.
      expect((await socket.subscribe('weather')).type).toBe('subscribed');
      expect(await socket.call({ type: 'unsubscribe', channel: 'weather' })).toMatchObject({
        type: 'unsubscribed',
        channel: 'weather',
      });
    });

    it('refuses a second subscription to the same channel with 4000', async () => {
      expect((await socket.subscribe('weather')).type).toBe('subscribed');
      expect(await socket.subscribe('weather')).toMatchObject({ type: 'error', code: 4000 });
      await socket.call({ type: 'unsubscribe', channel: 'weather' });
    });

    it('accepts a 64 KiB message and closes with 1009 on a bigger one', async () => {
      const ping = (size: number) => {
        const base = JSON.stringify({ type: 'ping', id: 'big', pad: '' });
        return JSON.stringify({ type: 'ping', id: 'big', pad: 'x'.repeat(size - base.length) });
      };
      const other = await connect(t, await viewer());
      other.send(ping(64 * 1024));
      expect(await other.next((f) => f.id === 'big')).toEqual({ type: 'pong', id: 'big' });
      other.send(ping(64 * 1024 + 1));
      expect((await other.closed).code).toBe(1009);
    });

    it('allows at most 100 subscriptions per connection (5002)', async () => {
      const other = await connect(t, await viewer());
      for (let i = 0; i <= 100; i += 1) {
        t.app.live.channels.declare({ name: `many.${i}`, access: { minRole: 'viewer' } });
      }
      for (let i = 0; i < 100; i += 1) other.send({ type: 'subscribe', id: i, channel: `many.${i}` });
      const last = await other.subscribe('many.100');
      expect(last).toMatchObject({ type: 'error', code: 5002 });
      expect(other.frames.filter((f) => f.type === 'subscribed')).toHaveLength(100);
      await other.call({ type: 'unsubscribe', channel: 'many.0' });
      expect((await other.subscribe('many.100')).type).toBe('subscribed');
      await other.close();
    });
  });

  describe('delivery', () => {
    it('sends subscribed, the snapshot, then live events in order; nothing after unsubscribe', async () => {
      const socket = await connect(t, await viewer());
      t.app.live.channels.declare({ name: 'live.order', access: { minRole: 'viewer' } });
      const first = await publish('live.order', { n: 0 });
      const subscribed = await socket.subscribe('live.order');
      expect(subscribed).toEqual({
        type: 'subscribed',
        id: subscribed.id,
        channel: 'live.order',
        recovered: false,
        last_id: first.id,
      });
      const ids = [];
      for (let n = 1; n <= 5; n += 1) ids.push((await publish('live.order', { n })).id);
      const frames = await socket.drain();
      expect(frames[0]).toEqual({
        type: 'snapshot',
        channel: 'live.order',
        id: first.id,
        ts: first.ts,
        data: { n: 0 },
      });
      expect(frames.slice(1).map((f) => [f.type, f.id, f.data.n])).toEqual(
        ids.map((id, i) => ['event', id, i + 1]),
      );
      expect(frames[1].ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      await socket.call({ type: 'unsubscribe', channel: 'live.order' });
      await publish('live.order', { n: 6 });
      expect(await socket.drain()).toEqual([]);
      await socket.close();
    });

    it('replays exactly the missed events after since, recovered true', async () => {
      const who = await viewer();
      t.app.live.channels.declare({ name: 'replay', access: { minRole: 'viewer' } });
      const first = await connect(t, who);
      await first.subscribe('replay');
      const seen = await publish('replay', { n: 1 });
      expect(await first.next((f) => f.type === 'event')).toMatchObject({ id: seen.id });
      await first.close();
      const missed = [await publish('replay', { n: 2 }), await publish('replay', { n: 3 })];
      const second = await connect(t, who);
      const subscribed = await second.subscribe('replay', seen.id);
      expect(subscribed).toMatchObject({ type: 'subscribed', recovered: true, last_id: missed[1]!.id });
      const replayed = await second.drain();
      expect(replayed).toEqual(
        missed.map((e) => ({ type: 'event', channel: 'replay', id: e.id, ts: e.ts, data: e.data })),
      );
      const after = await publish('replay', { n: 4 });
      expect(await second.next((f) => f.type === 'event')).toMatchObject({ id: after.id, data: { n: 4 } });
      // Caught up already: recovered, nothing replayed, no snapshot.
      const third = await connect(t, await viewer());
      expect(await third.subscribe('replay', after.id)).toMatchObject({ recovered: true, last_id: after.id });
      expect(await third.drain()).toEqual([]);
      await Promise.all([second.close(), third.close()]);
    });

    it('sends reset and the snapshot when the history no longer reaches since', async () => {
      const socket = await connect(t, await viewer());
      const published = [];
      for (let n = 1; n <= 5; n += 1) published.push(await publish('tiny', { n }));
      const subscribed = await socket.subscribe('tiny', published[0]!.id);
      const latest = published[4]!;
      expect(subscribed).toMatchObject({
        type: 'subscribed',
        channel: 'tiny',
        recovered: false,
        last_id: latest.id,
      });
      expect(await socket.drain()).toEqual([
        { type: 'reset', channel: 'tiny' },
        { type: 'snapshot', channel: 'tiny', id: latest.id, ts: latest.ts, data: { n: 5 } },
      ]);
      // An id from another epoch (a restarted bus) is history lost, too.
      await socket.call({ type: 'unsubscribe', channel: 'tiny' });
      expect(await socket.subscribe('tiny', 'otherepoch:3')).toMatchObject({ recovered: false });
      expect((await socket.drain()).map((f) => f.type)).toEqual(['reset', 'snapshot']);
      await socket.close();
    });

    it('says unavailable when a channel is removed', async () => {
      const socket = await connect(t, await viewer());
      t.app.live.channels.declare({ name: 'doomed', access: { minRole: 'viewer' } });
      await socket.subscribe('doomed');
      t.app.live.channels.remove('doomed');
      expect(await socket.next((f) => f.type === 'unavailable')).toEqual({
        type: 'unavailable',
        channel: 'doomed',
      });
      expect((await socket.call({ type: 'ping' })).type).toBe('pong');
      await socket.close();
    });

    it('ends one subscription with an error frame when its rights go, keeping the socket', async () => {
      const editor = await t.signIn(await t.createUser({ role: 'editor' }));
      const socket = await connect(t, editor);
      const subscribed = await socket.subscribe('config');
      expect(subscribed.type).toBe('subscribed');
      expect((await socket.subscribe('weather')).type).toBe('subscribed');
      const res = await admin.client.call(`/api/v1/users/${userIdOf(editor)}`, {
        method: 'PATCH',
        json: { role: 'viewer' },
      });
      expect(res.status).toBe(200);
      const error = await socket.next((f) => f.type === 'error');
      expect(error).toMatchObject({ id: subscribed.id, channel: 'config', code: 1001 });
      const event = await publish('weather', { still: 'flowing' });
      expect(await socket.next((f) => f.type === 'event')).toMatchObject({ id: event.id });
      await t.app.live.bus.publish('config', { activated: 1 });
      expect((await socket.drain()).filter((f) => f.channel === 'config')).toEqual([]);
      expect(socket.closedWith).toBeUndefined();
      await socket.close();
    });
  });

  describe('session end closes with 4403 within a second', () => {
    it('on logout', async () => {
      const who = await viewer();
      const socket = await connect(t, who);
      expect((await who.client.call('/api/v1/auth/logout', { method: 'POST' })).status).toBe(204);
      expect((await closedWithin(socket, 1000)).code).toBe(4403);
    });

    it('when an admin revokes the session', async () => {
      const who = await viewer();
      const socket = await connect(t, who);
      const sessions = await who.client.call('/api/v1/auth/sessions');
      const current = sessions.body.data.find((s: { is_current: boolean }) => s.is_current);
      const res = await admin.client.call(`/api/v1/auth/sessions/${current.id}`, { method: 'DELETE' });
      expect(res.status).toBe(204);
      expect((await closedWithin(socket, 1000)).code).toBe(4403);
    });

    it('when the password changes in another session', async () => {
      const user = await t.createUser({ role: 'viewer' });
      const [here, there] = [await t.signIn(user), await t.signIn(user)];
      const socket = await connect(t, here);
      const res = await there.client.call('/api/v1/auth/password', {
        json: { current_password: user.password, new_password: 'another-Password-8#zQ' },
      });
      expect(res.status).toBeLessThan(300);
      expect((await closedWithin(socket, 1000)).code).toBe(4403);
    });

    it('when the API key it was opened with is revoked', async () => {
      const who = await viewer();
      const created = await who.client.call('/api/v1/auth/api-keys', {
        method: 'POST',
        json: { name: 'console', role: 'viewer' },
      });
      const socket = open(t, { headers: { authorization: `Bearer ${created.body.data.key}` } });
      await socket.opened;
      expect((await socket.subscribe('weather')).type).toBe('subscribed');
      const other = await connect(t, who);
      const res = await who.client.call(`/api/v1/auth/api-keys/${created.body.data.id}`, {
        method: 'DELETE',
      });
      expect(res.status).toBe(204);
      expect((await closedWithin(socket, 1000)).code).toBe(4403);
      // The owner's own session is not the key: its socket stays.
      expect(other.closedWith).toBeUndefined();
      await other.close();
    });

    it('when an admin disables the user', async () => {
      const who = await viewer();
      const socket = await connect(t, who);
      const res = await admin.client.call(`/api/v1/users/${userIdOf(who)}`, {
        method: 'PATCH',
        json: { disabled: true },
      });
      expect(res.status).toBe(200);
      expect((await closedWithin(socket, 1000)).code).toBe(4403);
    });
  });

  describe('limits', () => {
    it('closes a third socket of one user with 4429, and frees slots however sockets close', async () => {
      const who = await viewer();
      const [a, b] = [await connect(t, who), await connect(t, who)];
      const third = open(t, { query: `?ticket=${await ticketOf(who)}` });
      const closed = await third.closed;
      expect(closed.code).toBe(4429);
      expect(closed.reason).toMatch(/2/);
      // One closed cleanly, one cut without a close frame: both slots come back.
      await a.close();
      b.ws.terminate();
      await b.closed;
      const deadline = Date.now() + 3000;
      const reopened: TestSocket[] = [];
      while (reopened.length < 2) {
        const socket = open(t, { query: `?ticket=${await ticketOf(who)}` });
        const outcome = await outcomeOf(socket);
        if (outcome === 'open') reopened.push(socket);
        else if (Date.now() > deadline) throw new Error(`slots not freed: closed with ${outcome}`);
      }
      await Promise.all(reopened.map((socket) => socket.close()));
    });

    it('terminates a socket that stops answering pings, and keeps one that answers', async () => {
      const who = await viewer();
      const ticket = await ticketOf(who);
      const silent = open(t, { query: `?ticket=${ticket}`, autoPong: false });
      const healthy = await connect(t, who);
      await silent.opened;
      const closed = await until(
        () => silent.closedWith,
        'the silent socket to be cut',
        wsTimings.heartbeatMs * 8,
      );
      expect(closed.code).toBe(1006);
      expect(healthy.closedWith).toBeUndefined();
      expect((await healthy.call({ type: 'ping' })).type).toBe('pong');
      await healthy.close();
    });
  });
});

describe('WebSocket access expiry', () => {
  const clock = testClock();
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      now: () => clock.now,
      env: { ...ENV, SWITCHBOARD_ACCESS_TOKEN_TTL: '30s', SWITCHBOARD_WS_AUTH_GRACE: '10s' },
    });
    t.app.live.channels.declare({ name: 'weather', access: { minRole: 'viewer' } });
  });
  afterAll(() => t.close());

  it('asks for a fresh ticket when access expires, and closes with 4403 after the grace period', async () => {
    const who = await t.signIn(await t.createUser());
    const socket = await connect(t, who);
    clock.advance(29_000);
    expect(await socket.drain()).toEqual([]);
    clock.advance(2_000);
    const asked = await socket.next((f) => f.type === 'auth_required');
    expect(Date.parse(asked.deadline)).toBeGreaterThan(clock.now);
    expect(socket.closedWith).toBeUndefined();
    clock.advance(10_000);
    expect((await closedWithin(socket, 1000)).code).toBe(4403);
  });

  it('stays open when a fresh ticket arrives within the grace period', async () => {
    const who = await t.signIn(await t.createUser());
    const socket = await connect(t, who);
    await socket.subscribe('weather');
    clock.advance(31_000);
    await socket.next((f) => f.type === 'auth_required');
    const refreshed = await who.client.call('/api/v1/auth/refresh', {
      method: 'POST',
      json: { refresh_token: who.refreshToken },
    });
    expect(refreshed.status).toBe(200);
    const ticket = await ticketOf(who);
    // A bad ticket is an error frame; the socket keeps its grace period.
    expect(await socket.call({ type: 'auth', ticket: 'nope' })).toMatchObject({ type: 'error', code: 1009 });
    const renewed = await socket.call({ type: 'auth', ticket });
    expect(renewed).toMatchObject({ type: 'authenticated', user_id: userIdOf(who) });
    expect(Date.parse(renewed.expires_at)).toBe(clock.now + 30_000);
    clock.advance(15_000);
    await new Promise((resolve) => setTimeout(resolve, wsTimings.expiryCheckMs * 4));
    expect(socket.closedWith).toBeUndefined();
    const event = await t.app.live.bus.publish('weather', { ok: true });
    expect(await socket.next((f) => f.type === 'event')).toMatchObject({ id: event.id });
    await socket.close();
  });

  it('refuses a ticket of another user on an open socket', async () => {
    const [one, two] = [await t.signIn(await t.createUser()), await t.signIn(await t.createUser())];
    const socket = await connect(t, one);
    const refused = await socket.call({ type: 'auth', ticket: await ticketOf(two) });
    expect(refused).toMatchObject({ type: 'error', code: 1001 });
    await socket.close();
  });
});

describe('WebSocket slow consumers and shutdown', () => {
  let t: TestApp;
  beforeAll(async () => {
    // A paused client cannot answer pings either; this is about the backlog, not the heartbeat.
    wsTimings.heartbeatMs = 30_000;
    t = await startTestApp({
      env: { ...ENV, SWITCHBOARD_WS_MAX_BACKLOG_BYTES: '1024', SWITCHBOARD_STREAM_HISTORY_SIZE: '10' },
    });
    t.app.live.channels.declare({ name: 'firehose', access: { minRole: 'viewer' } });
  });
  afterAll(() => t.close());

  it('closes a client that stops reading with 4409 instead of buffering for it', async () => {
    const who = await t.signIn(await t.createUser());
    const socket = await connect(t, who);
    await socket.subscribe('firehose');
    await socket.drain();
    const raw = (socket.ws as unknown as { _socket: import('node:net').Socket })._socket;
    raw.pause();
    // Far more than the kernel's socket buffers hold on loopback, so the server must stop or buffer it.
    const payload = 'x'.repeat(16 * 1024);
    const total = 2000;
    for (let n = 0; n < total; n += 1) {
      await t.app.live.bus.publish('firehose', { n, payload });
    }
    raw.resume();
    const closed = await until(() => socket.closedWith, 'the slow consumer to be closed', 10_000);
    expect(closed.code).toBe(4409);
    const events = socket.frames.filter((f) => f.type === 'event');
    expect(events.length).toBeLessThan(total);
    // What did arrive is a gapless prefix: the server stopped, it did not skip.
    expect(events.map((e) => e.data.n)).toEqual(events.map((_, i) => i));
  });

  it('closes sockets with 1012 on shutdown without hanging, even one that does not answer', async () => {
    const who = await t.signIn(await t.createUser());
    const polite = await connect(t, who);
    const stuck = await connect(t, who);
    (stuck.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
    const started = Date.now();
    const hung = new Promise((_, reject) =>
      setTimeout(() => reject(new Error('shutdown hangs')), 5000).unref(),
    );
    await Promise.race([t.app.shutdown(), hung]);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await polite.closed).code).toBe(1012);
    (stuck.ws as unknown as { _socket: import('node:net').Socket })._socket.resume();
    await stuck.closed;
  });
});
