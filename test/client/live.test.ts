import { type AddressInfo, createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  type LiveEvent,
  type SubscriptionEnd,
  type Switchboard,
  type TransportName,
  type WebSocketConstructor,
} from '../../packages/client/src/index.js';
import { wsTimings } from '../../src/live/ws-gateway.js';
import { startTestApp, type TestApp, type TestUser, testClock } from '../fixture.js';
import {
  CuttableProxy,
  declare,
  newLog,
  nodeClient,
  type SocketLog,
  states,
  until,
  waitForState,
} from './harness.js';

wsTimings.expiryCheckMs = 50;

const ENV = {
  SWITCHBOARD_RATE_LIMITS: 'login.ip=off,login.username=off,tickets.issue=off,streams.publish=off',
  SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '10000',
  SWITCHBOARD_WS_AUTH_GRACE: '2s',
};

/** What one subscription received, in order. */
interface Received {
  events: LiveEvent[];
  snapshots: (LiveEvent | null)[];
  resets: number;
  ends: SubscriptionEnd[];
}

const received = (): Received => ({ events: [], snapshots: [], resets: 0, ends: [] });

function handlersOf(into: Received) {
  return {
    event: (e: LiveEvent) => into.events.push(e),
    snapshot: (e: LiveEvent | null) => into.snapshots.push(e),
    reset: () => {
      into.resets += 1;
    },
    end: (end: SubscriptionEnd) => into.ends.push(end),
  };
}

const seqOf = (event: LiveEvent) => Number(event.id.split(':')[1]);

