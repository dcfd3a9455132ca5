import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseHostPattern } from './endpoints/hosts.js';
import { parseTrustedProxies } from './platform/client-ip.js';
import { formatDuration, parseDuration } from './platform/duration.js';
import {
  CONCURRENCY_CAPS,
  type ConcurrencyName,
  isConcurrencyName,
  isOperation,
  OPERATIONS,
  type OperationName,
  type Rate,
} from './ratelimit/operations.js';
import { parseOverrides, parseRate } from './ratelimit/parse.js';

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
  /** Addresses and CIDR blocks whose X-Forwarded-For is believed; empty: the socket peer is the client. */
  readonly trustedProxies: readonly string[];
  readonly redisUrl: string | undefined;
  readonly redisKeyPrefix: string;
  readonly limits: LimitSettings;
  readonly configBodyLimitBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
  readonly live: LiveSettings;
  readonly endpoints: EndpointSettings;
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

export interface EndpointSettings {
  /** Hosts HTTP endpoints may reach; empty: none. */
  readonly allowedHosts: readonly string[];
  readonly functionsDir: string;
  /** Saved and activated when the store is empty. */
  readonly bootstrapFile: string | undefined;
  readonly leaseMs: number;
}

export interface LiveSettings {
  /** Default replay window of a channel: at most this many events… */
  readonly historySize: number;
  /** …and none older than this. */
  readonly historyMaxAgeMs: number;
  readonly connectionsPerUser: { readonly ws: number; readonly sse: number };
  /** How long a WebSocket may stay open after its access token expired, waiting for a fresh ticket. */
  readonly wsAuthGraceMs: number;
  /** Bytes queued for a WebSocket client before it is closed as too slow (4409). */
  readonly wsMaxBacklogBytes: number;
  /** How often open connections re-check their session, for changes made from the CLI or elsewhere. */
  readonly recheckMs: number;
}

