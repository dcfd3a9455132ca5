import { expect } from 'vitest';
import { WebSocket } from 'ws';
import { Client } from '../client.js';
import { LiveSocket, openRawStream } from '../live-client.js';
import { ADMIN, type Cluster } from './cluster-harness.js';

export const STREAM = 'plant.flow';
const PASSWORD = 'cluster-viewer-Password-42';

export interface Person {
  username: string;
  client: Client;
  token: string;
}

/** What the cluster suites do as people, always through nginx: sign in, follow channels, publish. */
export class ClusterPeople {
  admin!: Person;

  constructor(private readonly cluster: Cluster) {}

  async start(): Promise<this> {
    this.admin = await this.signIn(ADMIN.username, ADMIN.password);
    return this;
  }

  async signIn(username: string, password: string): Promise<Person> {
    const client = new Client(this.cluster.url, this.cluster.url);
    const res = await client.call('/api/v1/auth/login', { json: { username, password } });
    if (res.status !== 200)
      throw new Error(`sign-in of ${username}: ${res.status} ${JSON.stringify(res.body)}`);
    return { username, client, token: res.body.data.access_token };
  }

  /** A new viewer, signed in. */
  async viewer(username: string): Promise<Person> {
    const made = await this.admin.client.call('/api/v1/users', {
      json: { username, password: PASSWORD, role: 'viewer', must_change_password: false },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    return this.signIn(username, PASSWORD);
  }

  async socket(who: Person): Promise<LiveSocket> {
    const ws = new LiveSocket(
      new WebSocket(`${this.cluster.url.replace('http', 'ws')}/api/v1/ws`, {
        headers: { authorization: `Bearer ${who.token}` },
      }),
    );
    await ws.opened;
    return ws;
  }

  sse(who: Person, path = `/api/v1/streams/${STREAM}/events`, headers: Record<string, string> = {}) {
    return openRawStream(this.cluster.url, path, { authorization: `Bearer ${who.token}`, ...headers });
  }

  async publish(data: unknown, stream = STREAM): Promise<string> {
    const res = await this.admin.client.call(`/api/v1/streams/${stream}/publish`, { json: data });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.data.id as string;
  }

  /** Saves and activates a configuration through nginx. */
  async activate(config: unknown, message: string): Promise<void> {
    const saved = await this.admin.client.call('/api/v1/config', { json: { config, message } });
    expect(saved.status, JSON.stringify(saved.body)).toBe(201);
  }

  /** Waits until every instance lists `stream` (an activation reaches the others through Redis); the names of those still without it. */
  async liveEverywhere(stream: string, withinMs: number): Promise<string[]> {
    const started = performance.now();
    const pending = new Set(this.cluster.instances);
    while (pending.size > 0 && performance.now() - started < withinMs) {
      for (const instance of [...pending]) {
        const res = await fetch(`${instance.url}/api/v1/streams`, {
          headers: { authorization: `Bearer ${this.admin.token}` },
        });
        const body = (await res.json()) as { data: { name: string }[] };
        if (body.data.some((listed) => listed.name === stream)) pending.delete(instance);
      }
    }
    return [...pending].map((instance) => instance.name);
  }
}

/** A configuration with the suites' stream (read once an hour: the events they count are the ones they publish). */
export function clusterConfig(extra: Record<string, unknown> = {}, endpoints?: Record<string, unknown>) {
  return {
    ...(endpoints ? { endpoints } : {}),
    functions: { clock: { module: 'shift-roster.mjs', args: { timezone: 'UTC', shift_hours: 8 } } },
    streams: { [STREAM]: { function: 'clock', interval: '1h', history: { size: 1000 } }, ...extra },
  };
}
