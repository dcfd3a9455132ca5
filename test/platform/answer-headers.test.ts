import { createServer, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answersWith } from '../../src/platform/answer-headers.js';
import { problemShape, startTestApp, type TestApp } from '../fixture.js';

/** The headers a browser relies on; every answer has each of them (HTML ones have more: http.test.ts). */
const SECURITY_HEADERS = [
  'content-security-policy',
  'x-frame-options',
  'strict-transport-security',
  'x-content-type-options',
  'cross-origin-resource-policy',
  'cache-control',
];

/** Strict-Transport-Security goes out only when the public URL is https, so these apps have one. */
const HTTPS_PUBLIC_URL = { SWITCHBOARD_PUBLIC_URL: 'https://switchboard.example' };

interface RawReply {
  status: number;
  headers: Map<string, string>;
  body: any;
}

/** Sends `text` on a fresh connection and parses the first answer once the server hangs up. */
function exchange(url: string, text: string): Promise<RawReply> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    // A reset after the answer (the server closing with our bytes unread) still ends the exchange.
    socket.on('error', () => {});
    socket.once('close', () => {
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no answer, got ${JSON.stringify(received)}`));
      const [statusLine = '', ...lines] = received.slice(0, end).split('\r\n');
      const headers = new Map(
        lines.map((line) => {
          const colon = line.indexOf(':');
          return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
        }),
      );
      const length = Number(headers.get('content-length') ?? received.length);
      const body = received.slice(end + 4, end + 4 + length);
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: body ? JSON.parse(body) : null });
    });
    socket.write(text);
  });
}

const request = (requestLine: string, extra: string[] = []) =>
  [requestLine, 'Host: x', ...extra, 'Connection: close', '', ''].join('\r\n');

const upgrade = (path: string, extra: string[] = []) =>
  [
    `GET ${path} HTTP/1.1`,
    'Host: x',
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
    ...extra,
    '',
    '',
  ].join('\r\n');

const securityOf = (reply: RawReply) => SECURITY_HEADERS.map((name) => [name, reply.headers.get(name)]);

/** What the reference answer (`GET /healthz`) carries, read once per app. */
async function referenceHeaders(url: string) {
  const reference = await exchange(url, request('GET /healthz HTTP/1.1'));
  expect(reference.status).toBe(200);
  for (const [name, value] of securityOf(reference)) expect(value, name).toBeDefined();
  return securityOf(reference);
}

/** The problem answer carries the reference security headers and its request id, also as `instance`. */
function expectProblemAnswer(reply: RawReply, status: number, reference: unknown) {
  expect(reply.status).toBe(status);
  expect(securityOf(reply)).toEqual(reference);
  expect(reply.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9._:-]{8,128}$/);
  expect(problemShape.isEnvelope(reply.body)).toBe(true);
  expect(reply.body.error_detail.status).toBe(status);
  expect(reply.body.error_detail.instance).toBe(reply.headers.get('x-request-id'));
}

/** Answers written on the socket itself end the connection, as JSON, never as an upgrade. */
function expectSocketAnswer(reply: RawReply) {
  expect(reply.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(reply.headers.get('connection')).toBe('close');
  expect(reply.headers.has('upgrade')).toBe(false);
}

describe('answers written outside the route hooks', () => {
  let t: TestApp;
  let reference: unknown;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        ...HTTPS_PUBLIC_URL,
        SWITCHBOARD_MAX_HEADERS: '20',
        SWITCHBOARD_MAX_HEADER_BYTES: '2048',
        SWITCHBOARD_HEADERS_TIMEOUT: '1s',
        SWITCHBOARD_REQUEST_TIMEOUT: '1s',
      },
    });
    reference = await referenceHeaders(t.url);
  });
  afterAll(async () => t.close());

  it('a malformed URL (400 before routing) carries them', async () => {
    for (const path of ['/%zz', '/api/v1/%zz']) {
      const reply = await exchange(t.url, request(`GET ${path} HTTP/1.1`));
      expectProblemAnswer(reply, 400, reference);
      expect(reply.body.error_detail.error_code).toBe(2001);
    }
  });

  it('too many header fields (431 from the first hook) carries them', async () => {
    const fields = Array.from({ length: 30 }, (_, i) => `X-Field-${i}: ${i}`);
    for (const path of ['/healthz', '/api/v1/auth/me']) {
      const reply = await exchange(t.url, request(`GET ${path} HTTP/1.1`, fields));
      expectProblemAnswer(reply, 431, reference);
    }
  });

  it('unknown routes and wrong methods carry them', async () => {
    expectProblemAnswer(await exchange(t.url, request('GET /api/v1/nope HTTP/1.1')), 404, reference);
    expectProblemAnswer(await exchange(t.url, request('DELETE /healthz HTTP/1.1')), 405, reference);
  });

  it('a client-given request id is the one answered, even on a malformed URL', async () => {
    const reply = await exchange(t.url, request('GET /%zz HTTP/1.1', ['X-Request-Id: trace-12345678']));
    expect(reply.headers.get('x-request-id')).toBe('trace-12345678');
    expect(reply.body.error_detail.instance).toBe('trace-12345678');
  });

  it('headers larger than allowed (431 from the HTTP parser) carry them', async () => {
    const reply = await exchange(
      t.url,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`,
    );
    expectProblemAnswer(reply, 431, reference);
    expectSocketAnswer(reply);
  });

  it('malformed HTTP (400 from the HTTP parser) carries them', async () => {
    const reply = await exchange(t.url, 'NOT HTTP AT ALL\r\n\r\n');
    expectProblemAnswer(reply, 400, reference);
    expectSocketAnswer(reply);
  });

  it('a request that never finishes arriving (408) carries them', async () => {
    const reply = await exchange(t.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    expectProblemAnswer(reply, 408, reference);
    expectSocketAnswer(reply);
  }, 15_000);

  it('a WebSocket upgrade to an unknown path (404) carries them', async () => {
    const reply = await exchange(t.url, upgrade('/api/v1/nope'));
    expectProblemAnswer(reply, 404, reference);
    expectSocketAnswer(reply);
  });

  it('a WebSocket upgrade with a malformed URL (400) carries them, with the caller request id', async () => {
    const reply = await exchange(t.url, upgrade('//[', ['X-Request-Id: trace-upgrade-1']));
    expectProblemAnswer(reply, 400, reference);
    expectSocketAnswer(reply);
    expect(reply.headers.get('x-request-id')).toBe('trace-upgrade-1');
  });
});

