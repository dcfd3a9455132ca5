import { request as httpRequest } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/platform/problem.js';
import type { Client } from '../client.js';
import { startTestApp, TEST_PASSWORD, type TestApp } from '../fixture.js';
import { expectRefused, times } from './limited.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const GENEROUS_TIERS = {
  SWITCHBOARD_RATE_LIMIT_IP_FLOOR: '10000',
  SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '10000',
  SWITCHBOARD_RATE_LIMIT_AUTHENTICATED: '10000',
};
const start = (env: Record<string, string>, routes?: FastifyPluginAsync) =>
  startTestApp({ env: { ...GENEROUS_TIERS, ...env }, routes });

const login = (c: Client, username: string, password = 'not-the-password-1', from?: string) =>
  c.call('/api/v1/auth/login', {
    json: { username, password },
    headers: from ? { 'x-forwarded-for': from } : {},
  });

describe('sign-in limits', () => {
  it('refuse a fourth attempt from one address with 5001, even with the right password', async () => {
    t = await start({ SWITCHBOARD_RATE_LIMITS: 'login.ip=3/1m' });
    const user = await t.createUser();
    const c = t.client();
    expect((await times(3, () => login(c, user.username))).map((r) => r.status)).toEqual([401, 401, 401]);
    const refused = await login(c, user.username, user.password);
    expectRefused(refused, ErrorCode.operationRateLimited);
    expect(refused.body.error).toMatch(/sign-in attempts from one address: at most 3 per minute/);
  });

  it('count attempts at one username from many addresses, whatever its case', async () => {
    t = await start({
      SWITCHBOARD_TRUSTED_PROXIES: '127.0.0.1',
      SWITCHBOARD_RATE_LIMITS: 'login.username=3/1m',
    });
    const alice = await t.createUser();
    const bob = await t.createUser();
    const c = t.client();
    await login(c, alice.username, undefined, '203.0.113.1');
    await login(c, alice.username.toUpperCase(), undefined, '203.0.113.2');
    await login(c, ` ${alice.username}`, undefined, '203.0.113.3');
    expectRefused(
      await login(c, alice.username, alice.password, '198.51.100.4'),
      ErrorCode.operationRateLimited,
    );
    expect((await login(c, bob.username, bob.password, '203.0.113.1')).status).toBe(200);
  });

  it('can be turned off one by one', async () => {
    t = await start({
      SWITCHBOARD_RATE_LIMITS: 'login.ip=off,login.username=off',
      SWITCHBOARD_LOCKOUT_THRESHOLD: '100',
    });
    const c = t.client();
    const statuses = new Set((await times(40, () => login(c, 'nobody'))).map((r) => r.status));
    expect([...statuses]).toEqual([401]);
  });
});

describe('per-user operation limits', () => {
  it('limit connect tickets per user, not per address', async () => {
    t = await start({ SWITCHBOARD_RATE_LIMITS: 'tickets.issue=2/1m' });
    const alice = await t.signIn(await t.createUser());
    const bob = await t.signIn(await t.createUser());
    const ticket = (c: Client) => c.call('/api/v1/auth/ws-ticket', { method: 'POST' });
    expect((await times(2, () => ticket(alice.client))).map((r) => r.status)).toEqual([200, 200]);
    expectRefused(await ticket(alice.client), ErrorCode.operationRateLimited);
    expect((await ticket(bob.client)).status).toBe(200);
  });

  it('limit user administration writes, and leave reads alone', async () => {
    t = await start({ SWITCHBOARD_RATE_LIMITS: 'users.write=2/1m' });
    const admin = await t.signIn(await t.createUser({ role: 'admin' }));
    const create = (n: number) =>
      admin.client.call('/api/v1/users', {
        json: { username: `made-${n}`, password: TEST_PASSWORD, role: 'viewer' },
      });
    expect((await create(1)).status).toBe(201);
    expect((await create(2)).status).toBe(201);
    expectRefused(await create(3), ErrorCode.operationRateLimited);
    expect((await admin.client.call('/api/v1/users')).status).toBe(200);
  });

  it('limit API key listing and creation separately', async () => {
    t = await start({ SWITCHBOARD_RATE_LIMITS: 'api_keys.list=1/1m,api_keys.create=1/1h' });
    const alice = await t.signIn(await t.createUser());
    const keys = '/api/v1/auth/api-keys';
    expect((await alice.client.call(keys)).status).toBe(200);
    expectRefused(await alice.client.call(keys), ErrorCode.operationRateLimited);
    expect((await alice.client.call(keys, { json: { name: 'one', role: 'viewer' } })).status).toBe(201);
    const refused = await alice.client.call(keys, { json: { name: 'two', role: 'viewer' } });
    expectRefused(refused, ErrorCode.operationRateLimited);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3000);
  });
});

