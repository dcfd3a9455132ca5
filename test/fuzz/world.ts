import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import type { Role } from '../../src/auth/roles.js';
import { parseSetCookie } from '../client.js';
import { startTestApp, TEST_CONTEXT, TEST_PASSWORD, type TestApp } from '../fixture.js';
import { npmTarball, TestRegistry } from '../widgets/registry-fixture.js';

/**
 * The server a fuzz run talks to and what it knows about it: the people it signs in as, the ids and names
 * that exist (so path parameters reach the handlers, not only their 404), and the repairs that keep the
 * run going after a request that logged someone out, revoked a key or changed the active configuration.
 */

export const SETUP_TOKEN = 'fuzz-setup-token-0123456789';
export const STRONG_PASSWORD = 'another-Str0ng#passphrase';
const SHARED_WORKSPACES = ['ops', 'Night shift'];
const GAUGE = {
  'package.json': '{"name":"@acme/gauge","version":"1.0.0"}',
  'dist/index.js': 'export const gauge = 1;\n',
  'index.html': '<!doctype html><script src="dist/index.js"></script>',
};

/** A function module for the configuration's streams: gives back what it is given, never throws. */
const ECHO_MODULE = `export default function echo(args) {
  return { echoed: args === undefined ? null : args, at: 1 };
}
`;

/** The configuration the run keeps active: streams for each access rule, fed by a function. */
export function baseConfig(): Record<string, unknown> {
  return {
    description: 'fuzz base',
    vars: { plant: 'north', token: { value: 'secret-value-123', secret: true } },
    endpoints: { closed: { url: 'http://127.0.0.1:9/x', timeout: '200ms', retries: 0 } },
    functions: { echo: { module: 'echo.mjs', args: { hello: 'world' }, timeout: '2s', memory_mb: 64 } },
    streams: {
      'fuzz.board': { function: 'echo', interval: '1h', title: 'Board' },
      'fuzz.editors': { function: 'echo', interval: '1h', access: { min_role: 'editor' } },
      'fuzz.ops': { function: 'echo', interval: '1h', access: { groups: { one_of: ['operators'] } } },
      'fuzz.polled': { endpoint: 'closed', interval: '1h' },
    },
  };
}

export interface Person {
  username: string;
  role: Role;
  groups: string[];
}

/** Who a request comes from. */
export type Identity =
  | { kind: 'nobody'; name: string }
  | { kind: 'forged'; name: string }
  | { kind: 'bearer' | 'cookie'; name: string; person: string }
  | { kind: 'key'; name: string; owner: string; role: Role; scopes: string[] };

export const PEOPLE: Person[] = [
  { username: 'fuzz-admin', role: 'admin', groups: ['operators'] },
  { username: 'fuzz-editor', role: 'editor', groups: ['operators', 'maintenance'] },
  { username: 'fuzz-viewer', role: 'viewer', groups: [] },
];

/** Every identity, with how often a request comes from it. */
export const IDENTITIES: { identity: Identity; weight: number }[] = [
  { identity: { kind: 'nobody', name: 'nobody' }, weight: 3 },
  { identity: { kind: 'forged', name: 'forged token' }, weight: 1 },
  ...PEOPLE.flatMap((p) => [
    { identity: { kind: 'bearer' as const, name: `${p.role} (bearer)`, person: p.username }, weight: 3 },
    { identity: { kind: 'cookie' as const, name: `${p.role} (cookie)`, person: p.username }, weight: 2 },
    {
      identity: { kind: 'key' as const, name: `${p.role} key`, owner: p.username, role: p.role, scopes: [] },
      weight: 2,
    },
  ]),
  {
    identity: {
      kind: 'key',
      name: 'viewer key publishing fuzz.board (admin-owned)',
      owner: 'fuzz-admin',
      role: 'viewer',
      scopes: ['publish:fuzz.board'],
    },
    weight: 1,
  },
  {
    identity: {
      kind: 'key',
      name: 'editor key publishing * (admin-owned)',
      owner: 'fuzz-admin',
      role: 'editor',
      scopes: ['publish:*'],
    },
    weight: 1,
  },
];

interface Session {
  accessToken: string;
  /** Cookies by name, with the path each is sent under. */
  cookies: Map<string, { value: string; path: string }>;
}

export interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export class World {
  readonly pools: Record<string, string[]> = {};
  /** Bookkeeping requests (seeding, repairs, refreshing the pools), apart from the fuzzed ones. */
  bookkeeping = 0;
  repairs = 0;
  private readonly sessions = new Map<string, Session>();
  private readonly keys = new Map<string, { id: string; secret: string }>();
  private baseVersion = '';

  private constructor(
    readonly t: TestApp,
    readonly pool: Pool,
    readonly registry: TestRegistry,
    private readonly functionsDir: string,
  ) {}

  /** A server for fuzzing, its registry of widget bundles, and everything seeded. */
  static async start(env: Record<string, string> = {}): Promise<World> {
    const functionsDir = mkdtempSync(join(tmpdir(), 'switchboard-fuzz-functions-'));
    writeFileSync(join(functionsDir, 'echo.mjs'), ECHO_MODULE);
    const registry = await TestRegistry.start();
    registry.publish('@acme/gauge', '1.0.0', { tarball: await npmTarball(GAUGE) });
    registry.publish('@acme/gauge', '1.0.1', { tarball: await npmTarball(GAUGE) });
    const t = await startTestApp({
      env: {
        SWITCHBOARD_LOG_LEVEL: 'warn',
        // The run sends thousands of requests a minute as a handful of users from one address: the
        // limits would answer most of them 429. Lockout, the ticket cap and the connection caps stay on.
        SWITCHBOARD_RATE_LIMITING: 'false',
        SWITCHBOARD_SETUP_TOKEN: SETUP_TOKEN,
        SWITCHBOARD_FUNCTIONS_DIR: functionsDir,
        SWITCHBOARD_ENDPOINT_HOSTS: '127.0.0.1:9,*.example.com',
        SWITCHBOARD_WIDGETS_REGISTRY: registry.url,
        SWITCHBOARD_WIDGETS_ALLOWED_HOSTS: registry.host,
        SWITCHBOARD_WIDGETS_SCOPES: '@acme',
        SWITCHBOARD_WIDGETS_TIMEOUT: '2s',
        ...env,
      },
    });
    const pool = new Pool(t.url, { connections: 4, headersTimeout: 30_000, bodyTimeout: 30_000 });
    const world = new World(t, pool, registry, functionsDir);
    await world.seed();
    return world;
  }

  async close(): Promise<void> {
    await this.pool.close();
    await this.t.close();
    await this.registry.close();
    rmSync(this.functionsDir, { recursive: true, force: true });
  }

  /** A value of a pool, by the index a plan chose; undefined (the field left out) while the pool is empty. */
  pick(pool: string, k: number): string | undefined {
    const values = this.pools[pool];
    if (!values || values.length === 0) return undefined;
    return values[k % values.length] as string;
  }

  /** Adds values seen in answers (cursors, tickets, ETags, event ids), keeping the newest 50 per pool. */
  remember(pool: string, value: unknown): void {
    if (typeof value !== 'string' || value.length === 0 || value.length > 10_000) return;
    const values = (this.pools[pool] ??= []);
    if (values.includes(value)) return;
    values.push(value);
    if (values.length > 50) values.shift();
  }

  // ---- credentials ----

  /** The headers that make a request come from `identity`; writes by cookie carry the CSRF token. */
  credentialHeaders(identity: Identity, method: string, path: string, csrf = true): Record<string, string> {
    switch (identity.kind) {
      case 'nobody':
        return {};
      case 'forged':
        return { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmdXp6In0.c2lnbmF0dXJl' };
      case 'key':
        return { authorization: `Bearer ${this.keys.get(identity.name)?.secret ?? 'sbk_missing'}` };
      case 'bearer':
        return { authorization: `Bearer ${this.sessions.get(identity.name)?.accessToken ?? 'missing'}` };
      case 'cookie': {
        const session = this.sessions.get(identity.name);
        if (!session) return {};
        const pathname = path.split('?')[0] ?? '/';
        const cookies = [...session.cookies]
          .filter(
            ([, c]) =>
              pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`),
          )
          .map(([name, c]) => `${name}=${c.value}`);
        const headers: Record<string, string> = {};
        if (cookies.length) headers.cookie = cookies.join('; ');
        if (csrf && !['GET', 'HEAD', 'OPTIONS'].includes(method)) {
          headers['x-csrf-token'] = session.cookies.get('csrf_token')?.value ?? '';
          headers.origin = this.t.origin;
        }
        return headers;
      }
    }
  }

  /** Keeps the cookies an answer sets for a cookie identity, as a browser would. */
  absorbCookies(identity: Identity, headers: Raw['headers']): void {
    if (identity.kind !== 'cookie') return;
    const session = this.sessions.get(identity.name);
    const raw = headers['set-cookie'];
    if (!session || !raw) return;
    for (const line of Array.isArray(raw) ? raw : [raw]) {
      const cookie = parseSetCookie(line);
      const path = typeof cookie.attributes.path === 'string' ? cookie.attributes.path : '/';
      if (cookie.attributes['max-age'] === '0' || cookie.value === '') session.cookies.delete(cookie.name);
      else session.cookies.set(cookie.name, { value: cookie.value, path });
    }
  }

  /** A request of the world's own (not counted as fuzzed), as the admin's bearer by default. */
  async call(
    method: string,
    path: string,
    options: { json?: unknown; as?: Identity } = {},
  ): Promise<Raw & { body: any }> {
    this.bookkeeping += 1;
    const as = options.as ?? { kind: 'bearer', name: 'admin (bearer)', person: 'fuzz-admin' };
    const headers = this.credentialHeaders(as, method, path);
    if (options.json !== undefined) headers['content-type'] = 'application/json';
    const res = await this.pool.request({
      method: method as 'GET',
      path,
      headers,
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
    });
    const text = await res.body.text();
    let body: any = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = text;
    }
    return { status: res.statusCode, headers: res.headers, text, body };
  }

  /** A request with a body given as text (JSON), as the admin's bearer. */
  async raw(method: string, path: string, text: string): Promise<Raw & { body: any }> {
    this.bookkeeping += 1;
    const as = this.bearerOf('fuzz-admin');
    const res = await this.pool.request({
      method: method as 'POST',
      path,
      headers: { ...this.credentialHeaders(as, method, path), 'content-type': 'application/json' },
      body: text,
      reset: true,
    });
    const answer = await res.body.text();
    let body: any = null;
    try {
      body = JSON.parse(answer);
    } catch {
      body = null;
    }
    return { status: res.statusCode, headers: res.headers, text: answer, body };
  }

  private async signIn(username: string): Promise<Session> {
    for (let attempt = 0; ; attempt++) {
      this.bookkeeping += 1;
      const res = await this.pool.request({
        method: 'POST',
        path: '/api/v1/auth/login',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: TEST_PASSWORD }),
      });
      const text = await res.body.text();
      if (res.statusCode === 200) {
        const cookies = new Map<string, { value: string; path: string }>();
        const raw = res.headers['set-cookie'];
        for (const line of Array.isArray(raw) ? raw : raw ? [raw] : []) {
          const c = parseSetCookie(line);
          cookies.set(c.name, { value: c.value, path: String(c.attributes.path ?? '/') });
        }
        return { accessToken: JSON.parse(text).data.access_token, cookies };
      }
      if (attempt > 0) throw new Error(`could not sign in ${username} again: ${res.statusCode} ${text}`);
      // Locked by fuzzed sign-ins, or its password changed: put the account back as the run needs it.
      await this.restorePerson(username, true);
    }
  }

  /** The account as PEOPLE says: there, enabled, its role and groups, no password change due. */
  private async restorePerson(username: string, resetPassword: boolean): Promise<void> {
    const person = PEOPLE.find((p) => p.username === username) as Person;
    const users = this.t.app.auth.users;
    const found = await users.findByUsername(username);
    if (!found) {
      await users.create(
        {
          username,
          password: TEST_PASSWORD,
          role: person.role,
          groups: person.groups,
          mustChangePassword: false,
        },
        TEST_CONTEXT,
      );
    } else {
      await users.update(
        found.id,
        {
          role: person.role,
          groups: person.groups,
          disabled: false,
          mustChangePassword: false,
          ...(resetPassword && { password: TEST_PASSWORD }),
        },
        TEST_CONTEXT,
      );
    }
    await this.t.app.auth.login.unlock(username, TEST_CONTEXT);
  }

  private async makeKey(identity: Extract<Identity, { kind: 'key' }>): Promise<void> {
    const owner = IDENTITIES.find((i) => i.identity.kind === 'bearer' && i.identity.person === identity.owner)
      ?.identity as Identity;
    const res = await this.call('POST', '/api/v1/auth/api-keys', {
      as: owner,
      json: { name: identity.name.slice(0, 100), role: identity.role, scopes: identity.scopes },
    });
    if (res.status !== 201) throw new Error(`could not create ${identity.name}: ${res.status} ${res.text}`);
    this.keys.set(identity.name, { id: res.body.data.id, secret: res.body.data.key });
  }

  /** Whether `identity` still works as itself: GET /auth/me answers with its role. */
  private async works(identity: Identity): Promise<boolean> {
    const res = await this.call('GET', '/api/v1/auth/me', { as: identity });
    if (res.status !== 200) return false;
    const me = res.body.data;
    if (identity.kind === 'key') return me.role === identity.role && me.must_change_password === false;
    const person = PEOPLE.find(
      (p) => identity.kind !== 'nobody' && 'person' in identity && p.username === identity.person,
    );
    return (
      me.role === person?.role &&
      me.must_change_password === false &&
      JSON.stringify([...me.groups].sort()) === JSON.stringify([...(person?.groups ?? [])].sort())
    );
  }

  /**
   * Puts back whatever fuzzed requests broke: accounts disabled, demoted, deleted or locked, passwords
   * changed, sessions ended, keys revoked. Returns how many identities needed it.
   */
  async heal(): Promise<number> {
    let healed = 0;
    for (const person of PEOPLE) {
      const mine = IDENTITIES.map((i) => i.identity).filter(
        (i) => (i.kind === 'bearer' || i.kind === 'cookie') && i.person === person.username,
      );
      const broken = [];
      for (const identity of mine) if (!(await this.works(identity))) broken.push(identity);
      if (broken.length === 0) continue;
      await this.restorePerson(person.username, false);
      for (const identity of mine) {
        if (broken.includes(identity) || !(await this.works(identity))) {
          this.sessions.set(identity.name, await this.signIn(person.username));
          healed += 1;
        }
      }
    }
    for (const { identity } of IDENTITIES) {
      if (identity.kind !== 'key' || (await this.works(identity))) continue;
      await this.makeKey(identity);
      healed += 1;
    }
    if (healed > 0) this.repairs += 1;
    return healed;
  }

  // ---- the configuration ----

  /** The base configuration active again (saved again if a fuzzed request deleted it). */
  async restoreConfig(): Promise<void> {
    const service = this.t.app.endpoints.service;
    const list = await service.list();
    if (list.state.activeVersion === this.baseVersion && !list.state.recovery) return;
    this.repairs += 1;
    if (list.versions.some((v) => v.version === this.baseVersion)) {
      await service.activate(this.baseVersion, TEST_CONTEXT);
    } else {
      const saved = await service.save({ config: baseConfig() }, TEST_CONTEXT);
      this.baseVersion = saved.version;
    }
  }

  // ---- seeding and the pools ----

  private async seed(): Promise<void> {
    for (const person of PEOPLE) {
      await this.t.createUser({ username: person.username, role: person.role, groups: person.groups });
    }
    for (const { identity } of IDENTITIES) {
      if (identity.kind === 'bearer' || identity.kind === 'cookie') {
        this.sessions.set(identity.name, await this.signIn(identity.person));
      }
    }
    for (const { identity } of IDENTITIES) if (identity.kind === 'key') await this.makeKey(identity);
    const saved = await this.call('POST', '/api/v1/config', {
      json: { config: baseConfig(), version: '1.0.0' },
    });
    if (saved.status !== 201) throw new Error(`base configuration refused: ${saved.text}`);
    this.baseVersion = '1.0.0';
    for (const version of ['1.0.1', '2.0.0-rc.1']) {
      const config = { ...baseConfig(), description: `fuzz ${version}` };
      await this.call('POST', '/api/v1/config', { json: { config, version, activate: false } });
    }
    await this.seedWorkspaces();
    for (let i = 0; i < 3; i++)
      await this.call('POST', '/api/v1/streams/fuzz.board/publish', { json: { n: i } });
    for (const version of ['1.0.0', '1.0.1']) {
      const res = await this.call('POST', '/api/v1/widgets', { json: { package: '@acme/gauge', version } });
      if (res.status >= 300) throw new Error(`widget registration refused: ${res.text}`);
    }
    await this.refreshPools();
  }

  /** The editors' and admins' shared workspaces, put back as seeded (fuzzed requests delete and rename them). */
  private async seedWorkspaces(): Promise<void> {
    for (const person of PEOPLE.filter((p) => p.role !== 'viewer')) {
      const as = this.bearerOf(person.username);
      const own = await this.call('GET', '/api/v1/workspaces?limit=200', { as });
      const names = new Set((own.body?.data ?? []).map((w: { name: string }) => w.name));
      for (const name of SHARED_WORKSPACES) {
        if (names.has(name)) continue;
        await this.call('PUT', `/api/v1/workspaces/${encodeURIComponent(name)}`, {
          as,
          json: {
            panels: [{ id: 'p1', widget: '@acme/gauge', channel: 'fuzz.board' }],
            layout: { columns: 2 },
          },
        });
      }
      await this.call('PUT', `/api/v1/workspaces/${encodeURIComponent('ops')}/grants`, {
        as,
        json: [
          { principal_type: 'role', principal: 'viewer', access: 'view' },
          { principal_type: 'group', principal: 'operators', access: 'edit' },
        ],
      });
    }
  }

  bearerOf(username: string): Identity {
    return IDENTITIES.find((i) => i.identity.kind === 'bearer' && i.identity.person === username)
      ?.identity as Identity;
  }

  /**
   * Reads again what exists: users (victims made up to four), sessions, keys, versions, channels and widget
   * bundles; the values fuzzed requests may take from.
   */
  async refreshPools(): Promise<void> {
    await this.heal();
    const users = this.t.app.auth.users;
    let listed = await users.list({}, undefined, 200);
    const victims = listed.filter((u) => u.username.startsWith('victim-'));
    for (let i = victims.length; i < 4; i++) {
      const role = (['viewer', 'editor', 'admin', 'viewer'] as const)[i] as Role;
      await users.create(
        {
          username: `victim-${Date.now().toString(36)}-${i}`,
          password: TEST_PASSWORD,
          role,
          groups: i % 2 ? ['operators'] : ['contractors'],
          mustChangePassword: false,
        },
        TEST_CONTEXT,
      );
    }
    if (victims.length < 4) listed = await users.list({}, undefined, 200);
    await this.seedWorkspaces();
    const set = (pool: string, values: string[]) => {
      this.pools[pool] = [...new Set(values)].filter((v) => v.length > 0);
    };
    set(
      'userIds',
      listed.map((u) => u.id),
    );
    set(
      'usernames',
      listed.map((u) => u.username),
    );
    set('groups', ['operators', 'maintenance', 'contractors', ...listed.flatMap((u) => u.groups)]);
    set('principals', [
      ...(this.pools.usernames ?? []),
      ...(this.pools.groups ?? []),
      'viewer',
      'editor',
      'admin',
    ]);
    set('passwords', [TEST_PASSWORD, STRONG_PASSWORD]);
    set('setupTokens', [SETUP_TOKEN]);
    const sessions = await this.call('GET', '/api/v1/auth/sessions?scope=all&limit=200');
    set(
      'sessionIds',
      (sessions.body?.data ?? []).map((s: { id: string }) => s.id),
    );
    const keys = await this.call('GET', '/api/v1/auth/api-keys?scope=all&limit=200');
    set(
      'apiKeyIds',
      (keys.body?.data ?? []).map((k: { id: string }) => k.id),
    );
    const versions = await this.t.app.endpoints.service.list();
    set('versions', [...versions.versions.map((v) => v.version), '9.9.9']);
    set('functionNames', ['echo', 'missing_fn']);
    const streams = await this.call('GET', '/api/v1/streams');
    const ids = await Promise.all(PEOPLE.map((p) => users.findByUsername(p.username)));
    set('channels', [
      ...(streams.body?.data ?? []).map((s: { name: string }) => s.name),
      'config',
      ...ids.map((u) => (u ? `user:${u.id}` : '')),
      'status:fuzz.board',
      'no.such.stream',
    ]);
    set('scopes', ['publish:fuzz.board', 'publish:*', 'publish:fuzz.editors']);
    set('workspaceNames', [...SHARED_WORKSPACES, 'current', 'fresh-one']);
    set(
      'sharedOwners',
      PEOPLE.filter((p) => p.role !== 'viewer').map((p) => p.username),
    );
    set(
      'sharedNames',
      (this.pools.sharedOwners ?? []).flatMap((o) => SHARED_WORKSPACES.map((n) => `${o}/${n}`)),
    );
    const widgets = await this.call('GET', '/api/v1/widgets');
    const bundles: { package: string; version: string }[] = widgets.body?.data ?? [];
    if (!bundles.some((b) => b.version === '1.0.0')) {
      await this.call('POST', '/api/v1/widgets', { json: { package: '@acme/gauge', version: '1.0.0' } });
    }
    set('widgetPaths', ['@acme/gauge/1.0.0', '@acme%2Fgauge/1.0.1', '@acme/gauge/9.9.9', '@other/x/1.0.0']);
    set('widgetFiles', [
      '@acme/gauge/1.0.0/dist/index.js',
      '@acme%2Fgauge/1.0.0/index.html',
      '@acme/gauge/1.0.1/package.json',
      '@acme/gauge/1.0.0/missing.js',
    ]);
    set('widgetPackages', ['@acme/gauge', '@acme/none', 'left-pad']);
    set('widgetVersions', ['1.0.0', '1.0.1', '2.0.0']);
    set('auditTypes', ['user.created', 'auth.login', 'config.saved', 'config.activated', 'api_key.created']);
    set('returnTo', ['/', '/config-ui/', '//evil.example.com/', 'https://evil.example.com/']);
  }
}