describe.each(['websocket', 'sse'] as TransportName[])('@switchboard/client live over %s', (transport) => {
  const clock = testClock();
  let t: TestApp;
  let viewer: TestUser;
  let proxy: CuttableProxy;
  const clients: Switchboard[] = [];
  const publish = (channel: string, data: unknown) => t.app.live.bus.publish(channel, data);

  const connect = async (options: { log?: SocketLog; through?: string; now?: () => number } = {}) => {
    const sb = nodeClient(options.through ?? t.url, {
      ...(options.log && { log: options.log }),
      ...(options.now && { now: options.now }),
      live: { transport },
    });
    clients.push(sb);
    await sb.signIn(viewer.username, viewer.password);
    return sb;
  };

  beforeAll(async () => {
    t = await startTestApp({ env: ENV, now: () => clock.now });
    viewer = await t.createUser({ role: 'viewer' });
    declare(t, 'plant.feed', { size: 1000 });
    declare(t, 'plant.tiny', { size: 2 });
    declare(t, 'plant.quiet');
    proxy = new CuttableProxy(Number(new URL(t.url).port));
    await proxy.start();
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await proxy?.stop();
    await t?.close();
  });

  it('subscribes: the snapshot first, then events in order; states connecting then live', async () => {
    const sb = await connect();
    const seen = states(sb);
    await publish('plant.feed', { n: 0 });
    const got = received();
    const quiet = received();
    sb.live.subscribe('plant.feed', handlersOf(got));
    sb.live.subscribe('plant.quiet', handlersOf(quiet));
    await waitForState(sb, 'live');
    expect(sb.live.transportName).toBe(transport);
    await until(() => got.snapshots.length === 1 && quiet.snapshots.length === 1, 'the snapshots');
    expect(got.snapshots[0]?.data).toEqual({ n: 0 });
    expect(quiet.snapshots).toEqual([null]);
    for (let n = 1; n <= 5; n++) await publish('plant.feed', { n });
    await until(() => got.events.length === 5, 'five events');
    expect(got.events.map((e) => e.data)).toEqual([1, 2, 3, 4, 5].map((n) => ({ n })));
    expect(seen.slice(0, 3)).toEqual(['offline', 'connecting', 'live']);
  });

  it('recovers 1,000 events missed while the network was cut: each once, in order, no reset', async () => {
    const sb = await connect({ through: proxy.url });
    const seen = states(sb);
    const got = received();
    const subscription = sb.live.subscribe('plant.feed', handlersOf(got));
    await waitForState(sb, 'live');
    await until(() => got.snapshots.length === 1, 'the snapshot');
    await publish('plant.feed', { n: 'before' });
    await until(() => got.events.length === 1, 'the first event');
    const lastSeen = subscription.lastId;

    proxy.cut();
    await until(() => sb.live.state !== 'live', 'the client to notice the cut');
    const missed: string[] = [];
    for (let n = 0; n < 1000; n++) missed.push((await publish('plant.feed', { n })).id);
    proxy.mend();

    await until(() => got.events.length === 1001, `1,001 events (${got.events.length})`, 20_000);
    await waitForState(sb, 'live');
    expect(got.events.slice(1).map((e) => e.id)).toEqual(missed);
    expect(got.events.map((e) => e.data).slice(1, 4)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
    expect(got.resets).toBe(0);
    expect(got.snapshots.length).toBe(1);
    expect(sb.live.stats).toMatchObject({ gaps: 0, resets: 0 });
    expect(seqOf(got.events[1] as LiveEvent)).toBe(Number(lastSeen?.split(':')[1]) + 1);
    expect(seen).toContain('recovering');
    expect(seen.at(-1)).toBe('live');
    // Still live after the recovery.
    await publish('plant.feed', { n: 'after' });
    await until(() => got.events.length === 1002, 'the event after');
  }, 60_000);

  it('hands on reset and the snapshot when the history no longer reaches back', async () => {
    const sb = await connect({ through: proxy.url });
    const got = received();
    sb.live.subscribe('plant.tiny', handlersOf(got));
    await waitForState(sb, 'live');
    await publish('plant.tiny', { n: 0 });
    await until(() => got.events.length + got.snapshots.filter(Boolean).length >= 1, 'the first event');
    proxy.cut();
    await until(() => sb.live.state !== 'live', 'the client to notice the cut');
    for (let n = 1; n <= 10; n++) await publish('plant.tiny', { n });
    proxy.mend();
    await until(() => got.resets === 1, 'the reset');
    await until(
      () =>
        got.snapshots.at(-1)?.data !== undefined && (got.snapshots.at(-1)?.data as { n: number }).n === 10,
      'the snapshot after the reset',
    );
    await waitForState(sb, 'live');
    await publish('plant.tiny', { n: 11 });
    await until(
      () => got.events.at(-1)?.data !== undefined && (got.events.at(-1)?.data as { n: number }).n === 11,
      'the next event',
    );
    expect(sb.live.stats.gaps).toBe(0);
  }, 30_000);

  it('ends a subscription to a channel that does not exist, and keeps the others', async () => {
    const sb = await connect();
    const good = received();
    const bad = received();
    sb.live.subscribe('plant.feed', handlersOf(good));
    sb.live.subscribe('no.such.channel', handlersOf(bad));
    await until(() => bad.ends.length === 1, 'the refusal');
    expect(bad.ends[0]).toMatchObject({ reason: 'not-found', code: 3000 });
    await until(() => good.snapshots.length === 1, 'the snapshot of the good channel');
    await waitForState(sb, 'live');
    await publish('plant.feed', { n: 'still' });
    await until(() => good.events.some((e) => (e.data as { n: string }).n === 'still'), 'the next event');
  });

  it('reports signed-out when the session is revoked, and stops reconnecting', async () => {
    const sb = await connect();
    const got = received();
    sb.live.subscribe('plant.feed', handlersOf(got));
    await waitForState(sb, 'live');
    const signedOut: unknown[] = [];
    sb.session.on('signed-out', (error) => signedOut.push(error));
    const other = await t.signIn(viewer);
    expect((await other.client.call('/api/v1/auth/sessions', { method: 'DELETE' })).status).toBe(200);
    await waitForState(sb, 'signed-out');
    expect(signedOut.length).toBe(1);
    // Nothing comes back on its own.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sb.live.state).toBe('signed-out');
  });
});

describe('@switchboard/client live: tickets and transports', () => {
  const clock = testClock();
  let t: TestApp;
  let viewer: TestUser;
  const clients: Switchboard[] = [];

  beforeAll(async () => {
    t = await startTestApp({ env: ENV, now: () => clock.now });
    viewer = await t.createUser({ role: 'viewer' });
    declare(t, 'plant.feed');
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => t?.close());

  it('answers auth_required with a fresh ticket (refreshing its token first): the socket stays', async () => {
    const log = newLog();
    const sb = nodeClient(t.url, { log, now: () => clock.now });
    clients.push(sb);
    await sb.signIn(viewer.username, viewer.password);
    const got = received();
    sb.live.subscribe('plant.feed', handlersOf(got));
    await waitForState(sb, 'live');
    // The access token's lifetime passes on the server's clock and the client's.
    clock.advance(15 * 60_000 + 1000);
    await until(() => log.frames.some((f) => f.type === 'auth_required'), 'auth_required');
    await until(() => log.frames.some((f) => f.type === 'authenticated'), 'the renewal');
    // Past the grace period: a socket that was not renewed would be closed with 4403 by now.
    clock.advance(3000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await t.app.live.bus.publish('plant.feed', { n: 'renewed' });
    await until(() => got.events.length === 1, 'an event on the renewed socket');
    expect(log.sockets.length).toBe(1);
    expect(log.sent.filter((m) => m.type === 'auth').length).toBe(1);
    expect(sb.live.state).toBe('live');
  });

  it('subscribes again on a new connection when a ticket expired before it was used', async () => {
    const log = newLog();
    const sb = nodeClient(t.url, { log, now: () => clock.now });
    clients.push(sb);
    await sb.signIn(viewer.username, viewer.password);
    // The first ticket is spent by someone else before the client can use it: the socket closes with
    // 4401, and the client takes another ticket and subscribes again.
    const realTicket = sb.session.ticket.bind(sb.session);
    let first = true;
    sb.session.ticket = async () => {
      const ticket = await realTicket();
      if (first) {
        first = false;
        const spend = new WebSocket(
          `${t.url.replace('http', 'ws')}/api/v1/ws?ticket=${encodeURIComponent(ticket)}`,
        );
        await new Promise((resolve) => spend.once('open', resolve));
        spend.close();
      }
      return ticket;
    };
    const got = received();
    sb.live.subscribe('plant.feed', handlersOf(got));
    await waitForState(sb, 'live');
    expect(log.sockets.length).toBe(2);
    await t.app.live.bus.publish('plant.feed', { n: 1 });
    await until(() => got.events.length === 1, 'an event');
  });

  it('falls back to Server-Sent Events when no WebSocket can open', async () => {
    // A WebSocket whose upgrade nobody answers (a proxy that does not pass upgrades).
    const Broken = class extends WebSocket {
      constructor(url: string) {
        super(url.replace('/api/v1/ws', '/api/v1/no-websocket-here'));
        this.on('error', () => {});
      }
    } as unknown as WebSocketConstructor;
    const sb = nodeClient(t.url, { now: () => clock.now, live: { WebSocket: Broken } });
    clients.push(sb);
    await sb.signIn(viewer.username, viewer.password);
    const transports: string[] = [];
    sb.live.on('transport', (name) => transports.push(name));
    const got = received();
    sb.live.subscribe('plant.feed', handlersOf(got));
    await waitForState(sb, 'live');
    expect(sb.live.transportName).toBe('sse');
    expect(transports).toEqual(['websocket', 'websocket', 'sse']);
    await t.app.live.bus.publish('plant.feed', { n: 1 });
    await until(() => got.events.length === 1, 'an event over SSE');
  });

  it.each(['websocket', 'sse'] as TransportName[])(
    'gives up on a connection that does not answer (%s), and keeps trying',
    async (transport) => {
      // A server that accepts connections and never answers them.
      const silent = createServer(() => {});
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as AddressInfo;
      try {
        const sb = nodeClient(`http://127.0.0.1:${port}`, {
          tokens: {
            accessToken: 'a.b.c',
            refreshToken: 'r',
            expiresAt: Date.now() + 600_000,
            refreshExpiresAt: Date.now() + 600_000,
          },
          live: { transport, connectTimeoutMs: 200, baseDelayMs: 20, maxDelayMs: 50 },
        });
        clients.push(sb);
        const errors: string[] = [];
        sb.live.on('error', (error) => errors.push(error.message));
        sb.live.subscribe('plant.feed', {});
        await waitForState(sb, 'offline', 5000);
        expect(errors.length).toBeGreaterThanOrEqual(3);
      } finally {
        silent.close();
      }
    },
  );

  it('uses Server-Sent Events with an API key (which cannot take tickets)', async () => {
    const admin = await t.createUser({ role: 'admin' });
    const owner = await t.signIn(admin);
    const created = await owner.client.call('/api/v1/auth/api-keys', {
      method: 'POST',
      json: { name: 'client-live', role: 'viewer' },
    });
    const sb = nodeClient(t.url, { apiKey: created.body.data.key });
    clients.push(sb);
    const got = received();
    sb.live.subscribe('plant.feed', handlersOf(got));
    await waitForState(sb, 'live');
    expect(sb.live.transportName).toBe('sse');
    await t.app.live.bus.publish('plant.feed', { n: 'key' });
    await until(() => got.events.length >= 1, 'an event');
  });
});
