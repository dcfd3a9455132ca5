import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import type { Reply } from '../client.js';
import type { SignedIn, TestApp } from '../fixture.js';
import { clusterHarness } from '../live/cluster-harness.js';
import { eventually, redisUrl } from '../live/redis-run.js';

/**
 * Two instances on one database and one Redis: a revocation made on one is honoured by the other within a
 * second, although each remembers what authentication read (src/auth/auth-cache.ts).
 */

const harness = clusterHarness();
const BOUND_MS = 1000;

async function cluster(): Promise<{ a: TestApp; b: TestApp; admin: SignedIn }> {
  const env = {
    SWITCHBOARD_REDIS_URL: redisUrl,
    SWITCHBOARD_REDIS_KEY_PREFIX: harness.redis.prefix(),
  };
  const { a, b } = await harness.pair(env);
  const admin = await a.signIn(await a.createUser({ role: 'admin' }));
  return { a, b, admin };
}

/** A user signed in on `a`, with an API key, both answered twice by `b` so that `b` remembers them. */
async function watchedOn(a: TestApp, b: TestApp) {
  const user = await a.createUser({ role: 'editor', groups: ['ops'] });
  const session = await a.signIn(user);
  const created = await session.client.call('/api/v1/auth/api-keys', {
    json: { name: 'wall', role: 'editor' },
  });
  expect(created.status).toBe(201);
  const key = { id: created.body.data.id as string, key: created.body.data.key as string };
  const me = (bearer: string) => b.client().call('/api/v1/auth/me', { bearer });
  for (const bearer of [session.accessToken, key.key]) {
    for (let i = 0; i < 2; i += 1) expect((await me(bearer)).status).toBe(200);
  }
  return { user, session, key, me };
}

/** `probe` within the bound, from the moment the change was answered on the other instance. */
const within = <T>(probe: () => Promise<T>, ok: (value: T) => boolean) => eventually(probe, ok, BOUND_MS);
const refused = (res: Reply) => res.status === 401;

describe('a revocation on one instance is honoured on the other within a second', () => {
  it('logout and a revoked session', async () => {
    const { a, b, admin } = await cluster();
    const out = await watchedOn(a, b);
    const revoked = await watchedOn(a, b);
    expect((await out.session.client.call('/api/v1/auth/logout', { method: 'POST' })).status).toBe(204);
    expect((await within(() => out.me(out.session.accessToken), refused)).status).toBe(401);
    const sessionId = decodeJwt(revoked.session.accessToken).jti as string;
    expect((await admin.client.call(`/api/v1/auth/sessions/${sessionId}`, { method: 'DELETE' })).status).toBe(
      204,
    );
    expect((await within(() => revoked.me(revoked.session.accessToken), refused)).status).toBe(401);
  });

  it('a revoked API key', async () => {
    const { a, b } = await cluster();
    const s = await watchedOn(a, b);
    expect(
      (await s.session.client.call(`/api/v1/auth/api-keys/${s.key.id}`, { method: 'DELETE' })).status,
    ).toBe(204);
    expect((await within(() => s.me(s.key.key), refused)).status).toBe(401);
  });

  it('a disabled user, a role change and a password change', async () => {
    const { a, b, admin } = await cluster();
    const disabled = await watchedOn(a, b);
    const demoted = await watchedOn(a, b);
    const reset = await watchedOn(a, b);
    const patch = (id: string, json: Record<string, unknown>) =>
      admin.client.call(`/api/v1/users/${id}`, { method: 'PATCH', json });
    expect((await patch(disabled.user.record.id, { disabled: true })).status).toBe(200);
    expect((await within(() => disabled.me(disabled.session.accessToken), refused)).status).toBe(401);
    expect((await within(() => disabled.me(disabled.key.key), refused)).status).toBe(401);
    expect((await patch(demoted.user.record.id, { role: 'viewer', groups: ['night'] })).status).toBe(200);
    for (const bearer of [demoted.session.accessToken, demoted.key.key]) {
      const res = await within(
        () => demoted.me(bearer),
        (r) => r.body?.data?.role === 'viewer',
      );
      expect(res.body.data).toMatchObject({ role: 'viewer', groups: ['night'] });
    }
    expect((await patch(reset.user.record.id, { password: 'reset-by-admin-Qw8&zN3e' })).status).toBe(200);
    expect((await within(() => reset.me(reset.session.accessToken), refused)).status).toBe(401);
  });
});
