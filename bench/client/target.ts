/**
 * The Switchboard bench/client measures: the launcher of bench/replay (one declared stream open to viewers,
 * a history of its own size), rate limiting off, one viewer for the client and the first admin to publish.
 */
import { accountsEnv, type Credentials, setUpAccounts } from '../lib/accounts.js';
import { expectJson } from '../lib/http.js';
import { type Runtime, type ServerSession, startSession } from '../lib/server.js';
import { seqOf } from '../replay/protocol.js';

export const CHANNEL = 'bench.client';

export interface ClientTarget extends ServerSession {
  viewer: Credentials;
  /** Publishes one event and returns its id. */
  publish(data: unknown): Promise<string>;
  /** Publishes `n` events, eight in flight, and returns the id of the last the server took. */
  publishMany(n: number): Promise<string>;
}

export async function startClientTarget(runtime: Runtime, history: number): Promise<ClientTarget> {
  return startSession(
    {
      runtime,
      args: [...(runtime === 'source' ? ['--import', 'tsx'] : []), 'bench/replay/server.mjs', runtime],
      build: runtime === 'dist',
      env: {
        ...accountsEnv(['streams.publish=off']),
        SWITCHBOARD_RATE_LIMITING: 'false',
        SWITCHBOARD_STREAM_HISTORY_SIZE: String(history),
        BENCH_REPLAY_STREAM: CHANNEL,
        BENCH_REPLAY_HISTORY: String(history),
      },
      connections: 8,
      timeoutMs: 60_000,
    },
    async ({ client }) => {
      const accounts = await setUpAccounts(client);
      const viewer = await accounts.createUser('bench-client-viewer');
      const path = `/api/v1/streams/${encodeURIComponent(CHANNEL)}/publish`;
      const publish = async (data: unknown) => {
        const res = await expectJson(client, 202, 'POST', path, { bearer: accounts.adminToken, json: data });
        const id: unknown = res.body?.data?.id;
        if (typeof id !== 'string' || Number.isNaN(seqOf(id))) throw new Error(`publish answered id ${id}`);
        return id;
      };
      return {
        viewer,
        publish,
        async publishMany(n: number) {
          let last = '';
          // Ids are given in the order the server takes them, whatever the order of the answers.
          for (let i = 0; i < n; i += 8) {
            const batch = Array.from({ length: Math.min(8, n - i) }, (_, k) => publish({ n: i + k }));
            for (const id of await Promise.all(batch)) if (last === '' || seqOf(id) > seqOf(last)) last = id;
          }
          return last;
        },
      };
    },
  );
}
