import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { formatDuration, parseDuration } from './platform/duration.js';

export type DatabaseTarget = { engine: 'sqlite'; file: string } | { engine: 'postgres'; url: string };

export interface Settings {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly database: DatabaseTarget;
  readonly databasePoolSize: number;
  readonly publicUrl: string;
  readonly jwtSecret: string | undefined;
  readonly corsOrigins: readonly string[];
  readonly corsCredentials: boolean;
  readonly metricsToken: string | undefined;
  readonly logLevel: string;
  readonly bodyLimitBytes: number;
  readonly shutdownGraceMs: number;
  readonly readinessTimeoutMs: number;
  readonly trustProxy: boolean;
  /** Cookies carry Secure unless the public URL is plain HTTP on a host other than localhost. */
  readonly cookieSecure: boolean;
  readonly setupToken: string | undefined;
  readonly adminUsername: string;
  readonly adminPasswordFile: string | undefined;
  readonly jwtAlgorithm: 'HS256' | 'HS384' | 'HS512';
  readonly accessTokenTtlMs: number;
  readonly refreshTokenTtlMs: number;
  readonly sessionMaxAgeMs: number;
  readonly sessionIdleTimeoutMs: number;
  readonly maxSessionsPerUser: number;
  readonly lockoutThreshold: number;
  readonly lockoutWindowMs: number;
  readonly lockoutDurationMs: number;
}

/** A setting that cannot be used as given; the message names it and says what it accepts. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

type Raw = string | undefined;
/** Usernames are stored lower-case, so "Alice" and "alice" are one account and one lockout counter. */
export const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
interface SettingSpec<T> {
  env: string;
  file: string;
  default: string | undefined;
  accepts: string;
  parse: (value: string) => T | undefined;
  doc: string;
  /** Never echoed in messages or logs. */
  secret?: boolean;
}

const integer =
  (min: number, max: number) =>
  (v: string): number | undefined => {
    if (!/^\d+$/.test(v.trim())) return undefined;
    const n = Number(v);
    return n >= min && n <= max ? n : undefined;
  };
const boolean = (v: string): boolean | undefined =>
  ({ true: true, '1': true, yes: true, false: false, '0': false, no: false })[v.trim().toLowerCase()];
const duration =
  (min: string, max: string) =>
  (v: string): number | undefined => {
    const ms = parseDuration(v);
    return ms !== undefined && ms >= (parseDuration(min) ?? 0) && ms <= (parseDuration(max) ?? 0)
      ? ms
      : undefined;
  };
const durationAccepts = (min: string, max: string) =>
  `a duration with a unit (ms, s, m, h, d) from ${min} to ${max}`;
const text = (v: string): string | undefined => (v.trim() === '' ? undefined : v.trim());
const httpUrl = (v: string): string | undefined => {
  try {
    const url = new URL(v);
    return url.protocol === 'http:' || url.protocol === 'https:'
      ? url.origin + url.pathname.replace(/\/$/, '')
      : undefined;
  } catch {
    return undefined;
  }
};

