import { createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digest } from '../../src/auth/keys.js';
import { ok } from '../../src/platform/envelope.js';
import type { Client, Reply } from '../client.js';
import { type SignedIn, startTestApp, type TestApp, type TestUser } from '../fixture.js';

const KEY_FORMAT = /^sbk_[A-Za-z0-9_-]{43,}$/;

/** A route only editors and above may use, to see a key's effective role. */
const editorRoute: FastifyPluginAsync = async (app) => {
  app.get('/test/editor-only', { config: { access: { rule: { minRole: 'editor' } } } }, async (request) =>
    ok({ role: request.principal?.role }),
  );
};

function expectError(res: Reply, status: number, code: number): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error_detail.error_code).toBe(code);
}

function pointersOf(res: Reply): string[] {
  expect(res.status, JSON.stringify(res.body)).toBe(422);
  expect(res.body.error_detail.error_code).toBe(2000);
  return res.body.error_detail.errors.map((e: { pointer: string }) => e.pointer);
}

let clock = Date.now();
let t: TestApp;
let root: SignedIn;

beforeAll(async () => {
  t = await startTestApp({ now: () => clock, routes: editorRoute });
  root = await t.signIn(await t.createUser({ role: 'admin', username: 'root' }));
});
afterAll(() => t.close());

const newKey = (c: Client, json: Record<string, unknown>) => c.call('/api/v1/auth/api-keys', { json });
const withKey = (key: string, path: string, method = 'GET', json?: unknown) =>
  t.client().call(path, { bearer: key, method, json });

async function signedInAs(role: 'viewer' | 'editor' | 'admin'): Promise<SignedIn & { user: TestUser }> {
  const user = await t.createUser({ role });
  return { ...(await t.signIn(user)), user };
}

async function keyFor(owner: SignedIn, json: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const res = await newKey(owner.client, json);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.data.id, key: res.body.data.key };
}

describe('an API key is shown once and stored only as an HMAC', () => {
  it('returns the key at creation only, and lists it later without the key', async () => {
    const owner = await signedInAs('editor');
    const res = await newKey(owner.client, { name: 'ci deploy', role: 'viewer' });
    expect(res.status).toBe(201);
    const created = res.body.data;
    expect(created.key).toMatch(KEY_FORMAT);
    expect(created.key).not.toContain('.');
    expect(Buffer.from(created.key.slice(4), 'base64url').length).toBeGreaterThanOrEqual(32);
    expect(created).toMatchObject({
      name: 'ci deploy',
      role: 'viewer',
      user_id: owner.user.record.id,
      scopes: [],
      expires_at: null,
      last_used_at: null,
    });
    expect(created.key.startsWith(created.prefix)).toBe(true);
    expect(created.prefix.length).toBeLessThan(created.key.length - 32);

    const list = await owner.client.call('/api/v1/auth/api-keys');
    expect(list.status).toBe(200);
    expect(list.body.data.map((k: { id: string }) => k.id)).toEqual([created.id]);
    expect(list.body.data[0]).not.toHaveProperty('key');
    expect(JSON.stringify(list.body)).not.toContain(created.key);
    const { key: _key, ...withoutKey } = created;
    expect(list.body.data[0]).toEqual(withoutKey);
  });

  it('keeps the raw key out of every column of the database', async () => {
    const owner = await signedInAs('viewer');
    const { id, key } = await keyFor(owner, { name: 'scanner', role: 'viewer' });
    const random = key.slice(4);
    for (const table of ['api_keys', 'audit_events'] as const) {
      const rows = await t.app.storage.db.selectFrom(table).selectAll().execute();
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        for (const [column, value] of Object.entries(row)) {
          expect(String(value), `${table}.${column}`).not.toContain(random);
        }
      }
    }
    const row = await t.app.storage.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.key_hash).toBe(digest(t.app.auth.deps.keys().apiKey, key));
    expect(row.key_hash).not.toBe(createHash('sha256').update(key).digest('hex'));
  });

  it('authenticates as Authorization: Bearer <key> and records last_used_at', async () => {
    const owner = await signedInAs('editor');
    const { id, key } = await keyFor(owner, { name: 'bearer', role: 'editor' });
    const me = await withKey(key, '/api/v1/auth/me');
    expect(me.status).toBe(200);
    expect(me.body.data).toMatchObject({
      id: owner.user.record.id,
      username: owner.user.username,
      role: 'editor',
      auth_method: 'api_key',
    });
    const listed = await owner.client.call('/api/v1/auth/api-keys');
    const item = listed.body.data.find((k: { id: string }) => k.id === id);
    expect(item.last_used_at).toBe(new Date(clock).toISOString());
    expectError(await withKey(`${key.slice(0, -2)}zz`, '/api/v1/auth/me'), 401, 1009);
  });
});

