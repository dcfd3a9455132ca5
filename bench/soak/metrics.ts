/**
 * What the soak reads of the server itself: the Prometheus text at GET /metrics (prom-client's default
 * metrics, on when SWITCHBOARD_METRICS_TOKEN is set; bench/lib/http.ts METRICS_ENV sets it) and, beside it,
 * /proc for the resident memory and CPU time of the process.
 */
import type { Pool } from 'undici';
import { METRICS_ENV } from '../lib/http.js';

/** One scrape of the server's own figures. */
export interface ServerFigures {
  heapUsedBytes: number;
  heapTotalBytes: number;
  /** Old generation in use: the heap without the young generation's churn. */
  oldSpaceUsedBytes: number;
  /** Memory of C++ objects bound to JavaScript ones, array buffers included. */
  externalBytes: number;
  /** process_resident_memory_bytes, as the process itself reads it. */
  residentBytes: number;
  activeHandles: number;
  activeRequests: number;
  openFds: number;
  /** Event-loop delay since the previous scrape (prom-client resets its histogram on each), ms. */
  loopP99Ms: number;
  loopMaxMs: number;
  /** Garbage collections so far, by kind. */
  minorGcs: number;
  majorGcs: number;
}

/** Every sample line `name{labels} value` of a Prometheus text exposition, by name and label text. */
export function parseExposition(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    if (space === -1) continue;
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

const figure = (values: Map<string, number>, key: string) => values.get(key) ?? Number.NaN;

/** One scrape of GET /metrics; throws when the server does not answer 200. */
export async function scrapeServer(client: Pool): Promise<ServerFigures> {
  const res = await client.request({
    method: 'GET',
    path: '/metrics',
    headers: { authorization: `Bearer ${METRICS_ENV.SWITCHBOARD_METRICS_TOKEN}` },
  });
  const text = await res.body.text();
  if (res.statusCode !== 200)
    throw new Error(`GET /metrics answered ${res.statusCode}: ${text.slice(0, 200)}`);
  const values = parseExposition(text);
  return {
    heapUsedBytes: figure(values, 'nodejs_heap_size_used_bytes'),
    heapTotalBytes: figure(values, 'nodejs_heap_size_total_bytes'),
    oldSpaceUsedBytes: figure(values, 'nodejs_heap_space_size_used_bytes{space="old"}'),
    externalBytes: figure(values, 'nodejs_external_memory_bytes'),
    residentBytes: figure(values, 'process_resident_memory_bytes'),
    activeHandles: figure(values, 'nodejs_active_handles_total'),
    activeRequests: figure(values, 'nodejs_active_requests_total'),
    openFds: figure(values, 'process_open_fds'),
    loopP99Ms: figure(values, 'nodejs_eventloop_lag_p99_seconds') * 1000,
    loopMaxMs: figure(values, 'nodejs_eventloop_lag_max_seconds') * 1000,
    minorGcs: values.get('nodejs_gc_duration_seconds_count{kind="minor"}') ?? 0,
    majorGcs: values.get('nodejs_gc_duration_seconds_count{kind="major"}') ?? 0,
  };
}
