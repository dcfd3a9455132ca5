/** Subscriber workers of the soak (bench/soak/subscribers.ts) as child processes, and talking to them. */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnWorkerProcess, stopWorkerProcess } from '../lib/worker-process.js';
import type { ParentMessage, WorkerMessage } from './protocol.js';

export class SoakWorker {
  private readonly inbox: WorkerMessage[] = [];
  private readonly waiting: ((message: WorkerMessage | undefined) => void)[] = [];
  private exitedWith: string | undefined;
  private readonly exit: Promise<void>;

  private constructor(readonly child: ChildProcess) {
    child.on('message', (message: WorkerMessage) => {
      const waiter = this.waiting.shift();
      if (waiter) waiter(message);
      else this.inbox.push(message);
    });
    this.exit = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitedWith = String(signal ?? code);
        for (const waiter of this.waiting.splice(0))
          waiter({ type: 'fatal', message: `subscriber worker exited (${this.exitedWith})` });
        resolve();
      });
    });
  }

  static start(): SoakWorker {
    return new SoakWorker(spawnWorkerProcess('bench/soak/subscribers.ts'));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Undefined while it runs; how it exited otherwise. */
  get exited(): string | undefined {
    return this.exitedWith;
  }

  tell(message: ParentMessage): void {
    if (this.exitedWith === undefined) this.child.send(message);
  }

  /** Sends `message` and waits for the next answer of `type` (a `fatal` one, or the exit, is an error). */
  async ask<T extends WorkerMessage['type']>(
    message: ParentMessage,
    type: T,
    timeoutMs: number,
  ): Promise<Extract<WorkerMessage, { type: T }>> {
    this.tell(message);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = this.inbox.shift() ?? (await this.receive(deadline));
      if (answer === undefined) throw new Error(`subscriber worker: no ${type} within ${timeoutMs} ms`);
      if (answer.type === 'fatal') throw new Error(answer.message);
      if (answer.type === type) return answer as Extract<WorkerMessage, { type: T }>;
    }
  }

  private async receive(deadline: number): Promise<WorkerMessage | undefined> {
    if (this.exitedWith !== undefined) {
      return { type: 'fatal', message: `subscriber worker exited (${this.exitedWith})` };
    }
    let waiter: ((message: WorkerMessage | undefined) => void) | undefined;
    const arrived = new Promise<WorkerMessage | undefined>((resolve) => {
      waiter = resolve;
      this.waiting.push(resolve);
    });
    const timer = new AbortController();
    const message = await Promise.race([
      arrived,
      sleep(Math.max(0, deadline - Date.now()), undefined, { signal: timer.signal }).catch(() => undefined),
    ]);
    timer.abort();
    if (message === undefined && waiter) {
      const index = this.waiting.indexOf(waiter);
      if (index !== -1) this.waiting.splice(index, 1);
    }
    return message;
  }

  /** Closes its connections and lets it exit; SIGKILL if it lingers. */
  stop(): Promise<void> {
    return stopWorkerProcess(this.child, this.exit);
  }
}
