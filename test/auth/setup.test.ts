import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestApp, TEST_PASSWORD } from '../fixture.js';

const SETUP_TOKEN = 'setup-token-for-tests-0123456789';

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
      expect(token.length).toBeGreaterThanOrEqual(32);
      expect(t.logs.some((l) => String(l.msg).includes(token))).toBe(true);
      const res = await t.client().call('/api/v1/auth/setup', {
        json: { username: 'root', password: TEST_PASSWORD, setup_token: token },
      });
      expect(res.status).toBe(201);
      expect(existsSync(file)).toBe(false);
    } finally {
      await t.close();
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
