import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CHILD_SOURCE } from './child-source.js';
import { confinement, keepInspectorShut } from './confinement.js';
import { syntaxErrorLine } from './syntax-line.js';

export interface FunctionLimits {
  timeoutMs: number;
  memoryMb: number;
}

export type FunctionOutcome =
  | { ok: true; output: unknown; durationMs: number }
  | {
      ok: false;
      kind: 'threw' | 'timeout' | 'memory' | 'crashed' | 'invalid_output' | 'load';
      error: string;
      durationMs: number;
    };

export interface SandboxOptions {
  /** Absolute; already checked to be inside the functions directory. */
  modulePath: string;
  exportName: string;
  limits: FunctionLimits;
  /**
   * The functions directory: the child's working directory and the one directory it may read. Error
   * messages name the module relative to it.
   */
  cwd: string;
  /** The child's whole environment: nothing of the server's reaches it, not even PATH or NODE_OPTIONS. */
  env?: Record<string, string>;
}

type Failure = { kind: Exclude<FunctionOutcome, { ok: true }>['kind']; error: string };
type Settled = { ok: true; output: unknown } | ({ ok: false } & Failure);

/** Node itself starting, before any of the module's code runs; generous because a busy host is slow. */
const STARTUP_ALLOWANCE_MS = 10_000;
const BUSY_POLL_MS = 20;
const IDLE_POLL_MS = 250;
/** Old space beyond `memoryMb` for Node's own heap; the resident-memory watch is the real limit. */
const HEAP_HEADROOM_MB = 16;
const SEMI_SPACE_MB = 2;
const OUTPUT_TAIL_CHARS = 4096;
/** How long a dead child's last output may take to arrive before its death is reported without it. */
const DRAIN_WAIT_MS = 200;
const EXIT_WAIT_MS = 2_000;
const MESSAGE_CHARS = 500;
const CLOSED: Settled = {
  ok: false,
  kind: 'crashed',
  error: 'the function sandbox was closed; it runs no more calls',
};
/** What V8 prints as it aborts a process whose heap is full. */
const HEAP_EXHAUSTED = /FATAL ERROR:.*JavaScript heap out of memory/;
/** What a function throws when a Buffer or ArrayBuffer cannot be had. */
const BUFFER_REFUSED = /Array buffer allocation failed/;

/**
 * One function, one long-lived child process reused across calls; calls run one at a time, queued. A call
 * that runs too long or uses too much memory has its child killed, and the next call starts a fresh one.
 */
export class FunctionSandbox {
  #child: FunctionChild | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #nextCallId = 1;

  constructor(private readonly options: SandboxOptions) {
    checkLimits(options.limits);
  }

  /** The live child's process id, if there is one. */
  get pid(): number | undefined {
    return this.#child?.alive ? this.#child.pid : undefined;
  }

  /** Never rejects: every failure is an outcome. */
  run(args: unknown): Promise<FunctionOutcome> {
    const outcome = this.#queue.then(() => this.#runNow(args));
    this.#queue = outcome.catch(() => undefined);
    return outcome.catch((error: unknown) => ({
      ok: false,
      kind: 'crashed',
      error: `the sandbox failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`,
      durationMs: 0,
    }));
  }

  /** Kills the child; later calls report that the sandbox was closed. */
  async close(): Promise<void> {
    this.#closed = true;
    const child = this.#child;
    this.#child = undefined;
    await child?.stop({ kind: 'crashed', error: 'the function sandbox was closed while the function ran' });
  }