export interface LimitSettings {
  /** False turns every rate limit and concurrency cap off (request limits stay). */
  readonly enabled: boolean;
  readonly windowMs: number;
  /** Per client address, every request but health checks, counted before authentication. */
  readonly ipFloor: number;
  /** Per client address, requests without valid credentials. */
  readonly unauthenticated: number;
  /** Per user, requests with valid credentials. */
  readonly authenticated: number;
  /** Per-operation windows: the defaults with overrides applied; null is off. */
  readonly operations: Readonly<Record<OperationName, Rate | null>>;
  /** Simultaneous requests per user; null is off. */
  readonly concurrency: Readonly<Record<ConcurrencyName, number | null>>;
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
  trustedProxies: {
    env: 'SWITCHBOARD_TRUSTED_PROXIES',
    file: 'trusted_proxies',
    default: '',
    accepts: 'a comma-separated list of IP addresses and CIDR blocks (10.0.0.0/8, fd00::/8)',
    parse: parseTrustedProxies,
    doc: 'Reverse proxies whose X-Forwarded-For is believed: the client address is then the rightmost hop that is not one of them. Empty: the socket peer is the client.',
  },
  redisUrl: {
    env: 'SWITCHBOARD_REDIS_URL',
    file: 'redis_url',
    default: undefined,
    accepts: 'a redis:// or rediss:// URL',
    parse: (v: string) => (/^rediss?:\/\/\S+$/.test(v.trim()) ? v.trim() : undefined),
    doc: 'Redis shared by all instances: rate-limit counters and slots, live events and their history, connect tickets and session events. Unset: all of these stay in each instance.',
    secret: true,
  },
  redisKeyPrefix: {
    env: 'SWITCHBOARD_REDIS_KEY_PREFIX',
    file: 'redis_key_prefix',
    default: 'switchboard:',
    accepts: '1 to 64 characters without spaces',
    parse: (v: string) => (/^\S{1,64}$/.test(v) ? v : undefined),
    doc: 'Prefix of every Redis key, so several deployments can share one Redis.',
  },
  rateLimiting: {
    env: 'SWITCHBOARD_RATE_LIMITING',
    file: 'rate_limiting',
    default: 'true',
    accepts: 'true or false',
    parse: boolean,
    doc: 'Rate limits and concurrency caps. Turn off only behind a gateway that enforces its own.',
  },
  rateLimitWindow: {
    env: 'SWITCHBOARD_RATE_LIMIT_WINDOW',
    file: 'rate_limit_window',
    default: '1m',
    accepts: durationAccepts('1s', '1h'),
    parse: duration('1s', '1h'),
    doc: 'Sliding window of the three global tiers.',
  },
  rateLimitIpFloor: {
    env: 'SWITCHBOARD_RATE_LIMIT_IP_FLOOR',
    file: 'rate_limit_ip_floor',
    default: '10000',
    accepts: 'an integer from 1 to 100000000',
    parse: integer(1, 100_000_000),
    doc: 'Requests per window from one client address, counted before authentication (401s and 404s included; /healthz and /readyz not). At least each of the other two tiers.',
  },
  rateLimitUnauthenticated: {
    env: 'SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED',
    file: 'rate_limit_unauthenticated',
    default: '60',
    accepts: 'an integer from 1 to 100000000',
    parse: integer(1, 100_000_000),
    doc: 'API requests per window from one client address without valid credentials.',
  },
  rateLimitAuthenticated: {
    env: 'SWITCHBOARD_RATE_LIMIT_AUTHENTICATED',
    file: 'rate_limit_authenticated',
    default: '6000',
    accepts: 'an integer from 1 to 100000000',
    parse: integer(1, 100_000_000),
    doc: 'API requests per window by one user (all their sessions and API keys together).',
  },
  rateLimits: {
    env: 'SWITCHBOARD_RATE_LIMITS',
    file: 'rate_limits',
    default: '',
    accepts: `comma-separated name=<count>/<duration> or name=off, where name is one of ${Object.keys(OPERATIONS).join(', ')}`,
    parse: (v: string) => parseOverrides(v, isOperation, parseRate),
    doc: 'Per-operation limits that replace the defaults of docs/rate-limits.md, e.g. `login.ip=10/1m,config.save=off`.',
  },
  concurrencyLimits: {
    env: 'SWITCHBOARD_CONCURRENCY_LIMITS',
    file: 'concurrency_limits',
    default: '',
    accepts: `comma-separated name=<count> or name=off, where name is one of ${Object.keys(CONCURRENCY_CAPS).join(', ')}`,
    parse: (v: string) => parseOverrides(v, isConcurrencyName, integer(1, 1000)),
    doc: 'Caps on simultaneous slow requests per user that replace the defaults, e.g. `config.test=2`.',
  },
  configBodyLimitBytes: {
    env: 'SWITCHBOARD_CONFIG_BODY_LIMIT_BYTES',
    file: 'config_body_limit_bytes',
    default: '8388608',
    accepts: 'an integer from 1024 to 104857600',
    parse: integer(1024, 104_857_600),
    doc: 'Largest body the configuration routes accept (they carry whole documents); larger is a 413.',
  },
  headersTimeout: {
    env: 'SWITCHBOARD_HEADERS_TIMEOUT',
    file: 'headers_timeout',
    default: '10s',
    accepts: durationAccepts('1s', '5m'),
    parse: duration('1s', '5m'),
    doc: 'Time a client has to send all request headers; a slower one is answered 408 and disconnected.',
  },
  requestTimeout: {
    env: 'SWITCHBOARD_REQUEST_TIMEOUT',
    file: 'request_timeout',
    default: '60s',
    accepts: durationAccepts('1s', '1h'),
    parse: duration('1s', '1h'),
    doc: 'Time a client has to send a whole request, body included (not the time to answer it).',
  },
  keepAliveTimeout: {
    env: 'SWITCHBOARD_KEEP_ALIVE_TIMEOUT',
    file: 'keep_alive_timeout',
    default: '72s',
    accepts: durationAccepts('1s', '10m'),
    parse: duration('1s', '10m'),
    doc: "How long an idle keep-alive connection stays open; keep it above your load balancer's idle timeout.",
  },
  maxHeaderBytes: {
    env: 'SWITCHBOARD_MAX_HEADER_BYTES',
    file: 'max_header_bytes',
    default: '16384',
    accepts: 'an integer from 1024 to 1048576',
    parse: integer(1024, 1_048_576),
    doc: 'Largest request line plus headers; larger is a 431.',
  },
  streamHistorySize: {
    env: 'SWITCHBOARD_STREAM_HISTORY_SIZE',
    file: 'stream_history_size',
    default: '1000',
    accepts: 'an integer from 0 to 1000000',
    parse: integer(0, 1_000_000),
    doc: 'Events a channel keeps for replay unless its declaration says otherwise.',
  },
  streamHistoryAge: {
    env: 'SWITCHBOARD_STREAM_HISTORY_AGE',
    file: 'stream_history_age',
    default: '10m',
    accepts: durationAccepts('1s', '7d'),
    parse: duration('1s', '7d'),
    doc: 'Age past which events leave the replay window, unless the channel says otherwise.',
  },
  wsConnectionsPerUser: {
    env: 'SWITCHBOARD_WS_CONNECTIONS_PER_USER',
    file: 'ws_connections_per_user',
    default: '10',
    accepts: 'an integer from 1 to 10000',
    parse: integer(1, 10_000),
    doc: 'WebSockets one user may have open at once, across instances; one more is closed with 4429.',
  },
  sseConnectionsPerUser: {
    env: 'SWITCHBOARD_SSE_CONNECTIONS_PER_USER',
    file: 'sse_connections_per_user',
    default: '10',
    accepts: 'an integer from 1 to 10000',
    parse: integer(1, 10_000),
    doc: 'Event streams (SSE) one user may have open at once, across instances; one more is a 429 (code 5003).',
  },
  wsAuthGrace: {
    env: 'SWITCHBOARD_WS_AUTH_GRACE',
    file: 'ws_auth_grace',
    default: '60s',
    accepts: durationAccepts('1s', '1h'),
    parse: duration('1s', '1h'),
    doc: 'Time a WebSocket has, once its access token expired, to send a fresh ticket before it is closed (4403).',
  },
  wsMaxBacklogBytes: {
    env: 'SWITCHBOARD_WS_MAX_BACKLOG_BYTES',
    file: 'ws_max_backlog_bytes',
    default: '1048576',
    accepts: 'an integer from 1024 to 1073741824',
    parse: integer(1024, 1_073_741_824),
    doc: 'Bytes waiting to be sent to one WebSocket client before it is closed as too slow (4409).',
  },
  streamRecheckInterval: {
    env: 'SWITCHBOARD_STREAM_RECHECK_INTERVAL',
    file: 'stream_recheck_interval',
    default: '5s',
    accepts: durationAccepts('1s', '10s'),
    parse: duration('1s', '10s'),
    doc: 'How often open streams re-read their session, so changes made from the CLI or on another instance reach them.',
  },
  endpointHosts: {
    env: 'SWITCHBOARD_ENDPOINT_HOSTS',
    file: 'endpoint_hosts',
    default: '',
    accepts:
      'a comma-separated list of hosts: api.example.com, *.example.com, 10.0.0.5, [::1], ranges 10.0.0.0/8, [fd00::]/8, each optionally with :port',
    parse: (v: string) => {
      const hosts = v
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean);
      return hosts.every((h) => parseHostPattern(h) !== undefined) ? hosts : undefined;
    },
    doc: 'Hosts the HTTP endpoints of the endpoint configuration may reach; an entry without a port allows ports 80 and 443 only. A name that resolves to a loopback, private, link-local or other non-public address is refused unless that address (or a range holding it) is listed too. Empty (the default): none, so a configuration cannot make the server call into its network until an operator allows it.',
  },
  functionsDir: {
    env: 'SWITCHBOARD_FUNCTIONS_DIR',
    file: 'functions_dir',
    default: undefined,
    accepts: 'a directory path',
    parse: text,
    doc: 'Directory holding the modules of local functions; a configuration cannot name a module outside it. Unset: <data dir>/functions.',
  },
  endpointsFile: {
    env: 'SWITCHBOARD_ENDPOINTS_FILE',
    file: 'endpoints_file',
    default: undefined,
    accepts: 'a path to a JSON endpoint configuration',
    parse: text,
    doc: 'Endpoint configuration saved and activated as version 1.0.0 at start when no version is stored yet.',
  },
  producerLease: {
    env: 'SWITCHBOARD_PRODUCER_LEASE',
    file: 'producer_lease',
    default: '10s',
    accepts: durationAccepts('1s', '5m'),
    parse: duration('1s', '5m'),
    doc: 'Lease that lets one instance run each stream; another instance takes a stream over within twice this once its holder stops renewing.',
  },
  maxHeaders: {
    env: 'SWITCHBOARD_MAX_HEADERS',
    file: 'max_headers',
    default: '100',
    accepts: 'an integer from 10 to 2000',
    parse: integer(10, 2000),
    doc: 'Most header fields in one request; more is a 431.',
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

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

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
        : isPlainObject(fromFile)
          ? Object.entries(fromFile)
              .map(([k, v]) => `${k}=${String(v)}`)
              .join(',')
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
  const headersTimeoutMs = p.headersTimeout ?? 10_000;
  const requestTimeoutMs = p.requestTimeout ?? 60_000;
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new SettingsError(
      `Invalid setting SWITCHBOARD_HEADERS_TIMEOUT=${formatDuration(headersTimeoutMs)}: it must not exceed SWITCHBOARD_REQUEST_TIMEOUT (${formatDuration(requestTimeoutMs)})`,
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
    trustedProxies: Object.freeze([...(p.trustedProxies ?? [])]),
    redisUrl: p.redisUrl,
    redisKeyPrefix: p.redisKeyPrefix ?? 'switchboard:',
    limits: limitSettings(p),
    configBodyLimitBytes: p.configBodyLimitBytes ?? 8_388_608,
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: p.keepAliveTimeout ?? 72_000,
    maxHeaderBytes: p.maxHeaderBytes ?? 16_384,
    maxHeaders: p.maxHeaders ?? 100,
    live: Object.freeze({
      historySize: p.streamHistorySize ?? 1000,
      historyMaxAgeMs: p.streamHistoryAge ?? 600_000,
      connectionsPerUser: Object.freeze({
        ws: p.wsConnectionsPerUser ?? 10,
        sse: p.sseConnectionsPerUser ?? 10,
      }),
      wsAuthGraceMs: p.wsAuthGrace ?? 60_000,
      wsMaxBacklogBytes: p.wsMaxBacklogBytes ?? 1_048_576,
      recheckMs: p.streamRecheckInterval ?? 5000,
    }),
    endpoints: Object.freeze({
      allowedHosts: Object.freeze([...(p.endpointHosts ?? [])]),
      functionsDir: resolve(p.functionsDir ?? resolve(dataDir, 'functions')),
      bootstrapFile: p.endpointsFile === undefined ? undefined : resolve(p.endpointsFile),
      leaseMs: p.producerLease ?? 10_000,
    }),
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

function limitSettings(p: Parsed): LimitSettings {
  const ipFloor = p.rateLimitIpFloor ?? 10_000;
  const unauthenticated = p.rateLimitUnauthenticated ?? 60;
  const authenticated = p.rateLimitAuthenticated ?? 6000;
  // The floor sees every request before the other tiers do, so a lower floor would silently cap them.
  for (const [name, value] of [
    ['SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED', unauthenticated],
    ['SWITCHBOARD_RATE_LIMIT_AUTHENTICATED', authenticated],
  ] as const) {
    if (ipFloor < value) {
      throw new SettingsError(
        `Invalid setting SWITCHBOARD_RATE_LIMIT_IP_FLOOR=${ipFloor}: it must be at least ${name} (${value}), or that tier could never be reached`,
      );
    }
  }
  const operations = Object.fromEntries(
    Object.entries(OPERATIONS).map(([name, spec]) => [name, spec.rate]),
  ) as Record<OperationName, Rate | null>;
  for (const [name, rate] of p.rateLimits ?? []) operations[name as OperationName] = rate;
  const concurrency = Object.fromEntries(
    Object.entries(CONCURRENCY_CAPS).map(([name, spec]) => [name, spec.cap]),
  ) as Record<ConcurrencyName, number | null>;
  for (const [name, cap] of p.concurrencyLimits ?? []) concurrency[name as ConcurrencyName] = cap;
  return Object.freeze({
    enabled: p.rateLimiting ?? true,
    windowMs: p.rateLimitWindow ?? 60_000,
    ipFloor,
    unauthenticated,
    authenticated,
    operations: Object.freeze(operations),
    concurrency: Object.freeze(concurrency),
  });
}

/** Browsers treat localhost as a secure context, so only plain HTTP to another host needs cookies without Secure. */
export function isPlainHttpOnNetwork(publicUrl: string): boolean {
  const url = new URL(publicUrl);
  return url.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}
