/** Subscriber workers (bench/fanout/subscribers.ts) as child processes of the bench, and talking to them. */
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from '../lib/server.js';
import type { ParentMessage, WorkerMessage } from './protocol.js';

const live = new Set<ChildProcess>();
let exitHooked = false;

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
        live.delete(child);
        const message = `subscriber worker exited (${signal ?? code})`;
        for (const waiter of this.waiting.splice(0)) waiter({ type: 'fatal', message });
        resolve();
      });
    });
  }

  static start(): SubscriberWorker {
    if (!exitHooked) {
      exitHooked = true;
      process.on('exit', () => {
        for (const child of live)
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
    }
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/fanout/subscribers.ts'], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    live.add(child);
    return new SubscriberWorker(child);
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
  async stop(): Promise<void> {
    this.tell({ type: 'close' });
    const gone = await Promise.race([this.exit.then(() => true), sleep(3000).then(() => false)]);
    if (!gone) {
      this.child.kill('SIGKILL');
      await this.exit;
    }
  }
}
