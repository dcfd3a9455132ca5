import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOC_END, DOC_START, settingsDoc, withSettingsDoc } from '../src/platform/settings-doc.js';
import { loadSettings, settingSpecs } from '../src/settings.js';

describe('settings', () => {
  it('have safe defaults', () => {
    const s = loadSettings({});
    expect(s.port).toBe(8080);
    expect(s.database).toEqual({ engine: 'sqlite', file: join(process.cwd(), 'data', 'switchboard.db') });
    expect(s.jwtSecret).toBeUndefined();
    expect(s.metricsToken).toBeUndefined();
    expect(s.corsOrigins).toEqual([]);
    expect(Object.isFrozen(s)).toBe(true);
  });

  it.each([
    ['PORT', 'abc', /PORT="abc": expected an integer from 0 to 65535/],
    ['SWITCHBOARD_DATABASE_URL', 'mysql://x', /SWITCHBOARD_DATABASE_URL="mysql:\/\/x": expected postgres/],
    ['SWITCHBOARD_JWT_SECRET', 'short', /SWITCHBOARD_JWT_SECRET=\(hidden\): expected at least 32 characters/],
    [
      'SWITCHBOARD_CORS_ORIGINS',
      'ops.example',
      /SWITCHBOARD_CORS_ORIGINS="ops.example": expected a comma-separated list/,
    ],
    ['SWITCHBOARD_LOG_LEVEL', 'loud', /SWITCHBOARD_LOG_LEVEL="loud"/],
    ['SWITCHBOARD_TRUSTED_PROXIES', '10.0.0.0/33', /IP addresses and CIDR blocks/],
    ['SWITCHBOARD_TRUSTED_PROXIES', 'proxy.internal', /TRUSTED_PROXIES="proxy.internal"/],
    ['SWITCHBOARD_REDIS_URL', 'localhost:6379', /SWITCHBOARD_REDIS_URL=\(hidden\): expected a redis:\/\//],
    ['SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED', '0', /expected an integer from 1/],
    ['SWITCHBOARD_RATE_LIMIT_AUTHENTICATED', 'lots', /RATE_LIMIT_AUTHENTICATED="lots"/],
    ['SWITCHBOARD_RATE_LIMIT_WINDOW', '60', /expected a duration with a unit/],
    [
      'SWITCHBOARD_RATE_LIMITS',
      'login=5/1m',
      /RATE_LIMITS="login=5\/1m": expected .* login\.ip, login\.username/,
    ],
    ['SWITCHBOARD_RATE_LIMITS', 'login.ip=5 per minute', /SWITCHBOARD_RATE_LIMITS=/],
    ['SWITCHBOARD_RATE_LIMITS', 'login.ip=0/1m', /SWITCHBOARD_RATE_LIMITS=/],
    ['SWITCHBOARD_CONCURRENCY_LIMITS', 'config.test=-1', /config\.test, config\.diff, widgets\.register/],
    ['SWITCHBOARD_MAX_HEADERS', '5', /expected an integer from 10 to 2000/],
    ['SWITCHBOARD_HEADERS_TIMEOUT', '0s', /SWITCHBOARD_HEADERS_TIMEOUT="0s"/],
  ])('refuse %s=%s naming the variable', (name, value, message) => {
    expect(() => loadSettings({ [name]: value })).toThrow(message);
  });

  it('refuse an IP floor below either other tier, which it would silently cap', () => {
    expect(() => loadSettings({ SWITCHBOARD_RATE_LIMIT_IP_FLOOR: '100' })).toThrow(
      /SWITCHBOARD_RATE_LIMIT_IP_FLOOR=100: it must be at least SWITCHBOARD_RATE_LIMIT_AUTHENTICATED \(6000\)/,
    );
    expect(() =>
      loadSettings({ SWITCHBOARD_RATE_LIMIT_IP_FLOOR: '50', SWITCHBOARD_RATE_LIMIT_AUTHENTICATED: '40' }),
    ).toThrow(/at least SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED \(60\)/);
    expect(loadSettings({ SWITCHBOARD_RATE_LIMIT_IP_FLOOR: '6000' }).limits.ipFloor).toBe(6000);
  });

  it('refuse a header deadline longer than the whole request deadline', () => {
    expect(() =>
      loadSettings({ SWITCHBOARD_HEADERS_TIMEOUT: '2m', SWITCHBOARD_REQUEST_TIMEOUT: '1m' }),
    ).toThrow(/SWITCHBOARD_HEADERS_TIMEOUT=2m: it must not exceed SWITCHBOARD_REQUEST_TIMEOUT \(1m\)/);
  });

  it('have the abuse-protection defaults of docs/rate-limits.md, overridable one operation at a time', () => {
    const defaults = loadSettings({}).limits;
    expect(defaults).toMatchObject({
      enabled: true,
      windowMs: 60_000,
      ipFloor: 10_000,
      unauthenticated: 60,
      authenticated: 6000,
    });
    expect(defaults.concurrency).toEqual({ 'config.test': 1, 'config.diff': 2, 'widgets.register': 2 });
    const tuned = loadSettings({
      SWITCHBOARD_RATE_LIMITS: 'login.ip=10/30s, config.save=off',
      SWITCHBOARD_CONCURRENCY_LIMITS: 'widgets.register=4',
    }).limits;
    expect(tuned.operations['login.ip']).toEqual({ limit: 10, windowMs: 30_000 });
    expect(tuned.operations['config.save']).toBeNull();
    expect(tuned.operations['login.username']).toEqual(defaults.operations['login.username']);
    expect(tuned.concurrency['widgets.register']).toBe(4);
  });

  it('read per-operation overrides from a settings file as a map', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-settings-'));
    const file = join(dir, 'settings.yaml');
    writeFileSync(
      file,
      'rate_limits:\n  login.ip: 5/1m\n  setup: "off"\nconcurrency_limits:\n  config.test: 3\n',
    );
    const limits = loadSettings({ SWITCHBOARD_CONFIG_FILE: file }).limits;
    expect(limits.operations['login.ip']).toEqual({ limit: 5, windowMs: 60_000 });
    expect(limits.operations.setup).toBeNull();
    expect(limits.concurrency['config.test']).toBe(3);
  });

  it('have the identity defaults of docs/auth.md', () => {
    const s = loadSettings({});
    expect(s.jwtAlgorithm).toBe('HS256');
    expect(s.accessTokenTtlMs).toBe(15 * 60_000);
    expect(s.refreshTokenTtlMs).toBe(7 * 86_400_000);
    expect(s.sessionMaxAgeMs).toBe(30 * 86_400_000);
    expect(s.sessionIdleTimeoutMs).toBe(86_400_000);
    expect(s.maxSessionsPerUser).toBe(10);
    expect([s.lockoutThreshold, s.lockoutWindowMs, s.lockoutDurationMs]).toEqual([10, 900_000, 900_000]);
    expect(s.setupToken).toBeUndefined();
    expect(s.adminUsername).toBe('admin');
  });

  it.each([
    [
      'SWITCHBOARD_ACCESS_TOKEN_TTL',
      '15',
      /expected a duration with a unit \(ms, s, m, h, d\) from 30s to 24h/,
    ],
    ['SWITCHBOARD_ACCESS_TOKEN_TTL', '1s', /ACCESS_TOKEN_TTL="1s"/],
    ['SWITCHBOARD_SESSION_IDLE_TIMEOUT', 'forever', /SESSION_IDLE_TIMEOUT="forever"/],
    ['SWITCHBOARD_LOCKOUT_THRESHOLD', '0', /LOCKOUT_THRESHOLD="0": expected an integer from 1 to 1000/],
    ['SWITCHBOARD_JWT_ALGORITHM', 'none', /JWT_ALGORITHM="none": expected HS256, HS384 or HS512/],
    ['SWITCHBOARD_JWT_ALGORITHM', 'RS256', /expected HS256, HS384 or HS512/],
    ['SWITCHBOARD_ADMIN_USERNAME', 'no spaces', /ADMIN_USERNAME="no spaces"/],
  ])('refuse %s=%s', (name, value, message) => {
    expect(() => loadSettings({ [name]: value })).toThrow(message);
  });

  it('refuse an access token that outlives its refresh token, naming both', () => {
    expect(() =>
      loadSettings({ SWITCHBOARD_ACCESS_TOKEN_TTL: '2h', SWITCHBOARD_REFRESH_TOKEN_TTL: '1h' }),
    ).toThrow('SWITCHBOARD_ACCESS_TOKEN_TTL=2h: it must not exceed SWITCHBOARD_REFRESH_TOKEN_TTL (1h)');
  });

  it('drop Secure cookies only for plain HTTP on the network', () => {
    const secure = (url: string) => loadSettings({ SWITCHBOARD_PUBLIC_URL: url }).cookieSecure;
    expect(secure('https://ops.example')).toBe(true);
    expect(secure('http://localhost:8080')).toBe(true);
    expect(secure('http://127.0.0.1:8080')).toBe(true);
    expect(secure('http://10.0.0.5:8080')).toBe(false);
    expect(secure('http://ops.lan')).toBe(false);
  });

  it('never echo a rejected secret', () => {
    expect(() => loadSettings({ SWITCHBOARD_METRICS_TOKEN: 'tiny-secret' })).toThrow(
      'Invalid setting SWITCHBOARD_METRICS_TOKEN=(hidden): expected at least 16 characters',
    );
    expect(() => loadSettings({ SWITCHBOARD_SETUP_TOKEN: 'short-secret' })).toThrow(
      'Invalid setting SWITCHBOARD_SETUP_TOKEN=(hidden): expected at least 16 characters',
    );
  });

  it('refuse a wildcard origin with credentials', () => {
    expect(() => loadSettings({ SWITCHBOARD_CORS_ORIGINS: '*' })).toThrow(/wildcard/);
    expect(
      loadSettings({ SWITCHBOARD_CORS_ORIGINS: '*', SWITCHBOARD_CORS_CREDENTIALS: 'false' }).corsOrigins,
    ).toEqual(['*']);
  });

  it('read a YAML or JSON file, with the environment winning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-settings-'));
    const yaml = join(dir, 'switchboard.yaml');
    writeFileSync(yaml, 'port: 9000\ncors_origins:\n  - https://ops.example\nlog_level: warn\n');
    const s = loadSettings({ SWITCHBOARD_CONFIG_FILE: yaml, SWITCHBOARD_LOG_LEVEL: 'debug' });
    expect(s.port).toBe(9000);
    expect(s.corsOrigins).toEqual(['https://ops.example']);
    expect(s.logLevel).toBe('debug');
    const json = join(dir, 'switchboard.json');
    writeFileSync(json, JSON.stringify({ port: 'x' }));
    expect(() => loadSettings({ SWITCHBOARD_CONFIG_FILE: json })).toThrow(/"port" in .*switchboard.json="x"/);
    writeFileSync(json, JSON.stringify({ prot: 1 }));
    expect(() => loadSettings({ SWITCHBOARD_CONFIG_FILE: json })).toThrow(/unknown setting "prot"/);
    expect(() => loadSettings({ SWITCHBOARD_CONFIG_FILE: join(dir, 'missing.yaml') })).toThrow(/cannot read/);
  });

  it('are the table of docs/configuration.md, both ways (npm run docs:settings writes it)', () => {
    const doc = readFileSync(join(process.cwd(), 'docs', 'configuration.md'), 'utf8');
    const generated = settingsDoc(settingSpecs);
    const table = doc.slice(doc.indexOf(DOC_START), doc.indexOf(DOC_END));
    const rows = (text: string) => text.split('\n').filter((line) => line.startsWith('| `'));
    expect(rows(table).filter((row) => !rows(generated).includes(row))).toEqual([]);
    expect(rows(generated).filter((row) => !rows(table).includes(row))).toEqual([]);
    expect(withSettingsDoc(doc, settingSpecs)).toBe(doc);
  });

  it('each have their own variable and file key, and a default their own parser reads', () => {
    expect(new Set(settingSpecs.map((s) => s.env)).size).toBe(settingSpecs.length);
    expect(new Set(settingSpecs.map((s) => s.file)).size).toBe(settingSpecs.length);
    for (const spec of settingSpecs) {
      if (spec.default !== undefined) expect(spec.parse(spec.default), spec.env).not.toBeUndefined();
    }
  });
});

