import { setTimeout as sleep } from 'node:timers/promises';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignedIn, startTestApp, type TestApp } from '../fixture.js';
import { type LiveSocket, openSocket, until } from '../live-client.js';
import { TcpProxy } from '../ratelimit/tcp-proxy.js';
import { RedisRun, redisUrl } from './redis-run.js';

/**
 * While Redis is away, opening a subscription answers 503 code 8001 (docs/live.md, "When Redis is away") and
 * streams already open stay open. On a WebSocket that answer is the documented `error` frame: the socket and
 * its other subscriptions go on. Needs SWITCHBOARD_TEST_REDIS_URL (one of vitest.config.ts's REDIS_SUITES).
 */
describe('a WebSocket subscribe while Redis is away', () => {
  let run: RedisRun;
  let proxy: TcpProxy;
  let t: TestApp;
  let admin: SignedIn;
  let errorMessage: { payload: object };

  beforeAll(async () => {
    run = new RedisRun();
    const target = new URL(redisUrl);
    proxy = new TcpProxy(target.hostname, Number(target.port || 6379));
    await proxy.start();
    t = await startTestApp({
      env: {
        SWITCHBOARD_REDIS_URL: proxy.url,
        SWITCHBOARD_REDIS_KEY_PREFIX: run.prefix(),
        SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '10000',
      },
    });
    admin = await t.signIn(await t.createUser({ role: 'admin' }));
    for (const name of ['weather', 'wind'])
      t.app.live.channels.declare({ name, access: { minRole: 'viewer' } });
    const doc = (await (await fetch(`${t.url}/asyncapi.json`)).json()) as {
      components: { messages: Record<string, { payload: object }> };
    };
    errorMessage = doc.components.messages.wsError as { payload: object };
  });

  afterAll(async () => {
    await t?.close();
    await proxy?.stop();
    await run?.end();
  });

  it('gets an error frame with code 8001, and the socket and its other subscriptions stay open', async () => {
    const socket: LiveSocket = await openSocket(t, admin);
    expect((await socket.subscribe('weather')).type).toBe('subscribed');

    await proxy.stop();
    socket.send({ type: 'subscribe', id: 'away', channel: 'wind' });
    const outcome = await until(
      () => socket.closedWith ?? socket.frames.find((f) => f.id === 'away'),
      'an answer or a close',
    );
    expect(outcome).toMatchObject({ type: 'error', id: 'away', code: 8001 });
    const validate = new Ajv({ strict: false }).compile(errorMessage.payload);
    expect(validate(outcome), JSON.stringify(validate.errors)).toBe(true);
    expect(await socket.alive()).toBe(true);

    await proxy.start();
    const deadline = Date.now() + 10_000;
    let answer = await socket.subscribe('wind');
    while (answer.type !== 'subscribed' && Date.now() < deadline) {
      await sleep(100);
      answer = await socket.subscribe('wind');
    }
    expect(answer).toMatchObject({ type: 'subscribed', channel: 'wind' });
    const event = await t.app.live.bus.publish('weather', { temperature: 12 });
    expect(await socket.next((f) => f.type === 'event' && f.channel === 'weather')).toMatchObject({
      id: event.id,
    });
    await socket.close();
  });
});
