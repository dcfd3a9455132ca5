import { formatDuration } from '../platform/duration.js';
import {
  atLeast,
  defineSection,
  duration,
  integer,
  oneOf,
  type SectionSettings,
  SettingsError,
  text,
} from '../platform/settings-spec.js';
import { USERNAME } from './username.js';

/** Tokens, sessions, lockout and the first admin. */
export const authSettings = defineSection(
  {
    jwtSecret: {
      env: 'SWITCHBOARD_JWT_SECRET',
      file: 'jwt_secret',
      ...atLeast(32),
      doc: 'Signing secret shared by all instances. Unset: the one stored in the database, generated (32 random bytes) on first start.',
      secret: true,
    },
    jwtAlgorithm: {
      env: 'SWITCHBOARD_JWT_ALGORITHM',
      file: 'jwt_algorithm',
      default: 'HS256',
      ...oneOf('HS256', 'HS384', 'HS512'),
      doc: 'The one algorithm access tokens are signed and verified with; tokens with any other are refused.',
    },
    accessTokenTtlMs: {
      env: 'SWITCHBOARD_ACCESS_TOKEN_TTL',
      file: 'access_token_ttl',
      default: '15m',
      ...duration('30s', '24h'),
      doc: 'Lifetime of an access token (the session cookie and bearer JWT).',
    },
    refreshTokenTtlMs: {
      env: 'SWITCHBOARD_REFRESH_TOKEN_TTL',
      file: 'refresh_token_ttl',
      default: '7d',
      ...duration('1m', '365d'),
      doc: "Lifetime of a refresh token; never beyond the session's own end.",
    },
    sessionMaxAgeMs: {
      env: 'SWITCHBOARD_SESSION_MAX_AGE',
      file: 'session_max_age',
      default: '30d',
      ...duration('1m', '365d'),
      doc: 'Absolute lifetime of a session, however active.',
    },
    sessionIdleTimeoutMs: {
      env: 'SWITCHBOARD_SESSION_IDLE_TIMEOUT',
      file: 'session_idle_timeout',
      default: '24h',
      ...duration('1m', '365d'),
      doc: 'A session unused for this long ends.',
    },
    maxSessionsPerUser: {
      env: 'SWITCHBOARD_MAX_SESSIONS_PER_USER',
      file: 'max_sessions_per_user',
      default: '10',
      ...integer(1, 1000),
      doc: 'Sessions a user may hold at once; a new sign-in past it revokes the oldest.',
    },
    lockoutThreshold: {
      env: 'SWITCHBOARD_LOCKOUT_THRESHOLD',
      file: 'lockout_threshold',
      default: '10',
      ...integer(1, 1000),
      doc: 'Failed sign-ins for one username within the lockout window that lock it.',
    },
    lockoutWindowMs: {
      env: 'SWITCHBOARD_LOCKOUT_WINDOW',
      file: 'lockout_window',
      default: '15m',
      ...duration('1s', '1d'),
      doc: 'Window in which failed sign-ins are counted.',
    },
    lockoutDurationMs: {
      env: 'SWITCHBOARD_LOCKOUT_DURATION',
      file: 'lockout_duration',
      default: '15m',
      ...duration('1s', '1d'),
      doc: 'How long a locked username stays locked, even with the right password.',
    },
    setupToken: {
      env: 'SWITCHBOARD_SETUP_TOKEN',
      file: 'setup_token',
      ...atLeast(16),
      doc: 'Token that `POST /auth/setup` requires to create the first admin. Unset: generated at first start, printed and written to `<data dir>/setup-token`.',
      secret: true,
    },
    adminUsername: {
      env: 'SWITCHBOARD_ADMIN_USERNAME',
      file: 'admin_username',
      default: 'admin',
      accepts: 'a username (letters, digits, . _ @ -)',
      parse: (value) => (USERNAME.test(value.trim()) ? value.trim().toLowerCase() : undefined),
      doc: 'Username of the admin created from `SWITCHBOARD_ADMIN_PASSWORD_FILE`.',
    },
    adminPasswordFile: {
      env: 'SWITCHBOARD_ADMIN_PASSWORD_FILE',
      file: 'admin_password_file',
      ...text('a file path'),
      doc: "File holding the first admin's password: on a start with no admin, that admin is created unattended.",
    },
  },
  (values) => {
    if (values.accessTokenTtlMs > values.refreshTokenTtlMs) {
      throw new SettingsError(
        `Invalid setting SWITCHBOARD_ACCESS_TOKEN_TTL=${formatDuration(values.accessTokenTtlMs)}: it must not exceed SWITCHBOARD_REFRESH_TOKEN_TTL (${formatDuration(values.refreshTokenTtlMs)})`,
      );
    }
    return values;
  },
);

export type AuthSettings = SectionSettings<typeof authSettings>;
