import { readFileSync } from 'node:fs';
import { parseSecureUrl } from '../../platform/secure-url.js';
import {
  boolean,
  commaList,
  defineSection,
  type SectionSettings,
  SettingsError,
  text,
} from '../../platform/settings-spec.js';
import { isRole, type Role } from '../roles.js';

/**
 * An issuer exactly as given (providers compare it character for character, a trailing slash included),
 * when it is an `https` URL (or `http` on a loopback address) without query or fragment.
 */
export function parseIssuer(value: string): string | undefined {
  return parseSecureUrl(value) === undefined ? undefined : value.trim();
}

const PROVIDER_URL = 'an https:// URL (http:// only on a loopback address), without query or fragment';
/** Entra ID tenant ids are GUIDs. */
const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CLAIM_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,99}$/;

/** `group=role` pairs; the group may hold any character but `,` and `=`. */
function parseRoleMap(value: string): { group: string; role: Role }[] | undefined {
  const pairs: { group: string; role: Role }[] = [];
  for (const pair of value.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const group = pair.slice(0, eq).trim();
    const role = pair.slice(eq + 1).trim();
    if (eq <= 0 || group === '' || !isRole(role)) return undefined;
    pairs.push({ group, role });
  }
  return pairs;
}

/** Single sign-on: an OpenID Connect provider, Microsoft Entra ID (MSAL) id tokens, and how claims map. */
export const ssoSettings = defineSection(
  {
    oidcIssuer: {
      env: 'SWITCHBOARD_OIDC_ISSUER',
      file: 'oidc_issuer',
      accepts: PROVIDER_URL,
      parse: parseIssuer,
      doc: 'OpenID Connect provider, exactly as it names itself (a trailing slash included), discovered at `<issuer>/.well-known/openid-configuration`. Unset: OIDC sign-in is off and its routes answer 404.',
    },
    oidcClientId: {
      env: 'SWITCHBOARD_OIDC_CLIENT_ID',
      file: 'oidc_client_id',
      ...text('the client id registered at the provider'),
      doc: 'Client id registered at the OIDC provider (needed with `SWITCHBOARD_OIDC_ISSUER`).',
    },
    oidcClientSecret: {
      env: 'SWITCHBOARD_OIDC_CLIENT_SECRET',
      file: 'oidc_client_secret',
      ...text('the client secret'),
      doc: 'Client secret (confidential client). Unset, with no secret file: a public client, PKCE only.',
      secret: true,
    },
    oidcClientSecretFile: {
      env: 'SWITCHBOARD_OIDC_CLIENT_SECRET_FILE',
      file: 'oidc_client_secret_file',
      ...text('a file path'),
      doc: 'File holding the client secret, in place of `SWITCHBOARD_OIDC_CLIENT_SECRET`.',
    },
    oidcScopes: {
      env: 'SWITCHBOARD_OIDC_SCOPES',
      file: 'oidc_scopes',
      default: 'openid profile email',
      accepts: 'scopes separated by spaces, openid among them',
      parse: (value: string) => {
        const scopes = value.trim().split(/\s+/);
        return scopes.includes('openid') && scopes.every((s) => /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s))
          ? scopes.join(' ')
          : undefined;
      },
      doc: 'Scopes asked for at sign-in. Add the one your provider needs for a groups claim, if any.',
    },
    oidcDisplayName: {
      env: 'SWITCHBOARD_OIDC_DISPLAY_NAME',
      file: 'oidc_display_name',
      accepts: 'a name of 1 to 64 characters',
      parse: (value: string) =>
        value.trim().length >= 1 && value.trim().length <= 64 ? value.trim() : undefined,
      doc: "What a sign-in page calls the OIDC button (`GET /auth/providers`). Unset: the issuer's host name.",
    },
    oidcEndSession: {
      env: 'SWITCHBOARD_OIDC_END_SESSION',
      file: 'oidc_end_session',
      default: 'false',
      ...boolean,
      doc: "Whether signing out of an OIDC session also points the browser to the provider's `end_session_endpoint` (header `End-Session-Url` on the logout's 204).",
    },
    msalClientId: {
      env: 'SWITCHBOARD_MSAL_CLIENT_ID',
      file: 'msal_client_id',
      ...text('the application (client) id'),
      doc: 'Application (client) id of the Entra ID app registration: the audience of the id tokens. Unset: `POST /auth/msal` answers 404.',
    },
    msalTenants: {
      env: 'SWITCHBOARD_MSAL_TENANTS',
      file: 'msal_tenants',
      accepts: 'tenant ids (GUIDs), comma-separated',
      parse: (value: string) => {
        const tenants = commaList((entry) => TENANT_ID.test(entry.toLowerCase()))(value);
        return tenants && tenants.length > 0 ? tenants.map((t) => t.toLowerCase()) : undefined;
      },
      doc: 'Entra ID tenants whose users may sign in (needed with `SWITCHBOARD_MSAL_CLIENT_ID`).',
    },
    msalAuthority: {
      env: 'SWITCHBOARD_MSAL_AUTHORITY',
      file: 'msal_authority',
      default: 'https://login.microsoftonline.com',
      accepts: PROVIDER_URL,
      parse: parseSecureUrl,
      doc: "Where tenants' metadata is read: `<authority>/<tenant id>/v2.0/.well-known/openid-configuration`.",
    },
    usernameClaim: {
      env: 'SWITCHBOARD_SSO_USERNAME_CLAIM',
      file: 'sso_username_claim',
      default: 'preferred_username',
      accepts: 'a claim name',
      parse: (value: string) => (CLAIM_NAME.test(value.trim()) ? value.trim() : undefined),
      doc: 'The id token claim that gives the Switchboard username (lower-cased; letters, digits, `. _ @ -`, at most 64).',
    },
    groupsClaim: {
      env: 'SWITCHBOARD_SSO_GROUPS_CLAIM',
      file: 'sso_groups_claim',
      default: 'groups',
      accepts: 'a claim name',
      parse: (value: string) => (CLAIM_NAME.test(value.trim()) ? value.trim() : undefined),
      doc: "The claim listing the user's groups; the values of the `roles` claim count as groups too.",
    },
    roleMap: {
      env: 'SWITCHBOARD_SSO_ROLE_MAP',
      file: 'sso_role_map',
      default: '',
      accepts: 'group=role pairs, comma-separated (roles: viewer, editor, admin)',
      parse: parseRoleMap,
      doc: 'Which groups give which role, e.g. `ops-admins=admin,ops=editor`; several matches give the highest.',
    },
    defaultRole: {
      env: 'SWITCHBOARD_SSO_DEFAULT_ROLE',
      file: 'sso_default_role',
      default: 'viewer',
      accepts: 'viewer, editor, admin or none',
      parse: (value: string) => {
        const v = value.trim();
        return v === 'none' || isRole(v) ? (v as Role | 'none') : undefined;
      },
      doc: 'The role of a user no pair of the role map matches; `none` refuses them (403, code 1001).',
    },
    provision: {
      env: 'SWITCHBOARD_SSO_PROVISION',
      file: 'sso_provision',
      default: 'true',
      ...boolean,
      doc: 'Whether a first SSO sign-in creates the account; `false` admits only accounts an admin created for SSO.',
    },
  },
  (values) => {
    if (values.oidcIssuer === undefined) {
      for (const [name, given] of [
        ['SWITCHBOARD_OIDC_CLIENT_ID', values.oidcClientId],
        ['SWITCHBOARD_OIDC_CLIENT_SECRET', values.oidcClientSecret],
        ['SWITCHBOARD_OIDC_CLIENT_SECRET_FILE', values.oidcClientSecretFile],
      ] as const) {
        if (given !== undefined) {
          throw new SettingsError(
            `${name} is set but SWITCHBOARD_OIDC_ISSUER is not: set the issuer, or unset ${name}`,
          );
        }
      }
    }
    if (values.oidcIssuer !== undefined && values.oidcClientId === undefined) {
      throw new SettingsError('SWITCHBOARD_OIDC_ISSUER is set: set SWITCHBOARD_OIDC_CLIENT_ID too');
    }
    if (values.oidcClientSecret !== undefined && values.oidcClientSecretFile !== undefined) {
      throw new SettingsError(
        'Both SWITCHBOARD_OIDC_CLIENT_SECRET and SWITCHBOARD_OIDC_CLIENT_SECRET_FILE are set: keep one',
      );
    }
    if (values.msalClientId !== undefined && values.msalTenants === undefined) {
      throw new SettingsError(
        'SWITCHBOARD_MSAL_CLIENT_ID is set: set SWITCHBOARD_MSAL_TENANTS to the tenant ids whose users may sign in',
      );
    }
    if (values.msalClientId === undefined && values.msalTenants !== undefined) {
      throw new SettingsError(
        'SWITCHBOARD_MSAL_TENANTS is set but SWITCHBOARD_MSAL_CLIENT_ID is not: set both or neither',
      );
    }
    const oidc =
      values.oidcIssuer === undefined || values.oidcClientId === undefined
        ? null
        : {
            issuer: values.oidcIssuer,
            clientId: values.oidcClientId,
            clientSecret: values.oidcClientSecret ?? readSecretFile(values.oidcClientSecretFile),
            scopes: values.oidcScopes,
            displayName: values.oidcDisplayName ?? new URL(values.oidcIssuer).hostname,
            endSession: values.oidcEndSession,
          };
    const msal =
      values.msalClientId === undefined || values.msalTenants === undefined
        ? null
        : { clientId: values.msalClientId, tenants: values.msalTenants, authority: values.msalAuthority };
    return {
      oidc,
      msal,
      claims: {
        username: values.usernameClaim,
        groups: values.groupsClaim,
        roleMap: values.roleMap,
        defaultRole: values.defaultRole,
        provision: values.provision,
      },
    };
  },
);

function readSecretFile(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SettingsError(
      `SWITCHBOARD_OIDC_CLIENT_SECRET_FILE=${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const secret = content.replace(/\r?\n$/, '');
  if (secret === '')
    throw new SettingsError(`SWITCHBOARD_OIDC_CLIENT_SECRET_FILE=${path}: the file is empty`);
  return secret;
}

export type SsoSettings = SectionSettings<typeof ssoSettings>;
