/**
 * What bench/widgets measures against, each server in a process of its own on 127.0.0.1: Switchboard
 * (`switchboard serve` on a fresh SQLite data directory) with one widget bundle registered through its API
 * from a small npm-style registry on loopback (test/widgets/registry-fixture.ts), and a viewer's bearer
 * token to read the bundle's file with; and the baseline, a bare Fastify with @fastify/static serving the
 * same bytes from a temporary directory (static-server.mjs). Each is checked before it is measured: the
 * same bytes answered, and Switchboard refusing a caller without credentials.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'undici';
import { npmTarball, TestRegistry } from '../../test/widgets/registry-fixture.js';
import { accountsEnv, setUpAccounts } from '../lib/accounts.js';
import { expectJson, pool } from '../lib/http.js';
import {
  type BenchServer,
  type Runtime,
  type ServerSession,
  startServer,
  startSession,
} from '../lib/server.js';

export const PACKAGE = '@acme/bench';
export const VERSION = '1.0.0';
export const FILE = 'asset.js';
/** The file's URL path, the same on both servers. */
export const ASSET_PATH = `/widget-assets/${PACKAGE}/${VERSION}/${FILE}`;
/** 100 KB: the size issue 17 measures. */
export const ASSET_BYTES = 100 * 1024;

/**
 * A JavaScript file of exactly `bytes` bytes, the same every run: exported constants holding hex digests,
 * then a comment to make up the size.
 */
export function assetBody(bytes = ASSET_BYTES): Buffer {
  const head = '// bench/widgets: a widget bundle file of a fixed size.\n';
  const lines = [head];
  let size = head.length;
  for (let i = 0; ; i += 1) {
    const digest = createHash('sha256').update(`widget-${i}`).digest('hex');
    const line = `export const w${String(i).padStart(5, '0')} = '${digest}';\n`;
    // Room for the closing comment: at least `/**/\n`.
    if (size + line.length + 5 > bytes) break;
    lines.push(line);
    size += line.length;
  }
  lines.push(`/*${'-'.repeat(bytes - size - 5)}*/\n`);
  const body = Buffer.from(lines.join(''), 'utf8');
  if (body.length !== bytes) throw new Error(`the asset is ${body.length} bytes, not ${bytes}`);
  return body;
}

/** The registry on loopback, with the bundle published: package.json and the file. */
export async function startRegistry(body: Buffer): Promise<TestRegistry> {
  const registry = await TestRegistry.start();
  const tarball = await npmTarball({
    'package.json': JSON.stringify({ name: PACKAGE, version: VERSION, main: FILE }),
    [FILE]: body,
  });
  registry.publish(PACKAGE, VERSION, { tarball });
  return registry;
}

/** The head of a server's answer with the file, as the bench probed it. */
export interface Answer {
  /** Header names of a 200 answer, in the order sent. */
  headerNames: string[];
  contentType: string;
}

/** GETs `path` once and checks that the body is `body`, byte for byte. */
async function probeAsset(
  client: Pool,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
  who: string,
): Promise<Answer> {
  const res = await client.request({ method: 'GET', path, headers });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200) {
    throw new Error(
      `${who}: GET ${path} answered ${res.statusCode}: ${bytes.toString('utf8').slice(0, 300)}`,
    );
  }
  if (!bytes.equals(body)) throw new Error(`${who}: GET ${path} answered ${bytes.length} other bytes`);
  return {
    headerNames: Object.keys(res.headers),
    contentType: String(res.headers['content-type'] ?? ''),
  };
}

/** Switchboard's memory for widget files: its default budget, or none (every request reads the disk). */
export type Memory = 'default' | 'none';

export type WidgetsSwitchboard = ServerSession & {
  /** The request headers of the viewer (a bearer access token). */
  viewer: Record<string, string>;
  /** What POST /api/v1/widgets answered. */
  registered: { files: number; size: number; integrity: string };
  answer: Answer;
};

/**
 * Switchboard with the bundle registered by the first admin (POST /api/v1/widgets, 201) and a viewer signed
 * in. Rate limiting stays on, as the other benches set it (lib/accounts.ts: tiers that never refuse).
 */
