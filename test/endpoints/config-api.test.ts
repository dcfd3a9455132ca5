import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/platform/problem.js';
import { errorCode } from '../client.js';
import { engine, type SignedIn, startTestApp, type TestApp } from '../fixture.js';
import { openSocket } from '../live-client.js';
import { exampleConfig, exampleEnv, minimalConfig } from './config-fixture.js';
import { Upstream } from './upstream.js';

const SECRET = 'scada-token-Zq81xv';
let t: TestApp;
let admin: SignedIn;
let secondAdmin: SignedIn;
let editor: SignedIn;
let viewer: SignedIn;

beforeAll(async () => {
  t = await startTestApp({
    // This file activates more often than an operator would; the limits have their own tests.
    env: { ...exampleEnv(), SWITCHBOARD_RATE_LIMITS: 'config.activate=off,config.save=off' },
    processEnv: { SWITCHBOARD_VAR_SCADA_TOKEN: SECRET },
  });
  admin = await t.signIn(await t.createUser({ role: 'admin' }));
  secondAdmin = await t.signIn(await t.createUser({ role: 'admin' }));
  editor = await t.signIn(await t.createUser({ role: 'editor' }));
  viewer = await t.signIn(await t.createUser({ role: 'viewer' }));
});
afterAll(() => t.close());

const save = (body: unknown, who: SignedIn = admin) =>
  who.client.call('/api/v1/config', { method: 'POST', json: body });
const versions = async () => (await admin.client.call('/api/v1/config/versions')).body.data;
const activate = (version: string, who: SignedIn = admin) =>
  who.client.call(`/api/v1/config/versions/${version}/activate`, { method: 'POST' });
const auditOf = async (type: string) =>
  (await admin.client.call(`/api/v1/audit?type=${type}&limit=200`)).body.data as Record<string, any>[];

describe('schema and access', () => {
  it('serves the JSON Schema to anyone signed in, and only to them', async () => {
    const res = await viewer.client.call('/api/v1/config/schema');
    expect(res.status).toBe(200);
    expect(res.body.data.title).toBe('Switchboard endpoint configuration');
    expect(Object.keys(res.body.data.properties)).toEqual(
      expect.arrayContaining(['vars', 'endpoints', 'functions', 'streams']),
    );
    expect((await t.client().call('/api/v1/config/schema')).status).toBe(401);
  });

  it('lets editors read and diff, only admins change', async () => {
    expect((await viewer.client.call('/api/v1/config/versions')).status).toBe(403);
    expect((await viewer.client.call('/api/v1/config')).status).toBe(403);
    expect((await editor.client.call('/api/v1/config/versions')).status).toBe(200);
    const refused = await save(minimalConfig(), editor);
    expect(refused.status).toBe(403);
    expect(errorCode(refused)).toBe(ErrorCode.forbidden);
    expect((await activate('1.0.0', editor)).status).toBe(403);
    expect((await editor.client.call('/api/v1/config/versions/1.0.0', { method: 'DELETE' })).status).toBe(
      403,
    );
  });

  it('says so when nothing is active yet', async () => {
    const res = await admin.client.call('/api/v1/config');
    expect(res.status).toBe(404);
    expect(res.body.error).toMatch(/no configuration is active/);
  });
});

