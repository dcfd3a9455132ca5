/**
 * The servers of bench/hotpath, each in its own process on 127.0.0.1: the bare Fastify baseline, and
 * Switchboard on a fresh SQLite data directory with rate limiting off or on (memory store), readied with a
 * viewer whose `GET /api/v1/auth/me` is measured with each credential a client can present.
 */
import { accountsEnv, setUpAccounts } from '../lib/accounts.js';
import { expectJson } from '../lib/http.js';
import { type Runtime, type ServerSession, startServer, startSession } from '../lib/server.js';

const BARE_ENTRY = 'bench/hotpath/bare-fastify.mjs';

/** Rate limiting off, or on with the in-memory store (tiers that never refuse: every request takes the chain). */
export type Limits = 'off' | 'memory';

/** The request headers of each way to present a credential to `GET /api/v1/auth/me`. */
export interface Credentials {
  bearer: Record<string, string>;
  apiKey: Record<string, string>;
  cookie: Record<string, string>;
}

export type SwitchboardServer = ServerSession & { credentials: Credentials };

export function startBareFastify() {
  return startServer({ runtime: 'dist', build: false, args: [BARE_ENTRY] });
}

/** Node arguments of `switchboard serve`, after `nodeArgs` (such as --cpu-prof). */
function serveArgs(runtime: Runtime, nodeArgs: readonly string[]): string[] {
  const entry = runtime === 'dist' ? ['dist/main.js', 'serve'] : ['--import', 'tsx', 'src/main.ts', 'serve'];
  return [...nodeArgs, ...entry];
}

export function startSwitchboard(
  runtime: Runtime,
  limits: Limits,
  nodeArgs: readonly string[] = [],
): Promise<SwitchboardServer> {
  const env = accountsEnv();
  if (limits === 'off') env.SWITCHBOARD_RATE_LIMITING = 'false';
  return startSession(
    { runtime, env, connections: 2, args: serveArgs(runtime, nodeArgs) },
    async ({ client }) => {
      const { createUser, signIn } = await setUpAccounts(client);
      const viewer = await createUser('bench-me');
      const bearerToken = await signIn(viewer);
      const cookieToken = await signIn(viewer);
      const created = await expectJson(client, 201, 'POST', '/api/v1/auth/api-keys', {
        bearer: bearerToken,
        json: { name: 'bench-hotpath', role: 'viewer' },
      });
      const credentials: Credentials = {
        bearer: { authorization: `Bearer ${bearerToken}` },
        apiKey: { authorization: `Bearer ${String(created.body.data.key)}` },
        cookie: { cookie: `session=${cookieToken}` },
      };
      // Each credential reads the viewer, and the limiter is on exactly when the configuration says so.
      for (const [name, headers] of Object.entries(credentials)) {
        const res = await expectJson(client, 200, 'GET', '/api/v1/auth/me', { headers });
        if (res.body?.data?.username !== 'bench-me') {
          throw new Error(`GET /auth/me with the ${name} answered ${JSON.stringify(res.body).slice(0, 300)}`);
        }
      }
      const probe = await client.request({
        method: 'GET',
        path: '/api/v1/auth/me',
        headers: { accept: 'application/json', ...credentials.bearer },
      });
      await probe.body.dump();
      const limited = probe.headers['ratelimit-limit'] !== undefined;
      if (limited !== (limits === 'memory')) {
        throw new Error(`rate limiting ${limits}: RateLimit-Limit header ${limited ? 'present' : 'missing'}`);
      }
      return { credentials };
    },
  );
}
