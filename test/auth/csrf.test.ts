import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallOptions, type Client, errorCode, type Reply } from '../client.js';
import { type SignedIn, startTestApp, TEST_PASSWORD, type TestApp, type TestUser } from '../fixture.js';

const API_KEYS = '/api/v1/auth/api-keys';
const SESSIONS = '/api/v1/auth/sessions';
const ME = '/api/v1/auth/me';
const EVIL = 'https://evil.example';

const sessionIdOf = (accessToken: string) => decodeJwt(accessToken).jti as string;

let keyCount = 0;
/** A cookie-authenticated write: creating an API key. */
function createKey(c: Client, options: Omit<CallOptions, 'json'> = {}): Promise<Reply> {
  keyCount += 1;
  return c.call(API_KEYS, { json: { name: `key-${keyCount}`, role: 'viewer' }, ...options });
}

/** A client holding the same cookies as `from` (what a browser sends along with a cross-site request). */
function sameCookies(t: TestApp, from: Client): Client {
  const c = t.client();
  for (const [name, { value, path }] of from.jar) c.setCookie(name, value, path);
  return c;
}

function expectRefused(res: Reply): void {
  expect(res.status).toBe(403);
  expect(errorCode(res)).toBe(1004);
}

describe('CSRF protection of cookie-authenticated writes', () => {
  let t: TestApp;
  let user: TestUser;
  let s: SignedIn;
  let created = 0;
  beforeAll(async () => {
    t = await startTestApp();
    user = await t.createUser({ role: 'editor' });
    s = await t.signIn(user);
  });
  afterAll(() => t.close());

  const csrf = () => s.client.cookie('csrf_token')!;

  it('accepts the token from the cookie in X-CSRF-Token with the allowed Origin', async () => {
    const res = await createKey(s.client);
    expect(res.status).toBe(201);
    created += 1;
  });

  it('refuses a missing X-CSRF-Token (1004)', async () => {
    expectRefused(await createKey(s.client, { csrf: false, headers: { origin: t.origin } }));
  });

  it('refuses a header that differs from the cookie (1004)', async () => {
    expectRefused(
      await createKey(s.client, { headers: { 'x-csrf-token': randomBytes(32).toString('base64url') } }),
    );
  });

  it('refuses a forged double submit: cookie and header set to the same random value (1004)', async () => {
    const forged = randomBytes(32).toString('base64url');
    const c = sameCookies(t, s.client);
    c.setCookie('csrf_token', forged);
    expectRefused(await createKey(c));
    expect((await c.call(ME)).status).toBe(200);
  });

  it("refuses another session's token, even with the matching cookie (1004)", async () => {
    const other = await t.signIn(user);
    const c = sameCookies(t, s.client);
    c.setCookie('csrf_token', other.client.cookie('csrf_token')!);
    expect(c.cookie('csrf_token')).not.toBe(csrf());
    expectRefused(await createKey(c));
  });

  it('refuses the right token from a foreign Origin (1004)', async () => {
    expectRefused(await createKey(s.client, { headers: { origin: EVIL } }));
  });

  it('refuses `Origin: null` (1004)', async () => {
    expectRefused(await createKey(s.client, { headers: { origin: 'null' } }));
  });

  it('accepts a Referer from the allowed origin when there is no Origin', async () => {
    const res = await createKey(s.client, {
      csrf: false,
      headers: { 'x-csrf-token': csrf(), referer: `${t.origin}/dashboards/ops?tab=1` },
    });
    expect(res.status).toBe(201);
    created += 1;
  });

  it('refuses a foreign Referer, and a request with neither Origin nor Referer (1004)', async () => {
    expectRefused(
      await createKey(s.client, {
        csrf: false,
        headers: { 'x-csrf-token': csrf(), referer: `${EVIL}/page` },
      }),
    );
    expectRefused(await createKey(s.client, { csrf: false, headers: { 'x-csrf-token': csrf() } }));
  });

  it('guards DELETE too: no session ends without the token', async () => {
    const other = await t.signIn(user);
    expectRefused(
      await s.client.call(SESSIONS, { method: 'DELETE', csrf: false, headers: { origin: t.origin } }),
    );
    const one = await s.client.call(`${SESSIONS}/${sessionIdOf(other.accessToken)}`, {
      method: 'DELETE',
      headers: { origin: EVIL },
    });
    expectRefused(one);
    expect((await other.client.call(ME)).status).toBe(200);
  });

  it('wrote nothing for any refused request', async () => {
    const list = await s.client.call(API_KEYS);
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(created);
  });
});