  async #runNow(args: unknown): Promise<FunctionOutcome> {
    const started = performance.now();
    const settle = (settled: Settled): FunctionOutcome => ({
      ...settled,
      durationMs: Math.round(performance.now() - started),
    });
    if (this.#closed) {
      return settle(CLOSED);
    }
    let argsJson: string | undefined;
    try {
      argsJson = args === undefined ? undefined : JSON.stringify(args);
    } catch (error) {
      return settle({ ok: false, kind: 'threw', error: `its arguments are not JSON: ${firstLine(error)}` });
    }
    let child = this.#child;
    if (!child?.alive) {
      const startable = await childFlags(this.options);
      if ('failure' in startable) return settle({ ok: false, ...startable.failure });
      child = new FunctionChild(this.options, startable.flags);
      this.#child = child;
      const failure = await child.load();
      if (failure) {
        if (this.#child === child) this.#child = undefined;
        await child.stop(failure);
        return settle({ ok: false, ...failure });
      }
      if (this.#closed) {
        return settle(CLOSED);
      }
    }
    return settle(await child.call(this.#nextCallId++, argsJson));
  }
}

/** Loads the module in a fresh child, under the same limits, and says why it cannot be run, if it cannot. */
export async function checkLoadable(options: SandboxOptions): Promise<string | undefined> {
  checkLimits(options.limits);
  const startable = await childFlags(options);
  if ('failure' in startable) return startable.failure.error;
  const child = new FunctionChild(options, startable.flags);
  const failure = await child.load();
  await child.stop(failure ?? { kind: 'crashed', error: 'checked' });
  return failure?.error;
}

function checkLimits(limits: FunctionLimits): void {
  if (!(limits.timeoutMs > 0) || !(limits.memoryMb > 0)) {
    throw new RangeError('a function needs a positive time limit and a positive memory limit');
  }
}

interface ErrorInfo {
  name: string;
  message: string;
  code?: string;
  /** For an ERR_ACCESS_DENIED: what was refused (Node's name for it) and on what, when Node says. */
  permission?: string;
  resource?: string;
  /** For a module that does not parse: its line, 0 when unknown. */
  parseLine?: number;
}

type ChildMessage =
  | { type: 'ready' }
  | { type: 'loaded' }
  | { type: 'load_failed'; error: ErrorInfo }
  | { type: 'not_function'; found?: string; exports: string[] }
  | { type: 'result'; id: number; json: string }
  | { type: 'threw'; id: number; error: ErrorInfo }
  | { type: 'invalid_output'; id: number; reason: string };

type Waited<T> = { value: T } | { failure: Failure };

interface Waiter {
  pick(message: ChildMessage): unknown;
  settle(waited: Waited<unknown>): void;
}

/**
 * One child process: starts it, talks to it, watches its resident memory and kills it. Once it has ended
 * (killed, crashed or exited) it stays ended; the sandbox starts another.
 */
class FunctionChild {
  readonly pid: number | undefined;
  readonly #process: ChildProcess;
  readonly #options: SandboxOptions;
  readonly #moduleName: string;
  readonly #memoryLimitBytes: number;
  #ended: Failure | undefined;
  #exitSeen = false;
  readonly #exited: Promise<void>;
  #waiter: Waiter | undefined;
  #outputTail = '';
  #heapExhausted = false;
  #readySeen = false;
  #baselineBytes: number | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #polling = false;

  /** `confinementFlags`: how Node confines the child, from `confinement()`. */
  constructor(options: SandboxOptions, confinementFlags: string[]) {
    this.#options = options;
    this.#moduleName = relative(options.cwd, options.modulePath) || options.modulePath;
    this.#memoryLimitBytes = options.limits.memoryMb * 1024 * 1024;
    const heapMb = Math.ceil(options.limits.memoryMb) + HEAP_HEADROOM_MB;
    keepInspectorShut();
    this.#process = spawn(
      process.execPath,
      [
        ...confinementFlags,
        `--max-old-space-size=${heapMb}`,
        `--max-semi-space-size=${SEMI_SPACE_MB}`,
        '--input-type=module',
        '--eval',
        CHILD_SOURCE,
      ],
      {
        cwd: options.cwd,
        // Not even PATH: the child may start no program to look up.
        env: { ...options.env },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        // Its own process group, so a kill also takes whatever the function started.
        detached: process.platform !== 'win32',
        windowsHide: true,
      },
    );
    this.pid = this.#process.pid;
    let exited: () => void = () => {};
    this.#exited = new Promise((resolve) => {
      exited = resolve;
    });
    for (const stream of [this.#process.stdout, this.#process.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        // Checked as it arrives: V8's native stack trace that follows can push the line out of the tail.
        if (HEAP_EXHAUSTED.test(this.#outputTail.slice(-200) + chunk)) this.#heapExhausted = true;
        this.#outputTail = (this.#outputTail + chunk).slice(-OUTPUT_TAIL_CHARS);
      });
    }
    this.#process.on('message', (raw: unknown) => this.#onMessage(raw));
    this.#process.on('error', (error: NodeJS.ErrnoException) => {
      // Spawning failed (no exit follows), or a send to a child that is going away (its exit follows).
      if (this.pid === undefined) {
        this.#exitSeen = true;
        this.#end({
          kind: 'crashed',
          error: `could not start a process for the function (${error.code ?? error.message})`,
        });
        exited();
      }
    });
    this.#process.on('exit', (code, signal) => {
      this.#exitSeen = true;
      this.#stopPolling();
      if (this.#ended) {
        exited();
        return;
      }
      void this.#drained().then(() => {
        this.#end(this.#deathFailure(code, signal));
        exited();
      });
    });
    this.#setBusy(false);
    this.#schedulePoll();
  }

  get alive(): boolean {
    return this.#ended === undefined && !this.#exitSeen;
  }

  /** Starts the module in the child: undefined once its export is ready to call. */
  async load(): Promise<Failure | undefined> {
    if (!this.#readySeen) {
      const ready = await this.#wait(
        STARTUP_ALLOWANCE_MS,
        () => ({
          kind: 'crashed',
          error: `Node did not start within ${formatMs(STARTUP_ALLOWANCE_MS)}; stopped`,
        }),
        (message) => (message.type === 'ready' ? message : undefined),
      );
      if ('failure' in ready) return this.#whileLoading(ready.failure);
    }
    // Until the module has loaded, what Node uses before it is the baseline.
    this.#baselineBytes = await residentBytes(this.pid);
    this.#send({ type: 'load', path: this.#options.modulePath, exportName: this.#options.exportName });
    const loaded = await this.#wait(
      this.#options.limits.timeoutMs,
      () => ({
        kind: 'timeout',
        error: `took longer than ${formatMs(this.#options.limits.timeoutMs)}; stopped`,
      }),
      (message) =>
        message.type === 'loaded' || message.type === 'load_failed' || message.type === 'not_function'
          ? message
          : undefined,
    );
    if ('failure' in loaded) return this.#whileLoading(loaded.failure);
    const message = loaded.value;
    if (message.type === 'load_failed') {
      const error = message.error;
      if (error.name === 'SyntaxError') error.parseLine = await syntaxErrorLine(this.#options.modulePath);
      return { kind: 'load', error: this.#loadFailure(error) };
    }
    if (message.type === 'not_function') return { kind: 'load', error: this.#notFunction(message) };
    this.#baselineBytes = await residentBytes(this.pid);
    return undefined;
  }

  async call(id: number, argsJson: string | undefined): Promise<Settled> {
    this.#send({ type: 'call', id, args: argsJson });
    const waited = await this.#wait(
      this.#options.limits.timeoutMs,
      () => ({
        kind: 'timeout',
        error: `took longer than ${formatMs(this.#options.limits.timeoutMs)}; stopped`,
      }),
      (message) =>
        (message.type === 'result' || message.type === 'threw' || message.type === 'invalid_output') &&
        message.id === id
          ? message
          : undefined,
    );
    if ('failure' in waited) return { ok: false, ...waited.failure };
    const message = waited.value;
    if (message.type === 'invalid_output') {
      return { ok: false, kind: 'invalid_output', error: this.#clean(message.reason) };
    }
    if (message.type === 'threw') {
      if (BUFFER_REFUSED.test(message.error.message)) {
        const failure = this.#memoryFailure();
        await this.stop(failure);
        return { ok: false, ...failure };
      }
      return { ok: false, kind: 'threw', error: this.#clean(describeError(message.error)) };
    }
    try {
      return { ok: true, output: JSON.parse(message.json) };
    } catch {
      return { ok: false, kind: 'invalid_output', error: 'returned output that is not JSON' };
    }
  }

  /** Kills the child (and its process group) and waits, briefly, for it to be gone. */
  async stop(failure: Failure): Promise<void> {
    if (!this.#exitSeen) {
      this.#end(failure);
      this.#kill();
    }
    // Whoever waits for the child to be gone keeps the server running until it is.
    this.#process.ref();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#exited,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, EXIT_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  #kill(): void {
    if (this.#exitSeen || this.pid === undefined) return;
    try {
      if (process.platform === 'win32') this.#process.kill('SIGKILL');
      else process.kill(-this.pid, 'SIGKILL');
    } catch {
      this.#process.kill('SIGKILL');
    }
  }

  /** Settles the pending wait with the failure; the first reason a child ended is the one reported. */
  #end(failure: Failure): void {
    if (this.#ended) return;
    this.#ended = failure;
    this.#stopPolling();
    this.#waiter?.settle({ failure });
  }

  #wait<T extends ChildMessage>(
    timeoutMs: number,
    timedOut: () => Failure,
    pick: (message: ChildMessage) => T | undefined,
  ): Promise<Waited<T>> {
    if (this.#ended) return Promise.resolve({ failure: this.#ended });
    return new Promise((resolve) => {
      // The timer lives here, not in the child, so a function that never yields is stopped too.
      const timer = setTimeout(() => {
        void this.stop(timedOut());
      }, timeoutMs);
      this.#waiter = {
        pick,
        settle: (waited) => {
          clearTimeout(timer);
          this.#waiter = undefined;
          this.#setBusy(false);
          resolve(waited as Waited<T>);
        },
      };
      this.#setBusy(true);
    });
  }

  #onMessage(raw: unknown): void {
    const message = parseMessage(raw);
    if (message?.type === 'ready') this.#readySeen = true;
    if (!message || !this.#waiter || this.#ended) return;
    const picked = this.#waiter.pick(message);
    if (picked !== undefined) this.#waiter.settle({ value: picked });
  }

  #send(message: object): void {
    if (!this.alive) return;
    // A failed send means the child is going away; its exit is reported instead.
    this.#process.send(message, () => {});
  }

  /** While a call runs the child holds the server open and is watched closely; idle, neither. */
  #setBusy(busy: boolean): void {
    const handles = [
      this.#process,
      this.#process.channel,
      this.#process.stdout,
      this.#process.stderr,
    ] as Array<Pick<Socket, 'ref' | 'unref'> | null | undefined>;
    for (const handle of handles) {
      if (busy) handle?.ref?.();
      else handle?.unref?.();
    }
    if (busy && !this.#polling && this.#pollTimer) {
      clearTimeout(this.#pollTimer);
      this.#schedulePoll();
    }
  }

  #schedulePoll(): void {
    if (!this.alive || !memoryWatchAvailable()) return;
    this.#pollTimer = setTimeout(() => void this.#poll(), this.#waiter ? BUSY_POLL_MS : IDLE_POLL_MS);
    this.#pollTimer.unref();
  }

  #stopPolling(): void {
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
  }

  async #poll(): Promise<void> {
    this.#pollTimer = undefined;
    this.#polling = true;
    const bytes = await residentBytes(this.pid);
    this.#polling = false;
    if (!this.alive) return;
    if (bytes !== undefined && this.#baselineBytes !== undefined) {
      if (bytes > this.#baselineBytes + this.#memoryLimitBytes) {
        void this.stop(this.#memoryFailure());
        return;
      }
    }
    this.#schedulePoll();
  }

  #memoryFailure(): Failure {
    return { kind: 'memory', error: `used more than ${this.#options.limits.memoryMb} MB; stopped` };
  }

  /** Waits for the child's last output to arrive, so its death can be explained with it. */
  #drained(): Promise<void> {
    const streams = [this.#process.stdout, this.#process.stderr].filter(
      (stream) => stream !== null && !stream.readableEnded && !stream.destroyed,
    );
    return new Promise((resolve) => {
      let open = streams.length;
      const timer = setTimeout(resolve, DRAIN_WAIT_MS);
      timer.unref();
      const done = () => {
        open -= 1;
        if (open <= 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      if (open === 0) done();
      for (const stream of streams) stream?.once('close', done);
    });
  }

  #deathFailure(code: number | null, signal: NodeJS.Signals | null): Failure {
    if (this.#heapExhausted) return this.#memoryFailure();
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const tail = this.#shortTail();
    return {
      kind: 'crashed',
      error: `its process ${how} before returning${tail ? `; its last output: ${tail}` : ''}`,
    };
  }

  #whileLoading(failure: Failure): Failure {
    return { kind: failure.kind, error: `while loading ${this.#moduleName}: ${failure.error}` };
  }

  #loadFailure(error: ErrorInfo): string {
    if (error.parseLine !== undefined) {
      const where = error.parseLine > 0 ? ` (line ${error.parseLine})` : '';
      return this.#clean(
        `${this.#moduleName} does not parse${where}: ${firstLine(error.message)}; fix the module's syntax`,
      );
    }
    return this.#clean(`${this.#moduleName} failed while loading: ${describeError(error)}`);
  }

  #notFunction(message: { found?: string; exports: string[] }): string {
    const name = this.#options.exportName;
    if (message.found === undefined) {
      const exported = message.exports.length > 0 ? message.exports.join(', ') : 'nothing';
      return `${this.#moduleName} has no export named "${name}" (it exports ${exported}); export a function under that name or set "export" to the one to call`;
    }
    return `export "${name}" of ${this.#moduleName} is ${message.found}, not a function; export the function to call`;
  }

  /** The last few lines the child printed, as far as they are safe to show. */
  #shortTail(): string {
    const lines = this.#clean(this.#outputTail, Number.POSITIVE_INFINITY)
      .split('\n')
      .map((line) => line.trimEnd())
      .filter((line) => line.trim() !== '');
    const tail = lines.slice(-4).join(' | ');
    return tail.length > MESSAGE_CHARS ? `…${tail.slice(-MESSAGE_CHARS)}` : tail;
  }

  /**
   * Text from the child, made fit to show: no values of the variables it was given (they may be secrets),
   * paths relative to its working directory, and not too long.
   */
  #clean(text: string, maxChars = MESSAGE_CHARS): string {
    let cleaned = text;
    for (const value of Object.values(this.#options.env ?? {})) {
      if (value.length >= 4) cleaned = cleaned.split(value).join('********');
    }
    const cwd = this.#options.cwd.endsWith(sep) ? this.#options.cwd : this.#options.cwd + sep;
    const cwdUrl = pathToFileURL(cwd).href;
    cleaned = cleaned.split(cwdUrl).join('').split(cwd).join('');
    return cleaned.length > maxChars ? `${cleaned.slice(0, maxChars)}…` : cleaned;
  }
}

