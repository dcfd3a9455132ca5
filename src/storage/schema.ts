import type { Generated } from 'kysely';

/**
 * Tables as Kysely sees them. Times are ISO-8601 UTC text and flags are 0/1 integers on both engines, so
 * one code path serves SQLite and PostgreSQL.
 */
export interface InstanceSecretsTable {
  name: string;
  value: string;
  created_at: string;
}

export interface UsersTable {
  id: string;
  username: string;
  full_name: string | null;
  role: string;
  password_hash: string | null;
  auth_source: string;
  disabled: number;
  must_change_password: number;
  created_at: string;
  updated_at: string;
  last_login_at: string | null;
}

export interface UserGroupsTable {
  user_id: string;
  group_name: string;
}

export interface SetupClaimsTable {
  name: string;
  user_id: string;
  claimed_at: string;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  auth_method: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
  revoked_at: string | null;
  revoked_reason: string | null;
}

export interface RefreshTokensTable {
  token_hash: string;
  session_id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface ApiKeysTable {
  id: string;
  user_id: string;
  name: string;
  role: string;
  /** JSON array of strings. */
  scopes: string;
  key_hash: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface LoginFailuresTable {
  username: string;
  ip: string;
  at: string;
}

export interface LoginLockoutsTable {
  username: string;
  ip: string;
  locked_until: string;
}

export interface AuditEventsTable {
  /** bigserial on PostgreSQL arrives as a string. */
  id: Generated<number | string>;
  at: string;
  type: string;
  outcome: string;
  actor_id: string | null;
  actor_username: string | null;
  ip: string | null;
  user_agent: string | null;
  target_type: string | null;
  target_id: string | null;
  /** JSON object. */
  detail: string | null;
}

export interface ConfigVersionsTable {
  version: string;
  /** Canonical JSON. */
  document: string;
  created_at: string;
  created_by: string | null;
  created_by_name: string | null;
  message: string | null;
}

export interface ConfigStateTable {
  name: string;
  active_version: string | null;
  last_good_version: string | null;
  recovery: number;
  recovery_version: string | null;
  recovery_reason: string | null;
  /** Grows with every change of the row, so instances can tell they are behind. */
  generation: number;
  updated_at: string;
}

export interface ProducerLeasesTable {
  stream: string;
  holder: string;
  expires_at: string;
}

export interface PreferencesTable {
  user_id: string;
  /** JSON text; PostgreSQL's `json` column is read back as text with a cast (see the workspaces store). */
  document: string;
  version: number;
  updated_at: string;
}

export interface WorkspaceGrantsTable {
  owner_id: string;
  owner_username: string;
  workspace: string;
  principal_type: string;
  principal: string;
  grantee_id: string | null;
  access: string;
  created_at: string;
}

export interface SharingStateTable {
  name: string;
  generation: number;
}

export interface SsoIdentitiesTable {
  provider: string;
  issuer: string;
  subject: string;
  user_id: string;
  created_at: string;
  last_sign_in_at: string;
}

export interface SsoSpentTable {
  key: string;
  expires_at: string;
}

export interface WidgetsTable {
  package: string;
  version: string;
  integrity: string;
  files: number;
  size: number;
  /** JSON object: path in the bundle → sha256 of the file (base64url). */
  manifest: string;
  registered_by: string | null;
  registered_at: string;
}

export interface Database {
  instance_secrets: InstanceSecretsTable;
  users: UsersTable;
  user_groups: UserGroupsTable;
  setup_claims: SetupClaimsTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  api_keys: ApiKeysTable;
  login_failures: LoginFailuresTable;
  login_lockouts: LoginLockoutsTable;
  audit_events: AuditEventsTable;
  config_versions: ConfigVersionsTable;
  config_state: ConfigStateTable;
  producer_leases: ProducerLeasesTable;
  preferences: PreferencesTable;
  workspace_grants: WorkspaceGrantsTable;
  sharing_state: SharingStateTable;
  sso_identities: SsoIdentitiesTable;
  sso_spent: SsoSpentTable;
  widgets: WidgetsTable;
}