describe('saving', () => {
  it('saves the raw example as 1.0.0, activates it, and shows the diff from nothing', async () => {
    const res = await save(exampleConfig());
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ version: '1.0.0', active: true });
    expect(res.body.data.diff).toMatch(/^\+\s+"streams": \{/m);
    expect(res.headers.etag).toBe('"1.0.0"');
    const list = await versions();
    // Nothing ran before it, so there is nothing to fall back to yet.
    expect(list).toMatchObject({ active: '1.0.0', loaded: '1.0.0', last_good: null, recovery: false });
    expect(list.versions.map((v: { version: string }) => v.version)).toEqual(['1.0.0']);
    const names = (await admin.client.call('/api/v1/streams')).body.data.map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(['weather.current', 'plant.alarms', 'shift.roster']));
  });

  it('bumps the patch of the highest version for a raw save', async () => {
    const config = exampleConfig();
    config.streams['weather.current'].interval = '2m';
    const res = await save(config);
    expect(res.status).toBe(201);
    expect(res.body.data.version).toBe('1.0.1');
    expect(res.body.data.diff).toContain('-      "interval": "60s",');
    expect(res.body.data.diff).toContain('+      "interval": "2m",');
  });

  it('takes the wrapper: a chosen version, kept inactive, with a message', async () => {
    const res = await save({
      config: exampleConfig(),
      version: '2.0.0',
      activate: false,
      message: 'next season',
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ version: '2.0.0', active: false });
    const list = await versions();
    expect(list.active).toBe('1.0.1');
    expect(list.versions[0]).toMatchObject({ version: '2.0.0', message: 'next season', active: false });
    expect(list.versions[0].created_by).toBe(admin.body.data.user.username);
    // The next raw save bumps the highest, not the active one.
    const raw = await save({ ...exampleConfig(), description: 'bumped' });
    expect(raw.body.data.version).toBe('2.0.1');
    expect((await activate('1.0.1')).status).toBe(200);
  });

  it('refuses a version that exists (409) and one that is not semantic (422)', async () => {
    const duplicate = await save({ config: minimalConfig(), version: '2.0.0' });
    expect(duplicate.status).toBe(409);
    expect(errorCode(duplicate)).toBe(ErrorCode.duplicate);
    const bad = await save({ config: minimalConfig(), version: 'v2', activate: 'yes', extra: 1 });
    expect(bad.status).toBe(422);
    expect(bad.body.error_detail.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual([
      '/activate',
      '/extra',
      '/version',
    ]);
  });

  it('stores canonical JSON: the same document in another key order diffs as nothing', async () => {
    const config = exampleConfig();
    const reversed = Object.fromEntries(Object.entries(config).reverse());
    const res = await admin.client.call('/api/v1/config/diff', {
      json: { config: reversed, base_version: '1.0.0' },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ ok: true, diff: '' });
  });
});

