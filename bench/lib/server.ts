import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Pool } from 'undici';
import { pool } from './http.js';

export const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');

/** How the server under test is started: the built dist (realistic) or the TypeScript sources via tsx. */
export type Runtime = 'dist' | 'source';

export interface BenchServer {
  readonly origin: string;
  readonly port: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Last lines the server wrote, for a failure message. */
  output(): string;
  /** SIGTERM, then SIGKILL if it lingers; removes the data directory. Safe to call twice. */
  stop(): Promise<void>;
}

const live = new Set<{ child: ChildProcess; dataDir: string }>();
let exitHooked = false;

/** Whatever happens to the bench process, its servers die and their data directories go. */
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const { child, dataDir } of live) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping servers\n`);
      process.exit(130);
    });
  }
}

let built: Promise<void> | undefined;

/** `npm run build` once per bench process, so the numbers are those of the code as it is now. */
export function buildOnce(): Promise<void> {
  built ??= new Promise<void>((resolvePromise, reject) => {
    process.stderr.write('bench: npm run build\n');
    const child = spawn('npm', ['run', 'build', '--silent'], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolvePromise()
        : reject(
            new Error(
              `npm run build failed (exit ${code}); fix the build or pass --source to run src/ with tsx`,
            ),
          ),
    );
  });
  return built;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolvePromise(port));
    });
  });
}

export interface StartOptions {
  runtime: Runtime;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /**
   * Node arguments in place of `dist/main.js serve` (or its tsx form): another entry, such as a bench's own
   * launcher or a comparison server, which must listen on HOST:PORT and answer GET /readyz with 200.
   */
  args?: readonly string[];
  /** Build dist/ first; default: when the runtime is dist. */
  build?: boolean;
}

/**
 * Starts `switchboard serve` in a child process on 127.0.0.1, a port of its own and a fresh SQLite data
 * directory, and waits until GET /readyz answers 200. Settings of the calling environment (SWITCHBOARD_*,
 * HOST, PORT) are not passed on: only `env` is.
 */
export async function startServer(options: StartOptions): Promise<BenchServer> {
  hookExit();
  if (options.build ?? options.runtime === 'dist') await buildOnce();
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
  const origin = `http://127.0.0.1:${port}`;
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith('SWITCHBOARD_') && key !== 'HOST' && key !== 'PORT',
    ),
  );
  const args =
    options.args ??
    (options.runtime === 'dist' ? ['dist/main.js', 'serve'] : ['--import', 'tsx', 'src/main.ts', 'serve']);
  const child = spawn(process.execPath, [...args], {
    cwd: ROOT,
    env: {
      ...inherited,
      HOST: '127.0.0.1',
      PORT: String(port),
      SWITCHBOARD_DATA_DIR: dataDir,
      SWITCHBOARD_PUBLIC_URL: origin,
      SWITCHBOARD_LOG_LEVEL: 'warn',
      SWITCHBOARD_SHUTDOWN_GRACE_MS: '1000',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry = { child, dataDir };
  live.add(entry);
  let tail: string[] = [];
  const keep = (chunk: Buffer) => {
    tail = [...tail, ...chunk.toString('utf8').split('\n')].slice(-40);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolvePromise) => child.once('exit', () => resolvePromise()));

  let stopped = false;
  const server: BenchServer = {
    origin,
    port,
    dataDir,
    child,
    output: () => tail.join('\n').trim(),
    async stop() {
      if (!stopped) {
        stopped = true;
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const killed = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
          if (!killed) {
            child.kill('SIGKILL');
            await exited;
          }
        }
        rmSync(dataDir, { recursive: true, force: true });
        live.delete(entry);
      }
    },
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    try {
      const res = await fetch(`${origin}/readyz`);
      await res.arrayBuffer();
      if (res.status === 200) return server;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  const why = child.exitCode !== null ? `exited with ${child.exitCode}` : 'did not become ready in time';
  await server.stop();
  throw new Error(`the server under test ${why}:\n${server.output()}`);
}

/** A server under test and a keep-alive pool to it, as a bench readies it (and may measure over it). */
export interface ServerSession {
  server: BenchServer;
  client: Pool;
  /** Closes the pool and stops the server. */
  close(): Promise<void>;
}

/**
 * startServer, a pool of `connections` to it (requests fail after `timeoutMs`, 10 s by default), and then
 * `ready`, which readies the server for a bench (accounts, documents…) and returns what the bench needs of
 * it. When any of that fails, the pool is closed and the server stopped before the error goes on.
 */
export async function startSession<T extends object>(
  options: StartOptions & { connections: number; timeoutMs?: number },
  ready: (session: ServerSession) => Promise<T>,
): Promise<ServerSession & T> {
  const server = await startServer(options);
  const client = pool(server.origin, options.connections, options.timeoutMs);
  const session: ServerSession = {
    server,
    client,
    async close() {
      await client.close();
      await server.stop();
    },
  };
  try {
    return { ...(await ready(session)), ...session };
  } catch (error) {
    await session.close();
    throw error;
  }
}
