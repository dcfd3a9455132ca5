import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/platform/problem.js';
import { errorCode } from '../client.js';
import { type SignedIn, startTestApp, type TestApp } from '../fixture.js';

const SECRET = 'fn-secret-Vw81qz';

const MODULES: Record<string, string> = {
  'echo.mjs': 'export default (args) => ({ got: args });',
  'throws.mjs': 'export default () => { throw new Error("sensor offline: check the cable"); };',
  'busy.mjs': 'export default () => { for (;;) {} };',
  'hog.mjs': 'export default () => { const kept = []; for (;;) kept.push(Buffer.alloc(1e7, 1)); };',
  'slow.mjs': 'export default async () => { await new Promise((r) => setTimeout(r, 1500)); return "done"; };',
  'leaks.mjs':
    'export default () => { throw new Error("token " + process.env.SWITCHBOARD_VAR_FN_TOKEN + " refused"); };',
  'not-json.mjs': 'export default () => ({ total: 10n });',
  'peeks.mjs': [
    'import { readFileSync } from "node:fs";',
    'export default (path) => readFileSync(path ?? "/proc/" + process.ppid + "/environ", "latin1");',
  ].join('\n'),
};

let t: TestApp;
let functionsDir: string;
let admin: SignedIn;
let secondAdmin: SignedIn;
let editor: SignedIn;
let viewer: SignedIn;

beforeAll(async () => {
  functionsDir = mkdtempSync(join(tmpdir(), 'switchboard-fn-test-'));
  for (const [name, source] of Object.entries(MODULES)) writeFileSync(join(functionsDir, name), source);
  t = await startTestApp({
    // config.test keeps its limits: its concurrency cap is under test here.
    env: {
      SWITCHBOARD_ENDPOINT_HOSTS: '127.0.0.1',
      SWITCHBOARD_FUNCTIONS_DIR: functionsDir,
      SWITCHBOARD_RATE_LIMITS: 'config.activate=off,config.save=off',
    },
    processEnv: { SWITCHBOARD_VAR_FN_TOKEN: SECRET },
  });
  admin = await t.signIn(await t.createUser({ role: 'admin' }));
  secondAdmin = await t.signIn(await t.createUser({ role: 'admin' }));
  editor = await t.signIn(await t.createUser({ role: 'editor' }));
  viewer = await t.signIn(await t.createUser({ role: 'viewer' }));
  // Functions only, no streams: nothing but the test runs calls them.
  const saved = await admin.client.call('/api/v1/config', {
    method: 'POST',
    json: {
      functions: {
        echo: { module: 'echo.mjs', args: { site: 'north', shift: 2 } },
        throws: { module: 'throws.mjs' },
        busy: { module: 'busy.mjs', timeout: '500ms' },
        hog: { module: 'hog.mjs', memory_mb: 32, timeout: '20s' },
        slow: { module: 'slow.mjs', timeout: '5s' },
        leaks: { module: 'leaks.mjs' },
        not_json: { module: 'not-json.mjs' },
        peeks: { module: 'peeks.mjs' },
      },
    },
  });
  expect(saved.status).toBe(201);
  expect(saved.body.data.active).toBe(true);
});

afterAll(async () => {
  await t?.close();
  rmSync(functionsDir, { recursive: true, force: true });
});

const runTest = (name: string, body?: unknown, who: SignedIn = admin) =>
  who.client.call(`/api/v1/config/functions/${name}/test`, {
    method: 'POST',
    ...(body === undefined ? {} : { json: body }),
  });

