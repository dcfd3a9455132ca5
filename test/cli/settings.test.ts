import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/index.js';
import { runSettingsCommand } from '../../src/cli/settings.js';
import { settingSpecs } from '../../src/settings.js';
import { memoryIo } from './run-cli.js';

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** `switchboard settings …` in this process, with exactly the environment given. */
async function settings(args: string[], env: Record<string, string>, run = runSettingsCommand): Promise<Run> {
  const { io, output } = memoryIo(env);
  const status = await run(args, io);
  return { status, ...output };
}

interface Shown {
  variable: string;
  file_key: string | null;
  value: string | null;
  source: string;
  secret: boolean;
}

async function shown(env: Record<string, string>): Promise<Map<string, Shown>> {
  const run = await settings(['--json'], env);
  expect(run).toMatchObject({ status: 0, stderr: '' });
  const list = JSON.parse(run.stdout) as Shown[];
  return new Map(list.map((s) => [s.variable, s]));
}

function settingsFile(name: string, content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sb-settings-cli-')), name);
  writeFileSync(path, content);
  return path;
}

const random = () => randomBytes(24).toString('base64url');

describe('switchboard settings', () => {
  it('lists every setting once, with its value and source: environment over file over default', async () => {
    const file = settingsFile(
      'switchboard.yaml',
      'port: 9000\nlog_level: warn\ncors_origins:\n  - https://ops.example\n  - https://wall.example\nrate_limits:\n  login.ip: 5/1m\n',
    );
    const list = await shown({ SWITCHBOARD_CONFIG_FILE: file, SWITCHBOARD_LOG_LEVEL: 'debug' });
    expect([...list.keys()]).toEqual(['SWITCHBOARD_CONFIG_FILE', ...settingSpecs.map((s) => s.env)]);
    expect(list.get('SWITCHBOARD_CONFIG_FILE')).toEqual({
      variable: 'SWITCHBOARD_CONFIG_FILE',
      file_key: null,
      value: file,
      source: 'environment',
      secret: false,
    });
    expect(list.get('PORT')).toEqual({
      variable: 'PORT',
      file_key: 'port',
      value: '9000',
      source: 'file',
      secret: false,
    });
    expect(list.get('SWITCHBOARD_LOG_LEVEL')).toMatchObject({ value: 'debug', source: 'environment' });
    expect(list.get('SWITCHBOARD_CORS_ORIGINS')).toMatchObject({
      value: 'https://ops.example,https://wall.example',
      source: 'file',
    });
    expect(list.get('SWITCHBOARD_RATE_LIMITS')).toMatchObject({ value: 'login.ip=5/1m', source: 'file' });
    expect(list.get('HOST')).toMatchObject({ value: '0.0.0.0', source: 'default' });
    expect(list.get('SWITCHBOARD_ACCESS_TOKEN_TTL')).toMatchObject({ value: '15m', source: 'default' });
    expect(list.get('SWITCHBOARD_ENDPOINT_HOSTS')).toMatchObject({ value: '', source: 'default' });
    expect(list.get('SWITCHBOARD_PUBLIC_URL')).toMatchObject({ value: null, source: 'default' });
    const none = await shown({});
    expect(none.get('SWITCHBOARD_CONFIG_FILE')).toMatchObject({ value: null, source: 'default' });
    expect(none.get('PORT')).toMatchObject({ value: '8080', source: 'default' });
  });

  it('prints a table for people, one setting a line', async () => {
    const file = settingsFile('switchboard.json', JSON.stringify({ port: 9000 }));
    const run = await settings([], { SWITCHBOARD_CONFIG_FILE: file, SWITCHBOARD_LOG_LEVEL: 'debug' });
    expect(run).toMatchObject({ status: 0, stderr: '' });
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^VARIABLE +VALUE +SOURCE$/);
    expect(lines).toHaveLength(settingSpecs.length + 2);
    expect(run.stdout).toMatch(new RegExp(`^SWITCHBOARD_CONFIG_FILE +${file} +environment$`, 'm'));
    expect(run.stdout).toMatch(/^PORT +9000 +file$/m);
    expect(run.stdout).toMatch(/^SWITCHBOARD_LOG_LEVEL +debug +environment$/m);
    expect(run.stdout).toMatch(/^HOST +0\.0\.0\.0 +default$/m);
    expect(run.stdout).toMatch(/^SWITCHBOARD_CORS_ORIGINS +\(empty\) +default$/m);
    expect(run.stdout).toMatch(/^SWITCHBOARD_JWT_SECRET +\(unset\) +default$/m);
  });

  it('masks the password of the database URL, as the log does, and shows the rest', async () => {
    const password = random();
    const run = await settings([], {
      SWITCHBOARD_DATABASE_URL: `postgres://switchboard:${password}@db.internal:5432/plant`,
    });
    expect(run.stdout).toContain('postgres://switchboard:****@db.internal:5432/plant');
    expect(run.stdout).not.toContain(password);
    const list = await shown({
      SWITCHBOARD_DATABASE_URL: `postgres://db.internal/plant?password=${password}`,
    });
    expect(list.get('SWITCHBOARD_DATABASE_URL')?.value).toBe('postgres://db.internal/plant?password=****');
  });

  it('never shows a secret, nor any part of one, from the environment or the file', async () => {
    const password = random();
    const host = random().slice(0, 12).toLowerCase();
    const samples: Record<string, string> = {
      SWITCHBOARD_JWT_SECRET: random(),
      SWITCHBOARD_METRICS_TOKEN: random(),
      SWITCHBOARD_SETUP_TOKEN: random(),
      SWITCHBOARD_REDIS_URL: `rediss://:${password}@${host}.internal:6390/3`,
      SWITCHBOARD_OIDC_CLIENT_SECRET: random(),
    };
    // What a secret needs beside it to be accepted (the OIDC client secret: its issuer and client id).
    const companions = { oidc_issuer: 'https://id.example.com', oidc_client_id: 'switchboard' };
    // A new secret needs a sample here, so that this test covers it.
    expect(
      settingSpecs
        .filter((s) => s.secret)
        .map((s) => s.env)
        .sort(),
    ).toEqual(Object.keys(samples).sort());
    const randomParts = [
      samples.SWITCHBOARD_JWT_SECRET ?? '',
      samples.SWITCHBOARD_METRICS_TOKEN ?? '',
      samples.SWITCHBOARD_SETUP_TOKEN ?? '',
      samples.SWITCHBOARD_OIDC_CLIENT_SECRET ?? '',
      password,
      host,
    ];
    const revealed = (output: string) => [
      ...randomParts.flatMap((part) =>
        Array.from({ length: part.length - 5 }, (_, i) => part.slice(i, i + 6)).filter((piece) =>
          output.includes(piece),
        ),
      ),
      ...['rediss://', '.internal', '6390'].filter((piece) => output.includes(piece)),
    ];

    const fromEnv = {
      ...samples,
      SWITCHBOARD_OIDC_ISSUER: companions.oidc_issuer,
      SWITCHBOARD_OIDC_CLIENT_ID: companions.oidc_client_id,
    };
    const secretsFile = settingsFile(
      'secrets.yaml',
      settingSpecs
        .filter((s) => s.secret)
        .map((s) => `${s.file}: "${samples[s.env]}"`)
        .concat(Object.entries(companions).map(([key, value]) => `${key}: "${value}"`))
        .join('\n'),
    );
    for (const env of [fromEnv, { SWITCHBOARD_CONFIG_FILE: secretsFile }]) {
      for (const args of [[], ['--json']]) {
        const run = await settings(args, env);
        expect(run.status).toBe(0);
        expect(revealed(run.stdout + run.stderr)).toEqual([]);
      }
      const list = await shown(env);
      for (const name of Object.keys(samples)) {
        expect(list.get(name)).toMatchObject({ value: '(hidden)', secret: true });
      }
    }
  });

  it('stops with 78 and the message the server stops with on an invalid setting', async () => {
    const bad = await settings(['--json'], { PORT: 'abc' });
    expect(bad).toEqual({
      status: 78,
      stdout: '',
      stderr: 'switchboard: Invalid setting PORT="abc": expected an integer from 0 to 65535\n',
    });
    const secret = random().slice(0, 10);
    const badSecret = await settings([], { SWITCHBOARD_METRICS_TOKEN: secret });
    expect(badSecret.status).toBe(78);
    expect(badSecret.stderr).toBe(
      'switchboard: Invalid setting SWITCHBOARD_METRICS_TOKEN=(hidden): expected at least 16 characters\n',
    );
    const file = settingsFile('switchboard.yaml', 'access_token_ttl: 2h\nrefresh_token_ttl: 1h\n');
    const crossed = await settings([], { SWITCHBOARD_CONFIG_FILE: file });
    expect(crossed.status).toBe(78);
    expect(crossed.stderr).toBe(
      'switchboard: Invalid setting SWITCHBOARD_ACCESS_TOKEN_TTL=2h: it must not exceed SWITCHBOARD_REFRESH_TOKEN_TTL (1h)\n',
    );
  });

  it('exits 2 on bad usage, prints its help, and is a command of switchboard', async () => {
    const unknown = await settings(['--yaml'], {});
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(
      /^switchboard settings: Unknown option '--yaml'\nusage: switchboard settings \[--json\]\n$/,
    );
    expect((await settings(['port'], {})).status).toBe(2);
    const help = await settings(['--help'], {});
    expect(help).toMatchObject({ status: 0, stderr: '' });
    expect(help.stdout).toContain('Usage: switchboard settings [--json]');
    const main = await settings(['--help'], {}, runCli);
    expect(main.stdout).toMatch(/^ {2}settings +print every setting/m);
    const dispatched = await settings(['settings', '--json'], {}, runCli);
    expect(dispatched.status).toBe(0);
    expect(JSON.parse(dispatched.stdout)).toHaveLength(settingSpecs.length + 1);
  });
});
