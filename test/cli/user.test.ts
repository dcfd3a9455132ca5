import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type Switchboard } from '../../src/app.js';
import type { Role } from '../../src/auth/roles.js';
import { loadSettings } from '../../src/settings.js';
import { Client } from '../client.js';
import { freshDatabase, TEST_CONTEXT, TEST_PASSWORD } from '../fixture.js';
import { databaseEnv, type RunOptions, runInProcess, runSwitchboard, SLOW } from './run-cli.js';

const ROOT_PASSWORD = 'admin-secret-Zq4!mW8p';
const OTHER_PASSWORD = 'other-password-Hn3$uR6t';

let database: Awaited<ReturnType<typeof freshDatabase>>;
let env: Record<string, string>;
let app: Switchboard;
let url: string;
let origin: string;
let root: Client;

const withEnv = (options: RunOptions) => ({ ...options, env: { ...env, ...options.env } });

/** `switchboard user …` against the test database, run in-process. */
const user = (args: string[], options: RunOptions = {}) => runInProcess(['user', ...args], withEnv(options));

const client = () => new Client(url, origin);

async function signIn(username: string, password: string) {
  const c = client();
  const res = await c.call('/api/v1/auth/login', { json: { username, password } });
  return { client: c, res };
}

/** A user made through the running app's service (test setup, not the behaviour under test). */
async function existing(username: string, role: Role = 'viewer') {
  await app.auth.users.create(
    { username, password: TEST_PASSWORD, role, mustChangePassword: false },
    TEST_CONTEXT,
  );
  return username;
}

async function cliAudit(type: string) {
  const res = await root.call(`/api/v1/audit?actor=cli&type=${type}`);
  expect(res.status).toBe(200);
  return res.body.data as any[];
}

const generatedLine = /^password: ([A-Za-z0-9_-]{24})$/m;

beforeAll(async () => {
  database = await freshDatabase();
  env = {
    ...databaseEnv(database),
    SWITCHBOARD_LOCKOUT_THRESHOLD: '2',
  };
  // A running server on the same database: the CLI's changes must reach it on its next request.
  const settings = loadSettings({ HOST: '127.0.0.1', PORT: '0', SWITCHBOARD_LOG_LEVEL: 'silent', ...env });
  app = await createApp(settings);
  url = await app.start();
  origin = new URL(settings.publicUrl).origin;
  // The one admin of this database; no test makes another. Made by the real entry point in a process of
  // its own, password piped in: the round trip an operator makes, which the server must then accept.
  const added = await runSwitchboard(
    ['user', 'add', 'root', '--role', 'admin', '--password-stdin'],
    withEnv({ input: `${ROOT_PASSWORD}\n` }),
  );
  expect({ status: added.status, stderr: added.stderr }).toEqual({ status: 0, stderr: '' });
  const signed = await signIn('root', ROOT_PASSWORD);
  expect(signed.res.status).toBe(200);
  root = signed.client;
}, SLOW.timeout);

afterAll(async () => {
  await app?.shutdown();
  await database?.drop();
});

