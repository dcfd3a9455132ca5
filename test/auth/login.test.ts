import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reply } from '../client.js';
import {
  problemShape,
  startTestApp,
  TEST_CONTEXT,
  type TestApp,
  type TestUser,
  testClock,
} from '../fixture.js';

const LOGIN = '/api/v1/auth/login';
const WRONG = 'not-the-password-Zq81!';

function login(t: TestApp, username: string, password: string): Promise<Reply> {
  return t.client().call(LOGIN, { json: { username, password } });
}

async function fail(t: TestApp, username: string, times: number): Promise<void> {
  for (let i = 0; i < times; i += 1) {
    const res = await login(t, username, WRONG);
    expect(res.status).toBe(401);
  }
}

function withoutInstance(body: any) {
  const { instance: _instance, ...detail } = body.error_detail;
  return { ...body, error_detail: detail };
}

async function auditOf(t: TestApp, types: string[]) {
  return t.app.audit.list({ limit: 100, types });
}

describe('signing in', () => {
  const clock = testClock();
  let t: TestApp;
  let user: TestUser;
  beforeAll(async () => {
    t = await startTestApp({ now: () => clock.now });
    user = await t.createUser({ role: 'editor' });
  });
  afterAll(() => t.close());

  it('signs in with a JSON body and answers an OAuth2-style token response', async () => {
    const res = await login(t, user.username, user.password);
    expect(res.status).toBe(200);
    const data = res.body.data;
    expect(Object.keys(data).sort()).toEqual([
      'access_token',
      'expires_in',
      'refresh_expires_in',
      'refresh_token',
      'token_type',
      'user',
    ]);
    expect(data).toMatchObject({ token_type: 'bearer', expires_in: 900, refresh_expires_in: 604_800 });
    expect(data.user).toMatchObject({
      id: user.record.id,
      username: user.username,
      role: 'editor',
      role_level: 2,
      auth_method: 'password',
      must_change_password: false,
    });
    const me = await t.client().call('/api/v1/auth/me', { bearer: data.access_token });
    expect(me.status).toBe(200);
    expect(me.body.data.username).toBe(user.username);
    const [row] = await t.app.audit.list({ limit: 1, types: ['auth.login'], actor: user.username });
    expect(row).toMatchObject({ outcome: 'success', actorId: user.record.id });
  });

  it('signs in with a form body, and the session cookie authenticates', async () => {
    const c = t.client();
    const res = await c.call(LOGIN, { form: { username: user.username, password: user.password } });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ token_type: 'bearer', expires_in: 900 });
    expect(typeof res.body.data.refresh_token).toBe('string');
    const me = await c.call('/api/v1/auth/me');
    expect(me.status).toBe(200);
    expect(me.body.data.id).toBe(user.record.id);
  });

  it('sets the three cookies with exact attributes', async () => {
    const res = await login(t, user.username, user.password);
    const session = res.setCookies.get('session');
    const csrf = res.setCookies.get('csrf_token');
    const refresh = res.setCookies.get('refresh_token');
    expect(session?.value).toBe(res.body.data.access_token);
    expect(refresh?.value).toBe(res.body.data.refresh_token);
    expect(csrf?.value).toMatch(/^[\w-]{20,}$/);
    expect(session?.attributes).toMatchObject({
      httponly: true,
      secure: true,
      samesite: 'Strict',
      path: '/api',
    });
    expect(csrf?.attributes).toMatchObject({ secure: true, samesite: 'Strict', path: '/' });
    expect(csrf?.attributes.httponly).toBeUndefined();
    expect(refresh?.attributes).toMatchObject({
      httponly: true,
      secure: true,
      samesite: 'Strict',
      path: '/api/v1/auth/refresh',
    });
  });

  it('drops Secure and warns in the log, for cookies and WebSockets, when the public URL is plain HTTP on the network', async () => {
    const plain = await startTestApp({ env: { SWITCHBOARD_PUBLIC_URL: 'http://10.1.2.3:8080' } });
    try {
      const u = await plain.createUser();
      const res = await login(plain, u.username, u.password);
      expect(res.status).toBe(200);
      expect([...res.setCookies.keys()].sort()).toEqual(['csrf_token', 'refresh_token', 'session']);
      for (const cookie of res.setCookies.values()) {
        expect(cookie.attributes.secure).toBeUndefined();
        expect(cookie.attributes.samesite).toBe('Strict');
      }
      expect(res.setCookies.get('session')?.attributes).toMatchObject({ httponly: true, path: '/api' });
      const warnings = plain.logs.filter((l) => l.level === 40 && /without Secure/.test(String(l.msg)));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.public_url).toBe('http://10.1.2.3:8080');
      expect(t.logs.some((l) => /without Secure/.test(String(l.msg)))).toBe(false);
      const sockets = plain.logs.filter(
        (l) => l.level === 40 && /WebSockets are ws:\/\//.test(String(l.msg)),
      );
      expect(sockets).toHaveLength(1);
      expect(t.logs.some((l) => /ws:\/\//.test(String(l.msg)))).toBe(false);
    } finally {
      await plain.close();
    }
  });
});

