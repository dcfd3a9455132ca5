import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ErrorCode } from '../../src/platform/problem.js';
import { type SignedIn, startTestApp, type TestApp, testClock } from '../fixture.js';
import { LiveSocket, openRawStream, type RawFrame, socketUrl, until } from '../live-client.js';

/**
 * A stream opened with an API key answers to the key and its owner as they are now, exactly like a stream
 * opened with a session: revoked or expired key, owner disabled or deleted → the stream ends (WebSocket
 * 4403, an SSE `error` frame with code 1002 and the end of the response); owner demoted or out of a group
 * → the subscriptions they lost end with code 1001 and the rest carry on. Each within a second.
 */

const clock = testClock();
let t: TestApp;
let admin: SignedIn;

beforeAll(async () => {
  t = await startTestApp({
    now: () => clock.now,
    env: {
      SWITCHBOARD_RATE_LIMITS: 'login.ip=off,login.username=off,api_keys.create=off',
      // Long enough that only the event, not the periodic re-check, can end a stream within a second.
      SWITCHBOARD_STREAM_RECHECK_INTERVAL: '10s',
    },
  });
  admin = await t.signIn(await t.createUser({ role: 'admin' }));
  t.app.live.channels.declare({ name: 'weather', access: { minRole: 'viewer' } });
  t.app.live.channels.declare({
    name: 'plant.alarms',
    access: { minRole: 'editor', groups: { oneOf: ['ops'] } },
  });
});
afterAll(() => t.close());

/** An editor in `ops` and a key of theirs (role editor) that may follow both channels. */
async function keyOwner(expiresAt?: number) {
  const owner = await t.createUser({ role: 'editor', groups: ['ops'] });
  const session = await t.signIn(owner);
  const created = await session.client.call('/api/v1/auth/api-keys', {
    json: {
      name: 'console',
      role: 'editor',
      ...(expiresAt !== undefined && { expires_at: new Date(expiresAt).toISOString() }),
    },
  });
  expect(created.status).toBe(201);
  return { id: owner.record.id, key: created.body.data.key as string, keyId: created.body.data.id as string };
}

/** What a test needs of a live stream, whichever transport carries it. */
interface KeyStream {
  /** Resolves when the whole stream ends because its credential did. */
  ended(): Promise<void>;
  /** Resolves when the subscription to `channel` ends because the rights to it went. */
  lost(channel: string): Promise<void>;
  /** Whether an event published now on `channel` still arrives. */
  receives(channel: string): Promise<boolean>;
  close(): void;
}

const CHANNELS = ['weather', 'plant.alarms'];

async function overWebSocket(key: string): Promise<KeyStream> {
  const socket = new LiveSocket<any>(
    new WebSocket(socketUrl(t), { headers: { authorization: `Bearer ${key}` } }),
  );
  await socket.opened;
  for (const channel of CHANNELS) expect((await socket.subscribe(channel)).type).toBe('subscribed');
  return {
    async ended() {
      const closed = await until(() => socket.closedWith, 'the socket to close', 1000);
      expect(closed.code).toBe(4403);
    },
    async lost(channel) {
      const frame = await socket.next(
        (f) => f.type === 'error' && f.channel === channel,
        `the end of ${channel}`,
        1000,
      );
      expect(frame.code).toBe(ErrorCode.forbidden);
    },
    async receives(channel) {
      const event = await t.app.live.bus.publish(channel, { probe: true });
      await socket.drain();
      return socket.all.some((f) => f.type === 'event' && f.id === event.id);
    },
    close: () => socket.terminate(),
  };
}

