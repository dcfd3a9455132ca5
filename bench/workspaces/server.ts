/**
 * The servers of bench/workspaces, each in a child process on 127.0.0.1: `switchboard serve` on a fresh
 * SQLite data directory, rate limiting off, seeded through the HTTP API (seed.ts) and checked (the reader's
 * `GET /api/v1/preferences` lists every shared workspace, `/auth/me` answers for the reader, an owner sees
 * nothing shared); and the floor, a bare Fastify server sending the bytes of that preferences body.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accountsEnv } from '../lib/accounts.js';
import { expectJson } from '../lib/http.js';
import {
  type BenchServer,
  type Runtime,
  type ServerSession,
  startServer,
  startSession,
} from '../lib/server.js';
import { OWNERS, READER, type Seeded, seed, WORKSPACES_PER_OWNER } from './seed.js';

/** What a read of the seeded server looks like: sizes of the answers the bench measures. */
export interface Probe {
  /** The body of the reader's GET /api/v1/preferences, and its ETag (for If-None-Match). */
  preferences: string;
  etag: string;
  /** Bytes of the body of the reader's GET /api/v1/preferences. */
  preferencesBytes: number;
  /** Bytes of the body of the reader's GET /api/v1/auth/me. */
  meBytes: number;
  libraryEntries: number;
  libraryOwners: number;
  /** Entries by access (`view`, `edit`). */
  byAccess: Record<string, number>;
}

export type WorkspacesServer = ServerSession & { seeded: Seeded; probe: Probe };

function serveArgs(runtime: Runtime, nodeArgs: readonly string[]): string[] {
  const entry = runtime === 'dist' ? ['dist/main.js', 'serve'] : ['--import', 'tsx', 'src/main.ts', 'serve'];
  return [...nodeArgs, ...entry];
}

/** Reads what the reader sees and checks it is what seed.ts shared. */
export async function probe(session: ServerSession, seeded: Seeded): Promise<Probe> {
  const bearer = seeded.reader.token;
  const raw = async (path: string) => {
    const res = await session.client.request({
      method: 'GET',
      path,
      headers: { accept: 'application/json', authorization: `Bearer ${bearer}` },
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
    return { text, etag: String(res.headers.etag ?? '') };
  };
  const { text: prefs, etag } = await raw('/api/v1/preferences');
  const { text: me } = await raw('/api/v1/auth/me');
  if (JSON.parse(me).data?.username !== READER) throw new Error(`GET /auth/me answered ${me.slice(0, 300)}`);
  const library: { owner: string; access: string }[] = JSON.parse(prefs).data.shared_workspace_library;
  const expected = OWNERS * WORKSPACES_PER_OWNER;
  if (library.length !== expected) {
    throw new Error(`the reader sees ${library.length} shared workspaces, not ${expected}`);
  }
  const owner = seeded.owners[0];
  const theirs = await expectJson(session.client, 200, 'GET', '/api/v1/preferences', {
    bearer: owner?.token,
  });
  if (theirs.body.data.shared_workspace_library.length !== 0) {
    throw new Error(`${owner?.username} sees workspaces shared with them; the writers should see none`);
  }
  const notModified = await session.client.request({
    method: 'GET',
    path: '/api/v1/preferences',
    headers: { accept: 'application/json', authorization: `Bearer ${bearer}`, 'if-none-match': etag },
  });
  await notModified.body.dump();
  if (notModified.statusCode !== 304) {
    throw new Error(
      `GET /preferences with If-None-Match ${etag} answered ${notModified.statusCode}, not 304`,
    );
  }
  const byAccess: Record<string, number> = {};
  for (const entry of library) byAccess[entry.access] = (byAccess[entry.access] ?? 0) + 1;
  return {
    preferences: prefs,
    etag,
    preferencesBytes: Buffer.byteLength(prefs),
    meBytes: Buffer.byteLength(me),
    libraryEntries: library.length,
    libraryOwners: new Set(library.map((e) => e.owner)).size,
    byAccess,
  };
}

/** Starts and seeds the server; `nodeArgs` go before the entry (such as --cpu-prof). */
export function startWorkspacesServer(
  runtime: Runtime,
  nodeArgs: readonly string[] = [],
): Promise<WorkspacesServer> {
  const env = { ...accountsEnv(), SWITCHBOARD_RATE_LIMITING: 'false' };
  return startSession(
    { runtime, env, connections: 4, args: serveArgs(runtime, nodeArgs), timeoutMs: 30_000 },
    async (session) => {
      const seeded = await seed(session.client);
      return { seeded, probe: await probe(session, seeded) };
    },
  );
}

/** The keys a same-document writer sets: one per connection. */
export const paneKey = (n: number) => `pane-${String(n).padStart(2, '0')}`;

/** How many of the keys `paneKey(0…connections−1)` the user's document holds now (none lost: all). */
export async function keysKept(session: ServerSession, token: string, connections: number): Promise<number> {
  const res = await expectJson(session.client, 200, 'GET', '/api/v1/preferences', { bearer: token });
  const data = res.body.data as Record<string, unknown>;
  return Array.from({ length: connections }, (_, n) => paneKey(n)).filter((k) => k in data).length;
}

/** A bare Fastify server whose GET / answers `body` (bare-body.mjs): the cost of sending those bytes. */
export async function startFloor(body: string): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-workspaces-body-'));
  const file = join(dir, 'body.json');
  writeFileSync(file, body);
  try {
    // The server reads the file before it listens: once it is ready, the file can go.
    return await startServer({
      runtime: 'dist',
      build: false,
      args: ['bench/workspaces/bare-body.mjs'],
      env: { BENCH_BODY_FILE: file },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
