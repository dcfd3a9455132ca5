import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ErrorCode,
  isSwitchboardError,
  type Switchboard,
  SwitchboardError,
  unwrap,
} from '../../packages/client/src/index.js';
import { startTestApp, type TestApp, type TestUser, testClock } from '../fixture.js';
import { countingFetch, nodeClient, type RequestLog } from './harness.js';

const ENV = {
  SWITCHBOARD_RATE_LIMITS: 'login.ip=off,login.username=off,tickets.issue=off',
  SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '10000',
};

/** The client's REST side against a real server: typed calls, typed errors, tokens and cookies. */
describe('@switchboard/client REST', () => {
  const clock = testClock();
  let t: TestApp;
  let admin: TestUser;
  let viewer: TestUser;
  const clients: Switchboard[] = [];
  const client = (options: Parameters<typeof nodeClient>[1] = {}) => {
    const c = nodeClient(t.url, { now: () => clock.now, ...options });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startTestApp({ env: ENV, now: () => clock.now });
    admin = await t.createUser({ role: 'admin' });
    viewer = await t.createUser({ role: 'viewer' });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await t?.close();
  });

  it('signs in with tokens and makes typed calls, the envelope opened', async () => {
    const sb = client();
    const user = await sb.signIn(viewer.username, viewer.password);
    expect(user.username).toBe(viewer.username);
    expect(sb.session.currentTokens?.accessToken).toMatch(/^ey/);
    const me = await unwrap(sb.api.GET('/api/v1/auth/me'));
    // Typed: `role` is the union of the three roles, `groups` a string list.
    const role: 'viewer' | 'editor' | 'admin' = me.role;
    expect(role).toBe('viewer');
    expect(me.groups).toEqual([]);
    const summary = await unwrap(sb.api.GET('/api/v1/preferences/summary'));
    expect(summary).toBeTypeOf('object');
  });

  it('turns failures into SwitchboardErrors typed by code, with field errors and the request id', async () => {
    const sb = client();
    const wrong = await sb.signIn(viewer.username, 'not-the-password-at-all').catch((e: unknown) => e);
    expect(isSwitchboardError(wrong, ErrorCode.unauthorized)).toBe(true);
    expect(wrong).toMatchObject({ status: 401, code: 1000, category: 'auth' });

    await sb.signIn(admin.username, admin.password);
    const invalid = await unwrap(
      sb.api.POST('/api/v1/users', {
        body: { username: '', password: 'x', role: 'viewer' } as never,
      }),
    ).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(SwitchboardError);
    const error = invalid as SwitchboardError;
    expect(error.code).toBe(ErrorCode.invalidBody);
    expect(error.status).toBe(422);
    expect(error.category).toBe('validation');
    expect(error.fieldErrors.length).toBeGreaterThan(0);
    expect(error.fieldErrors[0]?.pointer).toMatch(/^\//);
    expect(error.requestId).toBeTruthy();

    const missing = await unwrap(
      sb.api.GET('/api/v1/users/{id}', { params: { path: { id: '00000000-0000-0000-0000-000000000000' } } }),
    ).catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404, code: ErrorCode.notFound, category: 'not_found' });
  });

  it('carries Retry-After on a refusal as retryAfter', async () => {
    const sb = client();
    await sb.signIn(viewer.username, viewer.password);
    // Six connect tickets while five may be pending: the sixth is a 429 (code 5004).
    const answers = await Promise.allSettled(Array.from({ length: 6 }, () => sb.session.ticket()));
    const refused = answers.find((a) => a.status === 'rejected');
    expect(refused?.status).toBe('rejected');
    const error = (refused as PromiseRejectedResult).reason as SwitchboardError;
    expect(error.code).toBe(ErrorCode.ticketCap);
    expect(error.status).toBe(429);
    expect(error.retryAfter === null || error.retryAfter >= 0).toBe(true);
    expect(error.retryable).toBe(true);
  });

  it('refreshes an access token the server calls expired (1009) once, and retries the request', async () => {
    const log: RequestLog = { requests: [] };
    // This client's clock stands still: only the server knows the token expired.
    const sb = client({ fetch: countingFetch(log), now: () => 0 });
    await sb.signIn(viewer.username, viewer.password);
    clock.advance(16 * 60_000);
    const [a, b, c] = await Promise.all([
      unwrap(sb.api.GET('/api/v1/auth/me')),
      unwrap(sb.api.GET('/api/v1/preferences/summary')),
      unwrap(sb.api.GET('/api/v1/auth/roles')),
    ]);
    expect(a.username).toBe(viewer.username);
    expect(b).toBeTruthy();
    expect(c.roles.length).toBe(3);
    const refreshes = log.requests.filter((r) => r.path === '/api/v1/auth/refresh');
    expect(refreshes).toEqual([{ method: 'POST', path: '/api/v1/auth/refresh', status: 200 }]);
    expect(log.requests.filter((r) => r.status === 401).length).toBe(3);
  });

  it('refreshes silently before the access token expires, one refresh for every request waiting', async () => {
    const log: RequestLog = { requests: [] };
    const sb = client({ fetch: countingFetch(log) });
    await sb.signIn(viewer.username, viewer.password);
    const before = sb.session.currentTokens?.accessToken;
    // 14 of the 15 minutes gone: inside the refresh margin, still valid on the server.
    clock.advance(14 * 60_000 + 30_000);
    await Promise.all([
      unwrap(sb.api.GET('/api/v1/auth/me')),
      unwrap(sb.api.GET('/api/v1/auth/me')),
      unwrap(sb.api.GET('/api/v1/auth/roles')),
    ]);
    expect(log.requests.filter((r) => r.path === '/api/v1/auth/refresh').length).toBe(1);
    expect(log.requests.filter((r) => r.status === 401)).toEqual([]);
    expect(sb.session.currentTokens?.accessToken).not.toBe(before);
  });

  it('reports signed-out when the session is revoked elsewhere, and stops refreshing', async () => {
    const sb = client();
    await sb.signIn(viewer.username, viewer.password);
    const reasons: (SwitchboardError | null)[] = [];
    sb.session.on('signed-out', (error) => reasons.push(error));
    const other = await t.signIn(viewer);
    // Everything of the user's but the other session goes (DELETE /auth/sessions keeps the caller's own).
    const ended = await other.client.call('/api/v1/auth/sessions', { method: 'DELETE' });
    expect(ended.status).toBe(200);
    const error = await unwrap(sb.api.GET('/api/v1/auth/me')).catch((e: unknown) => e);
    expect(isSwitchboardError(error, ErrorCode.sessionRevoked)).toBe(true);
    expect(reasons.map((r) => r?.code)).toEqual([ErrorCode.sessionRevoked]);
    expect(sb.session.isSignedIn).toBe(false);
    expect(sb.session.currentTokens).toBeNull();
  });

  it('signs in with cookies in Node: a cookie jar, the CSRF header and Origin on writes', async () => {
    const sb = client({ auth: 'cookies', origin: t.origin });
    await sb.signIn(viewer.username, viewer.password);
    expect(sb.session.currentTokens).toBeNull();
    const me = await unwrap(sb.api.GET('/api/v1/auth/me'));
    expect(me.username).toBe(viewer.username);
    // A write: refused without the CSRF header, so this passing shows the client sent it.
    const prefs = await unwrap(
      sb.api.PATCH('/api/v1/preferences', { body: { theme: 'dark' }, headers: { 'if-match': '*' } }),
    );
    expect(prefs.theme).toBe('dark');
    // Expired on the server: the refresh cookie renews it.
    clock.advance(16 * 60_000);
    expect((await unwrap(sb.api.GET('/api/v1/auth/me'))).id).toBe(me.id);
    await sb.signOut();
    const after = await unwrap(sb.api.GET('/api/v1/auth/me')).catch((e: unknown) => e);
    expect(isSwitchboardError(after, ErrorCode.noCredentials)).toBe(true);
  });

  it('works with an API key, which it never tries to refresh', async () => {
    const owner = await t.signIn(admin);
    const created = await owner.client.call('/api/v1/auth/api-keys', {
      method: 'POST',
      json: { name: 'client-test', role: 'viewer' },
    });
    expect(created.status).toBe(201);
    const log: RequestLog = { requests: [] };
    const sb = client({ apiKey: created.body.data.key, fetch: countingFetch(log) });
    expect(sb.session.mode).toBe('api-key');
    const me = await unwrap(sb.api.GET('/api/v1/auth/me'));
    expect(me.auth_method).toBe('api_key');
    const refused = await sb.session.ticket().catch((e: unknown) => e);
    expect(isSwitchboardError(refused, ErrorCode.forbidden)).toBe(true);
    expect(log.requests.some((r) => r.path.endsWith('/refresh'))).toBe(false);
  });
});