describe('endpoint configuration settings', () => {
  it('allow no host, keep functions in the data directory, bootstrap nothing and lease for 10s by default', () => {
    const s = loadSettings({ SWITCHBOARD_DATA_DIR: '/var/lib/switchboard' });
    expect(s.endpoints).toEqual({
      allowedHosts: [],
      functionsDir: '/var/lib/switchboard/functions',
      bootstrapFile: undefined,
      leaseMs: 10_000,
      configBodyLimitBytes: 8_388_608,
    });
    expect(Object.isFrozen(s.endpoints)).toBe(true);
    expect(loadSettings({}).endpoints.functionsDir).toBe(join(process.cwd(), 'data', 'functions'));
  });

  it('read each of them, paths resolved against the working directory', () => {
    const s = loadSettings({
      SWITCHBOARD_ENDPOINT_HOSTS: ' api.open-meteo.com, *.example.com:8443,10.0.0.5 ,[::1]:9000, ',
      SWITCHBOARD_FUNCTIONS_DIR: 'fns',
      SWITCHBOARD_ENDPOINTS_FILE: ' /etc/switchboard/endpoints.json ',
      SWITCHBOARD_PRODUCER_LEASE: '30s',
    });
    expect(s.endpoints).toEqual({
      allowedHosts: ['api.open-meteo.com', '*.example.com:8443', '10.0.0.5', '[::1]:9000'],
      functionsDir: join(process.cwd(), 'fns'),
      bootstrapFile: '/etc/switchboard/endpoints.json',
      leaseMs: 30_000,
      configBodyLimitBytes: 8_388_608,
    });
    expect(Object.isFrozen(s.endpoints.allowedHosts)).toBe(true);
    expect(loadSettings({ SWITCHBOARD_ENDPOINTS_FILE: 'endpoints.json' }).endpoints.bootstrapFile).toBe(
      join(process.cwd(), 'endpoints.json'),
    );
    expect(loadSettings({ SWITCHBOARD_PRODUCER_LEASE: '1s' }).endpoints.leaseMs).toBe(1000);
    expect(loadSettings({ SWITCHBOARD_PRODUCER_LEASE: '5m' }).endpoints.leaseMs).toBe(300_000);
    expect(loadSettings({ SWITCHBOARD_ENDPOINT_HOSTS: '' }).endpoints.allowedHosts).toEqual([]);
  });

  it('read the host list from a settings file as a list', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-settings-'));
    const file = join(dir, 'settings.yaml');
    writeFileSync(file, 'endpoint_hosts:\n  - api.example.com\n  - "*.example.com"\nproducer_lease: 20s\n');
    const endpoints = loadSettings({ SWITCHBOARD_CONFIG_FILE: file }).endpoints;
    expect(endpoints.allowedHosts).toEqual(['api.example.com', '*.example.com']);
    expect(endpoints.leaseMs).toBe(20_000);
    writeFileSync(file, 'endpoint_hosts:\n  - https://api.example.com\n');
    expect(() => loadSettings({ SWITCHBOARD_CONFIG_FILE: file })).toThrow(
      /"endpoint_hosts" in .*settings\.yaml="https:\/\/api\.example\.com": expected a comma-separated list of hosts/,
    );
  });

  it.each([
    [
      'SWITCHBOARD_ENDPOINT_HOSTS',
      'https://api.example.com',
      /ENDPOINT_HOSTS="https:\/\/api.example.com": expected a comma-separated list of hosts/,
    ],
    [
      'SWITCHBOARD_ENDPOINT_HOSTS',
      'api.example.com, not a host',
      /SWITCHBOARD_ENDPOINT_HOSTS="api.example.com, not a host"/,
    ],
    [
      'SWITCHBOARD_ENDPOINT_HOSTS',
      'api.example.com:0',
      /SWITCHBOARD_ENDPOINT_HOSTS=.*each optionally with :port/,
    ],
    [
      'SWITCHBOARD_ENDPOINT_HOSTS',
      'api.example.com:65536',
      /SWITCHBOARD_ENDPOINT_HOSTS="api.example.com:65536"/,
    ],
    ['SWITCHBOARD_ENDPOINT_HOSTS', '*', /SWITCHBOARD_ENDPOINT_HOSTS="\*"/],
    ['SWITCHBOARD_ENDPOINT_HOSTS', '*.0.0.5', /SWITCHBOARD_ENDPOINT_HOSTS="\*.0.0.5"/],
    ['SWITCHBOARD_ENDPOINT_HOSTS', '10.0.0.1/8', /SWITCHBOARD_ENDPOINT_HOSTS="10.0.0.1\/8"/],
    ['SWITCHBOARD_FUNCTIONS_DIR', '   ', /SWITCHBOARD_FUNCTIONS_DIR="   ": expected a directory path/],
    [
      'SWITCHBOARD_ENDPOINTS_FILE',
      '',
      /SWITCHBOARD_ENDPOINTS_FILE="": expected a path to a JSON endpoint configuration/,
    ],
    [
      'SWITCHBOARD_PRODUCER_LEASE',
      '10',
      /SWITCHBOARD_PRODUCER_LEASE="10": expected a duration with a unit \(ms, s, m, h, d\) from 1s to 5m/,
    ],
    ['SWITCHBOARD_PRODUCER_LEASE', '500ms', /SWITCHBOARD_PRODUCER_LEASE="500ms": expected a duration/],
    ['SWITCHBOARD_PRODUCER_LEASE', '6m', /SWITCHBOARD_PRODUCER_LEASE="6m"/],
    ['SWITCHBOARD_PRODUCER_LEASE', 'forever', /SWITCHBOARD_PRODUCER_LEASE="forever"/],
  ])('refuse %s=%j naming the variable', (name, value, message) => {
    expect(() => loadSettings({ [name]: value })).toThrow(message);
  });
});