describe('wrong credentials', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers an unknown user, a wrong password and a disabled account alike: 401 code 1000', async () => {
    const user = await t.createUser();
    const disabled = await t.createUser();
    await t.app.auth.users.update(disabled.record.id, { disabled: true }, TEST_CONTEXT);
    const unknownName = `ghost-${randomBytes(3).toString('hex')}`;
    const unknown = await login(t, unknownName, WRONG);
    const wrong = await login(t, user.username, WRONG);
    const off = await login(t, disabled.username, disabled.password);
    for (const res of [unknown, wrong, off]) {
      expect(res.status).toBe(401);
      expect(problemShape.isEnvelope(res.body)).toBe(true);
      expect(res.body.error_detail.error_code).toBe(1000);
      expect(res.setCookies.size).toBe(0);
    }
    expect(withoutInstance(wrong.body)).toEqual(withoutInstance(unknown.body));
    expect(withoutInstance(off.body)).toEqual(withoutInstance(unknown.body));

    const reasons = (await auditOf(t, ['auth.login']))
      .filter((r) => r.outcome === 'failure')
      .map((r) => [r.actorUsername, r.detail?.reason]);
    expect(reasons).toEqual(
      expect.arrayContaining([
        [unknownName, 'unknown_user'],
        [user.username, 'wrong_password'],
        [disabled.username, 'disabled'],
      ]),
    );
  });
});

