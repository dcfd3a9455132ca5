import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/index.js';
import type { CliIo } from '../../src/cli/output.js';

/** What one run of the command line did. */
export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Standard input; empty unless given, so that nothing waits on a terminal. */
  input?: string;
  /** Set over this process's environment; an undefined value leaves the variable out. */
  env?: Record<string, string | undefined>;
}

/** Each spawned run starts Node with tsx; on a busy machine that takes seconds. */
export const SLOW = { timeout: 180_000 };

/** This process's environment with the run's settings over it, the variables set to undefined left out. */
function environment(options: RunOptions): Record<string, string> {
  const merged: Record<string, string | undefined> = { ...process.env, ...options.env };
  return Object.fromEntries(
    Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

/**
 * `switchboard …` as an operator runs it: a separate Node process, its output collected. Slow (a Node
 * start and a tsx transform each time): kept for the few tests of the real entry point.
 */
export async function runSwitchboard(args: string[], options: RunOptions = {}): Promise<Run> {
  const env = environment(options);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env });
  const run: Run = { status: null, stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    run.stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    run.stderr += chunk;
  });
  // A command that exits before reading its input closes the pipe; that is not the test's failure.
  child.stdin.on('error', () => {});
  child.stdin.end(options.input ?? '');
  [run.status] = await once(child, 'close');
  return run;
}

/** An io with exactly `env`, `input` on standard input, and what is written collected in `output`. */
export function memoryIo(env: Readonly<Record<string, string | undefined>>, input = '') {
  const output = { stdout: '', stderr: '' };
  const io: CliIo = {
    stdout: { write: (text: string) => (output.stdout += text) },
    stderr: { write: (text: string) => (output.stderr += text) },
    stdin: new PassThrough().end(input),
    env,
  };
  return { io, output };
}

/** In-process runs take turns; see runInProcess. */
let turn: Promise<unknown> = Promise.resolve();

/**
 * `switchboard …` run by runCli in this process, with the same environment as runSwitchboard would give
 * the child and its input and output in memory. Runs take turns: they share this thread, and SQLite
 * waits for another connection's write lock by blocking the thread, which would stall the run holding it.
 */
export async function runInProcess(args: string[], options: RunOptions = {}): Promise<Run> {
  const { io, output } = memoryIo(environment(options), options.input);
  const done = turn.then(() => runCli(args, io));
  turn = done.catch(() => {});
  const status = await done;
  return { status, ...output };
}

/** The settings that point the command line at a test database (from freshDatabase). */
export const databaseEnv = (database: { url: string; dataDir: string }) => ({
  SWITCHBOARD_DATABASE_URL: database.url,
  SWITCHBOARD_DATA_DIR: database.dataDir,
});