/** What the sandbox refused, by the name Node (or the child's own refusals) gives the permission. */
const REFUSED = new Map<string, (resource: string | undefined) => string>([
  ['FileSystemRead', (resource) => `reading ${resource ?? 'a file'}`],
  ['FileSystemWrite', (resource) => `writing ${resource ?? 'a file'}`],
  ['ChildProcess', () => 'starting a process'],
  ['WorkerThreads', () => 'starting a worker thread'],
  ['Inspector', () => 'using the inspector'],
  ['WASI', () => 'using WASI'],
  ['Signal', () => 'sending a signal'],
  ['V8Flags', () => 'changing V8 flags'],
  ['Tracing', () => 'writing trace files'],
]);
const SANDBOX_RULES =
  'a function may read files of the functions directory only, and may not write files, start processes or worker threads, send signals or load native addons';

function describeError(error: ErrorInfo): string {
  if (error.code === 'ERR_ACCESS_DENIED' || error.code === 'ERR_DLOPEN_DISABLED') {
    const permission = error.permission ?? '';
    const what =
      error.code === 'ERR_DLOPEN_DISABLED'
        ? 'loading a native addon'
        : (REFUSED.get(permission)?.(error.resource || undefined) ??
          (permission || firstLine(error.message)));
    return `not allowed in the function sandbox: ${what} (${SANDBOX_RULES})`;
  }
  const message = firstLine(error.message);
  return error.name && error.name !== 'Error' ? `${error.name}: ${message}` : message;
}

