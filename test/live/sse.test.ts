import { get } from 'node:http';
import { EventSource } from 'eventsource';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sseTiming } from '../../src/live/sse.js';
import { ErrorCode } from '../../src/platform/problem.js';
import { type SignedIn, startTestApp, type TestApp, type TestUserOptions } from '../fixture.js';
import { openRawStream, type RawStream, until } from '../live-client.js';

const RETRY_MS = 100;
const KEEPALIVE_MS = 250;
const CAP = 2;

let t: TestApp;
let admin: SignedIn;
const defaults = { ...sseTiming };

beforeAll(async () => {
  // Short enough that reconnection and keepalives happen within a test.
  sseTiming.retryMs = RETRY_MS;
  sseTiming.keepaliveMs = KEEPALIVE_MS;
  t = await startTestApp({
    env: {
      SWITCHBOARD_SSE_CONNECTIONS_PER_USER: String(CAP),
      SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '10000',
      SWITCHBOARD_RATE_LIMITS: 'login.ip=off,login.username=off',
    },
  });
  admin = await t.signIn(await t.createUser({ role: 'admin' }));
  const channels = t.app.live.channels;
  channels.declare({ name: 'weather', access: { minRole: 'viewer' } });
  channels.declare({ name: 'plant.alarms', access: { minRole: 'editor', groups: { oneOf: ['ops'] } } });
});
afterAll(async () => {
  await t.close();
  Object.assign(sseTiming, defaults);
});

let channelCount = 0;
/** A fresh stream every viewer may follow, so tests do not see each other's events. */
function freshChannel(history?: { size: number }): string {
  channelCount += 1;
  const name = `ch${channelCount}`;
  t.app.live.channels.declare({ name, access: { minRole: 'viewer' }, history });
  return name;
}

const publish = (channel: string, data: unknown) => t.app.live.bus.publish(channel, data);
const session = async (options: TestUserOptions = {}) => t.signIn(await t.createUser(options));
const cookieOf = (who: SignedIn) => `session=${who.client.cookie('session')}`;

/** A GET on its own connection to `t` (or `base`), resolved once the status line and headers are in. */
const openRaw = (path: string, headers: Record<string, string> = {}, base = t.url): Promise<RawStream> =>
  openRawStream(base, path, headers);

interface Received {
  type: string;
  data: any;
  lastEventId: string;
}

/** A WHATWG EventSource whose requests carry `headers` (the cookie or a bearer) and are recorded. */
function eventSource(path: string, headers: Record<string, string>) {
  const requests: Record<string, string>[] = [];
  const received: Received[] = [];
  const failures: { code?: number }[] = [];
  const source = new EventSource(`${t.url}${path}`, {
    fetch: (input, init) => {
      const sent = { ...(init.headers as Record<string, string>), ...headers };
      requests.push(sent);
      return fetch(input, { ...init, headers: sent });
    },
  });
  for (const type of ['snapshot', 'event', 'reset', 'unavailable', 'error']) {
    source.addEventListener(type, (event: Event) => {
      if (event instanceof MessageEvent) {
        received.push({ type, data: JSON.parse(event.data), lastEventId: event.lastEventId });
      } else if (type === 'error') {
        failures.push({ code: (event as Event & { code?: number }).code });
      }
    });
  }
  return { source, requests, received, failures };
}

const lastEventIdOf = (headers: Record<string, string>) =>
  Object.entries(headers).find(([name]) => name.toLowerCase() === 'last-event-id')?.[1];