describe('POST /config/functions/{name}/test', () => {
  it('runs the function with its declared arguments: 200 with its output and how long it took', async () => {
    const res = await runTest('echo');
    expect(res.status).toBe(200);
    expect(res.body.data.output).toEqual({ got: { site: 'north', shift: 2 } });
    expect(typeof res.body.data.duration_ms).toBe('number');
    expect(res.body.data.duration_ms).toBeGreaterThanOrEqual(0);
    const empty = await runTest('echo', {});
    expect(empty.status).toBe(200);
    expect(empty.body.data.output).toEqual({ got: { site: 'north', shift: 2 } });
  });

  it('replaces the declared arguments with those of the body', async () => {
    const res = await runTest('echo', { args: { site: 'south', readings: [1, 2, 3] } });
    expect(res.status).toBe(200);
    expect(res.body.data.output).toEqual({ got: { site: 'south', readings: [1, 2, 3] } });
    const nothing = await runTest('echo', { args: null });
    expect(nothing.body.data.output).toEqual({ got: null });
  });

  it('refuses arguments nested deeper than a configuration may nest with 422 at /args, not a 502', async () => {
    // Fuzzing found it: 100,000 levels parse, but serializing them for the sandbox overflowed the stack.
    const deep = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
    const res = await admin.client.call('/api/v1/config/functions/echo/test', {
      method: 'POST',
      body: `{"args":${deep}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(422);
    expect(errorCode(res)).toBe(ErrorCode.invalidBody);
    expect(res.body.error_detail.errors).toEqual([
      { pointer: '/args', message: 'nests objects and arrays more than 32 levels deep' },
    ]);
    const atTheLimit = JSON.parse(`${'{"a":'.repeat(32)}1${'}'.repeat(32)}`);
    const fits = await runTest('echo', { args: atTheLimit });
    expect(fits.status).toBe(200);
    expect(fits.body.data.output).toEqual({ got: atTheLimit });
  });

  it('502 (code 7000) with the message of a function that throws', async () => {
    const res = await runTest('throws');
    expect(res.status).toBe(502);
    expect(errorCode(res)).toBe(ErrorCode.upstream);
    expect(res.body.error).toContain('function "throws"');
    expect(res.body.error).toContain('sensor offline: check the cable');
  });

  it('502 for output JSON cannot hold', async () => {
    const res = await runTest('not_json');
    expect(res.status).toBe(502);
    expect(errorCode(res)).toBe(ErrorCode.upstream);
    expect(res.body.error).toContain('function "not_json"');
  });

  it('never shows the value of a SWITCHBOARD_VAR_ variable the function put in its error', async () => {
    const res = await runTest('leaks');
    expect(res.status).toBe(502);
    expect(res.body.error).toContain('token ******** refused');
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
    expect(JSON.stringify(t.logs)).not.toContain(SECRET);
  });

  it('504 (code 7001) for a busy loop, stopped at its time limit', async () => {
    const res = await runTest('busy');
    expect(res.status).toBe(504);
    expect(errorCode(res)).toBe(ErrorCode.upstreamTimeout);
    expect(res.body.error).toContain('function "busy"');
    expect(res.body.error).toContain('took longer than 500ms');
  });

  it('502 for a function that piles up Buffers past memory_mb, and the server carries on', async () => {
    const res = await runTest('hog');
    expect(res.status).toBe(502);
    expect(errorCode(res)).toBe(ErrorCode.upstream);
    expect(res.body.error).toMatch(/memory/);
    expect(res.body.error).toContain('32 MB');
    expect((await t.client().call('/healthz')).status).toBe(200);
    const after = await runTest('echo', { args: 'still here' });
    expect(after.status).toBe(200);
    expect(after.body.data.output).toEqual({ got: 'still here' });
  });

  it("502 for a function that reads the server's environment or its data directory, and the server carries on", async () => {
    const planted = join(t.settings.dataDir, 'planted-secret.txt');
    writeFileSync(planted, SECRET);
    const database = t.settings.database.engine === 'sqlite' ? [t.settings.database.file] : [];
    for (const path of [null, planted, ...database]) {
      const res = await runTest('peeks', { args: path });
      expect(res.status, String(path)).toBe(502);
      expect(errorCode(res), String(path)).toBe(ErrorCode.upstream);
      expect(res.body.error, String(path)).toContain('function "peeks" failed (threw)');
      expect(res.body.error, String(path)).toContain('not allowed in the function sandbox: reading');
      expect(JSON.stringify(res.body), String(path)).not.toContain(SECRET);
    }
    expect((await t.client().call('/healthz')).status).toBe(200);
  });

  it('404 for a function the running version does not declare', async () => {
    const res = await runTest('nowhere');
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe(ErrorCode.notFound);
    expect(res.body.error).toContain('"nowhere"');
  });

  it('403 for editors and viewers', async () => {
    for (const who of [editor, viewer]) {
      const res = await runTest('echo', {}, who);
      expect(res.status).toBe(403);
      expect(errorCode(res)).toBe(ErrorCode.forbidden);
    }
  });

  it('422 for a body with fields other than args', async () => {
    const res = await runTest('echo', { args: 1, extra: true });
    expect(res.status).toBe(422);
  });

  it('runs one test at a time per user: a second one meanwhile is a 429 (code 5002), others are not held up', async () => {
    const [first, second, other] = await Promise.all([
      runTest('slow'),
      runTest('slow'),
      runTest('slow', undefined, secondAdmin),
    ]);
    const mine = [first, second].sort((a, b) => a.status - b.status);
    expect(mine.map((res) => res.status)).toEqual([200, 429]);
    expect(mine[0]?.body.data.output).toBe('done');
    expect(errorCode(mine[1] as NonNullable<(typeof mine)[1]>)).toBe(ErrorCode.concurrencyCap);
    expect(other.status).toBe(200);
    // The slot is given back when the run ends.
    expect((await runTest('echo')).status).toBe(200);
  });
});
