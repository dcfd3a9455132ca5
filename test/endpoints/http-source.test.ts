import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  fetchEndpoint,
  type ResolvedEndpoint,
  UpstreamError,
} from '../../src/endpoints/producers/http-source.js';

const SECRET = 'sekrit-7f3a9c2e';

interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface Upstream {
  base: string;
  host: string;
  seen: SeenRequest[];
}

const servers: Server[] = [];

/** Every test server, named with its port: an allow-list entry without a port allows 80 and 443 only. */
const LOOPBACK: string[] = [];

afterEach(async () => {
  LOOPBACK.length = 0;
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A real HTTP server on a free loopback port that records every request it sees before answering. */
async function upstream(
  answer: (req: SeenRequest, res: ServerResponse, count: number) => void,
): Promise<Upstream> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(request);
      answer(request, res, seen.length);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  LOOPBACK.push(`127.0.0.1:${port}`);
  return { base: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, seen };
}

function endpoint(url: string, overrides: Partial<ResolvedEndpoint> = {}): ResolvedEndpoint {
  return {
    name: 'weather',
    url,
    method: 'GET',
    headers: {},
    query: {},
    timeoutMs: 2000,
    retries: 0,
    ...overrides,
  };
}

function json(res: ServerResponse, status: number, value: unknown, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type });
  res.end(JSON.stringify(value));
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(UpstreamError);
  return error as UpstreamError;
}