export function startWidgetsSwitchboard(
  runtime: Runtime,
  registry: TestRegistry,
  memory: Memory,
  body: Buffer,
): Promise<WidgetsSwitchboard> {
  const env: Record<string, string> = {
    ...accountsEnv(),
    SWITCHBOARD_WIDGETS_REGISTRY: registry.url,
    SWITCHBOARD_WIDGETS_ALLOWED_HOSTS: registry.host,
    SWITCHBOARD_WIDGETS_SCOPES: '@acme',
  };
  if (memory === 'none') env.SWITCHBOARD_WIDGETS_MEMORY_BYTES = '0';
  return startSession({ runtime, env, connections: 2, timeoutMs: 30_000 }, async ({ client }) => {
    const { adminToken, createUser, signIn } = await setUpAccounts(client);
    const created = await expectJson(client, 201, 'POST', '/api/v1/widgets', {
      bearer: adminToken,
      json: { package: PACKAGE, version: VERSION },
    });
    const registered = created.body.data as { files: number; size: number; integrity: string };
    const viewer = { authorization: `Bearer ${await signIn(await createUser('bench-viewer'))}` };
    const who = `Switchboard (memory ${memory})`;
    // Twice: the second answer is the one a loaded server gives (from memory, when it keeps files there).
    await probeAsset(client, ASSET_PATH, { accept: '*/*', ...viewer }, body, who);
    const answer = await probeAsset(client, ASSET_PATH, { accept: '*/*', ...viewer }, body, who);
    const anonymous = await client.request({ method: 'GET', path: ASSET_PATH, headers: { accept: '*/*' } });
    await anonymous.body.dump();
    if (anonymous.statusCode !== 401) {
      throw new Error(
        `${who}: GET ${ASSET_PATH} without credentials answered ${anonymous.statusCode}, not 401`,
      );
    }
    return { viewer, registered, answer };
  });
}

export interface StaticServer {
  server: BenchServer;
  answer: Answer;
  stop(): Promise<void>;
}

/** The bare Fastify with @fastify/static, the file written to a temporary directory it serves. */
export async function startStatic(body: Buffer): Promise<StaticServer> {
  const root = mkdtempSync(join(tmpdir(), 'switchboard-widgets-static-'));
  const prefix = ASSET_PATH.slice(0, ASSET_PATH.length - FILE.length);
  writeFileSync(join(root, FILE), body);
  let server: BenchServer | undefined;
  try {
    server = await startServer({
      runtime: 'dist',
      build: false,
      args: ['bench/widgets/static-server.mjs'],
      env: { BENCH_STATIC_ROOT: root, BENCH_STATIC_PREFIX: prefix },
    });
    const client = pool(server.origin, 1);
    try {
      const answer = await probeAsset(client, ASSET_PATH, { accept: '*/*' }, body, '@fastify/static');
      const started = server;
      return {
        server: started,
        answer,
        async stop() {
          await started.stop();
          rmSync(root, { recursive: true, force: true });
        },
      };
    } finally {
      await client.close();
    }
  } catch (error) {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}

/** Bytes a process has read through read() and pread() so far (/proc/PID/io `rchar`); NaN off Linux. */
function bytesRead(pid: number | undefined): number {
  try {
    const match = /^rchar:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return match?.[1] === undefined ? Number.NaN : Number(match[1]);
  } catch {
    return Number.NaN;
  }
}

/**
 * Bytes the server reads per request of the file (rchar over `requests` requests one after the other,
 * the request's own bytes off the socket included): about the file's size when it reads the file from disk
 * each time, a few hundred bytes when it keeps it in memory.
 */
export async function bytesReadPerRequest(
  server: BenchServer,
  headers: Record<string, string>,
  requests = 200,
): Promise<number> {
  const client = pool(server.origin, 1);
  try {
    const fetchOnce = async () => {
      const res = await client.request({ method: 'GET', path: ASSET_PATH, headers });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) throw new Error(`GET ${ASSET_PATH} answered ${res.statusCode}`);
    };
    // The connection opened and the route warm before counting.
    for (let i = 0; i < 20; i += 1) await fetchOnce();
    const before = bytesRead(server.child.pid);
    for (let i = 0; i < requests; i += 1) await fetchOnce();
    return (bytesRead(server.child.pid) - before) / requests;
  } finally {
    await client.close();
  }
}
