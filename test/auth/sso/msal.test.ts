import { randomBytes } from 'node:crypto';
import { exportSPKI } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Client, errorCode, type Reply } from '../../client.js';
import {
  problemShape,
  startTestApp,
  TEST_CONTEXT,
  TEST_PASSWORD,
  type TestApp,
  testClock,
} from '../../fixture.js';
import { FakeEntra, makeKey } from './entra-fixture.js';

const MSAL = '/api/v1/auth/msal';
const ME = '/api/v1/auth/me';
const CLIENT_ID = '6731de76-14a6-49ae-97bc-6eba6914391e';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OTHER_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const FOREIGN_TENANT = 'f8cdef31-a31e-4b4a-93e4-5f571e91255a';

function msalEnv(entra: FakeEntra, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SWITCHBOARD_MSAL_CLIENT_ID: CLIENT_ID,
    SWITCHBOARD_MSAL_TENANTS: `${TENANT},${OTHER_TENANT}`,
    SWITCHBOARD_MSAL_AUTHORITY: entra.authority,
    // Tests sign in far more often than a person could.
    SWITCHBOARD_RATE_LIMITING: 'false',
    ...extra,
  };
}

const present = (client: Client, idToken: unknown, headers?: Record<string, string>) =>
  client.call(MSAL, { json: { id_token: idToken }, headers });

let personCount = 0;
/** A person at Entra ID: the claims that say who they are (sub, oid, preferred_username, name). */
function person(username?: string): Record<string, string> {
  personCount += 1;
  const id = `${personCount}-${randomBytes(4).toString('hex')}`;
  return {
    sub: `sub-${id}`,
    oid: `oid-${id}`,
    preferred_username: username ?? `Person${id}@Example.com`,
    name: `Person ${personCount}`,
  };
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/** The id of the newest audit event (0 if none). */
async function lastAuditId(t: TestApp): Promise<number> {
  const [event] = await t.app.audit.list({ limit: 1 });
  return event?.id ?? 0;
}

/** The audit events recorded after `afterId`, oldest first. */
async function auditSince(t: TestApp, afterId: number) {
  const events = await t.app.audit.list({ limit: 1000 });
  return events.filter((event) => event.id > afterId).reverse();
}

/** Neither the audit log nor the log lines hold the token, or its payload or signature. */
async function expectNotLeaked(t: TestApp, token: string): Promise<void> {
  const audit = JSON.stringify(await t.app.audit.list({ limit: 100_000 }));
  const logs = JSON.stringify(t.logs);
  const parts = [token, ...token.split('.').slice(1)].filter((part) => part.length >= 16);
  expect(parts.length).toBeGreaterThan(0);
  for (const part of parts) {
    expect(audit.includes(part), 'the token is in the audit log').toBe(false);
    expect(logs.includes(part), 'the token is in a log line').toBe(false);
  }
}

function expectNoSession(res: Reply): void {
  expect(res.setCookies.has('session')).toBe(false);
  expect(res.setCookies.has('refresh_token')).toBe(false);
  expect(res.setCookies.has('csrf_token')).toBe(false);
}

/**
 * Presents `token` on a fresh client and expects it refused (401 code 1000 unless told), no session, exactly
 * one audit event `auth.sso.failure` with `reason`, and the token nowhere in the audit log or the logs.
 */
async function expectRefused(
  t: TestApp,
  token: unknown,
  reason: string,
  expected: { status?: number; code?: number; username?: string | null } = {},
): Promise<Reply> {
  const before = await lastAuditId(t);
  const res = await present(t.client(), token);
  expect(res.status).toBe(expected.status ?? 401);
  expect(errorCode(res)).toBe(expected.code ?? 1000);
  expect(problemShape.isEnvelope(res.body)).toBe(true);
  expectNoSession(res);
  // A 403 is also audited as auth.access_denied; of single sign-on's events, exactly this one.
  const events = (await auditSince(t, before)).filter((event) => event.type.startsWith('auth.sso'));
  expect(events.map((event) => event.type)).toEqual(['auth.sso.failure']);
  expect(events[0]).toMatchObject({
    outcome: 'failure',
    actorId: null,
    detail: { provider: 'msal', reason },
  });
  if (expected.username !== undefined) expect(events[0]?.actorUsername).toBe(expected.username);
  if (typeof token === 'string') await expectNotLeaked(t, token);
  return res;
}

async function expectSignedIn(t: TestApp, token: string, client = t.client()): Promise<Reply> {
  const res = await present(client, token);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.data.user.auth_method).toBe('msal');
  return res;
}

