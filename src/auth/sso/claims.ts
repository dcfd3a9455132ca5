import { type Role, roleLevel } from '../roles.js';
import { GROUP_NAME } from '../schemas.js';
import { USERNAME } from '../username.js';
import { SsoRefusal } from './failures.js';
import type { SsoSettings } from './settings.js';

export type SsoProvider = 'oidc' | 'msal';

/** A person as a verified id token describes them, mapped to what Switchboard keeps. */
export interface SsoIdentity {
  readonly provider: SsoProvider;
  /** The token's `iss`: with `subject`, who this is for good (a username may be reassigned). */
  readonly issuer: string;
  readonly subject: string;
  readonly username: string;
  readonly fullName: string | null;
  readonly groups: readonly string[];
  readonly role: Role;
  /** Group values left out because Switchboard cannot hold them as groups (too long, odd characters). */
  readonly groupsDropped: number;
}

/** Groups a token may bring; more is refused rather than kept in part. */
export const MAX_SSO_GROUPS = 200;

function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * The identity the verified `claims` describe, under the claim mapping of the settings: the username
 * claim (lower-cased), the groups claim and the `roles` claim as groups, the highest role the role map
 * gives those groups, else the default role. Throws an SsoRefusal when the claims cannot make an account.
 */
export function identityFrom(
  provider: SsoProvider,
  claims: Readonly<Record<string, unknown>>,
  mapping: SsoSettings['claims'],
): SsoIdentity {
  const issuer = claims.iss;
  const subject = claims.sub;
  if (typeof issuer !== 'string' || typeof subject !== 'string' || subject === '' || subject.length > 255) {
    throw new SsoRefusal('no_subject', 'the id token has no usable "iss" and "sub" claims');
  }
  const given = claims[mapping.username];
  const username = typeof given === 'string' ? given.trim().toLowerCase() : '';
  if (!USERNAME.test(username)) {
    throw new SsoRefusal(
      'no_username',
      typeof given === 'string'
        ? `the id token's "${mapping.username}" claim is not a usable username (letters, digits, . _ @ -, at most 64 characters); set SWITCHBOARD_SSO_USERNAME_CLAIM to another claim`
        : `the id token has no "${mapping.username}" claim to take the username from; set SWITCHBOARD_SSO_USERNAME_CLAIM to a claim your provider sends`,
    );
  }
  const who = { username, issuer };
  const values = [...stringsOf(claims[mapping.groups]), ...stringsOf(claims.roles)];
  if (values.length > MAX_SSO_GROUPS) {
    throw new SsoRefusal(
      'too_many_groups',
      `the id token lists more than ${MAX_SSO_GROUPS} groups and roles`,
      who,
    );
  }
  // Keycloak writes group paths ("/ops/admins"); the leading slash is dropped, the rest kept.
  const candidates = values.map((value) => value.trim().replace(/^\//, ''));
  const groups = [...new Set(candidates.filter((group) => GROUP_NAME.test(group)))].sort();
  let role: Role | undefined;
  for (const { group, role: mapped } of mapping.roleMap) {
    if (values.includes(group) || groups.includes(group)) {
      if (role === undefined || roleLevel(mapped) > roleLevel(role)) role = mapped;
    }
  }
  if (role === undefined) {
    if (mapping.defaultRole === 'none') {
      throw new SsoRefusal(
        'no_role',
        'none of your groups gives a role here (SWITCHBOARD_SSO_ROLE_MAP) and users without one are refused; ask an admin',
        who,
      );
    }
    role = mapping.defaultRole;
  }
  const name = claims.name;
  return {
    provider,
    issuer,
    subject,
    username,
    fullName: typeof name === 'string' && name.trim() !== '' ? name.trim().slice(0, 200) : null,
    groups,
    role,
    groupsDropped: new Set(candidates).size - groups.length,
  };
}
