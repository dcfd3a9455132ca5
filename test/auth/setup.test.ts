import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kysely, Migrator, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { InstanceStore } from '../../src/instance/store.js';
import { loadSettings } from '../../src/settings.js';
import { openStorage, type Storage } from '../../src/storage/database.js';
import * as instanceSecrets from '../../src/storage/migrations/0001_instance_secrets.js';
import * as identity from '../../src/storage/migrations/0002_identity.js';
import * as audit from '../../src/storage/migrations/0003_audit.js';
import * as endpointConfig from '../../src/storage/migrations/0004_endpoint_config.js';
import { freshDatabase, startTestApp, TEST_PASSWORD, type TestApp } from '../fixture.js';

const SETUP_TOKEN = 'setup-token-for-tests-0123456789';

/** Every row of the instance secrets, read as an attacker holding a copy of the database would. */
async function storedSecrets(t: TestApp): Promise<{ name: string; value: string }[]> {
  const result = await sql<{ name: string; value: string }>`select name, value from instance_secrets`.execute(
    t.app.storage.db,
  );
  return result.rows;
}

/** The schema as the version before hashed setup tokens left it (migrations 0001 to 0004). */
async function migrateTo0004(storage: Storage): Promise<void> {
  const db = storage.db as unknown as Kysely<unknown>;
  const migrationTableSchema =
    storage.engine === 'postgres'
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  const steps = {
    '0001_instance_secrets': instanceSecrets.up,
    '0002_identity': identity.up,
    '0003_audit': audit.up,
    '0004_endpoint_config': endpointConfig.up,
  };
  const migrator = new Migrator({
    db,
    migrationTableSchema,
    provider: {
      getMigrations: async () =>
        Object.fromEntries(
          Object.entries(steps).map(([name, up]) => [
            name,
            { up: (d: Kysely<unknown>) => up(d, storage.engine) },
          ]),
        ),
    },
  });
  const result = await migrator.migrateToLatest();
  if (result.error) throw result.error;
}

