import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { freshDatabase, startTestApp } from '../fixture.js';
import { databaseEnv, runInProcess, runSwitchboard, SLOW } from './run-cli.js';

const tsx = ['--import', 'tsx', 'src/main.ts'];

/** The real entry point, src/main.ts in a process of its own: what runCli in-process cannot show. */
describe('switchboard command', SLOW, () => {
  it('prints its version and help', async () => {
    const [version, help] = await Promise.all([runSwitchboard(['--version']), runSwitchboard(['--help'])]);
    expect(version).toEqual({ status: 0, stdout: '0.1.0\n', stderr: '' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('migrate');
  });

  it('stops on an invalid setting, naming it', async () => {
    const result = await runSwitchboard(['serve'], { env: { PORT: 'eighty' } });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('PORT="eighty": expected an integer');
  });

  it('shuts down cleanly on SIGTERM', async () => {
    const database = await freshDatabase();
    const child: ChildProcess = spawn(process.execPath, [...tsx, 'serve'], {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        ...databaseEnv(database),
      },
    });
    try {
      const stdout = child.stdout;
      if (!stdout) throw new Error('no stdout');
      let output = '';
      stdout.on('data', (chunk) => {
        output += String(chunk);
      });
      // The banner on standard output follows the log line; wait for both.
      while (!/Switchboard listening on (http:\/\/[\d.:]+)[\s\S]*Stop with Ctrl\+C/.test(output)) {
        await once(stdout, 'data');
      }
      const url = /Switchboard listening on (http:\/\/[\d.:]+)/.exec(output)?.[1];
      expect((await request(`${url}/healthz`)).statusCode).toBe(200);
      // PORT=0: the banner shows the port the server got, not 0.
      expect(output).toContain(`Switchboard is running at http://localhost:${new URL(String(url)).port}\n`);
      expect(output).toContain(
        `No admin yet. Create the first one with the setup token (in ${database.dataDir}/setup-token)`,
      );
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      expect(output).toContain('shutdown complete');
    } finally {
      child.kill('SIGKILL');
      await database.drop();
    }
  });
});

describe('switchboard command in-process', () => {
  it('exits 2 on an unknown command, with the help', async () => {
    const run = await runInProcess(['frobnicate']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^unknown command "frobnicate"\n\nswitchboard /);
    expect(run.stdout).toBe('');
  });

  it('migrates a database', async () => {
    const database = await freshDatabase();
    try {
      const env = databaseEnv(database);
      expect((await runInProcess(['migrate'], { env })).stdout).toContain('applied: 0001_instance_secrets');
      expect(await runInProcess(['migrate'], { env })).toEqual({
        status: 0,
        stdout: 'database is up to date\n',
        stderr: '',
      });
    } finally {
      await database.drop();
    }
  });
});

describe('graceful shutdown', () => {
  function appWithSlowRoute(graceMs: number, delayMs: number) {
    return startTestApp({
      env: { SWITCHBOARD_SHUTDOWN_GRACE_MS: String(graceMs), SWITCHBOARD_LOG_LEVEL: 'silent' },
      routes: async (r) => {
        r.get('/slow', { config: { access: { public: true } } }, async () => {
          await new Promise((resolve) => setTimeout(resolve, delayMs));
          return { done: true };
        });
      },
    });
  }

  it('finishes in-flight requests, refuses new ones, closes the database', async () => {
    const t = await appWithSlowRoute(5000, 300);
    const inFlight = request(`${t.url}/api/v1/slow`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stopped = t.app.shutdown();
    const res = await inFlight;
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ done: true });
    await stopped;
    await expect(request(`${t.url}/healthz`)).rejects.toThrow();
    await expect(t.app.storage.ping()).rejects.toThrow();
    await t.close();
  });

  it('cuts requests that outlive the grace period', async () => {
    const t = await appWithSlowRoute(100, 5000);
    const inFlight = request(`${t.url}/api/v1/slow`).then(
      () => 'answered',
      () => 'cut',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await t.app.shutdown();
    expect(Date.now() - started).toBeLessThan(4000);
    expect(await inFlight).toBe('cut');
    await t.close();
  });
});

describe('malformed HTTP', () => {
  it('gets a problem document, not a bare socket close', async () => {
    const t = await startTestApp({ env: { SWITCHBOARD_LOG_LEVEL: 'silent' } });
    const url = new URL(t.url);
    try {
      const socket = connect(Number(url.port), url.hostname);
      await once(socket, 'connect');
      socket.write('GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
      let raw = '';
      socket.on('data', (chunk) => {
        raw += String(chunk);
      });
      await once(socket, 'close');
      expect(raw).toMatch(/^HTTP\/1.1 400/);
      const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
      expect(body.error_detail.error_code).toBe(2001);
    } finally {
      await t.close();
    }
  });
});