describe('the role of a key', () => {
  it('is at most the creator’s role', async () => {
    const viewer = await signedInAs('viewer');
    for (const role of ['admin', 'editor']) {
      expectError(await newKey(viewer.client, { name: `want-${role}`, role }), 403, 1001);
    }
    const editor = await signedInAs('editor');
    expectError(await newKey(editor.client, { name: 'want-admin', role: 'admin' }), 403, 1001);
    for (const role of ['viewer', 'editor']) {
      const res = await newKey(editor.client, { name: `ok-${role}`, role });
      expect(res.status).toBe(201);
      expect(res.body.data.role).toBe(role);
    }
    const listed = await viewer.client.call('/api/v1/auth/api-keys');
    expect(listed.body.data).toEqual([]);
    expect(pointersOf(await newKey(editor.client, { name: 'odd', role: 'root' }))).toContain('/role');
  });

  it("drops with its owner's role, and never exceeds it", async () => {
    const admin = await signedInAs('admin');
    const editor = await signedInAs('editor');
    const adminKey = await keyFor(admin, { name: 'admin key', role: 'admin' });
    const editorKey = await keyFor(editor, { name: 'editor key', role: 'editor' });
    expect((await withKey(adminKey.key, '/api/v1/users')).status).toBe(200);
    expect((await withKey(editorKey.key, '/api/v1/test/editor-only')).body.data.role).toBe('editor');

    const demote = (user: TestUser, role: string) =>
      root.client.call(`/api/v1/users/${user.record.id}`, { method: 'PATCH', json: { role } });
    expect((await demote(admin.user, 'editor')).status).toBe(200);
    expect((await demote(editor.user, 'viewer')).status).toBe(200);
    expectError(await withKey(adminKey.key, '/api/v1/users'), 403, 1001);
    expect((await withKey(adminKey.key, '/api/v1/auth/me')).body.data.role).toBe('editor');
    expectError(await withKey(editorKey.key, '/api/v1/test/editor-only'), 403, 1001);
    expect((await withKey(editorKey.key, '/api/v1/auth/me')).body.data.role).toBe('viewer');

    // Promoted above the key's own role, the owner does not lift the key with them.
    expect((await demote(editor.user, 'admin')).status).toBe(200);
    expect((await withKey(editorKey.key, '/api/v1/test/editor-only')).status).toBe(200);
    expectError(await withKey(editorKey.key, '/api/v1/users'), 403, 1001);
  });
});