describe('first-run setup', () => {
  it('creates the first admin with the setup token, signs them in, then answers 409 whatever the token', async () => {
    const t = await startTestApp({ env: { SWITCHBOARD_SETUP_TOKEN: SETUP_TOKEN } });
    try {
      const c = t.client();
      const res = await c.call('/api/v1/auth/setup', {
        json: {
          username: 'Root',
          password: TEST_PASSWORD,
          full_name: 'Root Admin',
          setup_token: SETUP_TOKEN,
        },
      });
      expect(res.status).toBe(201);
      expect(res.body.data.user).toMatchObject({
        username: 'root',
        role: 'admin',
        role_level: 3,
        full_name: 'Root Admin',
      });
      expect(res.body.data.token_type).toBe('bearer');
      expect([...res.setCookies.keys()].sort()).toEqual(['csrf_token', 'refresh_token', 'session']);
      const me = await c.call('/api/v1/auth/me');
      expect(me.status).toBe(200);
      expect(me.body.data).toMatchObject({ username: 'root', role: 'admin', auth_method: 'password' });

      for (const token of [SETUP_TOKEN, 'wrong-token-wrong-token', undefined]) {
        const again = await t.client().call('/api/v1/auth/setup', {
          json: { username: 'second', password: TEST_PASSWORD, setup_token: token },
        });
        expect(again.status).toBe(409);
        expect(again.body.error_detail.error_code).toBe(4000);
      }
    } finally {
      await t.close();
    }
  });

  it('refuses a missing or wrong token with 401 code 1010 and accepts the header form', async () => {
    const t = await startTestApp({ env: { SWITCHBOARD_SETUP_TOKEN: SETUP_TOKEN } });
    try {
      const body = { username: 'root', password: TEST_PASSWORD };
      const missing = await t.client().call('/api/v1/auth/setup', { json: body });
      expect(missing.status).toBe(401);
      expect(missing.body.error_detail.error_code).toBe(1010);
      const wrong = await t
        .client()
        .call('/api/v1/auth/setup', { json: { ...body, setup_token: 'x'.repeat(32) } });
      expect(wrong.body.error_detail.error_code).toBe(1010);
      const weak = await t.client().call('/api/v1/auth/setup', {
        json: { ...body, password: 'password1234' },
        headers: { 'x-setup-token': SETUP_TOKEN },
      });
      expect(weak.status).toBe(422);
      expect(weak.body.error_detail.errors).toEqual([
        { pointer: '/password', message: expect.stringMatching(/common/) },
      ]);
      const viaHeader = await t.client().call('/api/v1/auth/setup', {
        json: body,
        headers: { 'x-setup-token': SETUP_TOKEN },
      });
      expect(viaHeader.status).toBe(201);
      expect(JSON.stringify(t.logs)).not.toContain(SETUP_TOKEN);
    } finally {
      await t.close();
    }
  });

  it('gives one 201 and one 409 to two concurrent setups', async () => {
    const t = await startTestApp({ env: { SWITCHBOARD_SETUP_TOKEN: SETUP_TOKEN } });
    try {
      const attempts = await Promise.all(
        ['alpha', 'bravo', 'charlie', 'delta'].map((username) =>
          t.client().call('/api/v1/auth/setup', {
            json: { username, password: TEST_PASSWORD, setup_token: SETUP_TOKEN },
          }),
        ),
      );
      expect(attempts.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
      const admins = await t.app.auth.users.list({ role: 'admin' }, undefined, 10);
      expect(admins).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  it('generates a token when none is configured, writes it to the data directory and logs it, then forgets it', async () => {
    const t = await startTestApp();
    try {
      const file = join(t.settings.dataDir, 'setup-token');
      const token = readFileSync(file, 'utf8').trim();
      expect(token.length).toBeGreaterThanOrEqual(43);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(t.logs.some((l) => String(l.msg).includes(token))).toBe(true);
      const stored = await storedSecrets(t);
      expect(stored.length).toBeGreaterThan(0);
      for (const row of stored) expect(row.value).not.toContain(token);

      const wrong = await t.client().call('/api/v1/auth/setup', {
        json: { username: 'root', password: TEST_PASSWORD, setup_token: `${token.slice(1)}x` },
      });
      expect(wrong.status).toBe(401);
      expect(wrong.body.error_detail.error_code).toBe(1010);
      const res = await t.client().call('/api/v1/auth/setup', {
        json: { username: 'root', password: TEST_PASSWORD, setup_token: token },
      });
      expect(res.status).toBe(201);
      expect(existsSync(file)).toBe(false);
    } finally {
      await t.close();
    }
  });

  it('does not print the token again on the next start, which says where it is; the token still works', async () => {
    const first = await startTestApp();
    const file = join(first.settings.dataDir, 'setup-token');
    const token = readFileSync(file, 'utf8').trim();
    const again = await startTestApp({ shareDatabaseWith: first });
    const elsewhere = mkdtempSync(join(tmpdir(), 'sb-other-instance-'));
    const other = await startTestApp({ shareDatabaseWith: first, env: { SWITCHBOARD_DATA_DIR: elsewhere } });
    try {
      expect(JSON.stringify(again.logs)).not.toContain(token);
      expect(again.logs.some((l) => l.level === 40 && String(l.msg).includes(file))).toBe(true);
      expect(again.app.auth.setup.pendingTokenSource).toBe(file);
      expect(readFileSync(file, 'utf8').trim()).toBe(token);

      // An instance with another data directory cannot know the token: it says whose file holds it.
      expect(JSON.stringify(other.logs)).not.toContain(token);
      expect(existsSync(join(elsewhere, 'setup-token'))).toBe(false);
      expect(other.logs.some((l) => l.level === 40 && /another instance/.test(String(l.msg)))).toBe(true);
      expect(other.app.auth.setup.pendingTokenSource).toMatch(/instance that generated it/);

      const res = await other.client().call('/api/v1/auth/setup', {
        json: { username: 'root', password: TEST_PASSWORD, setup_token: token },
      });
      expect(res.status).toBe(201);
    } finally {
      await other.close();
      await again.close();
      await first.close();
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('hashes a token an earlier version stored in clear, and the token in its file still works', async () => {
    const database = await freshDatabase();
    const token = 'clear-token-of-an-earlier-version-0123456';
    const storage = openStorage(loadSettings({ SWITCHBOARD_DATABASE_URL: database.url }).database);
    try {
      await migrateTo0004(storage);
      await new InstanceStore(storage.db).insertSecretIfAbsent('setup_token', token);
    } finally {
      await storage.close();
    }
    writeFileSync(join(database.dataDir, 'setup-token'), `${token}\n`, { mode: 0o600 });
    const t = await startTestApp({
      env: { SWITCHBOARD_DATABASE_URL: database.url, SWITCHBOARD_DATA_DIR: database.dataDir },
    });
    try {
      for (const row of await storedSecrets(t)) expect(row.value).not.toContain(token);
      expect(JSON.stringify(t.logs)).not.toContain(token);
      const res = await t.client().call('/api/v1/auth/setup', {
        json: { username: 'root', password: TEST_PASSWORD, setup_token: token },
      });
      expect(res.status).toBe(201);
    } finally {
      await t.close();
      await database.drop();
    }
  });

  it('retires the generated token once an admin is made elsewhere (the command line)', async () => {
    const t = await startTestApp();
    try {
      const file = join(t.settings.dataDir, 'setup-token');
      expect(t.app.auth.setup.pendingTokenSource).toBe(file);
      await t.app.auth.setup.retireTokenIfDone();
      expect(existsSync(file)).toBe(true);
      await t.createUser({ role: 'admin' });
      await t.app.auth.setup.retireTokenIfDone();
      expect(existsSync(file)).toBe(false);
      expect(t.app.auth.setup.pendingTokenSource).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  it('creates the admin unattended from SWITCHBOARD_ADMIN_PASSWORD_FILE, and refuses an unusable file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-admin-'));
    const file = join(dir, 'admin-password');
    const missing = await startTestApp({ env: { SWITCHBOARD_ADMIN_PASSWORD_FILE: file } }).catch(
      (e: Error) => e,
    );
    expect((missing as Error).message).toMatch(/SWITCHBOARD_ADMIN_PASSWORD_FILE=.*cannot read it \(ENOENT\)/);
    writeFileSync(file, 'password1234\n');
    const weak = await startTestApp({ env: { SWITCHBOARD_ADMIN_PASSWORD_FILE: file } }).catch(
      (e: Error) => e,
    );
    expect((weak as Error).message).toMatch(/the password is one of the most common passwords/);

    writeFileSync(file, `${TEST_PASSWORD}\n`);
    const t = await startTestApp({
      env: { SWITCHBOARD_ADMIN_PASSWORD_FILE: file, SWITCHBOARD_ADMIN_USERNAME: 'Operator' },
    });
    try {
      const signedIn = await t.signIn({ username: 'operator', password: TEST_PASSWORD });
      expect(signedIn.body.data.user).toMatchObject({
        username: 'operator',
        role: 'admin',
        must_change_password: false,
      });
      expect(existsSync(join(t.settings.dataDir, 'setup-token'))).toBe(false);
      const setup = await t
        .client()
        .call('/api/v1/auth/setup', { json: { username: 'x', password: TEST_PASSWORD } });
      expect(setup.status).toBe(409);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
