import type { FastifyPluginAsync } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../../src/platform/envelope.js';
import { errorCode } from '../client.js';
import { type SignedIn, startTestApp, type TestApp, testClock } from '../fixture.js';

/** Routes declared with no access rule at all, and with an empty one. */
const undeclared: FastifyPluginAsync = async (app) => {
  app.get('/test/no-config', async (request) => ok({ user: request.principal?.userId }));
  app.get('/test/empty-config', { config: {} }, async (request) => ok({ user: request.principal?.userId }));
  app.post('/test/no-config', async () => ok({ written: true }));
};

const clock = testClock();
let t: TestApp;
let viewer: SignedIn;

beforeAll(async () => {
  t = await startTestApp({
    now: () => clock.now,
    routes: undeclared,
    env: { SWITCHBOARD_RATE_LIMITS: 'api_keys.list=3/1m,login.ip=off,login.username=off' },
  });
  viewer = await t.signIn(await t.createUser({ role: 'viewer' }));
});
afterAll(() => t.close());

const recorded = async (type: string) => t.app.audit.list({ limit: 100, types: [type] });

describe('a route declared without config.access', () => {
  it('fails closed: no credentials, or bad ones, are a 401; any signed-in user passes', async () => {
    for (const path of ['/api/v1/test/no-config', '/api/v1/test/empty-config']) {
      const anonymous = await t.client().call(path);
      expect(anonymous.status, path).toBe(401);
      expect(errorCode(anonymous)).toBe(1008);
      const forged = await t.client().call(path, { bearer: 'not.a.token' });
      expect(errorCode(forged)).toBe(1009);
      const signedIn = await viewer.client.call(path);
      expect(signedIn.status).toBe(200);
      expect(signedIn.body.data.user).toBe(viewer.body.data.user.id);
    }
    const write = await t.client().call('/api/v1/test/no-config', { method: 'POST', json: {} });
    expect(write.status).toBe(401);
    // Cookie-authenticated writes still need the CSRF token there.
    const noToken = await viewer.client.call('/api/v1/test/no-config', {
      method: 'POST',
      json: {},
      csrf: false,
    });
    expect(errorCode(noToken)).toBe(1004);
  });
});

describe('refusals in the audit log, sampled', () => {
  it('records CSRF refusals with the user, once a minute per user, counting those left out', async () => {
    const user = await t.signIn(await t.createUser({ role: 'editor' }));
    const attempt = () =>
      user.client.call('/api/v1/auth/api-keys', { json: { name: 'x', role: 'viewer' }, csrf: false });
    for (let i = 0; i < 30; i += 1) expect(errorCode(await attempt())).toBe(1004);
    const mine = async () =>
      (await recorded('auth.csrf_refused')).filter((e) => e.actorId === user.body.data.user.id);
    expect(await mine()).toHaveLength(1);
    expect((await mine())[0]).toMatchObject({
      outcome: 'failure',
      actorUsername: user.body.data.user.username,
      detail: {
        method: 'POST',
        route: '/api/v1/auth/api-keys',
        code: 1004,
        credential: 'cookie',
        left_out: 0,
      },
    });
    clock.advance(61_000);
    expect(errorCode(await attempt())).toBe(1004);
    const [latest] = await mine();
    expect(latest?.detail).toMatchObject({ left_out: 29 });
    expect(await mine()).toHaveLength(2);
  });

  it('records a login refused for its foreign origin by the client address', async () => {
    const before = (await recorded('auth.csrf_refused')).length;
    const res = await t.client().call('/api/v1/auth/login', {
      form: { username: 'someone', password: 'whatever-it-is' },
      csrf: false,
      headers: { origin: 'https://evil.example' },
    });
    expect(errorCode(res)).toBe(1004);
    const events = await recorded('auth.csrf_refused');
    expect(events).toHaveLength(before + 1);
    expect(events[0]).toMatchObject({
      actorId: null,
      ip: '127.0.0.1',
      detail: { route: '/api/v1/auth/login' },
    });
  });

  it('records access denials with the user, and the API key when one was used', async () => {
    const editor = await t.signIn(await t.createUser({ role: 'editor' }));
    const key = await editor.client.call('/api/v1/auth/api-keys', { json: { name: 'k', role: 'editor' } });
    expect(key.status).toBe(201);
    for (let i = 0; i < 5; i += 1) expect(errorCode(await editor.client.call('/api/v1/users'))).toBe(1001);
    const denied = await t.client().call('/api/v1/users', { bearer: key.body.data.key });
    expect(errorCode(denied)).toBe(1001);
    const events = (await recorded('auth.access_denied')).filter(
      (e) => e.actorId === editor.body.data.user.id,
    );
    // Keyed per user: the key's refusal fell in the same minute as the session's.
    expect(events).toHaveLength(1);
    expect(events[0]?.detail).toMatchObject({ route: '/api/v1/users', status: 403, credential: 'cookie' });
    clock.advance(61_000);
    await t.client().call('/api/v1/users', { bearer: key.body.data.key });
    const [latest] = (await recorded('auth.access_denied')).filter(
      (e) => e.actorId === editor.body.data.user.id,
    );
    expect(latest?.detail).toMatchObject({
      credential: 'api_key',
      api_key_id: key.body.data.id,
      left_out: 5,
    });
  });

  it('records the rate-limit refusals of signed-in users, not of anonymous callers', async () => {
    const user = await t.signIn(await t.createUser({ role: 'viewer' }));
    const statuses = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await user.client.call('/api/v1/auth/api-keys')).status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
    const events = (await recorded('ratelimit.refused')).filter((e) => e.actorId === user.body.data.user.id);
    expect(events).toHaveLength(1);
    expect(events[0]?.detail).toMatchObject({ route: '/api/v1/auth/api-keys', status: 429, code: 5001 });
    const before = (await recorded('ratelimit.refused')).length;
    for (let i = 0; i < 3; i += 1) await t.client().call('/api/v1/auth/api-keys');
    expect(await recorded('ratelimit.refused')).toHaveLength(before);
  });
});
