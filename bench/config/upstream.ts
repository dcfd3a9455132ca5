import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The upstream every endpoint of the bench document reaches: a loopback HTTP server in the bench process
 * that answers every request with a small JSON body and counts them. Activating a version with a thousand
 * streams then costs a thousand local answers instead of a thousand DNS lookups, and the count tells when
 * the producers' first polls are over and whether any poll fell into a measurement.
 */
export interface Upstream {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly origin: string;
  /** The host pattern for SWITCHBOARD_ENDPOINT_HOSTS. */
  readonly host: string;
  /** Requests answered so far. */
  requests(): number;
  /** Resolves once no request has come for `quietMs`, or after `timeoutMs`; with the count then. */
  settled(quietMs: number, timeoutMs: number): Promise<number>;
  close(): Promise<void>;
}

const ANSWER = JSON.stringify({ data: { state: 'ok', value: 1 } });

export async function startUpstream(): Promise<Upstream> {
  let count = 0;
  const server = createServer((request, response) => {
    count += 1;
    request.resume();
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': ANSWER.length });
    response.end(ANSWER);
  });
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
    async settled(quietMs, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let last = count;
      let quietSince = Date.now();
      while (Date.now() < deadline) {
        await sleep(100);
        if (count !== last) {
          last = count;
          quietSince = Date.now();
        } else if (Date.now() - quietSince >= quietMs) {
          break;
        }
      }
      return count;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
