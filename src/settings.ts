import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

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
}

/** A setting that cannot be used as given; the message names it and says what it accepts. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

type Raw = string | undefined;
interface SettingSpec<T> {
  env: string;
  file: string;
  default: string | undefined;
  accepts: string;
  parse: (value: string) => T | undefined;
  doc: string;
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
      const shown =
        spec.env.includes('SECRET') || spec.env.includes('TOKEN') ? '(hidden)' : JSON.stringify(raw);
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
  return Object.freeze({
    host: p.host ?? '0.0.0.0',
    port,
    dataDir,
    database,
    databasePoolSize: p.databasePoolSize ?? 10,
    publicUrl: p.publicUrl ?? `http://localhost:${port}`,
    jwtSecret: p.jwtSecret,
    corsOrigins: Object.freeze([...corsOrigins]),
    corsCredentials: p.corsCredentials ?? true,
    metricsToken: p.metricsToken,
    logLevel: p.logLevel ?? 'info',
    bodyLimitBytes: p.bodyLimitBytes ?? 1_048_576,
    shutdownGraceMs: p.shutdownGraceMs ?? 10_000,
    readinessTimeoutMs: p.readinessTimeoutMs ?? 2000,
    trustProxy: p.trustProxy ?? false,
  });
}
