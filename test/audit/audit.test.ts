import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallOptions, Client, Reply } from '../client.js';
import { engine, startTestApp, type TestApp } from '../fixture.js';

const SETUP_TOKEN = 'audit-setup-token-0123456789abcdef';
const UA = 'audit-test/1.0 (+switchboard)';
const ROOT_PASSWORD = 'Admin-Passphrase-4u!zQv';
const ALICE_PASSWORD = 'First-Passphrase-8k#Lmw';
const ALICE_NEW_PASSWORD = 'Second-Passphrase-3p$Rtx';
const VICTIM_PASSWORD = 'Third-Passphrase-6j%Hyn';
const WRONG_PASSWORDS = ['wrong-Guess-1aa!zz', 'wrong-Guess-2bb!yy', 'wrong-Guess-3cc!xx'];

interface AuditItem {
  id: number;
  at: string;
  type: string;
  outcome: string;
  actor: { id: string | null; username: string | null } | null;
  ip: string | null;
  user_agent: string | null;
  target: { type: string; id: string } | null;
  detail: Record<string, unknown> | null;
}

function expectError(res: Reply, status: number, code: number): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error_detail.error_code).toBe(code);
}

/** Every request of the sequence carries the same User-Agent, so the audit log can be checked for it. */
const call = (c: Client, path: string, options: CallOptions = {}) =>
  c.call(path, { ...options, headers: { 'user-agent': UA, ...options.headers } });

