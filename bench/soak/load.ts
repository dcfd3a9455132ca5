/**
 * The HTTP side of the soak: sign-ins (login, `/auth/me` with the new token, logout), reads (`/auth/me`,
 * preferences, their summary, the lists of streams and workspaces, and the admin's lists of users,
 * configuration versions and audit events), merge patches of preferences, and an activation of a new
 * configuration version every so often. Every request is checked against the status it must answer, and
 * every other answer (or a request that fails outright) is counted, with a few samples of what came.
 */
import { performance } from 'node:perf_hooks';
import type { Pool } from 'undici';

export type Method = 'GET' | 'POST' | 'PATCH';

/** Requests of one kind: how many went out, how many answered as they must, their latencies (ms). */
export interface RouteTally {
  sent: number;
  ok: number;
  failed: number;
  latencies: number[];
}

const MAX_FAILURE_SAMPLES = 20;

/** Every request the soak makes over HTTP, tallied by the name of what it asks. */
export class Requests {
  readonly routes = new Map<string, RouteTally>();
  readonly failureSamples: string[] = [];
  readonly failuresByReason = new Map<string, number>();

  constructor(private readonly pool: Pool) {}

  /**
   * One request, answered with `expected` or counted as failed (with the reason). Resolves to the parsed
   * body of an expected answer, or undefined.
   */
  async call(
    name: string,
    expected: number,
    method: Method,
    path: string,
    options: { bearer?: string; json?: unknown; contentType?: string } = {},
  ): Promise<any> {
    const tally = this.tallyOf(name);
    tally.sent += 1;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
    if (options.json !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const start = performance.now();
    try {
      const res = await this.pool.request({
        method,
        path,
        headers,
        body: options.json === undefined ? undefined : JSON.stringify(options.json),
      });
      const text = await res.body.text();
      tally.latencies.push(performance.now() - start);
      if (res.statusCode !== expected) {
        this.fail(
          tally,
          name,
          `${res.statusCode}`,
          `${method} ${path}: ${res.statusCode} ${text.slice(0, 200)}`,
        );
        return undefined;
      }
      tally.ok += 1;
      return text ? JSON.parse(text) : null;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.fail(tally, name, (error as { code?: string }).code ?? 'error', `${method} ${path}: ${message}`);
      return undefined;
    }
  }

  get failed(): number {
    let failed = 0;
    for (const tally of this.routes.values()) failed += tally.failed;
    return failed;
  }

  get sent(): number {
    let sent = 0;
    for (const tally of this.routes.values()) sent += tally.sent;
    return sent;
  }

  private tallyOf(name: string): RouteTally {
    let tally = this.routes.get(name);
    if (!tally) {
      tally = { sent: 0, ok: 0, failed: 0, latencies: [] };
      this.routes.set(name, tally);
    }
    return tally;
  }

  private fail(tally: RouteTally, name: string, reason: string, sample: string): void {
    tally.failed += 1;
    const key = `${name}: ${reason}`;
    this.failuresByReason.set(key, (this.failuresByReason.get(key) ?? 0) + 1);
    if (this.failureSamples.length < MAX_FAILURE_SAMPLES) this.failureSamples.push(sample);
  }
}

/** A user of the soak: credentials, a bearer token, and the id behind its `user:{id}` channel. */
export interface SoakUser {
  username: string;
  password: string;
  token: string;
  id: string;
  role: 'viewer' | 'editor' | 'admin';
}

const READS: readonly { name: string; path: string; admin?: boolean }[] = [
  { name: 'GET /auth/me', path: '/api/v1/auth/me' },
  { name: 'GET /preferences', path: '/api/v1/preferences' },
  { name: 'GET /preferences/summary', path: '/api/v1/preferences/summary' },
  { name: 'GET /streams', path: '/api/v1/streams' },
  { name: 'GET /workspaces', path: '/api/v1/workspaces' },
  { name: 'GET /auth/me', path: '/api/v1/auth/me' },
  { name: 'GET /preferences', path: '/api/v1/preferences' },
  { name: 'GET /users (admin)', path: '/api/v1/users?limit=50', admin: true },
  { name: 'GET /config/versions (admin)', path: '/api/v1/config/versions', admin: true },
  { name: 'GET /audit (admin)', path: '/api/v1/audit?limit=50', admin: true },
];

/** The i-th read: a route in turn, as a user in turn (the admin for the admin's lists). */
export function read(requests: Requests, i: number, users: readonly SoakUser[], adminToken: string) {
  const route = READS[i % READS.length] as (typeof READS)[number];
  const user = users[Math.floor(i / READS.length) % users.length] as SoakUser;
  return requests.call(route.name, 200, 'GET', route.path, { bearer: route.admin ? adminToken : user.token });
}

const THEMES = ['dark', 'light', 'high-contrast'] as const;
const RANGES = ['15m', '1h', '6h', '24h'] as const;

/**
 * The i-th preferences patch (a merge patch): a user in turn changes their theme and time range, and an
 * editor (every other user) a few of their panels too; viewers may change only the former.
 */
export async function patch(requests: Requests, i: number, users: readonly SoakUser[]): Promise<boolean> {
  const index = i % users.length;
  const user = users[index] as SoakUser;
  const body: Record<string, unknown> = {
    theme: THEMES[i % THEMES.length],
    timeRange: { last: RANGES[i % RANGES.length], refresh: '10s' },
  };
  if (user.role === 'editor') {
    body.soak = { n: i, at: new Date().toISOString() };
    body.panels = { [`panel-${i % 7}`]: { collapsed: i % 2 === 0, height: 200 + (i % 5) * 40 } };
  }
  const answer = await requests.call(
    `PATCH /preferences (${user.role})`,
    200,
    'PATCH',
    '/api/v1/preferences',
    {
      bearer: user.token,
      json: body,
      contentType: 'application/merge-patch+json',
    },
  );
  return answer !== undefined;
}

/** The i-th sign-in: a login user in turn signs in, reads who they are with the new token, and signs out. */
export async function signIn(
  requests: Requests,
  i: number,
  users: readonly { username: string; password: string }[],
): Promise<boolean> {
  const user = users[i % users.length] as { username: string; password: string };
  const login = await requests.call('POST /auth/login', 200, 'POST', '/api/v1/auth/login', {
    json: { username: user.username, password: user.password },
  });
  const token: unknown = login?.data?.access_token;
  if (typeof token !== 'string') return false;
  const me = await requests.call('GET /auth/me (new session)', 200, 'GET', '/api/v1/auth/me', {
    bearer: token,
  });
  const out = await requests.call('POST /auth/logout', 204, 'POST', '/api/v1/auth/logout', { bearer: token });
  return me !== undefined && out !== undefined;
}
