import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, Instance } from '../cluster/cluster-harness.js';
import { exampleFunctionsDir, minimalConfig } from '../endpoints/config-fixture.js';
import { freshDatabase } from '../fixture.js';
import { freePort } from '../ports.js';

/** Rounds of writes cut by kill -9: SWITCHBOARD_FAULT_ROUNDS (the full run: 100; .ci/run: a few). */
const ROUNDS = Number(process.env.SWITCHBOARD_FAULT_ROUNDS ?? 5);
const engines = ['sqlite', ...(process.env.SWITCHBOARD_TEST_DATABASE_URL ? ['postgres'] : [])] as const;

type Outcome = 'acked' | 'unknown';
interface Write {
  key: string;
  outcome: Outcome;
}

/** One connection per writer, as a client would hold it; a request cut by the kill ends in an error. */
const dispatcher = new Agent({ connections: 8, headersTimeout: 5000, bodyTimeout: 5000 });

async function call(
  base: string,
  token: string,
  method: 'GET' | 'POST' | 'PATCH',
  path: string,
  json?: unknown,
) {
  const res = await request(`${base}${path}`, {
    method,
    dispatcher,
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : null };
}

/** Every page of a paginated list. */
async function all(base: string, token: string, path: string): Promise<any[]> {
  const rows: any[] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const page = await call(
      base,
      token,
      'GET',
      `${path}${separator}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    rows.push(...page.body.data);
    cursor = page.body.pagination?.next_cursor ?? null;
  } while (cursor);
  return rows;
}

/** A writer: `write(i)` again and again until stopped, each write recorded as acknowledged or not known. */
function writer(write: (i: number) => Promise<{ key: string; acked: boolean }>) {
  const writes: Write[] = [];
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      let key = '';
      try {
        const result = await write(i);
        key = result.key;
        writes.push({ key, outcome: result.acked ? 'acked' : 'unknown' });
        if (!result.acked) return;
      } catch {
        // The server died under the request: it may or may not have happened.
        writes.push({ key: `#${i}`, outcome: 'unknown' });
        return;
      }
    }
  })();
  return { writes, stop: () => (stopped = true), done };
}

