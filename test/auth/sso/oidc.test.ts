import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, errorCode, type Reply } from '../../client.js';
import { startTestApp, TEST_CONTEXT, type TestApp, testClock } from '../../fixture.js';
import { type TestAccount, TestProvider } from './oidc-fixture.js';

const PUBLIC_URL = 'http://switchboard.test';
const CALLBACK = `${PUBLIC_URL}/api/v1/auth/oidc/callback`;
const CLIENT = { clientId: 'switchboard', clientSecret: 'test-client-secret-0123456789' };
const LOGIN = '/api/v1/auth/oidc/login';

function oidcEnv(provider: { issuer: string }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SWITCHBOARD_PUBLIC_URL: PUBLIC_URL,
    SWITCHBOARD_OIDC_ISSUER: provider.issuer,
    SWITCHBOARD_OIDC_CLIENT_ID: CLIENT.clientId,
    SWITCHBOARD_OIDC_CLIENT_SECRET: CLIENT.clientSecret,
    // Tests sign in far more often than a person could.
    SWITCHBOARD_RATE_LIMITING: 'false',
    ...extra,
  };
}

/** Starts a sign-in on `client` and goes through the provider: the callback path it is sent back to. */
async function startAndAuthorize(client: Client, provider: TestProvider, returnTo?: string) {
  const query = returnTo === undefined ? '' : `?return_to=${encodeURIComponent(returnTo)}`;
  const start = await client.call(`${LOGIN}${query}`);
  expect(start.status).toBe(302);
  const back = new URL(await provider.authorize(String(start.headers.location)));
  return { start, callbackPath: `${back.pathname}${back.search}`, back };
}

async function signIn(client: Client, provider: TestProvider, returnTo?: string): Promise<Reply> {
  const { callbackPath } = await startAndAuthorize(client, provider, returnTo);
  return client.call(callbackPath);
}

let accountCount = 0;
/** A new person at the provider, who the next login signs in. */
function person(provider: TestProvider, claims: Record<string, unknown> = {}) {
  accountCount += 1;
  const sub = `sub-${accountCount}-${Math.random().toString(36).slice(2, 8)}`;
  const account: TestAccount = {
    sub,
    preferred_username: `Person${accountCount}.${sub.slice(-4)}`,
    name: `Person ${accountCount}`,
    ...claims,
  };
  provider.accounts.set(sub, account);
  provider.signInAs = sub;
  provider.forgetBrowser();
  return account;
}

function expectRefused(res: Reply, status = 401, code = 1000) {
  expect(res.status).toBe(status);
  expect(errorCode(res)).toBe(code);
  expect(res.setCookies.has('session')).toBe(false);
  expect(res.setCookies.has('refresh_token')).toBe(false);
}

async function lastFailure(t: TestApp) {
  const events = await t.app.audit.list({ limit: 1, types: ['auth.sso.failure'] });
  return events[0];
}

const withCallbackParam = (path: string, name: string, value: string | null) => {
  const url = new URL(path, PUBLIC_URL);
  if (value === null) url.searchParams.delete(name);
  else url.searchParams.set(name, value);
  return `${url.pathname}${url.search}`;
};