describe('fetchEndpoint', () => {
  it('parses a JSON body, and a +json one', async () => {
    const server = await upstream((req, res) =>
      req.path === '/problem'
        ? json(res, 200, { title: 'x' }, 'application/problem+json; charset=utf-8')
        : json(res, 200, { temperature: 21.5, tags: ['a'] }),
    );
    await expect(fetchEndpoint(endpoint(`${server.base}/now`), { allowedHosts: LOOPBACK })).resolves.toEqual({
      temperature: 21.5,
      tags: ['a'],
    });
    await expect(
      fetchEndpoint(endpoint(`${server.base}/problem`), { allowedHosts: LOOPBACK }),
    ).resolves.toEqual({
      title: 'x',
    });
  });

  it('gives the text of a body that is not JSON', async () => {
    const server = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('{"looks": "like json"} but is text: é');
    });
    await expect(fetchEndpoint(endpoint(server.base), { allowedHosts: LOOPBACK })).resolves.toBe(
      '{"looks": "like json"} but is text: é',
    );
  });

  it('adds the query to the URL and sends the headers', async () => {
    const server = await upstream((_req, res) => json(res, 200, null));
    await fetchEndpoint(
      endpoint(`${server.base}/v1/now?units=metric`, {
        query: { city: 'Zürich & Bern', key: SECRET },
        headers: { 'X-Api-Key': SECRET, Accept: 'application/vnd.test+json' },
      }),
      { allowedHosts: LOOPBACK },
    );
    const [request] = server.seen;
    const url = new URL(request?.path ?? '', server.base);
    expect(url.pathname).toBe('/v1/now');
    expect([...url.searchParams]).toEqual([
      ['units', 'metric'],
      ['city', 'Zürich & Bern'],
      ['key', SECRET],
    ]);
    expect(request?.headers['x-api-key']).toBe(SECRET);
    expect(request?.headers.accept).toBe('application/vnd.test+json');
  });

  it('sends a body as JSON, keeping a content-type the headers set', async () => {
    const server = await upstream((_req, res) => json(res, 201, { ok: true }));
    const body = { query: 'status', limit: 3, nested: { on: true } };
    await expect(
      fetchEndpoint(endpoint(server.base, { method: 'POST', body }), { allowedHosts: LOOPBACK }),
    ).resolves.toEqual({ ok: true });
    await fetchEndpoint(
      endpoint(server.base, {
        method: 'PUT',
        body,
        headers: { 'Content-Type': 'application/merge-patch+json' },
      }),
      { allowedHosts: LOOPBACK },
    );
    await fetchEndpoint(endpoint(server.base, { method: 'GET', body }), { allowedHosts: LOOPBACK });

    const [post, put, get] = server.seen;
    expect(post?.method).toBe('POST');
    expect(post?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(post?.body ?? '')).toEqual(body);
    expect(put?.headers['content-type']).toBe('application/merge-patch+json');
    expect(JSON.parse(put?.body ?? '')).toEqual(body);
    expect(get?.body).toBe('');
  });

  it('does not retry a 4xx other than 429', async () => {
    const server = await upstream((_req, res) => json(res, 404, { error: 'no such city' }));
    const error = await failure(
      fetchEndpoint(endpoint(server.base, { retries: 3 }), { allowedHosts: LOOPBACK }),
    );
    expect(server.seen).toHaveLength(1);
    expect(error.status).toBe(404);
    expect(error.message).toContain('endpoint "weather": answered 404 Not Found');
  });

  it('retries a 5xx `retries` times, then fails with the status', async () => {
    const server = await upstream((_req, res) => json(res, 503, {}));
    const error = await failure(
      fetchEndpoint(endpoint(server.base, { retries: 2 }), { allowedHosts: LOOPBACK }),
    );
    expect(server.seen).toHaveLength(3);
    expect(error.status).toBe(503);
    expect(error.timedOut).toBe(false);
    expect(error.message).toBe('endpoint "weather": answered 503 Service Unavailable after 3 attempts');
  });

  it('succeeds when a retry after a 429 or a 5xx is answered', async () => {
    const server = await upstream((_req, res, count) =>
      count === 1 ? json(res, 429, {}) : count === 2 ? json(res, 500, {}) : json(res, 200, { n: count }),
    );
    await expect(
      fetchEndpoint(endpoint(server.base, { retries: 2 }), { allowedHosts: LOOPBACK }),
    ).resolves.toEqual({
      n: 3,
    });
  });

  it('gives up on a server that accepts and never answers, after the timeout', async () => {
    const server = await upstream(() => {});
    const started = Date.now();
    const error = await failure(
      fetchEndpoint(endpoint(server.base, { timeoutMs: 200 }), { allowedHosts: LOOPBACK }),
    );
    const elapsed = Date.now() - started;
    expect(error.timedOut).toBe(true);
    expect(error.status).toBeUndefined();
    expect(error.message).toContain('endpoint "weather": no answer within 200ms');
    expect(elapsed).toBeGreaterThanOrEqual(190);
    // Cut off by the endpoint's timeout, not by some library default minutes later.
    expect(elapsed).toBeLessThan(5000);
  });

  it('gives up on a server that sends headers and then stalls the body', async () => {
    const server = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"partial": ');
    });
    const started = Date.now();
    const error = await failure(
      fetchEndpoint(endpoint(server.base, { timeoutMs: 200, retries: 1 }), { allowedHosts: LOOPBACK }),
    );
    expect(error.timedOut).toBe(true);
    expect(error.message).toContain('no answer within 200ms');
    expect(error.message).toContain('after 2 attempts');
    expect(server.seen).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('does not follow a redirect', async () => {
    const server = await upstream((req, res) => {
      if (req.path === '/moved') {
        res.writeHead(302, { location: `/elsewhere?token=${SECRET}` });
        res.end();
      } else json(res, 200, { followed: true });
    });
    const error = await failure(
      fetchEndpoint(endpoint(`${server.base}/moved`, { retries: 2 }), { allowedHosts: LOOPBACK }),
    );
    expect(error.status).toBe(302);
    expect(error.message).toContain('answered 302 Found');
    expect(error.message).toContain('redirects are not followed');
    expect(error.message).not.toContain(SECRET);
    expect(server.seen.map((request) => request.path)).toEqual(['/moved']);
  });

  it('stops reading a body larger than the limit', async () => {
    const big = await upstream((_req, res) => json(res, 200, { blob: 'x'.repeat(4096) }));
    const error = await failure(
      fetchEndpoint(endpoint(big.base), { allowedHosts: LOOPBACK, maxBytes: 1024 }),
    );
    expect(error.message).toContain('answered more than 1 KiB');

    // Without a content-length the limit holds while reading, too.
    const streamed = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = 'y'.repeat(512);
      for (let i = 0; i < 8; i++) res.write(chunk);
      res.end();
    });
    const streamedError = await failure(
      fetchEndpoint(endpoint(streamed.base), { allowedHosts: LOOPBACK, maxBytes: 1024 }),
    );
    expect(streamedError.message).toContain('answered more than 1 KiB');
    // A body exactly at the limit is fine.
    await expect(
      fetchEndpoint(endpoint(streamed.base), { allowedHosts: LOOPBACK, maxBytes: 4096 }),
    ).resolves.toHaveLength(4096);
  });

  it('fails on a body that says JSON and is not', async () => {
    const server = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"temperature": 21.5');
    });
    const error = await failure(
      fetchEndpoint(endpoint(server.base, { retries: 2 }), { allowedHosts: LOOPBACK }),
    );
    expect(error.message).toContain('not valid JSON');
    expect(server.seen).toHaveLength(1);
  });

  it('reports a refused connection', async () => {
    const closed = await upstream(() => {});
    const server = servers.pop() as Server;
    await new Promise((resolve) => server.close(resolve));
    const error = await failure(
      fetchEndpoint(endpoint(closed.base, { retries: 1 }), { allowedHosts: LOOPBACK }),
    );
    expect(error.message).toContain(
      `endpoint "weather": connection refused by ${closed.host} after 2 attempts`,
    );
    expect(error.status).toBeUndefined();
    expect(error.timedOut).toBe(false);
  });

  it('refuses a host that is not allowed without sending anything', async () => {
    const server = await upstream((_req, res) => json(res, 200, {}));
    const error = await failure(fetchEndpoint(endpoint(server.base), { allowedHosts: ['api.example.com'] }));
    expect(error.message).toContain(`host ${server.host} is not allowed`);
    expect(error.message).toContain('SWITCHBOARD_ENDPOINT_HOSTS');
    // The port is part of the allow-list entry when one is given.
    const port = Number(new URL(server.base).port);
    await failure(
      fetchEndpoint(endpoint(server.base), { allowedHosts: [`127.0.0.1:${port === 65_535 ? 1 : port + 1}`] }),
    );
    expect(server.seen).toHaveLength(0);
  });

  it('refuses a port that no entry names: an entry without a port allows 80 and 443 only', async () => {
    const server = await upstream((_req, res) => json(res, 200, {}));
    const error = await failure(fetchEndpoint(endpoint(server.base), { allowedHosts: ['127.0.0.1'] }));
    expect(error.message).toContain(`host ${server.host} is not allowed`);
    expect(server.seen).toHaveLength(0);
  });

  it('refuses to send a Host header or one that frames the connection', async () => {
    const server = await upstream((_req, res) => json(res, 200, {}));
    for (const header of ['Host', 'host', 'Connection', 'Transfer-Encoding']) {
      const error = await failure(
        fetchEndpoint(endpoint(server.base, { headers: { [header]: 'metadata.internal' } }), {
          allowedHosts: LOOPBACK,
        }),
      );
      expect(error.message).toContain(`may not set the ${header} header`);
    }
    expect(server.seen).toHaveLength(0);
  });

  it('refuses a URL that is not http(s)', async () => {
    const error = await failure(fetchEndpoint(endpoint('file:///etc/passwd'), { allowedHosts: LOOPBACK }));
    expect(error.message).toContain('http:// or https://');
  });

  it('stops retrying when the caller aborts', async () => {
    const controller = new AbortController();
    const server = await upstream((_req, res) => {
      json(res, 503, {});
      // Abort while the client waits before its next attempt.
      setTimeout(() => controller.abort(), 20);
    });
    const outcome = fetchEndpoint(endpoint(server.base, { retries: 10 }), {
      allowedHosts: LOOPBACK,
      signal: controller.signal,
    });
    await expect(outcome).rejects.toThrow(/abort/i);
    await sleep(300);
    expect(server.seen).toHaveLength(1);
  });

  it('stops an attempt in flight when the caller aborts', async () => {
    const controller = new AbortController();
    const server = await upstream(() => controller.abort());
    const outcome = fetchEndpoint(endpoint(server.base, { retries: 10, timeoutMs: 10_000 }), {
      allowedHosts: LOOPBACK,
      signal: controller.signal,
    });
    await expect(outcome).rejects.toThrow(/abort/i);
    await expect(outcome).rejects.not.toBeInstanceOf(UpstreamError);
    await sleep(300);
    expect(server.seen).toHaveLength(1);
  });

  it('sends nothing when the signal is already aborted', async () => {
    const server = await upstream((_req, res) => json(res, 200, {}));
    await expect(
      fetchEndpoint(endpoint(server.base), { allowedHosts: LOOPBACK, signal: AbortSignal.abort() }),
    ).rejects.toThrow(/abort/i);
    expect(server.seen).toHaveLength(0);
  });

  it('never puts a query value, header value or body into an error message', async () => {
    const secretive = (url: string, overrides: Partial<ResolvedEndpoint> = {}) =>
      endpoint(url, {
        method: 'POST',
        query: { token: SECRET },
        headers: { authorization: `Bearer ${SECRET}` },
        body: { password: SECRET },
        timeoutMs: 200,
        ...overrides,
      });
    const server = await upstream((req, res) => {
      if (req.path.startsWith('/500')) json(res, 500, { echo: SECRET });
      else if (req.path.startsWith('/401')) json(res, 401, { echo: SECRET });
      else if (req.path.startsWith('/bad-json')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{${SECRET}`);
      }
      // Anything else is never answered.
    });
    const closed = await upstream(() => {});
    const closedServer = servers.pop() as Server;
    await new Promise((resolve) => closedServer.close(resolve));

    const errors = await Promise.all([
      failure(fetchEndpoint(secretive(`${server.base}/500`, { retries: 1 }), { allowedHosts: LOOPBACK })),
      failure(fetchEndpoint(secretive(`${server.base}/401`), { allowedHosts: LOOPBACK })),
      failure(fetchEndpoint(secretive(`${server.base}/bad-json`), { allowedHosts: LOOPBACK })),
      failure(fetchEndpoint(secretive(`${server.base}/silent`), { allowedHosts: LOOPBACK })),
      failure(fetchEndpoint(secretive(closed.base), { allowedHosts: LOOPBACK })),
      failure(
        fetchEndpoint(secretive(`${server.base}/${SECRET}?${SECRET}`), { allowedHosts: ['example.com'] }),
      ),
      failure(
        fetchEndpoint(secretive(server.base, { headers: { 'x-bad': `${SECRET}\r\nx-injected: 1` } }), {
          allowedHosts: LOOPBACK,
        }),
      ),
    ]);
    expect(errors.map((error) => error.message)).toHaveLength(7);
    for (const error of errors) {
      expect(error.message).toContain('endpoint "weather"');
      expect(error.message).not.toContain(SECRET);
      expect(error.stack ?? '').not.toContain(SECRET);
    }
  });
});

/** A resolver that gives its n-th answer to its n-th question (the last one ever after), and counts them. */
function resolver(...answers: string[][]) {
  const asked: string[] = [];
  const resolve = async (hostname: string) => {
    asked.push(hostname);
    const answer = answers[Math.min(asked.length, answers.length) - 1] ?? [];
    return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { resolve, asked };
}

describe('fetchEndpoint and the addresses a host resolves to', () => {
  it('refuses a name that resolves to a loopback address the allow-list does not name, sending nothing', async () => {
    const server = await upstream((_req, res) => json(res, 200, {}));
    const port = new URL(server.base).port;
    const dns = resolver(['127.0.0.1']);
    const error = await failure(
      fetchEndpoint(endpoint(`http://upstream.test:${port}/`, { retries: 2 }), {
        allowedHosts: [`upstream.test:${port}`],
        resolve: dns.resolve,
      }),
    );
    expect(error.message).toBe(
      `endpoint "weather": upstream.test reaches 127.0.0.1, a loopback address; ` +
        `name 127.0.0.1:${port} (or a range holding it) in SWITCHBOARD_ENDPOINT_HOSTS to allow it`,
    );
    // Asking again cannot change what the allow-list says.
    expect(dns.asked).toEqual(['upstream.test']);
    expect(server.seen).toHaveLength(0);
  });

  it('connects once the allow-list names the address or a range holding it, or the name is localhost', async () => {
    const server = await upstream((_req, res) => json(res, 200, { ok: true }));
    const port = new URL(server.base).port;
    for (const allowedHosts of [
      [`upstream.test:${port}`, `127.0.0.1:${port}`],
      [`upstream.test:${port}`, `127.0.0.0/8:${port}`],
    ]) {
      await expect(
        fetchEndpoint(endpoint(`http://upstream.test:${port}/`), {
          allowedHosts,
          resolve: resolver(['127.0.0.1']).resolve,
        }),
      ).resolves.toEqual({ ok: true });
    }
    await expect(
      fetchEndpoint(endpoint(`http://localhost:${port}/`), {
        allowedHosts: [`localhost:${port}`],
        resolve: resolver(['127.0.0.1']).resolve,
      }),
    ).resolves.toEqual({ ok: true });
    expect(server.seen).toHaveLength(3);
  });

  it('refuses a name when any one of its addresses is refused', async () => {
    const server = await upstream((_req, res) => json(res, 200, {}));
    const port = new URL(server.base).port;
    const allowedHosts = [`upstream.test:${port}`, `127.0.0.1:${port}`];
    const mixed = await failure(
      fetchEndpoint(endpoint(`http://upstream.test:${port}/`), {
        allowedHosts,
        resolve: resolver(['127.0.0.1', '10.0.0.5']).resolve,
      }),
    );
    expect(mixed.message).toContain('upstream.test reaches 10.0.0.5, a private address');
    const mapped = await failure(
      fetchEndpoint(endpoint(`http://upstream.test:${port}/`), {
        allowedHosts,
        resolve: resolver(['::ffff:169.254.169.254']).resolve,
      }),
    );
    expect(mapped.message).toContain('reaches ::ffff:169.254.169.254, a link-local address');
    expect(server.seen).toHaveLength(0);
  });

  it('connects to the address it checked, whatever a later lookup would answer (DNS rebinding)', async () => {
    const server = await upstream((_req, res) => json(res, 200, { pinned: true }));
    const port = new URL(server.base).port;
    // The first answer passes the check; any later one would lead to the cloud's metadata service. The
    // name exists nowhere else: a connection that looked it up again could not be made at all.
    const dns = resolver(['127.0.0.1'], ['169.254.169.254']);
    const options = { allowedHosts: [`rebind.test:${port}`, `127.0.0.1:${port}`], resolve: dns.resolve };
    await expect(fetchEndpoint(endpoint(`http://rebind.test:${port}/`), options)).resolves.toEqual({
      pinned: true,
    });
    expect(dns.asked).toEqual(['rebind.test']);
    expect(server.seen).toHaveLength(1);
    expect(server.seen[0]?.headers.host).toBe(`rebind.test:${port}`);
    // The next poll asks again, and is refused before anything is sent.
    const error = await failure(fetchEndpoint(endpoint(`http://rebind.test:${port}/`), options));
    expect(error.message).toContain('reaches 169.254.169.254, a link-local address');
    expect(server.seen).toHaveLength(1);
  });

  it('says so when the name cannot be resolved', async () => {
    const error = await failure(
      fetchEndpoint(endpoint('https://nowhere.test/'), {
        allowedHosts: ['nowhere.test'],
        resolve: async () => {
          throw Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.test'), { code: 'ENOTFOUND' });
        },
      }),
    );
    expect(error.message).toBe(
      `endpoint "weather": host nowhere.test could not be resolved; check the url's host`,
    );
  });
});