describe.each(engines)('kill -9 in the middle of writes, on %s', (engine) => {
  let dir: string;
  let instance: Instance;
  let dropDatabase: () => Promise<void> = async () => {};
  let dataFile = '';
  let functionsDir = '';
  const acked = { users: new Set<string>(), keys: new Set<string>(), versions: new Set<string>() };
  let lastPreference = -1;
  let cutInFlight = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-crash-'));
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    functionsDir = exampleFunctionsDir();
    writeFileSync(join(dir, 'admin-password'), ADMIN.password, { mode: 0o600 });
    let databaseUrl = `sqlite:${join(dataDir, 'switchboard.db')}`;
    dataFile = join(dataDir, 'switchboard.db');
    if (engine === 'postgres') {
      const database = await freshDatabase();
      databaseUrl = database.url;
      dropDatabase = database.drop;
    }
    instance = new Instance(
      'crashing',
      await freePort(),
      {
        HOST: '127.0.0.1',
        SWITCHBOARD_DATA_DIR: dataDir,
        SWITCHBOARD_DATABASE_URL: databaseUrl,
        SWITCHBOARD_ADMIN_PASSWORD_FILE: join(dir, 'admin-password'),
        SWITCHBOARD_FUNCTIONS_DIR: functionsDir,
        SWITCHBOARD_LOG_LEVEL: 'warn',
        SWITCHBOARD_RATE_LIMITING: 'false',
      },
      join(dir, 'server.log'),
    );
  }, 60_000);

  afterAll(async () => {
    await instance?.stop();
    await dropDatabase();
    rmSync(dir, { recursive: true, force: true });
    rmSync(functionsDir, { recursive: true, force: true });
  });

  it(`keeps every acknowledged write, half of none, each with its audit record, over ${ROUNDS} kills`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      await instance.start();
      const base = instance.url;
      const login = await request(`${base}/api/v1/auth/login`, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ADMIN),
      });
      const signedIn = JSON.parse(await login.body.text());
      expect(login.statusCode, JSON.stringify(signedIn)).toBe(200);
      const token: string = signedIn.data.access_token;
      const writers = {
        users: writer(async (i) => {
          const username = `r${round}u${i}`;
          const res = await call(base, token, 'POST', '/api/v1/users', {
            username,
            password: 'crash-test-Password-42',
            role: 'viewer',
            must_change_password: false,
          });
          return { key: username, acked: res.status === 201 };
        }),
        keys: writer(async (i) => {
          const name = `r${round}k${i}`;
          const res = await call(base, token, 'POST', '/api/v1/auth/api-keys', { name, role: 'viewer' });
          return { key: name, acked: res.status === 201 };
        }),
        versions: writer(async (i) => {
          const version = `${round + 1}.0.${i}`;
          const res = await call(base, token, 'POST', '/api/v1/config', {
            config: minimalConfig({ description: `round ${round}, save ${i}` }),
            version,
            activate: i % 3 === 0,
          });
          return { key: version, acked: res.status === 201 };
        }),
        preferences: writer(async (i) => {
          const value = round * 100_000 + i;
          const res = await call(base, token, 'PATCH', '/api/v1/preferences', { crash_counter: value });
          return { key: String(value), acked: res.status === 200 };
        }),
      };
      await new Promise((resolve) => setTimeout(resolve, 150 + Math.random() * 500));
      await instance.kill();
      for (const w of Object.values(writers)) w.stop();
      await Promise.all(Object.values(writers).map((w) => w.done));
      cutInFlight += Object.values(writers).filter((w) => w.writes.at(-1)?.outcome === 'unknown').length;

      await instance.start();
      const users = new Map((await all(base, token, '/api/v1/users')).map((u) => [u.username as string, u]));
      const keys = new Set((await all(base, token, '/api/v1/auth/api-keys')).map((k) => k.name as string));
      const versions = new Set(
        (
          (await call(base, token, 'GET', '/api/v1/config/versions')).body.data.versions as {
            version: string;
          }[]
        ).map((v) => v.version),
      );
      for (const w of writers.users.writes) if (w.outcome === 'acked') acked.users.add(w.key);
      for (const w of writers.keys.writes) if (w.outcome === 'acked') acked.keys.add(w.key);
      for (const w of writers.versions.writes) if (w.outcome === 'acked') acked.versions.add(w.key);
      // Every write acknowledged in any round so far is there.
      expect(
        [...acked.users].filter((name) => !users.has(name)),
        `round ${round}: users`,
      ).toEqual([]);
      expect(
        [...acked.keys].filter((name) => !keys.has(name)),
        `round ${round}: API keys`,
      ).toEqual([]);
      expect(
        [...acked.versions].filter((v) => !versions.has(v)),
        `round ${round}: versions`,
      ).toEqual([]);
      // What is there is whole: a user with its role, a version with its document.
      for (const user of users.values()) expect(user.role, user.username).toBeTruthy();
      for (const version of versions) {
        const read = await call(base, token, 'GET', `/api/v1/config?version=${version}`);
        expect(read.status, version).toBe(200);
        expect(read.body.data.config.streams, version).toBeDefined();
      }
      // The preference is the last acknowledged value, or the one in flight at the kill.
      const acknowledged = writers.preferences.writes
        .filter((w) => w.outcome === 'acked')
        .map((w) => Number(w.key));
      if (acknowledged.length > 0) lastPreference = Math.max(...acknowledged);
      const counter = (await call(base, token, 'GET', '/api/v1/preferences')).body.data.crash_counter;
      if (lastPreference >= 0) {
        expect([lastPreference, lastPreference + 1], `round ${round}: preference`).toContain(counter);
      }
      // An audit record for every change that is there, and none for one that is not.
      const audit = async (type: string) =>
        new Set(
          (await all(base, token, `/api/v1/audit?type=${type}`)).map((e) => String(e.target?.id ?? '')),
        );
      const userIds = new Set([...users.values()].map((u) => String(u.id)));
      const createdUsers = await audit('user.created');
      expect([...userIds].filter((id) => !createdUsers.has(id) && users.get('admin')?.id !== id)).toEqual([]);
      expect([...createdUsers].filter((id) => !userIds.has(id))).toEqual([]);
      const savedVersions = await audit('config.saved');
      expect([...versions].filter((v) => !savedVersions.has(v))).toEqual([]);
      expect([...savedVersions].filter((v) => !versions.has(v))).toEqual([]);
      const keyRecords = await all(base, token, '/api/v1/auth/api-keys');
      const createdKeys = await audit('auth.api_key_created');
      expect(keyRecords.filter((k) => !createdKeys.has(String(k.id))).map((k) => k.name)).toEqual([]);
      expect(createdKeys.size).toBe(keyRecords.length);
      if (engine === 'sqlite') {
        const db = new Database(dataFile, { readonly: true, fileMustExist: true });
        try {
          expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        } finally {
          db.close();
        }
      }
      await instance.stop();
    }
    // The kills landed among writes: many acknowledged, and at least one cut in flight each round.
    expect(acked.users.size + acked.keys.size + acked.versions.size).toBeGreaterThan(ROUNDS * 3);
    expect(cutInFlight).toBeGreaterThanOrEqual(ROUNDS);
    process.stdout.write(
      `${engine}: ${ROUNDS} kills; acknowledged ${acked.users.size} users, ${acked.keys.size} API keys, ${acked.versions.size} versions; ${cutInFlight} writes cut in flight\n`,
    );
  }, 600_000);
});
