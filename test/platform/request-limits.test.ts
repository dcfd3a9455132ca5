import { connect, type Socket } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LINGER } from '../../src/platform/request-limits.js';
import { problemShape, startTestApp, type TestApp } from '../fixture.js';

/** A raw connection that records what the server sent and when it hung up. */
interface RawConnection {
  socket: Socket;
  openedAt: number;
  /** Resolves once the server closed the connection (or reset it after its answer). */
  closed: Promise<{ text: string; closedAt: number }>;
  /** Resolves with the received text as soon as it contains `marker`. */
  received(marker: string): Promise<string>;
}

async function openRaw(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const openedAt = Date.now();
  let text = '';
  const waiters: { marker: string; resolve: (text: string) => void }[] = [];
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
    for (const w of waiters.filter((w) => text.includes(w.marker))) w.resolve(text);
  });
  // A reset after the answer (the server closing with our bytes still unread) is still a hang-up.
  const closed = new Promise<{ text: string; closedAt: number }>((resolve) => {
    socket.on('error', () => {});
    socket.once('close', () => resolve({ text, closedAt: Date.now() }));
  });
  return {
    socket,
    openedAt,
    closed,
    received: (marker) =>
      text.includes(marker)
        ? Promise.resolve(text)
        : new Promise((resolve) => waiters.push({ marker, resolve })),
  };
}

interface RawReply {
  status: number;
  headers: Map<string, string>;
  body: any;
}

/** Parses the first HTTP/1.1 response in `text` (Fastify answers JSON with a Content-Length). */
function parseReply(text: string): RawReply {
  const end = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const headers = new Map(
    lines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
    }),
  );
  const length = Number(headers.get('content-length') ?? text.length);
  const raw = text.slice(end + 4, end + 4 + length);
  return { status: Number(statusLine.split(' ')[1]), headers, body: raw ? JSON.parse(raw) : null };
}

/** Sends `head` (and `body`) on a fresh connection and returns the server's answer once it hangs up. */
async function exchange(url: string, head: string, body = ''): Promise<RawReply> {
  const conn = await openRaw(url);
  conn.socket.write(head + body);
  const { text } = await conn.closed;
  return parseReply(text);
}

function headWith(extraHeaders: string[], requestLine = 'GET /healthz HTTP/1.1'): string {
  return [requestLine, 'Host: x', ...extraHeaders, 'Connection: close', '', ''].join('\r\n');
}

describe('headers timeout (slow-loris)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: { SWITCHBOARD_HEADERS_TIMEOUT: '2s', SWITCHBOARD_REQUEST_TIMEOUT: '5s' },
    });
  });
  afterAll(async () => t.close());

  /** Starts a client that sends its headers one byte a second and never finishes them. */
  async function trickle() {
    const conn = await openRaw(t.url);
    conn.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const timer = setInterval(() => {
      if (conn.socket.writable) conn.socket.write('a');
    }, 1000);
    const closed = conn.closed.finally(() => clearInterval(timer));
    return { ...conn, closed };
  }

  it('answers 408 with a problem document and hangs up shortly after the deadline', async () => {
    const slow = await trickle();
    const { text, closedAt } = await slow.closed;
    const reply = parseReply(text);
    expect(text.startsWith('HTTP/1.1 408 ')).toBe(true);
    expect(reply.status).toBe(408);
    expect(reply.headers.get('connection')).toBe('close');
    expect(problemShape.isEnvelope(reply.body)).toBe(true);
    expect(reply.body.error_detail.status).toBe(408);
    expect(reply.body.error_detail.error_code).toBe(2005);
    // A bound on behaviour (deadline 2 s, checked every second), not on speed.
    const elapsed = closedAt - slow.openedAt;
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(6000);
  }, 15_000);

  it('keeps serving other clients while several slow ones trickle', async () => {
    const slow = await Promise.all([trickle(), trickle(), trickle()]);
    let slowOpen = true;
    const allClosed = Promise.all(slow.map((s) => s.closed)).then((results) => {
      slowOpen = false;
      return results;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const answers = await Promise.all(
      ['/healthz', '/readyz', '/api/v1/auth/me', '/healthz'].map(async (path) => {
        const res = await request(`${t.url}${path}`);
        await res.body.text();
        return res.statusCode;
      }),
    );
    expect(answers).toEqual([200, 200, 401, 200]);
    expect(slowOpen).toBe(true);
    const results = await allClosed;
    for (const { text } of results) expect(parseReply(text).status).toBe(408);
  }, 15_000);
});

