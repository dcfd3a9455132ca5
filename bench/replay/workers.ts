/** Client workers (bench/replay/clients.ts) as child processes of the bench, and talking to them. */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnWorkerProcess, stopWorkerProcess } from '../lib/worker-process.js';
import type { ParentMessage, WorkerMessage } from './protocol.js';

export class ClientWorker {
  private readonly inbox: WorkerMessage[] = [];
  private waiter: ((message: WorkerMessage) => void) | undefined;
  private readonly exit: Promise<void>;
  private exited = false;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: WorkerMessage) => this.arrived(message));
    this.exit = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        this.arrived({ type: 'fatal', message: `client worker exited (${signal ?? code})` });
        resolve();
      });
    });
  }

  static start(): ClientWorker {
    return new ClientWorker(spawnWorkerProcess('bench/replay/clients.ts'));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private arrived(message: WorkerMessage): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter(message);
    else this.inbox.push(message);
  }

  tell(message: ParentMessage): void {
    if (!this.exited) this.child.send(message);
  }

  /** Sends `message` and waits for the answer of `type` (a `fatal` one, or a timeout, is an error). */
  async ask<T extends WorkerMessage['type']>(
    message: ParentMessage,
    type: T,
    timeoutMs: number,
  ): Promise<Extract<WorkerMessage, { type: T }>> {
    this.tell(message);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const next =
        this.inbox.shift() ??
        (await Promise.race([
          new Promise<WorkerMessage>((resolve) => {
            this.waiter = resolve;
          }),
          sleep(Math.max(0, deadline - Date.now())).then(() => undefined),
        ]));
      if (next === undefined) {
        this.waiter = undefined;
        throw new Error(`client worker: no ${type} within ${timeoutMs} ms`);
      }
      if (next.type === 'fatal') throw new Error(next.message);
      if (next.type === type) return next as Extract<WorkerMessage, { type: T }>;
    }
  }

  /** Closes its clients and lets it exit; SIGKILL if it lingers. */
  stop(): Promise<void> {
    return stopWorkerProcess(this.child, this.exit);
  }
}
