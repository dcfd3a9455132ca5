import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import pg from 'pg';
import { createApp, type Switchboard } from '../src/app.js';
import { loadSettings, type Settings } from '../src/settings.js';

export const postgresUrl = process.env.SWITCHBOARD_TEST_DATABASE_URL;
export const engine = postgresUrl ? 'postgres' : 'sqlite';

/** A fresh database for one test app: a new file for SQLite, a new schema for PostgreSQL. */
export async function freshDatabase(): Promise<{ url: string; dataDir: string; drop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-test-'));
  if (!postgresUrl) {
    return {
      url: `sqlite:${join(dataDir, 'switchboard.db')}`,
      dataDir,
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const schema = `sb_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = new URL(postgresUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    dataDir,
    async drop() {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestApp {
  app: Switchboard;
  settings: Settings;
  url: string;
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** Builds and starts an app on a fresh database, listening on a loopback port. */
export async function startTestApp(
  options: { env?: Record<string, string>; routes?: FastifyPluginAsync } = {},
): Promise<TestApp> {
  const database = await freshDatabase();
  const settings = loadSettings({
    HOST: '127.0.0.1',
    PORT: '0',
    SWITCHBOARD_DATA_DIR: database.dataDir,
    SWITCHBOARD_DATABASE_URL: database.url,
    SWITCHBOARD_LOG_LEVEL: 'info',
    ...options.env,
  });
  const logs: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  const app = await createApp(settings, { logStream, routes: options.routes });
  const url = await app.start();
  return {
    app,
    settings,
    url,
    logs,
    async close() {
      await app.shutdown();
      await database.drop();
    },
  };
}

export const problemShape = {
  isProblem(value: unknown): boolean {
    if (value === null || typeof value !== 'object') return false;
    const p = value as Record<string, unknown>;
    return (
      typeof p.type === 'string' &&
      typeof p.title === 'string' &&
      typeof p.status === 'number' &&
      typeof p.detail === 'string' &&
      typeof p.instance === 'string' &&
      typeof p.error_code === 'number' &&
      typeof p.error_category === 'string' &&
      typeof p.retryable === 'boolean' &&
      (p.retry_after === null || typeof p.retry_after === 'number')
    );
  },
  isEnvelope(value: unknown): boolean {
    if (value === null || typeof value !== 'object') return false;
    const e = value as Record<string, unknown>;
    return (
      e.data === null &&
      e.success === false &&
      typeof e.error === 'string' &&
      problemShape.isProblem(e.error_detail)
    );
  },
};
