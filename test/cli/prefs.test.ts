import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/auth/roles.js';
import type { Client } from '../client.js';
import { startTestApp, type TestApp } from '../fixture.js';
import { type RunOptions, runInProcess, SLOW } from './run-cli.js';

/** The server a layout leaves, and the one it moves to: two fresh databases. */
let source: TestApp;
let target: TestApp;
let files: string;

/** The settings that point the command line at a test app's database. */
function cliEnv(t: TestApp): Record<string, string> {
  const { database } = t.settings;
  return {
    SWITCHBOARD_DATABASE_URL: database.engine === 'sqlite' ? `sqlite:${database.file}` : database.url,
    SWITCHBOARD_DATA_DIR: t.settings.dataDir,
  };
}

/** `switchboard prefs …` against a test app's database, run in-process. */
const prefs = (t: TestApp, args: string[], options: RunOptions = {}) =>
  runInProcess(['prefs', ...args], { ...options, env: { ...cliEnv(t), ...options.env } });

/** Signed-in clients by server and username. */
const sessions = new Map<TestApp, Map<string, Client>>();

/** A user made with the same name, role and groups on both servers, signed in on each. */
async function onBoth(username: string, role: Role, groups: string[] = []): Promise<void> {
  for (const t of [source, target]) {
    const user = await t.createUser({ username, role, groups });
    const { client } = await t.signIn(user);
    const known = sessions.get(t) ?? new Map<string, Client>();
    known.set(username, client);
    sessions.set(t, known);
  }
}

function as(t: TestApp, username: string): Client {
  const client = sessions.get(t)?.get(username);
  if (!client) throw new Error(`${username} is not signed in`);
  return client;
}

async function preferences(t: TestApp, username: string) {
  const res = await as(t, username).call('/api/v1/preferences');
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { etag: res.headers.etag, data: res.body.data };
}

