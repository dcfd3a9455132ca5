import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';

/** A keep-alive connection pool to the server under test; requests that hang fail after `timeoutMs`. */
export function pool(origin: string, connections: number, timeoutMs = 10_000): Pool {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
}

export interface JsonAnswer {
  status: number;
  body: any;
}

/** A JSON call for setting a benchmark up (not for measuring). */
export async function callJson(
  client: Pool,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  options: { json?: unknown; bearer?: string; headers?: Record<string, string> } = {},
): Promise<JsonAnswer> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
  const res = await client.request({
    method,
    path,
    headers,
    body: options.json === undefined ? undefined : JSON.stringify(options.json),
  });
  const text = await res.body.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: keep the text for the error message.
  }
  return { status: res.statusCode, body };
}

/** Like callJson, but anything but `expected` is an error naming the call and the answer. */
export async function expectJson(
  client: Pool,
  expected: number,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  options: { json?: unknown; bearer?: string; headers?: Record<string, string> } = {},
): Promise<JsonAnswer> {
  const answer = await callJson(client, method, path, options);
  if (answer.status !== expected) {
    throw new Error(
      `${method} ${path}: expected ${expected}, got ${answer.status}: ${JSON.stringify(answer.body).slice(0, 500)}`,
    );
  }
  return answer;
}

const METRICS_TOKEN = `bench-metrics-${randomBytes(12).toString('hex')}`;

/** Spread into a server's environment to have GET /metrics answer scrapeEventLoopDelay. */
export const METRICS_ENV = { SWITCHBOARD_METRICS_TOKEN: METRICS_TOKEN };

/**
 * The server's event-loop delay (p99 and max, milliseconds) since the previous scrape, from the
 * prom-client default metrics at GET /metrics (each scrape resets that histogram). Undefined when the
 * metrics are off (the server was started without METRICS_ENV) or the figures are missing.
 */
export async function scrapeEventLoopDelay(client: Pool): Promise<{ p99: number; max: number } | undefined> {
  const res = await client.request({
    method: 'GET',
    path: '/metrics',
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) return undefined;
  const gauge = (name: string) => {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    return match?.[1] === undefined ? Number.NaN : Number(match[1]) * 1000;
  };
  const p99 = gauge('nodejs_eventloop_lag_p99_seconds');
  const max = gauge('nodejs_eventloop_lag_max_seconds');
  return Number.isNaN(p99) ? undefined : { p99, max };
}
