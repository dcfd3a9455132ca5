import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, Reply } from '../client.js';
import { type SignedIn, startTestApp, TEST_PASSWORD, type TestApp, type TestUser } from '../fixture.js';

const NEW_PASSWORD = 'fresh-Secret-9x!Tq4w';

function expectError(res: Reply, status: number, code: number): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.success).toBe(false);
  expect(res.body.error_detail.error_code).toBe(code);
}

function pointersOf(res: Reply): string[] {
  expect(res.status, JSON.stringify(res.body)).toBe(422);
  expect(res.body.error_detail.error_code).toBe(2000);
  return res.body.error_detail.errors.map((e: { pointer: string }) => e.pointer);
}

/** Signs the user in and gives them an API key, so both kinds of credential can be checked afterwards. */
async function withCredentials(t: TestApp, user: TestUser): Promise<{ session: SignedIn; key: string }> {
  const session = await t.signIn(user);
  const created = await session.client.call('/api/v1/auth/api-keys', {
    json: { name: 'probe', role: 'viewer' },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return { session, key: created.body.data.key };
}

const me = (t: TestApp, bearer: string) => t.client().call('/api/v1/auth/me', { bearer });

describe('who may use /users and /auth/roles', () => {
  let t: TestApp;
  let target: TestUser;
  const signedIn: Record<string, Client> = {};

  beforeAll(async () => {
    t = await startTestApp();
    await t.createUser({ role: 'admin', username: 'rootadmin' });
    target = await t.createUser({ role: 'viewer', username: 'target', groups: ['ops', 'night shift'] });
    await t.createUser({ role: 'editor', username: 'grouped', groups: ['ops', 'finance'] });
    for (const role of ['viewer', 'editor'] as const) {
      const user = await t.createUser({ role, username: `only${role}` });
      signedIn[role] = (await t.signIn(user)).client;
    }
  });
  afterAll(() => t.close());

  const routes = (id: string) => [
    { path: '/api/v1/users', method: 'GET' },
    {
      path: '/api/v1/users',
      method: 'POST',
      json: { username: 'sneaky', password: NEW_PASSWORD, role: 'admin' },
    },
    { path: `/api/v1/users/${id}`, method: 'GET' },
    { path: `/api/v1/users/${id}`, method: 'PATCH', json: { role: 'admin' } },
    { path: `/api/v1/users/${id}`, method: 'DELETE' },
  ];

  it('refuses viewers and editors with 403 code 1001 on every /users route, changing nothing', async () => {
    for (const role of ['viewer', 'editor']) {
      for (const route of routes(target.record.id)) {
        const res = await signedIn[role]!.call(route.path, { method: route.method, json: route.json });
        expect(res.status, `${role} ${route.method} ${route.path}`).toBe(403);
        expect(res.body.error_detail.error_code).toBe(1001);
      }
    }
    expect((await t.app.auth.users.get(target.record.id)).role).toBe('viewer');
    expect(await t.app.auth.users.findByUsername('sneaky')).toBeUndefined();
  });

  it('answers 401 code 1008 without credentials', async () => {
    for (const route of routes(target.record.id)) {
      const res = await t.client().call(route.path, { method: route.method, json: route.json });
      expectError(res, 401, 1008);
    }
    expectError(await t.client().call('/api/v1/auth/roles'), 401, 1008);
  });

  it('lists the roles with their levels and the groups users hold, for any signed-in user', async () => {
    const res = await signedIn.viewer!.call('/api/v1/auth/roles');
    expect(res.status).toBe(200);
    expect(res.body.data.roles).toEqual([
      { name: 'viewer', level: 1 },
      { name: 'editor', level: 2 },
      { name: 'admin', level: 3 },
    ]);
    expect(res.body.data.groups).toEqual(['finance', 'night shift', 'ops']);
  });
});

describe('creating users', () => {
  let t: TestApp;
  let admin: Client;

  beforeAll(async () => {
    t = await startTestApp();
    admin = (await t.signIn(await t.createUser({ role: 'admin' }))).client;
  });
  afterAll(() => t.close());

  const create = (json: Record<string, unknown>) => admin.call('/api/v1/users', { json });

  it('creates a user: 201, Location, lower-case username, must_change_password by default, no secret', async () => {
    const res = await create({
      username: 'New.Person',
      password: NEW_PASSWORD,
      full_name: 'New Person',
      role: 'editor',
      groups: ['ops'],
    });
    expect(res.status).toBe(201);
    const user = res.body.data;
    expect(res.headers.location).toBe(`/api/v1/users/${user.id}`);
    expect(user).toMatchObject({
      username: 'new.person',
      full_name: 'New Person',
      role: 'editor',
      role_level: 2,
      groups: ['ops'],
      disabled: false,
      must_change_password: true,
    });
    const secretish = Object.keys(user).filter(
      (k) => /password|hash/.test(k) && k !== 'must_change_password',
    );
    expect(secretish).toEqual([]);
    const raw = JSON.stringify(res.body);
    expect(raw).not.toContain(NEW_PASSWORD);
    expect(raw).not.toContain('$argon2');

    const stored = await t.app.storage.db
      .selectFrom('users')
      .select(['username', 'must_change_password'])
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(stored).toEqual({ username: 'new.person', must_change_password: 1 });
    const fetched = await admin.call(res.headers.location as string);
    expect(fetched.body.data).toEqual(user);

    const signedIn = await t.signIn({ username: 'NEW.PERSON', password: NEW_PASSWORD });
    expect(signedIn.body.data.user.must_change_password).toBe(true);

    const optedOut = await create({
      username: 'trusted',
      password: NEW_PASSWORD,
      role: 'viewer',
      must_change_password: false,
    });
    expect(optedOut.status).toBe(201);
    expect(optedOut.body.data.must_change_password).toBe(false);
  });

  it('refuses a username that exists in any case with 409 code 4001', async () => {
    expect((await create({ username: 'dupe', password: NEW_PASSWORD, role: 'viewer' })).status).toBe(201);
    for (const username of ['dupe', 'DUPE', 'Dupe']) {
      expectError(await create({ username, password: NEW_PASSWORD, role: 'viewer' }), 409, 4001);
    }
    const rows = await t.app.storage.db
      .selectFrom('users')
      .select('id')
      .where('username', '=', 'dupe')
      .execute();
    expect(rows).toHaveLength(1);
  });

  it('refuses a weak password with 422 at /password', async () => {
    for (const password of ['password1234', 'short', 'weakuser-A1!xyz']) {
      const res = await create({ username: 'weakuser', password, role: 'viewer' });
      expect(pointersOf(res)).toEqual(['/password']);
    }
    expect(await t.app.auth.users.findByUsername('weakuser')).toBeUndefined();
  });

  it('refuses a malformed username, an unknown role and unknown fields with 422', async () => {
    for (const username of ['-x', 'a b', 'a'.repeat(65), '']) {
      const res = await create({ username, password: NEW_PASSWORD, role: 'viewer' });
      expect(pointersOf(res)).toContain('/username');
    }
    expect(pointersOf(await create({ username: 'rolex', password: NEW_PASSWORD, role: 'root' }))).toContain(
      '/role',
    );
    expect(pointersOf(await create({ username: 'rolex', password: NEW_PASSWORD }))).toContain('/role');
    const extra = await create({ username: 'rolex', password: NEW_PASSWORD, role: 'viewer', is_admin: true });
    expect(pointersOf(extra)).toEqual(['/is_admin']);
    expect(await t.app.auth.users.findByUsername('rolex')).toBeUndefined();
    const longest = await create({ username: 'b'.repeat(64), password: NEW_PASSWORD, role: 'viewer' });
    expect(longest.status).toBe(201);
  });
  it('creates an account for single sign-on: no password, none to change, none to set later (409)', async () => {
    const res = await create({ username: 'sso.person@example.com', auth_source: 'oidc', role: 'editor' });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ auth_source: 'oidc', must_change_password: false, role: 'editor' });
    const stored = await t.app.storage.db
      .selectFrom('users')
      .select(['password_hash', 'auth_source'])
      .where('id', '=', res.body.data.id)
      .executeTakeFirstOrThrow();
    expect(stored).toEqual({ password_hash: null, auth_source: 'oidc' });
    const login = await t.client().call('/api/v1/auth/login', {
      json: { username: 'sso.person@example.com', password: NEW_PASSWORD },
    });
    expectError(login, 401, 1000);
    const reset = await admin.call(`/api/v1/users/${res.body.data.id}`, {
      method: 'PATCH',
      json: { password: NEW_PASSWORD },
    });
    expectError(reset, 409, 4000);
    expect(reset.body.error).toMatch(/single sign-on \(oidc\) and has no local password/);
    const mustChange = await admin.call(`/api/v1/users/${res.body.data.id}`, {
      method: 'PATCH',
      json: { must_change_password: true },
    });
    expectError(mustChange, 409, 4000);
  });

  it('refuses a password for an SSO account, none for a local one, and an unknown source (422)', async () => {
    const withPassword = await create({
      username: 'ssox',
      auth_source: 'msal',
      password: NEW_PASSWORD,
      role: 'viewer',
    });
    expect(pointersOf(withPassword)).toEqual(['/password']);
    const mustChange = await create({
      username: 'ssox',
      auth_source: 'msal',
      must_change_password: true,
      role: 'viewer',
    });
    expect(pointersOf(mustChange)).toEqual(['/must_change_password']);
    expect(pointersOf(await create({ username: 'localx', role: 'viewer' }))).toEqual(['/password']);
    expect(pointersOf(await create({ username: 'localx', auth_source: 'saml', role: 'viewer' }))).toContain(
      '/auth_source',
    );
    expect(await t.app.auth.users.findByUsername('ssox')).toBeUndefined();
    expect(await t.app.auth.users.findByUsername('localx')).toBeUndefined();
  });
});