/** Every setting, its variable, default and meaning; docs/configuration.md is checked against this table. */
export const settingSpecs = {
  host: {
    env: 'HOST',
    file: 'host',
    default: '0.0.0.0',
    accepts: 'an interface address',
    parse: text,
    doc: 'Address to listen on.',
  },
  port: {
    env: 'PORT',
    file: 'port',
    default: '8080',
    accepts: 'an integer from 0 to 65535',
    parse: integer(0, 65535),
    doc: 'TCP port to listen on.',
  },
  dataDir: {
    env: 'SWITCHBOARD_DATA_DIR',
    file: 'data_dir',
    default: './data',
    accepts: 'a directory path',
    parse: text,
    doc: 'Directory for the SQLite database and generated files.',
  },
  databaseUrl: {
    env: 'SWITCHBOARD_DATABASE_URL',
    file: 'database_url',
    default: undefined,
    accepts: 'postgres://…, postgresql://… or sqlite:<file path>',
    parse: (v: string) => (/^(postgres|postgresql):\/\//.test(v) || /^sqlite:.+/.test(v) ? v : undefined),
    doc: 'Database. Unset: SQLite at <data dir>/switchboard.db (WAL mode).',
  },
  databasePoolSize: {
    env: 'SWITCHBOARD_DATABASE_POOL_SIZE',
    file: 'database_pool_size',
    default: '10',
    accepts: 'an integer from 1 to 1000',
    parse: integer(1, 1000),
    doc: 'PostgreSQL connections per instance.',
  },
  publicUrl: {
    env: 'SWITCHBOARD_PUBLIC_URL',
    file: 'public_url',
    default: undefined,
    accepts: 'an http:// or https:// URL',
    parse: httpUrl,
    doc: 'URL users reach Switchboard at; its origin is allowed for cookie-authenticated writes. Unset: http://localhost:<port>.',
  },
  jwtSecret: {
    env: 'SWITCHBOARD_JWT_SECRET',
    file: 'jwt_secret',
    default: undefined,
    accepts: 'at least 32 characters',
    parse: (v: string) => (v.length >= 32 ? v : undefined),
    doc: 'Signing secret shared by all instances. Unset: the one stored in the database, generated (32 random bytes) on first start.',
    secret: true,
  },
  corsOrigins: {
    env: 'SWITCHBOARD_CORS_ORIGINS',
    file: 'cors_origins',
    default: '',
    accepts: 'a comma-separated list of origins (https://host[:port]) or *',
    parse: (v: string) => {
      const list = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const valid = list.every((o) => o === '*' || (httpUrl(o) !== undefined && new URL(o).origin === o));
      return valid ? list : undefined;
    },
    doc: 'Origins allowed to call the API from a browser. Empty: CORS off.',
  },
  corsCredentials: {
    env: 'SWITCHBOARD_CORS_CREDENTIALS',
    file: 'cors_credentials',
    default: 'true',
    accepts: 'true or false',
    parse: boolean,
    doc: 'Allow cookies on cross-origin requests. Refused together with a * origin.',
  },
  metricsToken: {
    env: 'SWITCHBOARD_METRICS_TOKEN',
    file: 'metrics_token',
    default: undefined,
    accepts: 'at least 16 characters',
    parse: (v: string) => (v.length >= 16 ? v : undefined),
    doc: 'Bearer token for GET /metrics. Unset: /metrics is off (404).',
    secret: true,
  },
  logLevel: {
    env: 'SWITCHBOARD_LOG_LEVEL',
    file: 'log_level',
    default: 'info',
    accepts: 'fatal, error, warn, info, debug, trace or silent',
    parse: (v: string) =>
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(v) ? v : undefined,
    doc: 'Log level (JSON logs on standard output).',
  },
  bodyLimitBytes: {
    env: 'SWITCHBOARD_BODY_LIMIT_BYTES',
    file: 'body_limit_bytes',
    default: '1048576',
    accepts: 'an integer from 1024 to 104857600',
    parse: integer(1024, 104_857_600),
    doc: 'Largest request body accepted; larger is a 413.',
  },
  shutdownGraceMs: {
    env: 'SWITCHBOARD_SHUTDOWN_GRACE_MS',
    file: 'shutdown_grace_ms',
    default: '10000',
    accepts: 'an integer from 0 to 600000',
    parse: integer(0, 600_000),
    doc: 'On SIGTERM/SIGINT, how long in-flight requests may take before connections are cut.',
  },
  readinessTimeoutMs: {
    env: 'SWITCHBOARD_READINESS_TIMEOUT_MS',
    file: 'readiness_timeout_ms',
    default: '2000',
    accepts: 'an integer from 50 to 60000',
    parse: integer(50, 60_000),
    doc: 'Time limit of the database ping behind GET /readyz.',
  },
  trustProxy: {
    env: 'SWITCHBOARD_TRUST_PROXY',
    file: 'trust_proxy',
    default: 'false',
    accepts: 'true or false',
    parse: boolean,
    doc: 'Take the client address from X-Forwarded-For (only behind a proxy you run).',
  },
  setupToken: {
    env: 'SWITCHBOARD_SETUP_TOKEN',
    file: 'setup_token',
    default: undefined,
    accepts: 'at least 16 characters',
    parse: (v: string) => (v.length >= 16 ? v : undefined),
    doc: 'Token that POST /auth/setup requires to create the first admin. Unset: generated at first start, printed and written to <data dir>/setup-token.',
    secret: true,
  },
  adminUsername: {
    env: 'SWITCHBOARD_ADMIN_USERNAME',
    file: 'admin_username',
    default: 'admin',
    accepts: 'a username (letters, digits, . _ @ -)',
    parse: (v: string) => (USERNAME.test(v.trim()) ? v.trim().toLowerCase() : undefined),
    doc: 'Username of the admin created from SWITCHBOARD_ADMIN_PASSWORD_FILE.',
  },
  adminPasswordFile: {
    env: 'SWITCHBOARD_ADMIN_PASSWORD_FILE',
    file: 'admin_password_file',
    default: undefined,
    accepts: 'a file path',
    parse: text,
    doc: "File holding the first admin's password: on a start with no admin, that admin is created unattended.",
  },
  jwtAlgorithm: {
    env: 'SWITCHBOARD_JWT_ALGORITHM',
    file: 'jwt_algorithm',
    default: 'HS256',
    accepts: 'HS256, HS384 or HS512',
    parse: (v: string) =>
      ['HS256', 'HS384', 'HS512'].includes(v) ? (v as 'HS256' | 'HS384' | 'HS512') : undefined,
    doc: 'The one algorithm access tokens are signed and verified with; tokens with any other are refused.',
  },
  accessTokenTtl: {
    env: 'SWITCHBOARD_ACCESS_TOKEN_TTL',
    file: 'access_token_ttl',
    default: '15m',
    accepts: durationAccepts('30s', '24h'),
    parse: duration('30s', '24h'),
    doc: 'Lifetime of an access token (the session cookie and bearer JWT).',
  },
  refreshTokenTtl: {
    env: 'SWITCHBOARD_REFRESH_TOKEN_TTL',
    file: 'refresh_token_ttl',
    default: '7d',
    accepts: durationAccepts('1m', '365d'),
    parse: duration('1m', '365d'),
    doc: "Lifetime of a refresh token; never beyond the session's own end.",
  },
  sessionMaxAge: {
    env: 'SWITCHBOARD_SESSION_MAX_AGE',
    file: 'session_max_age',
    default: '30d',
    accepts: durationAccepts('1m', '365d'),
    parse: duration('1m', '365d'),
    doc: 'Absolute lifetime of a session, however active.',
  },
  sessionIdleTimeout: {
    env: 'SWITCHBOARD_SESSION_IDLE_TIMEOUT',
    file: 'session_idle_timeout',
    default: '24h',
    accepts: durationAccepts('1m', '365d'),
    parse: duration('1m', '365d'),
    doc: 'A session unused for this long ends.',
  },
  maxSessionsPerUser: {
    env: 'SWITCHBOARD_MAX_SESSIONS_PER_USER',
    file: 'max_sessions_per_user',
    default: '10',
    accepts: 'an integer from 1 to 1000',
    parse: integer(1, 1000),
    doc: 'Sessions a user may hold at once; a new sign-in past it revokes the oldest.',
  },
  lockoutThreshold: {
    env: 'SWITCHBOARD_LOCKOUT_THRESHOLD',
    file: 'lockout_threshold',
    default: '10',
    accepts: 'an integer from 1 to 1000',
    parse: integer(1, 1000),
    doc: 'Failed sign-ins for one username within the lockout window that lock it.',
  },
  lockoutWindow: {
    env: 'SWITCHBOARD_LOCKOUT_WINDOW',
    file: 'lockout_window',
    default: '15m',
    accepts: durationAccepts('1s', '1d'),
    parse: duration('1s', '1d'),
    doc: 'Window in which failed sign-ins are counted.',
  },
  lockoutDuration: {
    env: 'SWITCHBOARD_LOCKOUT_DURATION',
    file: 'lockout_duration',
    default: '15m',
    accepts: durationAccepts('1s', '1d'),
    parse: duration('1s', '1d'),
    doc: 'How long a locked username stays locked, even with the right password.',
  },
} satisfies Record<string, SettingSpec<unknown>>;

type Specs = typeof settingSpecs;
type Parsed = { [K in keyof Specs]: ReturnType<Specs[K]['parse']> };

function readFileSettings(path: string): Record<string, unknown> {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SettingsError(
      `SWITCHBOARD_CONFIG_FILE=${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = path.endsWith('.json') ? JSON.parse(content) : parseYaml(content);
  } catch (error) {
    throw new SettingsError(
      `SWITCHBOARD_CONFIG_FILE=${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SettingsError(`SWITCHBOARD_CONFIG_FILE=${path}: expected an object of settings`);
  }
  const known = new Set(Object.values(settingSpecs).map((s) => s.file));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key))
      throw new SettingsError(`${path}: unknown setting "${key}"; known: ${[...known].join(', ')}`);
  }
  return parsed as Record<string, unknown>;
}