describe('MSAL sign-in with Entra ID id tokens', () => {
  const clock = testClock();
  let entra: FakeEntra;
  let t: TestApp;
  beforeAll(async () => {
    entra = await FakeEntra.start({ clientId: CLIENT_ID, now: () => clock.now });
    t = await startTestApp({
      now: () => clock.now,
      env: msalEnv(entra, { SWITCHBOARD_SSO_ROLE_MAP: 'ops-admins=admin,ops=editor' }),
    });
    // Another admin, so that an SSO admin may be demoted (the last enabled admin keeps the role).
    await t.createUser({ role: 'admin' });
  });
  afterAll(async () => {
    await t.close();
    await entra.close();
  });

  it('signs in with a good id token: the token response of a password sign-in, three cookies, an msal session', async () => {
    const who = person('Dana.Scully@Example.COM');
    const token = await entra.idToken({ tid: TENANT, claims: { ...who, name: 'Dana Scully' } });
    const c = t.client();
    const res = await present(c, token);
    expect(res.status).toBe(200);
    const data = res.body.data;
    expect(Object.keys(data).sort()).toEqual([
      'access_token',
      'expires_in',
      'refresh_expires_in',
      'refresh_token',
      'token_type',
      'user',
    ]);
    expect(data).toMatchObject({ token_type: 'bearer', expires_in: 900, refresh_expires_in: 604_800 });
    expect(typeof data.access_token).toBe('string');
    expect(typeof data.refresh_token).toBe('string');
    expect(data.user).toMatchObject({
      username: 'dana.scully@example.com',
      full_name: 'Dana Scully',
      role: 'viewer',
      role_level: 1,
      groups: [],
      auth_method: 'msal',
      must_change_password: false,
    });

    // The same shape as a password sign-in's answer.
    const local = await t.createUser();
    const password = await t.client().call('/api/v1/auth/login', {
      json: { username: local.username, password: local.password },
    });
    expect(password.status).toBe(200);
    expect(Object.keys(data).sort()).toEqual(Object.keys(password.body.data).sort());
    expect(Object.keys(data.user).sort()).toEqual(Object.keys(password.body.data.user).sort());

    expect([...res.setCookies.keys()].sort()).toEqual(['csrf_token', 'refresh_token', 'session']);
    expect(res.setCookies.get('session')?.value).toBe(data.access_token);
    expect(res.setCookies.get('refresh_token')?.value).toBe(data.refresh_token);
    expect(res.setCookies.get('session')?.attributes).toMatchObject({
      httponly: true,
      samesite: 'Strict',
      path: '/api',
    });

    const me = await c.call(ME);
    expect(me.status).toBe(200);
    expect(me.body.data).toMatchObject({
      id: data.user.id,
      username: 'dana.scully@example.com',
      full_name: 'Dana Scully',
      role: 'viewer',
      auth_method: 'msal',
    });
    const byBearer = await t.client().call(ME, { bearer: data.access_token });
    expect(byBearer.status).toBe(200);
    expect(byBearer.body.data.auth_method).toBe('msal');

    const record = await t.app.auth.users.get(data.user.id);
    expect(record).toMatchObject({ authSource: 'msal', passwordHash: null, role: 'viewer' });

    const [event] = await t.app.audit.list({ limit: 1, types: ['auth.sso.login'] });
    expect(event).toMatchObject({
      type: 'auth.sso.login',
      outcome: 'success',
      actorId: data.user.id,
      actorUsername: 'dana.scully@example.com',
      targetType: 'user',
      targetId: data.user.id,
      detail: {
        provider: 'msal',
        issuer: entra.issuerOf(TENANT),
        provisioned: true,
        role: 'viewer',
        groups: [],
      },
    });
    await expectNotLeaked(t, token);
  });

  it('signs in to the same account at the next sign-in (linked by issuer and subject)', async () => {
    const who = person();
    const first = await expectSignedIn(t, await entra.idToken({ tid: TENANT, claims: who }));
    const again = await expectSignedIn(t, await entra.idToken({ tid: TENANT, claims: who }));
    expect(again.body.data.user.id).toBe(first.body.data.user.id);
    const [event] = await t.app.audit.list({ limit: 1, types: ['auth.sso.login'] });
    expect(event?.detail).toMatchObject({ provider: 'msal', provisioned: false });
  });

  it('accepts tokens of every allowed tenant, each with its own issuer', async () => {
    const res = await expectSignedIn(t, await entra.idToken({ tid: OTHER_TENANT, claims: person() }));
    expect(res.body.data.user.role).toBe('viewer');
    const [event] = await t.app.audit.list({ limit: 1, types: ['auth.sso.login'] });
    expect(event?.detail).toMatchObject({ provider: 'msal', issuer: entra.issuerOf(OTHER_TENANT) });
  });

  describe('role mapping (ops-admins=admin, ops=editor, default viewer)', () => {
    const cases: { name: string; claims: Record<string, unknown>; role: string; groups: string[] }[] = [
      { name: 'a mapped group', claims: { groups: ['ops'] }, role: 'editor', groups: ['ops'] },
      {
        name: 'two mapped groups: the highest role',
        claims: { groups: ['ops', 'ops-admins'] },
        role: 'admin',
        groups: ['ops', 'ops-admins'],
      },
      {
        name: 'two mapped groups the other way round',
        claims: { groups: ['ops-admins', 'ops'] },
        role: 'admin',
        groups: ['ops', 'ops-admins'],
      },
      {
        name: 'a roles claim value, counted as a group',
        claims: { roles: ['ops-admins'] },
        role: 'admin',
        groups: ['ops-admins'],
      },
      {
        name: 'a group and a higher role from the roles claim',
        claims: { groups: ['ops'], roles: ['ops-admins'] },
        role: 'admin',
        groups: ['ops', 'ops-admins'],
      },
      {
        name: 'no mapped group: the default role',
        claims: { groups: ['marketing'], roles: ['Reader'] },
        role: 'viewer',
        groups: ['Reader', 'marketing'].sort(),
      },
    ];
    for (const { name, claims, role, groups } of cases) {
      it(`gives ${role} for ${name}`, async () => {
        const c = t.client();
        const res = await expectSignedIn(
          t,
          await entra.idToken({ tid: TENANT, claims: { ...person(), ...claims } }),
          c,
        );
        expect(res.body.data.user).toMatchObject({ role, groups });
        const me = await c.call(ME);
        expect(me.body.data).toMatchObject({ role, groups });
      });
    }

    it('sets role and groups again from the claims at every sign-in, for the sessions already open too', async () => {
      const who = person('Fox.Mulder');
      const first = t.client();
      const asAdmin = await expectSignedIn(
        t,
        await entra.idToken({ tid: TENANT, claims: { ...who, groups: ['ops-admins', 'ops'] } }),
        first,
      );
      const id = asAdmin.body.data.user.id;
      expect(asAdmin.body.data.user).toMatchObject({ role: 'admin', groups: ['ops', 'ops-admins'] });
      expect((await first.call(ME)).body.data).toMatchObject({
        role: 'admin',
        groups: ['ops', 'ops-admins'],
      });

      const asEditor = await expectSignedIn(
        t,
        await entra.idToken({ tid: TENANT, claims: { ...who, groups: ['ops'] } }),
      );
      expect(asEditor.body.data.user).toMatchObject({ id, role: 'editor', groups: ['ops'] });
      const meEditor = await first.call(ME);
      expect(meEditor.status).toBe(200);
      expect(meEditor.body.data).toMatchObject({ id, role: 'editor', groups: ['ops'] });

      const asViewer = await expectSignedIn(t, await entra.idToken({ tid: TENANT, claims: who }));
      expect(asViewer.body.data.user).toMatchObject({ id, role: 'viewer', groups: [] });
      const meViewer = await first.call(ME);
      expect(meViewer.status).toBe(200);
      expect(meViewer.body.data).toMatchObject({ id, role: 'viewer', groups: [] });
      expect(await t.app.auth.users.get(id)).toMatchObject({ role: 'viewer', groups: [] });

      const [event] = await t.app.audit.list({ limit: 1, types: ['auth.sso.login'] });
      expect(event?.detail).toMatchObject({
        provider: 'msal',
        provisioned: false,
        role: 'viewer',
        groups: [],
      });
    });
  });

  describe('accounts', () => {
    it('never takes over a local account of the same username (403 code 1001)', async () => {
      const local = await t.createUser({ username: 'walter.skinner' });
      const who = person('Walter.Skinner');
      await expectRefused(t, await entra.idToken({ tid: TENANT, claims: who }), 'username_taken', {
        status: 403,
        code: 1001,
        username: 'walter.skinner',
      });
      // Still refused the next time: the first refusal linked nothing.
      await expectRefused(t, await entra.idToken({ tid: TENANT, claims: who }), 'username_taken', {
        status: 403,
        code: 1001,
      });
      const signedIn = await t.signIn(local);
      expect(signedIn.body.data.user).toMatchObject({ id: local.record.id, auth_method: 'password' });
      expect(await t.app.auth.users.get(local.record.id)).toMatchObject({ authSource: 'local' });
    });

    it('does not let an account made by an MSAL sign-in sign in with a password (401 code 1000)', async () => {
      const who = person('Monica.Reyes');
      const res = await expectSignedIn(t, await entra.idToken({ tid: TENANT, claims: who }));
      expect(res.body.data.user.username).toBe('monica.reyes');
      for (const password of [TEST_PASSWORD, 'any-password-Zq81!', 'monica.reyes']) {
        const login = await t
          .client()
          .call('/api/v1/auth/login', { json: { username: 'monica.reyes', password } });
        expect(login.status).toBe(401);
        expect(errorCode(login)).toBe(1000);
        expectNoSession(login);
      }
    });

    it('refuses a user an admin disabled (403 code 1001), and ends their sessions', async () => {
      const who = person();
      const c = t.client();
      const res = await expectSignedIn(t, await entra.idToken({ tid: TENANT, claims: who }), c);
      const id = res.body.data.user.id;
      await t.app.auth.users.update(id, { disabled: true }, TEST_CONTEXT);
      await expectRefused(t, await entra.idToken({ tid: TENANT, claims: who }), 'disabled', {
        status: 403,
        code: 1001,
      });
      const me = await c.call(ME);
      expect(me.status).toBe(401);
      expect(await t.app.auth.users.get(id)).toMatchObject({ disabled: true });
    });

    it('makes one account when one new person signs in several times at the same time', async () => {
      // A few rounds, three sign-ins each: the races between them differ from round to round.
      for (let round = 0; round < 10; round += 1) {
        const who = person();
        const tokens = await Promise.all([1, 2, 3].map(() => entra.idToken({ tid: TENANT, claims: who })));
        const replies = await Promise.all(tokens.map((token) => present(t.client(), token)));
        expect(
          replies.map((res) => res.status),
          JSON.stringify(replies.map((res) => res.body.error)),
        ).toEqual([200, 200, 200]);
        const ids = new Set(replies.map((res) => res.body.data.user.id));
        expect(ids.size).toBe(1);
        const named = await t.app.auth.users.findByUsername(who.preferred_username!.toLowerCase());
        expect(named?.id).toBe(replies[0]?.body.data.user.id);
      }
    });
  });

  describe('refused tokens: 401 code 1000, no session, audited without the token', () => {
    const nowS = () => seconds(clock.now);

    it('refuses a token for another application (audience)', async () => {
      const token = await entra.idToken({ tid: TENANT, claims: { ...person(), aud: 'another-application' } });
      await expectRefused(t, token, 'claim_aud');
    });

    it("refuses a token of an allowed tenant that carries another tenant's issuer", async () => {
      const token = await entra.idToken({
        tid: TENANT,
        claims: { ...person(), iss: entra.issuerOf(OTHER_TENANT) },
      });
      await expectRefused(t, token, 'claim_iss');
      const foreign = await entra.idToken({
        tid: TENANT,
        claims: { ...person(), iss: entra.issuerOf(FOREIGN_TENANT) },
      });
      await expectRefused(t, foreign, 'claim_iss');
      const elsewhere = await entra.idToken({
        tid: TENANT,
        claims: { ...person(), iss: `https://login.microsoftonline.com/${TENANT}/v2.0` },
      });
      await expectRefused(t, elsewhere, 'claim_iss');
    });

    it('refuses a tenant that is not allowed, without asking the provider about it', async () => {
      const token = await entra.idToken({ tid: FOREIGN_TENANT, claims: person() });
      await expectRefused(t, token, 'tenant');
      const noTid = await entra.idToken({ tid: TENANT, claims: { ...person(), tid: undefined } });
      await expectRefused(t, noTid, 'tenant');
      expect(entra.hitsOf(entra.metadataPath(FOREIGN_TENANT))).toBe(0);
      expect([...entra.hits.keys()].filter((path) => path.includes(FOREIGN_TENANT))).toEqual([]);
    });

    it('refuses a token that expired more than five minutes ago', async () => {
      const token = await entra.idToken({
        tid: TENANT,
        claims: { ...person(), iat: nowS() - 3600, nbf: nowS() - 3600, exp: nowS() - 6 * 60 },
      });
      await expectRefused(t, token, 'expired');
      const justPast = await entra.idToken({
        tid: TENANT,
        claims: { ...person(), iat: nowS() - 3600, nbf: nowS() - 3600, exp: nowS() - 301 },
      });
      await expectRefused(t, justPast, 'expired');
    });

    it('accepts a token that expired four minutes ago (clock skew leeway)', async () => {
      const token = await entra.idToken({
        tid: TENANT,
        claims: { ...person(), iat: nowS() - 3600, nbf: nowS() - 3600, exp: nowS() - 4 * 60 },
      });
      await expectSignedIn(t, token);
    });

    it('refuses a token that is valid only ten minutes from now (nbf)', async () => {
      const token = await entra.idToken({
        tid: TENANT,
        claims: { ...person(), iat: nowS(), nbf: nowS() + 10 * 60, exp: nowS() + 3600 },
      });
      await expectRefused(t, token, 'claim_nbf');
    });

    it('refuses a forged signature: another key under the published kid', async () => {
      const forger = await makeKey(entra.signingKid);
      const token = await entra.idToken({ tid: TENANT, claims: person(), signWith: forger });
      await expectRefused(t, token, 'signature');
    });

    it('refuses a token signed with a key the provider does not publish (unknown kid)', async () => {
      const stranger = await makeKey('not-published-kid');
      const token = await entra.idToken({ tid: TENANT, claims: person(), signWith: stranger });
      await expectRefused(t, token, 'unknown_key');
    });

    it('refuses an unsigned token (alg none)', async () => {
      const token = await entra.idToken({ tid: TENANT, claims: person(), signWith: 'none' });
      expect(token.endsWith('.')).toBe(true);
      await expectRefused(t, token, 'algorithm');
      const withKid = await entra.idToken({
        tid: TENANT,
        claims: person(),
        signWith: 'none',
        header: { kid: entra.signingKid },
      });
      await expectRefused(t, withKid, 'algorithm');
    });

    it('refuses what is not a JWT at all', async () => {
      await expectRefused(t, `opaque-${randomBytes(24).toString('hex')}`, 'malformed');
      await expectRefused(
        t,
        `${randomBytes(24).toString('base64url')}.${randomBytes(24).toString('base64url')}.x`,
        'malformed',
      );
    });

    it('refuses the algorithm confusion attack: HS256 keyed with the public key PEM', async () => {
      const pem = await exportSPKI(entra.signingKey.publicKey);
      const token = await entra.idToken({
        tid: TENANT,
        claims: person(),
        signWith: new TextEncoder().encode(pem),
        header: { alg: 'HS256', kid: entra.signingKid },
      });
      await expectRefused(t, token, 'algorithm');
    });

    it('refuses a token with no subject', async () => {
      const token = await entra.idToken({ tid: TENANT, claims: { ...person(), sub: undefined } });
      await expectRefused(t, token, 'claim_sub');
    });

    it('takes each token once: the second presentation is refused', async () => {
      const token = await entra.idToken({ tid: TENANT, claims: person() });
      await expectSignedIn(t, token);
      await expectRefused(t, token, 'token_reused');
      await expectRefused(t, token, 'token_reused');
    });

    it('takes each token once when it is presented twice at the same time', async () => {
      const token = await entra.idToken({ tid: TENANT, claims: person() });
      const before = await lastAuditId(t);
      const replies = await Promise.all([present(t.client(), token), present(t.client(), token)]);
      expect(replies.map((res) => res.status).sort()).toEqual([200, 401]);
      const refused = replies.find((res) => res.status === 401)!;
      expect(errorCode(refused)).toBe(1000);
      expectNoSession(refused);
      const events = await auditSince(t, before);
      expect(events.map((event) => event.type).sort()).toEqual(['auth.sso.failure', 'auth.sso.login']);
      expect(events.find((event) => event.type === 'auth.sso.failure')?.detail).toMatchObject({
        provider: 'msal',
        reason: 'token_reused',
      });
      await expectNotLeaked(t, token);
    });
  });

  it('refuses a sign-in from a foreign Origin (403 code 1004), and does not spend the token', async () => {
    const token = await entra.idToken({ tid: TENANT, claims: person() });
    const before = await lastAuditId(t);
    const res = await present(t.client(), token, { origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe(1004);
    expectNoSession(res);
    expect((await auditSince(t, before)).filter((event) => event.type === 'auth.sso.login')).toEqual([]);
    const viaReferer = await present(t.client(), token, { referer: 'https://evil.example/page' });
    expect(viaReferer.status).toBe(403);
    expect(errorCode(viaReferer)).toBe(1004);
    const same = await present(t.client(), token, { origin: t.origin });
    expect(same.status).toBe(200);
  });

  describe('bad input: 422, never 500', () => {
    const goodToken = () => entra.idToken({ tid: TENANT, claims: person() });
    const cases: { name: string; body: unknown }[] = [
      { name: 'no id_token', body: {} },
      { name: 'an empty id_token', body: { id_token: '' } },
      { name: 'an id_token of 20,000 characters', body: { id_token: 'e'.repeat(20_000) } },
      { name: 'a number', body: { id_token: 12345 } },
      { name: 'null', body: { id_token: null } },
      { name: 'an array', body: { id_token: ['a.b.c'] } },
      { name: 'an array holding a good token', body: async () => ({ id_token: [await goodToken()] }) },
      { name: 'an object', body: { id_token: { token: 'a.b.c' } } },
      { name: 'a field more', body: { id_token: 'a.b.c', access_token: 'x' } },
    ];
    for (const { name, body } of cases) {
      it(`answers ${name} with 422 code 2000`, async () => {
        const before = await lastAuditId(t);
        const json = typeof body === 'function' ? await body() : body;
        const res = await t.client().call(MSAL, { json });
        expect(res.status, JSON.stringify(res.body)).toBe(422);
        expect(errorCode(res)).toBe(2000);
        expect(problemShape.isEnvelope(res.body)).toBe(true);
        expect(res.setCookies.size).toBe(0);
        expect(await auditSince(t, before)).toEqual([]);
      });
    }
  });

  it('lists MSAL among the providers, to anyone', async () => {
    const res = await t.client().call('/api/v1/auth/providers');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      local: true,
      oidc: null,
      msal: { client_id: CLIENT_ID, tenants: [TENANT, OTHER_TENANT], authority: entra.authority },
    });
  });

  it('fetched each tenant metadata once and the key set once for all of the above', () => {
    expect(entra.hitsOf(entra.metadataPath(TENANT))).toBe(1);
    expect(entra.hitsOf(entra.metadataPath(OTHER_TENANT))).toBe(1);
    // One fetch, and at most one more for the unknown kid (30 s cool-down).
    expect(entra.jwksHits).toBeGreaterThanOrEqual(1);
    expect(entra.jwksHits).toBeLessThanOrEqual(2);
  });
});

