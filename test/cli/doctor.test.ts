import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hideSecrets, secretValues } from '../../src/cli/doctor/secrets.js';
import { CHECKS, type DoctorOptions, runDoctorCommand } from '../../src/cli/doctor.js';
import { runCli } from '../../src/cli/index.js';
import { loadSettings, readSettings } from '../../src/settings.js';
import { openStorage } from '../../src/storage/database.js';
import { MIGRATION_NAMES } from '../../src/storage/migrations.js';
import { VERSION } from '../../src/version.js';
import { engine, freshDatabase, startTestApp, type TestApp } from '../fixture.js';
import { databaseEnv, memoryIo, runSwitchboard, SLOW } from './run-cli.js';

/** Secret settings set to markers: none may appear in any output. */
const JWT_SECRET = 'doctor-jwt-secret-marker-Qw8rT5yU2iO9pA3s';
const METRICS_TOKEN = 'doctor-metrics-marker-Zx7cV4bN';
const REDIS_PASSWORD = 'doctor-redis-password-Lk3jH6';
const DATABASE_PASSWORD = 'doctor-db-password-Mn5bV8';
const SECRETS = [JWT_SECRET, METRICS_TOKEN, REDIS_PASSWORD, DATABASE_PASSWORD];

const testRedisUrl = process.env.SWITCHBOARD_TEST_REDIS_URL;

interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail' | 'skipped';
  finding: string;
  fix: string | null;
}