describe('lockout with default settings', () => {
  const clock = testClock();
  let t: TestApp;
  beforeAll(async () => {
    // Lockout alone: the sign-in rate limits (test/ratelimit) would refuse these many attempts first.
    t = await startTestApp({
      now: () => clock.now,
      env: {
        SWITCHBOARD_RATE_LIMITS: 'login.ip=off,login.username=off',
        SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '1000',
      },
    });
  });
  afterAll(() => t.close());

  it('locks a username after 10 failures: 429 code 1003 with Retry-After even for the right password', async () => {
    const user = await t.createUser();
    await fail(t, user.username, 10);
    const locked = await login(t, user.username, user.password);
    expect(locked.status).toBe(429);
    expect(locked.body.error_detail.error_code).toBe(1003);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(900);
    expect(locked.body.error_detail.retry_after).toBe(Number(locked.headers['retry-after']));
    expect(locked.body.error).toBe('too many failed sign-ins; this account is locked for 15 more minutes');
    expect(locked.setCookies.size).toBe(0);

    const lockouts = (await auditOf(t, ['auth.lockout'])).filter((r) => r.targetId === user.username);
    expect(lockouts).toHaveLength(1);
    expect(lockouts[0]?.detail).toMatchObject({ failures: 10 });
    const failures = (await auditOf(t, ['auth.login'])).filter(
      (r) => r.actorUsername === user.username && r.outcome === 'failure',
    );
    expect(failures.map((r) => r.detail?.reason)).toEqual(['locked', ...Array(10).fill('wrong_password')]);
  });

  it('locks an unknown username the same way', async () => {
    const ghost = `ghost-${randomBytes(3).toString('hex')}`;
    await fail(t, ghost, 10);
    const res = await login(t, ghost, WRONG);
    expect(res.status).toBe(429);
    expect(res.body.error_detail.error_code).toBe(1003);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('forgets the failures after a successful sign-in below the threshold', async () => {
    const user = await t.createUser();
    await fail(t, user.username, 9);
    expect((await login(t, user.username, user.password)).status).toBe(200);
    await fail(t, user.username, 9);
    const res = await login(t, user.username, user.password);
    expect(res.status).toBe(200);
  });

  it('lets the right password in once the lockout duration (15m) has passed', async () => {
    const user = await t.createUser();
    await fail(t, user.username, 10);
    clock.advance(14 * 60_000);
    const still = await login(t, user.username, user.password);
    expect(still.status).toBe(429);
    expect(Number(still.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(still.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(still.body.error).toBe('too many failed sign-ins; this account is locked for 1 more minute');
    clock.advance(30_000);
    expect((await login(t, user.username, user.password)).body.error).toBe(
      'too many failed sign-ins; this account is locked for 30 more seconds',
    );
    clock.advance(30_000 + 1000);
    const res = await login(t, user.username, user.password);
    expect(res.status).toBe(200);
    const [success] = await t.app.audit.list({ limit: 1, types: ['auth.login'], actor: user.username });
    expect(success?.outcome).toBe('success');
  });

  it('counts usernames case-insensitively', async () => {
    const user = await t.createUser({ username: `casey-${randomBytes(3).toString('hex')}` });
    const upper = user.username.toUpperCase();
    const mixed = `C${user.username.slice(1)}`;
    await fail(t, upper, 5);
    await fail(t, mixed, 5);
    const res = await login(t, user.username, user.password);
    expect(res.status).toBe(429);
    expect(res.body.error_detail.error_code).toBe(1003);
    const lockouts = (await auditOf(t, ['auth.lockout'])).filter((r) => r.targetId === user.username);
    expect(lockouts).toHaveLength(1);
  });

  it('counts and checks at once: of 25 concurrent wrong guesses 10 are tried, and the right one is locked out', async () => {
    const user = await t.createUser();
    const guesses = await Promise.all(
      Array.from({ length: 25 }, (_, i) => login(t, user.username, `${WRONG}-${i}`)),
    );
    const statuses = guesses.map((res) => res.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    const right = await login(t, user.username, user.password);
    expect(right.status).toBe(429);
    expect(right.body.error_detail.error_code).toBe(1003);
    const lockouts = (await auditOf(t, ['auth.lockout'])).filter((r) => r.targetId === user.username);
    expect(lockouts).toHaveLength(1);
  });

  it('counts concurrent wrong current passwords on POST /auth/password the same way', async () => {
    const user = await t.createUser();
    const session = await t.signIn(user);
    const tries = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        session.client.call('/api/v1/auth/password', {
          json: { current_password: `${WRONG}-${i}`, new_password: 'another-Password-8#zQ' },
        }),
      ),
    );
    expect(tries.filter((res) => res.status === 422)).toHaveLength(10);
    expect(tries.filter((res) => res.status === 429)).toHaveLength(10);
  });

  it('clears a lock with auth.login.unlock', async () => {
    const user = await t.createUser();
    await fail(t, user.username, 10);
    expect((await login(t, user.username, user.password)).status).toBe(429);
    expect(await t.app.auth.login.unlock(user.username.toUpperCase(), TEST_CONTEXT)).toBe(true);
    expect((await login(t, user.username, user.password)).status).toBe(200);
    const [row] = (await auditOf(t, ['user.unlocked'])).filter((r) => r.targetId === user.username);
    expect(row?.detail).toMatchObject({ had_failures: true });
    expect(await t.app.auth.login.unlock(user.username, TEST_CONTEXT)).toBe(false);
  });
});

describe('lockout with SWITCHBOARD_LOCKOUT_THRESHOLD=3', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { SWITCHBOARD_LOCKOUT_THRESHOLD: '3' } });
  });
  afterAll(() => t.close());

  it('locks after the third failure', async () => {
    const user = await t.createUser();
    await fail(t, user.username, 2);
    expect((await login(t, user.username, user.password)).status).toBe(200);
    await fail(t, user.username, 3);
    const res = await login(t, user.username, user.password);
    expect(res.status).toBe(429);
    expect(res.body.error_detail.error_code).toBe(1003);
    const [lockout] = (await auditOf(t, ['auth.lockout'])).filter((r) => r.targetId === user.username);
    expect(lockout?.detail).toMatchObject({ failures: 3, locked_for_seconds: 900 });
  });
});

