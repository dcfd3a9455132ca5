import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createPrivateDir, PRIVATE_FILE_MODE } from './data-dir.js';

/** The file in the data directory that names the server process using it. */
export const LOCK_FILE = 'switchboard.lock';

/** A server already runs on this data directory; the message says which process and what to do. */
export class DataDirInUse extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `the data directory ${dataDir} is in use by another Switchboard server, process ${pid}` +
        `${pid === process.pid ? ' (this one)' : ''}; stop it first, or give this server a data directory of its ` +
        `own (SWITCHBOARD_DATA_DIR). Several instances on one database need PostgreSQL (docs/live.md). ` +
        `If process ${pid} is not Switchboard, delete ${join(dataDir, LOCK_FILE)}`,
    );
    this.name = 'DataDirInUse';
  }
}

export interface DataDirLock {
  /** Deletes the lock file if it is still this lock's; safe to call more than once. */
  release(): void;
}

/** Lock files this process holds, so that a file naming this PID is told apart from one a former process left. */
const held = new Set<string>();

/** Whether a process with this ID runs (one of another user included). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The PID a lock file names, or undefined when it is gone or names none (a write cut short). */
function pidIn(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function removeIfNaming(file: string, pid: number | undefined): void {
  if (pidIn(file) !== pid) return;
  try {
    unlinkSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * Claims the data directory for this server process: creates switchboard.lock holding the PID, refusing
 * (DataDirInUse) while the process it names runs. A lock whose process is gone (killed, crashed) is taken
 * over; so is one naming this PID that this process does not hold, which a former process with the same ID
 * left (PID 1 in a container). The file is deleted on release and, failing that, when the process exits.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  createPrivateDir(dataDir);
  const file = resolve(dataDir, LOCK_FILE);
  for (let attempt = 0; ; attempt += 1) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: PRIVATE_FILE_MODE });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = pidIn(file);
    const stale = owner === undefined || (owner === process.pid ? !held.has(file) : !isAlive(owner));
    // Two servers taking over the same stale lock at once: the one that loses finds the winner's PID.
    if (!stale || attempt > 2) throw new DataDirInUse(dataDir, owner ?? 0);
    removeIfNaming(file, owner);
  }
  held.add(file);
  const onExit = () => removeIfNaming(file, process.pid);
  process.on('exit', onExit);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      process.off('exit', onExit);
      held.delete(file);
      removeIfNaming(file, process.pid);
    },
  };
}
