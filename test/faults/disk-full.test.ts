import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN } from '../cluster/cluster-harness.js';
import { exampleFunctionsDir, minimalConfig } from '../endpoints/config-fixture.js';
import { freePort } from '../ports.js';
import { type Answer, all, auditTrail, call, must, sleep, sqliteViolations } from './fault-harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** The data directory's size: room for the database and a little more, so that filling it is quick. */
const TMPFS_SIZE = '48m';
/** The 503 of a full disk (src/platform/problem.ts). */
const DISK_FULL = 8002;

/**
 * The server as an operator runs it, its data directory a small tmpfs of its own and its log a file in it
 * (`switchboard serve >> data/server.log`): when the disk fills, the log cannot be written either.
 */
class Server {
  child: ChildProcess | null = null;
  exited: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly logFile: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  async start(): Promise<void> {
    const fd = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, [join(root, 'dist/main.js'), 'serve'], {
      env: { PATH: process.env.PATH ?? '', ...this.env, PORT: String(this.port) },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (!this.running)
        throw new Error(`the server exited before it was ready:\n${this.log().slice(-2000)}`);
      const ready = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(1000) })
        .then((res) => res.ok)
        .catch(() => false);
      if (ready) return;
      if (Date.now() > deadline)
        throw new Error(`the server was not ready in time:\n${this.log().slice(-2000)}`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGTERM');
    await this.exited;
    this.child = null;
  }
}

/** Writes `file` until the file system refuses with ENOSPC; the bytes written. */
function fill(file: string): number {
  const fd = openSync(file, 'a');
  let written = 0;
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 512]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

interface Attempted {
  key: string;
  answer: Answer;
}

/** Makes `send(i)` one after another until stopped, keeping every answer; a broken connection is kept too. */
function writes(send: (i: number) => { key: string; answer: Promise<Answer> }) {
  const answers: Attempted[] = [];
  const broken: string[] = [];
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const { key, answer } = send(i);
      try {
        answers.push({ key, answer: await answer });
      } catch (error) {
        broken.push(`${key}: ${(error as Error).message}`);
        return;
      }
    }
  })();
  return {
    answers,
    broken,
    done,
    stop: () => {
      stopped = true;
    },
    acked: () => answers.filter((a) => a.answer.status < 300).map((a) => a.key),
    refused: () => answers.filter((a) => a.answer.status === 503).map((a) => a.key),
    /** Answers that are neither a success nor the 503 of a full disk. */
    wrong: () =>
      answers
        .filter(
          (a) =>
            a.answer.status >= 300 &&
            !(a.answer.status === 503 && a.answer.body?.error_detail?.error_code === DISK_FULL),
        )
        .map((a) => `${a.key}: ${a.answer.status} ${JSON.stringify(a.answer.body)}`),
  };
}