describe('bad input', () => {
  it('400 for JSON that does not parse', async () => {
    const res = await admin.client.call('/api/v1/config', {
      method: 'POST',
      body: '{"streams": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe(ErrorCode.malformedRequest);
  });

  it('422 listing every schema problem at once, each with its pointer', async () => {
    const res = await save({
      vars: { 'bad name': 1, ok: { value: 1, secret: 'yes' } },
      endpoints: { api: { url: 5, method: 'FETCH', timeout: '5 seconds', retries: 99, extra: true } },
      streams: { Upper: { function: 'x', interval: '1m' }, fine: { endpoint: 'api' } },
      surprise: {},
    });
    expect(res.status).toBe(422);
    expect(errorCode(res)).toBe(ErrorCode.invalidBody);
    const pointers = res.body.error_detail.errors.map((e: { pointer: string }) => e.pointer);
    expect(pointers).toEqual(
      expect.arrayContaining([
        '/surprise',
        '/vars/bad name',
        '/vars/ok',
        '/endpoints/api/url',
        '/endpoints/api/method',
        '/endpoints/api/timeout',
        '/endpoints/api/retries',
        '/endpoints/api/extra',
        '/streams/Upper',
        '/streams/fine/interval',
      ]),
    );
    const messages = res.body.error_detail.errors.map((e: { message: string }) => e.message).join('\n');
    expect(messages).toContain('must be a duration such as "500ms", "30s" or "5m"');
    expect(messages).toContain('is not a channel name');
  });

  it('422 code 2000 with every problem of one save: the wrapper, the schema and the rules at once', async () => {
    const before = await versions();
    const res = await save({
      activate: 'yes',
      config: {
        vars: { region: ['eu'] },
        endpoints: { api: { url: 'https://api.example.com/${missing}', retries: 99 } },
        functions: { roster: { module: 'shift-roster.mjs' } },
        streams: {
          'Plant.Pumps': { endpoint: 'api', interval: '1m' },
          'plant.roster': { function: 'rooster', interval: '1m' },
          'plant.temps': { endpoint: 'api', interval: 'often' },
        },
      },
    });
    expect(res.status).toBe(422);
    expect(errorCode(res)).toBe(ErrorCode.invalidBody);
    const errors = res.body.error_detail.errors as { pointer: string; message: string }[];
    expect(errors.map((e) => e.pointer).sort()).toEqual(
      [
        '/activate',
        '/config/vars/region',
        '/config/endpoints/api/retries',
        '/config/endpoints/api/url',
        '/config/streams/Plant.Pumps',
        '/config/streams/plant.roster/function',
        '/config/streams/plant.temps/interval',
      ].sort(),
    );
    expect(errors).toContainEqual({
      pointer: '/config/endpoints/api/url',
      message: '${missing} is not a declared variable',
    });
    expect(res.body.error).toMatch(/^the configuration is not valid: 7 problems, first \/activate /);
    expect(await versions()).toEqual(before);
  });

  it('prefixes the pointers with /config for the wrapper', async () => {
    const res = await save({ config: { streams: { s: { interval: 'soon' } } } });
    expect(res.status).toBe(422);
    expect(res.body.error_detail.errors.map((e: { pointer: string }) => e.pointer)).toContain(
      '/config/streams/s/interval',
    );
  });

  it('422 for a URL outside the allow-list, a module outside the functions directory, and broken references', async () => {
    const res = await save({
      vars: { loop_a: '${loop_b}', loop_b: '${loop_a}' },
      endpoints: {
        internal: { url: 'http://169.254.169.254/latest/meta-data' },
        ftp: { url: 'ftp://api.example.com/file' },
        leaky: {
          url: 'https://api.example.com/${nowhere}',
          headers: { 'X-Key': '${env:SWITCHBOARD_JWT_SECRET}' },
        },
      },
      functions: {
        escape: { module: '../../etc/passwd.js' },
        absolute: { module: '/usr/lib/node.js' },
        notjs: { module: 'tool.py' },
      },
      streams: {
        both: { endpoint: 'internal', function: 'escape', interval: '1m' },
        neither: { interval: '1m' },
        dangling: { endpoint: 'missing', interval: '1m' },
        fast: { function: 'escape', interval: '100ms' },
        config: { endpoint: 'internal', interval: '1m' },
      },
    });
    expect(res.status).toBe(422);
    const byPointer = new Map<string, string>(
      res.body.error_detail.errors.map((e: { pointer: string; message: string }) => [e.pointer, e.message]),
    );
    expect(byPointer.get('/endpoints/internal/url')).toMatch(
      /169\.254\.169\.254.*not in SWITCHBOARD_ENDPOINT_HOSTS/,
    );
    expect(byPointer.get('/endpoints/ftp/url')).toMatch(/http or https/);
    expect(byPointer.get('/endpoints/leaky/url')).toMatch(/\$\{nowhere\} is not a declared variable/);
    expect(byPointer.get('/endpoints/leaky/headers/X-Key')).toMatch(
      /only environment variables named SWITCHBOARD_VAR_/,
    );
    expect(byPointer.get('/functions/escape/module')).toMatch(/inside SWITCHBOARD_FUNCTIONS_DIR/);
    expect(byPointer.get('/functions/absolute/module')).toMatch(/relative/);
    expect(byPointer.get('/functions/notjs/module')).toMatch(/\.js, \.mjs or \.cjs/);
    expect(byPointer.get('/streams/both')).toMatch(/exactly one source/);
    expect(byPointer.get('/streams/neither')).toMatch(/exactly one source/);
    expect(byPointer.get('/streams/dangling/endpoint')).toMatch(/no endpoint "missing"/);
    expect(byPointer.get('/streams/fast/interval')).toMatch(/at least 1s/);
    expect(byPointer.get('/streams/config')).toMatch(/built-in/);
    expect([...byPointer.keys()].some((p) => p.startsWith('/vars/loop_'))).toBe(true);
  });

  it('413 for a body over the configuration limit', async () => {
    const big = { description: 'x'.repeat(100), vars: { blob: 'y'.repeat(9 * 1024 * 1024) } };
    const res = await save(big);
    expect(res.status).toBe(413);
  });

  it('saves nothing when the store fails half-way through a save', async () => {
    const db = t.app.storage.db;
    if (engine === 'sqlite') {
      await sql`create trigger fail_config_audit before insert on audit_events
        when new.type = 'config.saved' begin select raise(abort, 'disk full'); end`.execute(db);
    } else {
      await sql`create function fail_config_audit() returns trigger language plpgsql as $$
        begin if new.type = 'config.saved' then raise exception 'disk full'; end if; return new; end $$`.execute(
        db,
      );
      await sql`create trigger fail_config_audit before insert on audit_events
        for each row execute function fail_config_audit()`.execute(db);
    }
    try {
      const before = await versions();
      const res = await save({ config: minimalConfig(), version: '9.9.9' });
      expect(res.status).toBe(500);
      expect(res.body.error).not.toContain('disk full');
      const after = await versions();
      expect(after.versions).toEqual(before.versions);
      expect(after.active).toBe(before.active);
    } finally {
      await sql`drop trigger fail_config_audit${engine === 'postgres' ? sql` on audit_events` : sql``}`.execute(
        db,
      );
      if (engine === 'postgres') await sql`drop function fail_config_audit()`.execute(db);
    }
  });
});

describe('reading', () => {
  it('returns the active version with variables resolved and secrets masked everywhere', async () => {
    const res = await editor.client.call('/api/v1/config');
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('"1.0.1"');
    const { data } = res.body;
    expect(data).toMatchObject({ version: '1.0.1', active: true });
    expect(data.vars_resolved).toMatchObject({
      plant_api: 'https://scada.north-plant.example.com/api/v2',
      site_latitude: 52.52,
      scada_token: '********',
      scada_auth: '********',
    });
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
    const older = await editor.client.call('/api/v1/config?version=1.0.0');
    expect(older.body.data).toMatchObject({ version: '1.0.0', active: false });
    expect((await editor.client.call('/api/v1/config?version=7.7.7')).status).toBe(404);
  });

  it('masks a literal secret and keeps it when the masked document is saved back', async () => {
    const config = exampleConfig();
    config.vars.vendor_key = { value: 'literal-secret-81kq', secret: true };
    const saved = await save({ config, activate: false, version: '3.0.0' });
    expect(saved.status).toBe(201);
    expect(saved.body.data.diff).not.toContain('literal-secret-81kq');
    expect((await activate('3.0.0')).status).toBe(200);
    const shown = (await admin.client.call('/api/v1/config')).body.data.config;
    expect(shown.vars.vendor_key).toEqual({ value: '********', secret: true });
    const again = await save({
      config: { ...shown, description: 'edited in the UI' },
      version: '3.0.1',
      activate: false,
    });
    expect(again.status).toBe(201);
    const stored = await t.app.storage.db
      .selectFrom('config_versions')
      .select('document')
      .where('version', '=', '3.0.1')
      .executeTakeFirstOrThrow();
    expect(JSON.parse(stored.document).vars.vendor_key.value).toBe('literal-secret-81kq');
    const diff = await admin.client.call('/api/v1/config/diff?from=1.0.0&to=3.0.1');
    expect(diff.body.data.diff).toContain('vendor_key');
    expect(diff.body.data.diff).not.toContain('literal-secret-81kq');
    // A mask with no secret behind it is refused rather than stored.
    const orphan = await save({
      config: { ...minimalConfig(), vars: { new_key: { value: '********', secret: true } } },
    });
    expect(orphan.status).toBe(422);
    expect(orphan.body.error_detail.errors[0].pointer).toBe('/config/vars/new_key/value');
    expect((await activate('1.0.1')).status).toBe(200);
  });
});

describe('diffs', () => {
  it('diffs a draft against the active version or a chosen one', async () => {
    const draft = exampleConfig();
    draft.streams['plant.pumps'].interval = '1s';
    const against = await editor.client.call('/api/v1/config/diff', { json: { config: draft } });
    expect(against.status).toBe(200);
    expect(against.body.data.ok).toBe(true);
    expect(against.body.data.diff).toContain('--- version 1.0.1');
    expect(against.body.data.diff).toContain('+++ draft');
    expect(against.body.data.diff).toContain('+      "interval": "1s",');
    const unknown = await editor.client.call('/api/v1/config/diff', {
      json: { config: draft, base_version: '8.8.8' },
    });
    expect(unknown.status).toBe(404);
    const notObject = await editor.client.call('/api/v1/config/diff', { json: { config: [1, 2] } });
    expect(notObject.status).toBe(422);
  });

  it('diffs two saved versions, and the active one when either is left out', async () => {
    const res = await editor.client.call('/api/v1/config/diff?from=1.0.0&to=1.0.1');
    expect(res.status).toBe(200);
    expect(res.body.data.diff).toContain('--- version 1.0.0');
    expect(res.body.data.diff).toContain('+++ version 1.0.1');
    const fromActive = await editor.client.call('/api/v1/config/diff?to=1.0.0');
    expect(fromActive.body.data.diff).toContain('--- version 1.0.1');
    expect((await editor.client.call('/api/v1/config/diff?from=1.0.0&to=0.0.9')).status).toBe(404);
    expect((await editor.client.call('/api/v1/config/diff?from=not-a-version')).status).toBe(404);
  });
});

describe('activation', () => {
  it('activates a saved version, records it, and says so on the config channel', async () => {
    const notices: unknown[] = [];
    const stop = t.app.live.bus.subscribe('config', (event) => notices.push(event.data));
    try {
      const res = await activate('2.0.0');
      expect(res.status).toBe(200);
      expect((await versions()).active).toBe('2.0.0');
      expect(notices).toContainEqual(expect.objectContaining({ type: 'activated', version: '2.0.0' }));
      const entries = await auditOf('config.activated');
      expect(entries[0]).toMatchObject({
        target: { id: '2.0.0' },
        actor: { username: admin.body.data.user.username },
      });
    } finally {
      stop();
    }
    expect((await activate('5.5.5')).status).toBe(404);
  });

  it('keeps the running version when one cannot load, sets recovery and reports why', async () => {
    const broken = exampleConfig();
    broken.vars.scada_token.value = '${env:SWITCHBOARD_VAR_NOT_SET_HERE}';
    expect((await save({ config: broken, version: '4.0.0', activate: false })).status).toBe(201);
    const notices: any[] = [];
    const stop = t.app.live.bus.subscribe('config', (event) => notices.push(event.data));
    try {
      const res = await activate('4.0.0');
      expect(res.status).toBe(422);
      expect(res.body.error).toContain('${env:SWITCHBOARD_VAR_NOT_SET_HERE} is not set on this server');
      expect(res.body.error_detail.errors[0].pointer).toBe('/vars/scada_token');
      const list = await versions();
      expect(list).toMatchObject({
        active: '2.0.0',
        loaded: '2.0.0',
        recovery: true,
        recovery_version: '4.0.0',
      });
      expect(list.recovery_reason).toContain('SWITCHBOARD_VAR_NOT_SET_HERE');
      expect(notices).toContainEqual(
        expect.objectContaining({ type: 'recovery', version: '4.0.0', running: '2.0.0' }),
      );
      expect((await auditOf('config.recovery'))[0]).toMatchObject({
        target: { id: '4.0.0' },
        outcome: 'failure',
      });
    } finally {
      stop();
    }
    // A version that loads ends the recovery.
    expect((await activate('1.0.1')).status).toBe(200);
    expect(await versions()).toMatchObject({ active: '1.0.1', recovery: false, recovery_reason: null });
  });

  it('saved-and-activated in one call reports a failed activation without losing the save', async () => {
    const broken = exampleConfig();
    broken.vars.scada_token.value = '${env:SWITCHBOARD_VAR_ALSO_MISSING}';
    const res = await save({ config: broken, version: '4.1.0' });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ version: '4.1.0', active: false });
    expect(res.body.data.activation_error).toContain('SWITCHBOARD_VAR_ALSO_MISSING');
    expect((await versions()).active).toBe('1.0.1');
    expect((await activate('1.0.1')).status).toBe(200);
  });

  it('two admins activating at once leave one consistent active version and two audit entries', async () => {
    const before = (await auditOf('config.activated')).length;
    const [a, b] = await Promise.all([activate('2.0.0', admin), activate('2.0.1', secondAdmin)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const list = await versions();
    expect(['2.0.0', '2.0.1']).toContain(list.active);
    expect(list.loaded).toBe(list.active);
    // The one activated first ran until the other replaced it: it is the fallback.
    expect(['2.0.0', '2.0.1'].filter((v) => v !== list.active)).toEqual([list.last_good]);
    const entries = await auditOf('config.activated');
    expect(entries.length - before).toBe(2);
    expect((await activate('1.0.1')).status).toBe(200);
  });
});

describe('deletion', () => {
  it('refuses the active version, deletes others, 404 for unknown ones', async () => {
    const active = await admin.client.call('/api/v1/config/versions/1.0.1', { method: 'DELETE' });
    expect(active.status).toBe(409);
    expect(errorCode(active)).toBe(ErrorCode.conflict);
    const res = await admin.client.call('/api/v1/config/versions/4.1.0', { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect((await versions()).versions.map((v: { version: string }) => v.version)).not.toContain('4.1.0');
    expect((await admin.client.call('/api/v1/config/versions/4.1.0', { method: 'DELETE' })).status).toBe(404);
    expect((await auditOf('config.deleted'))[0]).toMatchObject({ target: { id: '4.1.0' } });
  });

  it('keeps the last-good pointer on a version that exists', async () => {
    expect((await save({ config: minimalConfig({ description: 'a' }), version: '6.0.0' })).status).toBe(201);
    expect((await save({ config: minimalConfig({ description: 'b' }), version: '6.0.1' })).status).toBe(201);
    // The fallback is the version that ran before the active one.
    expect(await versions()).toMatchObject({ active: '6.0.1', last_good: '6.0.0' });
    // Activating the active version again does not make it its own fallback.
    expect((await activate('6.0.1')).status).toBe(200);
    expect((await versions()).last_good).toBe('6.0.0');
    expect((await admin.client.call('/api/v1/config/versions/6.0.0', { method: 'DELETE' })).status).toBe(204);
    expect(await versions()).toMatchObject({ active: '6.0.1', last_good: null });
    expect((await activate('1.0.1')).status).toBe(200);
    expect((await versions()).last_good).toBe('6.0.1');
  });
});

describe('audit', () => {
  it('records saves with actor, version and message', async () => {
    const entries = await auditOf('config.saved');
    const entry = entries.find((e) => e.target.id === '2.0.0');
    expect(entry).toMatchObject({
      actor: { username: admin.body.data.user.username },
      outcome: 'success',
      detail: expect.objectContaining({ version: '2.0.0', message: 'next season' }),
    });
  });
});

describe('recovery at start', () => {
  it('runs the last good version when the active one cannot load on this instance', async () => {
    const env = { ...exampleEnv(), SWITCHBOARD_RATE_LIMITS: 'config.activate=off,config.save=off' };
    // Version 7.0.0 needs a variable that only the first instance has.
    const first = await startTestApp({ env, processEnv: { SWITCHBOARD_VAR_ONLY_ON_FIRST: 'x' } });
    try {
      const owner = await first.signIn(await first.createUser({ role: 'admin' }));
      const saveOn = (body: unknown) => owner.client.call('/api/v1/config', { method: 'POST', json: body });
      const needsVar = minimalConfig({ vars: { token: '${env:SWITCHBOARD_VAR_ONLY_ON_FIRST}' } });
      expect((await saveOn({ config: minimalConfig(), version: '1.0.0' })).status).toBe(201);
      expect((await saveOn({ config: needsVar, version: '7.0.0' })).status).toBe(201);
      const second = await startTestApp({ env, processEnv: {}, shareDatabaseWith: first });
      try {
        expect(second.app.endpoints.runtime.loaded).toBe('1.0.0');
        const list = (await owner.client.call('/api/v1/config/versions')).body.data;
        expect(list).toMatchObject({
          active: '7.0.0',
          last_good: '1.0.0',
          recovery: true,
          recovery_version: '7.0.0',
        });
        expect(list.recovery_reason).toContain('SWITCHBOARD_VAR_ONLY_ON_FIRST');
        expect(second.logs.some((l) => l.level === 50 && String(l.msg).includes('could not be loaded'))).toBe(
          true,
        );
        // Its periodic check does not try (and record) the same failure again.
        const recorded = async () =>
          (await owner.client.call('/api/v1/audit?type=config.recovery&limit=200')).body.data.length;
        const before = await recorded();
        await second.app.endpoints.service.sync();
        expect(await recorded()).toBe(before);
        // What runs while the active version cannot load cannot be deleted.
        const refused = await owner.client.call('/api/v1/config/versions/1.0.0', { method: 'DELETE' });
        expect(refused.status).toBe(409);
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
  });
});

describe('secrets in what is reported', () => {
  it('never shows a secret host in a failed activation: answers, versions, audit, config channel, logs', async () => {
    const fromEnv = 'hidden-q7zx.internal.example.net';
    const literal = 'literal-w3kd.internal.example.net';
    const env = { ...exampleEnv(), SWITCHBOARD_RATE_LIMITS: 'config.activate=off,config.save=off' };
    const app = await startTestApp({ env, processEnv: { SWITCHBOARD_VAR_HIDDEN_HOST: fromEnv } });
    try {
      const owner = await app.signIn(await app.createUser({ role: 'admin' }));
      const call = (path: string, init?: Parameters<SignedIn['client']['call']>[1]) =>
        owner.client.call(path, init);
      const notices: unknown[] = [];
      const stop = app.app.live.bus.subscribe('config', (event) => notices.push(event.data));
      const seen: unknown[] = [];
      try {
        const secretUrl = (value: string) => ({
          vars: { api_host: { value, secret: true } },
          endpoints: { api: { url: 'https://${api_host}/v1' } },
          streams: { 'api.data': { endpoint: 'api', interval: '1m' } },
        });
        // From the environment: saved, then refused at activation.
        const saved = await call('/api/v1/config', {
          method: 'POST',
          json: secretUrl('${env:SWITCHBOARD_VAR_HIDDEN_HOST}'),
        });
        expect(saved.status).toBe(201);
        expect(saved.body.data.active).toBe(false);
        expect(saved.body.data.activation_error).toContain('https://${api_host}/v1');
        const again = await call(`/api/v1/config/versions/${saved.body.data.version}/activate`, {
          method: 'POST',
        });
        expect(again.status).toBe(422);
        expect(again.body.error_detail.errors[0].pointer).toBe('/endpoints/api/url');
        const versions = await call('/api/v1/config/versions');
        expect(versions.body.data.recovery_reason).toContain('https://${api_host}/v1');
        const audit = await call('/api/v1/audit?type=config.recovery&limit=200');
        expect(audit.body.data).toHaveLength(2);
        // Written in the document: refused when saved.
        const refused = await call('/api/v1/config', { method: 'POST', json: secretUrl(literal) });
        expect(refused.status).toBe(422);
        expect(refused.body.error_detail.errors[0].pointer).toBe('/endpoints/api/url');
        seen.push(saved.body, again.body, versions.body, audit.body, refused.body);
      } finally {
        stop();
      }
      seen.push(notices, app.logs);
      for (const text of seen.map((item) => JSON.stringify(item))) {
        expect(text).not.toContain(fromEnv);
        expect(text).not.toContain(literal);
      }
      expect(app.logs.some((line) => line.msg === 'endpoint configuration could not be loaded')).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('never shows a secret host in the status of a stream whose upstream fails, nor in the log', async () => {
    const upstream = await new Upstream().start();
    const secretHost = `127.0.0.1:${upstream.port}`;
    const app = await startTestApp({
      env: { SWITCHBOARD_ENDPOINT_HOSTS: secretHost },
      processEnv: { SWITCHBOARD_VAR_UPSTREAM_HOST: secretHost },
    });
    try {
      const owner = await app.signIn(await app.createUser({ role: 'admin' }));
      const viewer = await app.signIn(await app.createUser({ role: 'viewer' }));
      const saved = await owner.client.call('/api/v1/config', {
        method: 'POST',
        json: {
          vars: { upstream_host: { value: '${env:SWITCHBOARD_VAR_UPSTREAM_HOST}', secret: true } },
          // Nothing answers on that path: 404.
          endpoints: { api: { url: 'http://${upstream_host}/missing', retries: 0 } },
          streams: { 'api.data': { endpoint: 'api', interval: '1s' } },
        },
      });
      expect(saved.body.data).toMatchObject({ active: true });
      const socket = await openSocket(app, viewer);
      try {
        await socket.subscribe('api.data');
        const status = await socket.next(
          (f) => f.type === 'status' && f.channel === 'api.data' && f.state === 'error',
          'the error status',
        );
        expect(status.message).toContain('endpoint "api": answered 404 Not Found');
        expect(status.message).toContain('http://${upstream_host}/missing');
        expect(upstream.requestsTo('/missing').length).toBeGreaterThan(0);
        expect(JSON.stringify(socket.all)).not.toContain(secretHost);
        expect(app.logs.some((line) => line.msg === 'stream source failed')).toBe(true);
        expect(JSON.stringify(app.logs)).not.toContain(secretHost);
      } finally {
        await socket.close();
      }
    } finally {
      await app.close();
      await upstream.close();
    }
  });
});
