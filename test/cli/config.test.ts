import { chmodSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AuditService } from '../../src/audit/service.js';
import { CONFIG_HELP } from '../../src/cli/config.js';
import { canonicalJson } from '../../src/endpoints/canonical.js';
import { loadSettings } from '../../src/settings.js';
import { openStorage } from '../../src/storage/database.js';
import { exampleConfig, exampleEnv, exampleFunctionsDir } from '../endpoints/config-fixture.js';
import { freshDatabase } from '../fixture.js';
import { databaseEnv, type Run, type RunOptions, runInProcess } from './run-cli.js';

const TOKEN = 'scada-token-Vb72kQ';
/** A literal secret in the document (rather than a reference to the environment): what export masks. */
const LITERAL_SECRET = 'literal-secret-Xr4pW9';

let functionsDir: string;
let database: Awaited<ReturnType<typeof freshDatabase>>;
/** The settings of the current test's database, as the command sees them. */
let env: Record<string, string>;

/** `switchboard …` in-process: the example's hosts and functions, no token unless given. */
const switchboard = (args: string[], options: RunOptions = {}): Promise<Run> =>
  runInProcess(args, {
    ...options,
    env: { SWITCHBOARD_VAR_SCADA_TOKEN: undefined, ...env, ...options.env },
  });

const config = (args: string[], options?: Parameters<typeof switchboard>[1]) =>
  switchboard(['config', ...args], options);

/** Asserts a run succeeded, showing what it said when it did not. */
function succeeded(run: Run): Run {
  expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  return run;
}

const withToken = { env: { SWITCHBOARD_VAR_SCADA_TOKEN: TOKEN } };

