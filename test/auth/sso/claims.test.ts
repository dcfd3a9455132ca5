import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { identityFrom, MAX_SSO_GROUPS } from '../../../src/auth/sso/claims.js';
import { SsoRefusal } from '../../../src/auth/sso/failures.js';
import { safeReturnTo } from '../../../src/auth/sso/sign-in.js';

const MAPPING = {
  username: 'preferred_username',
  groups: 'groups',
  roleMap: [
    { group: 'ops-admins', role: 'admin' as const },
    { group: 'ops', role: 'editor' as const },
  ],
  defaultRole: 'viewer' as const,
  provision: true,
};
const BASE = { iss: 'https://id.example.com', sub: 'abc', preferred_username: 'Alice@Example.com' };

function refusal(run: () => unknown): SsoRefusal {
  try {
    run();
  } catch (error) {
    if (error instanceof SsoRefusal) return error;
    throw error;
  }
  throw new Error('not refused');
}

describe('SSO claim mapping', () => {
  it('takes the username lower-cased, the highest mapped role, groups and roles as groups', () => {
    const identity = identityFrom(
      'oidc',
      { ...BASE, groups: ['ops', 'x'], roles: ['ops-admins'], name: ' Alice ' },
      MAPPING,
    );
    expect(identity).toEqual({
      provider: 'oidc',
      issuer: 'https://id.example.com',
      subject: 'abc',
      username: 'alice@example.com',
      fullName: 'Alice',
      groups: ['ops', 'ops-admins', 'x'],
      role: 'admin',
      groupsDropped: 0,
    });
  });

  it('gives the default role when nothing maps, and refuses with none', () => {
    expect(identityFrom('msal', { ...BASE, groups: 'x' }, MAPPING).role).toBe('viewer');
    expect(refusal(() => identityFrom('msal', BASE, { ...MAPPING, defaultRole: 'none' })).reason).toBe(
      'no_role',
    );
  });

  it('drops group values Switchboard cannot hold and counts them', () => {
    const identity = identityFrom(
      'oidc',
      { ...BASE, groups: ['/plant/ops', 'has <angle>', 'x'.repeat(65), 7, 'ok'] },
      MAPPING,
    );
    expect(identity.groups).toEqual(['ok', 'plant/ops']);
    expect(identity.groupsDropped).toBe(2);
  });

  it.each([
    [{ ...BASE, sub: undefined }, 'no_subject'],
    [{ ...BASE, iss: 42 }, 'no_subject'],
    [{ ...BASE, sub: 'x'.repeat(256) }, 'no_subject'],
    [{ ...BASE, preferred_username: undefined }, 'no_username'],
    [{ ...BASE, preferred_username: 'two words' }, 'no_username'],
    [{ ...BASE, preferred_username: 'x'.repeat(65) }, 'no_username'],
    [{ ...BASE, groups: Array.from({ length: MAX_SSO_GROUPS + 1 }, (_, i) => `g${i}`) }, 'too_many_groups'],
  ])('refuses %o (%s) with 403 code 1001', (claims, reason) => {
    const refused = refusal(() => identityFrom('oidc', claims as Record<string, unknown>, MAPPING));
    expect(refused.reason).toBe(reason);
    expect(refused.status).toBe(403);
    expect(refused.code).toBe(1001);
  });

  it('never throws anything but a refusal, whatever the claims (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.jsonValue(),
        fc.jsonValue(),
        (extra, groups, roles) => {
          try {
            const identity = identityFrom('oidc', { ...extra, ...BASE, groups, roles }, MAPPING);
            expect(['viewer', 'editor', 'admin']).toContain(identity.role);
            expect(identity.groups.length).toBeLessThanOrEqual(MAX_SSO_GROUPS);
          } catch (error) {
            expect(error).toBeInstanceOf(SsoRefusal);
          }
        },
      ),
    );
  });
});

describe('the path a sign-in returns to', () => {
  const PUBLIC = 'https://ops.example.com';

  it('keeps paths on this origin and turns everything else into /', () => {
    expect(safeReturnTo('/dash/1?x=2#y', PUBLIC)).toBe('/dash/1?x=2#y');
    for (const given of [
      undefined,
      '',
      'dash',
      '//evil.example',
      '/\\evil.example',
      'https://evil.example/',
      '/\nx',
      '/a\u0000b',
      `/${'a'.repeat(2048)}`,
    ]) {
      expect(safeReturnTo(given, PUBLIC)).toBe('/');
    }
  });

  it('is always a path of this origin (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.webUrl(),
          fc.string().map((s) => `/${s}`),
          fc.string().map((s) => `//${s}`),
        ),
        (given) => {
          const back = safeReturnTo(given, PUBLIC);
          expect(back.startsWith('/')).toBe(true);
          expect(back.startsWith('//')).toBe(false);
          expect(new URL(back, PUBLIC).origin).toBe(PUBLIC);
        },
      ),
    );
  });
});
