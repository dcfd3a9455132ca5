import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/index.js';
import { ConfigStore } from '../src/endpoints/store.js';
import { withoutPassword } from '../src/platform/secrets.js';
import { assembleRateLimits } from '../src/ratelimit/index.js';
import { StartupError, startServer } from '../src/server.js';
import { loadSettings, SettingsError } from '../src/settings.js';
import { LOCK_FILE } from '../src/storage/data-dir-lock.js';
import { shownDatabase } from '../src/storage/database.js';
import { memoryIo } from './cli/run-cli.js';
import { exampleEnv, minimalConfig } from './endpoints/config-fixture.js';
import { startTestApp, TEST_CONTEXT, type TestApp } from './fixture.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A data directory of its own, removed after the test. */
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-start-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The environment of a server on SQLite in `dir` (whatever engine the other suites use). */
const envOf = (dir: string, extra: Record<string, string> = {}) => ({
  HOST: '127.0.0.1',
  PORT: '0',
  SWITCHBOARD_DATA_DIR: dir,
  SWITCHBOARD_DATABASE_URL: `sqlite:${join(dir, 'switchboard.db')}`,
  SWITCHBOARD_LOG_LEVEL: 'silent',
  ...extra,
});

const lockIn = (dir: string) => join(dir, LOCK_FILE);

/** This process's environment without its settings, which the test's own replace. */
const inherited = () =>
  Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(SWITCHBOARD_|PORT$|HOST$)/.test(name)),
  );

async function serverOn(dir: string, extra: Record<string, string> = {}) {
  const started = await startServer(loadSettings(envOf(dir, extra)));
  cleanups.push(() => started.app.shutdown());
  return started;
}

/** A port something else listens on. */
async function occupiedPort(): Promise<number> {
  const holder: Server = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => holder.close(resolve)));
  const address = holder.address();
  if (address === null || typeof address !== 'object') throw new Error('no port');
  return address.port;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (address === null || typeof address !== 'object') throw new Error('no port');
  return address.port;
}

