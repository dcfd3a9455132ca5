/** Subscriber workers (bench/fanout/subscribers.ts) as child processes of the bench, and talking to them. */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnWorkerProcess, stopWorkerProcess } from '../lib/worker-process.js';
import type { ParentMessage, WorkerMessage } from './protocol.js';

export class SubscriberWorker {
  private readonly inbox: WorkerMessage[] = [];
  private readonly waiting: ((message: WorkerMessage) => void)[] = [];
  private exited = false;
  private readonly exit: Promise<void>;

  private constructor(readonly child: ChildProcess) {
    child.on('message', (message: WorkerMessage) => {
      const waiter = this.waiting.shift();
      if (waiter) waiter(message);
      else this.inbox.push(message);
    });
    this.exit = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        const message = `subscriber worker exited (${signal ?? code})`;
        for (const waiter of this.waiting.splice(0)) waiter({ type: 'fatal', message });
        resolve();
      });
    });
  }

  static start(): SubscriberWorker {
    return new SubscriberWorker(spawnWorkerProcess('bench/fanout/subscribers.ts'));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  tell(message: ParentMessage): void {
    if (!this.exited) this.child.send(message);
  }

  /** The next message of `type` (a `fatal` one, or the worker's exit, is an error); others are skipped. */
  async next<T extends WorkerMessage['type']>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<WorkerMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = this.inbox.shift() ?? (await this.receive(deadline));
      if (message === undefined) throw new Error(`subscriber worker: no ${type} within ${timeoutMs} ms`);
      if (message.type === 'fatal') throw new Error(message.message);
      if (message.type === type) return message as Extract<WorkerMessage, { type: T }>;
    }
  }

  /** The next message to arrive, or undefined at the deadline. */
  private async receive(deadline: number): Promise<WorkerMessage | undefined> {
    if (this.exited) return { type: 'fatal', message: 'subscriber worker exited' };
    let waiter: ((message: WorkerMessage) => void) | undefined;
    const arrived = new Promise<WorkerMessage>((resolve) => {
      waiter = resolve;
      this.waiting.push(resolve);
    });
    const timer = new AbortController();
    const message = await Promise.race([
      arrived,
      sleep(Math.max(0, deadline - Date.now()), undefined, { signal: timer.signal }).catch(() => undefined),
    ]);
    timer.abort();
    if (message === undefined) this.waiting.splice(this.waiting.indexOf(waiter!), 1);
    return message;
  }

  async ask<T extends WorkerMessage['type']>(message: ParentMessage, type: T, timeoutMs: number) {
    this.tell(message);
    return this.next(type, timeoutMs);
  }

  /** Closes its connections and lets it exit; SIGKILL if it lingers. */
  stop(): Promise<void> {
    return stopWorkerProcess(this.child, this.exit);
  }
}
