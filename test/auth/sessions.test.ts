import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, errorCode, type Reply } from '../client.js';
import { type SignedIn, startTestApp, type TestApp, type TestUser, testClock } from '../fixture.js';

const REFRESH = '/api/v1/auth/refresh';
const LOGOUT = '/api/v1/auth/logout';
const ME = '/api/v1/auth/me';
const SESSIONS = '/api/v1/auth/sessions';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const sessionIdOf = (accessToken: string) => decodeJwt(accessToken).jti as string;
function expectCode(res: Reply, status: number, code: number): void {
  expect([res.status, errorCode(res)]).toEqual([status, code]);
}

/** Refresh through the cookie the client's jar holds (it sends refresh_token to this path only). */
const refreshByCookie = (c: Client) => c.call(REFRESH, { method: 'POST' });
const refreshByBody = (t: TestApp, token: string) =>
  t.client().call(REFRESH, { json: { refresh_token: token } });
const bearerMe = (t: TestApp, token: string) => t.client().call(ME, { bearer: token });

describe('refresh rotation', () => {
  const clock = testClock();
  let t: TestApp;
  let user: TestUser;
  beforeAll(async () => {
    t = await startTestApp({ now: () => clock.now });
    user = await t.createUser();
  });
  afterAll(() => t.close());

  it('rotates with the refresh cookie, keeping the session id', async () => {
    const s = await t.signIn(user);
    expect(s.client.jar.get('refresh_token')?.path).toBe(REFRESH);
    // An access token minted in the same second with the same claims would be byte-identical.
    clock.advance(1000);
    const res = await refreshByCookie(s.client);
    expect(res.status).toBe(200);
    const data = res.body.data;
    expect(data.token_type).toBe('bearer');
    expect(data.access_token).not.toBe(s.accessToken);
    expect(data.refresh_token).not.toBe(s.refreshToken);
    expect(sessionIdOf(data.access_token)).toBe(sessionIdOf(s.accessToken));
    expect(s.client.cookie('session')).toBe(data.access_token);
    expect(s.client.cookie('refresh_token')).toBe(data.refresh_token);
    expect((await s.client.call(ME)).status).toBe(200);
  });

  it('rotates with the body field and spends the old token', async () => {
    const s = await t.signIn(user);
    const res = await refreshByBody(t, s.refreshToken);
    expect(res.status).toBe(200);
    expect(res.setCookies.get('refresh_token')?.value).toBe(res.body.data.refresh_token);
    expect(sessionIdOf(res.body.data.access_token)).toBe(sessionIdOf(s.accessToken));
    const again = await refreshByBody(t, s.refreshToken);
    expectCode(again, 401, 1005);
  });

  it('refuses a missing or unknown refresh token with 1005', async () => {
    const none = await t.client().call(REFRESH, { method: 'POST' });
    expectCode(none, 401, 1005);
    const unknown = await refreshByBody(t, randomBytes(32).toString('base64url'));
    expectCode(unknown, 401, 1005);
  });

  it('revokes the whole session when a spent refresh token is replayed', async () => {
    const s = await t.signIn(user);
    const second = await refreshByBody(t, s.refreshToken);
    const third = await refreshByBody(t, second.body.data.refresh_token);
    expect(third.status).toBe(200);
    const replay = await refreshByBody(t, s.refreshToken);
    expectCode(replay, 401, 1005);
    const newest = await refreshByBody(t, third.body.data.refresh_token);
    expectCode(newest, 401, 1005);
    const access = await bearerMe(t, third.body.data.access_token);
    expectCode(access, 401, 1002);
    const rows = await t.app.audit.list({ limit: 100, types: ['auth.refresh_reuse'] });
    expect(rows.filter((r) => r.targetId === sessionIdOf(s.accessToken))).toHaveLength(1);
  });

  it('gives exactly one 200 to two concurrent refreshes with one token and revokes the session', async () => {
    const s = await t.signIn(user);
    const results = await Promise.all([refreshByBody(t, s.refreshToken), refreshByBody(t, s.refreshToken)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    const winner = results.find((r) => r.status === 200)!;
    expect(errorCode(results.find((r) => r.status === 401)!)).toBe(1005);
    expect(await t.app.auth.sessions.isLive(sessionIdOf(s.accessToken))).toBe(false);
    expect(errorCode(await bearerMe(t, winner.body.data.access_token))).toBe(1002);
    expect(errorCode(await refreshByBody(t, winner.body.data.refresh_token))).toBe(1005);
  });
});

describe('expiry with default lifetimes', () => {
  const clock = testClock();
  let t: TestApp;
  let user: TestUser;
  beforeAll(async () => {
    t = await startTestApp({ now: () => clock.now });
    user = await t.createUser();
  });
  afterAll(() => t.close());

  it('expires the access token after 15m (1009) while the refresh token still works', async () => {
    const s = await t.signIn(user);
    clock.advance(15 * MINUTE - 1000);
    expect((await s.client.call(ME)).status).toBe(200);
    clock.advance(2000);
    for (const res of [await s.client.call(ME), await bearerMe(t, s.accessToken)]) {
      expectCode(res, 401, 1009);
    }
    expect((await refreshByCookie(s.client)).status).toBe(200);
    expect((await s.client.call(ME)).status).toBe(200);
  });

  it('ends a session left without any request for 24h; one with activity lives on', async () => {
    const idle = await t.signIn(user);
    const active = await t.signIn(user);
    clock.advance(23 * HOUR);
    expect((await refreshByCookie(active.client)).status).toBe(200);
    expect((await active.client.call(ME)).status).toBe(200);
    clock.advance(HOUR + 1000);
    const me = await idle.client.call(ME);
    expectCode(me, 401, 1009);
    const refresh = await refreshByCookie(idle.client);
    expectCode(refresh, 401, 1005);
    expect(await t.app.auth.sessions.isLive(sessionIdOf(idle.accessToken))).toBe(false);
    expect((await refreshByCookie(active.client)).status).toBe(200);
    expect((await active.client.call(ME)).status).toBe(200);
  });

  it('ends a session after 30 days however active, and never lets a refresh token outlive it', async () => {
    const s = await t.signIn(user);
    for (let i = 1; i < 59; i += 1) {
      clock.advance(12 * HOUR);
      const res = await refreshByCookie(s.client);
      expect(res.status).toBe(200);
      expect((await s.client.call(ME)).status).toBe(200);
      expect(res.body.data.refresh_expires_in).toBe(Math.min(7 * DAY, 30 * DAY - i * 12 * HOUR) / 1000);
    }
    clock.advance(12 * HOUR);
    const lastDay = await refreshByCookie(s.client);
    expect(lastDay.body.data.refresh_expires_in).toBe(12 * 3600);
    expect(lastDay.setCookies.get('refresh_token')?.attributes['max-age']).toBe(String(12 * 3600));
    clock.advance(12 * HOUR - 5 * MINUTE);
    const lastMinutes = await refreshByCookie(s.client);
    expect(lastMinutes.body.data.refresh_expires_in).toBe(300);
    expect((await s.client.call(ME)).status).toBe(200);
    clock.advance(5 * MINUTE + 1000);
    const after = await s.client.call(ME);
    expectCode(after, 401, 1002);
    expect(errorCode(await refreshByCookie(s.client))).toBe(1005);
  });
});

describe('expiry with other lifetimes', () => {
  it('refuses a refresh token older than 7d (1005) though its session is still live', async () => {
    const clock = testClock();
    const t = await startTestApp({ now: () => clock.now, env: { SWITCHBOARD_SESSION_IDLE_TIMEOUT: '30d' } });
    try {
      const user = await t.createUser();
      const early = await t.signIn(user);
      const late = await t.signIn(user);
      clock.advance(7 * DAY - 1000);
      expect((await refreshByCookie(early.client)).status).toBe(200);
      clock.advance(2000);
      const res = await refreshByCookie(late.client);
      expectCode(res, 401, 1005);
      expect(await t.app.auth.sessions.isLive(sessionIdOf(late.accessToken))).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('answers a still-valid access token of an idle session with 1002', async () => {
    const clock = testClock();
    const t = await startTestApp({
      now: () => clock.now,
      env: { SWITCHBOARD_SESSION_IDLE_TIMEOUT: '1h', SWITCHBOARD_ACCESS_TOKEN_TTL: '2h' },
    });
    try {
      const user = await t.createUser();
      const idle = await t.signIn(user);
      const active = await t.signIn(user);
      clock.advance(50 * MINUTE);
      expect((await active.client.call(ME)).status).toBe(200);
      clock.advance(10 * MINUTE + 1000);
      const res = await idle.client.call(ME);
      expectCode(res, 401, 1002);
      expect((await active.client.call(ME)).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('sessions per user', () => {
  async function signInTimes(t: TestApp, clock: { advance(ms: number): void }, user: TestUser, n: number) {
    const signedIn: SignedIn[] = [];
    for (let i = 0; i < n; i += 1) {
      signedIn.push(await t.signIn(user));
      clock.advance(1000);
    }
    return signedIn;
  }

  it('revokes the oldest session at the 11th sign-in and keeps the others', async () => {
    const clock = testClock();
    const t = await startTestApp({ now: () => clock.now });
    try {
      const user = await t.createUser();
      const [oldest, ...rest] = await signInTimes(t, clock, user, 11);
      const res = await bearerMe(t, oldest!.accessToken);
      expectCode(res, 401, 1002);
      for (const s of rest) expect((await s.client.call(ME)).status).toBe(200);
      const list = await rest[0]!.client.call(`${SESSIONS}?limit=50`);
      expect(list.body.data).toHaveLength(10);
    } finally {
      await t.close();
    }
  });

  it('honours SWITCHBOARD_MAX_SESSIONS_PER_USER=2', async () => {
    const clock = testClock();
    const t = await startTestApp({ now: () => clock.now, env: { SWITCHBOARD_MAX_SESSIONS_PER_USER: '2' } });
    try {
      const user = await t.createUser();
      const other = await t.signIn(await t.createUser());
      const [first, second, third] = await signInTimes(t, clock, user, 3);
      expect(errorCode(await first!.client.call(ME))).toBe(1002);
      expect((await second!.client.call(ME)).status).toBe(200);
      expect((await third!.client.call(ME)).status).toBe(200);
      expect((await other.client.call(ME)).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('listing and ending sessions', () => {
  const clock = testClock();
  let t: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let admin: TestUser;
  const signIn = async (user: TestUser) => {
    const s = await t.signIn(user);
    clock.advance(1000);
    return s;
  };
  beforeAll(async () => {
    t = await startTestApp({ now: () => clock.now });
    alice = await t.createUser();
    bob = await t.createUser();
    admin = await t.createUser({ role: 'admin' });
  });
  afterAll(() => t.close());

  it('lists your own live sessions, newest first, with is_current on the calling one, paginated', async () => {
    const sessions = [await signIn(alice), await signIn(alice), await signIn(alice)];
    await signIn(bob);
    const ids = sessions.map((s) => sessionIdOf(s.accessToken));
    const res = await sessions[1]!.client.call(SESSIONS);
    expect(res.status).toBe(200);
    expect(res.body.data.map((s: { id: string }) => s.id)).toEqual([...ids].reverse());
    expect(res.body.data.filter((s: { is_current: boolean }) => s.is_current).map((s: any) => s.id)).toEqual([
      ids[1],
    ]);
    expect(res.body.data.every((s: { user_id: string }) => s.user_id === alice.record.id)).toBe(true);
    expect(res.body.pagination).toEqual({ limit: 50, next_cursor: null, has_more: false });

    const first = await sessions[0]!.client.call(`${SESSIONS}?limit=2`);
    expect(first.body.pagination).toMatchObject({ limit: 2, has_more: true });
    const cursor = encodeURIComponent(first.body.pagination.next_cursor);
    const second = await sessions[0]!.client.call(`${SESSIONS}?limit=2&cursor=${cursor}`);
    expect(second.body.pagination).toEqual({ limit: 2, next_cursor: null, has_more: false });
    const paged = [...first.body.data, ...second.body.data].map((s: { id: string }) => s.id);
    expect(paged).toEqual([...ids].reverse());
  });

  it("lists everyone's sessions for an admin with ?scope=all and refuses a viewer (403)", async () => {
    const a = await signIn(alice);
    const b = await signIn(bob);
    const root = await signIn(admin);
    const all = await root.client.call(`${SESSIONS}?scope=all&limit=200`);
    expect(all.status).toBe(200);
    const ids = all.body.data.map((s: { id: string }) => s.id);
    expect(ids).toEqual(expect.arrayContaining([a, b, root].map((s) => sessionIdOf(s.accessToken))));
    const denied = await a.client.call(`${SESSIONS}?scope=all`);
    expectCode(denied, 403, 1001);
  });

  it('ends one of your sessions (204); it fails on its very next request', async () => {
    const keep = await signIn(alice);
    const end = await signIn(alice);
    const res = await keep.client.call(`${SESSIONS}/${sessionIdOf(end.accessToken)}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    const next = await end.client.call(ME);
    expectCode(next, 401, 1002);
    expect((await keep.client.call(ME)).status).toBe(200);
  });

  it("answers someone else's session id as an unknown one (404), unless you are an admin", async () => {
    const a = await signIn(alice);
    const b = await signIn(bob);
    const bobId = sessionIdOf(b.accessToken);
    const unknownId = randomBytes(18).toString('base64url');
    const foreign = await a.client.call(`${SESSIONS}/${bobId}`, { method: 'DELETE' });
    const unknown = await a.client.call(`${SESSIONS}/${unknownId}`, { method: 'DELETE' });
    for (const res of [foreign, unknown]) {
      expectCode(res, 404, 3000);
    }
    // The same answer apart from the request id and the id echoed in the detail.
    const shape = (res: Reply, id: string) =>
      JSON.stringify(res.body).replace(res.body.error_detail.instance, '<request>').replaceAll(id, '<id>');
    expect(shape(foreign, bobId)).toBe(shape(unknown, unknownId));
    expect((await b.client.call(ME)).status).toBe(200);

    const root = await signIn(admin);
    expect((await root.client.call(`${SESSIONS}/${bobId}`, { method: 'DELETE' })).status).toBe(204);
    expect(errorCode(await b.client.call(ME))).toBe(1002);
  });

  it('ends every other session of yours with DELETE /sessions and keeps the current one', async () => {
    const others = [await signIn(alice), await signIn(alice)];
    const current = await signIn(alice);
    const b = await signIn(bob);
    const res = await current.client.call(SESSIONS, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(res.body.data.revoked).toBeGreaterThanOrEqual(2);
    for (const s of others) expect(errorCode(await s.client.call(ME))).toBe(1002);
    expect((await current.client.call(ME)).status).toBe(200);
    expect((await b.client.call(ME)).status).toBe(200);
    const list = await current.client.call(SESSIONS);
    expect(list.body.data.map((s: { id: string }) => s.id)).toEqual([sessionIdOf(current.accessToken)]);
  });
});

describe('logout', () => {
  const clock = testClock();
  let t: TestApp;
  let user: TestUser;
  beforeAll(async () => {
    t = await startTestApp({ now: () => clock.now });
    user = await t.createUser();
  });
  afterAll(() => t.close());

  it('clears all three cookies and revokes the session', async () => {
    const s = await t.signIn(user);
    const res = await s.client.call(LOGOUT, { method: 'POST' });
    expect(res.status).toBe(204);
    const paths = { session: '/api', csrf_token: '/', refresh_token: REFRESH };
    expect([...res.setCookies.keys()].sort()).toEqual(Object.keys(paths).sort());
    for (const [name, path] of Object.entries(paths)) {
      const cookie = res.setCookies.get(name)!;
      expect(cookie.value).toBe('');
      expect(cookie.attributes.path).toBe(path);
      const expires = cookie.attributes.expires;
      expect(cookie.attributes['max-age'] === '0' || Date.parse(String(expires)) <= Date.now()).toBe(true);
    }
    expect(s.client.jar.size).toBe(0);
    const access = await bearerMe(t, s.accessToken);
    expectCode(access, 401, 1002);
    expect(errorCode(await refreshByBody(t, s.refreshToken))).toBe(1005);
  });

  it('answers 204 without cookies, with garbage cookies and twice in a row', async () => {
    expect((await t.client().call(LOGOUT, { method: 'POST' })).status).toBe(204);
    const garbage = t.client();
    garbage.setCookie('session', 'garbage.not.ajwt', '/api');
    garbage.setCookie('csrf_token', 'garbage');
    garbage.setCookie('refresh_token', 'garbage', REFRESH);
    const res = await garbage.call(LOGOUT, { method: 'POST' });
    expect(res.status).toBe(204);
    expect(res.setCookies.size).toBe(3);
    const s = await t.signIn(user);
    expect((await s.client.call(LOGOUT, { method: 'POST' })).status).toBe(204);
    expect((await s.client.call(LOGOUT, { method: 'POST', bearer: s.accessToken })).status).toBe(204);
  });

  it('revokes the session of an expired access token', async () => {
    const s = await t.signIn(user);
    clock.advance(16 * MINUTE);
    expect(errorCode(await s.client.call(ME))).toBe(1009);
    expect((await s.client.call(LOGOUT, { method: 'POST' })).status).toBe(204);
    expect(await t.app.auth.sessions.isLive(sessionIdOf(s.accessToken))).toBe(false);
    expect(errorCode(await refreshByBody(t, s.refreshToken))).toBe(1005);
  });

  it('works with a bearer token and no cookies', async () => {
    const s = await t.signIn(user);
    const res = await t.client().call(LOGOUT, { method: 'POST', bearer: s.accessToken });
    expect(res.status).toBe(204);
    expect(errorCode(await bearerMe(t, s.accessToken))).toBe(1002);
  });
});

describe('session fixation', () => {
  let t: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    t = await startTestApp();
    alice = await t.createUser();
    bob = await t.createUser();
  });
  afterAll(() => t.close());

  it('never adopts a session cookie planted before sign-in', async () => {
    const planted = randomBytes(24).toString('base64url');
    const c = t.client();
    c.setCookie('session', planted, '/api');
    const res = await c.call('/api/v1/auth/login', {
      json: { username: alice.username, password: alice.password },
    });
    expect(res.status).toBe(200);
    expect(c.cookie('session')).not.toBe(planted);
    expect((await c.call(ME)).body.data.username).toBe(alice.username);
    const attacker = t.client();
    attacker.setCookie('session', planted, '/api');
    expectCode(await attacker.call(ME), 401, 1009);
  });

  it("revokes another user's valid session presented during sign-in", async () => {
    const a = await t.signIn(alice);
    const c = t.client();
    c.setCookie('session', a.client.cookie('session')!, '/api');
    const res = await c.call('/api/v1/auth/login', {
      json: { username: bob.username, password: bob.password },
    });
    expect(res.status).toBe(200);
    expect(c.cookie('session')).not.toBe(a.accessToken);
    expect(sessionIdOf(c.cookie('session')!)).not.toBe(sessionIdOf(a.accessToken));
    expect((await c.call(ME)).body.data.username).toBe(bob.username);
    const old = await bearerMe(t, a.accessToken);
    expectCode(old, 401, 1002);
  });
});