function firstLine(value: unknown): string {
  const text = value instanceof Error ? value.message : String(value);
  return text.split('\n')[0] ?? '';
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** Checked before a child is spent on it: the module is there, and this Node can confine the child. */
async function childFlags(options: SandboxOptions): Promise<{ flags: string[] } | { failure: Failure }> {
  const missing = await missingModule(options);
  if (missing) return { failure: missing };
  const confined = confinement(options.cwd);
  if ('problem' in confined) return { failure: { kind: 'load', error: confined.problem } };
  return confined;
}

async function missingModule(options: SandboxOptions): Promise<Failure | undefined> {
  const name = relative(options.cwd, options.modulePath) || options.modulePath;
  try {
    const found = await stat(options.modulePath);
    if (found.isFile()) return undefined;
    return { kind: 'load', error: `${name} is not a file; point "module" at a .js, .mjs or .cjs file` };
  } catch {
    return { kind: 'load', error: `${name} does not exist; check "module" and the functions directory` };
  }
}

function parseMessage(raw: unknown): ChildMessage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const message = raw as Record<string, unknown>;
  const error = parseErrorInfo(message.error);
  switch (message.type) {
    case 'ready':
    case 'loaded':
      return { type: message.type };
    case 'load_failed':
      return error ? { type: 'load_failed', error } : undefined;
    case 'not_function':
      return {
        type: 'not_function',
        found: typeof message.found === 'string' ? message.found : undefined,
        exports: Array.isArray(message.exports) ? message.exports.map(String) : [],
      };
    case 'result':
      return typeof message.id === 'number' && typeof message.json === 'string'
        ? { type: 'result', id: message.id, json: message.json }
        : undefined;
    case 'threw':
      return typeof message.id === 'number' && error ? { type: 'threw', id: message.id, error } : undefined;
    case 'invalid_output':
      return typeof message.id === 'number' && typeof message.reason === 'string'
        ? { type: 'invalid_output', id: message.id, reason: message.reason }
        : undefined;
    default:
      return undefined;
  }
}

