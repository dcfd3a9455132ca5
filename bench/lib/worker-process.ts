import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from './server.js';

const running = new Set<ChildProcess>();
let exitHooked = false;

/**
 * A bench's client-side script in a process of its own (so the clients do not share the bench's event
 * loop), talking over IPC with structured clone; killed when the bench exits, however it exits.
 */
export function spawnWorkerProcess(script: string): ChildProcess {
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const child of running)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
  }
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Asks the worker to close its connections and exit (`{type: 'close'}`); SIGKILL if it lingers past 3 s. */
export async function stopWorkerProcess(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.connected) child.send({ type: 'close' });
  const gone = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
  if (!gone) {
    child.kill('SIGKILL');
    await exited;
  }
}