describe('header count and size', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: { SWITCHBOARD_MAX_HEADERS: '20', SWITCHBOARD_MAX_HEADER_BYTES: '2048' },
    });
  });
  afterAll(async () => t.close());

  /** `count` header fields in all, Host and Connection included. */
  const fields = (count: number) => Array.from({ length: count - 2 }, (_, i) => `X-Field-${i}: ${i}`);

  it('passes a request with exactly the allowed number of header fields', async () => {
    const health = await exchange(t.url, headWith(fields(20)));
    expect(health.status).toBe(200);
    const api = await exchange(t.url, headWith(fields(20), 'GET /api/v1/auth/me HTTP/1.1'));
    expect(api.status).toBe(401);
  });

  it('refuses one with more header fields with 431 and code 2007', async () => {
    for (const path of ['/healthz', '/api/v1/auth/me']) {
      const reply = await exchange(t.url, headWith(fields(30), `GET ${path} HTTP/1.1`));
      expect(reply.status).toBe(431);
      expect(problemShape.isEnvelope(reply.body)).toBe(true);
      expect(reply.body.error_detail.error_code).toBe(2007);
      expect(reply.body.error_detail.status).toBe(431);
    }
    expect((await exchange(t.url, headWith(fields(21)))).status).toBe(431);
  });

  it('passes headers under the byte limit', async () => {
    const reply = await exchange(t.url, headWith([`X-Big: ${'a'.repeat(1024)}`]));
    expect(reply.status).toBe(200);
  });

  it('refuses headers over the byte limit with 431 and closes the connection', async () => {
    const conn = await openRaw(t.url);
    // No Connection: close, so the hang-up is the server's decision.
    conn.socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`);
    const { text } = await conn.closed;
    const reply = parseReply(text);
    expect(reply.status).toBe(431);
    expect(reply.headers.get('connection')).toBe('close');
    expect(problemShape.isEnvelope(reply.body)).toBe(true);
    expect(reply.body.error_detail.error_code).toBe(2007);
  });
});

describe('body limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { SWITCHBOARD_BODY_LIMIT_BYTES: '2048' } });
  });
  afterAll(async () => t.close());

  const login = (password: string) => JSON.stringify({ username: 'nobody', password });

  it('lets a body within the limit reach the route', async () => {
    const res = await t.client().call('/api/v1/auth/login', { json: { username: 'nobody', password: 'x' } });
    expect(res.status).toBe(401);
    expect(res.body.error_detail.error_code).toBe(1000);
  });

  it('refuses a larger body with 413 and code 2002, declared by Content-Length', async () => {
    const body = login('a'.repeat(4096));
    const reply = await exchange(
      t.url,
      headWith(
        ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`],
        'POST /api/v1/auth/login HTTP/1.1',
      ),
      body,
    );
    expect(reply.status).toBe(413);
    expect(problemShape.isEnvelope(reply.body)).toBe(true);
    expect(reply.body.error_detail.error_code).toBe(2002);
  });

  it('refuses a larger chunked body with 413 and code 2002, never a 500', async () => {
    const body = login('a'.repeat(4096));
    const chunks = [body.slice(0, 1000), body.slice(1000, 3000), body.slice(3000)]
      .map((c) => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`)
      .join('');
    const reply = await exchange(
      t.url,
      headWith(
        ['Content-Type: application/json', 'Transfer-Encoding: chunked'],
        'POST /api/v1/auth/login HTTP/1.1',
      ),
      `${chunks}0\r\n\r\n`,
    );
    expect(reply.status).toBe(413);
    expect(reply.body.error_detail.error_code).toBe(2002);
  });
});

/**
 * A client that sends its whole body before it reads, as most do: it keeps sending after the server's
 * answer and end (a half-open socket), then reads. `forever` never stops sending until the server cuts it off.
 */
async function sendLargeBody(
  url: string,
  options: {
    bytes: number;
    chunked?: boolean;
    forever?: boolean;
    contentType?: string;
    /** The request line's method and path (a login by default). */
    target?: string;
    /** Asks for the connection to close after the answer (`Connection: close`). */
    close?: boolean;
  },
) {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port), allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  let error: string | undefined;
  let answeredAt: number | undefined;
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
    answeredAt ??= Date.now();
  });
  socket.on('error', (e: NodeJS.ErrnoException) => {
    error ??= e.code ?? e.message;
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let open = true;
  void closed.then(() => {
    open = false;
  });
  const framing = options.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${options.bytes}`;
  socket.write(
    `${options.target ?? 'POST /api/v1/auth/login'} HTTP/1.1\r\nHost: x\r\nContent-Type: ${options.contentType ?? 'application/json'}\r\n${framing}\r\n${options.close ? 'Connection: close\r\n' : ''}\r\n`,
  );
  const block = Buffer.alloc(64 * 1024, 'a');
  const framed = options.chunked
    ? Buffer.concat([Buffer.from(`${block.length.toString(16)}\r\n`), block, Buffer.from('\r\n')])
    : block;
  let sent = 0;
  while (open && !error && (options.forever || sent < options.bytes)) {
    const more = socket.write(
      options.bytes - sent < block.length && !options.forever
        ? block.subarray(0, options.bytes - sent)
        : framed,
    );
    sent += block.length;
    if (!more) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
  }
  if (open && !error) socket.end(options.chunked ? '0\r\n\r\n' : '');
  await closed;
  return { reply: parseReply(text), error, sent, answeredAt, closedAt: Date.now() };
}

describe('a body over the limit, still being sent', () => {
  let t: TestApp;
  beforeAll(async () => {
    // The default limit, 1 MiB.
    t = await startTestApp({ env: { SWITCHBOARD_RATE_LIMITS: 'login.ip=off,login.username=off' } });
  });
  afterAll(async () => t.close());

  const MB5 = 5 * 1024 * 1024;

  it('gets its 413 read by a client that sends all 5 MB first, every time, without a reset', async () => {
    for (let round = 0; round < 6; round += 1) {
      const result = await sendLargeBody(t.url, { bytes: MB5, chunked: round % 2 === 1 });
      expect(result.error, `round ${round}`).toBeUndefined();
      expect(result.sent).toBeGreaterThanOrEqual(MB5);
      expect(result.reply.status).toBe(413);
      expect(result.reply.headers.get('connection')).toBe('close');
      expect(problemShape.isEnvelope(result.reply.body)).toBe(true);
      expect(result.reply.body.error_detail.error_code).toBe(2002);
    }
  });

  it('gets a 415 the same way for a large body that is not JSON', async () => {
    const result = await sendLargeBody(t.url, { bytes: MB5, contentType: 'text/plain' });
    expect(result.error).toBeUndefined();
    expect(result.reply.status).toBe(415);
    expect(result.reply.body.error_detail.error_code).toBe(2004);
  });

  it('lets a client that asked for Connection: close read a whole answer given before its body arrived', async () => {
    // A GET route never reads a body, so it answers while one still arrives; closing at once then reset the
    // connection under the client's answer (fuzzing found it, cut short, on GET /api/v1/preferences).
    for (let round = 0; round < 4; round += 1) {
      const result = await sendLargeBody(t.url, {
        bytes: MB5,
        chunked: round % 2 === 1,
        target: 'GET /healthz',
        close: true,
      });
      expect(result.error, `round ${round}`).toBeUndefined();
      expect(result.sent).toBeGreaterThanOrEqual(MB5);
      expect(result.reply.status).toBe(200);
      expect(result.reply.headers.get('connection')).toBe('close');
      expect(result.reply.body).toMatchObject({ status: 'ok' });
    }
  });

  it('cuts off a client that never stops sending, within the bounds, after its 413', async () => {
    const started = Date.now();
    const result = await sendLargeBody(t.url, { bytes: 0, chunked: true, forever: true });
    expect(result.reply.status).toBe(413);
    expect(result.closedAt - started).toBeLessThan(LINGER.totalMs + 3000);
    expect(result.sent).toBeLessThan(LINGER.bytes + 64 * 1024 * 1024);
  }, 20_000);
});

describe('keep-alive timeout', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { SWITCHBOARD_KEEP_ALIVE_TIMEOUT: '1s' } });
  });
  afterAll(async () => t.close());

  it('closes a connection left idle past the keep-alive timeout', async () => {
    const conn = await openRaw(t.url);
    conn.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const answer = parseReply(await conn.received('"status":"ok"'));
    const answeredAt = Date.now();
    expect(answer.status).toBe(200);
    expect(answer.headers.get('connection')).toBe('keep-alive');
    expect(answer.headers.get('keep-alive')).toBe('timeout=1');
    const { closedAt } = await conn.closed;
    const idle = closedAt - answeredAt;
    expect(idle).toBeGreaterThanOrEqual(500);
    expect(idle).toBeLessThan(6000);
  }, 15_000);
});

describe('shutting down', () => {
  it('ends the keep-alive connection of an answer still in flight when shutdown began', async () => {
    let arrived: () => void = () => {};
    const inFlight = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const t = await startTestApp({
      routes: async (api) => {
        api.get('/slow', { config: { access: { public: true } } }, async () => {
          arrived();
          await new Promise((resolve) => setTimeout(resolve, 300));
          return { done: true };
        });
      },
    });
    const conn = await openRaw(t.url);
    try {
      conn.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      const before = parseReply(await conn.received('"status":"ok"'));
      expect(before.headers.get('connection')).toBe('keep-alive');
      conn.socket.write('GET /api/v1/slow HTTP/1.1\r\nHost: x\r\n\r\n');
      await inFlight;
      const closing = t.close();
      const { text, closedAt } = await conn.closed;
      const answer = parseReply(text.slice(text.lastIndexOf('HTTP/1.1 ')));
      expect(answer.status).toBe(200);
      expect(answer.headers.get('connection')).toBe('close');
      expect(closedAt).toBeGreaterThan(0);
      await closing;
    } finally {
      conn.socket.destroy();
    }
  }, 15_000);
});
