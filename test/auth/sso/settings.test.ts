import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/settings.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OIDC = {
  SWITCHBOARD_OIDC_ISSUER: 'https://id.example.com/realms/ops',
  SWITCHBOARD_OIDC_CLIENT_ID: 'switchboard',
};

describe('single sign-on settings', () => {
  it('leave both providers off by default, with the documented claim mapping', () => {
    const { sso } = loadSettings({});
    expect(sso).toEqual({
      oidc: null,
      msal: null,
      claims: {
        username: 'preferred_username',
        groups: 'groups',
        roleMap: [],
        defaultRole: 'viewer',
        provision: true,
      },
    });
  });

  it('read an OIDC provider, its secret from a file, and a role map', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sso-settings-'));
    const file = join(dir, 'secret');
    writeFileSync(file, 'from-the-file-0123\n');
    const { sso } = loadSettings({
      ...OIDC,
      SWITCHBOARD_OIDC_CLIENT_SECRET_FILE: file,
      SWITCHBOARD_SSO_ROLE_MAP: 'ops-admins=admin, ops=editor,,',
      SWITCHBOARD_SSO_DEFAULT_ROLE: 'none',
    });
    expect(sso.oidc).toEqual({
      issuer: 'https://id.example.com/realms/ops',
      clientId: 'switchboard',
      clientSecret: 'from-the-file-0123',
      scopes: 'openid profile email',
      displayName: 'id.example.com',
      endSession: false,
    });
    expect(sso.claims.roleMap).toEqual([
      { group: 'ops-admins', role: 'admin' },
      { group: 'ops', role: 'editor' },
    ]);
    expect(sso.claims.defaultRole).toBe('none');
  });

  it('keep the issuer exactly as given, a trailing slash included (providers compare it as text)', () => {
    const withSlash = loadSettings({
      ...OIDC,
      SWITCHBOARD_OIDC_ISSUER: ' https://tenant.auth.example.com/ ',
    });
    expect(withSlash.sso.oidc?.issuer).toBe('https://tenant.auth.example.com/');
    expect(loadSettings(OIDC).sso.oidc?.issuer).toBe('https://id.example.com/realms/ops');
  });

  it('read MSAL tenants lower-cased, with the default authority', () => {
    const { sso } = loadSettings({
      SWITCHBOARD_MSAL_CLIENT_ID: 'app-id',
      SWITCHBOARD_MSAL_TENANTS: `${TENANT.toUpperCase()}, 00000000-0000-0000-0000-000000000001`,
    });
    expect(sso.msal).toEqual({
      clientId: 'app-id',
      tenants: [TENANT, '00000000-0000-0000-0000-000000000001'],
      authority: 'https://login.microsoftonline.com',
    });
  });

  it.each([
    [
      { SWITCHBOARD_OIDC_ISSUER: 'http://id.example.com' },
      /SWITCHBOARD_OIDC_ISSUER="http:\/\/id.example.com": expected an https:\/\//,
    ],
    [{ SWITCHBOARD_OIDC_ISSUER: 'https://id.example.com/?x=1' }, /SWITCHBOARD_OIDC_ISSUER=.*without query/],
    [{ SWITCHBOARD_OIDC_ISSUER: 'https://id.example.com' }, /set SWITCHBOARD_OIDC_CLIENT_ID too/],
    [
      { SWITCHBOARD_OIDC_CLIENT_ID: 'x' },
      /SWITCHBOARD_OIDC_CLIENT_ID is set but SWITCHBOARD_OIDC_ISSUER is not/,
    ],
    [{ ...OIDC, SWITCHBOARD_OIDC_CLIENT_SECRET: 'a', SWITCHBOARD_OIDC_CLIENT_SECRET_FILE: '/x' }, /keep one/],
    [{ ...OIDC, SWITCHBOARD_OIDC_CLIENT_SECRET_FILE: '/nonexistent/secret' }, /cannot read it \(ENOENT\)/],
    [
      { ...OIDC, SWITCHBOARD_OIDC_SCOPES: 'profile email' },
      /SWITCHBOARD_OIDC_SCOPES="profile email": expected .*openid/,
    ],
    [{ SWITCHBOARD_MSAL_CLIENT_ID: 'x' }, /set SWITCHBOARD_MSAL_TENANTS/],
    [
      { SWITCHBOARD_MSAL_TENANTS: TENANT },
      /SWITCHBOARD_MSAL_TENANTS is set but SWITCHBOARD_MSAL_CLIENT_ID is not/,
    ],
    [
      { SWITCHBOARD_MSAL_CLIENT_ID: 'x', SWITCHBOARD_MSAL_TENANTS: 'contoso.onmicrosoft.com' },
      /expected tenant ids \(GUIDs\)/,
    ],
    [{ SWITCHBOARD_MSAL_AUTHORITY: 'http://login.example.com' }, /SWITCHBOARD_MSAL_AUTHORITY=/],
    [
      { SWITCHBOARD_SSO_ROLE_MAP: 'ops=root' },
      /SWITCHBOARD_SSO_ROLE_MAP="ops=root": expected group=role pairs/,
    ],
    [{ SWITCHBOARD_SSO_ROLE_MAP: '=admin' }, /SWITCHBOARD_SSO_ROLE_MAP/],
    [{ SWITCHBOARD_SSO_ROLE_MAP: 'cn=ops,ou=x=admin' }, /SWITCHBOARD_SSO_ROLE_MAP/],
    [
      { SWITCHBOARD_SSO_DEFAULT_ROLE: 'guest' },
      /SWITCHBOARD_SSO_DEFAULT_ROLE="guest": expected viewer, editor, admin or none/,
    ],
    [{ SWITCHBOARD_SSO_USERNAME_CLAIM: 'a b' }, /SWITCHBOARD_SSO_USERNAME_CLAIM/],
    [{ SWITCHBOARD_SSO_PROVISION: 'maybe' }, /SWITCHBOARD_SSO_PROVISION="maybe": expected true or false/],
  ])('refuse %o naming what to change', (env, message) => {
    expect(() => loadSettings(env)).toThrow(message);
  });

  it('never show the client secret in a refusal', () => {
    const secret = 'the-secret-value-9876';
    let message = '';
    try {
      loadSettings({ SWITCHBOARD_OIDC_CLIENT_SECRET: secret });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/SWITCHBOARD_OIDC_CLIENT_SECRET is set but SWITCHBOARD_OIDC_ISSUER is not/);
    expect(message.includes(secret)).toBe(false);
  });
});
