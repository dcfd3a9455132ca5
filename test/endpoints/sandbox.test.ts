import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import inspector from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  checkLoadable,
  type FunctionLimits,
  type FunctionOutcome,
  FunctionSandbox,
} from '../../src/endpoints/functions/sandbox.js';

const FIXTURES: Record<string, string> = {
  'value.mjs': 'export default () => ({ temperature: 21.5, city: "Oslo" });',
  'async.mjs':
    'export default async () => { await new Promise((r) => setTimeout(r, 20)); return [1, 2, 3]; };',
  'echo.mjs': 'export default (args) => ({ got: args }); export const named = () => "named";',
  'throws.mjs': [
    'let calls = 0;',
    'export default (args) => {',
    '  calls += 1;',
    '  if (args && args.fail) throw new Error("sensor offline\\nsecond line");',
    '  return calls;',
    '};',
  ].join('\n'),
  'busy.mjs': 'export default (args) => { if (args && args.spin) { while (true) {} } return "ok"; };',
  'heap.mjs': [
    'export default (args) => {',
    '  if (!args || !args.grow) return "ok";',
    '  const kept = [];',
    '  for (;;) kept.push(new Array(1e6).fill(1));',
    '};',
  ].join('\n'),
  'buffers.mjs': [
    'export default (args) => {',
    '  if (!args || !args.grow) return "ok";',
    '  const kept = [];',
    '  for (;;) kept.push(Buffer.alloc(1e7, 1));',
    '};',
  ].join('\n'),
  // V8's own end for a full heap, met at once: the resident-memory watch usually stops a growing heap
  // before V8 gives up, so the way V8 dies is played here; its native stack pushes the cause out of the tail.
  'heap-abort.mjs': [
    'export default () => {',
    '  process.stderr.write("<--- JS stacktrace --->\\n\\nFATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\\n");',
    '  process.stderr.write(" 1: 0xb78db3 node::OOMErrorHandler(char const*, v8::OOMDetails const&) [node]\\n".repeat(100));',
    '  process.exit(134);',
    '};',
  ].join('\n'),
  'leaks-when-idle.mjs': [
    'const kept = [];',
    'export default () => {',
    '  setInterval(() => kept.push(Buffer.alloc(1e7, 1)), 10);',
    '  return "started";',
    '};',
  ].join('\n'),
  'loops-at-load.mjs': 'while (true) {}\nexport default () => 1;',
  'exits.mjs': 'export default () => { console.error("giving up now"); process.exit(3); };',
  'bigint.mjs': 'export default () => ({ total: 10n });',
  'returns-function.mjs': 'export default () => () => 1;',
  'huge.mjs': 'export default () => "x".repeat(2 * 1024 * 1024);',
  'bad-syntax.mjs': 'export default function ( {\n  return 1\n}\n',
  'not-function.mjs': 'export default 42; export const other = "text";',
  'env.mjs': 'export default () => ({ ...process.env });',
  'leaks-var.mjs':
    'export default () => { throw new Error("token " + process.env.SWITCHBOARD_VAR_TOKEN + " refused"); };',
  // Reached for by the confinement tests, which run with the functions directory as the working directory.
  'reads.mjs':
    'import { readFileSync } from "node:fs"; export default (path) => readFileSync(path, "latin1");',
  'reads-beside.mjs': [
    'import { readFileSync } from "node:fs";',
    'export default () => JSON.parse(readFileSync(new URL("./settings.json", import.meta.url), "utf8"));',
  ].join('\n'),
  'reads-at-load.mjs': [
    'import { readFileSync } from "node:fs";',
    'const environ = readFileSync("/proc/" + process.ppid + "/environ", "latin1");',
    'export default () => environ;',
  ].join('\n'),
  'writes.mjs':
    'import { writeFileSync } from "node:fs"; export default (path) => { writeFileSync(path, "x"); return "written"; };',
  'spawns.mjs': [
    'import { execSync, spawn } from "node:child_process";',
    'export default (how) => (how === "spawn" ? spawn("true").pid : execSync("echo started").toString());',
  ].join('\n'),
  'starts-worker.mjs': [
    'import { Worker } from "node:worker_threads";',
    'export default async () => {',
    '  const worker = new Worker("1", { eval: true });',
    '  const id = worker.threadId;',
    '  await worker.terminate();',
    '  return id;',
    '};',
  ].join('\n'),
  'signals.mjs': [
    'export default async (how) => {',
    '  if (how === "debug") process._debugProcess(process.ppid);',
    '  else process.kill(process.ppid, "SIGUSR1");',
    '  // Time for the server to act on the signal, had it been sent.',
    '  await new Promise((r) => setTimeout(r, 300));',
    '  return "sent";',
    '};',
  ].join('\n'),
  'settings.json': '{"site":"north"}',
  'counter.mjs': [
    'let running = 0;',
    'let calls = 0;',
    'export default async (args) => {',
    '  running += 1;',
    '  calls += 1;',
    '  const seen = running;',
    '  await new Promise((r) => setTimeout(r, 50));',
    '  running -= 1;',
    '  return { label: args.label, call: calls, concurrent: seen };',
    '};',
  ].join('\n'),
};