describe('fetchEndpoint with a url built from a secret', () => {
  const WRITTEN = 'http://${upstream_host}/data';

  it('names the url as written, never the host, in every message', async () => {
    const server = await upstream((req, res) => json(res, req.path === '/data' ? 404 : 500, {}));
    const closed = await upstream(() => {});
    const closedServer = servers.pop() as Server;
    await new Promise((resolve) => closedServer.close(resolve));
    const port = new URL(server.base).port;
    const secret = (url: string, host: string) => endpoint(url, { urlAsWritten: WRITTEN, secrets: [host] });

    const errors = await Promise.all([
      failure(fetchEndpoint(secret(`${server.base}/data`, server.host), { allowedHosts: LOOPBACK })),
      failure(fetchEndpoint(secret(`${closed.base}/data`, closed.host), { allowedHosts: LOOPBACK })),
      failure(fetchEndpoint(secret(`${server.base}/data`, server.host), { allowedHosts: ['example.com'] })),
      failure(
        fetchEndpoint(secret(`http://hidden-q7.test:${port}/data`, `hidden-q7.test:${port}`), {
          allowedHosts: [`hidden-q7.test:${port}`],
          resolve: resolver(['10.0.0.5']).resolve,
        }),
      ),
    ]);
    expect(errors[0]?.message).toContain(`${WRITTEN} refused the request`);
    expect(errors[1]?.message).toContain(`connection refused by ${WRITTEN}`);
    expect(errors[2]?.message).toContain(`the host of ${WRITTEN} is not allowed`);
    expect(errors[3]?.message).toContain(`the host of ${WRITTEN} reaches a private address`);
    for (const error of errors) {
      expect(error.message).not.toMatch(/127\.0\.0\.1|hidden-q7|10\.0\.0\.5/);
      expect(error.message).not.toContain(port);
    }
  });
});
