import { Worker } from 'node:worker_threads';
import type { DiffForm, ThreadMessage, ThreadResult } from './diff-work.js';
import type { DraftForm, StoredSide } from './draft.js';
import type { ConfigProblem } from './validate.js';

/**
 * Everything a diff does to a document happens on a thread of its own: reading a draft (8 MB of crafted
 * JSON takes a second or more to parse), checking it against the schema (30 ms a megabyte), masking,
 * canonicalizing (10 to 35 ms a megabyte) and comparing (27 ms for one value of 1 MB, 270 ms when
 * everything changed), and writing the diff as JSON (115 ms for 24 MB). On the event loop each of these
 * is as long without a live frame or an answer for anyone; here the loop only passes text along.
 *
 * The thread runs diff-work.ts, from wherever this module runs: dist/ (JavaScript), or src/ under tsx or
 * vitest, where the thread registers tsx itself to read TypeScript.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const loaded = (async () => {
  if (workerData.typescript) (await import(workerData.typescript)).register();
  return import(workerData.module);
})();
parentPort.on('message', ({ id, message }) => {
  loaded
    .then((module) => {
      const { result, transfer } = module.work(id, message);
      parentPort.postMessage({ id, result }, transfer);
    })
    .catch((error) => parentPort.postMessage({ id, error: String((error && error.message) || error) }));
});
`;

export interface PatchJob {
  oldLabel: string;
  newLabel: string;
  oldText: string;
  newText: string;
  options: { context: number; maxEditLength: number; timeout: number };
}

type Reply = { id: number; result: ThreadResult } | { id: number; error: string };

function threadModules(): { module: string; typescript: string | undefined } {
  const typescript = import.meta.url.endsWith('.ts');
  return {
    module: new URL(`./diff-work.${typescript ? 'ts' : 'js'}`, import.meta.url).href,
    typescript: typescript ? import.meta.resolve('tsx/esm/api') : undefined,
  };
}

/** One thread, started when first needed and left to end with the process; messages are answered by id. */
class DiffThread {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly waiting = new Map<
    number,
    { resolve(result: ThreadResult): void; reject(error: Error): void }
  >();

  ask(message: ThreadMessage): Promise<ThreadResult> {
    const worker = this.start();
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // Only while a message is out does the thread keep the process alive.
      if (this.waiting.size === 1) worker.ref();
      worker.postMessage({ id, message });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: threadModules() });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const waiter = this.waiting.get(reply.id);
      if (!waiter) return;
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      if ('error' in reply) waiter.reject(new Error(reply.error));
      else waiter.resolve(reply.result);
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

function unexpected(result: ThreadResult): never {
  throw new Error(`the diff thread answered ${Object.keys(result).join(', ')}, not what was asked`);
}

/** jsdiff's createTwoFilesPatch on the diff thread: undefined when it gave up (too many edits, too long). */
export async function patchOffThread(job: PatchJob): Promise<string | undefined> {
  const result = await thread.ask({ kind: 'patch', job });
  if (!('patch' in result)) unexpected(result);
  return result.patch ?? undefined;
}

export type DraftDiff<T> = { malformed: string } | { problems: ConfigProblem[] } | { diff: T };

/**
 * A draft read, checked and compared with its base on the diff thread. `baseOf` is given the version the
 * draft asked for (undefined: none) and finds the saved one to compare with; what it throws is thrown.
 */
export function draftDiffOffThread(
  text: string,
  form: DraftForm,
  as: 'json',
  baseOf: (version: string | undefined) => Promise<StoredSide | undefined>,
): Promise<DraftDiff<Uint8Array>>;
export function draftDiffOffThread(
  text: string,
  form: DraftForm,
  as: 'text',
  baseOf: (version: string | undefined) => Promise<StoredSide | undefined>,
): Promise<DraftDiff<string>>;
export async function draftDiffOffThread(
  text: string,
  form: DraftForm,
  as: DiffForm,
  baseOf: (version: string | undefined) => Promise<StoredSide | undefined>,
): Promise<DraftDiff<string | Uint8Array>> {
  const reading = await thread.ask({ kind: 'read-draft', text, form });
  if ('malformed' in reading || 'problems' in reading) return reading;
  if (!('draft' in reading)) unexpected(reading);
  let base: StoredSide | undefined;
  try {
    base = await baseOf(reading.baseVersion);
  } catch (error) {
    await thread.ask({ kind: 'drop-draft', draft: reading.draft });
    throw error;
  }
  return { diff: diffOf(await thread.ask({ kind: 'diff-draft', draft: reading.draft, base, as })) };
}

/** Two saved versions (or none before the first) compared on the diff thread, secrets masked. */
export function storedDiffOffThread(
  before: StoredSide | undefined,
  after: StoredSide,
  as: 'json',
): Promise<Uint8Array>;
export function storedDiffOffThread(
  before: StoredSide | undefined,
  after: StoredSide,
  as: 'text',
): Promise<string>;
export async function storedDiffOffThread(
  before: StoredSide | undefined,
  after: StoredSide,
  as: DiffForm,
): Promise<string | Uint8Array> {
  return diffOf(await thread.ask({ kind: 'diff-stored', before, after, as }));
}

function diffOf(result: ThreadResult): string | Uint8Array {
  if ('diff' in result) return result.diff;
  if ('json' in result) return result.json;
  return unexpected(result);
}
