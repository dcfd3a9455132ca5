import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, Instance } from '../cluster/cluster-harness.js';
import { exampleFunctionsDir, minimalConfig } from '../endpoints/config-fixture.js';
import { freePort } from '../ports.js';
import {
  all,
  auditTrail,
  call,
  dispatcher,
  must,
  ownPostgresDatabase,
  postgresViolations,
  sleep,
  sqliteViolations,
  type Writer,
  writer,
} from './fault-harness.js';

/** Rounds of writes cut by kill -9: SWITCHBOARD_FAULT_ROUNDS (the full run: 100; .ci/run: a few). */
const ROUNDS = Number(process.env.SWITCHBOARD_FAULT_ROUNDS ?? 5);
const engines = ['sqlite', ...(process.env.SWITCHBOARD_TEST_DATABASE_URL ? ['postgres'] : [])] as const;

/** The workspace the grants writer shares, and who with: each step differs from the one before it. */
const SHARED = 'Shared';
const GRANT_STEPS = [
  [{ principal_type: 'user', principal: 'grantee-1', access: 'view' }],
  [
    { principal_type: 'user', principal: 'grantee-1', access: 'edit' },
    { principal_type: 'group', principal: 'night-shift', access: 'view' },
  ],
  [
    { principal_type: 'role', principal: 'viewer', access: 'view' },
    { principal_type: 'user', principal: 'grantee-2', access: 'edit' },
  ],
  [],
] as const;
const grantsOf = (n: number) => GRANT_STEPS[n % GRANT_STEPS.length] ?? [];
/** A grant list as the audit record's detail spells it. */
const spelled = (grants: readonly { principal_type: string; principal: string; access: string }[]) =>
  grants.map((g) => `${g.principal_type}:${g.principal}:${g.access}`);

/** The n-th change of the changed user: every field at once, so a change is either wholly there or not. */
const ROLES = ['viewer', 'editor', 'admin'] as const;
const userChange = (n: number) => ({
  full_name: `change ${n}`,
  role: ROLES[n % ROLES.length] as string,
  disabled: n % 2 === 1,
});

const KINDS = ['users', 'keys', 'versions', 'activations', 'preferences', 'grants', 'userChanges'] as const;
type Kind = (typeof KINDS)[number];

