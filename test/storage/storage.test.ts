import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { resolveSigningSecret } from '../../src/instance/service.js';
import { InstanceStore } from '../../src/instance/store.js';
import { loadSettings } from '../../src/settings.js';
import { openStorage } from '../../src/storage/database.js';
import { MIGRATION_NAMES, migrateToLatest } from '../../src/storage/migrations.js';
import { engine, freshDatabase, startTestApp, TEST_PASSWORD, type TestApp } from '../fixture.js';

function targetOf(url: string) {
  return loadSettings({ SWITCHBOARD_DATABASE_URL: url }).database;
}

describe(`storage on ${engine}`, () => {
  it('migrates once and reports nothing left to apply', async () => {
    const database = await freshDatabase();
    const storage = openStorage(targetOf(database.url));
    try {
      expect(storage.engine).toBe(engine);
      expect(await migrateToLatest(storage)).toEqual([...MIGRATION_NAMES]);
      expect(await migrateToLatest(storage)).toEqual([]);
    } finally {
      await storage.close();
      await database.drop();
    }
  });

  it('generates the signing secret once and shares it', async () => {
    const database = await freshDatabase();
    const a = openStorage(targetOf(database.url));
    const b = openStorage(targetOf(database.url));
    try {
      await migrateToLatest(a);
      const [first, second] = await Promise.all([
        resolveSigningSecret(new InstanceStore(a.db), undefined),
        resolveSigningSecret(new InstanceStore(b.db), undefined),
      ]);
      expect(first.length).toBe(32);
      expect(second.equals(first)).toBe(true);
      const configured = 'x'.repeat(40);
      expect((await resolveSigningSecret(new InstanceStore(a.db), configured)).toString()).toBe(configured);
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });

  it('reports ready, then 503 (not 500) once the database is gone', async () => {
    const t = await startTestApp();
    try {
      const ready = await request(`${t.url}/readyz`);
      expect(ready.statusCode).toBe(200);
      expect(await ready.body.json()).toMatchObject({
        status: 'ready',
        checks: { database: { status: 'ok' }, startup: { status: 'ok' } },
      });
      await t.app.storage.close();
      const down = await request(`${t.url}/readyz`);
      expect(down.statusCode).toBe(503);
      const body = (await down.body.json()) as { error_detail: { error_code: number; checks: unknown } };
      expect(body.error_detail.error_code).toBe(8001);
      expect(body.error_detail.checks).toEqual({ database: { status: 'error' }, startup: { status: 'ok' } });
    } finally {
      await t.close();
    }
  });
});

const modeOf = (path: string) => statSync(path).mode & 0o777;

/**
 * A Switchboard on SQLite in `dataDir` (whatever engine the other tests use), started under the umask most
 * systems have, which would leave new files readable by everyone.
 */
async function startOnSqlite(dataDir: string): Promise<TestApp> {
  const previous = process.umask(0o022);
  try {
    return await startTestApp({
      env: {
        SWITCHBOARD_DATA_DIR: dataDir,
        SWITCHBOARD_DATABASE_URL: `sqlite:${join(dataDir, 'switchboard.db')}`,
      },
    });
  } finally {
    process.umask(previous);
  }
}

/** A write, so that SQLite has its write-ahead log and shared-memory index on disk. */
async function setUp(t: TestApp): Promise<void> {
  const token = readFileSync(join(t.settings.dataDir, 'setup-token'), 'utf8').trim();
  const res = await t.client().call('/api/v1/auth/setup', {
    json: { username: 'root', password: TEST_PASSWORD, setup_token: token },
  });
  expect(res.status).toBe(201);
}

const warned = (t: TestApp, pattern: RegExp) =>
  t.logs.some((l) => l.level === 40 && pattern.test(String(l.msg)));

describe('files on disk', () => {
  it('creates the data directory 0700 and the SQLite files 0600, the -wal and -shm made later included', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sb-files-'));
    const dataDir = join(root, 'nested', 'data');
    const t = await startOnSqlite(dataDir);
    try {
      await setUp(t);
      const db = join(dataDir, 'switchboard.db');
      expect(modeOf(dataDir)).toBe(0o700);
      expect([db, `${db}-wal`, `${db}-shm`].map(modeOf)).toEqual([0o600, 0o600, 0o600]);
      expect(warned(t, /data director/)).toBe(false);
    } finally {
      await t.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('tightens a directory and database an earlier start left open to everyone, and says so', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sb-files-'));
    const dataDir = join(root, 'data');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    const db = join(dataDir, 'switchboard.db');
    const previous = process.umask(0o022);
    const earlier = new SQLite(db);
    earlier.pragma('journal_mode = WAL');
    earlier.exec('create table leftover (x integer)');
    process.umask(previous);
    try {
      expect(modeOf(db)).toBe(0o644);
      expect(modeOf(`${db}-wal`)).toBe(0o644);
      const t = await startOnSqlite(dataDir);
      try {
        await setUp(t);
        expect(modeOf(dataDir)).toBe(0o700);
        expect([db, `${db}-wal`, `${db}-shm`].map(modeOf)).toEqual([0o600, 0o600, 0o600]);
        expect(warned(t, new RegExp(`${dataDir}.*0755.*0700`))).toBe(true);
      } finally {
        await t.close();
      }
    } finally {
      earlier.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('leaves the mode of a directory it shares with other files, warns, and still keeps its own files 0600', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sb-files-'));
    chmodSync(root, 0o755);
    writeFileSync(join(root, 'notes.txt'), "not Switchboard's\n");
    const t = await startOnSqlite(root);
    try {
      await setUp(t);
      const db = join(root, 'switchboard.db');
      expect(modeOf(root)).toBe(0o755);
      expect([db, `${db}-wal`, `${db}-shm`].map(modeOf)).toEqual([0o600, 0o600, 0o600]);
      expect(warned(t, new RegExp(`${root}.*0755.*notes\\.txt`))).toBe(true);
    } finally {
      await t.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('cursors across instances', () => {
  it('are accepted by every instance sharing the secret, and by no other', async () => {
    const secret = { SWITCHBOARD_JWT_SECRET: 'k'.repeat(48) };
    const a = await startTestApp({ env: secret });
    const b = await startTestApp({ env: secret });
    const other = await startTestApp();
    try {
      const cursor = a.app.cursors().encode('audit', { offset: 50 });
      expect(b.app.cursors().decode(cursor, 'audit').position).toEqual({ offset: 50 });
      expect(() => other.app.cursors().decode(cursor, 'audit')).toThrow(/signature/);
    } finally {
      await Promise.all([a.close(), b.close(), other.close()]);
    }
  });
});