/** Environment wins over the optional settings file; every value is validated before anything starts. */
export function loadSettings(env: Record<string, Raw> = process.env): Settings {
  const file = env.SWITCHBOARD_CONFIG_FILE ? readFileSettings(env.SWITCHBOARD_CONFIG_FILE) : {};
  const parsed = {} as Record<string, unknown>;
  for (const [key, spec] of Object.entries(settingSpecs) as [string, SettingSpec<unknown>][]) {
    const fromEnv = env[spec.env];
    const fromFile = file[spec.file];
    const source =
      fromEnv !== undefined
        ? spec.env
        : fromFile !== undefined
          ? `"${spec.file}" in ${env.SWITCHBOARD_CONFIG_FILE}`
          : undefined;
    const raw =
      fromEnv ??
      (Array.isArray(fromFile)
        ? fromFile.join(',')
        : fromFile === undefined
          ? spec.default
          : String(fromFile));
    if (raw === undefined) continue;
    const value = spec.parse(raw);
    if (value === undefined) {
      const shown = spec.secret ? '(hidden)' : JSON.stringify(raw);
      throw new SettingsError(`Invalid setting ${source ?? spec.env}=${shown}: expected ${spec.accepts}`);
    }
    parsed[key] = value;
  }
  const p = parsed as Parsed;
  const corsOrigins = p.corsOrigins ?? [];
  if (corsOrigins.includes('*') && p.corsCredentials) {
    throw new SettingsError(
      'Invalid setting SWITCHBOARD_CORS_ORIGINS=*: a wildcard origin cannot be combined with SWITCHBOARD_CORS_CREDENTIALS=true; list the origins or set SWITCHBOARD_CORS_CREDENTIALS=false',
    );
  }
  const dataDir = resolve(p.dataDir ?? './data');
  const url = p.databaseUrl;
  const database: DatabaseTarget =
    url === undefined
      ? { engine: 'sqlite', file: resolve(dataDir, 'switchboard.db') }
      : url.startsWith('sqlite:')
        ? {
            engine: 'sqlite',
            file: url === 'sqlite::memory:' ? ':memory:' : resolve(url.slice('sqlite:'.length)),
          }
        : { engine: 'postgres', url };
  const port = p.port ?? 8080;
  const publicUrl = p.publicUrl ?? `http://localhost:${port}`;
  const accessTokenTtlMs = p.accessTokenTtl ?? 900_000;
  const refreshTokenTtlMs = p.refreshTokenTtl ?? 7 * 86_400_000;
  if (accessTokenTtlMs > refreshTokenTtlMs) {
    throw new SettingsError(
      `Invalid setting SWITCHBOARD_ACCESS_TOKEN_TTL=${formatDuration(accessTokenTtlMs)}: it must not exceed SWITCHBOARD_REFRESH_TOKEN_TTL (${formatDuration(refreshTokenTtlMs)})`,
    );
  }
  return Object.freeze({
    host: p.host ?? '0.0.0.0',
    port,
    dataDir,
    database,
    databasePoolSize: p.databasePoolSize ?? 10,
    publicUrl,
    jwtSecret: p.jwtSecret,
    corsOrigins: Object.freeze([...corsOrigins]),
    corsCredentials: p.corsCredentials ?? true,
    metricsToken: p.metricsToken,
    logLevel: p.logLevel ?? 'info',
    bodyLimitBytes: p.bodyLimitBytes ?? 1_048_576,
    shutdownGraceMs: p.shutdownGraceMs ?? 10_000,
    readinessTimeoutMs: p.readinessTimeoutMs ?? 2000,
    trustProxy: p.trustProxy ?? false,
    cookieSecure: !isPlainHttpOnNetwork(publicUrl),
    setupToken: p.setupToken,
    adminUsername: p.adminUsername ?? 'admin',
    adminPasswordFile: p.adminPasswordFile,
    jwtAlgorithm: p.jwtAlgorithm ?? 'HS256',
    accessTokenTtlMs,
    refreshTokenTtlMs,
    sessionMaxAgeMs: p.sessionMaxAge ?? 30 * 86_400_000,
    sessionIdleTimeoutMs: p.sessionIdleTimeout ?? 86_400_000,
    maxSessionsPerUser: p.maxSessionsPerUser ?? 10,
    lockoutThreshold: p.lockoutThreshold ?? 10,
    lockoutWindowMs: p.lockoutWindow ?? 900_000,
    lockoutDurationMs: p.lockoutDuration ?? 900_000,
  });
}

/** Browsers treat localhost as a secure context, so only plain HTTP to another host needs cookies without Secure. */
export function isPlainHttpOnNetwork(publicUrl: string): boolean {
  const url = new URL(publicUrl);
  return url.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}
