import { spawn } from 'node:child_process';
import { once } from 'node:events';

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

/** Each run starts Node with tsx; on a busy machine that takes seconds. */
export const SLOW = { timeout: 180_000 };

/** `switchboard …` as an operator runs it: a separate Node process, its output collected. */
export async function runSwitchboard(args: string[], options: RunOptions = {}): Promise<Run> {
  const merged: Record<string, string | undefined> = { ...process.env, ...options.env };
  const env = Object.fromEntries(
    Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
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

/** The settings that point the command line at a test database (from freshDatabase). */
export const databaseEnv = (database: { url: string; dataDir: string }) => ({
  SWITCHBOARD_DATABASE_URL: database.url,
  SWITCHBOARD_DATA_DIR: database.dataDir,
});
