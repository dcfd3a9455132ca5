import { type Static, Type } from '@sinclair/typebox';
import { STREAM_NAME } from '../live/channel-kinds.js';
import { PASSWORD_MAX_LENGTH } from './password-policy.js';
import { ROLES } from './roles.js';
import { USERNAME } from './username.js';

const RoleName = Type.Union(
  ROLES.map((r) => Type.Literal(r)),
  { description: 'viewer (1) < editor (2) < admin (3)' },
);
const Username = Type.String({
  // The pattern's own bound, said where a reader (and the API linter) looks for it.
  maxLength: 64,
  pattern: USERNAME.source,
  description: 'Letters, digits, . _ @ -; stored lower-case.',
});
/** Checked against the policy (length, common passwords) by the service, which says what is wrong. */
const NewPassword = Type.String({
  maxLength: 4 * PASSWORD_MAX_LENGTH,
  description: '12 to 128 characters, not a common password.',
});
export const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,63}$/;
export const FULL_NAME_MAX_LENGTH = 200;
const GroupName = Type.String({ maxLength: 64, pattern: GROUP_NAME.source });
const Groups = Type.Array(GroupName, { maxItems: 50, uniqueItems: true });
// Null first: with type coercion on, a string branch tried first would turn null into "".
const FullName = Type.Union([Type.Null(), Type.String({ maxLength: FULL_NAME_MAX_LENGTH })]);
// RFC 3339 with milliseconds is 24 characters and an offset adds 5: 64 leaves room without allowing a page of digits.
const Timestamp = Type.String({ format: 'date-time', maxLength: 64 });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

export const SetupBody = Type.Object(
  {
    username: Username,
    password: NewPassword,
    full_name: Type.Optional(FullName),
    setup_token: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type SetupBody = Static<typeof SetupBody>;

export const LoginBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
});
export type LoginBody = Static<typeof LoginBody>;

export const RefreshBody = Type.Union([
  Type.Object({ refresh_token: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) }),
  Type.Null(),
]);
export type RefreshBody = Static<typeof RefreshBody>;

export const PasswordChangeBody = Type.Object(
  { current_password: Type.String({ minLength: 1, maxLength: 1024 }), new_password: NewPassword },
  { additionalProperties: false },
);
export type PasswordChangeBody = Static<typeof PasswordChangeBody>;

/** Who someone is, as both /auth/me and /users show it. */
const Identity = {
  id: Type.String(),
  username: Type.String(),
  full_name: Type.Union([Type.String(), Type.Null()]),
  role: RoleName,
  role_level: Type.Integer(),
  groups: Type.Array(Type.String()),
  must_change_password: Type.Boolean(),
};

export const Me = Type.Object({
  ...Identity,
  auth_method: Type.String({ description: 'password, api_key, oidc or msal' }),
});

export const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds the access token stays valid.' }),
  refresh_token: Type.String(),
  refresh_expires_in: Type.Integer(),
  user: Me,
});

export const Validation = Type.Object({
  valid: Type.Literal(true),
  user: Me,
  expires_at: NullableTimestamp,
});

export const SessionItem = Type.Object({
  id: Type.String(),
  user_id: Type.String(),
  auth_method: Type.String(),
  created_at: Timestamp,
  last_seen_at: Timestamp,
  expires_at: Timestamp,
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  is_current: Type.Boolean(),
});

export const ScopeQuery = Type.Object({
  scope: Type.Optional(
    Type.Union([Type.Literal('own'), Type.Literal('all')], { description: 'all: every user (admins)' }),
  ),
});

/** `publish:*`, or `publish:` and a name a stream may be declared under. */
export const PublishScope = Type.String({
  maxLength: 72,
  pattern: `^publish:(\\*|${STREAM_NAME.source.slice(1, -1)})$`,
});

export const ApiKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    role: RoleName,
    expires_at: Type.Optional(NullableTimestamp),
    scopes: Type.Optional(Type.Array(PublishScope, { maxItems: 50, uniqueItems: true })),
  },
  { additionalProperties: false },
);
export type ApiKeyBody = Static<typeof ApiKeyBody>;

export const ApiKeyItem = Type.Object({
  id: Type.String(),
  user_id: Type.String(),
  name: Type.String(),
  role: RoleName,
  scopes: Type.Array(Type.String()),
  prefix: Type.String({ description: 'The first characters of the key, to recognise it.' }),
  created_at: Timestamp,
  expires_at: NullableTimestamp,
  last_used_at: NullableTimestamp,
});

export const CreatedApiKey = Type.Intersect([
  ApiKeyItem,
  Type.Object({ key: Type.String({ description: 'Shown once: store it now.' }) }),
]);

export const Ticket = Type.Object({ ticket: Type.String(), expires_in: Type.Integer() });

export const RolesList = Type.Object({
  roles: Type.Array(Type.Object({ name: RoleName, level: Type.Integer() })),
  groups: Type.Array(Type.String()),
});

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export type IdParams = Static<typeof IdParams>;

export const UserItem = Type.Object({
  ...Identity,
  disabled: Type.Boolean(),
  auth_source: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
  last_login_at: NullableTimestamp,
});

export const NewUserBody = Type.Object(
  {
    username: Username,
    password: Type.Optional(NewPassword),
    auth_source: Type.Optional(
      Type.Union([Type.Literal('local'), Type.Literal('oidc'), Type.Literal('msal')], {
        description:
          'Default local (needs a password). oidc or msal: an account for single sign-on, without a password, that the first sign-in of that username links to its identity.',
      }),
    ),
    full_name: Type.Optional(FullName),
    role: RoleName,
    groups: Type.Optional(Groups),
    must_change_password: Type.Optional(
      Type.Boolean({ description: 'Default true: the user picks their own.' }),
    ),
  },
  { additionalProperties: false },
);
export type NewUserBody = Static<typeof NewUserBody>;

export const UserPatchBody = Type.Object(
  {
    full_name: Type.Optional(FullName),
    role: Type.Optional(RoleName),
    groups: Type.Optional(Groups),
    disabled: Type.Optional(Type.Boolean()),
    password: Type.Optional(NewPassword),
    must_change_password: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UserPatchBody = Static<typeof UserPatchBody>;

export const UserListQuery = Type.Object({
  role: Type.Optional(RoleName),
  group: Type.Optional(GroupName),
  disabled: Type.Optional(Type.Boolean()),
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Part of the username.' })),
});