describe.each(engines)('kill -9 in the middle of writes, on %s', (engine) => {
  let dir: string;
  let instance: Instance;
  let dropDatabase: () => Promise<void> = async () => {};
  let databaseUrl = '';
  let dataFile = '';
  let functionsDir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-crash-'));
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    functionsDir = exampleFunctionsDir();
    writeFileSync(join(dir, 'admin-password'), ADMIN.password, { mode: 0o600 });
    dataFile = join(dataDir, 'switchboard.db');
    databaseUrl = `sqlite:${dataFile}`;
    if (engine === 'postgres') {
      const database = await ownPostgresDatabase(process.env.SWITCHBOARD_TEST_DATABASE_URL ?? '');
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
    const started = Date.now();
    // What must be there, accumulated over the rounds.
    const acked = { users: new Set<string>(), keys: new Set<string>(), versions: new Set<string>() };
    /** Versions in the order they were activated: the targets of the `config.activated` records. */
    let activations: string[] = [];
    let active: string | null = null;
    /** The grant lists in the order they were set: the details of the `workspace.shared` records. */
    const grantTrail: string[][] = [];
    let grants: string[] = [];
    /** The changes of the changed user in order: the `user.updated` records. */
    const changeTrail: { role: string; disabled: boolean }[] = [];
    let change: ReturnType<typeof userChange> | null = null;
    let preference: number | null = null;
    // Counters that carry over rounds, so that a write cut in flight always differs from the last one kept.
    const sequence = { preferences: 0, grants: 0, userChanges: 0 };
    const tally = {
      acked: Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>,
      unknown: 0,
      tookEffect: 0,
      checks: 0,
    };
    let changedId = '';

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

      if (round === 0) {
        // Who the grants and the user changes are about, made before any kill.
        for (const [username, role, groups] of [
          ['grantee-1', 'viewer', ['night-shift']],
          ['grantee-2', 'editor', []],
          ['changed', 'viewer', []],
        ] as const) {
          const user = await must(201, base, token, 'POST', '/api/v1/users', {
            username,
            password: 'crash-test-Password-42',
            role,
            groups,
            must_change_password: false,
          });
          if (username === 'changed') changedId = user.id;
        }
        await must(201, base, token, 'PUT', `/api/v1/workspaces/${SHARED}`, { panels: [] });
        activations = (await auditTrail(base, token, 'config.activated')).map((e) => e.target.id);
        active = (await must(200, base, token, 'GET', '/api/v1/config/versions')).active;
      }

      // A first save compiles the schema and starts the diff thread: done by a read, so that the round's
      // window goes to writes.
      await must(200, base, token, 'POST', '/api/v1/config/diff', { config: minimalConfig() });
      const saved: string[] = [];
      let activatedUpTo = 0;
      const writers: Record<Kind, Writer> = {
        users: writer(async (i) => {
          const username = `r${round}u${i}`;
          return {
            key: username,
            send: () =>
              call(base, token, 'POST', '/api/v1/users', {
                username,
                full_name: `User ${round}/${i}`,
                password: 'crash-test-Password-42',
                role: 'viewer',
                groups: ['crash'],
                must_change_password: false,
              }),
            acked: (a) => a.status === 201,
          };
        }),
        keys: writer(async (i) => {
          const name = `r${round}k${i}`;
          return {
            key: name,
            send: () => call(base, token, 'POST', '/api/v1/auth/api-keys', { name, role: 'viewer' }),
            acked: (a) => a.status === 201,
          };
        }),
        versions: writer(async (i) => {
          const version = `${round + 1}.0.${i}`;
          return {
            key: version,
            send: async () => {
              const answer = await call(base, token, 'POST', '/api/v1/config', {
                config: minimalConfig({ description: `round ${round}, save ${i}` }),
                version,
                activate: false,
              });
              if (answer.status === 201) saved.push(version);
              return answer;
            },
            acked: (a) => a.status === 201 && a.body.data.active === false,
          };
        }),
        // Activates what the versions writer saved, newest first, each version once.
        activations: writer(async (_i, stopped) => {
          while (activatedUpTo >= saved.length) {
            if (stopped()) return undefined;
            await sleep(5);
          }
          activatedUpTo = saved.length;
          const version = saved[saved.length - 1] ?? '';
          return {
            key: version,
            send: () => call(base, token, 'POST', `/api/v1/config/versions/${version}/activate`),
            acked: (a) => a.status === 200 && a.body.data.active === true,
          };
        }),
        preferences: writer(async () => {
          const value = ++sequence.preferences;
          return {
            key: String(value),
            send: () => call(base, token, 'PATCH', '/api/v1/preferences', { crash_counter: value }),
            acked: (a) => a.status === 200,
          };
        }),
        grants: writer(async () => {
          const n = ++sequence.grants;
          return {
            key: String(n),
            send: () => call(base, token, 'PUT', `/api/v1/workspaces/${SHARED}/grants`, grantsOf(n)),
            acked: (a) => a.status === 200,
          };
        }),
        userChanges: writer(async () => {
          const n = ++sequence.userChanges;
          return {
            key: String(n),
            send: () => call(base, token, 'PATCH', `/api/v1/users/${changedId}`, userChange(n)),
            acked: (a) => a.status === 200,
          };
        }),
      };
      // The kill comes once every kind of write has been acknowledged at least once (on a busy machine that
      // can take a while), at a random moment after.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && KINDS.some((kind) => writers[kind].acked().length === 0))
        await sleep(10);
      await sleep(Math.random() * 500);
      await instance.kill();
      for (const w of Object.values(writers)) w.stop();
      await Promise.all(Object.values(writers).map((w) => w.done));
      // Every answer that came was the acknowledgement: nothing was refused.
      expect(Object.values(writers).flatMap((w) => w.refused)).toEqual([]);
      for (const kind of KINDS) tally.acked[kind] += writers[kind].acked().length;
      const cut = KINDS.filter((kind) => writers[kind].inFlight() !== undefined);
      tally.unknown += cut.length;
      const took = (kind: Kind, happened: boolean) => {
        if (happened && writers[kind].inFlight() !== undefined) tally.tookEffect++;
      };

      await instance.start();
      const check = (what: string) => `round ${round}: ${what}`;

      // Users: every acknowledged one there, whole (role, name and groups come in one transaction).
      for (const key of writers.users.acked()) acked.users.add(key);
      const userList = await all(base, token, '/api/v1/users');
      const users = new Map(userList.map((u) => [u.username as string, u]));
      expect(
        [...acked.users].filter((name) => !users.has(name)),
        check('users'),
      ).toEqual([]);
      const cutUser = writers.users.inFlight();
      took('users', cutUser !== undefined && users.has(cutUser));
      for (const username of [
        ...writers.users.acked(),
        ...(cutUser && users.has(cutUser) ? [cutUser] : []),
      ]) {
        const listed = users.get(username);
        const read = await must(200, base, token, 'GET', `/api/v1/users/${listed.id}`);
        const [, r, i] = /^r(\d+)u(\d+)$/.exec(username) ?? [];
        expect({ role: read.role, groups: read.groups, full_name: read.full_name }, check(username)).toEqual({
          role: 'viewer',
          groups: ['crash'],
          full_name: `User ${r}/${i}`,
        });
        tally.checks++;
      }

      // API keys: every acknowledged one there, whole.
      for (const key of writers.keys.acked()) acked.keys.add(key);
      const keyRecords = await all(base, token, '/api/v1/auth/api-keys');
      const keys = new Map(keyRecords.map((k) => [k.name as string, k]));
      expect(
        [...acked.keys].filter((name) => !keys.has(name)),
        check('API keys'),
      ).toEqual([]);
      for (const k of keyRecords) expect(k.role, check(k.name)).toBe('viewer');
      const cutKey = writers.keys.inFlight();
      took('keys', cutKey !== undefined && keys.has(cutKey));
      tally.checks += keyRecords.length;

      // Configuration versions: every acknowledged one there, each new one readable whole.
      for (const key of writers.versions.acked()) acked.versions.add(key);
      const config = await must(200, base, token, 'GET', '/api/v1/config/versions');
      const versions = new Set((config.versions as { version: string }[]).map((v) => v.version));
      expect(
        [...acked.versions].filter((v) => !versions.has(v)),
        check('versions'),
      ).toEqual([]);
      const cutVersion = writers.versions.inFlight();
      took('versions', cutVersion !== undefined && versions.has(cutVersion));
      for (const version of [...writers.versions.acked(), ...(cutVersion ? [cutVersion] : [])]) {
        if (!versions.has(version)) continue;
        const read = await must(200, base, token, 'GET', `/api/v1/config?version=${version}`);
        expect(read.config.streams, check(version)).toBeDefined();
        expect(read.config.description, check(version)).toMatch(/^round \d+, save \d+$/);
        tally.checks++;
      }

      // Activations: the last acknowledged one is active, or the one cut in flight; what is active is loaded.
      const activated = writers.activations.acked();
      const cutActivation = writers.activations.inFlight();
      activations.push(...activated);
      active = activated.at(-1) ?? active;
      expect([active, cutActivation], check('the active version')).toContain(config.active);
      if (cutActivation !== undefined && config.active === cutActivation && cutActivation !== active) {
        activations.push(cutActivation);
        active = cutActivation;
        took('activations', true);
      }
      expect(config.loaded, check('the version loaded')).toBe(active);
      expect(config.recovery, check('recovery')).toBe(false);

      // Preferences: the last acknowledged value, or the one cut in flight.
      const lastPreference = writers.preferences.acked().at(-1);
      if (lastPreference !== undefined) preference = Number(lastPreference);
      const cutPreference = writers.preferences.inFlight();
      const document = await must(200, base, token, 'GET', '/api/v1/preferences');
      expect([preference, ...(cutPreference ? [Number(cutPreference)] : [])], check('preference')).toContain(
        document.crash_counter ?? null,
      );
      if (cutPreference !== undefined && document.crash_counter === Number(cutPreference)) {
        preference = Number(cutPreference);
        took('preferences', true);
      }

      // Grants: the list last acknowledged, or the one cut in flight, read two ways.
      for (const n of writers.grants.acked()) grantTrail.push(spelled(grantsOf(Number(n))));
      grants = grantTrail.at(-1) ?? grants;
      const cutGrants = writers.grants.inFlight();
      // The server lists grants in its own order; the audit record keeps the order they were given in.
      const sorted = (list: string[]) => [...list].sort();
      const shared = sorted(
        spelled(await must(200, base, token, 'GET', `/api/v1/workspaces/${SHARED}/grants`)),
      );
      const cutList = cutGrants === undefined ? undefined : spelled(grantsOf(Number(cutGrants)));
      expect([grants, ...(cutList ? [cutList] : [])].map(sorted), check('grants')).toContainEqual(shared);
      if (cutList !== undefined && JSON.stringify(shared) !== JSON.stringify(sorted(grants))) {
        grantTrail.push(cutList);
        grants = cutList;
        took('grants', true);
      }
      expect(
        sorted(spelled(document.shared_workspace_grants[SHARED] ?? [])),
        check('grants as read'),
      ).toEqual(sorted(grants));

      // The changed user: the last acknowledged change, or the one cut in flight, all of its fields.
      for (const n of writers.userChanges.acked()) {
        change = userChange(Number(n));
        changeTrail.push({ role: change.role, disabled: change.disabled });
      }
      const cutChange = writers.userChanges.inFlight();
      const changed = await must(200, base, token, 'GET', `/api/v1/users/${changedId}`);
      const now = { full_name: changed.full_name, role: changed.role, disabled: changed.disabled };
      const expected = [
        change ?? { full_name: null, role: 'viewer', disabled: false },
        ...(cutChange ? [userChange(Number(cutChange))] : []),
      ];
      expect(expected, check('the changed user')).toContainEqual(now);
      if (cutChange !== undefined && now.full_name === `change ${cutChange}`) {
        change = userChange(Number(cutChange));
        changeTrail.push({ role: change.role, disabled: change.disabled });
        took('userChanges', true);
      }

      // The audit log: a record for every change that is there, and none for one that is not.
      const ids = (records: any[]) => records.map((e) => String(e.target?.id ?? ''));
      const userIds = new Set(userList.filter((u) => u.username !== ADMIN.username).map((u) => String(u.id)));
      const createdUsers = ids(await auditTrail(base, token, 'user.created'));
      expect(
        createdUsers.filter((id) => !userIds.has(id)),
        check('user.created'),
      ).toEqual([]);
      expect(
        [...userIds].filter((id) => !createdUsers.includes(id)),
        check('user.created'),
      ).toEqual([]);
      expect(createdUsers.length, check('user.created')).toBe(userIds.size);
      const savedVersions = ids(await auditTrail(base, token, 'config.saved'));
      expect(
        savedVersions.filter((v) => !versions.has(v)),
        check('config.saved'),
      ).toEqual([]);
      expect(savedVersions.length, check('config.saved')).toBe(versions.size);
      const createdKeys = ids(await auditTrail(base, token, 'auth.api_key_created'));
      expect(
        keyRecords.filter((k) => !createdKeys.includes(String(k.id))).map((k) => k.name),
        check('auth.api_key_created'),
      ).toEqual([]);
      expect(createdKeys.length, check('auth.api_key_created')).toBe(keyRecords.length);
      expect(ids(await auditTrail(base, token, 'config.activated')), check('config.activated')).toEqual(
        activations,
      );
      expect(await auditTrail(base, token, 'config.recovery'), check('config.recovery')).toEqual([]);
      const sharing = (await auditTrail(base, token, 'workspace.shared')).filter(
        (e) => e.target?.id === `${ADMIN.username}/${SHARED}`,
      );
      expect(
        sharing.map((e) => e.detail.grants),
        check('workspace.shared'),
      ).toEqual(grantTrail);
      const updates = (await auditTrail(base, token, 'user.updated')).filter(
        (e) => e.target?.id === changedId,
      );
      expect(
        updates.map((e) => ({ role: e.detail.role.to, disabled: e.detail.disabled })),
        check('user.updated'),
      ).toEqual(changeTrail);
      tally.checks += 7;

      // The database's own checks.
      if (engine === 'sqlite') {
        expect(sqliteViolations(dataFile), check('integrity_check')).toEqual([]);
      } else {
        const { problems, checked } = await postgresViolations(databaseUrl);
        expect(problems, check('constraints')).toEqual([]);
        expect(checked, check('constraints checked')).toBeGreaterThan(20);
      }
      await instance.stop();
    }

    // Once more at the end: every user and every version read back on its own through the API.
    await instance.start();
    const final = await request(`${instance.url}/api/v1/auth/login`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    const token = JSON.parse(await final.body.text()).data.access_token as string;
    for (const user of await all(instance.url, token, '/api/v1/users')) {
      const read = await must(200, instance.url, token, 'GET', `/api/v1/users/${user.id}`);
      expect(read.username).toBe(user.username);
    }
    for (const { version } of (await must(200, instance.url, token, 'GET', '/api/v1/config/versions'))
      .versions) {
      await must(200, instance.url, token, 'GET', `/api/v1/config?version=${version}`);
    }
    await instance.stop();

    // The kills landed among writes: many acknowledged, and at least one cut in flight each round.
    const ackedTotal = Object.values(tally.acked).reduce((a, b) => a + b, 0);
    expect(ackedTotal).toBeGreaterThan(ROUNDS * 10);
    expect(tally.unknown).toBeGreaterThanOrEqual(ROUNDS);
    for (const kind of KINDS) expect(tally.acked[kind], `acknowledged ${kind}`).toBeGreaterThan(0);
    process.stdout.write(
      `${engine}: ${ROUNDS} kills in ${Math.round((Date.now() - started) / 1000)} s; ${ackedTotal} acknowledged writes (${KINDS.map((k) => `${tally.acked[k]} ${k}`).join(', ')}), all there; ${tally.unknown} cut in flight, ${tally.tookEffect} of them took effect (whole), the others left nothing\n`,
    );
  }, 3_600_000);
});