describe('GET /audit', () => {
  const T0 = Date.parse('2031-03-04T05:06:00.000Z');
  let clock = T0;
  let t: TestApp;
  let root: Client;
  let aliceId: string;
  let events: AuditItem[];
  const secrets: string[] = [SETUP_TOKEN, ROOT_PASSWORD, ALICE_PASSWORD, ALICE_NEW_PASSWORD, VICTIM_PASSWORD];
  const keep = (reply: Reply) => {
    const data = reply.body?.data;
    for (const field of ['access_token', 'refresh_token', 'key'])
      if (data?.[field]) secrets.push(data[field]);
    return reply;
  };
  const list = async (query: string): Promise<Reply> => call(root, `/api/v1/audit?${query}`);
  const items = async (query: string): Promise<AuditItem[]> => {
    const res = await list(query);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.data;
  };

  beforeAll(async () => {
    secrets.push(...WRONG_PASSWORDS);
    t = await startTestApp({
      now: () => clock,
      env: { SWITCHBOARD_SETUP_TOKEN: SETUP_TOKEN, SWITCHBOARD_LOCKOUT_THRESHOLD: '2' },
    });
  });
  afterAll(() => t.close());

  it('records a real sequence of security events, newest first, with actor, ip, user agent, time and outcome', async () => {
    // Phase A: first run.
    root = t.client();
    const setup = keep(
      await call(root, '/api/v1/auth/setup', {
        json: { username: 'root', password: ROOT_PASSWORD, setup_token: SETUP_TOKEN },
      }),
    );
    expect(setup.status).toBe(201);
    expectError(
      await call(t.client(), '/api/v1/auth/login', {
        json: { username: 'root', password: WRONG_PASSWORDS[0] },
      }),
      401,
      1000,
    );
    for (const [username, password] of [
      ['alice', ALICE_PASSWORD],
      ['victim', VICTIM_PASSWORD],
    ]) {
      const created = await call(root, '/api/v1/users', {
        json: { username, password, role: 'viewer', must_change_password: false },
      });
      expect(created.status).toBe(201);
      if (username === 'alice') aliceId = created.body.data.id;
    }

    // Phase B: a lockout, sign-ins, a user update, an API key made and revoked.
    clock = T0 + 60_000;
    for (const password of WRONG_PASSWORDS.slice(1)) {
      const res = await call(t.client(), '/api/v1/auth/login', { json: { username: 'victim', password } });
      expectError(res, 401, 1000);
    }
    const locked = await call(t.client(), '/api/v1/auth/login', {
      json: { username: 'victim', password: VICTIM_PASSWORD },
    });
    expectError(locked, 429, 1003);
    const aliceLogin = async () => {
      const c = t.client();
      const res = keep(
        await call(c, '/api/v1/auth/login', { json: { username: 'alice', password: ALICE_PASSWORD } }),
      );
      expect(res.status).toBe(200);
      return { client: c, refresh: res.body.data.refresh_token as string };
    };
    const a1 = await aliceLogin();
    await aliceLogin();
    const updated = await call(root, `/api/v1/users/${aliceId}`, {
      method: 'PATCH',
      json: { full_name: 'Alice Example' },
    });
    expect(updated.status).toBe(200);
    const key = keep(
      await call(a1.client, '/api/v1/auth/api-keys', { json: { name: 'robot', role: 'viewer' } }),
    );
    expect(key.status).toBe(201);
    const revoked = await call(a1.client, `/api/v1/auth/api-keys/${key.body.data.id}`, { method: 'DELETE' });
    expect(revoked.status).toBe(204);

    // Phase C: a session revoked, a refresh token replayed, a password change, a logout.
    clock = T0 + 120_000;
    const sessions = await call(a1.client, '/api/v1/auth/sessions');
    const other = sessions.body.data.find((s: { is_current: boolean }) => !s.is_current);
    expect(other).toBeDefined();
    expect((await call(a1.client, `/api/v1/auth/sessions/${other.id}`, { method: 'DELETE' })).status).toBe(
      204,
    );
    const a3 = await aliceLogin();
    const refresh = (token: string) =>
      call(t.client(), '/api/v1/auth/refresh', { json: { refresh_token: token } });
    expect(keep(await refresh(a3.refresh)).status).toBe(200);
    expectError(await refresh(a3.refresh), 401, 1005);
    const changed = keep(
      await call(a1.client, '/api/v1/auth/password', {
        json: { current_password: ALICE_PASSWORD, new_password: ALICE_NEW_PASSWORD },
      }),
    );
    expect(changed.status).toBe(200);
    expect((await call(a1.client, '/api/v1/auth/logout', { method: 'POST' })).status).toBe(204);

    clock = T0 + 180_000;
    events = await items('limit=200');
    const ids = events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(ids.length);
    const times = events.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(events[0]?.type).toBe('auth.logout');

    const one = (type: string, outcome: string, username: string | null, extra: Partial<AuditItem> = {}) => {
      const found = events.filter(
        (e) => e.type === type && e.outcome === outcome && e.actor?.username === username,
      );
      expect(found.length, `${type} ${outcome} by ${username}`).toBeGreaterThan(0);
      for (const e of found) expect(e).toMatchObject(extra);
      return found;
    };
    one('auth.setup', 'success', 'root', { at: new Date(T0).toISOString() });
    one('auth.login', 'failure', 'root', { detail: { reason: 'wrong_password' } });
    expect(one('auth.login', 'failure', 'victim')).toHaveLength(3);
    one('auth.lockout', 'success', 'victim', { target: { type: 'username', id: 'victim' } });
    expect(one('auth.login', 'success', 'alice', { actor: { id: aliceId, username: 'alice' } })).toHaveLength(
      3,
    );
    expect(one('user.created', 'success', 'root')).toHaveLength(2);
    one('user.updated', 'success', 'root', { target: { type: 'user', id: aliceId } });
    one('auth.api_key_created', 'success', 'alice', { target: { type: 'api_key', id: key.body.data.id } });
    one('auth.api_key_revoked', 'success', 'alice', { target: { type: 'api_key', id: key.body.data.id } });
    one('auth.session_revoked', 'success', 'alice', { target: { type: 'session', id: other.id } });
    one('auth.refresh_reuse', 'failure', 'alice', { actor: { id: aliceId, username: 'alice' } });
    one('auth.password_change', 'success', 'alice', { at: new Date(T0 + 120_000).toISOString() });
    one('auth.logout', 'success', 'alice');
    for (const e of events) {
      expect(e.ip, e.type).toBe('127.0.0.1');
      expect(e.user_agent, e.type).toBe(UA);
      expect(['success', 'failure']).toContain(e.outcome);
      expect(e.actor?.username, e.type).toBeTruthy();
      expect(new Date(Date.parse(e.at)).toISOString()).toBe(e.at);
    }
  });

  it('never shows a password, token, API key or the setup token', async () => {
    expect(secrets.length).toBeGreaterThanOrEqual(15);
    const everything = JSON.stringify(await items('limit=200'));
    for (const secret of secrets) expect(everything).not.toContain(secret);
    const rows = JSON.stringify(await t.app.storage.db.selectFrom('audit_events').selectAll().execute());
    for (const secret of secrets) expect(rows).not.toContain(secret);
  });

  it('filters by one type and by several', async () => {
    const logins = await items('type=auth.login');
    expect(logins).toHaveLength(7);
    expect(logins.every((e) => e.type === 'auth.login')).toBe(true);
    const two = await items('type=auth.lockout&type=user.created');
    expect(two.map((e) => e.type).sort()).toEqual(['auth.lockout', 'user.created', 'user.created']);
    expect(await items('type=no.such_event')).toEqual([]);
    const bad = await list('type=Auth.Login!');
    expectError(bad, 422, 2000);
    expect(bad.body.error_detail.errors[0].pointer).toBe('/querystring/type/0');
  });

  it('filters by actor, given a username or a user id', async () => {
    const byName = await items('actor=alice');
    const byId = await items(`actor=${aliceId}`);
    const expected = events.filter((e) => e.actor?.username === 'alice').map((e) => e.id);
    expect(expected.length).toBeGreaterThanOrEqual(9);
    expect(byName.map((e) => e.id)).toEqual(expected);
    expect(byId.map((e) => e.id)).toEqual(expected);
    expect(await items('actor=nobody')).toEqual([]);
  });

  it('filters by time: since inclusive, until exclusive, any RFC 3339 offset; since after until is 422', async () => {
    const b = new Date(T0 + 60_000).toISOString();
    const c = new Date(T0 + 120_000).toISOString();
    const phaseB = await items(`since=${encodeURIComponent(b)}&until=${encodeURIComponent(c)}`);
    expect(phaseB.map((e) => e.id)).toEqual(events.filter((e) => e.at === b).map((e) => e.id));
    expect(phaseB.map((e) => e.type)).toEqual(
      expect.arrayContaining([
        'auth.lockout',
        'user.updated',
        'auth.api_key_created',
        'auth.api_key_revoked',
      ]),
    );
    expect(phaseB.some((e) => e.type === 'auth.setup' || e.type === 'auth.logout')).toBe(false);
    // The same instant written with an offset.
    const offset = '2031-03-04T07:07:00+02:00';
    expect(Date.parse(offset)).toBe(T0 + 60_000);
    const sinceB = await items(`since=${encodeURIComponent(offset)}`);
    expect(sinceB.map((e) => e.id)).toEqual(events.filter((e) => e.at >= b).map((e) => e.id));
    const untilB = await items(`until=${encodeURIComponent(b)}`);
    expect(untilB.map((e) => e.type).sort()).toEqual([
      'auth.login',
      'auth.setup',
      'user.created',
      'user.created',
    ]);

    const backwards = await list(`since=${encodeURIComponent(c)}&until=${encodeURIComponent(b)}`);
    expectError(backwards, 422, 2000);
    expectError(await list('since=yesterday'), 422, 2000);
  });

  it('pages with limit=2 by following next_cursor', async () => {
    const seen: number[] = [];
    let query = 'limit=2&type=auth.login&type=user.created';
    for (let pages = 0; ; pages += 1) {
      expect(pages).toBeLessThan(20);
      const res = await list(query);
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.data.map((e: AuditItem) => e.id));
      if (!res.body.pagination.has_more) break;
      query = `limit=2&type=auth.login&type=user.created&cursor=${encodeURIComponent(res.body.pagination.next_cursor)}`;
    }
    expect(seen).toEqual(
      events.filter((e) => e.type === 'auth.login' || e.type === 'user.created').map((e) => e.id),
    );
    const first = await list('limit=2');
    const foreign = await list(
      `limit=2&type=auth.login&cursor=${encodeURIComponent(first.body.pagination.next_cursor)}`,
    );
    expectError(foreign, 422, 2000);
    expectError(await list('limit=0'), 422, 2000);
  });

  it(`is append-only in the database itself (${engine}): UPDATE and DELETE are rejected`, async () => {
    const db = t.app.storage.db;
    const before = await db.selectFrom('audit_events').selectAll().orderBy('id').execute();
    expect(before.length).toBeGreaterThan(10);
    await expect(db.updateTable('audit_events').set({ type: 'tampered' }).execute()).rejects.toThrow(
      /append-only/,
    );
    await expect(
      db.updateTable('audit_events').set({ outcome: 'success' }).where('outcome', '=', 'failure').execute(),
    ).rejects.toThrow(/append-only/);
    await expect(db.deleteFrom('audit_events').execute()).rejects.toThrow(/append-only/);
    await expect(db.deleteFrom('audit_events').where('id', '=', before[0]!.id).execute()).rejects.toThrow(
      /append-only/,
    );
    expect(await db.selectFrom('audit_events').selectAll().orderBy('id').execute()).toEqual(before);
  });

  it('is for admins only: a viewer gets 403 code 1001, no credentials 401 code 1008', async () => {
    const viewer = await t.signIn({ username: 'alice', password: ALICE_NEW_PASSWORD });
    expectError(await viewer.client.call('/api/v1/audit'), 403, 1001);
    expectError(await t.client().call('/api/v1/audit'), 401, 1008);
    expectError(await t.client().call('/api/v1/audit', { bearer: 'not-a-key' }), 401, 1009);
  });
});
