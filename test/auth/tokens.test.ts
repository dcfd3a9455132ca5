import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { decodeJwt, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deriveAuthKeys } from '../../src/auth/keys.js';
import type { Reply } from '../client.js';
import { type SignedIn, startTestApp, type TestApp, type TestUser } from '../fixture.js';

const SECRET = 'tokens-test-secret-0123456789-abcdefghij';
const KEY = deriveAuthKeys(Buffer.from(SECRET, 'utf8')).accessToken;
const OTHER_KEY = deriveAuthKeys(Buffer.from('another-secret-of-forty-characters-00000', 'utf8')).accessToken;
const ENV = { SWITCHBOARD_JWT_SECRET: SECRET };
const NEW_PASSWORD = 'fresh-Passw0rd-after-change';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function sign(claims: JWTPayload, alg = 'HS256', key: Uint8Array = KEY): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).sign(key);
}

function expectInvalidToken(res: Reply, detail?: RegExp): void {
  expect(res.status).toBe(401);
  expect(res.body.error_detail.error_code).toBe(1009);
  expect(res.headers['www-authenticate']).toBe('Bearer realm="switchboard", error="invalid_token"');
  if (detail) expect(res.body.error_detail.detail).toMatch(detail);
}

/** The same GET with the token as a bearer token, then as the session cookie of a fresh client. */
async function bearerAndCookie(t: TestApp, token: string, path = '/api/v1/auth/me'): Promise<Reply[]> {
  const bearer = await t.client().call(path, { bearer: token });
  const c = t.client();
  c.setCookie('session', token, '/api');
  const cookie = await c.call(path);
  return [bearer, cookie];
}

