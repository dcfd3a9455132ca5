import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/platform/problem.js';
import { errorCode } from '../client.js';
import { startTestApp, type TestApp, testClock } from '../fixture.js';
import { expectRefused, times } from './limited.js';

const ME = '/api/v1/auth/me';
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const tiers = (floor: number, unauthenticated: number, authenticated: number) => ({
  SWITCHBOARD_RATE_LIMIT_IP_FLOOR: String(floor),
  SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: String(unauthenticated),
  SWITCHBOARD_RATE_LIMIT_AUTHENTICATED: String(authenticated),
});

describe('the IP floor', () => {
  it('counts every request, 404s and 401s included, but never the health checks', async () => {
    t = await startTestApp({ env: tiers(5, 5, 5) });
    const c = t.client();
    const answered = [
      ...(await times(3, () => c.call('/no-such-page'))),
      ...(await times(2, () => c.call(ME))),
    ].map((r) => r.status);
    expect(answered).toEqual([404, 404, 404, 401, 401]);
    expectRefused(await c.call('/no-such-page'), ErrorCode.rateLimited);
    expectRefused(await c.call('/openapi.json'), ErrorCode.rateLimited);
    for (const path of ['/healthz', '/readyz', '/healthz?probe=1', '/readyz?']) {
      const res = await c.call(path);
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
    }
    // Only the health checks' own paths go uncounted: anything else is counted, whatever it routes to.
    expectRefused(await c.call('/healthz/'), ErrorCode.rateLimited);
  });
});

describe('the unauthenticated tier', () => {
  it('limits requests without valid credentials per address, while signed-in users keep their own budget', async () => {
    t = await startTestApp({ env: tiers(1000, 4, 1000) });
    const user = await t.createUser();
    const { client: signedIn } = await t.signIn(user); // the sign-in itself is anonymous: 1 of 4
    const anonymous = t.client();
    const statuses = (await times(3, () => anonymous.call(ME))).map((r) => r.status);
    expect(statuses).toEqual([401, 401, 401]);
    const refused = await anonymous.call(ME);
    expectRefused(refused, ErrorCode.rateLimited);
    expect(refused.body.error).toMatch(/from your address/);
    // A forged token is no credential: it spends the anonymous budget too.
    expectRefused(await anonymous.call(ME, { bearer: 'not.a.token' }), ErrorCode.rateLimited);
    expect((await signedIn.call(ME)).status).toBe(200);
  });

  it('lets the address in again once Retry-After has passed', async () => {
    const clock = testClock();
    t = await startTestApp({ env: tiers(1000, 2, 1000), now: () => clock.now });
    const c = t.client();
    await times(2, () => c.call(ME));
    const refused = await c.call(ME);
    expectRefused(refused, ErrorCode.rateLimited);
    clock.advance(Number(refused.headers['retry-after']) * 1000);
    expect((await c.call(ME)).status).toBe(401);
  });
});

describe('the authenticated tier', () => {
  it('limits each user across their sessions and API keys, not the address they share', async () => {
    t = await startTestApp({ env: tiers(1000, 1000, 6) });
    const alice = await t.signIn(await t.createUser());
    const bob = await t.signIn(await t.createUser());
    const key = await alice.client.call('/api/v1/auth/api-keys', {
      json: { name: 'script', role: 'viewer' },
    }); // 1
    expect(key.status).toBe(201);
    await times(3, () => alice.client.call(ME)); // 4
    expect((await alice.client.call(ME, { bearer: key.body.data.key })).status).toBe(200); // 5, via the key
    expect((await alice.client.call(ME)).status).toBe(200); // 6
    const refused = await alice.client.call(ME);
    expectRefused(refused, ErrorCode.rateLimited);
    expect(refused.body.error).toMatch(/for your account/);
    const viaKey = await t.client().call(ME, { bearer: key.body.data.key });
    expectRefused(viaKey, ErrorCode.rateLimited);
    expect((await bob.client.call(ME)).status).toBe(200);
  });
});

describe('RateLimit headers', () => {
  it('tell every answer how much is left of the tightest limit', async () => {
    t = await startTestApp({ env: tiers(1000, 1000, 10) });
    const alice = await t.signIn(await t.createUser());
    const first = await alice.client.call(ME);
    const second = await alice.client.call(ME);
    expect(first.headers['ratelimit-limit']).toBe('10');
    expect(Number(first.headers['ratelimit-remaining'])).toBe(9);
    expect(Number(second.headers['ratelimit-remaining'])).toBe(8);
    expect(Number(second.headers['ratelimit-reset'])).toBeGreaterThanOrEqual(1);
    expect(Number(second.headers['ratelimit-reset'])).toBeLessThanOrEqual(60);
  });

  it('go out on answers that refuse the request after it was counted: a 401, a 404', async () => {
    t = await startTestApp({ env: tiers(1000, 5, 10) });
    const c = t.client();
    const unauthenticated = await c.call(ME);
    expect(unauthenticated.status).toBe(401);
    // The tightest of the IP floor (1000) and the unauthenticated tier (5).
    expect(unauthenticated.headers['ratelimit-limit']).toBe('5');
    expect(unauthenticated.headers['ratelimit-remaining']).toBe('4');
    const unknown = await c.call('/nowhere');
    expect(unknown.status).toBe(404);
    // Off the API only the floor counts.
    expect(unknown.headers['ratelimit-limit']).toBe('1000');
    expect(Number(unknown.headers['ratelimit-remaining'])).toBe(998);
  });

  it('come with a bare problem document too', async () => {
    t = await startTestApp({ env: tiers(1, 1, 1) });
    const c = t.client();
    await c.call(ME);
    const res = await c.call(ME, { headers: { accept: 'application/problem+json' } });
    expect(res.status).toBe(429);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.error_code).toBe(ErrorCode.rateLimited);
    expect(res.body.retry_after).toBeGreaterThanOrEqual(1);
  });
});

describe('under a flood', () => {
  it('answers a client hammering a limited route with 401s and 429s, never a 5xx', async () => {
    t = await startTestApp({ env: tiers(200, 50, 100) });
    const c = t.client();
    const replies = await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        i % 2 === 0
          ? c.call('/api/v1/auth/login', { json: { username: `u${i}`, password: 'wrong-password-123' } })
          : c.call(ME),
      ),
    );
    const statuses = new Set(replies.map((r) => r.status));
    expect([...statuses].sort()).toEqual([401, 429]);
    const refused = replies.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(200);
    for (const r of refused) expect([5000, 5001]).toContain(errorCode(r));
  });
});

describe('with rate limiting off', () => {
  it('neither counts nor sends RateLimit headers', async () => {
    t = await startTestApp({ env: { ...tiers(2, 2, 2), SWITCHBOARD_RATE_LIMITING: 'false' } });
    const replies = await times(10, () => t!.client().call(ME));
    expect(replies.every((r) => r.status === 401 && r.headers['ratelimit-limit'] === undefined)).toBe(true);
  });
});