describe('a full disk under the SQLite data directory', () => {
  let dir = '';
  let dataDir = '';
  let mounted = false;
  let server: Server;
  let functionsDir = '';
  let token = '';
  let spareKey = '';
  let changedId = '';
  const filler = () => join(dataDir, 'filler');
  const blob = 'x'.repeat(200_000);
  const acked = { keys: [] as string[], versions: [] as string[], preference: 0, changes: [] as number[] };
  const refused = { keys: [] as string[], versions: [] as string[] };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-disk-full-'));
    dataDir = join(dir, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    // Not skipped where mounting is refused: CI runs as root, and a suite that quietly tests nothing is worse.
    const mount = spawnSync(
      'mount',
      ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE},mode=0700`, 'switchboard-disk-full', dataDir],
      { encoding: 'utf8' },
    );
    if (mount.status !== 0) {
      throw new Error(
        `the disk-full test mounts a ${TMPFS_SIZE} tmpfs as the data directory and could not (it needs root, as .ci/run has): ${mount.stderr || mount.error?.message}`,
      );
    }
    mounted = true;
    functionsDir = exampleFunctionsDir();
    writeFileSync(join(dir, 'admin-password'), ADMIN.password, { mode: 0o600 });
    server = new Server(
      await freePort(),
      {
        HOST: '127.0.0.1',
        SWITCHBOARD_DATA_DIR: dataDir,
        SWITCHBOARD_DATABASE_URL: `sqlite:${join(dataDir, 'switchboard.db')}`,
        SWITCHBOARD_ADMIN_PASSWORD_FILE: join(dir, 'admin-password'),
        SWITCHBOARD_FUNCTIONS_DIR: functionsDir,
        SWITCHBOARD_LOG_LEVEL: 'info',
        SWITCHBOARD_RATE_LIMITING: 'false',
      },
      join(dataDir, 'server.log'),
    );
    await server.start();
    const login = await call(server.url, '', 'POST', '/api/v1/auth/login', ADMIN);
    expect(login.status, JSON.stringify(login.body)).toBe(200);
    token = login.body.data.access_token;
    // A key never used yet: its first use writes when it was used, which a full disk refuses.
    spareKey = (
      await must(201, server.url, token, 'POST', '/api/v1/auth/api-keys', { name: 'spare', role: 'viewer' })
    ).key;
    changedId = (
      await must(201, server.url, token, 'POST', '/api/v1/users', {
        username: 'changed',
        password: 'disk-full-Password-42',
        role: 'viewer',
        must_change_password: false,
      })
    ).id;
    await must(200, server.url, token, 'POST', '/api/v1/config/diff', { config: minimalConfig() });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    if (mounted) {
      const unmount = spawnSync('umount', [dataDir], { encoding: 'utf8' });
      if (unmount.status !== 0) spawnSync('umount', ['-l', dataDir]);
    }
    rmSync(dir, { recursive: true, force: true });
    if (functionsDir) rmSync(functionsDir, { recursive: true, force: true });
  });

  it('refuses writes with a 503 that says the disk is full, never a 500, and keeps answering reads', async () => {
    const base = server.url;
    const writers = {
      keys: writes((i) => {
        const name = `full-k${i}`;
        return {
          key: name,
          answer: call(base, token, 'POST', '/api/v1/auth/api-keys', { name, role: 'viewer' }),
        };
      }),
      versions: writes((i) => {
        const version = `1.0.${i}`;
        return {
          key: version,
          answer: call(base, token, 'POST', '/api/v1/config', {
            config: minimalConfig({ description: `save ${i}` }),
            version,
            activate: i % 4 === 0,
          }),
        };
      }),
      preferences: writes((i) => ({
        key: String(i + 1),
        answer: call(base, token, 'PATCH', '/api/v1/preferences', { counter: i + 1, blob: `${i}${blob}` }),
      })),
      changes: writes((i) => ({
        key: String(i + 1),
        answer: call(base, token, 'PATCH', `/api/v1/users/${changedId}`, {
          full_name: `change ${i + 1}`,
          role: i % 2 === 0 ? 'editor' : 'viewer',
        }),
      })),
    };
    const writing = Object.values(writers);
    /** Fills the disk under the writers; what must hold while it is full. Answers the refusals counted so far. */
    const whileFull = async (): Promise<Record<string, number>> => {
      await sleep(300);
      expect(fill(filler())).toBeGreaterThan(0);
      expect(statfsSync(dataDir).bavail).toBe(0);
      // SQLite may first write into room its files already hold; the refusals come once that is used up.
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && server.running && writing.some((w) => w.refused().length === 0)) {
        fill(filler());
        await sleep(50);
      }
      expect(server.running, `the server died:\n${server.log().slice(-3000)}`).toBe(true);
      const counted = Object.fromEntries(Object.entries(writers).map(([k, w]) => [k, w.refused().length]));

      // Reads answer while the disk is full, a key's first use (which records that use) included.
      await must(200, base, token, 'GET', '/api/v1/users');
      await must(200, base, token, 'GET', '/api/v1/config/versions');
      await must(200, base, token, 'GET', '/api/v1/preferences');
      await all(base, token, '/api/v1/audit');
      const me = await call(base, spareKey, 'GET', '/api/v1/auth/me');
      expect(me.status, JSON.stringify(me.body)).toBe(200);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      // A sign-in writes a session: refused the same way, not a 500.
      const login = await call(base, '', 'POST', '/api/v1/auth/login', ADMIN);
      expect([200, 503], JSON.stringify(login.body)).toContain(login.status);
      if (login.status === 503) expect(login.body.error_detail.error_code).toBe(DISK_FULL);
      // The writers go on a moment longer against the full disk.
      await sleep(500);
      return counted;
    };
    let counted: Record<string, number>;
    try {
      counted = await whileFull();
    } finally {
      for (const w of writing) w.stop();
      await Promise.all(writing.map((w) => w.done));
    }
    expect(server.running, `the server died:\n${server.log().slice(-3000)}`).toBe(true);
    for (const [kind, w] of Object.entries(writers)) {
      expect(w.broken, `${kind}: connections broken`).toEqual([]);
      expect(w.wrong(), `${kind}: answers other than success or the disk-full 503`).toEqual([]);
      expect(w.refused().length, `${kind}: refused while the disk was full`).toBeGreaterThan(0);
      expect(w.refused().length, `${kind}: still refused`).toBeGreaterThan(counted[kind] ?? 0);
    }
    // A save that was to activate too is saved whatever became of the activation, and says so.
    const activating = (key: string) => Number(key.split('.')[2]) % 4 === 0;
    for (const { key, answer } of writers.versions.answers.filter(
      (a) => a.answer.status === 201 && activating(a.key),
    )) {
      const { active, activation_error: why } = answer.body.data;
      expect(active || /disk is full/.test(why), `${key}: ${JSON.stringify(answer.body.data)}`).toBe(true);
    }
    const refusal = writers.preferences.answers.find((a) => a.answer.status === 503)?.answer;
    expect(refusal?.body.error_detail).toMatchObject({
      status: 503,
      error_code: DISK_FULL,
      retryable: true,
    });
    expect(refusal?.body.error).toMatch(/disk is full/);
    expect(Number(refusal?.headers['retry-after'])).toBeGreaterThan(0);

    acked.keys = writers.keys.acked();
    refused.keys = writers.keys.refused();
    acked.versions = writers.versions.acked();
    refused.versions = writers.versions.refused();
    acked.preference = Number(writers.preferences.acked().at(-1) ?? 0);
    acked.changes = writers.changes.acked().map(Number);
    // The file is whole while the disk is still full.
    expect(sqliteViolations(join(dataDir, 'switchboard.db'))).toEqual([]);
  }, 120_000);

  it('writes again once space is freed, without a restart', async () => {
    const base = server.url;
    rmSync(filler());
    const patched = await call(base, token, 'PATCH', '/api/v1/preferences', { counter: 'freed' });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    acked.keys.push(
      (await must(201, base, token, 'POST', '/api/v1/auth/api-keys', { name: 'freed', role: 'viewer' })).name,
    );
    await must(201, base, token, 'POST', '/api/v1/config', {
      config: minimalConfig({ description: 'freed' }),
      version: '2.0.0',
      activate: true,
    });
    acked.versions.push('2.0.0');
    await must(201, base, token, 'POST', '/api/v1/users', {
      username: 'after-the-disk-was-full',
      password: 'disk-full-Password-42',
      role: 'viewer',
      must_change_password: false,
    });
    const login = await call(base, '', 'POST', '/api/v1/auth/login', ADMIN);
    expect(login.status, JSON.stringify(login.body)).toBe(200);
    // The log lines the disk had no room for are counted, and said once there is room again.
    expect(server.running).toBe(true);
    expect(server.log()).toMatch(/"msg":"\d+ log lines were lost while the disk was full"/);
  }, 60_000);

  it('kept every acknowledged write and nothing refused, each with its audit record, across a restart', async () => {
    for (const restarted of [false, true]) {
      if (restarted) {
        await server.stop();
        await server.start();
        token = (await call(server.url, '', 'POST', '/api/v1/auth/login', ADMIN)).body.data.access_token;
      }
      const base = server.url;
      const label = restarted ? 'after a restart' : 'before a restart';
      const keys = await all(base, token, '/api/v1/auth/api-keys');
      const names = new Set(keys.map((k) => k.name as string));
      expect(
        acked.keys.filter((name) => !names.has(name)),
        `${label}: acknowledged keys`,
      ).toEqual([]);
      expect(
        refused.keys.filter((name) => names.has(name)),
        `${label}: refused keys`,
      ).toEqual([]);
      expect((await auditTrail(base, token, 'auth.api_key_created')).length).toBe(keys.length);
      const config = await must(200, base, token, 'GET', '/api/v1/config/versions');
      const versions = new Set((config.versions as { version: string }[]).map((v) => v.version));
      expect(
        acked.versions.filter((v) => !versions.has(v)),
        `${label}: acknowledged versions`,
      ).toEqual([]);
      expect(
        refused.versions.filter((v) => versions.has(v)),
        `${label}: refused versions`,
      ).toEqual([]);
      expect((await auditTrail(base, token, 'config.saved')).length).toBe(versions.size);
      expect(config.active).toBe('2.0.0');
      const document = await must(200, base, token, 'GET', '/api/v1/preferences');
      expect(document.counter, label).toBe('freed');
      expect(document.blob, label).toBe(`${acked.preference - 1}${blob}`);
      const changed = await must(200, base, token, 'GET', `/api/v1/users/${changedId}`);
      const last = acked.changes.at(-1) ?? 0;
      expect(changed.full_name, label).toBe(last ? `change ${last}` : null);
      const updates = (await auditTrail(base, token, 'user.updated')).filter(
        (e) => e.target?.id === changedId,
      );
      expect(
        updates.map((e) => e.detail.role.to),
        label,
      ).toEqual(acked.changes.map((n) => ((n - 1) % 2 === 0 ? 'editor' : 'viewer')));
      expect(sqliteViolations(join(dataDir, 'switchboard.db')), label).toEqual([]);
    }
  }, 60_000);
});
