/**
 * Crafted drafts for bench/config: bodies of POST /config/diff made to cost the server as much as a body of
 * their size can, each around the bench's base document. While one is in flight, /healthz is asked again
 * and again on a connection of its own: how long it waits is how long the draft holds the event loop.
 * Before the fix of issue 12, 200 KB of `${` held every request of the server for 41 s.
 */
import { performance } from 'node:perf_hooks';
import type { Pool } from 'undici';
import type { EndpointConfig } from '../../src/endpoints/schema.js';

export const CRAFTED_KINDS = ['secrets', 'string', 'vars', 'keys', 'deep', 'values'] as const;
export type CraftedKind = (typeof CRAFTED_KINDS)[number];

export const CRAFTED_LABELS: Record<CraftedKind, string> = {
  secrets: 'secret variables, each 64 KB of `${`',
  string: 'one string of `${` in an endpoint body',
  vars: 'variables (names of 12, values of 20 characters)',
  keys: 'top-level keys the schema does not know',
  deep: 'an endpoint body of nested objects `{"a":{"a":…`',
  values: 'an endpoint body of numbers `[0,0,0,…`',
};

export interface CraftedDraft {
  kind: CraftedKind;
  /** The size asked for; the body is within a few hundred bytes of it. */
  size: number;
  body: Buffer;
}

/** The base document as compact JSON with `members` (JSON text) added to `section`, or at the top. */
function withMembers(
  base: EndpointConfig,
  section: 'vars' | 'endpoints' | undefined,
  members: string,
): string {
  const { [section ?? 'vars']: sectionValue, ...rest } = base as Record<string, unknown>;
  const others = JSON.stringify(section ? rest : base).slice(0, -1);
  if (!section) return `${others},${members}}`;
  const own = JSON.stringify(sectionValue ?? {}).slice(0, -1);
  return `${others},"${section}":${own}${own === '{' ? '' : ','}${members}}}`;
}

/** As many `item(i)` as fit in `room` bytes, joined by commas. */
function fill(room: number, item: (i: number) => string): string {
  const parts: string[] = [];
  let used = 0;
  for (let i = 0; ; i += 1) {
    const next = item(i);
    if (used + next.length + 1 > room) break;
    parts.push(next);
    used += next.length + 1;
  }
  return parts.join(',');
}

const CRAFTED_ENDPOINT = (body: string) =>
  `"crafted":{"url":"http://127.0.0.1/crafted","method":"POST","body":${body}}`;

/** One crafted body of about `size` bytes: `{"config": …}` around the base document. */
export function craftedDraft(kind: CraftedKind, size: number, base: EndpointConfig): CraftedDraft {
  const baseBytes = JSON.stringify(base).length + 200;
  const room = Math.max(1000, size - baseBytes);
  let config: string;
  switch (kind) {
    case 'secrets': {
      const value = JSON.stringify({ value: '${'.repeat(32_768), secret: true });
      config = withMembers(
        base,
        'vars',
        fill(room, (i) => `"crafted_${i}":${value}`),
      );
      break;
    }
    case 'string':
      config = withMembers(base, 'endpoints', CRAFTED_ENDPOINT(`"${'${'.repeat(Math.floor(room / 2))}"`));
      break;
    case 'vars':
      config = withMembers(
        base,
        'vars',
        fill(room, (i) => `"v_${String(i).padStart(10, '0')}":"${String(i).padStart(20, '0')}"`),
      );
      break;
    case 'keys':
      config = withMembers(
        base,
        undefined,
        fill(room, (i) => `"k${i}":0`),
      );
      break;
    case 'deep': {
      const levels = Math.floor(room / 6);
      config = withMembers(
        base,
        'endpoints',
        CRAFTED_ENDPOINT(`${'{"a":'.repeat(levels)}0${'}'.repeat(levels)}`),
      );
      break;
    }
    case 'values':
      config = withMembers(base, 'endpoints', CRAFTED_ENDPOINT(`[${fill(room, () => '0')}]`));
      break;
  }
  return { kind, size, body: Buffer.from(`{"config":${config}}`) };
}

export interface InFlight {
  status: number;
  /** error_code of a problem answer. */
  code: number | undefined;
  /** From sending the draft to the end of its answer. */
  ms: number;
  answerBytes: number;
  /** Latencies of the /healthz requests sent while the draft was in flight. */
  health: number[];
}

/**
 * Sends the draft on `drafts` and, until its answer has arrived, /healthz after /healthz on `probes`
 * (closed loop, one at a time). Probes started while the draft was in flight count, whenever they end.
 */
export async function draftInFlight(
  drafts: Pool,
  probes: Pool,
  token: string,
  body: Buffer,
): Promise<InFlight> {
  let inFlight = true;
  const health: number[] = [];
  const probing = (async () => {
    while (inFlight) {
      const start = performance.now();
      const res = await probes.request({ method: 'GET', path: '/healthz' });
      await res.body.arrayBuffer();
      health.push(performance.now() - start);
    }
  })();
  const start = performance.now();
  const res = await drafts.request({
    method: 'POST',
    path: '/api/v1/config/diff',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json',
    },
    body,
  });
  const answer = Buffer.from(await res.body.arrayBuffer());
  const ms = performance.now() - start;
  inFlight = false;
  await probing;
  let code: number | undefined;
  if (res.statusCode >= 400) {
    code = (JSON.parse(answer.toString('utf8')) as { error_detail?: { error_code?: number } }).error_detail
      ?.error_code;
  }
  return { status: res.statusCode, code, ms, answerBytes: answer.length, health };
}

/** /healthz latencies with nothing else asked of the server, over `durationMs`. */
export async function idleHealth(probes: Pool, durationMs: number): Promise<number[]> {
  const health: number[] = [];
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    const start = performance.now();
    const res = await probes.request({ method: 'GET', path: '/healthz' });
    await res.body.arrayBuffer();
    health.push(performance.now() - start);
  }
  return health;
}