const QUICK: FunctionLimits = { timeoutMs: 5_000, memoryMb: 64 };

let dir: string;
const sandboxes: FunctionSandbox[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchboard-sandbox-'));
  mkdirSync(join(dir, 'functions'));
  for (const [name, source] of Object.entries(FIXTURES)) writeFileSync(join(dir, 'functions', name), source);
});

afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((sandbox) => sandbox.close()));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function sandbox(
  module: string,
  options: { limits?: FunctionLimits; exportName?: string; env?: Record<string, string> } = {},
): FunctionSandbox {
  const created = new FunctionSandbox({
    modulePath: join(dir, 'functions', module),
    exportName: options.exportName ?? 'default',
    limits: options.limits ?? QUICK,
    cwd: dir,
    env: options.env,
  });
  sandboxes.push(created);
  return created;
}

function loadable(module: string, exportName = 'default'): Promise<string | undefined> {
  return checkLoadable({ modulePath: join(dir, 'functions', module), exportName, limits: QUICK, cwd: dir });
}

function failure(outcome: FunctionOutcome): { kind: string; error: string } {
  if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome.output)}`);
  return { kind: outcome.kind, error: outcome.error };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('FunctionSandbox', () => {
  it('returns what the function returns', async () => {
    const outcome = await sandbox('value.mjs').run(undefined);
    expect(outcome).toMatchObject({ ok: true, output: { temperature: 21.5, city: 'Oslo' } });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('awaits a returned promise', async () => {
    expect(await sandbox('async.mjs').run(undefined)).toMatchObject({ ok: true, output: [1, 2, 3] });
  });

  it('passes the arguments, and calls a named export', async () => {
    expect(await sandbox('echo.mjs').run({ city: 'Oslo', days: [1, 2] })).toMatchObject({
      ok: true,
      output: { got: { city: 'Oslo', days: [1, 2] } },
    });
    expect(await sandbox('echo.mjs', { exportName: 'named' }).run(undefined)).toMatchObject({
      ok: true,
      output: 'named',
    });
  });

  it('reports a throw by its first line and keeps the same child for the next call', async () => {
    const functions = sandbox('throws.mjs');
    expect(await functions.run({})).toMatchObject({ ok: true, output: 1 });
    const pid = functions.pid;
    expect(pid).toBeTypeOf('number');
    expect(failure(await functions.run({ fail: true }))).toEqual({ kind: 'threw', error: 'sensor offline' });
    expect(await functions.run({})).toMatchObject({ ok: true, output: 3 });
    expect(functions.pid).toBe(pid);
  });

  it('stops a function that never yields, and the next call runs in a fresh child', async () => {
    const functions = sandbox('busy.mjs', { limits: { timeoutMs: 300, memoryMb: 64 } });
    expect(await functions.run({})).toMatchObject({ ok: true, output: 'ok' });
    const pid = functions.pid as number;
    const outcome = await functions.run({ spin: true });
    expect(failure(outcome)).toEqual({ kind: 'timeout', error: 'took longer than 300ms; stopped' });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(300);
    expect(await functions.run({})).toMatchObject({ ok: true, output: 'ok' });
    expect(functions.pid).not.toBe(pid);
    expect(isRunning(pid)).toBe(false);
  });

  it('stops a function whose heap keeps growing', async () => {
    const functions = sandbox('heap.mjs');
    expect(failure(await functions.run({ grow: true }))).toEqual({
      kind: 'memory',
      error: 'used more than 64 MB; stopped',
    });
    expect(await functions.run({})).toMatchObject({ ok: true, output: 'ok' });
  });

  it('stops a function that piles up Buffers outside the heap', async () => {
    const functions = sandbox('buffers.mjs');
    expect(failure(await functions.run({ grow: true }))).toEqual({
      kind: 'memory',
      error: 'used more than 64 MB; stopped',
    });
    expect(await functions.run({})).toMatchObject({ ok: true, output: 'ok' });
  });

  it('reports a child that V8 stopped for a full heap as out of memory', async () => {
    expect(failure(await sandbox('heap-abort.mjs').run(undefined))).toEqual({
      kind: 'memory',
      error: 'used more than 64 MB; stopped',
    });
  });

  it('stops a child that grows while no call runs, and the next call starts a fresh one', async () => {
    const functions = sandbox('leaks-when-idle.mjs');
    expect(await functions.run(undefined)).toMatchObject({ ok: true, output: 'started' });
    const pid = functions.pid as number;
    for (let waited = 0; isRunning(pid) && waited < 5_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(isRunning(pid)).toBe(false);
    expect(functions.pid).toBeUndefined();
    expect(await functions.run(undefined)).toMatchObject({ ok: true, output: 'started' });
  });

  it('stops a module that never finishes loading', async () => {
    const limits = { timeoutMs: 300, memoryMb: 64 };
    const expected = `while loading ${join('functions', 'loops-at-load.mjs')}: took longer than 300ms; stopped`;
    expect(failure(await sandbox('loops-at-load.mjs', { limits }).run(undefined))).toEqual({
      kind: 'timeout',
      error: expected,
    });
    expect(
      await checkLoadable({
        modulePath: join(dir, 'functions', 'loops-at-load.mjs'),
        exportName: 'default',
        limits,
        cwd: dir,
      }),
    ).toBe(expected);
  });

  it('reports a child that exits, with its last output, and starts a fresh one', async () => {
    const functions = sandbox('exits.mjs');
    const first = failure(await functions.run(undefined));
    expect(first.kind).toBe('crashed');
    expect(first.error).toContain('exited with code 3');
    expect(first.error).toContain('giving up now');
    expect(failure(await functions.run(undefined)).kind).toBe('crashed');
  });

  it('refuses output JSON cannot carry', async () => {
    const bigint = failure(await sandbox('bigint.mjs').run(undefined));
    expect(bigint.kind).toBe('invalid_output');
    expect(bigint.error).toContain('BigInt under "total"');
    const fn = failure(await sandbox('returns-function.mjs').run(undefined));
    expect(fn.kind).toBe('invalid_output');
    expect(fn.error).toContain('returned a function');
  });

  it('refuses output over 1 MiB', async () => {
    const huge = failure(await sandbox('huge.mjs').run(undefined));
    expect(huge.kind).toBe('invalid_output');
    expect(huge.error).toContain('at most 1 MiB');
  });

  it('reports modules that cannot be loaded, naming them relative to the working directory', async () => {
    const cases: Array<[string, string, string]> = [
      ['missing.mjs', 'default', `${join('functions', 'missing.mjs')} does not exist`],
      ['bad-syntax.mjs', 'default', `${join('functions', 'bad-syntax.mjs')} does not parse (line 2)`],
      [
        'not-function.mjs',
        'default',
        `export "default" of ${join('functions', 'not-function.mjs')} is a number`,
      ],
      ['not-function.mjs', 'absent', 'has no export named "absent" (it exports default, other)'],
    ];
    for (const [module, exportName, expected] of cases) {
      const outcome = failure(await sandbox(module, { exportName }).run(undefined));
      expect(outcome.kind, module).toBe('load');
      expect(outcome.error, module).toContain(expected);
      expect(outcome.error, module).not.toContain(dir);
      const checked = await loadable(module, exportName);
      expect(checked, module).toContain(expected);
      expect(checked, module).not.toContain(dir);
    }
    expect(await loadable('value.mjs')).toBeUndefined();
  });

  it('gives the function only the variables it is given: no PATH, no NODE_OPTIONS, nothing of the server', async () => {
    process.env.SWITCHBOARD_SANDBOX_TEST_SECRET = 'parent-only';
    const nodeOptions = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = `${nodeOptions ?? ''} --no-deprecation`.trim();
    try {
      const outcome = await sandbox('env.mjs', { env: { SWITCHBOARD_VAR_CITY: 'Oslo' } }).run(undefined);
      if (!outcome.ok) throw new Error(outcome.error);
      expect(outcome.output).toEqual({ SWITCHBOARD_VAR_CITY: 'Oslo' });
    } finally {
      delete process.env.SWITCHBOARD_SANDBOX_TEST_SECRET;
      if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = nodeOptions;
    }
  });

  it('keeps the values of its variables out of error messages', async () => {
    const outcome = failure(
      await sandbox('leaks-var.mjs', { env: { SWITCHBOARD_VAR_TOKEN: 's3cr3t-token' } }).run(undefined),
    );
    expect(outcome.kind).toBe('threw');
    expect(outcome.error).not.toContain('s3cr3t-token');
    expect(outcome.error).toContain('refused');
  });

  it('runs calls one at a time, in order', async () => {
    const functions = sandbox('counter.mjs');
    const [first, second] = await Promise.all([functions.run({ label: 'a' }), functions.run({ label: 'b' })]);
    expect(first).toMatchObject({ ok: true, output: { label: 'a', call: 1, concurrent: 1 } });
    expect(second).toMatchObject({ ok: true, output: { label: 'b', call: 2, concurrent: 1 } });
  });

  it('kills its child on close and runs nothing after', async () => {
    const functions = sandbox('value.mjs');
    expect((await functions.run(undefined)).ok).toBe(true);
    const pid = functions.pid as number;
    await functions.close();
    expect(isRunning(pid)).toBe(false);
    const after = failure(await functions.run(undefined));
    expect(after.kind).toBe('crashed');
    expect(after.error).toContain('closed');
  });

  it('ends a call in flight when closed', async () => {
    const functions = sandbox('busy.mjs');
    expect((await functions.run({})).ok).toBe(true);
    const running = functions.run({ spin: true });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await functions.close();
    const outcome = failure(await running);
    expect(outcome.kind).toBe('crashed');
    expect(outcome.error).toContain('closed');
  });
});

describe('FunctionSandbox confinement', () => {
  // As deployed: the functions directory is the child's working directory, inside the data directory.
  const functionsDir = () => join(dir, 'functions');
  const REFUSED = 'not allowed in the function sandbox';

  function confined(module: string): FunctionSandbox {
    const created = new FunctionSandbox({
      modulePath: join(functionsDir(), module),
      exportName: 'default',
      limits: QUICK,
      cwd: functionsDir(),
    });
    sandboxes.push(created);
    return created;
  }

  it("cannot read the server's environment through /proc", async () => {
    const outcome = failure(await confined('reads.mjs').run(`/proc/${process.pid}/environ`));
    expect(outcome.kind).toBe('threw');
    expect(outcome.error).toContain(`${REFUSED}: reading /proc/${process.pid}/environ`);
  });

  it('cannot read files of the data directory, by absolute or relative path', async () => {
    const database = join(dir, 'switchboard.db');
    writeFileSync(database, 'rows of the server');
    for (const path of [database, join('..', 'switchboard.db'), `${database}-wal`, '/etc/hostname']) {
      const outcome = failure(await confined('reads.mjs').run(path));
      expect(outcome.kind, path).toBe('threw');
      expect(outcome.error, path).toContain(`${REFUSED}: reading`);
      expect(outcome.error, path).not.toContain('rows of the server');
    }
  });

  it('still reads files of its own directory', async () => {
    expect(await confined('reads-beside.mjs').run(undefined)).toMatchObject({
      ok: true,
      output: { site: 'north' },
    });
  });

  it('reports a module that reaches outside while loading, and the next sandbox runs', async () => {
    const outcome = failure(await confined('reads-at-load.mjs').run(undefined));
    expect(outcome.kind).toBe('load');
    expect(outcome.error).toContain(`reads-at-load.mjs failed while loading: ${REFUSED}: reading /proc/`);
    expect(await confined('value.mjs').run(undefined)).toMatchObject({ ok: true });
  });

  it('refuses a functions directory whose path Node would read as a wildcard, granting more', async () => {
    const starred = join(dir, 'fn*');
    mkdirSync(starred, { recursive: true });
    writeFileSync(join(starred, 'value.mjs'), FIXTURES['value.mjs'] as string);
    const created = new FunctionSandbox({
      modulePath: join(starred, 'value.mjs'),
      exportName: 'default',
      limits: QUICK,
      cwd: starred,
    });
    sandboxes.push(created);
    const outcome = failure(await created.run(undefined));
    expect(outcome.kind).toBe('load');
    expect(outcome.error).toContain('has a "*" in its path');
  });

  it('cannot write files, not even in its own directory', async () => {
    const target = join(functionsDir(), 'written.txt');
    const outcome = failure(await confined('writes.mjs').run(target));
    expect(outcome.kind).toBe('threw');
    expect(outcome.error).toContain(`${REFUSED}: writing`);
    expect(existsSync(target)).toBe(false);
  });

  it('cannot start a process, by execSync or spawn', async () => {
    for (const how of ['exec', 'spawn']) {
      const outcome = failure(await confined('spawns.mjs').run(how));
      expect(outcome.kind, how).toBe('threw');
      expect(outcome.error, how).toContain(`${REFUSED}: starting a process`);
    }
  });

  it('cannot start a worker thread', async () => {
    const outcome = failure(await confined('starts-worker.mjs').run(undefined));
    expect(outcome.kind).toBe('threw');
    expect(outcome.error).toContain(`${REFUSED}: starting a worker thread`);
  });

  it('cannot signal the server, whose inspector stays shut', async () => {
    try {
      for (const how of ['kill', 'debug']) {
        const outcome = failure(await confined('signals.mjs').run(how));
        expect(outcome.kind, how).toBe('threw');
        expect(outcome.error, how).toContain(`${REFUSED}: sending a signal`);
      }
      expect(inspector.url()).toBeUndefined();
    } finally {
      inspector.close();
    }
  });

  it('keeps the inspector of a server that runs functions shut when SIGUSR1 comes from elsewhere', async () => {
    expect(await confined('value.mjs').run(undefined)).toMatchObject({ ok: true });
    try {
      process.kill(process.pid, 'SIGUSR1');
      // Node opens the inspector a moment after the signal, when it does.
      for (let waited = 0; inspector.url() === undefined && waited < 500; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(inspector.url()).toBeUndefined();
    } finally {
      inspector.close();
    }
  });
});