describe('OIDC sign-in against a real provider', () => {
  let provider: TestProvider;
  let t: TestApp;
  beforeAll(async () => {
    provider = await TestProvider.start({
      ...CLIENT,
      redirectUri: CALLBACK,
      postLogoutRedirectUri: `${PUBLIC_URL}/`,
    });
    t = await startTestApp({
      env: oidcEnv(provider, {
        SWITCHBOARD_SSO_ROLE_MAP: 'ops-admins=admin,ops=editor',
        SWITCHBOARD_OIDC_END_SESSION: 'true',
        SWITCHBOARD_OIDC_DISPLAY_NAME: 'Company SSO',
      }),
    });
  });
  afterAll(async () => {
    await t.close();
    await provider.close();
  });

  it('runs the code flow with PKCE, state and nonce, and leaves a normal session', async () => {
    const account = person(provider, { preferred_username: 'Alice', name: 'Alice A', groups: ['ops'] });
    const client = t.client();
    const { start, back } = await startAndAuthorize(client, provider, '/dash?x=1');
    const location = new URL(String(start.headers.location));
    expect(location.origin).toBe(provider.issuer);
    expect(location.searchParams.get('redirect_uri')).toBe(CALLBACK);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(location.searchParams.get('response_type')).toBe('code');
    expect(location.searchParams.get('scope')).toBe('openid profile email');
    expect(location.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(location.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    const pending = start.setCookies.get('sso_login');
    expect(pending?.attributes).toMatchObject({
      httponly: true,
      samesite: 'Lax',
      path: '/api/v1/auth/oidc/callback',
      'max-age': '600',
    });
    expect(back.href.startsWith(`${CALLBACK}?`)).toBe(true);
    const done = await client.call(`${back.pathname}${back.search}`);
    expect(done.status).toBe(302);
    expect(done.headers.location).toBe('/dash?x=1');
    expect([...done.setCookies.keys()].sort()).toEqual([
      'csrf_token',
      'refresh_token',
      'session',
      'sso_login',
    ]);
    expect(done.setCookies.get('session')?.attributes).toMatchObject({ httponly: true, samesite: 'Strict' });
    const me = await client.call('/api/v1/auth/me');
    expect(me.status).toBe(200);
    expect(me.body.data).toMatchObject({
      username: 'alice',
      full_name: 'Alice A',
      role: 'editor',
      groups: ['ops'],
      auth_method: 'oidc',
      must_change_password: false,
    });
    const [event] = await t.app.audit.list({ limit: 1, types: ['auth.sso.login'] });
    expect(event).toMatchObject({
      outcome: 'success',
      detail: { provider: 'oidc', issuer: provider.issuer, provisioned: true, role: 'editor' },
    });
    // The same person again: the same account, linked by issuer and subject.
    provider.forgetBrowser();
    const again = await signIn(t.client(), provider);
    expect(again.status).toBe(302);
    const users = await t.app.auth.users.list({ q: 'alice' }, undefined, 10);
    expect(users.map((u) => u.username)).toEqual(['alice']);
    expect(account.sub).toBeTruthy();
  });

  it('builds the redirect URI from SWITCHBOARD_PUBLIC_URL alone, whatever Host and X-Forwarded-* say', async () => {
    const start = await t.client().call(LOGIN, {
      headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
    });
    expect(start.status).toBe(302);
    expect(new URL(String(start.headers.location)).searchParams.get('redirect_uri')).toBe(CALLBACK);
  });

  it.each([
    ['//evil.example/x', '/'],
    ['https://evil.example/x', '/'],
    ['/\\evil.example', '/'],
    ['javascript:alert(1)', '/'],
    ['/ok/path#frag', '/ok/path#frag'],
  ])('returns to %s as %s', async (given, expected) => {
    person(provider);
    const res = await signIn(t.client(), provider, given);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(expected);
  });

  it('returns to / without return_to, and refuses an unknown query parameter (422)', async () => {
    person(provider);
    const res = await signIn(t.client(), provider);
    expect(res.headers.location).toBe('/');
    const odd = await t.client().call(`${LOGIN}?redirect_uri=https://evil.example/`);
    expect(odd.status).toBe(422);
  });

  it('keeps the only admin an admin when the claims would demote them, and says so in the audit log', async () => {
    // The app of this suite has no admin yet, so the first SSO admin is the last one.
    const account = person(provider, { groups: ['ops-admins'] });
    const client = t.client();
    expect((await signIn(client, provider)).status).toBe(302);
    expect((await client.call('/api/v1/auth/me')).body.data.role).toBe('admin');
    account.groups = [];
    provider.forgetBrowser();
    expect((await signIn(t.client(), provider)).status).toBe(302);
    expect((await client.call('/api/v1/auth/me')).body.data).toMatchObject({ role: 'admin', groups: [] });
    const [event] = await t.app.audit.list({ limit: 1, types: ['auth.sso.login'] });
    expect(event?.detail).toMatchObject({ role: 'admin', kept_last_admin: true });
    // With another admin there, the claims win.
    await t.createUser({ role: 'admin' });
    provider.forgetBrowser();
    expect((await signIn(t.client(), provider)).status).toBe(302);
    expect((await client.call('/api/v1/auth/me')).body.data.role).toBe('viewer');
  });

  it('sets the role and groups from the claims again at every sign-in, and open sessions see it', async () => {
    const account = person(provider, { groups: ['ops-admins', 'ops'] });
    const client = t.client();
    expect((await signIn(client, provider)).status).toBe(302);
    expect((await client.call('/api/v1/auth/me')).body.data).toMatchObject({
      role: 'admin',
      groups: ['ops', 'ops-admins'],
    });
    account.groups = ['elsewhere'];
    provider.forgetBrowser();
    expect((await signIn(t.client(), provider)).status).toBe(302);
    // The first browser's session is still open, and reads the new role.
    const me = await client.call('/api/v1/auth/me');
    expect(me.body.data).toMatchObject({ role: 'viewer', groups: ['elsewhere'] });
  });

  it('takes values of the roles claim as groups, and keeps group paths without their leading slash', async () => {
    person(provider, { groups: ['/plant/ops'], roles: ['ops-admins'] });
    const client = t.client();
    expect((await signIn(client, provider)).status).toBe(302);
    expect((await client.call('/api/v1/auth/me')).body.data).toMatchObject({
      role: 'admin',
      groups: ['ops-admins', 'plant/ops'],
    });
  });

  it('never takes over a local account with the same username (403, code 1001)', async () => {
    const local = await t.createUser({ role: 'admin' });
    person(provider, { preferred_username: local.username });
    const res = await signIn(t.client(), provider);
    expectRefused(res, 403, 1001);
    expect(res.body.error).toMatch(/already exists here/);
    expect(await lastFailure(t)).toMatchObject({ detail: { provider: 'oidc', reason: 'username_taken' } });
  });

  it('gives SSO users no local password, and refuses them once disabled', async () => {
    const account = person(provider);
    const client = t.client();
    expect((await signIn(client, provider)).status).toBe(302);
    const username = String(account.preferred_username).toLowerCase();
    for (const password of ['', 'anything-at-all-1', 'null']) {
      const res = await t
        .client()
        .call('/api/v1/auth/login', { json: { username, password: password || 'x' } });
      expect(res.status).toBe(401);
      expect(errorCode(res)).toBe(1000);
    }
    const user = await t.app.auth.users.findByUsername(username);
    await t.app.auth.users.update(user!.id, { disabled: true }, TEST_CONTEXT);
    provider.forgetBrowser();
    const res = await signIn(t.client(), provider);
    expectRefused(res, 403, 1001);
    expect(await lastFailure(t)).toMatchObject({ detail: { reason: 'disabled' } });
  });

  it('refuses a username claim that cannot be one (403, code 1001)', async () => {
    person(provider, { preferred_username: 'has spaces and <angle>' });
    const res = await signIn(t.client(), provider);
    expectRefused(res, 403, 1001);
    expect(res.body.error).toMatch(/SWITCHBOARD_SSO_USERNAME_CLAIM/);
  });

  describe('refuses a callback that does not finish this browser’s sign-in (401, code 1000, audited)', () => {
    it('without state, or with another state', async () => {
      for (const [value, label] of [
        [null, 'missing'],
        ['tampered-state-value-000000', 'tampered'],
      ] as const) {
        person(provider);
        const client = t.client();
        const { callbackPath } = await startAndAuthorize(client, provider);
        const res = await client.call(withCallbackParam(callbackPath, 'state', value));
        expectRefused(res);
        expect((await lastFailure(t))?.detail, label).toMatchObject({ provider: 'oidc', reason: 'state' });
      }
    });

    it('in a browser that did not start it (no cookie), or with a forged cookie', async () => {
      person(provider);
      const { callbackPath } = await startAndAuthorize(t.client(), provider);
      const elsewhere = await t.client().call(callbackPath);
      expectRefused(elsewhere);
      expect(elsewhere.body.error).toMatch(/no sign-in was started in this browser/);
      expect((await lastFailure(t))?.detail).toMatchObject({ reason: 'no_pending_login' });
      const forger = t.client();
      forger.setCookie(
        'sso_login',
        'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..AAAA.BBBB.CCCC',
        '/api/v1/auth/oidc/callback',
      );
      const forged = await forger.call(callbackPath);
      expectRefused(forged);
      expect((await lastFailure(t))?.detail).toMatchObject({ reason: 'pending_login_invalid' });
    });

    it('a second time (the state is spent), even with the cookie kept', async () => {
      person(provider);
      const client = t.client();
      const { callbackPath } = await startAndAuthorize(client, provider);
      const sealed = client.cookie('sso_login')!;
      expect((await client.call(callbackPath)).status).toBe(302);
      client.setCookie('sso_login', sealed, '/api/v1/auth/oidc/callback');
      const replay = await client.call(callbackPath);
      expectRefused(replay);
      expect((await lastFailure(t))?.detail).toMatchObject({ reason: 'state_reused' });
    });

    it('once only when two arrive at once', async () => {
      person(provider);
      const client = t.client();
      const { callbackPath } = await startAndAuthorize(client, provider);
      const sealed = client.cookie('sso_login')!;
      const twins = [t.client(), t.client()];
      for (const twin of twins) twin.setCookie('sso_login', sealed, '/api/v1/auth/oidc/callback');
      const answers = await Promise.all(twins.map((twin) => twin.call(callbackPath)));
      expect(answers.map((a) => a.status).sort()).toEqual([302, 401]);
    });

    it('with a code used already (the provider refuses it)', async () => {
      person(provider);
      const first = t.client();
      const { back } = await startAndAuthorize(first, provider);
      expect((await first.call(`${back.pathname}${back.search}`)).status).toBe(302);
      const second = t.client();
      const { back: next } = await startAndAuthorize(second, provider);
      const reused = withCallbackParam(
        `${next.pathname}${next.search}`,
        'code',
        back.searchParams.get('code'),
      );
      const res = await second.call(reused);
      expectRefused(res);
      expect((await lastFailure(t))?.detail).toMatchObject({ reason: 'code_rejected' });
    });

    it('whose id token answers another sign-in (nonce)', async () => {
      person(provider);
      const client = t.client();
      const start = await client.call(LOGIN);
      const url = new URL(String(start.headers.location));
      url.searchParams.set('nonce', 'a-nonce-this-sign-in-never-made-0000');
      const back = new URL(await provider.authorize(url.href));
      const res = await client.call(`${back.pathname}${back.search}`);
      expectRefused(res);
      expect((await lastFailure(t))?.detail).toMatchObject({ reason: 'nonce' });
    });

    it('that the provider refused (error=access_denied)', async () => {
      person(provider);
      const client = t.client();
      const { callbackPath } = await startAndAuthorize(client, provider);
      const state = new URL(callbackPath, PUBLIC_URL).searchParams.get('state')!;
      const res = await client.call(
        `/api/v1/auth/oidc/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(provider.issuer)}`,
      );
      expectRefused(res);
      expect((await lastFailure(t))?.detail).toMatchObject({ reason: 'provider_refused' });
    });

    it.each([
      ['forged (signed by another key under the provider’s key id)', 'forged'],
      ['expired', 'expired'],
      ['for another audience', 'audience'],
      ['from another issuer', 'issuer'],
    ])('whose id token is %s', async (_label, how) => {
      person(provider);
      const { privateKey: rogue } = await generateKeyPair('RS256');
      provider.tamperIdToken = async (claims, sign) => {
        const now = Math.floor(Date.now() / 1000);
        if (how === 'forged')
          return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'test-key-1' }).sign(rogue);
        if (how === 'expired') return sign({ ...claims, iat: now - 7200, exp: now - 3600 });
        if (how === 'audience') return sign({ ...claims, aud: 'someone-else' });
        return sign({ ...claims, iss: 'http://127.0.0.1:1/other' });
      };
      try {
        const client = t.client();
        const res = await signIn(client, provider);
        expectRefused(res);
        expect((await lastFailure(t))?.detail).toMatchObject({ provider: 'oidc', reason: 'id_token' });
      } finally {
        provider.tamperIdToken = undefined;
      }
    });
  });

  it('writes no code, state, token or cookie into the audit log or the logs', async () => {
    person(provider);
    const client = t.client();
    const { callbackPath } = await startAndAuthorize(client, provider);
    const sealed = client.cookie('sso_login')!;
    const params = new URL(callbackPath, PUBLIC_URL).searchParams;
    const res = await client.call(callbackPath);
    expect(res.status).toBe(302);
    const recorded = JSON.stringify(await t.app.audit.list({ limit: 200 })) + JSON.stringify(t.logs);
    for (const secret of [sealed, params.get('code')!, params.get('state')!, client.cookie('session')!]) {
      expect(recorded.includes(secret)).toBe(false);
    }
  });

  it('lists OIDC among the providers for the sign-in page', async () => {
    const res = await t.client().call('/api/v1/auth/providers');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      local: true,
      oidc: { display_name: 'Company SSO', login_url: '/api/v1/auth/oidc/login' },
      msal: null,
    });
  });

  it('points an OIDC session’s logout at the provider’s end-session endpoint; a password session’s not', async () => {
    person(provider);
    const client = t.client();
    expect((await signIn(client, provider)).status).toBe(302);
    const out = await client.call('/api/v1/auth/logout', { method: 'POST' });
    expect(out.status).toBe(204);
    const endSession = new URL(String(out.headers['end-session-url']));
    expect(endSession.origin).toBe(provider.issuer);
    expect(endSession.searchParams.get('client_id')).toBe(CLIENT.clientId);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${PUBLIC_URL}/`);
    expect((await client.call('/api/v1/auth/me')).status).toBe(401);
    const local = await t.createUser();
    const signedIn = await t.signIn(local);
    const plain = await signedIn.client.call('/api/v1/auth/logout', { method: 'POST' });
    expect(plain.status).toBe(204);
    expect(plain.headers['end-session-url']).toBeUndefined();
  });
});

describe('OIDC claim mapping settings', () => {
  let provider: TestProvider;
  beforeAll(async () => {
    provider = await TestProvider.start({ ...CLIENT, redirectUri: CALLBACK });
  });
  afterAll(() => provider.close());

  it('refuses users no pair maps when the default role is none (403, code 1001)', async () => {
    const t = await startTestApp({
      env: oidcEnv(provider, {
        SWITCHBOARD_SSO_ROLE_MAP: 'ops=editor',
        SWITCHBOARD_SSO_DEFAULT_ROLE: 'none',
      }),
    });
    try {
      person(provider, { groups: ['visitors'] });
      const res = await signIn(t.client(), provider);
      expectRefused(res, 403, 1001);
      expect(await lastFailure(t)).toMatchObject({ detail: { reason: 'no_role' } });
      person(provider, { groups: ['ops'] });
      expect((await signIn(t.client(), provider)).status).toBe(302);
    } finally {
      await t.close();
    }
  });

  it('admits only accounts an admin made for SSO when provisioning is off', async () => {
    const t = await startTestApp({
      env: oidcEnv(provider, { SWITCHBOARD_SSO_PROVISION: 'false', SWITCHBOARD_SSO_USERNAME_CLAIM: 'email' }),
    });
    try {
      person(provider, { email: 'nobody@example.com' });
      const res = await signIn(t.client(), provider);
      expectRefused(res, 403, 1001);
      expect(await lastFailure(t)).toMatchObject({ detail: { reason: 'not_provisioned' } });
      const admin = await t.createUser({ role: 'admin' });
      const { client } = await t.signIn(admin);
      const made = await client.call('/api/v1/users', {
        json: { username: 'carol@example.com', auth_source: 'oidc', role: 'editor' },
      });
      expect(made.status).toBe(201);
      person(provider, { email: 'Carol@example.com' });
      const carol = t.client();
      expect((await signIn(carol, provider)).status).toBe(302);
      expect((await carol.call('/api/v1/auth/me')).body.data).toMatchObject({
        username: 'carol@example.com',
        auth_method: 'oidc',
      });
      // Another person at the provider with the same email later: not the account of the first.
      person(provider, { email: 'carol@example.com' });
      expectRefused(await signIn(t.client(), provider), 403, 1001);
    } finally {
      await t.close();
    }
  });
});

describe('OIDC sign-in that takes too long', () => {
  it('refuses a callback more than 10 minutes after the start (401, code 1000)', async () => {
    const provider = await TestProvider.start({ ...CLIENT, redirectUri: CALLBACK });
    const clock = testClock();
    const t = await startTestApp({ env: oidcEnv(provider), now: () => clock.now });
    try {
      person(provider);
      const client = t.client();
      const { callbackPath } = await startAndAuthorize(client, provider);
      clock.advance(10 * 60_000 + 1000);
      const res = await client.call(callbackPath);
      expectRefused(res);
      expect(res.body.error).toMatch(/longer than 10 minutes/);
      expect(await lastFailure(t)).toMatchObject({ detail: { reason: 'pending_login_expired' } });
    } finally {
      await t.close();
      await provider.close();
    }
  });
});

describe('OIDC sign-out after the access token expired', () => {
  it('still points the browser at the provider’s end-session endpoint', async () => {
    const provider = await TestProvider.start({
      ...CLIENT,
      redirectUri: CALLBACK,
      postLogoutRedirectUri: `${PUBLIC_URL}/`,
    });
    const clock = testClock();
    const t = await startTestApp({
      env: oidcEnv(provider, { SWITCHBOARD_OIDC_END_SESSION: 'true' }),
      now: () => clock.now,
    });
    try {
      person(provider);
      const client = t.client();
      expect((await signIn(client, provider)).status).toBe(302);
      clock.advance(16 * 60_000);
      expect((await client.call('/api/v1/auth/me')).status).toBe(401);
      const out = await client.call('/api/v1/auth/logout', { method: 'POST' });
      expect(out.status).toBe(204);
      expect(new URL(String(out.headers['end-session-url'])).origin).toBe(provider.issuer);
    } finally {
      await t.close();
      await provider.close();
    }
  });
});

describe('OIDC across two instances', () => {
  it('finishes on instance B a sign-in started on instance A', async () => {
    const provider = await TestProvider.start({ ...CLIENT, redirectUri: CALLBACK });
    const a = await startTestApp({ env: oidcEnv(provider) });
    const b = await startTestApp({ env: oidcEnv(provider), shareDatabaseWith: a });
    try {
      person(provider, { preferred_username: 'roaming' });
      const onA = a.client();
      const { callbackPath } = await startAndAuthorize(onA, provider);
      const onB = b.client();
      onB.setCookie('sso_login', onA.cookie('sso_login')!, '/api/v1/auth/oidc/callback');
      const done = await onB.call(callbackPath);
      expect(done.status).toBe(302);
      expect((await onB.call('/api/v1/auth/me')).body.data).toMatchObject({
        username: 'roaming',
        auth_method: 'oidc',
      });
      // And A will not finish it a second time.
      expectRefused(await onA.call(callbackPath));
    } finally {
      await b.close();
      await a.close();
      await provider.close();
    }
  });
});

describe('OIDC when the provider cannot be reached, or is not configured', () => {
  it('answers 502 code 7000 when discovery fails, and audits it', async () => {
    const t = await startTestApp({ env: oidcEnv({ issuer: 'http://127.0.0.1:9' }) });
    try {
      const res = await t.client().call(LOGIN);
      expect(res.status).toBe(502);
      expect(errorCode(res)).toBe(7000);
      expect(await lastFailure(t)).toMatchObject({
        detail: { provider: 'oidc', reason: 'provider_unreachable' },
      });
    } finally {
      await t.close();
    }
  });

  it('answers 502 code 7000 when the token endpoint is gone at the callback', async () => {
    const provider = await TestProvider.start({ ...CLIENT, redirectUri: CALLBACK });
    const t = await startTestApp({ env: oidcEnv(provider) });
    try {
      person(provider);
      const client = t.client();
      const { callbackPath } = await startAndAuthorize(client, provider);
      await provider.close();
      const res = await client.call(callbackPath);
      expect(res.status).toBe(502);
      expect(errorCode(res)).toBe(7000);
      expect(res.setCookies.has('session')).toBe(false);
    } finally {
      await t.close();
    }
  });

  it('answers 404 on its routes when OIDC is off, and lists no OIDC provider', async () => {
    const t = await startTestApp();
    try {
      for (const path of [LOGIN, '/api/v1/auth/oidc/callback?code=x&state=y']) {
        const res = await t.client().call(path);
        expect(res.status).toBe(404);
        expect(errorCode(res)).toBe(3000);
      }
      expect((await t.client().call('/api/v1/auth/providers')).body.data).toEqual({
        local: true,
        oidc: null,
        msal: null,
      });
    } finally {
      await t.close();
    }
  });
});
