import { createServer } from 'node:http';

/**
 * The upstream the soak's producers poll: a loopback HTTP server in the engine's process that answers every
 * path with a small JSON reading of its own (a counter per path, a timestamp and a few values), as a plant's
 * API would, so that each poll publishes an event that differs from the last.
 */
export interface SoakUpstream {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly origin: string;
  /** The host entry for SWITCHBOARD_ENDPOINT_HOSTS. */
  readonly host: string;
  /** Requests answered so far. */
  requests(): number;
  close(): Promise<void>;
}

export async function startSoakUpstream(): Promise<SoakUpstream> {
  let count = 0;
  const counters = new Map<string, number>();
  const server = createServer((request, response) => {
    count += 1;
    request.resume();
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const n = (counters.get(path) ?? 0) + 1;
    counters.set(path, n);
    const body = JSON.stringify({
      source: path,
      n,
      at: new Date().toISOString(),
      readings: Array.from({ length: 8 }, (_, i) => Math.round(1000 * Math.sin(n / 10 + i)) / 10),
      state: n % 50 === 0 ? 'maintenance' : 'running',
    });
    response.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
  });
  // Producers keep their connections alive between polls.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