function parseErrorInfo(raw: unknown): ErrorInfo | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const error = raw as Record<string, unknown>;
  if (typeof error.message !== 'string') return undefined;
  return {
    name: typeof error.name === 'string' ? error.name : 'Error',
    message: error.message,
    code: typeof error.code === 'string' ? error.code : undefined,
    permission: typeof error.permission === 'string' ? error.permission : undefined,
    resource: typeof error.resource === 'string' ? error.resource : undefined,
  };
}

let pageSizeBytes: number | null | undefined;

/** The size of a memory page, worked out once from this process's own figures; null without /proc. */
function pageSize(): number | null {
  if (pageSizeBytes !== undefined) return pageSizeBytes;
  try {
    const pages = Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]);
    const ratio = process.memoryUsage.rss() / pages;
    const sizes = [4096, 8192, 16384, 65536];
    pageSizeBytes = Number.isFinite(ratio)
      ? sizes.reduce((best, size) => (Math.abs(size - ratio) < Math.abs(best - ratio) ? size : best))
      : null;
  } catch {
    pageSizeBytes = null;
  }
  return pageSizeBytes;
}

function memoryWatchAvailable(): boolean {
  return pageSize() !== null;
}

/** A process's resident memory; undefined where /proc is absent or the process is gone. */
async function residentBytes(pid: number | undefined): Promise<number | undefined> {
  const size = pageSize();
  if (pid === undefined || size === null) return undefined;
  try {
    const pages = Number((await readFile(`/proc/${pid}/statm`, 'utf8')).split(' ')[1]);
    return Number.isFinite(pages) ? pages * size : undefined;
  } catch {
    return undefined;
  }
}