describe('user add', () => {
  it('makes an account for single sign-on with --sso: no password printed, none to sign in with', async () => {
    const run = await user(['add', 'Sso.Sam@example.com', '--sso', 'msal', '--role', 'editor']);
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.stdout).toBe('created user sso.sam@example.com (editor) for single sign-on with msal\n');
    const stored = await app.auth.users.findByUsername('sso.sam@example.com');
    expect(stored).toMatchObject({ authSource: 'msal', passwordHash: null, mustChangePassword: false });
    for (const args of [
      ['add', 'ssobad', '--sso', 'saml'],
      ['add', 'ssobad', '--sso', 'oidc', '--password-stdin'],
    ]) {
      const refused = await user(args, { input: `${OTHER_PASSWORD}\n` });
      expect(refused.status).toBe(2);
    }
    expect(await app.auth.users.findByUsername('ssobad')).toBeUndefined();
  });

  it('prints a generated password once; it signs in and must be changed', async () => {
    const run = await user([
      'add',
      'Gina',
      '--role',
      'editor',
      '--full-name',
      'Gina G',
      '--groups',
      'ops, sre',
    ]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('created user gina (editor)');
    const password = generatedLine.exec(run.stdout)?.[1] ?? '';
    expect(password).toHaveLength(24);
    expect(`${run.stdout}${run.stderr}`.split(password)).toHaveLength(2);
    const { client: gina, res } = await signIn('gina', password);
    expect(res.status).toBe(200);
    expect(res.body.data.user).toMatchObject({
      username: 'gina',
      full_name: 'Gina G',
      role: 'editor',
      groups: ['ops', 'sre'],
      must_change_password: true,
    });
    const blocked = await gina.call('/api/v1/auth/roles');
    expect(blocked.status).toBe(403);
    expect(blocked.body.error_detail.error_code).toBe(1007);
    const created = (await cliAudit('user.created')).find((e) => e.detail.username === 'gina');
    expect(created.actor).toEqual({ id: null, username: 'cli' });
    expect(JSON.stringify(await cliAudit('user.created'))).not.toContain(password);
  });

  it('takes the password from the first line of standard input; the user keeps it', async () => {
    const run = await user(['add', 'hank', '--password-stdin'], {
      input: `${OTHER_PASSWORD}\r\nsecond line is ignored\n`,
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('created user hank (viewer)\n');
    expect(run.stderr).not.toContain(OTHER_PASSWORD);
    const { res } = await signIn('hank', OTHER_PASSWORD);
    expect(res.status).toBe(200);
    expect(res.body.data.user.must_change_password).toBe(false);
    expect(res.body.data.user.role).toBe('viewer');
  });

  it('refuses a weak password or a taken username, saying why, and creates nothing', async () => {
    const [common, short, taken] = await Promise.all([
      user(['add', 'ivan', '--password-stdin'], { input: 'password1234\n' }),
      user(['add', 'ivan', '--password-stdin'], { input: 'Sh0rt!\n' }),
      user(['add', 'root', '--password-stdin'], { input: `${OTHER_PASSWORD}\n` }),
    ]);
    expect(common.status).toBe(1);
    expect(common.stderr).toContain('the password is one of the most common passwords');
    expect(short.status).toBe(1);
    expect(short.stderr).toContain('the password must be at least 12 characters long');
    expect(taken.status).toBe(1);
    expect(taken.stderr).toContain('username "root" is taken');
    for (const run of [common, short, taken]) expect(run.stdout).toBe('');
    expect(await app.auth.users.findByUsername('ivan')).toBeUndefined();
  });
});

describe('user list', () => {
  it('shows a table, and with --json the objects GET /users returns, filtered by role', async () => {
    await app.auth.users.create(
      {
        username: 'lena',
        password: TEST_PASSWORD,
        role: 'viewer',
        fullName: 'Lena L',
        groups: ['night-shift'],
        mustChangePassword: false,
      },
      { actor: null, ip: null, userAgent: null },
    );
    await existing('mike', 'editor');
    const [text, json] = await Promise.all([user(['list']), user(['list', '--role', 'editor', '--json'])]);
    expect(text.status).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^USERNAME\s+ROLE\s+STATUS\s+GROUPS\s+LAST SIGN-IN\s+FULL NAME$/);
    expect(text.stdout).toMatch(/^lena\s+viewer\s+active\s+night-shift\s+never\s+Lena L$/m);
    expect(text.stdout).toMatch(/^root\s+admin\s+active\s+-\s+\d{4}-\d\d-\d\dT\S+Z$/m);
    const names = lines.slice(1).map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual([...names].sort());

    expect(json.status).toBe(0);
    const listed = JSON.parse(json.stdout);
    expect(listed.map((u: { username: string }) => u.username)).toContain('mike');
    expect(listed.every((u: { role: string }) => u.role === 'editor')).toBe(true);
    const api = await root.call('/api/v1/users?role=editor&limit=100');
    expect(api.status).toBe(200);
    expect(listed).toEqual(api.body.data);
    expect(json.stdout).not.toContain('argon2');
  });
});

describe('changes reach a running server on its next request', () => {
  it('set-role changes the role of a live session', async () => {
    await existing('nina');
    const { client: nina } = await signIn('nina', TEST_PASSWORD);
    expect((await nina.call('/api/v1/auth/me')).body.data.role).toBe('viewer');
    const run = await user(['set-role', 'nina', 'editor']);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('nina is now editor (was viewer)\n');
    const me = await nina.call('/api/v1/auth/me');
    expect(me.status).toBe(200);
    expect(me.body.data).toMatchObject({ role: 'editor', role_level: 2 });
  });

  it('disable ends live sessions and refuses sign-in; enable lets the user back', async () => {
    await existing('oscar');
    const { client: oscar } = await signIn('oscar', TEST_PASSWORD);
    expect((await oscar.call('/api/v1/auth/me')).status).toBe(200);
    const disabled = await user(['disable', 'oscar']);
    expect(disabled.status).toBe(0);
    expect(disabled.stdout).toContain('disabled oscar');
    const me = await oscar.call('/api/v1/auth/me');
    expect(me.status).toBe(401);
    expect(me.body.error_detail.error_code).toBe(1002);
    const refused = await signIn('oscar', TEST_PASSWORD);
    expect(refused.res.status).toBe(401);
    expect(refused.res.body.error_detail.error_code).toBe(1000);

    const enabled = await user(['enable', 'oscar']);
    expect(enabled.status).toBe(0);
    expect(enabled.stdout).toBe('enabled oscar\n');
    expect((await signIn('oscar', TEST_PASSWORD)).res.status).toBe(200);
  });

  it('reset-password ends sessions; the old password stops working', async () => {
    await existing('pia');
    const { client: pia } = await signIn('pia', TEST_PASSWORD);
    const run = await user(['reset-password', 'pia']);
    expect(run.status).toBe(0);
    const password = generatedLine.exec(run.stdout)?.[1] ?? '';
    expect(`${run.stdout}${run.stderr}`.split(password)).toHaveLength(2);
    expect((await pia.call('/api/v1/auth/me')).status).toBe(401);
    expect((await signIn('pia', TEST_PASSWORD)).res.status).toBe(401);
    const fresh = await signIn('pia', password);
    expect(fresh.res.status).toBe(200);
    expect(fresh.res.body.data.user.must_change_password).toBe(true);

    const chosen = await user(['reset-password', 'pia', '--password-stdin'], {
      input: `${OTHER_PASSWORD}\n`,
    });
    expect(chosen.status).toBe(0);
    expect(`${chosen.stdout}${chosen.stderr}`).not.toContain(OTHER_PASSWORD);
    expect((await fresh.client.call('/api/v1/auth/me')).status).toBe(401);
    const kept = await signIn('pia', OTHER_PASSWORD);
    expect(kept.res.status).toBe(200);
    expect(kept.res.body.data.user.must_change_password).toBe(false);
    expect(JSON.stringify(await cliAudit('user.password_reset'))).not.toContain(OTHER_PASSWORD);
  });

  it('unlock lifts a lockout', async () => {
    await existing('quinn');
    for (let i = 0; i < 2; i += 1) expect((await signIn('quinn', 'not-the-password-1')).res.status).toBe(401);
    const locked = await signIn('quinn', TEST_PASSWORD);
    expect(locked.res.status).toBe(429);
    expect(locked.res.body.error_detail.error_code).toBe(1003);
    const run = await user(['unlock', 'quinn']);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('unlocked quinn\n');
    expect((await signIn('quinn', TEST_PASSWORD)).res.status).toBe(200);
    const again = await user(['unlock', 'quinn']);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('no failed sign-ins');
    const entry = (await cliAudit('user.unlocked')).find((e) => e.target?.id === 'quinn');
    expect(entry.actor.username).toBe('cli');
  });
});

describe('refusals', () => {
  it('never demotes or disables the last admin', async () => {
    const [demote, disable] = await Promise.all([
      user(['set-role', 'root', 'viewer']),
      user(['disable', 'root']),
    ]);
    expect(demote.status).toBe(1);
    expect(demote.stderr).toBe(
      'switchboard user: cannot demote the last admin; make another user admin first\n',
    );
    expect(disable.status).toBe(1);
    expect(disable.stderr).toBe(
      'switchboard user: cannot disable the last admin; make another user admin first\n',
    );
    const me = await root.call('/api/v1/auth/me');
    expect(me.status).toBe(200);
    expect(me.body.data.role).toBe('admin');
  });

  it('names an unknown user', async () => {
    const runs = await Promise.all([user(['disable', 'nobody']), user(['unlock', 'Nobody'])]);
    for (const run of runs) {
      expect(run.status).toBe(1);
      expect(run.stdout).toBe('');
    }
    expect(runs[0]?.stderr).toBe('switchboard user: no user named nobody\n');
    expect(runs[1]?.stderr).toBe('switchboard user: no user named Nobody\n');
  });

  it('exits 2 with the usage on stderr for bad usage', async () => {
    const cases: [string[], string][] = [
      [[], 'missing command'],
      [['frobnicate'], 'unknown command "user frobnicate"'],
      [['add'], 'missing <username>'],
      [['add', 'zed', '--frob'], "Unknown option '--frob'"],
      [['set-role', 'nina', 'king'], 'role "king" is not one of viewer, editor, admin'],
      [['disable', 'nina', 'oscar'], 'unexpected argument "oscar"'],
    ];
    const runs = await Promise.all(cases.map(([args]) => user(args)));
    runs.forEach((run, i) => {
      const [args, message] = cases[i] ?? [[], ''];
      expect({ args, status: run.status }).toEqual({ args, status: 2 });
      expect(run.stderr).toContain(message);
      expect(run.stderr).toMatch(/usage: switchboard user|Usage: switchboard user/);
      expect(run.stdout).toBe('');
    });
    expect((await app.auth.users.findByUsername('zed')) ?? null).toBeNull();
    expect((await app.auth.users.findByUsername('nina'))?.role).toBe('editor');
  });

  it('refuses a password on the command line without echoing it', async () => {
    const secret = 'Argv-Secret-Value-93';
    const runs = await Promise.all([
      user(['add', 'zoe', `--password=${secret}`]),
      user(['reset-password', 'hank', '--password', secret]),
    ]);
    for (const run of runs) {
      expect(run.status).toBe(2);
      expect(run.stderr).toContain('never taken from the command line');
      expect(`${run.stdout}${run.stderr}`).not.toContain(secret);
    }
    expect(await app.auth.users.findByUsername('zoe')).toBeUndefined();
    expect((await signIn('hank', OTHER_PASSWORD)).res.status).toBe(200);
  });

  it('refuses an empty standard input with --password-stdin', async () => {
    const run = await user(['add', 'yara', '--password-stdin'], { input: '' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('standard input holds no password');
    expect(await app.auth.users.findByUsername('yara')).toBeUndefined();
  });

  it('stops on an invalid setting with exit 78', async () => {
    const run = await user(['list'], { env: { SWITCHBOARD_LOCKOUT_THRESHOLD: 'two' } });
    expect(run.status).toBe(78);
    expect(run.stderr).toContain('SWITCHBOARD_LOCKOUT_THRESHOLD="two"');
  });
});

describe('help', () => {
  it('describes every user command and how passwords are taken', async () => {
    const run = await user(['--help']);
    expect(run.status).toBe(0);
    for (const command of ['add', 'list', 'set-role', 'disable', 'enable', 'reset-password', 'unlock'])
      expect(run.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect(run.stdout).toContain('--password-stdin');
    expect(run.stdout).toContain('must choose');
    expect((await user(['add', '--help'])).stdout).toBe(run.stdout);
  });
});