describe('SSE authentication', () => {
  it('refuses a request without credentials (401, code 1008) and a bad bearer (401, code 1009)', async () => {
    const none = await openRaw('/api/v1/streams/weather/events');
    expect(none.status).toBe(401);
    expect((await none.json()).error_detail.error_code).toBe(ErrorCode.noCredentials);
    const bad = await openRaw('/api/v1/streams/weather/events', { authorization: 'Bearer not.a.jwt' });
    expect(bad.status).toBe(401);
    expect((await bad.json()).error_detail.error_code).toBe(ErrorCode.invalidToken);
  });

  it('accepts the session cookie, a bearer access token and an API key', async () => {
    const viewer = await session();
    const key = await viewer.client.call('/api/v1/auth/api-keys', { json: { name: 'sse', role: 'viewer' } });
    expect(key.status).toBe(201);
    for (const headers of <Record<string, string>[]>[
      { cookie: cookieOf(viewer) },
      { authorization: `Bearer ${viewer.accessToken}` },
      { authorization: `Bearer ${key.body.data.key}` },
    ]) {
      const stream = await openRaw('/api/v1/streams/weather/events', headers);
      expect(stream.status).toBe(200);
      await until(() => stream.events()[0], 'the snapshot');
      stream.close();
    }
  });

  it('accepts a ticket once: a second use is a 401 (code 1009)', async () => {
    const viewer = await session();
    const issued = await viewer.client.call('/api/v1/auth/ws-ticket', { method: 'POST' });
    const ticket = issued.body.data.ticket;
    const first = await openRaw(`/api/v1/streams/weather/events?ticket=${ticket}`);
    expect(first.status).toBe(200);
    expect((await until(() => first.events()[0], 'the snapshot')).event).toBe('snapshot');
    first.close();
    const again = await openRaw(`/api/v1/streams/weather/events?ticket=${ticket}`);
    expect(again.status).toBe(401);
    expect((await again.json()).error_detail.error_code).toBe(ErrorCode.invalidToken);
    const unknown = await openRaw('/api/v1/events?channel=weather&ticket=no-such-ticket');
    expect(unknown.status).toBe(401);
  });

  it('refuses a user who must change their password first (403, code 1007)', async () => {
    const user = await t.createUser({ mustChangePassword: true });
    const signedIn = await t.signIn(user);
    const stream = await openRaw('/api/v1/streams/weather/events', { cookie: cookieOf(signedIn) });
    expect(stream.status).toBe(403);
    expect((await stream.json()).error_detail.error_code).toBe(ErrorCode.passwordChangeRequired);
  });
});

