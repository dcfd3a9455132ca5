/** The Switchboard bench/replay measures: started by bench/replay/server.mjs, with accounts and a publisher. */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { accountsEnv, setUpAccounts } from '../lib/accounts.js';
import { expectJson } from '../lib/http.js';
import { type BenchServer, type Runtime, startSession } from '../lib/server.js';
import { seqOf } from './protocol.js';

/** The stream every client follows. */
export const CHANNEL = 'bench.replay';
/** Viewers whose bearer tokens the clients take in turn (each holds one session). */
export const VIEWERS = 10;
export const REDIS_URL = 'redis://127.0.0.1:6379';

export type Bus = 'memory' | 'redis';
/** Which connection lock the SQLite driver has: src/storage/sqlite-fifo.ts, or Kysely's own. */
export type Lock = 'fifo' | 'kysely';

export interface Target {
  server: BenchServer;
  tokens: string[];
  /** Publishes one event and returns its id. */
  publish(data: unknown): Promise<string>;
  stop(): Promise<void>;
}

/** Whether a Redis answers PING at REDIS_URL within a second. */
export function redisReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(6379, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

/** Deletes what a run left in Redis (sequence counters and snapshots do not expire). */
async function removeKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function startTarget(runtime: Runtime, bus: Bus, lock: Lock, history: number): Promise<Target> {
  const env: Record<string, string> = {
    ...accountsEnv(['streams.publish=off']),
    SWITCHBOARD_WS_CONNECTIONS_PER_USER: '10000',
    SWITCHBOARD_SSE_CONNECTIONS_PER_USER: '10000',
    SWITCHBOARD_STREAM_HISTORY_SIZE: String(history),
    BENCH_REPLAY_STREAM: CHANNEL,
    BENCH_REPLAY_HISTORY: String(history),
    BENCH_SQLITE_LOCK: lock,
  };
  const keyPrefix = `bench-replay-${randomBytes(6).toString('hex')}:`;
  if (bus === 'redis') {
    env.SWITCHBOARD_REDIS_URL = REDIS_URL;
    // Keys of their own per run, so that no earlier run's history is replayed.
    env.SWITCHBOARD_REDIS_KEY_PREFIX = keyPrefix;
  }
  return startSession(
    {
      runtime,
      args: [...(runtime === 'source' ? ['--import', 'tsx'] : []), 'bench/replay/server.mjs', runtime],
      build: runtime === 'dist',
      env,
      connections: 8,
      timeoutMs: 60_000,
    },
    async ({ client, close }) => {
      const accounts = await setUpAccounts(client);
      const tokens: string[] = [];
      for (let i = 0; i < VIEWERS; i += 1) {
        tokens.push(await accounts.signIn(await accounts.createUser(`bench-viewer-${i}`)));
      }
      const path = `/api/v1/streams/${encodeURIComponent(CHANNEL)}/publish`;
      return {
        tokens,
        async publish(data: unknown) {
          const res = await expectJson(client, 202, 'POST', path, {
            bearer: accounts.adminToken,
            json: data,
          });
          const id: unknown = res.body?.data?.id;
          if (typeof id !== 'string' || Number.isNaN(seqOf(id))) throw new Error(`publish answered id ${id}`);
          return id;
        },
        async stop() {
          await close();
          if (bus === 'redis') await removeKeys(keyPrefix);
        },
      };
    },
  );
}
