import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Finding the lines that changed between two large documents takes from tens to hundreds of
 * milliseconds (1 MB: 27 ms for one value, 270 ms when everything changed). On the event loop that is as
 * long without a live frame or an answer for anyone, so the comparison runs on a thread of its own.
 *
 * The thread's program is given as source, so that it runs the same from src/ and dist/; it loads jsdiff
 * by the path this module resolves.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createTwoFilesPatch } = require(workerData.diffModule);
parentPort.on('message', (job) => {
  try {
    const patch = createTwoFilesPatch(job.oldLabel, job.newLabel, job.oldText, job.newText, undefined, undefined, job.options);
    parentPort.postMessage({ id: job.id, patch: patch ?? null });
  } catch (error) {
    parentPort.postMessage({ id: job.id, error: String((error && error.message) || error) });
  }
});
`;

export interface PatchJob {
  oldLabel: string;
  newLabel: string;
  oldText: string;
  newText: string;
  options: { context: number; maxEditLength: number; timeout: number };
}

type Reply = { id: number; patch: string | null } | { id: number; error: string };

/** One thread, started when first needed and left to end with the process; jobs are answered by id. */
class DiffThread {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly waiting = new Map<
    number,
    { resolve(patch: string | undefined): void; reject(error: Error): void }
  >();

  patch(job: PatchJob): Promise<string | undefined> {
    const worker = this.start();
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // Only while a job is out does the thread keep the process alive.
      if (this.waiting.size === 1) worker.ref();
      worker.postMessage({ ...job, id });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { diffModule: createRequire(import.meta.url).resolve('diff') },
    });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const waiter = this.waiting.get(reply.id);
      if (!waiter) return;
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      if ('error' in reply) waiter.reject(new Error(reply.error));
      else waiter.resolve(reply.patch ?? undefined);
    });
    const fail = (error: Error) => {
      this.worker = undefined;
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the diff thread stopped (exit code ${code})`)));
    this.worker = worker;
    return worker;
  }
}

const thread = new DiffThread();

/** jsdiff's createTwoFilesPatch on the diff thread: undefined when it gave up (too many edits, too long). */
export function patchOffThread(job: PatchJob): Promise<string | undefined> {
  return thread.patch(job);
}