describe('when a key stops working', () => {
  it('refuses an expiry in the past and stops the key once its expiry passes (401 code 1009)', async () => {
    const owner = await signedInAs('viewer');
    for (const expires_at of [new Date(clock - 1000).toISOString(), new Date(clock).toISOString()]) {
      expect(pointersOf(await newKey(owner.client, { name: 'past', role: 'viewer', expires_at }))).toEqual([
        '/expires_at',
      ]);
    }
    const malformed = await newKey(owner.client, { name: 'past', role: 'viewer', expires_at: 'tomorrow' });
    expect(new Set(pointersOf(malformed))).toEqual(new Set(['/expires_at']));
    const expiresAt = new Date(clock + 60_000).toISOString();
    const res = await newKey(owner.client, { name: 'short-lived', role: 'viewer', expires_at: expiresAt });
    expect(res.status).toBe(201);
    expect(res.body.data.expires_at).toBe(expiresAt);
    const key = res.body.data.key;
    expect((await withKey(key, '/api/v1/auth/me')).status).toBe(200);
    clock += 59_000;
    expect((await withKey(key, '/api/v1/auth/me')).status).toBe(200);
    clock += 1_000;
    expectError(await withKey(key, '/api/v1/auth/me'), 401, 1009);
  });

  it('is revoked by DELETE (204), after which it is 401 and gone from the list', async () => {
    const owner = await signedInAs('editor');
    const { id, key } = await keyFor(owner, { name: 'revoke me', role: 'viewer' });
    const res = await owner.client.call(`/api/v1/auth/api-keys/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expectError(await withKey(key, '/api/v1/auth/me'), 401, 1009);
    expect((await owner.client.call('/api/v1/auth/api-keys')).body.data).toEqual([]);
    expectError(await owner.client.call(`/api/v1/auth/api-keys/${id}`, { method: 'DELETE' }), 404, 3000);
    // The name is free again once the key is revoked.
    expect((await newKey(owner.client, { name: 'revoke me', role: 'viewer' })).status).toBe(201);
  });

  it('is refused at once when revoked after use, its digest remembered or not; unknown keys are not remembered', async () => {
    const owner = await signedInAs('editor');
    const { id, key } = await keyFor(owner, { name: 'used then revoked', role: 'viewer' });
    for (let i = 0; i < 3; i++) expect((await withKey(key, '/api/v1/auth/me')).status).toBe(200);
    const remembered = (t.app.auth.apiKeys as unknown as { digests: { known: Map<string, string> } }).digests
      .known;
    expect(remembered.get(key)).toBe(digest(t.app.auth.deps.keys().apiKey, key));
    for (let i = 0; i < 5; i++) {
      expectError(await withKey(`sbk_${'x'.repeat(43)}${i}`, '/api/v1/auth/me'), 401, 1009);
    }
    expect([...remembered.keys()].filter((text) => text.startsWith('sbk_xxx'))).toEqual([]);
    expect((await owner.client.call(`/api/v1/auth/api-keys/${id}`, { method: 'DELETE' })).status).toBe(204);
    expectError(await withKey(key, '/api/v1/auth/me'), 401, 1009);
  });

  it('stops when its owner is disabled or deleted', async () => {
    const disabled = await signedInAs('editor');
    const deleted = await signedInAs('editor');
    const k1 = await keyFor(disabled, { name: 'k', role: 'editor' });
    const k2 = await keyFor(deleted, { name: 'k', role: 'editor' });
    expect((await withKey(k1.key, '/api/v1/auth/me')).status).toBe(200);
    expect((await withKey(k2.key, '/api/v1/auth/me')).status).toBe(200);
    const users = (id: string) => `/api/v1/users/${id}`;
    expect(
      (await root.client.call(users(disabled.user.record.id), { method: 'PATCH', json: { disabled: true } }))
        .status,
    ).toBe(200);
    expect((await root.client.call(users(deleted.user.record.id), { method: 'DELETE' })).status).toBe(204);
    expectError(await withKey(k1.key, '/api/v1/auth/me'), 401, 1009);
    expectError(await withKey(k2.key, '/api/v1/auth/me'), 401, 1009);
  });
});

describe('whose keys one may see and revoke', () => {
  it("hides another user's key from a non-admin (404) and lets an admin revoke anyone's", async () => {
    const alice = await signedInAs('editor');
    const bob = await signedInAs('editor');
    const aliceKey = await keyFor(alice, { name: 'alice', role: 'viewer' });
    const bobKey = await keyFor(bob, { name: 'bob', role: 'viewer' });
    expectError(
      await bob.client.call(`/api/v1/auth/api-keys/${aliceKey.id}`, { method: 'DELETE' }),
      404,
      3000,
    );
    expect((await withKey(aliceKey.key, '/api/v1/auth/me')).status).toBe(200);
    expect(
      (await bob.client.call('/api/v1/auth/api-keys')).body.data.map((k: { id: string }) => k.id),
    ).toEqual([bobKey.id]);

    expectError(await bob.client.call('/api/v1/auth/api-keys?scope=all'), 403, 1001);
    const all = await root.client.call('/api/v1/auth/api-keys?scope=all&limit=200');
    expect(all.status).toBe(200);
    const ids = all.body.data.map((k: { id: string }) => k.id);
    expect(ids).toEqual(expect.arrayContaining([aliceKey.id, bobKey.id]));
    expect(new Set(all.body.data.map((k: { user_id: string }) => k.user_id)).size).toBeGreaterThanOrEqual(2);
    expect((await root.client.call('/api/v1/auth/api-keys?scope=own')).body.data).toEqual([]);

    const res = await root.client.call(`/api/v1/auth/api-keys/${aliceKey.id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expectError(await withKey(aliceKey.key, '/api/v1/auth/me'), 401, 1009);
  });
});

describe('what an API key cannot do', () => {
  it('cannot create keys, change passwords, get tickets or see other users’ sessions', async () => {
    const admin = await signedInAs('admin');
    const { id, key } = await keyFor(admin, { name: 'automation', role: 'admin' });
    const other = await signedInAs('viewer');

    expectError(
      await withKey(key, '/api/v1/auth/api-keys', 'POST', { name: 'child', role: 'viewer' }),
      403,
      1001,
    );
    expectError(
      await withKey(key, '/api/v1/auth/password', 'POST', {
        current_password: admin.user.password,
        new_password: 'another-Secret-77x!q',
      }),
      403,
      1001,
    );
    expectError(await withKey(key, '/api/v1/auth/ws-ticket', 'POST'), 403, 1001);
    expectError(await withKey(key, `/api/v1/auth/api-keys/${id}`, 'DELETE'), 403, 1001);
    expectError(await withKey(key, '/api/v1/auth/sessions?scope=all'), 403, 1001);
    const own = await withKey(key, '/api/v1/auth/sessions');
    expect(own.status).toBe(200);
    const owners = new Set(own.body.data.map((s: { user_id: string }) => s.user_id));
    expect(owners.has(other.body.data.user.id)).toBe(false);

    // Nothing changed: still one key, the password still works.
    expect((await admin.client.call('/api/v1/auth/api-keys')).body.data).toHaveLength(1);
    expect((await t.signIn(admin.user)).body.data.user.id).toBe(admin.user.record.id);
  });
});

describe('key names and scopes', () => {
  it('accepts publish scopes and returns them; refuses anything else with 422', async () => {
    const owner = await signedInAs('admin');
    const res = await newKey(owner.client, {
      name: 'publisher',
      role: 'viewer',
      scopes: ['publish:weather', 'publish:*'],
    });
    expect(res.status).toBe(201);
    expect([...res.body.data.scopes].sort()).toEqual(['publish:*', 'publish:weather']);
    const listed = await owner.client.call('/api/v1/auth/api-keys');
    expect([...listed.body.data[0].scopes].sort()).toEqual(['publish:*', 'publish:weather']);
    const me = await withKey(res.body.data.key, '/api/v1/auth/me');
    expect(me.status).toBe(200);

    for (const scope of ['publish:Bad!', 'write:x', 'publish:', 'publish']) {
      const bad = await newKey(owner.client, { name: `bad ${scope}`, role: 'viewer', scopes: [scope] });
      expect(pointersOf(bad)).toContain('/scopes/0');
    }
    const dupes = await newKey(owner.client, {
      name: 'dupes',
      role: 'viewer',
      scopes: ['publish:a', 'publish:a'],
    });
    expect(pointersOf(dupes)).toContain('/scopes');
  });

  it('lets only users who may publish (admins) put publish scopes on a key: 403 for viewers and editors', async () => {
    for (const role of ['viewer', 'editor'] as const) {
      const owner = await signedInAs(role);
      for (const scopes of [['publish:*'], ['publish:weather']]) {
        const res = await newKey(owner.client, { name: `device ${scopes}`, role: 'viewer', scopes });
        expectError(res, 403, 1001);
        expect(res.body.error).toMatch(/publish/);
      }
      // Without scopes, the same key is theirs to make.
      expect((await newKey(owner.client, { name: 'reader', role: 'viewer', scopes: [] })).status).toBe(201);
    }
    const admin = await signedInAs('admin');
    const device = await newKey(admin.client, {
      name: 'device',
      role: 'viewer',
      scopes: ['publish:weather'],
    });
    expect(device.status).toBe(201);
    const audit = await admin.client.call('/api/v1/audit?type=auth.api_key_created');
    expect(audit.body.data.map((e: { target: { id: string } }) => e.target.id)).toContain(
      device.body.data.id,
    );
  });

  it('refuses a duplicate name for the same user (409 code 4001) and an empty or too long name (422)', async () => {
    const owner = await signedInAs('editor');
    const other = await signedInAs('editor');
    expect((await newKey(owner.client, { name: 'shared-name', role: 'viewer' })).status).toBe(201);
    expectError(await newKey(owner.client, { name: 'shared-name', role: 'editor' }), 409, 4001);
    expect((await newKey(other.client, { name: 'shared-name', role: 'viewer' })).status).toBe(201);
    for (const name of ['', '   ', 'n'.repeat(101)]) {
      expect(pointersOf(await newKey(owner.client, { name, role: 'viewer' }))).toEqual(['/name']);
    }
    expect(pointersOf(await newKey(owner.client, { role: 'viewer' }))).toEqual(['/name']);
    expect(pointersOf(await newKey(owner.client, { name: 'x', role: 'viewer', owner: 'root' }))).toEqual([
      '/owner',
    ]);
    expect((await newKey(owner.client, { name: 'n'.repeat(100), role: 'viewer' })).status).toBe(201);
    expect((await owner.client.call('/api/v1/auth/api-keys')).body.data).toHaveLength(2);
  });
});