async function overEventStream(key: string): Promise<KeyStream> {
  const query = CHANNELS.map((c) => `channel=${c}`).join('&');
  const stream = await openRawStream(t.url, `/api/v1/events?${query}`, { authorization: `Bearer ${key}` });
  expect(stream.status).toBe(200);
  const errorFrame = (match: (frame: RawFrame) => boolean) =>
    until(() => stream.events().find((f) => f.event === 'error' && match(f)), 'an error frame', 1000);
  return {
    async ended() {
      const frame = await errorFrame((f) => f.data.channel === undefined);
      expect(frame.data.code).toBe(ErrorCode.sessionRevoked);
      await until(() => stream.endedAt !== undefined, 'the response to end', 1000);
    },
    async lost(channel) {
      const frame = await errorFrame((f) => f.data.channel === channel);
      expect(frame.data.code).toBe(ErrorCode.forbidden);
    },
    async receives(channel) {
      const event = await t.app.live.bus.publish(channel, { probe: true });
      return until(
        () => stream.events().some((f) => f.event === 'event' && f.data.id === event.id),
        'the event',
        1000,
      ).catch(() => false);
    },
    close: () => stream.close(),
  };
}

describe.each([
  ['WebSocket', overWebSocket],
  ['SSE', overEventStream],
] as const)('a %s stream opened with an API key', (_transport, open) => {
  it('ends when the key is revoked', async () => {
    const { key, keyId } = await keyOwner();
    const stream = await open(key);
    const res = await admin.client.call(`/api/v1/auth/api-keys/${keyId}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    await stream.ended();
  });

  it('ends when the key expires', async () => {
    const { key } = await keyOwner(clock.now + 60_000);
    const stream = await open(key);
    expect(await stream.receives('weather')).toBe(true);
    clock.advance(60_000);
    await stream.ended();
    clock.advance(-60_000);
  });

  it('ends when its owner is disabled', async () => {
    const owner = await keyOwner();
    const stream = await open(owner.key);
    const res = await admin.client.call(`/api/v1/users/${owner.id}`, {
      method: 'PATCH',
      json: { disabled: true },
    });
    expect(res.status).toBe(200);
    await stream.ended();
  });

  it('ends when its owner is deleted', async () => {
    const owner = await keyOwner();
    const stream = await open(owner.key);
    expect((await admin.client.call(`/api/v1/users/${owner.id}`, { method: 'DELETE' })).status).toBe(204);
    await stream.ended();
  });

  it('loses the channels a demotion of its owner takes away, and keeps the others', async () => {
    const owner = await keyOwner();
    const stream = await open(owner.key);
    const res = await admin.client.call(`/api/v1/users/${owner.id}`, {
      method: 'PATCH',
      json: { role: 'viewer' },
    });
    expect(res.status).toBe(200);
    await stream.lost('plant.alarms');
    expect(await stream.receives('weather')).toBe(true);
    stream.close();
  });

  it('loses the channels a group its owner left gave it, and keeps the others', async () => {
    const owner = await keyOwner();
    const stream = await open(owner.key);
    const res = await admin.client.call(`/api/v1/users/${owner.id}`, {
      method: 'PATCH',
      json: { groups: [] },
    });
    expect(res.status).toBe(200);
    await stream.lost('plant.alarms');
    expect(await stream.receives('weather')).toBe(true);
    stream.close();
  });
});

describe('the periodic re-check of API-key streams', () => {
  it('ends a stream whose owner was disabled where no event reached this instance', async () => {
    const own = await startTestApp({ env: { SWITCHBOARD_STREAM_RECHECK_INTERVAL: '1s' } });
    try {
      own.app.live.channels.declare({ name: 'weather', access: { minRole: 'viewer' } });
      const user = await own.createUser({ role: 'viewer' });
      const session = await own.signIn(user);
      const created = await session.client.call('/api/v1/auth/api-keys', {
        json: { name: 'wall', role: 'viewer' },
      });
      const socket = new LiveSocket<any>(
        new WebSocket(socketUrl(own), { headers: { authorization: `Bearer ${created.body.data.key}` } }),
      );
      await socket.opened;
      expect((await socket.subscribe('weather')).type).toBe('subscribed');
      // A second instance on the same database, with no bus between them: the command line, say.
      const other = await startTestApp({ shareDatabaseWith: own });
      try {
        await other.app.auth.users.update(
          user.record.id,
          { disabled: true },
          { actor: null, ip: null, userAgent: null },
        );
      } finally {
        await other.app.shutdown();
      }
      const closed = await until(() => socket.closedWith, 'the re-check to end the socket', 3000);
      expect(closed.code).toBe(4403);
    } finally {
      await own.close();
    }
  });
});
