/**
 * The four servers bench/fanout compares, each started in a child process of its own on 127.0.0.1 (through
 * bench/lib/server.ts, which kills it whatever happens to the bench), with what it takes to publish to it.
 */
import type { Pool } from 'undici';
import { accountsEnv, setUpAccounts } from '../lib/accounts.js';
import { expectJson } from '../lib/http.js';
import { type BenchServer, type Runtime, startSession } from '../lib/server.js';
import type { ClientKind } from './protocol.js';

export const SERVER_IDS = ['ws', 'socketio', 'switchboard-ws', 'switchboard-sse'] as const;
export type ServerId = (typeof SERVER_IDS)[number];

export const SERVER_LABELS: Record<ServerId, string> = {
  ws: 'bare ws',
  socketio: 'Socket.IO',
  'switchboard-ws': 'Switchboard WS',
  'switchboard-sse': 'Switchboard SSE',
};

/** The channel (Switchboard stream, Socket.IO room) every subscriber follows. */
export const CHANNEL = 'bench.fanout';

export interface Target {
  id: ServerId;
  server: BenchServer;
  kind: ClientKind;
  /** Bearer token of the subscribers (Switchboard). */
  token?: string;
  /** POST one event: true when it was accepted (202); anything else rejects, saying what came back. */
  publish(payload: unknown): Promise<boolean>;
  /** Closes the publishing connections and stops the server. */
  stop(): Promise<void>;
}

/**
 * For every server (glibc): blocks of 128 KiB and more are mapped and unmapped on their own, and free memory at
 * the top of the heap is handed back at once. Memory freed before a reading (the password hashes of
 * Switchboard's set-up take tens of MiB, on other threads) then leaves the RSS before it is read, instead of
 * whenever the allocator gets round to it, so the RSS difference counts connections, not the allocator's
 * leftovers. Other C libraries ignore these variables.
 */
const ALLOCATOR_ENV = { MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' };

/** Switchboard's environment for the bench: caps above the subscriber count, limits that never refuse. */
export function switchboardEnv(): Record<string, string> {
  return {
    ...accountsEnv(['streams.publish=off']),
    SWITCHBOARD_WS_CONNECTIONS_PER_USER: '10000',
    SWITCHBOARD_SSE_CONNECTIONS_PER_USER: '10000',
    SWITCHBOARD_MAX_SESSIONS_PER_USER: '1000',
    BENCH_FANOUT_STREAM: CHANNEL,
  };
}

const publisher = (client: Pool, path: string, bearer?: string) => async (payload: unknown) => {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const res = await client.request({ method: 'POST', path, headers, body: JSON.stringify(payload) });
  const text = await res.body.text();
  if (res.statusCode !== 202) throw new Error(`POST ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
  return true;
};

/**
 * Starts `id` and readies it: for Switchboard, the first admin (who publishes) and a viewer (whose access
 * token every subscriber presents). Every server runs with --expose-gc so that the bench can have it collect
 * garbage (SIGUSR2) before reading its memory.
 */
export async function startTarget(id: ServerId, runtime: Runtime): Promise<Target> {
  const switchboard = id === 'switchboard-ws' || id === 'switchboard-sse';
  const script = switchboard
    ? 'bench/fanout/switchboard-server.mjs'
    : id === 'ws'
      ? 'bench/fanout/bare-ws-server.mjs'
      : 'bench/fanout/socketio-server.mjs';
  const args = [
    '--expose-gc',
    ...(switchboard && runtime === 'source' ? ['--import', 'tsx'] : []),
    script,
    ...(switchboard ? [runtime] : []),
  ];
  return startSession(
    {
      runtime,
      args,
      build: switchboard && runtime === 'dist',
      env: { ...ALLOCATOR_ENV, ...(switchboard ? switchboardEnv() : {}) },
      connections: 4,
    },
    async ({ client, close }) => {
      if (!switchboard) {
        return {
          id,
          kind: id,
          publish: publisher(client, id === 'ws' ? '/publish' : `/publish/${CHANNEL}`),
          stop: close,
        };
      }
      const accounts = await setUpAccounts(client);
      const token = await accounts.signIn(await accounts.createUser('bench-subscriber'));
      // The stream is there and the viewer may follow it.
      const streams = await expectJson(client, 200, 'GET', '/api/v1/streams', { bearer: token });
      const names = (streams.body.data as { name: string }[]).map((s) => s.name);
      if (!names.includes(CHANNEL)) {
        throw new Error(`GET /api/v1/streams does not list ${CHANNEL}: ${JSON.stringify(names)}`);
      }
      return {
        id,
        kind: id,
        token,
        publish: publisher(client, `/api/v1/streams/${CHANNEL}/publish`, accounts.adminToken),
        stop: close,
      };
    },
  );
}