describe('MSAL with DEFAULT_ROLE none and PROVISION false', () => {
  const clock = testClock();
  let entra: FakeEntra;
  let t: TestApp;
  beforeAll(async () => {
    entra = await FakeEntra.start({ clientId: CLIENT_ID, now: () => clock.now });
    t = await startTestApp({
      now: () => clock.now,
      env: msalEnv(entra, {
        SWITCHBOARD_SSO_ROLE_MAP: 'ops-admins=admin,ops=editor',
        SWITCHBOARD_SSO_DEFAULT_ROLE: 'none',
        SWITCHBOARD_SSO_PROVISION: 'false',
      }),
    });
  });
  afterAll(async () => {
    await t.close();
    await entra.close();
  });

  it('refuses a person none of whose groups gives a role (403 code 1001)', async () => {
    const token = await entra.idToken({
      tid: TENANT,
      claims: { ...person('No.Role'), groups: ['marketing'] },
    });
    await expectRefused(t, token, 'no_role', { status: 403, code: 1001, username: 'no.role' });
  });

  it('refuses a person without an account when accounts are not provisioned (403 code 1001)', async () => {
    const token = await entra.idToken({ tid: TENANT, claims: { ...person('New.Comer'), groups: ['ops'] } });
    await expectRefused(t, token, 'not_provisioned', { status: 403, code: 1001, username: 'new.comer' });
    expect(await t.app.auth.users.findByUsername('new.comer')).toBeUndefined();
  });

  it('links an account an admin made for MSAL at its first sign-in, and only to that identity', async () => {
    const made = await t.app.auth.users.create(
      { username: 'john.doggett', role: 'viewer', authSource: 'msal' },
      TEST_CONTEXT,
    );
    const who = person('John.Doggett');
    const res = await expectSignedIn(
      t,
      await entra.idToken({ tid: TENANT, claims: { ...who, groups: ['ops'] } }),
    );
    expect(res.body.data.user).toMatchObject({ id: made.id, role: 'editor', groups: ['ops'] });
    const [event] = await t.app.audit.list({ limit: 1, types: ['auth.sso.login'] });
    expect(event?.detail).toMatchObject({ provider: 'msal', provisioned: false, role: 'editor' });
    const impostor = { ...person('John.Doggett') };
    await expectRefused(
      t,
      await entra.idToken({ tid: TENANT, claims: { ...impostor, groups: ['ops'] } }),
      'username_taken',
      {
        status: 403,
        code: 1001,
      },
    );
  });

  it('keeps the last enabled admin an admin when the claims would demote them', async () => {
    const made = await t.app.auth.users.create(
      { username: 'the.admin', role: 'admin', authSource: 'msal' },
      TEST_CONTEXT,
    );
    const who = person('The.Admin');
    const res = await expectSignedIn(
      t,
      await entra.idToken({ tid: TENANT, claims: { ...who, groups: ['ops'] } }),
    );
    expect(res.body.data.user).toMatchObject({ id: made.id, role: 'admin' });
    const [event] = await t.app.audit.list({ limit: 1, types: ['auth.sso.login'] });
    expect(event?.detail).toMatchObject({ role: 'admin', kept_last_admin: true });
  });
});