describe('origins listed in SWITCHBOARD_CORS_ORIGINS', () => {
  let t: TestApp;
  let s: SignedIn;
  beforeAll(async () => {
    t = await startTestApp({ env: { SWITCHBOARD_CORS_ORIGINS: 'https://dash.example.com' } });
    s = await t.signIn(await t.createUser());
  });
  afterAll(() => t.close());

  it('accepts cookie-authenticated writes from a listed origin and refuses others', async () => {
    expect((await createKey(s.client, { headers: { origin: 'https://dash.example.com' } })).status).toBe(201);
    expect((await createKey(s.client)).status).toBe(201);
    expectRefused(await createKey(s.client, { headers: { origin: 'https://other.example.com' } }));
  });
});

describe('requests not subject to CSRF', () => {
  let t: TestApp;
  let user: TestUser;
  beforeAll(async () => {
    t = await startTestApp();
    user = await t.createUser({ role: 'editor' });
  });
  afterAll(() => t.close());

  it('lets GET and HEAD through without a token, whatever the Origin', async () => {
    const s = await t.signIn(user);
    const get = await s.client.call(ME, { headers: { origin: EVIL } });
    expect(get.status).toBe(200);
    const head = await s.client.call(ME, { method: 'HEAD', headers: { origin: EVIL } });
    expect(head.status).toBe(200);
    expect((await s.client.call(SESSIONS)).status).toBe(200);
  });

  it('lets a bearer JWT write without cookies or token', async () => {
    const s = await t.signIn(user);
    const res = await createKey(t.client(), { bearer: s.accessToken, headers: { origin: EVIL } });
    expect(res.status).toBe(201);
  });

  it('lets an API key write without cookies or token', async () => {
    const s = await t.signIn(user);
    const spare = await t.signIn(user);
    const created = await createKey(s.client);
    expect(created.status).toBe(201);
    const res = await t.client().call(`${SESSIONS}/${sessionIdOf(spare.accessToken)}`, {
      method: 'DELETE',
      bearer: created.body.data.key,
      headers: { origin: EVIL },
    });
    expect(res.status).toBe(204);
    expect(errorCode(await spare.client.call(ME))).toBe(1002);
  });

  it('exempts login, refresh and logout with cookies present and no token, from an allowed origin or none', async () => {
    const sources: Record<string, string>[] = [
      { origin: t.origin },
      { referer: `${t.origin}/config-ui/` },
      {},
    ];
    for (const headers of sources) {
      const s = await t.signIn(user);
      const plain = { csrf: false, headers };
      const login = await s.client.call('/api/v1/auth/login', {
        json: { username: user.username, password: user.password },
        ...plain,
      });
      expect(login.status, JSON.stringify(headers)).toBe(200);
      const refresh = await s.client.call('/api/v1/auth/refresh', { method: 'POST', ...plain });
      expect(refresh.status).toBe(200);
      const token = refresh.body.data.access_token;
      const logout = await s.client.call('/api/v1/auth/logout', { method: 'POST', ...plain });
      expect(logout.status).toBe(204);
      expect(errorCode(await t.client().call(ME, { bearer: token }))).toBe(1002);
    }
  });

  it('refuses login, refresh and setup from a foreign Origin or Referer (no login CSRF), with or without cookies', async () => {
    const foreign: Record<string, string>[] = [
      { origin: EVIL },
      { origin: 'null' },
      { referer: `${EVIL}/phish` },
      { referer: 'garbage' },
    ];
    for (const headers of foreign) {
      // The attack: a form on another site posts the attacker's credentials from the victim's browser.
      const form = await t.client().call('/api/v1/auth/login', {
        form: { username: user.username, password: user.password },
        csrf: false,
        headers,
      });
      expectRefused(form);
      expect(form.setCookies.size).toBe(0);
      const s = await t.signIn(user);
      expectRefused(
        await s.client.call('/api/v1/auth/login', {
          json: { username: user.username, password: user.password },
          csrf: false,
          headers,
        }),
      );
      expectRefused(await s.client.call('/api/v1/auth/refresh', { method: 'POST', csrf: false, headers }));
      expectRefused(
        await t.client().call('/api/v1/auth/refresh', {
          json: { refresh_token: s.refreshToken },
          csrf: false,
          headers,
        }),
      );
      expectRefused(
        await t.client().call('/api/v1/auth/setup', {
          json: { username: 'root', password: TEST_PASSWORD, setup_token: 'whatever-it-is-0123456789' },
          csrf: false,
          headers,
        }),
      );
      // Refused before anything was spent: the refresh token still works from the right origin.
      const own = await t.client().call('/api/v1/auth/refresh', {
        json: { refresh_token: s.refreshToken },
        csrf: false,
        headers: { origin: t.origin },
      });
      expect(own.status).toBe(200);
    }
    // Logging out is harmless to force, and stays possible from anywhere.
    const s = await t.signIn(user);
    expect(
      (await s.client.call('/api/v1/auth/logout', { method: 'POST', csrf: false, headers: { origin: EVIL } }))
        .status,
    ).toBe(204);
  });

  it('exempts setup with cookies present and no token', async () => {
    const setupToken = 'setup-token-for-csrf-tests-0123456789';
    const fresh = await startTestApp({ env: { SWITCHBOARD_SETUP_TOKEN: setupToken } });
    try {
      const s = await fresh.signIn(await fresh.createUser());
      const res = await s.client.call('/api/v1/auth/setup', {
        json: { username: 'root', password: TEST_PASSWORD, setup_token: setupToken },
        csrf: false,
      });
      expect(res.status).toBe(201);
      expect(res.body.data.user.role).toBe('admin');
    } finally {
      await fresh.close();
    }
  });
});