/** Writes a document into the test's data directory; returns its path. */
function file(name: string, content: unknown): string {
  const path = join(database.dataDir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** The example with the pumps polled every `interval` instead of 5s. */
function examplePolling(interval: string): Record<string, any> {
  const document = exampleConfig();
  document.streams['plant.pumps'].interval = interval;
  return document;
}

async function versions(): Promise<any> {
  const run = await config(['list', '--json']);
  expect(run).toMatchObject({ status: 0, stderr: '' });
  return JSON.parse(run.stdout);
}

/** What the audit log holds of the command line's doings, oldest first. */
async function cliAudit(): Promise<{ type: string; actor: string | null; detail: any }[]> {
  const storage = openStorage(loadSettings(env).database, 1);
  try {
    const rows = await new AuditService(storage.db).list({ actor: 'cli', limit: 100 });
    return rows
      .filter((row) => row.type.startsWith('config.'))
      .sort((a, b) => a.id - b.id)
      .map((row) => ({ type: row.type, actor: row.actorUsername, detail: row.detail }));
  } finally {
    await storage.close();
  }
}

beforeAll(() => {
  functionsDir = exampleFunctionsDir();
});

beforeEach(async () => {
  database = await freshDatabase();
  env = {
    ...databaseEnv(database),
    ...exampleEnv(functionsDir),
  };
});

afterEach(async () => {
  await database?.drop();
});

afterAll(() => {
  rmSync(functionsDir, { recursive: true, force: true });
});

describe('config import and list', () => {
  it('saves and activates a document, lists it, and audits both as the cli', async () => {
    const empty = await config(['list']);
    expect(empty).toMatchObject({
      status: 0,
      stdout: 'no versions saved yet; switchboard config import FILE saves one\n',
    });

    const imported = await config(['import', file('endpoints.json', exampleConfig())], withToken);
    expect(imported.stderr).toBe('');
    succeeded(imported);
    expect(imported.stdout).toMatch(
      /^saved version 1\.0\.0 and activated it; running servers switch to it within 10 seconds\n/,
    );
    expect(imported.stdout).toContain('--- /dev/null\n+++ version 1.0.0\n');
    expect(imported.stdout).toContain('+      "interval": "5s",');
    expect(imported.stdout).not.toContain(TOKEN);

    const listed = await config(['list']);
    succeeded(listed);
    const lines = listed.stdout.split('\n');
    expect(lines[0]).toMatch(/^VERSION\s+STATE\s+CREATED\s+BY\s+MESSAGE$/);
    expect(lines[1]).toMatch(/^1\.0\.0\s+active(, last good)?\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+cli$/);
    expect(listed.stdout).toMatch(/\nactive: 1\.0\.0; last good: (1\.0\.0|none); recovery: no\n$/);

    const json = await versions();
    expect(json).toEqual({
      versions: [
        { version: '1.0.0', created_at: expect.any(String), created_by: 'cli', message: null, active: true },
      ],
      active: '1.0.0',
      loaded: null,
      last_good: json.last_good,
      recovery: false,
      recovery_version: null,
      recovery_reason: null,
    });
    expect(await cliAudit()).toEqual([
      {
        type: 'config.saved',
        actor: 'cli',
        detail: { version: '1.0.0', message: null, base_version: null },
      },
      { type: 'config.activated', actor: 'cli', detail: { version: '1.0.0' } },
    ]);
  });

  it('saves without activating under a chosen version and message; reads the wrapper from stdin', async () => {
    succeeded(await config(['import', file('a.json', exampleConfig())], withToken));
    const chosen = await config([
      'import',
      file('b.json', examplePolling('30s')),
      '--version',
      '2.0.0',
      '--message',
      'slower pump polling',
      '--no-activate',
    ]);
    expect(chosen.stderr).toBe('');
    succeeded(chosen);
    expect(chosen.stdout).toMatch(
      /^saved version 2\.0\.0, not activated; switchboard config activate 2\.0\.0 does it\n/,
    );
    expect(chosen.stdout).toContain('--- version 1.0.0\n+++ version 2.0.0\n');
    expect(chosen.stdout).toContain('-      "interval": "5s",\n+      "interval": "30s",\n');

    // "-" is standard input; a top-level "config" key makes it the save wrapper, as the API reads it.
    const wrapper = { config: examplePolling('15s'), message: 'from the wrapper', activate: false };
    const piped = await config(['import', '-'], { input: JSON.stringify(wrapper) });
    expect(piped.stderr).toBe('');
    succeeded(piped);
    expect(piped.stdout).toMatch(/^saved version 2\.0\.1, not activated/);

    const listed = await config(['list']);
    expect(
      listed.stdout
        .split('\n')
        .slice(1, 4)
        .map((line) => line.split(/\s{2,}/)),
    ).toEqual([
      ['2.0.1', '-', expect.any(String), 'cli', 'from the wrapper'],
      ['2.0.0', '-', expect.any(String), 'cli', 'slower pump polling'],
      ['1.0.0', expect.stringMatching(/^active/), expect.any(String), 'cli'],
    ]);
    const json = await versions();
    expect(json.active).toBe('1.0.0');
    expect(json.versions.map((v: any) => [v.version, v.active, v.message])).toEqual([
      ['2.0.1', false, 'from the wrapper'],
      ['2.0.0', false, 'slower pump polling'],
      ['1.0.0', true, null],
    ]);
    const audit = await cliAudit();
    expect(audit.map((e) => e.type)).toEqual([
      'config.saved',
      'config.activated',
      'config.saved',
      'config.saved',
    ]);
    expect(audit[2]?.detail).toEqual({
      version: '2.0.0',
      message: 'slower pump polling',
      base_version: '1.0.0',
    });
  });

  it('refuses a version that is already saved, and saves nothing', async () => {
    const path = file('endpoints.json', exampleConfig());
    succeeded(await config(['import', path], withToken));
    const again = await config(['import', path, '--version', '1.0.0'], withToken);
    expect(again.status).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toBe(
      'switchboard config: version 1.0.0 is already saved; choose another or leave it out\n',
    );
    expect((await versions()).versions).toHaveLength(1);
  });

  it('prints every problem of a document that does not validate, at its pointer, and saves nothing', async () => {
    const invalid = {
      endpoints: { pumps: { url: 'http://10.0.0.7/pumps' } },
      streams: {
        'plant.pumps': { endpoint: 'pumps', interval: '5s' },
        'plant.valves': { endpoint: 'valves', interval: '5s' },
      },
    };
    const raw = await config(['import', file('invalid.json', invalid)]);
    expect(raw.status).toBe(1);
    expect(raw.stdout).toBe('');
    expect(raw.stderr).toBe(
      `switchboard config: ${join(database.dataDir, 'invalid.json')} is not a valid endpoint configuration (2 problems); nothing was saved\n` +
        '  /endpoints/pumps/url: reaches 10.0.0.7, which is not in SWITCHBOARD_ENDPOINT_HOSTS (api.open-meteo.com, *.example.com, 127.0.0.1)\n' +
        '  /streams/plant.valves/endpoint: no endpoint "valves" is declared\n',
    );

    // In the wrapper the pointers lead into it; the wrapper's own fields are checked too.
    const wrapped = await config(['import', '-'], {
      input: JSON.stringify({ config: { streams: { 'Bad Name': {} } }, version: 'one' }),
    });
    expect(wrapped.status).toBe(1);
    expect(wrapped.stderr).toContain('is not a valid endpoint configuration');
    expect(wrapped.stderr).toContain('\n  /version: must be a semantic version such as "1.4.0"\n');
    const inner = await config(['import', '-'], {
      input: JSON.stringify({ config: { descripton: 'typo' }, activate: false }),
    });
    expect(inner.status).toBe(1);
    expect(inner.stderr).toContain('\n  /config/descripton: is not a property this object may have\n');

    expect((await config(['list'])).stdout).toBe(
      'no versions saved yet; switchboard config import FILE saves one\n',
    );
    expect(await cliAudit()).toEqual([]);
  });

  it('says clearly when the file is not JSON, is empty or cannot be read, without quoting it', async () => {
    const notJson = file('notes.txt', `token=${TOKEN}\n`);
    const [broken, truncated, missing, empty] = [
      await config(['import', notJson]),
      await config(['import', file('truncated.json', '{\n  "streams": {\n    "a": ')]),
      await config(['import', join(database.dataDir, 'nowhere.json')]),
      await config(['import', '-'], { input: '  \n' }),
    ];
    expect(broken.status).toBe(1);
    expect(broken.stderr).toBe(
      `switchboard config: ${notJson} is not JSON: Unexpected token 'o' at line 1, column 2\n`,
    );
    expect(broken.stderr).not.toContain(TOKEN);
    expect(truncated.status).toBe(1);
    expect(truncated.stderr).toMatch(
      /truncated\.json is not JSON: Unexpected end of JSON input at line 3, column 10\n$/,
    );
    // Node quotes a longer text from "..." on: none of it may reach the terminal.
    const long = await config(['import', file('long.json', `{"secret": "${TOKEN}", "x": }`)]);
    expect(long.status).toBe(1);
    expect(long.stderr).not.toContain(TOKEN.slice(-4));
    expect(long.stderr).toMatch(/long\.json is not JSON: Unexpected token '}' at line 1, column \d+\n$/);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(
      `switchboard config: cannot read ${join(database.dataDir, 'nowhere.json')}: there is no such file\n`,
    );
    expect(empty.status).toBe(1);
    expect(empty.stderr).toBe(
      'switchboard config: standard input is empty; it must hold a JSON configuration\n',
    );
    expect((await versions()).versions).toEqual([]);
  });

  it('keeps a version it cannot activate, says why, and exits 1', async () => {
    const run = await config(['import', file('endpoints.json', exampleConfig())]);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(
      /^saved version 1\.0\.0; it is not active \(it cannot be loaded, see below\)\n/,
    );
    expect(run.stderr).toContain(
      'switchboard config: version 1.0.0 is saved but cannot be activated: version 1.0.0 cannot be loaded: ' +
        '/vars/scada_token ${env:SWITCHBOARD_VAR_SCADA_TOKEN} is not set on this server',
    );
    expect(run.stderr).toContain(
      'no version is active; fix the cause and run switchboard config activate 1.0.0\n',
    );
    const json = await versions();
    expect(json).toMatchObject({ active: null, recovery: true, recovery_version: '1.0.0' });
    expect(json.versions.map((v: any) => v.version)).toEqual(['1.0.0']);
  });
});

describe('config activate', () => {
  it('activates a saved version, refuses an unknown one and one that cannot load (recovery)', async () => {
    succeeded(await config(['import', file('a.json', exampleConfig())], withToken));
    succeeded(await config(['import', file('b.json', examplePolling('30s')), '--no-activate']));

    const activated = await config(['activate', '1.0.1'], withToken);
    expect(activated).toEqual({
      status: 0,
      stdout: 'activated version 1.0.1; running servers switch to it within 10 seconds\n',
      stderr: '',
    });
    expect((await versions()).active).toBe('1.0.1');

    const unknown = await config(['activate', '9.9.9'], withToken);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toBe(
      'switchboard config: no saved configuration version "9.9.9" (switchboard config list shows them)\n',
    );

    // Without the token in its environment the command cannot build 1.0.0: refused, 1.0.1 stays.
    const missingEnv = await config(['activate', '1.0.0']);
    expect(missingEnv.status).toBe(1);
    expect(missingEnv.stdout).toBe('');
    expect(missingEnv.stderr).toContain(
      'switchboard config: version 1.0.0 cannot be loaded: /vars/scada_token ${env:SWITCHBOARD_VAR_SCADA_TOKEN} is not set on this server',
    );
    expect(missingEnv.stderr).toContain(
      '\nversion 1.0.1 stays active; switchboard config list shows the recovery\n',
    );
    const recovering = await versions();
    expect(recovering).toMatchObject({ active: '1.0.1', recovery: true, recovery_version: '1.0.0' });
    expect(recovering.recovery_reason).toContain('SWITCHBOARD_VAR_SCADA_TOKEN} is not set on this server');
    const listed = await config(['list']);
    expect(listed.stdout).toMatch(/\n1\.0\.0 +(last good, )?does not load +/);
    expect(listed.stdout).toContain(
      '; recovery: yes, version 1.0.0 does not load: version 1.0.0 cannot be loaded: /vars/scada_token ${env:SWITCHBOARD_VAR_SCADA_TOKEN} is not set',
    );
    // The list marks the last good version wherever the service points it.
    const lastGood = recovering.last_good as string | null;
    for (const line of listed.stdout.split('\n').slice(1, 3)) {
      expect(line.includes('last good')).toBe(lastGood !== null && line.startsWith(`${lastGood} `));
    }

    // With the token, 1.0.0 loads: active again, recovery over.
    succeeded(await config(['activate', '1.0.0'], withToken));
    expect(await versions()).toMatchObject({ active: '1.0.0', recovery: false, recovery_version: null });

    expect((await cliAudit()).map((e) => [e.type, e.actor, e.detail.version])).toEqual([
      ['config.saved', 'cli', '1.0.0'],
      ['config.activated', 'cli', '1.0.0'],
      ['config.saved', 'cli', '1.0.1'],
      ['config.activated', 'cli', '1.0.1'],
      ['config.recovery', 'cli', '1.0.0'],
      ['config.activated', 'cli', '1.0.0'],
    ]);
  });
});

describe('config export', () => {
  it('prints the canonical document with secrets masked; --with-secrets and --output as asked', async () => {
    const document = exampleConfig();
    document.vars.scada_token.value = LITERAL_SECRET;
    succeeded(await config(['import', file('endpoints.json', document)]));

    const masked = await config(['export']);
    succeeded(masked);
    expect(masked.stdout).not.toContain(LITERAL_SECRET);
    const shown = JSON.parse(masked.stdout);
    expect(shown.vars.scada_token).toMatchObject({ value: '********', secret: true });
    expect(masked.stdout).toBe(canonicalJson(shown));
    expect({ ...shown, vars: { ...shown.vars, scada_token: document.vars.scada_token } }).toEqual(document);

    const secret = await config(['export', '--with-secrets', '--version', '1.0.0']);
    succeeded(secret);
    expect(secret.stdout).toBe(canonicalJson(document));

    // An existing file readable by others becomes the owner's only before the secrets go in.
    const target = file('export.json', 'old content that is longer than nothing');
    chmodSync(target, 0o644);
    const written = await config(['export', '--with-secrets', '--output', target]);
    expect(written).toEqual({
      status: 0,
      stdout: `wrote version 1.0.0 to ${target} with its secrets\n`,
      stderr: '',
    });
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(readFileSync(target, 'utf8')).toBe(canonicalJson(document));
    const fresh = join(database.dataDir, 'masked.json');
    expect((await config(['export', '--output', fresh])).stdout).toBe(
      `wrote version 1.0.0 to ${fresh} (secrets masked)\n`,
    );
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
    expect(readFileSync(fresh, 'utf8')).toBe(masked.stdout);

    // The masked export imported again keeps the active version's secret.
    succeeded(await config(['import', fresh, '--no-activate']));
    const kept = await config(['export', '--version', '1.0.1', '--with-secrets']);
    expect(JSON.parse(kept.stdout).vars.scada_token.value).toBe(LITERAL_SECRET);

    const unknown = await config(['export', '--version', '3.0.0']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toBe('switchboard config: no saved configuration version "3.0.0"\n');
  });

  it('says there is nothing to export while no version is active', async () => {
    const run = await config(['export']);
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
      'switchboard config: no version is active yet; name one with --version (switchboard config list shows them)\n',
    );
  });
});

describe('config diff', () => {
  it('compares two saved versions, the active one by default, and a draft file', async () => {
    const first = exampleConfig();
    first.vars.scada_token.value = LITERAL_SECRET;
    const second = examplePolling('30s');
    second.vars.scada_token.value = LITERAL_SECRET;
    succeeded(await config(['import', file('a.json', first)]));
    succeeded(await config(['import', file('b.json', second), '--no-activate']));

    const between = await config(['diff', '1.0.0', '1.0.1']);
    succeeded(between);
    expect(between.stdout).toMatch(/^={10,}\n--- version 1\.0\.0\n\+\+\+ version 1\.0\.1\n@@ /);
    expect(between.stdout).toContain('-      "interval": "5s",\n+      "interval": "30s",\n');

    // TO left out: the active version (1.0.0), so the change reads backwards.
    const fromSecond = await config(['diff', '1.0.1']);
    expect(fromSecond.stdout).toContain('--- version 1.0.1\n+++ version 1.0.0\n');
    expect(fromSecond.stdout).toContain('-      "interval": "30s",\n+      "interval": "5s",\n');

    const same = await config(['diff']);
    expect(same).toEqual({
      status: 0,
      stdout: '',
      stderr: 'no differences between version 1.0.0 and version 1.0.0\n',
    });

    // A draft whose secret changed: the diff shows where, never the values.
    const draft = examplePolling('1m');
    draft.vars.scada_token.value = 'another-secret-Lm3';
    const path = file('draft.json', draft);
    const drafted = await config(['diff', '--file', path]);
    succeeded(drafted);
    expect(drafted.stdout).toContain('--- version 1.0.0\n+++ draft\n');
    expect(drafted.stdout).toContain('+      "interval": "1m",');
    expect(drafted.stdout).not.toContain(LITERAL_SECRET);
    expect(drafted.stdout).not.toContain('another-secret-Lm3');
    const againstBase = await config(['diff', '--file', path, '--base', '1.0.1']);
    expect(againstBase.stdout).toContain('--- version 1.0.1\n+++ draft\n');
    expect(againstBase.stdout).toContain('-      "interval": "30s",\n+      "interval": "1m",\n');

    const unknown = await config(['diff', '1.0.0', '4.0.0']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('no saved configuration version "4.0.0"');

    // A draft is checked against the JSON Schema only, as POST /config/diff checks it.
    const unfinished = examplePolling('soon');
    unfinished.streams['plant.pumps'].endpoint = 'not_declared_yet';
    const refused = await config(['diff', '--file', file('unfinished.json', unfinished)]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toBe(
      `switchboard config: ${join(database.dataDir, 'unfinished.json')} does not have the shape of an endpoint configuration (1 problem)\n` +
        '  /streams/plant.pumps/interval: must be a duration such as "500ms", "30s" or "5m"\n',
    );
  });
});

describe('config usage', () => {
  it('prints its help, and is listed in the main help', async () => {
    for (const args of [['--help'], ['import', '--help'], ['diff', '-h']]) {
      expect(await config(args)).toEqual({ status: 0, stdout: CONFIG_HELP, stderr: '' });
    }
    expect(CONFIG_HELP).toContain('within 10 seconds');
    const main = await switchboard(['--help']);
    expect(main.stdout).toContain(
      '\n  config      manage the endpoint configuration: list, export, import, activate, diff\n',
    );
    const bare = await config([]);
    expect(bare.status).toBe(2);
    expect(bare.stderr).toBe(`switchboard config: missing command\n\n${CONFIG_HELP}`);
  });

  it('exits 2 on bad usage, naming what is wrong', async () => {
    const cases: [string[], string][] = [
      [['frobnicate'], 'unknown command "config frobnicate"'],
      [['import'], 'missing FILE'],
      [['import', 'a.json', 'b.json'], 'unexpected argument "b.json"'],
      [['import', 'a.json', '--version', 'v1'], '--version "v1" is not a semantic version such as 1.4.0'],
      [['list', '--yaml'], "Unknown option '--yaml'."],
      [['activate'], 'missing VERSION'],
      [['activate', 'latest'], 'VERSION "latest" is not a semantic version'],
      [['export', '--output'], "Option '--output <value>' argument missing"],
      [['diff', '1.0.0', '1.0.1', '1.0.2'], 'unexpected argument "1.0.2"'],
      [
        ['diff', '1.0.0', '--file', 'draft.json'],
        '--file compares a draft with one version (--base); "1.0.0" is extra',
      ],
      [['diff', '--base', '1.0.0'], '--base goes with --file'],
    ];
    for (const [args, message] of cases) {
      const run = await config(args);
      expect({ args, status: run.status, stdout: run.stdout }).toEqual({ args, status: 2, stdout: '' });
      expect(run.stderr).toContain(`switchboard config: ${message}`);
    }
  });

  it('stops with 78 on an invalid setting', async () => {
    const run = await config(['list'], { env: { SWITCHBOARD_PRODUCER_LEASE: 'forever' } });
    expect(run.status).toBe(78);
    expect(run.stderr).toContain('SWITCHBOARD_PRODUCER_LEASE');
  });
});
