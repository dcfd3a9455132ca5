import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import {
  type LiveState,
  Switchboard,
  type SwitchboardOptions,
  type WebSocketConstructor,
} from '../../packages/client/src/index.js';
import { ADMIN, Instance } from '../cluster/cluster-harness.js';
import { exampleFunctionsDir, minimalConfig } from '../endpoints/config-fixture.js';
import type { TestApp } from '../fixture.js';
import { until } from '../live-client.js';
import { freePort } from '../ports.js';

export { CuttableProxy } from './cuttable-proxy.js';

export { until };

/** Every frame the client's WebSockets received, in order, and the sockets (to cut them). */
export interface SocketLog {
  frames: Record<string, any>[];
  sent: Record<string, any>[];
  sockets: WebSocket[];
}

/** The `ws` WebSocket (Node 20 has none of its own), recording what passes through it. */
export function recordingWebSocket(log: SocketLog): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string) {
      super(url);
      log.sockets.push(this);
      this.addEventListener('message', (event) => {
        if (typeof event.data === 'string') log.frames.push(JSON.parse(event.data));
      });
    }
    override send(data: string): void {
      log.sent.push(JSON.parse(data));
      super.send(data);
    }
  } as unknown as WebSocketConstructor;
}

export const newLog = (): SocketLog => ({ frames: [], sent: [], sockets: [] });

/** Requests the client made, by method and path, to count refreshes and retries. */
export interface RequestLog {
  requests: { method: string; path: string; status: number }[];
}

export function countingFetch(log: RequestLog): (request: Request) => Promise<Response> {
  return async (request) => {
    const { method } = request;
    const path = new URL(request.url).pathname;
    const response = await fetch(request);
    log.requests.push({ method, path, status: response.status });
    return response;
  };
}

/** A client of `baseUrl` for Node: tokens by default, the `ws` WebSocket, quick reconnects. */
export function nodeClient(
  baseUrl: string,
  options: Partial<SwitchboardOptions> & { log?: SocketLog } = {},
): Switchboard {
  const { log, live, ...rest } = options;
  return new Switchboard({
    baseUrl,
    ...(!rest.apiKey && { auth: 'tokens' as const }),
    ...rest,
    live: {
      WebSocket: log ? recordingWebSocket(log) : (WebSocket as unknown as WebSocketConstructor),
      baseDelayMs: 50,
      maxDelayMs: 1000,
      ...live,
    },
  });
}

/** Every state the client's live connection went through. */
export function states(client: Switchboard): LiveState[] {
  const seen: LiveState[] = [client.live.state];
  client.live.on('state', (state) => seen.push(state));
  return seen;
}

export const waitForState = (client: Switchboard, state: LiveState, timeoutMs = 10_000) =>
  until(
    () => client.live.state === state,
    `the client to be ${state} (it is ${client.live.state})`,
    timeoutMs,
  );

/** Declares a stream on a test app that every signed-in user may follow. */
export function declare(t: TestApp, name: string, history?: { size?: number }): void {
  t.app.live.channels.declare({ name, access: { minRole: 'viewer' }, ...(history && { history }) });
}

/**
 * One Switchboard process (`switchboard serve` from the source, through tsx) on a SQLite data directory of its
 * own, with an admin from a password file and a stream `plant.feed` everyone may follow: killed with
 * SIGKILL and started again on the same port and data, as a crash and a restart.
 */
export class ServerProcess {
  instance!: Instance;
  adminToken = '';
  private dir = '';
  private functionsDir = '';

  static async start(env: Record<string, string> = {}): Promise<ServerProcess> {
    const server = new ServerProcess();
    await server.boot(env);
    return server;
  }

  get url(): string {
    return this.instance.url;
  }

  private async boot(env: Record<string, string>): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'switchboard-client-restart-'));
    const dataDir = join(this.dir, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    this.functionsDir = exampleFunctionsDir();
    writeFileSync(join(this.dir, 'admin-password'), ADMIN.password, { mode: 0o600 });
    const port = await freePort();
    this.instance = new Instance(
      'restarting',
      port,
      {
        HOST: '127.0.0.1',
        SWITCHBOARD_PUBLIC_URL: `http://127.0.0.1:${port}`,
        SWITCHBOARD_DATA_DIR: dataDir,
        SWITCHBOARD_DATABASE_URL: `sqlite:${join(dataDir, 'switchboard.db')}`,
        SWITCHBOARD_ADMIN_PASSWORD_FILE: join(this.dir, 'admin-password'),
        SWITCHBOARD_FUNCTIONS_DIR: this.functionsDir,
        SWITCHBOARD_LOG_LEVEL: 'warn',
        SWITCHBOARD_RATE_LIMITING: 'false',
        ...env,
      },
      join(this.dir, 'server.log'),
      'source',
    );
    await this.instance.start();
    const login = await fetch(`${this.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    this.adminToken = ((await login.json()) as { data: { access_token: string } }).data.access_token;
    // A stream of its own, read from its source once a day: the events are the ones the test publishes.
    const config = minimalConfig({
      streams: {
        'roster.now': { function: 'clock', interval: '1m' },
        'plant.feed': { function: 'clock', interval: '1d', history: { size: 5000 } },
      },
    });
    const saved = await this.call('POST', '/api/v1/config', { config, activate: true });
    if (saved.status !== 201) throw new Error(`the configuration was refused: ${JSON.stringify(saved.body)}`);
  }

  async call(method: string, path: string, json?: unknown): Promise<{ status: number; body: any }> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.adminToken}`,
        ...(json !== undefined && { 'content-type': 'application/json' }),
      },
      ...(json !== undefined && { body: JSON.stringify(json) }),
      signal: AbortSignal.timeout(5000),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  /** Publishes on `plant.feed`: the event's id, or undefined when the server did not acknowledge it. */
  async publish(data: unknown): Promise<string | undefined> {
    try {
      const answer = await this.call('POST', '/api/v1/streams/plant.feed/publish', data);
      return answer.status === 202 ? (answer.body.data.id as string) : undefined;
    } catch {
      return undefined;
    }
  }

  kill(): Promise<void> {
    return this.instance.kill();
  }

  restart(): Promise<void> {
    return this.instance.start();
  }

  async stop(): Promise<void> {
    await this.instance?.stop();
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(this.functionsDir, { recursive: true, force: true });
  }
}