/** A route that holds each request until the test lets it go. */
function gatedRoute(cap: 'config.test' | 'widgets.register') {
  const waiting: (() => void)[] = [];
  const routes: FastifyPluginAsync = async (api) => {
    api.post('/slow', { config: { rateLimit: { concurrency: cap } } }, async () => {
      await new Promise<void>((resolve) => waiting.push(resolve));
      return { done: true };
    });
  };
  const releaseAll = () => {
    for (const resolve of waiting.splice(0)) resolve();
  };
  const held = () => waiting.length;
  return { routes, releaseAll, held };
}

/**
 * Sends requests until one is held by the gate (its slot was free) or 50 were refused; the server may take
 * a moment to notice a hang-up.
 */
async function heldOrRefused(send: () => Promise<{ status: number }>, held: () => boolean): Promise<string> {
  for (let i = 0; i < 50; i += 1) {
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      send().then((r) => String(r.status)),
      new Promise<string>((resolve) => {
        timer = setInterval(() => held() && resolve('held'), 5);
      }),
    ]);
    clearInterval(timer);
    if (outcome === 'held') return outcome;
    await new Promise((r) => setTimeout(r, 20));
  }
  return 'refused';
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i += 1) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}

describe('concurrency caps', () => {
  const slow = (c: Client) => c.call('/api/v1/slow', { method: 'POST' });

  it('refuse a second function test in flight for one user with 5002, and free the slot when it ends', async () => {
    const gate = gatedRoute('config.test');
    t = await start({}, gate.routes);
    const alice = await t.signIn(await t.createUser());
    const bob = await t.signIn(await t.createUser());
    const first = slow(alice.client);
    await until(() => gate.held() === 1);
    const refused = await slow(alice.client);
    expectRefused(refused, ErrorCode.concurrencyCap);
    expect(refused.body.error).toMatch(/at most 1 at once/);
    const other = slow(bob.client);
    await until(() => gate.held() === 2);
    gate.releaseAll();
    expect((await first).status).toBe(200);
    expect((await other).status).toBe(200);
    const again = slow(alice.client);
    await until(() => gate.held() === 1);
    gate.releaseAll();
    expect((await again).status).toBe(200);
  });

  it('free the slot of a client that hangs up mid-request', async () => {
    const gate = gatedRoute('config.test');
    t = await start({}, gate.routes);
    const alice = await t.signIn(await t.createUser());
    const url = new URL('/api/v1/slow', t.url);
    const aborted = httpRequest(url, {
      method: 'POST',
      headers: {
        cookie: `session=${alice.client.cookie('session')}; csrf_token=${alice.client.cookie('csrf_token')}`,
        'x-csrf-token': alice.client.cookie('csrf_token') ?? '',
        origin: t.origin,
      },
    });
    aborted.on('error', () => {});
    aborted.end();
    await until(() => gate.held() === 1);
    aborted.destroy();
    // The abandoned handler still waits at the gate, but its slot left with the connection.
    expect(
      await heldOrRefused(
        () => slow(alice.client),
        () => gate.held() === 2,
      ),
    ).toBe('held');
    gate.releaseAll();
  });

  it('follow the configured cap, and can be turned off', async () => {
    const two = gatedRoute('widgets.register');
    t = await start({ SWITCHBOARD_CONCURRENCY_LIMITS: 'widgets.register=3' }, two.routes);
    const alice = await t.signIn(await t.createUser());
    const running = [slow(alice.client), slow(alice.client), slow(alice.client)];
    await until(() => two.held() === 3);
    expectRefused(await slow(alice.client), ErrorCode.concurrencyCap);
    two.releaseAll();
    await Promise.all(running);
    await t.close();

    const off = gatedRoute('widgets.register');
    t = await start({ SWITCHBOARD_CONCURRENCY_LIMITS: 'widgets.register=off' }, off.routes);
    const bob = await t.signIn(await t.createUser());
    const many = Array.from({ length: 5 }, () => slow(bob.client));
    await until(() => off.held() === 5);
    off.releaseAll();
    expect((await Promise.all(many)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  });
});