describe('the key set of the tenant (JWKS)', () => {
  const clock = testClock();
  let entra: FakeEntra;
  let t: TestApp;
  beforeAll(async () => {
    entra = await FakeEntra.start({ clientId: CLIENT_ID, now: () => clock.now });
    t = await startTestApp({ now: () => clock.now, env: msalEnv(entra) });
  });
  afterAll(async () => {
    vi.useRealTimers();
    await t.close();
    await entra.close();
  });

  /** `count` tokens of unknown kids, presented at once: each refused as signed with an unknown key. */
  async function flood(count: number): Promise<void> {
    const stranger = await makeKey('stranger');
    const tokens = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        entra.idToken({
          tid: TENANT,
          claims: person(),
          signWith: stranger,
          header: { kid: `flood-${i}-${randomBytes(3).toString('hex')}` },
        }),
      ),
    );
    const before = await lastAuditId(t);
    const replies = await Promise.all(tokens.map((token) => present(t.client(), token)));
    expect(replies.map((res) => res.status)).toEqual(Array(count).fill(401));
    expect(replies.map(errorCode)).toEqual(Array(count).fill(1000));
    const reasons = (await auditSince(t, before)).map((event) => event.detail?.reason);
    expect(reasons).toEqual(Array(count).fill('unknown_key'));
  }

  it('caches the keys: two sign-ins, one fetch of the metadata and of the key set', async () => {
    await expectSignedIn(t, await entra.idToken({ tid: TENANT, claims: person() }));
    await expectSignedIn(t, await entra.idToken({ tid: TENANT, claims: person() }));
    expect(entra.hitsOf(entra.metadataPath(TENANT))).toBe(1);
    expect(entra.jwksHits).toBe(1);
  });

  it('fetches the key set again for an unknown kid, at most once per 30 seconds however many arrive, and takes a rotated key once the cool-down has passed', async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      // Within the cool-down of the first fetch: unknown kids fetch nothing.
      vi.setSystemTime(start);
      await flood(20);
      expect(entra.jwksHits).toBe(1);

      // Past it: one unknown kid fetches once, and a flood right after nothing more.
      vi.setSystemTime(start + 31_000);
      const stranger = await makeKey('stranger');
      await expectRefused(
        t,
        await entra.idToken({ tid: TENANT, claims: person(), signWith: stranger }),
        'unknown_key',
      );
      expect(entra.jwksHits).toBe(2);
      await flood(20);
      expect(entra.jwksHits).toBe(2);

      // Past the next cool-down, a flood at once: one fetch among them.
      vi.setSystemTime(start + 62_000);
      await flood(20);
      expect(entra.jwksHits).toBe(3);

      // The provider rotates its key: not known within the cool-down, taken once it has passed.
      const rotated = await entra.rotate();
      const early = await entra.idToken({ tid: TENANT, claims: person(), signWith: rotated });
      await expectRefused(t, early, 'unknown_key');
      expect(entra.jwksHits).toBe(3);
      vi.setSystemTime(start + 93_000);
      await expectSignedIn(t, await entra.idToken({ tid: TENANT, claims: person() }));
      expect(entra.jwksHits).toBe(4);
      // The token refused before was not spent: it is taken now too.
      await expectSignedIn(t, early);
      expect(entra.jwksHits).toBe(4);
      // The old key is still published, and still taken.
      const [oldKid] = [...entra.keys.keys()];
      const byOld = await entra.idToken({
        tid: TENANT,
        claims: person(),
        signWith: entra.keys.get(oldKid!)!,
      });
      await expectSignedIn(t, byOld);
      expect(entra.jwksHits).toBe(4);
      expect(entra.hitsOf(entra.metadataPath(TENANT))).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('answers 502 code 7000 when the key set cannot be fetched again (the provider is down)', async () => {
    const start = Date.now();
    await entra.stop();
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      // Well past jose's ten minutes of cache: the key set must be fetched again.
      vi.setSystemTime(start + 20 * 60_000);
      const token = await entra.idToken({ tid: TENANT, claims: person() });
      await expectRefused(t, token, 'provider_unreachable', { status: 502, code: 7000 });
    } finally {
      vi.useRealTimers();
      await entra.resume();
    }
  });

  it.each([
    ['fails', { status: 500, body: { error: 'server_error' } }, 40],
    ['answers nonsense (not a key set)', { status: 200, body: { keys: 'none today' } }, 60],
  ])('answers 502 code 7000 when the key set endpoint %s', async (_label, answer, minutesLater) => {
    entra.jwksAnswer = answer;
    const start = Date.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      // Past jose's cache of the key set, so that it is fetched again.
      vi.setSystemTime(start + minutesLater * 60_000);
      const token = await entra.idToken({ tid: TENANT, claims: person() });
      await expectRefused(t, token, 'provider_unreachable', { status: 502, code: 7000 });
    } finally {
      vi.useRealTimers();
      entra.jwksAnswer = undefined;
    }
  });
});