async function patch(t: TestApp, username: string, body: unknown): Promise<void> {
  const res = await as(t, username).call('/api/v1/preferences', {
    method: 'PATCH',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/merge-patch+json' },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

async function share(t: TestApp, username: string, workspace: string, grants: unknown[]): Promise<void> {
  const res = await as(t, username).call(`/api/v1/workspaces/${encodeURIComponent(workspace)}/grants`, {
    method: 'PUT',
    json: grants,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** What a user has on a server, as export and GET /preferences show it: a refused import changes none of it. */
async function state(t: TestApp, username: string) {
  const exported = await prefs(t, ['export', username]);
  expect(exported.status, exported.stderr).toBe(0);
  return { exported: exported.stdout, ...(await preferences(t, username)) };
}

const exportOf = (document: unknown, grants: unknown[] = [], username = 'erin') =>
  JSON.stringify({ format: 'switchboard.preferences/1', username, document, grants });

/** Alice's layout on the source server: workspaces shared with a role, a group and a user. */
const ALICE = {
  theme: 'dark',
  timeRange: { from: 'now-6h', to: 'now' },
  variables: { region: 'eu-west', hosts: ['a', 'b'] },
  workspaces: {
    Main: { panels: [{ id: 1, type: 'chart', query: 'rate(x[5m])' }] },
    'Ops board': { panels: [], layout: { columns: 3 } },
    'Überblick ☕': { note: 'ünïcödé', nested: { deep: [1, { two: null }] } },
  },
  currentWorkspace: 'Ops board',
};

beforeAll(async () => {
  const env = { SWITCHBOARD_RATE_LIMITING: 'false' };
  [source, target] = await Promise.all([startTestApp({ env }), startTestApp({ env })]);
  files = await mkdtemp(join(tmpdir(), 'switchboard-prefs-'));
  await onBoth('alice', 'editor', ['ops']);
  await onBoth('bob', 'viewer', ['night-shift']);
  await onBoth('carol', 'editor');
  await onBoth('dave', 'editor');
  await onBoth('erin', 'editor');
  await onBoth('frank', 'editor');
  await onBoth('root', 'admin');
  await patch(source, 'alice', ALICE);
  await share(source, 'alice', 'Main', [{ principal_type: 'role', principal: 'viewer', access: 'view' }]);
  await share(source, 'alice', 'Ops board', [
    { principal_type: 'user', principal: 'bob', access: 'view' },
    { principal_type: 'group', principal: 'night-shift', access: 'edit' },
    { principal_type: 'user', principal: 'carol', access: 'edit' },
  ]);
  await share(source, 'alice', 'Überblick ☕', [
    { principal_type: 'group', principal: 'ops', access: 'edit' },
  ]);
  // Erin's layout on the target server: what the refused imports must leave as it is.
  await patch(target, 'erin', {
    theme: 'light',
    workspaces: { Mine: { panels: [] } },
    currentWorkspace: 'Mine',
  });
  await share(target, 'erin', 'Mine', [{ principal_type: 'user', principal: 'bob', access: 'view' }]);
  await patch(target, 'frank', { workspaces: { Mine: { panels: [1] } } });
  await share(target, 'frank', 'Mine', [
    { principal_type: 'group', principal: 'night-shift', access: 'view' },
  ]);
}, SLOW.timeout);

afterAll(async () => {
  await Promise.all([source?.close(), target?.close()]);
  if (files) await rm(files, { recursive: true, force: true });
});

describe('prefs export', () => {
  it('prints the document and the grants as pretty JSON, or writes them to a file only its owner reads', async () => {
    const printed = await prefs(source, ['export', 'Alice']);
    expect(printed.status, printed.stderr).toBe(0);
    expect(printed.stderr).toBe('');
    const exported = JSON.parse(printed.stdout);
    expect(printed.stdout).toBe(`${JSON.stringify(exported, null, 2)}\n`);
    expect(exported).toEqual({
      format: 'switchboard.preferences/1',
      username: 'alice',
      document: ALICE,
      grants: expect.any(Array),
    });
    const { data } = await preferences(source, 'alice');
    const flattened = Object.entries(data.shared_workspace_grants as Record<string, object[]>).flatMap(
      ([workspace, grants]) => grants.map((grant) => ({ workspace, ...grant })),
    );
    expect(exported.grants).toHaveLength(5);
    expect(exported.grants).toEqual(expect.arrayContaining(flattened));

    const file = join(files, 'alice.json');
    await writeFile(file, 'old contents, readable by all');
    await chmod(file, 0o644);
    const written = await prefs(source, ['export', 'alice', '--output', file]);
    expect(written.status, written.stderr).toBe(0);
    expect(written.stdout).toBe(`wrote the preferences of alice to ${file} (3 workspaces, 5 grants)\n`);
    expect(await readFile(file, 'utf8')).toBe(printed.stdout);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('exports an empty layout for a user who never saved one', async () => {
    const run = await prefs(source, ['export', 'dave']);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      format: 'switchboard.preferences/1',
      username: 'dave',
      document: {},
      grants: [],
    });
  });

  it('names an unknown user, exit 1', async () => {
    const file = join(files, 'nobody.json');
    const run = await prefs(source, ['export', 'nobody', '--output', file]);
    expect(run).toEqual({ status: 1, stdout: '', stderr: 'switchboard prefs: no user named nobody\n' });
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('prefs import', () => {
  it('moves a layout to another server: the same GET /preferences, grants resolved to its users', async () => {
    const exported = await prefs(source, ['export', 'alice']);
    expect(exported.status, exported.stderr).toBe(0);
    const before = await preferences(target, 'alice');
    expect(before.data).toEqual({ shared_workspace_grants: {}, shared_workspace_library: [] });

    const run = await prefs(target, ['import', 'alice'], { input: exported.stdout });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('imported the preferences of alice: 3 workspaces, 5 grants\n');

    // The running target server shows it at the next read (no live notice from the command line).
    const moved = await preferences(target, 'alice');
    expect(moved.data).toEqual((await preferences(source, 'alice')).data);
    expect(moved.etag).not.toBe(before.etag);
    const again = await prefs(target, ['export', 'alice']);
    expect(JSON.parse(again.stdout)).toEqual(JSON.parse(exported.stdout));

    // The grantees here see what alice shares, as they did there, under this server's ids.
    const aliceId = (await target.app.auth.users.findByUsername('alice'))?.id;
    const sharedBy = async (t: TestApp, username: string) =>
      ((await preferences(t, username)).data.shared_workspace_library as any[])
        .filter((e) => e.owner === 'alice')
        .map(({ owner_id, ...entry }) => ({ ...entry, owner_id: owner_id === aliceId ? 'here' : owner_id }));
    for (const grantee of ['bob', 'carol', 'dave']) {
      const there = (await sharedBy(source, grantee)).map((e) => ({ ...e, owner_id: 'here' }));
      expect(there.length, grantee).toBeGreaterThan(0);
      expect(await sharedBy(target, grantee), grantee).toEqual(there);
    }
    // Bob: Main through his role, Ops board through his name and his group (edit, held to view: a viewer).
    expect((await sharedBy(target, 'bob')).map((e) => `${e.name}:${e.access}`)).toEqual([
      'Main:view',
      'Ops board:view',
    ]);
    const ops = (await sharedBy(target, 'carol')).find((e) => e.name === 'Ops board');
    expect(ops).toMatchObject({
      access: 'edit',
      workspace: ALICE.workspaces['Ops board'],
      variables: ALICE.variables,
    });

    const rootClient = as(target, 'root');
    const audit = await rootClient.call('/api/v1/audit?actor=cli&type=preferences.imported');
    expect(audit.status).toBe(200);
    const entry = (audit.body.data as any[]).find((e) => e.target?.id === aliceId);
    expect(entry).toMatchObject({
      actor: { id: null, username: 'cli' },
      outcome: 'success',
      detail: { username: 'alice', workspaces: 3, grants: 5 },
    });
  });

  it('imports into another username from --file, replacing the grants made, keeping those held', async () => {
    await patch(target, 'dave', {
      theme: 'solarized',
      workspaces: { Old: { x: 1 } },
      currentWorkspace: 'Old',
    });
    await share(target, 'dave', 'Old', [{ principal_type: 'user', principal: 'carol', access: 'view' }]);
    await patch(target, 'carol', { workspaces: { Carols: { y: 2 } } });
    await share(target, 'carol', 'Carols', [{ principal_type: 'user', principal: 'dave', access: 'edit' }]);
    const file = join(files, 'alice-for-dave.json');
    expect((await prefs(source, ['export', 'alice', '--output', file])).status).toBe(0);

    const run = await prefs(target, ['import', 'dave', '--file', file]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe('imported the preferences of alice into dave: 3 workspaces, 5 grants\n');

    const { data } = await preferences(target, 'dave');
    const { shared_workspace_library: library, shared_workspace_grants: grants, ...document } = data;
    expect(document).toEqual(ALICE);
    expect(grants).toEqual((await preferences(source, 'alice')).data.shared_workspace_grants);
    const shared = (library as any[]).map((e) => `${e.owner}/${e.name}:${e.access}`);
    // Held: carol's grant to dave stays; alice's role grant reaches dave, an editor.
    expect(shared).toContain('carol/Carols:edit');
    expect(shared).toContain('alice/Main:view');
    // Made: dave's grant of Old to carol went with Old; his Ops board is shared with her now.
    const carol = ((await preferences(target, 'carol')).data.shared_workspace_library as any[]).map(
      (e) => `${e.owner}/${e.name}`,
    );
    expect(carol).not.toContain('dave/Old');
    expect(carol).toContain('dave/Ops board');
    const exported = JSON.parse((await prefs(target, ['export', 'dave'])).stdout);
    expect(exported.username).toBe('dave');
  });

  it('refuses input that is not JSON, giving the position, and changes nothing', async () => {
    const before = await state(target, 'erin');
    const broken = '{\n  "format": "switchboard.preferences/1",\n  "document": }\n';
    const unexpected = await prefs(target, ['import', 'erin'], { input: broken });
    expect(unexpected).toEqual({
      status: 1,
      stdout: '',
      stderr: "switchboard prefs: standard input is not JSON: Unexpected token '}' at line 3, column 15\n",
    });
    const file = join(files, 'truncated.json');
    await writeFile(file, '{"format": "switchboard.preferences/1",\n "grants": [1, 2');
    const truncated = await prefs(target, ['import', 'erin', '--file', file]);
    expect(truncated.status).toBe(1);
    expect(truncated.stderr).toBe(
      `switchboard prefs: ${file} is not JSON: Expected ',' or ']' after array element at line 2, column 17\n`,
    );
    const empty = await prefs(target, ['import', 'erin'], { input: ' \n' });
    expect(empty.status).toBe(1);
    expect(empty.stderr).toBe(
      'switchboard prefs: standard input is empty; it must hold what switchboard prefs export writes\n',
    );
    const missing = await prefs(target, ['import', 'erin', '--file', join(files, 'missing.json')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(
      `switchboard prefs: cannot read ${join(files, 'missing.json')}: there is no such file\n`,
    );
    expect(await state(target, 'erin')).toEqual(before);
  });

  it('refuses what is not an export, and documents with the server keys smuggled in', async () => {
    const before = await state(target, 'erin');
    const cases: [string, string[]][] = [
      [
        JSON.stringify({ format: 'switchboard.config/1', username: 'erin', document: {}, grants: [] }),
        ['  /format: must be "switchboard.preferences/1" (what switchboard prefs export writes)'],
      ],
      ['[1, 2]', ['  /format: must be "switchboard.preferences/1"']],
      [
        exportOf({ workspaces: {}, shared_workspace_library: [{ owner: 'bob', name: 'x', workspace: {} }] }),
        ['shared_workspace_library: is rebuilt'],
      ],
      [
        exportOf({ shared_workspace_grants: { Mine: [] }, workspaceTarget: 'bob/x' }),
        ['(2 problems)', 'shared_workspace_grants: is managed by the server', 'workspaceTarget: cannot'],
      ],
      [exportOf({ workspaces: { 'a/b': {} } }), ['workspaces/a~1b: must not contain "/"']],
      [exportOf({ workspaces: { Mine: 'not an object' } }), ['workspaces/Mine: must be an object']],
      [
        exportOf({ workspaces: { Mine: {} } }, [
          { workspace: 'Elsewhere', principal_type: 'role', principal: 'viewer', access: 'view' },
        ]),
        ['  /grants/0/workspace: names a workspace the document does not have: "Elsewhere"'],
      ],
    ];
    for (const [input, messages] of cases) {
      const run = await prefs(target, ['import', 'erin'], { input });
      expect({ input, status: run.status, stdout: run.stdout }).toEqual({ input, status: 1, stdout: '' });
      expect(run.stderr).toMatch(
        /^switchboard prefs: standard input cannot be imported into erin \(\d problems?\); nothing was changed\n/,
      );
      for (const message of messages) expect(run.stderr, input).toContain(message);
    }
    expect(await state(target, 'erin')).toEqual(before);
  });

  it('refuses grants to principals this server does not have, naming each, and imports nothing', async () => {
    const before = await state(target, 'erin');
    const input = exportOf({ theme: 'new', workspaces: { Mine: {}, Other: {} } }, [
      { workspace: 'Mine', principal_type: 'user', principal: 'ghost', access: 'view' },
      { workspace: 'Mine', principal_type: 'user', principal: 'bob', access: 'view' },
      { workspace: 'Other', principal_type: 'group', principal: 'no-such-group', access: 'edit' },
      { workspace: 'Other', principal_type: 'group', principal: 'ops', access: 'edit' },
      { workspace: 'Other', principal_type: 'user', principal: 'phantom', access: 'edit' },
    ]);
    const run = await prefs(target, ['import', 'erin'], { input });
    expect(run).toEqual({
      status: 1,
      stdout: '',
      stderr:
        'switchboard prefs: standard input cannot be imported into erin (3 problems); nothing was changed\n' +
        '  /grants/0/principal: names no user here: "ghost"\n' +
        '  /grants/2/principal: names a group no user is in here: "no-such-group"\n' +
        '  /grants/4/principal: names no user here: "phantom"\n',
    });
    const self = await prefs(target, ['import', 'erin'], {
      input: exportOf({ workspaces: { Mine: {} } }, [
        { workspace: 'Mine', principal_type: 'user', principal: 'erin', access: 'edit' },
      ]),
    });
    expect(self.status).toBe(1);
    expect(self.stderr).toContain('is you: you own the workspace already');
    const role = await prefs(target, ['import', 'erin'], {
      input: exportOf({ workspaces: { Mine: {} } }, [
        { workspace: 'Mine', principal_type: 'role', principal: 'superuser', access: 'view' },
      ]),
    });
    expect(role.status).toBe(1);
    expect(role.stderr).toContain('is not a role: roles are viewer, editor, admin');
    expect(await state(target, 'erin')).toEqual(before);
  });

  it('refuses input over twice SWITCHBOARD_PREFERENCES_MAX_BYTES unread, and a document over the limit', async () => {
    const before = await state(target, 'erin');
    const env = { SWITCHBOARD_PREFERENCES_MAX_BYTES: '16384' };
    const huge = exportOf({ workspaces: { Mine: { blob: 'x'.repeat(40_000) } } });
    const fromStdin = await prefs(target, ['import', 'erin'], { input: huge, env });
    const expected =
      'holds more than 32,768 bytes; an import may have at most twice SWITCHBOARD_PREFERENCES_MAX_BYTES (32,768); nothing was imported\n';
    expect(fromStdin).toEqual({
      status: 1,
      stdout: '',
      stderr: `switchboard prefs: standard input ${expected}`,
    });
    const file = join(files, 'huge.json');
    await writeFile(file, huge);
    const fromFile = await prefs(target, ['import', 'erin', '--file', file], { env });
    expect(fromFile.status).toBe(1);
    expect(fromFile.stderr).toBe(`switchboard prefs: ${file} ${expected}`);
    // Under the cap, over the document's limit: the service refuses it.
    const large = await prefs(target, ['import', 'erin'], {
      input: exportOf({ workspaces: { Mine: { blob: 'x'.repeat(20_000) } } }),
      env,
    });
    expect(large.status).toBe(1);
    expect(large.stderr).toContain('bytes; at most 16,384 are allowed (SWITCHBOARD_PREFERENCES_MAX_BYTES)');
    expect(await state(target, 'erin')).toEqual(before);
  });

  it('names an unknown user, exit 1', async () => {
    const run = await prefs(target, ['import', 'nobody'], { input: exportOf({}) });
    expect(run).toEqual({ status: 1, stdout: '', stderr: 'switchboard prefs: no user named nobody\n' });
  });
});

/** What PUT /workspaces/{name}/grants refuses (422), an import must refuse too, changing nothing. */
describe('prefs import holds an export to the rules of the API', () => {
  const refuses = async (input: string, env: Record<string, string> = {}) => {
    const before = await state(target, 'frank');
    const run = await prefs(target, ['import', 'frank'], { input, env });
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 1, stdout: '' });
    expect(run.stderr).toMatch(/^switchboard prefs: standard input cannot be imported into frank/);
    expect(await state(target, 'frank')).toEqual(before);
    return run.stderr;
  };
  const grant = (fields: Record<string, unknown>) =>
    exportOf(
      { workspaces: { Mine: {} } },
      [{ workspace: 'Mine', principal_type: 'role', principal: 'viewer', access: 'view', ...fields }],
      'frank',
    );

  it('refuses an access other than view or edit', async () => {
    expect(await refuses(grant({ access: 'owner' }))).toContain('/grants/0/access');
  });

  it('refuses a principal type other than role, group or user', async () => {
    expect(await refuses(grant({ principal_type: 'everyone', principal: 'all' }))).toContain(
      '/grants/0/principal_type',
    );
  });

  it('refuses a principal that is not a string, with a refusal rather than a crash', async () => {
    expect(await refuses(grant({ principal_type: 'user', principal: 42 }))).toContain('/grants/0/principal');
  });

  it('refuses grants that are not a list, rather than dropping the grants the user has', async () => {
    const input = JSON.stringify({
      format: 'switchboard.preferences/1',
      username: 'frank',
      document: { workspaces: { Mine: {} } },
      grants: { Mine: [{ principal_type: 'role', principal: 'viewer', access: 'view' }] },
    });
    expect(await refuses(input)).toContain('/grants');
  });

  it('refuses more grants on one workspace than SWITCHBOARD_WORKSPACE_GRANTS_MAX', async () => {
    const input = exportOf(
      { workspaces: { Mine: {} } },
      [
        { workspace: 'Mine', principal_type: 'role', principal: 'viewer', access: 'view' },
        { workspace: 'Mine', principal_type: 'user', principal: 'bob', access: 'view' },
      ],
      'frank',
    );
    expect(await refuses(input, { SWITCHBOARD_WORKSPACE_GRANTS_MAX: '1' })).toContain(
      'SWITCHBOARD_WORKSPACE_GRANTS_MAX',
    );
  });

  it('refuses a currentWorkspace that names no workspace, as PATCH /preferences does', async () => {
    const input = exportOf({ workspaces: { Mine: {} }, currentWorkspace: 'Nowhere' }, [], 'frank');
    expect(await refuses(input)).toContain('currentWorkspace: names no workspace');
  });

  it('points each problem at its place in the export', async () => {
    const self = await refuses(
      exportOf(
        { workspaces: { Mine: {}, Other: {} } },
        [
          { workspace: 'Mine', principal_type: 'role', principal: 'viewer', access: 'view' },
          { workspace: 'Other', principal_type: 'role', principal: 'viewer', access: 'view' },
          { workspace: 'Other', principal_type: 'user', principal: 'frank', access: 'edit' },
        ],
        'frank',
      ),
    );
    expect(self).toContain('\n  /grants/2/principal: is you');
    const smuggled = await refuses(exportOf({ shared_workspace_library: [] }, [], 'frank'));
    expect(smuggled).toContain('\n  /document/shared_workspace_library: is rebuilt');
    const noDocument = await refuses(JSON.stringify({ format: 'switchboard.preferences/1', grants: [] }));
    expect(noDocument).toContain('\n  /document: must be');
  });
});

describe('prefs usage and help', () => {
  it('describes both commands, that servers see the change at the next read, and the exit statuses', async () => {
    const run = await prefs(target, ['--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Usage: switchboard prefs <command>/);
    for (const command of ['export <username> [--output FILE]', 'import <username> [--file FILE]'])
      expect(run.stdout).toContain(`\n  ${command}\n`);
    expect(run.stdout).toContain('next read');
    expect(run.stdout).toMatch(/Exit status: 0 done; 1 refused .*\n?.*2 bad usage/s);
    expect((await prefs(target, ['import', '--help'])).stdout).toBe(run.stdout);
    const top = await runInProcess(['--help']);
    expect(top.stdout).toMatch(/^ {2}prefs {7}\S/m);
  });

  it('exits 2 with the usage on stderr for bad usage', async () => {
    const cases: [string[], string][] = [
      [[], 'missing command'],
      [['copy'], 'unknown command "prefs copy"'],
      [['export'], 'missing <username>'],
      [['import', 'erin', 'alice'], 'unexpected argument "alice"'],
      [['export', 'erin', '--output'], "Option '--output <value>' argument missing"],
      [['export', 'erin', '--output='], '--output needs a file name'],
      [['import', 'erin', '--file='], '--file needs a file name'],
      [['import', 'erin', '--force'], "Unknown option '--force'"],
    ];
    for (const [args, message] of cases) {
      const run = await prefs(target, args);
      expect({ args, status: run.status, stdout: run.stdout }).toEqual({ args, status: 2, stdout: '' });
      expect(run.stderr).toContain(message);
      expect(run.stderr).toMatch(/usage: switchboard prefs|Usage: switchboard prefs/);
    }
  });
});