describe('lockout per username and client address (docs/auth.md, Lockout)', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Behind a trusted proxy the client address comes from X-Forwarded-For, so one test can be two clients.
    t = await startTestApp({
      env: { SWITCHBOARD_LOCKOUT_THRESHOLD: '3', SWITCHBOARD_TRUSTED_PROXIES: '127.0.0.1' },
    });
  });
  afterAll(() => t.close());

  const from = (ip: string, username: string, password: string) =>
    t.client().call(LOGIN, { json: { username, password }, headers: { 'x-forwarded-for': ip } });

  it('locks the address that failed, not the user everywhere', async () => {
    const user = await t.createUser();
    for (let i = 0; i < 3; i += 1) expect((await from('10.0.0.1', user.username, WRONG)).status).toBe(401);
    expect((await from('10.0.0.1', user.username, user.password)).status).toBe(429);
    expect((await from('10.0.0.2', user.username, user.password)).status).toBe(200);
    // A success elsewhere does not lift the lock where the failures came from.
    expect((await from('10.0.0.1', user.username, user.password)).status).toBe(429);
  });

  it('keeps the count of one address when another signs in successfully', async () => {
    const user = await t.createUser();
    for (let i = 0; i < 2; i += 1) expect((await from('10.0.1.1', user.username, WRONG)).status).toBe(401);
    expect((await from('10.0.1.2', user.username, user.password)).status).toBe(200);
    expect((await from('10.0.1.1', user.username, WRONG)).status).toBe(401);
    expect((await from('10.0.1.1', user.username, user.password)).status).toBe(429);
  });

  it('counts an IPv6 /64 as one client, as the rate limiter does: rotating inside it does not reset the count', async () => {
    const user = await t.createUser();
    for (const ip of ['2001:db8:7:1::1', '2001:db8:7:1::2', '2001:db8:7:1:ffff:ffff:ffff:fffe']) {
      expect((await from(ip, user.username, WRONG)).status).toBe(401);
    }
    expect((await from('2001:db8:7:1::99', user.username, user.password)).status).toBe(429);
    // Another /64 is another client.
    expect((await from('2001:db8:7:2::1', user.username, user.password)).status).toBe(200);
  });

  it('counts an IPv4 address and its IPv4-mapped IPv6 form as one client', async () => {
    const user = await t.createUser();
    for (const ip of ['203.0.113.9', '::ffff:203.0.113.9', '203.0.113.9']) {
      expect((await from(ip, user.username, WRONG)).status).toBe(401);
    }
    expect((await from('::ffff:203.0.113.9', user.username, user.password)).status).toBe(429);
    expect((await from('203.0.113.9', user.username, user.password)).status).toBe(429);
  });

  it('records the address of each failure in the audit log, and unlock clears every address', async () => {
    const user = await t.createUser();
    for (const ip of ['10.0.2.1', '10.0.2.2']) {
      for (let i = 0; i < 3; i += 1) await from(ip, user.username, WRONG);
      expect((await from(ip, user.username, user.password)).status).toBe(429);
    }
    const failures = (await auditOf(t, ['auth.login'])).filter((r) => r.actorUsername === user.username);
    expect(new Set(failures.map((r) => r.ip))).toEqual(new Set(['10.0.2.1', '10.0.2.2']));
    expect(await t.app.auth.login.unlock(user.username, TEST_CONTEXT)).toBe(true);
    for (const ip of ['10.0.2.1', '10.0.2.2']) {
      expect((await from(ip, user.username, user.password)).status).toBe(200);
    }
  });
});

describe('malformed sign-in requests', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const cases: {
    name: string;
    options: Parameters<ReturnType<TestApp['client']>['call']>[1];
    status: number;
  }[] = [
    { name: 'empty JSON object', options: { json: {} }, status: 422 },
    { name: 'missing password', options: { json: { username: 'someone' } }, status: 422 },
    { name: 'empty strings', options: { json: { username: '', password: '' } }, status: 422 },
    { name: 'JSON null', options: { json: null }, status: 422 },
    { name: 'JSON array', options: { json: ['someone', 'pw'] }, status: 422 },
    { name: 'form without password', options: { form: { username: 'someone' } }, status: 422 },
    {
      name: 'over-long username',
      options: { json: { username: 'u'.repeat(65), password: 'x' } },
      status: 422,
    },
    {
      name: 'invalid JSON',
      options: { method: 'POST', body: '{"username": ', headers: { 'content-type': 'application/json' } },
      status: 400,
    },
    {
      name: 'empty JSON body',
      options: { method: 'POST', body: '', headers: { 'content-type': 'application/json' } },
      status: 400,
    },
    { name: 'no body at all', options: { method: 'POST' }, status: 422 },
  ];

  for (const { name, options, status } of cases) {
    it(`answers ${name} with a ${status} problem document`, async () => {
      const res = await t.client().call(LOGIN, options);
      expect(res.status).toBe(status);
      expect(problemShape.isEnvelope(res.body)).toBe(true);
      expect(res.body.error_detail.error_code).toBe(status === 422 ? 2000 : 2001);
      expect(res.setCookies.size).toBe(0);
    });
  }

  it('names each failing field in a 422', async () => {
    const res = await t.client().call(LOGIN, { json: { username: '' } });
    expect(res.status).toBe(422);
    const pointers = res.body.error_detail.errors.map((e: { pointer: string }) => e.pointer).sort();
    expect(pointers).toEqual(['/password', '/username']);
  });

  it('takes JSON and forms, and answers text/plain with 415 code 2004', async () => {
    const user = await t.createUser();
    const credentials = { username: user.username, password: user.password };
    expect((await t.client().call(LOGIN, { form: credentials })).status).toBe(200);
    expect((await t.client().call(LOGIN, { json: credentials })).status).toBe(200);
    const text = await t.client().call(LOGIN, {
      method: 'POST',
      body: JSON.stringify(credentials),
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    expect(text.body.error_detail.error_code).toBe(2004);
  });

  it('answers an unexpected media type with a 4xx, never a 500', async () => {
    const res = await t.client().call(LOGIN, {
      method: 'POST',
      body: '<login/>',
      headers: { 'content-type': 'application/xml' },
    });
    expect(res.status).toBe(415);
    expect(res.body.error_detail.error_code).toBe(2004);
  });
});