describe('MSAL when Entra ID cannot be reached', () => {
  const clock = testClock();
  let entra: FakeEntra;
  let t: TestApp;
  beforeAll(async () => {
    entra = await FakeEntra.start({ clientId: CLIENT_ID, now: () => clock.now });
    // Down before the first fetch: nothing is known about the tenant.
    await entra.stop();
    t = await startTestApp({ now: () => clock.now, env: msalEnv(entra) });
  });
  afterAll(async () => {
    await t.close();
    await entra.close();
  });

  it('answers 502 code 7000, audited as provider_unreachable, and logs the cause', async () => {
    const token = await entra.idToken({ tid: TENANT, claims: person() });
    await expectRefused(t, token, 'provider_unreachable', { status: 502, code: 7000 });
    const warnings = t.logs.filter((line) => line.msg === 'single sign-on: the identity provider failed');
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toMatchObject({ provider: 'msal' });
  });

  it('does not ask again for 5 seconds, then signs in once the provider is back', async () => {
    await entra.resume();
    const token = await entra.idToken({ tid: TENANT, claims: person() });
    await expectRefused(t, token, 'provider_unreachable', { status: 502, code: 7000 });
    expect(entra.hitsOf(entra.metadataPath(TENANT))).toBe(0);
    clock.advance(6_000);
    await expectSignedIn(t, token);
    expect(entra.hitsOf(entra.metadataPath(TENANT))).toBe(1);
    expect(entra.jwksHits).toBe(1);
  });
});

describe('MSAL not configured', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers POST /auth/msal with 404, and lists no MSAL provider', async () => {
    const res = await t.client().call(MSAL, { json: { id_token: 'a.b.c' } });
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe(3000);
    expectNoSession(res);
    const providers = await t.client().call('/api/v1/auth/providers');
    expect(providers.status).toBe(200);
    expect(providers.body.data).toEqual({ local: true, oidc: null, msal: null });
  });
});