describe('WebSocket upgrades refused by the IP floor', () => {
  let t: TestApp;
  let reference: unknown;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        ...HTTPS_PUBLIC_URL,
        SWITCHBOARD_RATE_LIMIT_IP_FLOOR: '1',
        SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '1',
        SWITCHBOARD_RATE_LIMIT_AUTHENTICATED: '1',
      },
    });
    reference = await referenceHeaders(t.url);
  });
  afterAll(async () => t.close());

  it('answer 429 with the security headers, Retry-After and a request id', async () => {
    // The one request the floor allows (a 404 counts too).
    expect((await exchange(t.url, request('GET /api/v1/nope HTTP/1.1'))).status).toBe(404);
    const reply = await exchange(t.url, upgrade('/api/v1/ws'));
    expectProblemAnswer(reply, 429, reference);
    expectSocketAnswer(reply);
    expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('CORS preflights', () => {
  let t: TestApp;
  let reference: unknown;
  beforeAll(async () => {
    t = await startTestApp({ env: { ...HTTPS_PUBLIC_URL, SWITCHBOARD_CORS_ORIGINS: 'https://ops.example' } });
    reference = await referenceHeaders(t.url);
  });
  afterAll(async () => t.close());

  it('keep their CORS headers and carry the security headers and a request id', async () => {
    const reply = await exchange(
      t.url,
      request('OPTIONS /api/v1/auth/me HTTP/1.1', [
        'Origin: https://ops.example',
        'Access-Control-Request-Method: GET',
      ]),
    );
    expect(reply.status).toBe(204);
    expect(reply.headers.get('access-control-allow-origin')).toBe('https://ops.example');
    expect(reply.headers.get('access-control-allow-credentials')).toBe('true');
    expect(reply.headers.get('access-control-allow-methods')).toContain('GET');
    expect(securityOf(reply)).toEqual(reference);
    expect(reply.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('the response class (answersWith)', () => {
  const FIXED = { 'cache-control': 'no-store', 'x-frame-options': 'DENY' };
  const FOR_PAGES = { 'referrer-policy': 'no-referrer' };
  /** Answers without a body, framed so that the reader needs no chunked decoding. */
  const EMPTY = { 'content-length': '0' };
  const HTML_TYPE = 'text/html; charset=utf-8';

  /** A bare Node server on the class, answering with `answer`; the raw answer to one GET. */
  async function answerOf(answer: (response: ServerResponse) => void): Promise<RawReply> {
    const server = createServer(
      {
        ServerResponse: answersWith({ fixed: FIXED, forPages: FOR_PAGES, requestId: () => 'req-id-1234' }),
      },
      (_req, res) => answer(res),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      return await exchange(`http://127.0.0.1:${port}`, request('GET / HTTP/1.1'));
    } finally {
      server.close();
    }
  }

  it('adds its headers and the request id to an answer that sets none', async () => {
    const reply = await answerOf((res) => res.end('{}'));
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect(reply.headers.get('x-frame-options')).toBe('DENY');
    expect(reply.headers.get('x-request-id')).toBe('req-id-1234');
  });

  it("lets the answer's own value win, whatever its case and however it was given", async () => {
    const given = await answerOf((res) =>
      res.writeHead(200, { 'Cache-Control': 'max-age=5', ...EMPTY }).end(),
    );
    expect(given.headers.get('cache-control')).toBe('max-age=5');
    const set = await answerOf((res) => {
      res.setHeader('X-Frame-Options', 'SAMEORIGIN');
      res.writeHead(200, { 'x-request-id': 'mine-12345', ...EMPTY }).end();
    });
    expect(set.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(set.headers.get('x-request-id')).toBe('mine-12345');
    expect(set.headers.get('cache-control')).toBe('no-store');
    const array = await answerOf((res) =>
      res.writeHead(200, ['Cache-Control', 'private', 'Content-Length', '0']).end(),
    );
    expect(array.headers.get('cache-control')).toBe('private');
    expect(array.headers.get('x-frame-options')).toBe('DENY');
  });

  it('keeps a status message given with the headers', async () => {
    const reply = await answerOf((res) => res.writeHead(299, 'Fine Indeed', { a: 'b', ...EMPTY }).end());
    expect(reply.status).toBe(299);
    expect(reply.headers.get('a')).toBe('b');
    expect(reply.headers.get('x-frame-options')).toBe('DENY');
  });

  it('adds the page headers to HTML answers only, however the type was given, and lets a given one win', async () => {
    const json = await answerOf((res) =>
      res.writeHead(200, { 'content-type': 'application/json', ...EMPTY }).end(),
    );
    expect(json.headers.has('referrer-policy')).toBe(false);
    const given = await answerOf((res) => res.writeHead(200, { 'Content-Type': HTML_TYPE, ...EMPTY }).end());
    expect(given.headers.get('referrer-policy')).toBe('no-referrer');
    const set = await answerOf((res) => {
      res.setHeader('content-type', 'application/xhtml+xml');
      res.writeHead(200, EMPTY).end();
    });
    expect(set.headers.get('referrer-policy')).toBe('no-referrer');
    const svg = await answerOf((res) =>
      res.writeHead(200, { 'content-type': 'image/svg+xml', ...EMPTY }).end(),
    );
    expect(svg.headers.get('referrer-policy')).toBe('no-referrer');
    // A type that merely starts like a page's is data.
    const htmlish = await answerOf((res) =>
      res.writeHead(200, { 'content-type': 'text/html-fragment-list', ...EMPTY }).end(),
    );
    expect(htmlish.headers.has('referrer-policy')).toBe(false);
    const flat = await answerOf((res) =>
      res.writeHead(200, ['Content-Type', HTML_TYPE, 'Content-Length', '0']).end(),
    );
    expect(flat.headers.get('referrer-policy')).toBe('no-referrer');
    const own = await answerOf((res) =>
      res.writeHead(200, { 'content-type': HTML_TYPE, 'Referrer-Policy': 'same-origin', ...EMPTY }).end(),
    );
    expect(own.headers.get('referrer-policy')).toBe('same-origin');
    const ownSet = await answerOf((res) => {
      res.setHeader('Referrer-Policy', 'origin');
      res.writeHead(200, ['Content-Type', HTML_TYPE, 'Content-Length', '0']).end();
    });
    expect(ownSet.headers.get('referrer-policy')).toBe('origin');
    expect(ownSet.headers.get('x-frame-options')).toBe('DENY');
  });
});