describe('listing users', () => {
  let t: TestApp;
  let admin: Client;
  const people = [
    { username: 'alpha', role: 'viewer', groups: ['ops'] },
    { username: 'bravo', role: 'editor', groups: [] },
    { username: 'charlie', role: 'viewer', groups: ['ops', 'finance'] },
    { username: 'delta', role: 'editor', groups: ['finance'] },
    { username: 'echo', role: 'viewer', groups: [] },
    { username: 'foxtrot', role: 'viewer', groups: ['ops'] },
    { username: 'golf', role: 'editor', groups: [] },
    { username: 'hotel', role: 'viewer', groups: ['night'] },
    { username: 'zadmin', role: 'admin', groups: [] },
  ] as const;
  const disabled = ['delta', 'hotel'];

  beforeAll(async () => {
    t = await startTestApp();
    for (const p of people) await t.createUser({ username: p.username, role: p.role, groups: [...p.groups] });
    admin = (await t.signIn({ username: 'zadmin', password: TEST_PASSWORD })).client;
    for (const username of disabled) {
      const user = await t.app.auth.users.findByUsername(username);
      const res = await admin.call(`/api/v1/users/${user!.id}`, {
        method: 'PATCH',
        json: { disabled: true },
      });
      expect(res.status).toBe(200);
    }
  });
  afterAll(() => t.close());

  const usernames = (res: Reply) => res.body.data.map((u: { username: string }) => u.username);

  it('pages through every user by username with limit=3, following next_cursor to the end', async () => {
    const seen: string[] = [];
    let path = '/api/v1/users?limit=3';
    let pages = 0;
    for (;;) {
      const res = await admin.call(path);
      expect(res.status).toBe(200);
      pages += 1;
      expect(res.body.data.length).toBeLessThanOrEqual(3);
      expect(res.body.pagination.limit).toBe(3);
      seen.push(...usernames(res));
      if (!res.body.pagination.has_more) {
        expect(res.body.pagination.next_cursor).toBeNull();
        break;
      }
      expect(typeof res.body.pagination.next_cursor).toBe('string');
      expect(pages).toBeLessThan(10);
      path = `/api/v1/users?limit=3&cursor=${encodeURIComponent(res.body.pagination.next_cursor)}`;
    }
    const all = people.map((p) => p.username);
    expect(seen).toEqual(all);
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages).toBe(3);
  });

  it('filters by role, group, disabled and part of the username', async () => {
    const expectNames = async (query: string, names: string[]) => {
      const res = await admin.call(`/api/v1/users?${query}`);
      expect(res.status, `${query}: ${JSON.stringify(res.body)}`).toBe(200);
      expect(usernames(res), query).toEqual(names);
    };
    await expectNames('role=editor', ['bravo', 'delta', 'golf']);
    await expectNames('group=ops', ['alpha', 'charlie', 'foxtrot']);
    await expectNames('group=finance&role=editor', ['delta']);
    await expectNames('disabled=true', disabled);
    await expectNames(
      'disabled=false',
      people.map((p) => p.username).filter((u) => !disabled.includes(u)),
    );
    await expectNames('q=ha', ['alpha', 'charlie']);
    await expectNames('q=HO', ['echo', 'hotel']);
    await expectNames('q=%25', []);
    const editors = await admin.call('/api/v1/users?role=editor');
    expect(editors.body.data.every((u: { role_level: number }) => u.role_level === 2)).toBe(true);
  });

  it('refuses an out-of-range limit, a tampered cursor and a cursor from another filter with 422', async () => {
    for (const limit of ['0', '201', '-1']) {
      expect(pointersOf(await admin.call(`/api/v1/users?limit=${limit}`))).toContain('/querystring/limit');
    }
    const first = await admin.call('/api/v1/users?limit=2');
    const cursor: string = first.body.pagination.next_cursor;
    const [body, mac] = cursor.split('.') as [string, string];
    const forged = Buffer.from(
      Buffer.from(body, 'base64url').toString('utf8').replace('"after":["', '"after":["a'),
    ).toString('base64url');
    const flipped = `${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
    for (const bad of [`${forged}.${mac}`, `${body}.${flipped}`, 'garbage', `${cursor}x`]) {
      const res = await admin.call(`/api/v1/users?limit=2&cursor=${encodeURIComponent(bad)}`);
      expect(pointersOf(res)).toEqual(['/cursor']);
    }
    const viewers = await admin.call('/api/v1/users?role=viewer&limit=1');
    const foreign = viewers.body.pagination.next_cursor;
    const res = await admin.call(`/api/v1/users?role=editor&limit=1&cursor=${encodeURIComponent(foreign)}`);
    expect(pointersOf(res)).toEqual(['/cursor']);
    const same = await admin.call(`/api/v1/users?role=viewer&limit=1&cursor=${encodeURIComponent(foreign)}`);
    expect(same.status).toBe(200);
  });
});

describe('reading, updating and deleting a user', () => {
  let t: TestApp;
  let admin: Client;

  beforeAll(async () => {
    t = await startTestApp();
    admin = (await t.signIn(await t.createUser({ role: 'admin' }))).client;
  });
  afterAll(() => t.close());

  const patch = (id: string, json: unknown) => admin.call(`/api/v1/users/${id}`, { method: 'PATCH', json });

  it('gets one user by id, and 404 for an unknown id', async () => {
    const user = await t.createUser({ role: 'editor', groups: ['ops'] });
    const res = await admin.call(`/api/v1/users/${user.record.id}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ id: user.record.id, username: user.username, role: 'editor' });
    const unknown = await admin.call('/api/v1/users/00000000-0000-4000-8000-000000000000');
    expectError(unknown, 404, 3000);
    expectError(await patch('00000000-0000-4000-8000-000000000000', { full_name: 'x' }), 404, 3000);
  });

  it('changes full name, role, groups (replacing the set) and disabled; refuses an empty body', async () => {
    const user = await t.createUser({ role: 'viewer', groups: ['a', 'b'] });
    const res = await patch(user.record.id, { full_name: 'Renamed', role: 'editor', groups: ['c'] });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      full_name: 'Renamed',
      role: 'editor',
      role_level: 2,
      groups: ['c'],
    });
    // null clears the name (type coercion must not turn it into "").
    expect((await patch(user.record.id, { full_name: null })).body.data.full_name).toBeNull();
    expect((await patch(user.record.id, { full_name: 'Renamed' })).body.data.full_name).toBe('Renamed');
    expect((await patch(user.record.id, { disabled: true })).body.data.disabled).toBe(true);
    expect((await patch(user.record.id, { disabled: false, groups: [] })).body.data).toMatchObject({
      disabled: false,
      groups: [],
    });
    const fetched = await admin.call(`/api/v1/users/${user.record.id}`);
    expect(fetched.body.data).toMatchObject({
      full_name: 'Renamed',
      role: 'editor',
      groups: [],
      disabled: false,
    });
    expect(pointersOf(await patch(user.record.id, {}))).toBeDefined();
    expect(pointersOf(await patch(user.record.id, { role: 'root' }))).toContain('/role');
    expect(pointersOf(await patch(user.record.id, { username: 'other' }))).toEqual(['/username']);
  });

  it("resets a password: must_change_password is set and the user's sessions end (401 code 1002)", async () => {
    const user = await t.createUser({ role: 'viewer' });
    const a = await t.signIn(user);
    const b = await t.signIn(user);
    const res = await patch(user.record.id, { password: NEW_PASSWORD });
    expect(res.status).toBe(200);
    expect(res.body.data.must_change_password).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain(NEW_PASSWORD);
    expectError(await a.client.call('/api/v1/auth/me'), 401, 1002);
    expectError(await me(t, b.accessToken), 401, 1002);
    expectError(
      await t
        .client()
        .call('/api/v1/auth/login', { json: { username: user.username, password: TEST_PASSWORD } }),
      401,
      1000,
    );
    const again = await t.signIn({ username: user.username, password: NEW_PASSWORD });
    expect(again.body.data.user.must_change_password).toBe(true);
    expect(pointersOf(await patch(user.record.id, { password: 'password1234' }))).toEqual(['/password']);
  });

  it('disabling ends sessions, makes API keys 401 and refuses sign-in', async () => {
    const user = await t.createUser({ role: 'editor' });
    const { session, key } = await withCredentials(t, user);
    expect((await me(t, key)).status).toBe(200);
    expect((await patch(user.record.id, { disabled: true })).status).toBe(200);
    expectError(await session.client.call('/api/v1/auth/me'), 401, 1002);
    expectError(await me(t, session.accessToken), 401, 1002);
    expectError(await me(t, key), 401, 1009);
    expectError(
      await t
        .client()
        .call('/api/v1/auth/login', { json: { username: user.username, password: user.password } }),
      401,
      1000,
    );
  });

  it("deletes a user: 204, then 404; the user's sessions and API keys stop working", async () => {
    const user = await t.createUser({ role: 'editor', groups: ['gone'] });
    const { session, key } = await withCredentials(t, user);
    const res = await admin.call(`/api/v1/users/${user.record.id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expectError(await admin.call(`/api/v1/users/${user.record.id}`), 404, 3000);
    expect((await session.client.call('/api/v1/auth/me')).status).toBe(401);
    expect((await me(t, session.accessToken)).status).toBe(401);
    expect((await me(t, key)).status).toBe(401);
    expectError(await admin.call(`/api/v1/users/${user.record.id}`, { method: 'DELETE' }), 404, 3000);
    const roles = await admin.call('/api/v1/auth/roles');
    expect(roles.body.data.groups).not.toContain('gone');
  });
});

describe('no credential can take an account over through /users', () => {
  let t: TestApp;
  let admin: SignedIn & { user: TestUser };
  let adminKey: string;

  beforeAll(async () => {
    t = await startTestApp({ env: { SWITCHBOARD_RATE_LIMITS: 'login.ip=off,login.username=off' } });
    const user = await t.createUser({ role: 'admin' });
    admin = { ...(await t.signIn(user)), user };
    const created = await admin.client.call('/api/v1/auth/api-keys', {
      json: { name: 'automation', role: 'admin' },
    });
    adminKey = created.body.data.key;
  });
  afterAll(() => t.close());

  const patchAs = (bearer: string, id: string, json: unknown) =>
    t.client().call(`/api/v1/users/${id}`, { method: 'PATCH', json, bearer });
  const signsIn = async (username: string, password: string) =>
    (await t.client().call('/api/v1/auth/login', { json: { username, password } })).status === 200;

  it("refuses a password or must_change_password for one's own account, by key, token or cookie (403)", async () => {
    const id = admin.user.record.id;
    for (const json of [
      { password: NEW_PASSWORD },
      { password: NEW_PASSWORD, must_change_password: false },
      { must_change_password: false },
    ]) {
      expectError(await patchAs(adminKey, id, json), 403, 1001);
      expectError(await patchAs(admin.accessToken, id, json), 403, 1001);
      const viaCookie = await admin.client.call(`/api/v1/users/${id}`, { method: 'PATCH', json });
      expectError(viaCookie, 403, 1001);
      expect(viaCookie.body.error).toMatch(/auth\/password/);
    }
    expect(await signsIn(admin.user.username, NEW_PASSWORD)).toBe(false);
    expect(await signsIn(admin.user.username, admin.user.password)).toBe(true);
    // The rest of one's own record stays one's own to change.
    expect((await patchAs(admin.accessToken, id, { full_name: 'Still Me' })).status).toBe(200);
  });

  it("lets no API key set anyone's password or make an admin", async () => {
    const other = await t.createUser({ role: 'editor' });
    expectError(await patchAs(adminKey, other.record.id, { password: NEW_PASSWORD }), 403, 1001);
    expect(await signsIn(other.username, NEW_PASSWORD)).toBe(false);
    expectError(await patchAs(adminKey, other.record.id, { role: 'admin' }), 403, 1001);
    const created = await t.client().call('/api/v1/users', {
      method: 'POST',
      bearer: adminKey,
      json: { username: 'keymade', password: NEW_PASSWORD, role: 'admin' },
    });
    expectError(created, 403, 1001);
    expect(await t.app.auth.users.findByUsername('keymade')).toBeUndefined();
    expect((await t.app.auth.users.get(other.record.id)).role).toBe('editor');
    // What an admin key may still do: everything else.
    expect((await patchAs(adminKey, other.record.id, { role: 'viewer', groups: ['ops'] })).status).toBe(200);
    const viewer = await t.client().call('/api/v1/users', {
      method: 'POST',
      bearer: adminKey,
      json: { username: 'keymadeviewer', password: NEW_PASSWORD, role: 'viewer' },
    });
    expect(viewer.status).toBe(201);
  });

  it("an admin's reset of someone else's password always makes them change it at next sign-in", async () => {
    const other = await t.createUser({ role: 'viewer' });
    const refused = await patchAs(admin.accessToken, other.record.id, {
      password: NEW_PASSWORD,
      must_change_password: false,
    });
    expect(pointersOf(refused)).toEqual(['/must_change_password']);
    expect(await signsIn(other.username, NEW_PASSWORD)).toBe(false);
    const reset = await patchAs(admin.accessToken, other.record.id, { password: NEW_PASSWORD });
    expect(reset.status).toBe(200);
    expect(reset.body.data.must_change_password).toBe(true);
    const signedIn = await t.signIn({ username: other.username, password: NEW_PASSWORD });
    expect(signedIn.body.data.user.must_change_password).toBe(true);
    expectError(await signedIn.client.call('/api/v1/streams'), 403, 1007);
  });
});

describe('the last admin', () => {
  let t: TestApp;
  let root: SignedIn;

  beforeAll(async () => {
    t = await startTestApp();
    root = await t.signIn(await t.createUser({ role: 'admin', username: 'root' }));
  });
  afterAll(() => t.close());

  const patch = (c: Client, id: string, json: unknown) =>
    c.call(`/api/v1/users/${id}`, { method: 'PATCH', json });
  const enabledAdmins = async () =>
    (await t.app.auth.users.list({ role: 'admin', disabled: false }, undefined, 10)).map((u) => u.username);

  it('cannot be deleted, disabled or demoted (409 code 4000), not even by themself', async () => {
    const id = root.body.data.user.id;
    // A disabled admin does not count.
    const dormant = await t.createUser({ role: 'admin', username: 'dormant' });
    expect((await patch(root.client, dormant.record.id, { disabled: true })).status).toBe(200);
    expectError(await patch(root.client, id, { role: 'editor' }), 409, 4000);
    expectError(await patch(root.client, id, { disabled: true }), 409, 4000);
    expectError(await root.client.call(`/api/v1/users/${id}`, { method: 'DELETE' }), 409, 4000);
    expect(await enabledAdmins()).toEqual(['root']);
    expect((await root.client.call('/api/v1/auth/me')).body.data.role).toBe('admin');
    // Changes that keep them an enabled admin are fine.
    expect((await patch(root.client, id, { full_name: 'Root', role: 'admin' })).status).toBe(200);
  });

  it('with two admins, one can be demoted', async () => {
    const second = await t.createUser({ role: 'admin', username: 'second' });
    const res = await patch(root.client, second.record.id, { role: 'editor' });
    expect(res.status).toBe(200);
    expect(res.body.data.role).toBe('editor');
    expect(await enabledAdmins()).toEqual(['root']);
  });

  it('leaves exactly one enabled admin when two admins demote each other at once', async () => {
    const other = await t.createUser({ role: 'admin', username: 'other' });
    const otherSession = await t.signIn(other);
    const rootId = root.body.data.user.id;
    for (let round = 0; round < 3; round += 1) {
      const results = await Promise.all([
        patch(root.client, other.record.id, { role: 'editor' }),
        patch(otherSession.client, rootId, { role: 'editor' }),
      ]);
      const statuses = results.map((r) => r.status);
      expect(
        statuses.filter((s) => s === 200),
        JSON.stringify(statuses),
      ).toHaveLength(1);
      for (const r of results.filter((x) => x.status !== 200)) {
        expect([403, 409]).toContain(r.status);
        expect([1001, 4000]).toContain(r.body.error_detail.error_code);
      }
      const admins = await enabledAdmins();
      expect(admins).toHaveLength(1);
      // Whoever is left promotes the other back for the next round.
      const [winner, loserId] =
        admins[0] === 'root' ? [root.client, other.record.id] : [otherSession.client, rootId];
      expect((await patch(winner, loserId, { role: 'admin' })).status).toBe(200);
    }
  });
});
