import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, Reply } from '../client.js';
import { type SignedIn, startTestApp, type TestApp, type TestUser } from '../fixture.js';

const NEW_PASSWORD = 'brand-new-Passphrase-42';
const TEMP_PASSWORD = 'Temporary-reset-Kx81';
// A still clock on a whole second, so a token's lifetime reads exactly 900 seconds.
const now = Math.floor(Date.now() / 1000) * 1000;

function change(client: Client, current: string, next: string, bearer?: string): Promise<Reply> {
  return client.call('/api/v1/auth/password', {
    bearer,
    json: { current_password: current, new_password: next },
  });
}

function expectCode(res: Reply, status: number, code: number): void {
  expect(res.status).toBe(status);
  expect(res.body.error_detail.error_code).toBe(code);
}

function expectFieldError(res: Reply, pointer: string, message: RegExp): void {
  expectCode(res, 422, 2000);
  expect(res.body.error_detail.errors).toEqual([{ pointer, message: expect.stringMatching(message) }]);
}

describe('POST /auth/password: a successful change', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ now: () => now });
  });
  afterAll(() => t.close());

  it('answers with fresh tokens, ends the other sessions and voids the old access token', async () => {
    const user = await t.createUser({ username: 'pw-success' });
    const current = await t.signIn(user);
    const second = await t.signIn(user);
    const third = await t.signIn(user);

    const res = await change(current.client, user.password, NEW_PASSWORD);
    expect(res.status).toBe(200);
    const data = res.body.data;
    expect(data).toMatchObject({
      token_type: 'bearer',
      expires_in: 900,
      user: { id: user.record.id, username: 'pw-success', must_change_password: false },
    });
    expect(data.access_token).not.toBe(current.accessToken);
    expect(data.refresh_token).not.toBe(current.refreshToken);
    // Cookie-authenticated: the cookies are reset to the new credentials.
    expect(res.setCookies.get('session')?.value).toBe(data.access_token);
    expect(res.setCookies.get('refresh_token')?.value).toBe(data.refresh_token);
    expect(res.setCookies.get('csrf_token')?.value).toEqual(expect.any(String));

    expectCode(await second.client.call('/api/v1/auth/me'), 401, 1002);
    expectCode(await t.client().call('/api/v1/auth/me', { bearer: third.accessToken }), 401, 1002);
    expectCode(await t.client().call('/api/v1/auth/me', { bearer: current.accessToken }), 401, 1009);
    const refreshOld = await t.client().call('/api/v1/auth/refresh', {
      json: { refresh_token: current.refreshToken },
    });
    expectCode(refreshOld, 401, 1005);

    const fresh = await t.client().call('/api/v1/auth/me', { bearer: data.access_token });
    expect(fresh.status).toBe(200);
    expect((await current.client.call('/api/v1/auth/me')).status).toBe(200);

    const oldLogin = await t.client().call('/api/v1/auth/login', {
      json: { username: user.username, password: user.password },
    });
    expectCode(oldLogin, 401, 1000);
    await t.signIn({ username: user.username, password: NEW_PASSWORD });

    const audit = await t.app.audit.list({ limit: 50, types: ['auth.password_change'] });
    expect(audit).toContainEqual(
      expect.objectContaining({
        type: 'auth.password_change',
        outcome: 'success',
        actorId: user.record.id,
        targetId: user.record.id,
        detail: { sessions_revoked: 2 },
      }),
    );
  });

  it('sets no cookies when the request was authenticated with a bearer token', async () => {
    const user = await t.createUser({ username: 'pw-bearer' });
    const { accessToken } = await t.signIn(user);
    const res = await change(t.client(), user.password, NEW_PASSWORD, accessToken);
    expect(res.status).toBe(200);
    expect(res.setCookies.size).toBe(0);
    const me = await t.client().call('/api/v1/auth/me', { bearer: res.body.data.access_token });
    expect(me.status).toBe(200);
  });

  it('counts characters, not bytes: twelve multi-byte characters are enough, eleven are not', async () => {
    const user = await t.createUser({ username: 'pw-unicode' });
    const session = await t.signIn(user);
    const eleven = '龍🐉猫🐈山⛰海🌊星⭐花';
    const twelve = `${eleven}🌸`;
    expect(Buffer.byteLength(eleven)).toBeGreaterThan(12);
    expectFieldError(await change(session.client, user.password, eleven), '/new_password', /at least 12/);
    const res = await change(session.client, user.password, twelve);
    expect(res.status).toBe(200);
    await t.signIn({ username: user.username, password: twelve });
  });
});