describe('access tokens that must not authenticate', () => {
  let t: TestApp;
  let viewer: TestUser;
  let viewerSession: SignedIn;
  let claims: JWTPayload;
  let otherClaims: JWTPayload;
  let admin: SignedIn;

  beforeAll(async () => {
    t = await startTestApp({ env: ENV });
    viewer = await t.createUser({ username: 'forge-viewer', role: 'viewer' });
    viewerSession = await t.signIn(viewer);
    claims = decodeJwt(viewerSession.accessToken);
    const other = await t.signIn(await t.createUser({ username: 'forge-other', role: 'viewer' }));
    otherClaims = decodeJwt(other.accessToken);
    admin = await t.signIn(await t.createUser({ username: 'forge-admin', role: 'admin' }));
  });
  afterAll(() => t.close());

  it('carries the claims the server checks, and accepts them re-signed with the derived key', async () => {
    expect(claims).toMatchObject({
      iss: t.settings.publicUrl,
      aud: 'switchboard',
      sub: viewer.record.id,
      role: 'viewer',
      jti: expect.any(String),
      pwd: expect.any(String),
    });
    // The forgeries below each differ from this token in one thing only, so this one must pass.
    for (const res of await bearerAndCookie(t, await sign(claims))) {
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ id: viewer.record.id, username: 'forge-viewer', role: 'viewer' });
    }
  });

  const forgeries: [string, () => Promise<string> | string][] = [
    ['alg "none" (unsigned)', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`],
    ['HS512 with the right key while HS256 is pinned', () => sign(claims, 'HS512')],
    ['HS256 with a wrong key', () => sign(claims, 'HS256', OTHER_KEY)],
    ['a wrong issuer', () => sign({ ...claims, iss: 'https://evil.example' })],
    ['a wrong audience', () => sign({ ...claims, aud: 'someone-else' })],
    ['no jti', () => sign({ ...claims, jti: undefined })],
    [
      "a role edited to admin under the viewer's original signature",
      () => {
        const [header, , signature] = viewerSession.accessToken.split('.');
        return `${header}.${b64({ ...claims, role: 'admin' })}.${signature}`;
      },
    ],
    [
      'a well-signed token for a session that does not exist',
      () => sign({ ...claims, jti: randomBytes(18).toString('base64url') }),
    ],
    ["user A's id with user B's session id", () => sign({ ...claims, jti: otherClaims.jti })],
    ["user B's id with user A's session id", () => sign({ ...otherClaims, jti: claims.jti })],
    ['garbage without dots', () => 'not-a-token-at-all'],
    ['garbage with three parts', () => 'a.b.c'],
    ['a header and an empty payload', () => `${b64({ alg: 'HS256', typ: 'JWT' })}.e30.`],
    ['dots only', () => '...'],
  ];

  it.each(forgeries)('refuses %s with 401 code 1009, as bearer and as cookie', async (_name, build) => {
    const token = await build();
    const [bearer, cookie] = await bearerAndCookie(t, token);
    expectInvalidToken(bearer!);
    expectInvalidToken(cookie!);
  });

  it('takes the role from the database, not from a validly signed role claim', async () => {
    const adminClaim = await sign({ ...claims, role: 'admin' });
    for (const res of await bearerAndCookie(t, adminClaim)) {
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ username: 'forge-viewer', role: 'viewer', role_level: 1 });
    }
    for (const res of await bearerAndCookie(t, adminClaim, '/api/v1/users')) {
      expect(res.status).toBe(403);
      expect(res.body.error_detail.error_code).toBe(1001);
    }
    const asAdmin = await t.client().call('/api/v1/users', { bearer: admin.accessToken });
    expect(asAdmin.status).toBe(200);
  });

  it('answers a request without credentials with 401 code 1008 and a challenge', async () => {
    const res = await t.client().call('/api/v1/auth/me');
    expect(res.status).toBe(401);
    expect(res.body.error_detail.error_code).toBe(1008);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="switchboard"');
  });

  it('answers an API key that does not exist with 401 code 1009', async () => {
    const res = await t
      .client()
      .call('/api/v1/auth/me', { bearer: `sbk_${randomBytes(24).toString('hex')}` });
    expectInvalidToken(res);
  });
});

describe('access token expiry', () => {
  let now = Math.floor(Date.now() / 1000) * 1000;
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: ENV, now: () => now });
  });
  afterAll(() => t.close());

  it('accepts a token until its 15 minutes are up, then refuses it as expired', async () => {
    const { accessToken, body } = await t.signIn(await t.createUser({ username: 'expiring' }));
    expect(body.data.expires_in).toBe(900);
    now += 14 * 60_000;
    for (const res of await bearerAndCookie(t, accessToken)) expect(res.status).toBe(200);
    now += 60_000 + 1_000;
    for (const res of await bearerAndCookie(t, accessToken)) expectInvalidToken(res, /expired/);
    const validate = await t.client().call('/api/v1/auth/validate', { bearer: accessToken });
    expectInvalidToken(validate, /expired/);
  });
});

describe('password changes void earlier tokens', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: ENV });
  });
  afterAll(() => t.close());

  it('refuses a token minted before POST /auth/password with 401 code 1009', async () => {
    const user = await t.createUser({ username: 'changer' });
    const { accessToken } = await t.signIn(user);
    const change = await t.client().call('/api/v1/auth/password', {
      bearer: accessToken,
      json: { current_password: user.password, new_password: NEW_PASSWORD },
    });
    expect(change.status).toBe(200);
    const fresh = change.body.data.access_token as string;
    // Same session, same key: only the password signature tells the old token apart.
    expect(decodeJwt(fresh).jti).toBe(decodeJwt(accessToken).jti);
    for (const res of await bearerAndCookie(t, accessToken)) expectInvalidToken(res, /password change/);
    for (const res of await bearerAndCookie(t, fresh)) expect(res.status).toBe(200);
  });
});

describe('GET /auth/validate', () => {
  let t: TestApp;
  let user: TestUser;
  let session: SignedIn;

  beforeAll(async () => {
    t = await startTestApp({ env: ENV });
    user = await t.createUser({ username: 'validator', role: 'editor', groups: ['ops'] });
    session = await t.signIn(user);
  });
  afterAll(() => t.close());

  function expectValid(res: Reply, expiresAt: string | null, authMethod = 'password'): void {
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      valid: true,
      user: {
        id: user.record.id,
        username: 'validator',
        full_name: null,
        role: 'editor',
        role_level: 2,
        groups: ['ops'],
        auth_method: authMethod,
        must_change_password: false,
      },
      expires_at: expiresAt,
    });
  }

  it('accepts the token in Authorization and in the session cookie', async () => {
    const expiresAt = new Date((decodeJwt(session.accessToken).exp ?? 0) * 1000).toISOString();
    const [bearer, cookie] = await bearerAndCookie(t, session.accessToken, '/api/v1/auth/validate');
    expectValid(bearer!, expiresAt);
    expectValid(cookie!, expiresAt);
    expectValid(await session.client.call('/api/v1/auth/validate'), expiresAt);
  });

  it('refuses a token in the URL (422), however its name is written, and never logs it', async () => {
    const marker = await t.signIn(user);
    for (const name of ['token', '%74oken', 'TOKEN', 't%6Fken']) {
      const res = await t.client().call(`/api/v1/auth/validate?${name}=${marker.accessToken}`);
      expect(res.status, name).toBe(422);
      expect(res.body.error_detail.error_code).toBe(2000);
      expect(JSON.stringify(res.body)).not.toContain(marker.accessToken);
    }
    await vi.waitFor(() =>
      expect(t.logs.some((l) => l.url === '/api/v1/auth/validate?%74oken=[REDACTED]')).toBe(true),
    );
    const logged = JSON.stringify(t.logs);
    expect(logged).not.toContain(marker.accessToken);
    expect(logged).not.toContain(marker.accessToken.split('.')[2]);
  });

  it('answers an invalid token with 401 code 1009 wherever it is, and no token with 1008', async () => {
    const forged = await sign({ ...decodeJwt(session.accessToken) }, 'HS256', OTHER_KEY);
    for (const res of await bearerAndCookie(t, forged, '/api/v1/auth/validate')) expectInvalidToken(res);
    expectInvalidToken(await t.client().call('/api/v1/auth/validate', { bearer: 'sbk_unknown' }));
    const none = await t.client().call('/api/v1/auth/validate');
    expect(none.status).toBe(401);
    expect(none.body.error_detail.error_code).toBe(1008);
  });

  it('accepts an API key in Authorization', async () => {
    const created = await session.client.call('/api/v1/auth/api-keys', {
      json: { name: 'validate-me', role: 'viewer' },
    });
    expect(created.status).toBe(201);
    const res = await t.client().call('/api/v1/auth/validate', { bearer: created.body.data.key });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      valid: true,
      user: { id: user.record.id, role: 'viewer', auth_method: 'api_key' },
      expires_at: null,
    });
  });
});

const editorsOnly: FastifyPluginAsync = async (app) => {
  app.get('/test/editors-only', { config: { access: { rule: { minRole: 'editor' } } } }, async () => ({
    ok: true,
  }));
};

describe('rights are read afresh on every request', () => {
  let t: TestApp;
  let admin: SignedIn;

  beforeAll(async () => {
    t = await startTestApp({ env: ENV, routes: editorsOnly });
    admin = await t.signIn(await t.createUser({ username: 'rights-admin', role: 'admin' }));
  });
  afterAll(() => t.close());

  it("applies a demotion to the editor's existing token on the very next request", async () => {
    const editor = await t.createUser({ username: 'demoted-editor', role: 'editor' });
    const { accessToken } = await t.signIn(editor);
    const before = await t.client().call('/api/v1/test/editors-only', { bearer: accessToken });
    expect(before.status).toBe(200);
    const patch = await admin.client.call(`/api/v1/users/${editor.record.id}`, {
      method: 'PATCH',
      json: { role: 'viewer' },
    });
    expect(patch.status).toBe(200);
    for (const res of await bearerAndCookie(t, accessToken)) {
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ role: 'viewer', role_level: 1 });
    }
    for (const res of await bearerAndCookie(t, accessToken, '/api/v1/test/editors-only')) {
      expect(res.status).toBe(403);
      expect(res.body.error_detail.error_code).toBe(1001);
    }
  });

  it("refuses a disabled user's token at once with 401 code 1002", async () => {
    const editor = await t.createUser({ username: 'disabled-editor', role: 'editor' });
    const { accessToken } = await t.signIn(editor);
    expect((await t.client().call('/api/v1/auth/me', { bearer: accessToken })).status).toBe(200);
    const patch = await admin.client.call(`/api/v1/users/${editor.record.id}`, {
      method: 'PATCH',
      json: { disabled: true },
    });
    expect(patch.status).toBe(200);
    for (const res of await bearerAndCookie(t, accessToken)) {
      expect(res.status).toBe(401);
      expect(res.body.error_detail.error_code).toBe(1002);
    }
  });
});
