import type { ApiKeyRecord } from './api-keys-store.js';
import type { Principal } from './principal.js';
import { roleLevel } from './roles.js';
import type { IssuedSession } from './sessions-service.js';
import type { SessionRecord } from './sessions-store.js';
import type { UserRecord } from './users-store.js';

type Identified = Pick<UserRecord, 'username' | 'fullName' | 'role' | 'mustChangePassword'> & {
  groups: readonly string[];
};

/**
 * The fields /auth/me and /users share. Callers add theirs with Object.assign, not as
 * `{ ...identity(…), more }`: V8 builds an object that is spread and then extended in a slow form, which
 * made each /auth/me answer about five times dearer to build and to serialize (docs/BENCHMARKS.md).
 */
function identity(id: string, user: Identified) {
  return {
    id,
    username: user.username,
    full_name: user.fullName,
    role: user.role,
    role_level: roleLevel(user.role),
    groups: [...user.groups],
    must_change_password: user.mustChangePassword,
  };
}

/** API shapes of auth records: snake_case, and nothing secret (the response schemas enforce it too). */
export function meOf(principal: Principal) {
  return Object.assign(identity(principal.userId, principal), { auth_method: principal.authMethod });
}

export function tokenResponse(issued: IssuedSession, now: number) {
  const { user } = issued;
  return {
    access_token: issued.accessToken,
    token_type: 'bearer' as const,
    expires_in: Math.max(0, Math.ceil((issued.accessExpiresAt - now) / 1000)),
    refresh_token: issued.refreshToken,
    refresh_expires_in: Math.max(0, Math.ceil((issued.refreshExpiresAt - now) / 1000)),
    user: Object.assign(identity(user.id, user), { auth_method: issued.authMethod }),
  };
}

export function userItem(user: UserRecord) {
  return Object.assign(identity(user.id, user), {
    disabled: user.disabled,
    auth_source: user.authSource,
    created_at: user.createdAt,
    updated_at: user.updatedAt,
    last_login_at: user.lastLoginAt,
  });
}

export function sessionItem(session: SessionRecord, currentSessionId: string | null) {
  return {
    id: session.id,
    user_id: session.userId,
    auth_method: session.authMethod,
    created_at: session.createdAt,
    last_seen_at: session.lastSeenAt,
    expires_at: session.expiresAt,
    ip: session.ip,
    user_agent: session.userAgent,
    is_current: session.id === currentSessionId,
  };
}

export function apiKeyItem(key: ApiKeyRecord) {
  return {
    id: key.id,
    user_id: key.userId,
    name: key.name,
    role: key.role,
    scopes: key.scopes,
    prefix: key.prefix,
    created_at: key.createdAt,
    expires_at: key.expiresAt,
    last_used_at: key.lastUsedAt,
  };
}