describe('POST /auth/password: refusals', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { SWITCHBOARD_LOCKOUT_THRESHOLD: '3' } });
  });
  afterAll(() => t.close());

  it('refuses a wrong current password with 422 at /current_password', async () => {
    const user = await t.createUser({ username: 'pw-wrong' });
    const session = await t.signIn(user);
    const res = await change(session.client, 'not-my-password-at-all', NEW_PASSWORD);
    expectFieldError(res, '/current_password', /not your current password/);
    expect((await session.client.call('/api/v1/auth/me')).status).toBe(200);
    await t.signIn(user);
  });

  it('counts wrong current passwords towards the lockout', async () => {
    const user = await t.createUser({ username: 'pw-lockout' });
    const session = await t.signIn(user);
    for (let i = 0; i < 3; i++) {
      const res = await change(session.client, `wrong-current-password-${i}`, NEW_PASSWORD);
      expectFieldError(res, '/current_password', /current password/);
    }
    const login = await t.client().call('/api/v1/auth/login', {
      json: { username: user.username, password: user.password },
    });
    expectCode(login, 429, 1003);
    expect(Number(login.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // While locked, even the right current password is not looked at.
    expectCode(await change(session.client, user.password, NEW_PASSWORD), 429, 1003);
  });

  it('refuses new passwords the policy rejects with 422 at /new_password and a readable message', async () => {
    const user = await t.createUser({ username: 'pw-policy' });
    const session = await t.signIn(user);
    const cases: [string, RegExp][] = [
      ['Abc-def-gh1', /^must be at least 12 characters long$/],
      ['Ab3-'.repeat(33).slice(0, 129), /^must be at most 128 characters long$/],
      ['password1234', /common passwords/],
      ['qwertyuiop12', /common passwords/],
      ['Zq9!PW-Policy!x7', /^must not contain the username$/],
      [user.password, /^must differ from the current password$/],
    ];
    for (const [password, message] of cases) {
      expectFieldError(await change(session.client, user.password, password), '/new_password', message);
    }
    // Nothing changed: the session lives on and the old password still works.
    expect((await session.client.call('/api/v1/auth/me')).status).toBe(200);
    await t.signIn(user);
  });

  it('refuses a body with a missing field with 422 naming it', async () => {
    const user = await t.createUser({ username: 'pw-missing' });
    const { client } = await t.signIn(user);
    const noNew = await client.call('/api/v1/auth/password', { json: { current_password: user.password } });
    expectFieldError(noNew, '/new_password', /./);
    const noCurrent = await client.call('/api/v1/auth/password', { json: { new_password: NEW_PASSWORD } });
    expectFieldError(noCurrent, '/current_password', /./);
    const empty = await client.call('/api/v1/auth/password', { json: {} });
    expectCode(empty, 422, 2000);
  });

  it('refuses an API key with 403', async () => {
    const user = await t.createUser({ username: 'pw-api-key', role: 'editor' });
    const { client } = await t.signIn(user);
    const created = await client.call('/api/v1/auth/api-keys', { json: { name: 'pw', role: 'editor' } });
    expect(created.status).toBe(201);
    const res = await change(t.client(), user.password, NEW_PASSWORD, created.body.data.key);
    expectCode(res, 403, 1001);
    await t.signIn(user);
  });
});

describe('must_change_password', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  /** Everything but /auth/me, /auth/password and /auth/logout answers 403 code 1007. */
  async function expectBlocked(session: SignedIn): Promise<void> {
    const me = await session.client.call('/api/v1/auth/me');
    expect(me.status).toBe(200);
    expect(me.body.data.must_change_password).toBe(true);
    const blocked: [string, string][] = [
      ['GET', '/api/v1/auth/sessions'],
      ['GET', '/api/v1/auth/roles'],
      ['GET', '/api/v1/auth/api-keys'],
      ['POST', '/api/v1/auth/api-keys'],
      ['POST', '/api/v1/auth/ws-ticket'],
      ['DELETE', '/api/v1/auth/sessions'],
      ['GET', '/api/v1/users'],
    ];
    for (const [method, path] of blocked) {
      const json = method === 'POST' ? { name: 'k', role: 'viewer' } : undefined;
      expectCode(await session.client.call(path, { method, json }), 403, 1007);
    }
    const bearer = await t.client().call('/api/v1/auth/roles', { bearer: session.accessToken });
    expectCode(bearer, 403, 1007);
  }

  async function expectFree(client: Client): Promise<void> {
    const me = await client.call('/api/v1/auth/me');
    expect(me.status).toBe(200);
    expect(me.body.data.must_change_password).toBe(false);
    expect((await client.call('/api/v1/auth/sessions')).status).toBe(200);
    expect((await client.call('/api/v1/auth/roles')).status).toBe(200);
  }

  it('holds a new user to /auth/me, /auth/password and /auth/logout until the password is changed', async () => {
    const user = await t.createUser({ username: 'pw-must', mustChangePassword: true });
    const session = await t.signIn(user);
    expect(session.body.data.user.must_change_password).toBe(true);
    await expectBlocked(session);

    const other = await t.signIn(user);
    const logout = await other.client.call('/api/v1/auth/logout', { method: 'POST' });
    expect(logout.status).toBe(204);
    expectCode(await t.client().call('/api/v1/auth/me', { bearer: other.accessToken }), 401, 1002);

    const res = await change(session.client, user.password, NEW_PASSWORD);
    expect(res.status).toBe(200);
    expect(res.body.data.user.must_change_password).toBe(false);
    await expectFree(session.client);
  });

  it('applies after an admin resets the password, and ends the sessions the user had', async () => {
    const admin = await t.signIn(await t.createUser({ username: 'pw-reset-admin', role: 'admin' }));
    const user: TestUser = await t.createUser({ username: 'pw-reset' });
    const before = await t.signIn(user);
    const reset = await admin.client.call(`/api/v1/users/${user.record.id}`, {
      method: 'PATCH',
      json: { password: TEMP_PASSWORD },
    });
    expect(reset.status).toBe(200);
    expect(reset.body.data.must_change_password).toBe(true);
    expectCode(await before.client.call('/api/v1/auth/me'), 401, 1002);

    const session = await t.signIn({ username: user.username, password: TEMP_PASSWORD });
    expect(session.body.data.user.must_change_password).toBe(true);
    await expectBlocked(session);
    expect((await change(session.client, TEMP_PASSWORD, NEW_PASSWORD)).status).toBe(200);
    await expectFree(session.client);
  });
});