describe('SSE responses', () => {
  it('sends the stream headers, a retry hint, the snapshot, then events with ids', async () => {
    const viewer = await session();
    const channel = freshChannel();
    const stream = await openRaw(`/api/v1/streams/${channel}/events`, { cookie: cookieOf(viewer) });
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers['cache-control']).toBe('no-store');
    expect(stream.headers['x-accel-buffering']).toBe('no');
    expect(stream.headers['x-content-type-options']).toBe('nosniff');
    expect(stream.headers['x-request-id']).toBeTruthy();
    // Nothing published yet: a snapshot of nothing, with no id for the client to resume from.
    await until(() => stream.events()[0], 'the snapshot');
    expect(stream.text.startsWith(`retry: ${RETRY_MS}\n\n`)).toBe(true);
    expect(stream.events()[0]).toEqual({
      event: 'snapshot',
      data: { id: null, channel, ts: null, data: null },
    });
    const published = await publish(channel, { temperature: 12 });
    const frame = await until(() => stream.events()[1], 'the event');
    expect(frame).toEqual({ event: 'event', id: published.id, data: { ...published } });
    expect(frame.data.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    stream.close();
  });

  it("starts with the channel's latest event as the snapshot", async () => {
    const viewer = await session();
    const channel = freshChannel();
    for (const n of [1, 2, 3]) await publish(channel, { n });
    const latest = await t.app.live.bus.latest(channel);
    const stream = await openRaw(`/api/v1/streams/${channel}/events`, { cookie: cookieOf(viewer) });
    const snapshot = await until(() => stream.events()[0], 'the snapshot');
    expect(snapshot).toEqual({ event: 'snapshot', id: latest?.id, data: { ...latest } });
    expect(snapshot.data.data).toEqual({ n: 3 });
    stream.close();
  });

  it('sends a `: keepalive` comment periodically', async () => {
    const viewer = await session();
    const stream = await openRaw('/api/v1/streams/weather/events', { cookie: cookieOf(viewer) });
    await until(
      () => stream.frames().some((f) => f.comment === 'keepalive'),
      'a keepalive',
      5 * KEEPALIVE_MS,
    );
    stream.close();
    // The defaults docs/live.md states, which the tests shorten.
    expect(defaults).toEqual({ retryMs: 2000, keepaliveMs: 15_000 });
  });

  it('answers 404 alike for an unknown and a forbidden channel, before any stream byte', async () => {
    const viewer = await session();
    const headers = { cookie: cookieOf(viewer) };
    const details: string[] = [];
    for (const path of [
      '/api/v1/streams/no.such.channel/events',
      '/api/v1/streams/plant.alarms/events',
      `/api/v1/streams/user:${admin.body.data.user.id}/events`,
    ]) {
      const res = await openRaw(path, headers);
      expect(res.status, path).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const body = await res.json();
      expect(body.error_detail.error_code).toBe(ErrorCode.notFound);
      details.push(body.error_detail.detail.replace(/"[^"]*"/, '"…"'));
    }
    expect(new Set(details).size).toBe(1);
    const several = await openRaw('/api/v1/events?channel=weather&channel=plant.alarms', headers);
    expect(several.status).toBe(404);
    const own = await openRaw(`/api/v1/streams/user:${viewer.body.data.user.id}/events`, headers);
    expect(own.status).toBe(200);
    own.close();
  });

  it('answers 422 for a bad Last-Event-ID, header or query, before any stream byte', async () => {
    const viewer = await session();
    const channel = freshChannel();
    const published = await publish(channel, { n: 1 });
    const epoch = published.id.split(':')[0];
    const headers = { cookie: cookieOf(viewer) };
    const cases: [string, Record<string, string>, string][] = [
      [`/api/v1/streams/${channel}/events`, { 'last-event-id': 'garbage' }, '/headers/last-event-id'],
      [`/api/v1/streams/${channel}/events?last_event_id=1:2:3`, {}, '/querystring/last_event_id'],
      // An id from this channel's future was never issued.
      [`/api/v1/streams/${channel}/events`, { 'last-event-id': `${epoch}:99` }, '/headers/last-event-id'],
      [
        `/api/v1/events?channel=${channel}`,
        { 'last-event-id': 'not base64 json!' },
        '/headers/last-event-id',
      ],
      [
        `/api/v1/events?channel=${channel}&last_event_id=${Buffer.from('[1]').toString('base64url')}`,
        {},
        '/querystring/last_event_id',
      ],
      [
        `/api/v1/events?channel=${channel}`,
        { 'last-event-id': Buffer.from(JSON.stringify({ [channel]: 'x' })).toString('base64url') },
        '/headers/last-event-id',
      ],
    ];
    for (const [path, extra, pointer] of cases) {
      const res = await openRaw(path, { ...headers, ...extra });
      expect(res.status, path).toBe(422);
      const body = await res.json();
      expect(body.error_detail.error_code).toBe(ErrorCode.invalidBody);
      expect(body.error_detail.errors.map((e: { pointer: string }) => e.pointer)).toEqual([pointer]);
    }
    const tooMany = Array.from({ length: 33 }, (_, i) => `channel=c${i}`).join('&');
    for (const path of ['/api/v1/events', `/api/v1/events?${tooMany}`]) {
      const res = await openRaw(path, headers);
      expect(res.status, path).toBe(422);
    }
  });

  it('replays what was missed after Last-Event-ID (header or query), then goes on live', async () => {
    const viewer = await session();
    const channel = freshChannel();
    const events = [];
    for (const n of [1, 2, 3, 4, 5]) events.push(await publish(channel, { n }));
    for (const [path, headers] of [
      [`/api/v1/streams/${channel}/events`, { 'last-event-id': events[1]!.id }],
      [`/api/v1/streams/${channel}/events?last_event_id=${events[1]!.id}`, {}],
    ] as const) {
      const stream = await openRaw(path, { cookie: cookieOf(viewer), ...headers });
      expect(stream.status).toBe(200);
      await until(() => stream.events().length >= 3, 'the replay');
      expect(stream.events()).toEqual(
        events.slice(2).map((e) => ({ event: 'event', id: e.id, data: { ...e } })),
      );
      stream.close();
    }
    const stream = await openRaw(`/api/v1/streams/${channel}/events`, {
      cookie: cookieOf(viewer),
      'last-event-id': events[4]!.id,
    });
    const live = await publish(channel, { n: 6 });
    await until(() => stream.events().length >= 1, 'the live event');
    expect(stream.events()).toEqual([{ event: 'event', id: live.id, data: { ...live } }]);
    stream.close();
  });

  it('sends `reset` then the snapshot when the history no longer reaches the id', async () => {
    const viewer = await session();
    const channel = freshChannel({ size: 2 });
    const events = [];
    for (const n of [1, 2, 3, 4, 5]) events.push(await publish(channel, { n }));
    for (const since of [events[0]!.id, 'anotherepoch:1']) {
      const stream = await openRaw(`/api/v1/streams/${channel}/events`, {
        cookie: cookieOf(viewer),
        'last-event-id': since,
      });
      await until(() => stream.events().length >= 2, 'reset and snapshot');
      const [reset, snapshot] = stream.events();
      expect(reset).toMatchObject({ event: 'reset', data: { channel, last_event_id: since } });
      expect(reset?.id).toBeUndefined();
      expect(snapshot).toEqual({ event: 'snapshot', id: events[4]!.id, data: { ...events[4] } });
      stream.close();
    }
  });

  it('ends with `unavailable` when the channel is removed', async () => {
    const viewer = await session();
    const channel = freshChannel();
    const stream = await openRaw(`/api/v1/streams/${channel}/events`, { cookie: cookieOf(viewer) });
    await until(() => stream.events()[0], 'the snapshot');
    t.app.live.channels.remove(channel);
    await until(() => stream.endedAt !== undefined, 'the end of the response');
    const ended = t.logs.find(
      (l) => l.msg === 'event stream ended' && l.request_id === stream.headers['x-request-id'],
    );
    expect(ended?.ended_by).toBe('channel_unavailable');
    expect(stream.events().at(-1)).toEqual({
      event: 'unavailable',
      data: { channel, message: expect.any(String) },
    });
  });

  it('drops a client that stops reading once 1 MiB is queued for it, and frees its slot', async () => {
    const viewer = await session();
    const channel = freshChannel();
    const headers = { cookie: cookieOf(viewer) };
    const { requestId, done } = await new Promise<{ requestId: string; done: () => void }>((resolve) => {
      const request = get(`${t.url}/api/v1/streams/${channel}/events`, { headers, agent: false }, (res) => {
        res.pause();
        resolve({ requestId: String(res.headers['x-request-id']), done: () => request.destroy() });
      });
    });
    // Well past what the loopback socket buffers take, so the rest queues in the server.
    const big = 'x'.repeat(60_000);
    for (let n = 0; n < 300; n += 1) await publish(channel, { n, big });
    const ended = await until(
      () => t.logs.find((l) => l.msg === 'event stream ended' && l.request_id === requestId),
      'the slow client to be dropped',
    );
    expect(ended.ended_by).toBe('slow_consumer');
    done();
    const streams = [await openRaw('/api/v1/streams/weather/events', headers)];
    streams.push(await openRaw('/api/v1/streams/weather/events', headers));
    expect(streams.map((s) => s.status)).toEqual([200, 200]);
    for (const stream of streams) stream.close();
  });

  it('is not served to HEAD', async () => {
    const viewer = await session();
    const res = await viewer.client.call('/api/v1/streams/weather/events', { method: 'HEAD' });
    expect(res.status).toBe(405);
  });
});

describe('SSE over several channels', () => {
  const decode = (id: string | undefined) => JSON.parse(Buffer.from(id ?? '', 'base64url').toString());

  it('carries every channel, with an id that encodes each channel’s last id', async () => {
    const viewer = await session();
    const [a, b] = [freshChannel(), freshChannel()];
    const a1 = await publish(a, { a: 1 });
    const stream = await openRaw(`/api/v1/events?channel=${a}&channel=${b}&channel=${a}`, {
      cookie: cookieOf(viewer),
    });
    expect(stream.status).toBe(200);
    await until(() => stream.events().length >= 2, 'two snapshots');
    const [snapA, snapB] = stream.events();
    expect(snapA).toMatchObject({ event: 'snapshot', data: { ...a1 } });
    expect(snapB).toMatchObject({ event: 'snapshot', data: { id: null, channel: b, data: null } });
    expect(decode(snapB?.id)).toEqual({ [a]: a1.id });
    const b1 = await publish(b, { b: 1 });
    const a2 = await publish(a, { a: 2 });
    await until(() => stream.events().length >= 4, 'two events');
    const [eb, ea] = stream.events().slice(2);
    expect(eb).toMatchObject({ event: 'event', data: { ...b1 } });
    expect(decode(eb?.id)).toEqual({ [a]: a1.id, [b]: b1.id });
    expect(ea).toMatchObject({ event: 'event', data: { ...a2 } });
    expect(decode(ea?.id)).toEqual({ [a]: a2.id, [b]: b1.id });
    stream.close();

    // That id resumes both channels: only what came after it, per channel.
    const b2 = await publish(b, { b: 2 });
    const a3 = await publish(a, { a: 3 });
    const resumed = await openRaw(`/api/v1/events?channel=${a}&channel=${b}`, {
      cookie: cookieOf(viewer),
      'last-event-id': ea?.id ?? '',
    });
    await until(() => resumed.events().length >= 2, 'the replay');
    expect(resumed.events().map((f) => f.data)).toEqual([{ ...a3 }, { ...b2 }]);
    expect(decode(resumed.events()[1]?.id)).toEqual({ [a]: a3.id, [b]: b2.id });
    resumed.close();
  });
});

describe('the per-user SSE cap', () => {
  it('refuses one more stream with a real 429 (code 5003) and frees the slot when a client leaves', async () => {
    const viewer = await session();
    const headers = { cookie: cookieOf(viewer) };
    const open = [
      await openRaw('/api/v1/streams/weather/events', headers),
      await openRaw('/api/v1/events?channel=weather', headers),
    ];
    expect(open.map((s) => s.status)).toEqual([200, 200]);
    const refused = await openRaw('/api/v1/streams/weather/events', headers);
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^application\/json/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const body = await refused.json();
    expect(body).toMatchObject({ success: false, data: null });
    expect(body.error_detail).toMatchObject({ status: 429, error_code: ErrorCode.connectionCap });
    // Another user is not affected.
    const other = await openRaw('/api/v1/streams/weather/events', { cookie: cookieOf(await session()) });
    expect(other.status).toBe(200);
    other.close();

    open[0]?.close();
    let next: RawStream;
    const deadline = Date.now() + 3000;
    for (;;) {
      next = await openRaw('/api/v1/streams/weather/events', headers);
      if (next.status === 200 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(next.status).toBe(200);
    next.close();
    open[1]?.close();
  });
});

describe('EventSource clients', () => {
  it('reconnect on their own with Last-Event-ID and get what they missed exactly once, in order', async () => {
    const viewer = await session();
    const channel = freshChannel();
    const client = eventSource(`/api/v1/streams/${channel}/events`, { cookie: cookieOf(viewer) });
    await until(() => client.received.length >= 1, 'the snapshot');
    const sent = [];
    for (const n of [1, 2, 3]) sent.push(await publish(channel, { n }));
    await until(() => client.received.length >= 4, 'three events');

    // The server drops every connection; events keep coming while the client is away.
    t.app.server.server.closeAllConnections();
    for (const n of [4, 5]) sent.push(await publish(channel, { n }));
    await until(() => client.requests.length >= 2, 'the reconnection');
    expect(lastEventIdOf(client.requests[1]!)).toBe(sent[2]!.id);
    for (const n of [6, 7]) sent.push(await publish(channel, { n }));
    await until(() => client.received.length >= 8, 'every event');
    client.source.close();

    expect(client.received[0]).toMatchObject({ type: 'snapshot', data: { id: null, channel } });
    const events = client.received.slice(1);
    expect(events.map((e) => e.type)).toEqual(Array(7).fill('event'));
    expect(events.map((e) => e.data)).toEqual(sent.map((e) => ({ ...e })));
    expect(events.map((e) => e.lastEventId)).toEqual(sent.map((e) => e.id));
  });

  it('reconnect to /events and resume every channel', async () => {
    const viewer = await session();
    const [a, b] = [freshChannel(), freshChannel()];
    const client = eventSource(`/api/v1/events?channel=${a}&channel=${b}`, {
      authorization: `Bearer ${viewer.accessToken}`,
    });
    await until(() => client.received.length >= 2, 'the snapshots');
    const sent = [await publish(a, { a: 1 }), await publish(b, { b: 1 })];
    await until(() => client.received.length >= 4, 'two events');
    t.app.server.server.closeAllConnections();
    sent.push(await publish(b, { b: 2 }), await publish(a, { a: 2 }));
    await until(() => client.requests.length >= 2, 'the reconnection');
    await until(() => client.received.length >= 6, 'the missed events');
    client.source.close();
    const events = client.received.filter((e) => e.type === 'event').map((e) => e.data);
    const byChannel = (name: string, list: { channel: string }[]) => list.filter((e) => e.channel === name);
    expect(byChannel(a, events)).toEqual(byChannel(a, sent).map((e) => ({ ...e })));
    expect(byChannel(b, events)).toEqual(byChannel(b, sent).map((e) => ({ ...e })));
    expect(client.received.filter((e) => e.type === 'snapshot')).toHaveLength(2);
  });

  it('stop for good once the session has ended', async () => {
    const viewer = await session();
    const client = eventSource('/api/v1/streams/weather/events', { cookie: cookieOf(viewer) });
    await until(() => client.received.length >= 1, 'the snapshot');
    await viewer.client.call('/api/v1/auth/logout', { method: 'POST' });
    await until(() => client.source.readyState === EventSource.CLOSED, 'the client giving up');
    expect(client.received.at(-1)).toMatchObject({ type: 'error', data: { code: ErrorCode.sessionRevoked } });
    expect(client.failures.at(-1)?.code).toBe(401);
  });
});

describe('a session that ends ends its streams within a second', () => {
  const sessionIdOf = (who: SignedIn) => decodeJwt(who.accessToken).jti as string;

  async function openFor(who: SignedIn, path = '/api/v1/streams/weather/events') {
    const stream = await openRaw(path, { cookie: cookieOf(who) });
    expect(stream.status).toBe(200);
    await until(() => stream.events()[0], 'the snapshot');
    return stream;
  }

  async function expectEndedWithinASecond(stream: RawStream, action: () => Promise<unknown>) {
    const before = performance.now();
    await action();
    await until(() => stream.endedAt !== undefined, 'the end of the stream', 1500);
    expect((stream.endedAt ?? Infinity) - before).toBeLessThan(1000);
  }

  it('on logout', async () => {
    const viewer = await session();
    const stream = await openFor(viewer);
    await expectEndedWithinASecond(stream, () =>
      viewer.client.call('/api/v1/auth/logout', { method: 'POST' }),
    );
    expect(stream.events().at(-1)).toMatchObject({
      event: 'error',
      data: { code: ErrorCode.sessionRevoked },
    });
  });

  it('on revocation of the session (DELETE /auth/sessions/{id}) from another session', async () => {
    const user = await t.createUser();
    const [streaming, other] = [await t.signIn(user), await t.signIn(user)];
    const stream = await openFor(streaming, '/api/v1/events?channel=weather');
    await expectEndedWithinASecond(stream, async () => {
      const res = await other.client.call(`/api/v1/auth/sessions/${sessionIdOf(streaming)}`, {
        method: 'DELETE',
      });
      expect(res.status).toBe(204);
    });
  });

  it('on a password change in another session', async () => {
    const user = await t.createUser();
    const [streaming, other] = [await t.signIn(user), await t.signIn(user)];
    const stream = await openFor(streaming);
    await expectEndedWithinASecond(stream, async () => {
      const res = await other.client.call('/api/v1/auth/password', {
        json: { current_password: user.password, new_password: 'another-password-Zr8#pQw4' },
      });
      expect(res.status).toBe(200);
    });
  });

  it('when an admin disables the user', async () => {
    const viewer = await session();
    const stream = await openFor(viewer);
    await expectEndedWithinASecond(stream, async () => {
      const res = await admin.client.call(`/api/v1/users/${viewer.body.data.user.id}`, {
        method: 'PATCH',
        json: { disabled: true },
      });
      expect(res.status).toBe(200);
    });
  });

  it('when a role change removes access to the channel (an error frame, then the end)', async () => {
    const editor = await session({ role: 'editor' });
    const stream = await openFor(editor, '/api/v1/streams/config/events');
    await expectEndedWithinASecond(stream, async () => {
      const res = await admin.client.call(`/api/v1/users/${editor.body.data.user.id}`, {
        method: 'PATCH',
        json: { role: 'viewer' },
      });
      expect(res.status).toBe(200);
    });
    expect(stream.events().at(-1)).toMatchObject({
      event: 'error',
      data: { channel: 'config', code: ErrorCode.forbidden },
    });
  });

  it('on /events, a lost channel ends only its own subscription', async () => {
    const operator = await session({ role: 'editor', groups: ['ops'] });
    const stream = await openFor(operator, '/api/v1/events?channel=plant.alarms&channel=weather');
    await until(() => stream.events().length >= 2, 'both snapshots');
    const res = await admin.client.call(`/api/v1/users/${operator.body.data.user.id}`, {
      method: 'PATCH',
      json: { groups: [] },
    });
    expect(res.status).toBe(200);
    await until(() => stream.events().length >= 3, 'the error frame', 1000);
    expect(stream.events()[2]).toMatchObject({ event: 'error', data: { channel: 'plant.alarms' } });
    const event = await publish('weather', { still: 'here' });
    await until(() => stream.events().length >= 4, 'the next weather event');
    expect(stream.events()[3]).toMatchObject({ event: 'event', data: { ...event } });
    expect(stream.endedAt).toBeUndefined();
    stream.close();
  });
});

describe('shutdown', () => {
  it('ends open streams after a retry hint, so shutdown does not wait for them', async () => {
    const own = await startTestApp();
    try {
      const viewer = await own.signIn(await own.createUser());
      const path = `/api/v1/streams/user:${viewer.body.data.user.id}/events`;
      const stream = await openRaw(path, { cookie: cookieOf(viewer) }, own.url);
      await until(() => stream.events()[0], 'the snapshot');
      const before = performance.now();
      await own.app.shutdown();
      expect(performance.now() - before).toBeLessThan(own.settings.shutdownGraceMs / 2);
      await until(() => stream.endedAt !== undefined, 'the end of the stream');
      const frames = stream.frames();
      expect(frames.at(-1)?.retry).toBeGreaterThanOrEqual(RETRY_MS);
    } finally {
      await own.close();
    }
  });
});
