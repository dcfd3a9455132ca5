import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { LiveEvent } from '../../src/live/bus.js';
import { type SignedIn, startTestApp, type TestApp } from '../fixture.js';
import { LiveSocket, openEventSource, socketUrl } from '../live-client.js';

/** The smallest backlog bound there is: a replay must not be mistaken for a client that stopped reading. */
const ENV = {
  SWITCHBOARD_RATE_LIMITS: 'login.ip=off,login.username=off,tickets.issue=off',
  SWITCHBOARD_WS_MAX_BACKLOG_BYTES: '1024',
};

describe('replay of many missed events', () => {
  let t: TestApp;
  let viewer: SignedIn;

  beforeAll(async () => {
    t = await startTestApp({ env: ENV });
    viewer = await t.signIn(await t.createUser({ role: 'viewer' }));
    t.app.live.channels.declare({
      name: 'replay.many',
      access: { minRole: 'viewer' },
      history: { size: 5000 },
    });
  });
  afterAll(() => t.close());

  async function connect(): Promise<LiveSocket<any>> {
    const res = await viewer.client.call('/api/v1/auth/ws-ticket', { method: 'POST', json: {} });
    expect(res.status).toBe(200);
    const socket = new LiveSocket<any>(
      new WebSocket(socketUrl(t, `?ticket=${encodeURIComponent(res.body.data.ticket)}`)),
    );
    await socket.opened;
    return socket;
  }

  it('WebSocket: sends every missed event once and in order, then live ones, past the backlog bound in total', async () => {
    const publish = (n: number) => t.app.live.bus.publish('replay.many', { n, padding: 'x'.repeat(100) });
    const since = await publish(0);
    const missed: LiveEvent[] = [];
    for (let n = 1; n <= 1000; n += 1) missed.push(await publish(n));
    const socket = await connect();
    const subscribed = await socket.subscribe('replay.many', since.id);
    expect(subscribed).toMatchObject({ type: 'subscribed', recovered: true, last_id: missed.at(-1)?.id });
    const after = await publish(1001);
    const live = await socket.next((f) => f.type === 'event' && f.id === after.id, 'the live event', 10_000);
    const events = [...socket.frames.filter((f) => f.type === 'event'), live];
    expect(events.map((f) => f.id)).toEqual([...missed, after].map((e) => e.id));
    expect(events.map((f) => f.data.n)).toEqual(Array.from({ length: 1001 }, (_, i) => i + 1));
    expect(socket.closedWith).toBeUndefined();
    await socket.close();
  });

  it('SSE: sends every missed event once and in order, then live ones', async () => {
    t.app.live.channels.declare({
      name: 'replay.sse',
      access: { minRole: 'viewer' },
      history: { size: 5000 },
    });
    const publish = (n: number) => t.app.live.bus.publish('replay.sse', { n, padding: 'x'.repeat(100) });
    const since = await publish(0);
    const missed: LiveEvent[] = [];
    for (let n = 1; n <= 1000; n += 1) missed.push(await publish(n));
    const stream = openEventSource(
      t,
      `/api/v1/streams/replay.sse/events?last_event_id=${encodeURIComponent(since.id)}`,
      viewer,
    );
    try {
      await stream.next(
        (f) => f.type === 'event' && f.lastEventId === missed.at(-1)?.id,
        'the replay',
        0,
        10_000,
      );
      const after = await publish(1001);
      await stream.next((f) => f.type === 'event' && f.lastEventId === after.id, 'the live event', 0, 10_000);
      expect(stream.received.map((f) => [f.type, f.lastEventId])).toEqual(
        [...missed, after].map((e) => ['event', e.id]),
      );
      expect(stream.received.map((f) => (f.data.data as { n: number }).n)).toEqual(
        Array.from({ length: 1001 }, (_, i) => i + 1),
      );
    } finally {
      stream.close();
    }
  });
});