interface Report {
  status: number;
  stdout: string;
  stderr: string;
  /** The parsed JSON, for runs with --json. */
  checks: Map<string, Check>;
  ok: boolean | undefined;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A built Config UI as far as the server's check goes (an index.html), whether or not `npm run build` ran. */
let configUiDir: string;
beforeAll(() => {
  configUiDir = mkdtempSync(join(tmpdir(), 'sb-doctor-ui-'));
  writeFileSync(join(configUiDir, 'index.html'), '<!doctype html><title>Config UI</title>');
});
afterAll(() => rmSync(configUiDir, { recursive: true, force: true }));

/** Where no server listens: port 1 is privileged, and nothing serves HTTP on it. */
const UNREACHABLE = 'http://127.0.0.1:1';

/**
 * `switchboard doctor …` through the command line's dispatch, with exactly `env` (nothing of this
 * process's own), the secrets set to markers and a built Config UI unless `env` says otherwise.
 */
async function doctor(
  args: string[],
  env: Record<string, string | undefined>,
  options?: DoctorOptions,
): Promise<Report> {
  const { io, output } = memoryIo({
    SWITCHBOARD_JWT_SECRET: JWT_SECRET,
    SWITCHBOARD_METRICS_TOKEN: METRICS_TOKEN,
    SWITCHBOARD_CONFIG_UI_DIR: configUiDir,
    ...env,
  });
  const status = options ? await runDoctorCommand(args, io, options) : await runCli(['doctor', ...args], io);
  const report: Report = { status, ...output, checks: new Map(), ok: undefined };
  for (const secret of SECRETS) {
    expect(output.stdout).not.toContain(secret);
    expect(output.stderr).not.toContain(secret);
  }
  if (args.includes('--json')) {
    const parsed = JSON.parse(output.stdout) as { checks: Check[]; ok: boolean };
    report.checks = new Map(parsed.checks.map((check) => [check.name, check]));
    report.ok = parsed.ok;
  }
  return report;
}

const check = (report: Report, name: string): Check => {
  const found = report.checks.get(name);
  if (!found) throw new Error(`no check ${name} in ${report.stdout}`);
  return found;
};

/** A data directory that `switchboard migrate` has made, with the settings that name it. */
async function migratedDatabase(): Promise<ReturnType<typeof databaseEnv>> {
  const database = await freshDatabase();
  cleanups.push(() => database.drop());
  const env = databaseEnv(database);
  const { io } = memoryIo(env);
  expect(await runCli(['migrate'], io)).toBe(0);
  return env;
}

/** Runs `statement` on the database the settings name, as another program would. */
async function onDatabase(env: Record<string, string>, statement: ReturnType<typeof sql>): Promise<void> {
  const storage = openStorage(loadSettings(env).database, 1);
  try {
    await statement.execute(storage.db);
  } finally {
    await storage.close();
  }
}

describe('switchboard doctor', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  /** The settings of the test app's deployment, as its operator would give them to the doctor. */
  const deployment = (): Record<string, string> => ({
    ...databaseEnv({
      url:
        app.settings.database.engine === 'sqlite'
          ? `sqlite:${app.settings.database.file}`
          : app.settings.database.url,
      dataDir: app.settings.dataDir,
    }),
    SWITCHBOARD_PUBLIC_URL: app.url,
    ...(testRedisUrl ? { SWITCHBOARD_REDIS_URL: testRedisUrl } : {}),
  });

  it('finds nothing wrong with a healthy deployment: every check ok, or skipped for what is not configured', async () => {
    expect(statSync(app.settings.dataDir).mode & 0o777).toBe(0o700);
    const report = await doctor(['--json', '--url', app.url], deployment());
    expect(report.status).toBe(0);
    expect(report.ok).toBe(true);
    expect([...report.checks.keys()]).toEqual([...CHECKS]);
    const notConfigured = new Set([
      ...(testRedisUrl ? [] : ['redis', 'clock-skew', 'shared-public-url']),
      ...(engine === 'postgres' ? ['database-file'] : []),
    ]);
    for (const found of report.checks.values()) {
      expect(found, found.name).toMatchObject({
        status: notConfigured.has(found.name) ? 'skipped' : 'ok',
        fix: null,
      });
    }
    expect(check(report, 'migrations').finding).toBe(
      `all ${MIGRATION_NAMES.length} migrations applied (latest ${MIGRATION_NAMES.at(-1)})`,
    );
    expect(check(report, 'server').finding).toContain(`Switchboard ${VERSION} answers at ${app.url}`);
    expect(check(report, 'readiness').finding).toMatch(/^ready \(startup ok, database ok/);

    // The same run for a person: one line per check with its mark, then the summary.
    const human = await doctor(['--url', app.url], deployment());
    expect(human.status).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`switchboard doctor ${VERSION}`);
    expect(lines.slice(1, -1).map((line) => /^\[.{4}\] (\S+)/.exec(line)?.[1])).toEqual([...CHECKS]);
    for (const line of lines.slice(1, -1)) expect(line).toMatch(/^\[( ok |skip)\] /);
    expect(lines.at(-1)).toMatch(/^0 failed, 0 warnings, \d+ ok, \d+ skipped: all good$/);
    expect(human.stderr).toBe('');
  });

  it('fails on a database never migrated, naming switchboard migrate; passes once it is', async () => {
    const database = await freshDatabase();
    cleanups.push(() => database.drop());
    const env = { ...databaseEnv(database), SWITCHBOARD_PUBLIC_URL: UNREACHABLE };
    const before = await doctor(['--json'], env);
    expect(before.status).toBe(1);
    expect(before.ok).toBe(false);
    expect(check(before, 'migrations')).toMatchObject({
      status: 'fail',
      finding: expect.stringMatching(/^none of the 8 migrations applied/),
      fix: expect.stringContaining('run `switchboard migrate`'),
    });
    // Looking changes nothing: SQLite's file is not created by the doctor.
    if (engine === 'sqlite') {
      expect(check(before, 'database')).toMatchObject({
        status: 'fail',
        fix: expect.stringContaining('migrate'),
      });
      expect(statSync(database.dataDir).isDirectory()).toBe(true);
      expect(() => statSync(join(database.dataDir, 'switchboard.db'))).toThrow();
    }
    const human = await doctor([], env);
    expect(human.stdout).toMatch(
      /^\[FAIL\] migrations +none of the 8 migrations applied.*run `switchboard migrate`/m,
    );

    const { io } = memoryIo(databaseEnv(database));
    expect(await runCli(['migrate'], io)).toBe(0);
    const after = await doctor(['--json'], env);
    expect(check(after, 'database').status).toBe('ok');
    expect(check(after, 'migrations').status).toBe('ok');
  });

  it('names the migrations still to apply, and fails on a database a newer Switchboard migrated', async () => {
    const env = { ...(await migratedDatabase()), SWITCHBOARD_PUBLIC_URL: UNREACHABLE };
    const last = MIGRATION_NAMES.at(-1) as string;
    await onDatabase(env, sql`delete from kysely_migration where name = ${last}`);
    const pending = await doctor(['--json'], env);
    expect(pending.status).toBe(1);
    expect(check(pending, 'migrations')).toMatchObject({
      status: 'fail',
      finding: `1 of ${MIGRATION_NAMES.length} migrations not applied (${last})`,
      fix: expect.stringContaining('switchboard migrate'),
    });

    await onDatabase(
      env,
      sql`insert into kysely_migration (name, timestamp) values (${last}, ${new Date().toISOString()}), ('9999_from_the_future', ${new Date().toISOString()})`,
    );
    const newer = await doctor(['--json'], env);
    expect(newer.status).toBe(1);
    expect(check(newer, 'migrations')).toMatchObject({
      status: 'fail',
      finding: expect.stringContaining('1 migration(s) this build does not know (9999_from_the_future)'),
    });
  });

  it('warns about a data directory open to other users, with the chmod to run, and changes nothing', async () => {
    const env = { ...(await migratedDatabase()), SWITCHBOARD_PUBLIC_URL: UNREACHABLE };
    const dataDir = env.SWITCHBOARD_DATA_DIR;
    chmodSync(dataDir, 0o755);
    const report = await doctor(['--json'], env);
    expect(report.status).toBe(0);
    expect(check(report, 'data-dir')).toEqual({
      name: 'data-dir',
      status: 'warn',
      finding: `${dataDir} is open to other users (mode 0755)`,
      fix: `chmod 700 ${dataDir}`,
    });
    expect(statSync(dataDir).mode & 0o777).toBe(0o755);
    if (engine === 'sqlite') {
      const file = join(dataDir, 'switchboard.db');
      chmodSync(file, 0o644);
      const again = await doctor(['--json'], env);
      expect(check(again, 'database-file')).toMatchObject({
        status: 'warn',
        finding: expect.stringContaining(`${file} is open to other users (mode 0644)`),
        fix: expect.stringContaining(`chmod 600 ${file}`),
      });
      expect(statSync(file).mode & 0o777).toBe(0o644);
    }
    const human = await doctor([], env);
    expect(human.stdout).toContain(`[warn] data-dir`);
    expect(human.stdout).toContain(`. Fix: chmod 700 ${dataDir}`);
  });

  it('warns, without failing, when no server answers at the URL', async () => {
    const env = { ...(await migratedDatabase()) };
    const started = Date.now();
    const report = await doctor(['--json', '--url', UNREACHABLE], env);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(report.status).toBe(0);
    expect(check(report, 'server')).toMatchObject({
      status: 'warn',
      finding: expect.stringMatching(new RegExp(`^no server answered at ${UNREACHABLE} \\(.*ECONNREFUSED`)),
      fix: expect.stringContaining('start it, or pass --url'),
    });
    expect(check(report, 'public-url')).toMatchObject({ status: 'skipped', finding: 'no server answered' });
    expect(check(report, 'readiness').status).toBe('skipped');
  });

  it('warns when the server answers at another URL than SWITCHBOARD_PUBLIC_URL', async () => {
    const report = await doctor(['--json', '--url', app.url], {
      ...deployment(),
      SWITCHBOARD_PUBLIC_URL: 'http://localhost:1',
    });
    expect(report.status).toBe(0);
    expect(check(report, 'public-url')).toMatchObject({
      status: 'warn',
      finding: expect.stringContaining(
        `the server answered at ${app.url}, but SWITCHBOARD_PUBLIC_URL is http://localhost:1`,
      ),
      fix: `set SWITCHBOARD_PUBLIC_URL=${app.url} on the server and here, or pass the public URL to --url`,
    });
  });

  it('exits 78 on invalid settings, with the message, every other check skipped', async () => {
    const report = await doctor(['--json'], { SWITCHBOARD_DATA_DIR: tempDir('sb-doctor-'), PORT: 'eighty' });
    expect(report.status).toBe(78);
    expect(report.ok).toBe(false);
    expect(check(report, 'settings')).toMatchObject({
      status: 'fail',
      finding: 'Invalid setting PORT="eighty": expected an integer from 0 to 65535',
    });
    expect([...report.checks.values()].slice(1).map((c) => c.status)).toEqual(
      CHECKS.slice(1).map(() => 'skipped'),
    );
    // A secret that is invalid is named, never shown.
    const secret = await doctor([], {
      SWITCHBOARD_DATA_DIR: tempDir('sb-doctor-'),
      SWITCHBOARD_JWT_SECRET: 'short',
    });
    expect(secret.status).toBe(78);
    expect(secret.stdout).toMatch(/^\[FAIL\] settings +Invalid setting SWITCHBOARD_JWT_SECRET=\(hidden\)/m);
    expect(secret.stdout).not.toContain('short');
  });

  it('fails, within a few seconds and with the reason, on a database that cannot be reached', async () => {
    const started = Date.now();
    const report = await doctor(['--json', '--url', UNREACHABLE], {
      SWITCHBOARD_DATA_DIR: tempDir('sb-doctor-'),
      SWITCHBOARD_DATABASE_URL: `postgres://switchboard:${DATABASE_PASSWORD}@127.0.0.1:1/x`,
    });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(report.status).toBe(1);
    expect(check(report, 'database')).toMatchObject({
      status: 'fail',
      finding: 'postgres://switchboard:****@127.0.0.1:1/x cannot be read: connect ECONNREFUSED 127.0.0.1:1',
      fix: expect.stringContaining('SWITCHBOARD_DATABASE_URL'),
    });
    expect(check(report, 'migrations')).toMatchObject({ status: 'skipped' });
  });

  it('fails fast on a Redis that does not answer, never showing its URL', async () => {
    const env = await migratedDatabase();
    const started = Date.now();
    const report = await doctor(['--json', '--url', UNREACHABLE], {
      ...env,
      SWITCHBOARD_PUBLIC_URL: 'https://switchboard.example',
      SWITCHBOARD_REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:1`,
    });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(report.status).toBe(1);
    expect(check(report, 'redis')).toMatchObject({
      status: 'fail',
      finding: 'SWITCHBOARD_REDIS_URL does not answer: connect ECONNREFUSED 127.0.0.1:1',
    });
    expect(check(report, 'clock-skew')).toMatchObject({
      status: 'skipped',
      finding: 'Redis does not answer',
    });
    expect(report.stdout).not.toContain('redis://');
  });

  it('prints the JSON shape: {checks: [{name, status, finding, fix}], ok}', async () => {
    const { stdout } = await doctor(['--json', '--url', UNREACHABLE], await migratedDatabase());
    const parsed = JSON.parse(stdout);
    expect(Object.keys(parsed)).toEqual(['checks', 'ok']);
    expect(parsed.ok).toBe(true);
    for (const found of parsed.checks) {
      expect(Object.keys(found)).toEqual(['name', 'status', 'finding', 'fix']);
      expect(['ok', 'warn', 'fail', 'skipped']).toContain(found.status);
      expect(typeof found.finding).toBe('string');
      expect(found.fix === null || typeof found.fix === 'string').toBe(true);
      expect(found.fix === null).toBe(found.status === 'ok' || found.status === 'skipped');
    }
  });

  it('warns about what the server warns about at start: plain HTTP on the network, no Config UI', async () => {
    const report = await doctor(['--json', '--url', UNREACHABLE], {
      ...(await migratedDatabase()),
      SWITCHBOARD_PUBLIC_URL: 'http://dashboards.example',
      SWITCHBOARD_CONFIG_UI_DIR: tempDir('sb-doctor-no-ui-'),
    });
    expect(report.status).toBe(0);
    expect(check(report, 'https')).toMatchObject({
      status: 'warn',
      finding: expect.stringContaining('http://dashboards.example is plain HTTP on the network'),
    });
    expect(check(report, 'config-ui')).toMatchObject({
      status: 'warn',
      finding: expect.stringContaining('has no index.html'),
      fix: expect.stringContaining('npm run build'),
    });
  });

  it('exits 2 on bad usage', async () => {
    const bad = await doctor(['--url', 'ftp://x'], {});
    expect(bad).toMatchObject({ status: 2, stdout: '' });
    expect(bad.stderr).toContain('--url "ftp://x" is not an http:// or https:// URL');
    expect((await doctor(['extra'], {})).status).toBe(2);
    expect((await doctor(['--help'], {})).stdout).toContain(
      'Usage: switchboard doctor [--json] [--url <base url>]',
    );
  });
});

/** Servers that are not this build's Switchboard, or not ready: what the real one cannot be made to be. */
describe('switchboard doctor against other servers', () => {
  let server: Server;
  let url: string;
  let answer: (path: string) => { status: number; body: unknown; headers?: Record<string, string> };

  beforeAll(async () => {
    server = createServer((request, response) => {
      const { status, body, headers } = answer(request.url ?? '/');
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(JSON.stringify(body));
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const run = async () =>
    doctor(['--json', '--url', url], {
      SWITCHBOARD_DATA_DIR: tempDir('sb-doctor-'),
      SWITCHBOARD_PUBLIC_URL: url,
    });

  it('fails when something else answers', async () => {
    answer = () => ({ status: 404, body: { message: 'Not Found' } });
    const report = await run();
    expect(check(report, 'server')).toMatchObject({
      status: 'fail',
      finding: `${url}/healthz answered HTTP 404, not Switchboard's health answer: something else answers there`,
    });
  });

  it('warns about another version, and fails when the server is not ready', async () => {
    answer = (path) =>
      path === '/healthz'
        ? { status: 200, body: { status: 'ok', version: '0.0.1', uptime_seconds: 7300 } }
        : { status: 503, body: { status: 503, code: 8001, checks: { database: { status: 'error' } } } };
    const report = await run();
    expect(check(report, 'server')).toMatchObject({
      status: 'warn',
      finding: `Switchboard 0.0.1 answers at ${url} (up 2 h), but this command is version ${VERSION}`,
    });
    expect(check(report, 'readiness')).toMatchObject({
      status: 'fail',
      finding: expect.stringContaining('the server is not ready (database error)'),
    });
  });

  it('warns when the server considers itself at HTTPS but is asked over plain HTTP here', async () => {
    answer = (path) =>
      path === '/healthz'
        ? {
            status: 200,
            body: { status: 'ok', version: VERSION, uptime_seconds: 1 },
            headers: { 'strict-transport-security': 'max-age=31536000' },
          }
        : { status: 200, body: { status: 'ready', checks: { database: { status: 'ok' } }, degraded: [] } };
    const report = await run();
    expect(check(report, 'public-url')).toMatchObject({
      status: 'warn',
      finding: expect.stringContaining('considers itself at HTTPS (Strict-Transport-Security)'),
    });
    expect(check(report, 'readiness')).toMatchObject({ status: 'ok', finding: 'ready (database ok)' });
  });

  it('follows a redirect and warns that the URL is not where the server answers', async () => {
    answer = (path) =>
      path === '/healthz'
        ? { status: 302, body: {}, headers: { location: '/moved/healthz' } }
        : path === '/moved/healthz'
          ? { status: 200, body: { status: 'ok', version: VERSION, uptime_seconds: 1 } }
          : { status: 200, body: { status: 'ready', checks: { database: { status: 'ok' } }, degraded: [] } };
    const report = await run();
    expect(check(report, 'server')).toMatchObject({
      status: 'ok',
      finding: expect.stringContaining(`answers at ${url}/moved`),
    });
    expect(check(report, 'public-url')).toMatchObject({
      status: 'warn',
      finding: expect.stringContaining(`${url} redirects to ${url}/moved`),
    });
  });

  it('gives up on a server that does not answer, with a warning', async () => {
    const silent = createServer(() => {}).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    cleanups.push(() => {
      silent.closeAllConnections();
      return new Promise((resolve) => silent.close(resolve));
    });
    const started = Date.now();
    const report = await doctor(
      ['--json', '--url', `http://127.0.0.1:${(silent.address() as AddressInfo).port}`],
      {
        SWITCHBOARD_DATA_DIR: tempDir('sb-doctor-'),
      },
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(check(report, 'server')).toMatchObject({
      status: 'warn',
      finding: expect.stringMatching(/^no server answered at .* \(no answer within 3000 ms\)$/),
    });
  });
});

describe('the report: secrets', () => {
  it('hides every secret a finding might carry: secret settings from the environment or the file, URL passwords', () => {
    const file = join(tempDir('sb-doctor-file-'), 'switchboard.yaml');
    writeFileSync(file, `metrics_token: ${METRICS_TOKEN}\n`);
    const databasePassword = `${DATABASE_PASSWORD}/+`;
    const env = {
      SWITCHBOARD_CONFIG_FILE: file,
      SWITCHBOARD_JWT_SECRET: JWT_SECRET,
      SWITCHBOARD_REDIS_URL: `redis://:${REDIS_PASSWORD}@redis.internal:6379`,
      SWITCHBOARD_DATABASE_URL: `postgres://switchboard:${encodeURIComponent(databasePassword)}@db/x`,
    };
    const secrets = [
      JWT_SECRET,
      METRICS_TOKEN,
      REDIS_PASSWORD,
      databasePassword,
      encodeURIComponent(databasePassword),
    ];
    const carried = `${secrets.join(' ')} ${env.SWITCHBOARD_REDIS_URL} ${env.SWITCHBOARD_DATABASE_URL}`;
    const [shown] = hideSecrets(
      [{ name: 'database', status: 'fail', finding: carried, fix: carried }],
      secretValues(env, readSettings(env)),
    );
    for (const secret of secrets) expect(JSON.stringify(shown)).not.toContain(secret);
    // The Redis URL is a secret as a whole; of the database URL, only the password.
    expect(shown?.finding).not.toContain('redis.internal');
    expect(shown?.finding).toContain('postgres://switchboard:(hidden)@db/x');
    // Without the settings (they did not load), what the environment holds is still hidden.
    const [early] = hideSecrets(
      [{ name: 'settings', status: 'fail', finding: carried, fix: null }],
      secretValues(env, undefined),
    );
    for (const secret of secrets.filter((s) => s !== METRICS_TOKEN))
      expect(early?.finding).not.toContain(secret);
  });
});

describe.runIf(testRedisUrl)('switchboard doctor with Redis', () => {
  const run = async (now?: () => number) =>
    doctor(
      ['--json', '--url', UNREACHABLE],
      {
        ...(await migratedDatabase()),
        SWITCHBOARD_PUBLIC_URL: 'https://switchboard.example',
        SWITCHBOARD_REDIS_URL: testRedisUrl,
      },
      now ? { now } : undefined,
    );

  it('finds Redis answering and the clocks agreeing', async () => {
    const report = await run();
    expect(report.status).toBe(0);
    expect(check(report, 'redis')).toMatchObject({
      status: 'ok',
      finding: expect.stringContaining('answers PING'),
    });
    expect(check(report, 'clock-skew')).toMatchObject({
      status: 'ok',
      finding: expect.stringMatching(/^this machine's clock and Redis's agree within \d+ ms/),
    });
  });

  it('warns over a second of skew and fails over five, saying why', async () => {
    const behind = await run(() => Date.now() - 2500);
    expect(behind.status).toBe(0);
    expect(check(behind, 'clock-skew')).toMatchObject({
      status: 'warn',
      finding: expect.stringMatching(/^this machine's clock is 2\.[45]\d\d s behind Redis's .*, over 1 s$/),
      fix: expect.stringContaining('tokens expire early or live on'),
    });
    const ahead = await run(() => Date.now() + 7000);
    expect(ahead.status).toBe(1);
    expect(check(ahead, 'clock-skew')).toMatchObject({
      status: 'fail',
      finding: expect.stringMatching(
        /^this machine's clock is (6\.9|7\.0)\d\d s ahead of Redis's .*, over the 5 s allowed$/,
      ),
    });
  });
});

describe('switchboard doctor as a command', SLOW, () => {
  it('exits with its status from the real entry point', async () => {
    const dataDir = tempDir('sb-doctor-');
    const invalid = await runSwitchboard(['doctor'], {
      env: { SWITCHBOARD_DATA_DIR: dataDir, PORT: 'eighty', SWITCHBOARD_CONFIG_FILE: undefined },
    });
    expect(invalid.status).toBe(78);
    expect(invalid.stdout).toContain('[FAIL] settings');
    const fresh = await runSwitchboard(['doctor', '--url', UNREACHABLE], {
      env: {
        SWITCHBOARD_DATA_DIR: dataDir,
        SWITCHBOARD_DATABASE_URL: undefined,
        SWITCHBOARD_REDIS_URL: undefined,
      },
    });
    expect(fresh.status).toBe(1);
    expect(fresh.stdout).toMatch(/^\[FAIL\] migrations .*switchboard migrate/m);
  });
});