async function refusal(start: Promise<unknown>): Promise<Error> {
  const error = await start.then(
    () => {
      throw new Error('the server started');
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

describe('one server per SQLite data directory', () => {
  it('refuses a second server in another process, naming its PID, and starts once that one stops', async () => {
    const dir = dataDir();
    // `switchboard serve` as an operator starts it.
    const first: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
      env: { ...inherited(), ...envOf(dir, { SWITCHBOARD_LOG_LEVEL: 'info' }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => first.exitCode === null && first.kill('SIGKILL'));
    let output = '';
    first.stdout?.setEncoding('utf8');
    first.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    await new Promise<void>((resolve, reject) => {
      first.stdout?.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('Switchboard is running')) resolve();
      });
      first.once('exit', () => reject(new Error(`serve exited: ${output}`)));
    });
    expect(readFileSync(lockIn(dir), 'utf8').trim()).toBe(String(first.pid));

    const error = await refusal(serverOn(dir));
    expect(error).toBeInstanceOf(StartupError);
    expect(error.message).toContain(`process ${first.pid}`);
    expect(error.message).toContain(dir);
    expect(error.message).toContain('SWITCHBOARD_DATA_DIR');
    // The command line works beside it: it takes no lock.
    const { io, output: text } = memoryIo(envOf(dir));
    expect(await runCli(['user', 'list'], io)).toBe(0);
    expect(text.stderr).toBe('');

    first.kill('SIGTERM');
    const [code] = await once(first, 'exit');
    expect(code).toBe(0);
    expect(existsSync(lockIn(dir))).toBe(false);
    const second = await serverOn(dir);
    expect(readFileSync(lockIn(dir), 'utf8').trim()).toBe(String(process.pid));
    await second.app.shutdown();
    expect(existsSync(lockIn(dir))).toBe(false);
  }, 60_000);

  it('refuses a second server in the same process, and takes the directory once the first shuts down', async () => {
    const dir = dataDir();
    const first = await serverOn(dir);
    const error = await refusal(serverOn(dir));
    expect(error.message).toContain(`process ${process.pid} (this one)`);
    // The refused start changed nothing: the first still holds the directory and answers.
    expect(readFileSync(lockIn(dir), 'utf8').trim()).toBe(String(process.pid));
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    await first.app.shutdown();
    const second = await serverOn(dir);
    expect((await fetch(`${second.url}/readyz`)).status).toBe(200);
  });

  it('takes over a lock whose process is gone', async () => {
    const dir = dataDir();
    const gone = spawn(process.execPath, ['-e', '']);
    await once(gone, 'exit');
    writeFileSync(lockIn(dir), `${gone.pid}\n`);
    const { app } = await serverOn(dir);
    expect(readFileSync(lockIn(dir), 'utf8').trim()).toBe(String(process.pid));
    await app.shutdown();
    expect(existsSync(lockIn(dir))).toBe(false);
  });

  it('refuses while the process a lock names runs', async () => {
    const dir = dataDir();
    // The parent of this test process: alive, and not a server this process started.
    writeFileSync(lockIn(dir), `${process.ppid}\n`);
    const error = await refusal(serverOn(dir));
    expect(error.message).toContain(`process ${process.ppid};`);
    expect(readFileSync(lockIn(dir), 'utf8').trim()).toBe(String(process.ppid));
  });
});

describe('a start that fails', () => {
  it('names PORT and another Switchboard when the port is in use, exits 78 and leaves no lock', async () => {
    const dir = dataDir();
    const port = await occupiedPort();
    const { io, output: text } = memoryIo(envOf(dir, { PORT: String(port) }));
    expect(await runCli(['serve'], io)).toBe(78);
    expect(text.stderr).toMatch(
      /^switchboard: Cannot listen on HOST=127\.0\.0\.1 PORT=\d+: the port is in use/,
    );
    expect(text.stderr).toContain(`PORT=${port}`);
    expect(text.stderr).toContain('Another Switchboard may be running');
    expect(text.stderr).toContain('set PORT to a free one');
    expect(existsSync(lockIn(dir))).toBe(false);
    // No setup token was printed for a server nobody could reach, so the next start still prints one.
    expect(text.stdout).not.toContain('setup token');
    expect(existsSync(join(dir, 'setup-token'))).toBe(false);
    // And the directory is free for the next start.
    await serverOn(dir);
    expect(existsSync(join(dir, 'setup-token'))).toBe(true);
  });

  it.each([
    [
      'a name that does not resolve',
      'nonexistent.invalid',
      /the name "nonexistent\.invalid" does not resolve/,
    ],
    ['an address of no interface here', '192.0.2.1', /"192\.0\.2\.1" is not an address of this machine/],
  ])('names HOST for %s', async (_what, host, reason) => {
    const dir = dataDir();
    const error = await refusal(serverOn(dir, { HOST: host }));
    expect(error).toBeInstanceOf(SettingsError);
    expect(error.message).toContain(`HOST=${host}`);
    expect(error.message).toMatch(reason);
    expect(error.message).toContain('set HOST to');
    expect(existsSync(lockIn(dir))).toBe(false);
  });

  it('records no recovery for the configuration a running server serves', async () => {
    const env = exampleEnv();
    const first = await startTestApp({ env, processEnv: { SWITCHBOARD_VAR_ONLY_ON_FIRST: 'x' } });
    cleanups.push(() => first.close());
    const needsVar = minimalConfig({ vars: { token: '${env:SWITCHBOARD_VAR_ONLY_ON_FIRST}' } });
    const saved = await first.app.endpoints.service.save(
      { config: needsVar, version: '1.0.0' },
      TEST_CONTEXT,
    );
    expect(saved.active).toBe(true);
    // A second start on the same database and port, without the variable: it cannot listen.
    const port = String(new URL(first.url).port);
    const failed = await refusal(
      startTestApp({ env: { ...env, PORT: port }, processEnv: {}, shareDatabaseWith: first }),
    );
    expect((failed as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    const state = await new ConfigStore(first.app.storage.db).state();
    expect(state).toMatchObject({ activeVersion: '1.0.0', recovery: false, recoveryVersion: null });
    expect(first.app.endpoints.runtime.loaded).toBe('1.0.0');
  });
});

describe('what the start says', () => {
  const listening = (t: TestApp) => t.logs.find((l) => String(l.msg).startsWith('Switchboard listening on'));
  const sharedUrlWarning = (t: TestApp) =>
    t.logs.filter((l) => l.level === 40 && String(l.msg).includes('SWITCHBOARD_PUBLIC_URL is not'));

  it('logs the database, the bus and the limiter store: memory without Redis', async () => {
    const t = await startTestApp();
    cleanups.push(() => t.close());
    expect(listening(t)).toMatchObject({
      level: 30,
      url: t.url,
      database: shownDatabase(t.settings.database),
      bus: 'memory',
      rate_limit_store: 'memory',
    });
    expect(listening(t)).not.toHaveProperty('redis');
    expect(sharedUrlWarning(t)).toEqual([]);
    const ready = await t.client().call('/readyz');
    expect(ready.body).toMatchObject({ status: 'ready', degraded: [] });
    expect(ready.body.checks).not.toHaveProperty('redis');
  });

  it('with Redis: lists it in /readyz (degraded while away), logs it without its password, warns about the public URL', async () => {
    const port = await closedPort();
    const t = await startTestApp({
      env: { SWITCHBOARD_REDIS_URL: `redis://:hunter2secret@127.0.0.1:${port}` },
    });
    cleanups.push(() => t.close());
    const ready = await t.client().call('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      status: 'ready',
      checks: { database: { status: 'ok' }, startup: { status: 'ok' }, redis: { status: 'degraded' } },
      degraded: ['redis'],
    });
    expect(listening(t)).toMatchObject({
      bus: 'redis',
      rate_limit_store: 'redis',
      redis: `redis://:****@127.0.0.1:${port}`,
    });
    expect(JSON.stringify(t.logs)).not.toContain('hunter2secret');
    const [warning] = sharedUrlWarning(t);
    expect(warning).toMatchObject({ public_url: t.settings.publicUrl });
    expect(String(warning?.msg)).toContain('same SWITCHBOARD_PUBLIC_URL');
  });

  it('does not warn about the public URL when it is set', async () => {
    const port = await closedPort();
    const t = await startTestApp({
      env: {
        SWITCHBOARD_REDIS_URL: `redis://127.0.0.1:${port}`,
        SWITCHBOARD_PUBLIC_URL: 'https://switchboard.example.com',
      },
    });
    cleanups.push(() => t.close());
    expect(sharedUrlWarning(t)).toEqual([]);
  });

  it('hides the password of a database URL', () => {
    expect(shownDatabase({ engine: 'postgres', url: 'postgres://sb:s3cret@db.internal:5432/sb' })).toBe(
      'postgres://sb:****@db.internal:5432/sb',
    );
    expect(withoutPassword('postgres://db.internal/sb?user=sb&password=s3cret')).toBe(
      'postgres://db.internal/sb?user=sb&password=****',
    );
    expect(shownDatabase({ engine: 'sqlite', file: '/var/lib/switchboard/switchboard.db' })).toBe(
      'sqlite:/var/lib/switchboard/switchboard.db',
    );
  });
});

describe('plugins declare what they need', () => {
  it('the rate limiter refuses to go before authentication, which gives it request.principal', async () => {
    const server = Fastify();
    const limits = assembleRateLimits({
      settings: loadSettings({}).limits,
      metrics: new Registry(),
      log: server.log,
    });
    await server.register(limits.plugin);
    await expect(server.register(limits.callerTier)).rejects.toThrow(
      "The decorator 'principal' required by 'switchboard-rate-limit-caller' is not present in Request",
    );
    await server.close();
    // The decorator alone is not enough: the hook that sets it must run first.
    const decorated = Fastify();
    decorated.decorateRequest('principal', null);
    await decorated.register(limits.plugin);
    await expect(decorated.register(limits.callerTier)).rejects.toThrow(
      "The dependency 'switchboard-authentication' of plugin 'switchboard-rate-limit-caller' is not registered",
    );
    await decorated.close();
  });
});
