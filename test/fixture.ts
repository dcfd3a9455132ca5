import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import pg from 'pg';
import { createApp, type Switchboard } from '../src/app.js';
import type { Role } from '../src/auth/roles.js';
import type { UserRecord } from '../src/auth/users-store.js';
import { loadSettings, type Settings } from '../src/settings.js';
import { Client } from './client.js';

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
  /** The origin cookie-authenticated writes must come from. */
  origin: string;
  logs: Record<string, unknown>[];
  /** A client with an empty cookie jar. */
  client(): Client;
  /** A local user made through the service (no must_change_password unless asked). */
  createUser(options?: TestUserOptions): Promise<TestUser>;
  /** Signs in through POST /auth/login; the client holds the session cookies. */
  signIn(user: Pick<TestUser, 'username' | 'password'>): Promise<SignedIn>;
  close(): Promise<void>;
}

export interface TestUserOptions {
  username?: string;
  password?: string;
  role?: Role;
  groups?: string[];
  mustChangePassword?: boolean;
}

export interface TestUser {
  record: UserRecord;
  username: string;
  password: string;
}

export interface SignedIn {
  client: Client;
  accessToken: string;
  refreshToken: string;
  /** Parsed JSON; tests inspect it field by field. */
  body: any;
}

/** The audit context of changes a test makes through the services directly. */
export const TEST_CONTEXT = { actor: { id: null, username: 'test' }, ip: null, userAgent: null };

/**
 * A clock for `startTestApp({ now: () => clock.now })`, starting on a whole second so token lifetimes in
 * responses are exact; `advance` moves every expiry the app measures.
 */
export function testClock() {
  const clock = { now: Math.floor(Date.now() / 1000) * 1000, advance: (ms: number) => (clock.now += ms) };
  return clock;
}

let userCount = 0;
export const TEST_PASSWORD = 'test-password-Kq7#vLx2';

/**
 * Builds and starts an app on a fresh database, listening on a loopback port; with `shareDatabaseWith`, on
 * that app's database instead (a second instance of one deployment; the first one's close drops it).
 */
export async function startTestApp(
  options: {
    env?: Record<string, string>;
    routes?: FastifyPluginAsync;
    now?: () => number;
    shareDatabaseWith?: TestApp;
    /** What `${env:…}` references of the endpoint configuration read (default process.env). */
    processEnv?: NodeJS.ProcessEnv;
  } = {},
): Promise<TestApp> {
  const shared = options.shareDatabaseWith?.settings;
  const database = shared
    ? {
        url: shared.database.engine === 'sqlite' ? `sqlite:${shared.database.file}` : shared.database.url,
        dataDir: shared.dataDir,
        drop: async () => {},
      }
    : await freshDatabase();
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
  const app = await createApp(settings, {
    logStream,
    routes: options.routes,
    now: options.now,
    env: options.processEnv,
  });
  let url: string;
  try {
    url = await app.start();
  } catch (error) {
    await app.shutdown().catch(() => {});
    await database.drop();
    throw error;
  }
  const origin = new URL(settings.publicUrl).origin;
  const client = () => new Client(url, origin);
  return {
    app,
    settings,
    url,
    origin,
    logs,
    client,
    async createUser(user = {}) {
      userCount += 1;
      const username = user.username ?? `user${userCount}-${randomBytes(3).toString('hex')}`;
      const password = user.password ?? TEST_PASSWORD;
      const record = await app.auth.users.create(
        {
          username,
          password,
          role: user.role ?? 'viewer',
          groups: user.groups,
          mustChangePassword: user.mustChangePassword ?? false,
        },
        TEST_CONTEXT,
      );
      return { record, username, password };
    },
    async signIn(user) {
      const c = client();
      const res = await c.call('/api/v1/auth/login', {
        json: { username: user.username, password: user.password },
      });
      if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
      return {
        client: c,
        accessToken: res.body.data.access_token,
        refreshToken: res.body.data.refresh_token,
        body: res.body,
      };
    },
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
