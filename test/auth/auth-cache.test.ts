import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeysStore } from '../../src/auth/api-keys-store.js';
import { AUTH_CACHE_TTL_MS } from '../../src/auth/auth-cache.js';
import { SessionsStore } from '../../src/auth/sessions-store.js';
import { UsersStore } from '../../src/auth/users-store.js';
import { databaseEnv, runInProcess } from '../cli/run-cli.js';
import type { Reply } from '../client.js';
import { type SignedIn, startTestApp, type TestApp, type TestUser } from '../fixture.js';

/**
 * Authentication remembers what it reads for a moment (src/auth/auth-cache.ts); none of it may outlive a
 * revocation. A change the app makes is honoured by the very next request; one written straight into the
 * database (the command line, another process) within a second.
 */

/** The bound on staleness the revocation promise allows, with room for a busy machine to poll. */
const STALE_BOUND_MS = 1500;

let t: TestApp;
let admin: SignedIn;

beforeAll(async () => {
  t = await startTestApp();
  admin = await t.signIn(await t.createUser({ role: 'admin' }));
});
afterAll(() => t.close());

interface Subject {
  user: TestUser;
  /** Signed in twice: the second session is the one a change by the first must end. */
  session: SignedIn;
  other: SignedIn;
  key: { id: string; key: string };
}

async function subject(role: 'viewer' | 'editor' = 'editor', groups: string[] = ['ops']): Promise<Subject> {
  const user = await t.createUser({ role, groups });
  const session = await t.signIn(user);
  const other = await t.signIn(user);
  const res = await session.client.call('/api/v1/auth/api-keys', { json: { name: 'wall', role } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { user, session, other, key: { id: res.body.data.id, key: res.body.data.key } };
}

const me = (bearer: string) => t.client().call('/api/v1/auth/me', { bearer });
const sessionIdOf = (accessToken: string) => decodeJwt(accessToken).jti as string;
const statusOf = async (bearer: string) => (await me(bearer)).status;

/** Each credential answered twice, so the second answer came from what the first one read. */
async function warm(...bearers: string[]): Promise<void> {
  for (const bearer of bearers) {
    for (let i = 0; i < 2; i += 1) expect((await me(bearer)).status).toBe(200);
  }
}

/** Asks until `ok` holds or the bound passes; returns the last answer, for the assertion to show. */
async function within<T>(probe: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + STALE_BOUND_MS;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() >= deadline) return value;
    await sleep(25);
  }
}

const body = (res: Reply) => res.body?.data;

describe('a change made through the app is honoured by the very next request', () => {
  it('logout ends the session for its access token', async () => {
    const s = await subject();
    await warm(s.session.accessToken);
    expect((await s.session.client.call('/api/v1/auth/logout', { method: 'POST' })).status).toBe(204);
    expect(await statusOf(s.session.accessToken)).toBe(401);
  });

  it('a revoked session is refused, on its bearer token and its cookie', async () => {
    const s = await subject();
    await warm(s.other.accessToken);
    expect((await s.other.client.call('/api/v1/auth/me')).status).toBe(200);
    const revoke = await admin.client.call(`/api/v1/auth/sessions/${sessionIdOf(s.other.accessToken)}`, {
      method: 'DELETE',
    });
    expect(revoke.status).toBe(204);
    expect(await statusOf(s.other.accessToken)).toBe(401);
    expect((await s.other.client.call('/api/v1/auth/me')).status).toBe(401);
  });

  it('a revoked API key is refused', async () => {
    const s = await subject();
    await warm(s.key.key);
    const revoke = await s.session.client.call(`/api/v1/auth/api-keys/${s.key.id}`, { method: 'DELETE' });
    expect(revoke.status).toBe(204);
    expect(await statusOf(s.key.key)).toBe(401);
  });

  it('a disabled user is refused, with a session and with an API key', async () => {
    const s = await subject();
    await warm(s.session.accessToken, s.key.key);
    const patch = await admin.client.call(`/api/v1/users/${s.user.record.id}`, {
      method: 'PATCH',
      json: { disabled: true },
    });
    expect(patch.status).toBe(200);
    expect(await statusOf(s.session.accessToken)).toBe(401);
    expect(await statusOf(s.key.key)).toBe(401);
  });

  it('a role or group change is what the next request acts with', async () => {
    const s = await subject('editor', ['ops']);
    await warm(s.session.accessToken, s.key.key);
    const patch = await admin.client.call(`/api/v1/users/${s.user.record.id}`, {
      method: 'PATCH',
      json: { role: 'viewer', groups: ['night'] },
    });
    expect(patch.status).toBe(200);
    for (const bearer of [s.session.accessToken, s.key.key]) {
      expect(body(await me(bearer))).toMatchObject({ role: 'viewer', groups: ['night'] });
    }
  });

  it('must-change-password set by an admin is what the next request sees', async () => {
    const s = await subject();
    await warm(s.session.accessToken);
    const patch = await admin.client.call(`/api/v1/users/${s.user.record.id}`, {
      method: 'PATCH',
      json: { must_change_password: true },
    });
    expect(patch.status).toBe(200);
    expect(body(await me(s.session.accessToken))).toMatchObject({ must_change_password: true });
  });

  it("a password change ends the user's other sessions; an admin's reset ends them all", async () => {
    const s = await subject();
    await warm(s.session.accessToken, s.other.accessToken);
    const changed = await s.session.client.call('/api/v1/auth/password', {
      json: { current_password: s.user.password, new_password: 'another-password-Vb5%pL9s' },
    });
    expect(changed.status).toBe(200);
    expect(await statusOf(s.other.accessToken)).toBe(401);
    const fresh = body(changed).access_token as string;
    await warm(fresh);
    const reset = await admin.client.call(`/api/v1/users/${s.user.record.id}`, {
      method: 'PATCH',
      json: { password: 'reset-by-admin-Qw8&zN3e' },
    });
    expect(reset.status).toBe(200);
    expect(await statusOf(fresh)).toBe(401);
  });
});