describe('the csrf_token cookie', () => {
  let t: TestApp;
  let user: TestUser;
  beforeAll(async () => {
    t = await startTestApp();
    user = await t.createUser();
  });
  afterAll(() => t.close());

  it("is readable by scripts and is the value the server expects for that session, and only that session's", async () => {
    const first = await t.signIn(user);
    const second = await t.signIn(user);
    const login = await t.client().call('/api/v1/auth/login', {
      json: { username: user.username, password: user.password },
    });
    const cookie = login.setCookies.get('csrf_token')!;
    expect(cookie.attributes.httponly).toBeUndefined();
    expect(login.setCookies.get('session')?.attributes.httponly).toBe(true);
    for (const s of [first, second]) {
      expect(s.client.cookie('csrf_token')).toBe(
        t.app.auth.sessions.csrfTokenFor(sessionIdOf(s.accessToken)),
      );
    }
    expect(first.client.cookie('csrf_token')).not.toBe(second.client.cookie('csrf_token'));
    expect(cookie.value).not.toBe(first.client.cookie('csrf_token'));
  });

  it('stays the same across refreshes of one session', async () => {
    const s = await t.signIn(user);
    const before = s.client.cookie('csrf_token');
    const refresh = await s.client.call('/api/v1/auth/refresh', { method: 'POST' });
    expect(refresh.status).toBe(200);
    expect(refresh.setCookies.get('csrf_token')?.value).toBe(before);
    expect((await createKey(s.client)).status).toBe(201);
  });
});