describe('a change written straight into the database is honoured within a second', () => {
  /** `switchboard user …` in this process: its own connection, its own events, none of them ours. */
  const cli = async (args: string[], input?: string) => {
    const run = await runInProcess(['user', ...args], {
      env: databaseEnv({ url: databaseUrl(), dataDir: t.settings.dataDir }),
      input,
    });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  };
  const databaseUrl = () =>
    t.settings.database.engine === 'sqlite' ? `sqlite:${t.settings.database.file}` : t.settings.database.url;
  const db = () => t.app.auth.deps.db;
  /** The bound on staleness: refused (401) within the time `within` allows, not necessarily at once. */
  const expectRefusedWithin = async (bearer: string) =>
    expect(
      await within(
        () => statusOf(bearer),
        (status) => status === 401,
      ),
    ).toBe(401);

  it('`switchboard user disable` refuses the sessions and keys of the user', async () => {
    const s = await subject();
    await warm(s.session.accessToken, s.key.key);
    await cli(['disable', s.user.username]);
    await expectRefusedWithin(s.session.accessToken);
    await expectRefusedWithin(s.key.key);
  });

  it('`switchboard user set-role` is what requests act with', async () => {
    const s = await subject('editor');
    await warm(s.session.accessToken, s.key.key);
    await cli(['set-role', s.user.username, 'viewer']);
    for (const bearer of [s.session.accessToken, s.key.key]) {
      const res = await within(
        () => me(bearer),
        (r) => body(r)?.role === 'viewer',
      );
      expect(body(res)).toMatchObject({ role: 'viewer' });
    }
  });

  it('`switchboard user reset-password` refuses the access tokens issued before it', async () => {
    const s = await subject();
    await warm(s.session.accessToken);
    await cli(['reset-password', s.user.username, '--password-stdin'], 'reset-from-cli-Hj6*rT2m\n');
    await expectRefusedWithin(s.session.accessToken);
  });

  it('a session or an API key revoked in its table is refused', async () => {
    const s = await subject();
    await warm(s.session.accessToken, s.key.key);
    const at = new Date().toISOString();
    await new SessionsStore(db()).revoke(sessionIdOf(s.session.accessToken), at, 'test');
    await new ApiKeysStore(db()).revoke(s.key.id, at);
    await expectRefusedWithin(s.session.accessToken);
    await expectRefusedWithin(s.key.key);
  });

  it('groups changed in their table are what requests act with', async () => {
    const s = await subject('editor', ['ops']);
    await warm(s.session.accessToken, s.key.key);
    await new UsersStore(db(), t.app.auth.deps.engine).setGroups(s.user.record.id, ['night']);
    for (const bearer of [s.session.accessToken, s.key.key]) {
      const res = await within(
        () => me(bearer),
        (r) => body(r)?.groups?.[0] === 'night',
      );
      expect(body(res)).toMatchObject({ groups: ['night'] });
    }
  });
});

describe('answers without waiting (the hot path)', () => {
  /** What a call throws, as its message, or what it returns. */
  async function outcome<T>(call: () => T | Promise<T>): Promise<T | string> {
    try {
      return await call();
    } catch (error) {
      return (error as Error).message;
    }
  }

  it('come only from what was read a moment ago, and say what the database says, refusals included', async () => {
    const s = await subject('viewer');
    const { sessions, apiKeys } = t.app.auth;
    const token = s.session.accessToken;
    await sleep(AUTH_CACHE_TTL_MS + 50);
    expect(sessions.authenticateAccessTokenNow(token, 'bearer')).toBeUndefined();
    expect(apiKeys.authenticateNow(s.key.key)).toBeUndefined();
    const principal = await sessions.authenticateAccessToken(token, 'bearer');
    const keyPrincipal = await apiKeys.authenticate(s.key.key);
    expect(sessions.authenticateAccessTokenNow(token, 'bearer')).toEqual(principal);
    expect(apiKeys.authenticateNow(s.key.key)).toEqual(keyPrincipal);

    const patch = await admin.client.call(`/api/v1/users/${s.user.record.id}`, {
      method: 'PATCH',
      json: { disabled: true },
    });
    expect(patch.status).toBe(200);
    // The change dropped what was remembered: nothing is told without the database…
    expect(sessions.authenticateAccessTokenNow(token, 'bearer')).toBeUndefined();
    const refusal = await outcome(() => sessions.authenticateAccessToken(token, 'bearer'));
    // Disabling ends the user's sessions too: that is what is said first.
    expect(refusal).toBe('session was revoked; sign in again');
    // …and once read again, the answer without waiting is the same refusal.
    expect(await outcome(() => sessions.authenticateAccessTokenNow(token, 'bearer'))).toBe(refusal);
    const keyRefusal = await outcome(() => apiKeys.authenticate(s.key.key));
    expect(keyRefusal).toBe('API key is not valid');
    expect(await outcome(() => apiKeys.authenticateNow(s.key.key))).toBe(keyRefusal);
  });
});
