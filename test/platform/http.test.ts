import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../../src/platform/envelope.js';
import { problemShape, startTestApp, type TestApp } from '../fixture.js';

const routes: FastifyPluginAsync = async (app) => {
  app.post(
    '/echo',
    {
      config: { access: { public: true } },
      schema: {
        body: Type.Object(
          {
            name: Type.String({ minLength: 1 }),
            count: Type.Integer({ minimum: 0 }),
            tags: Type.Array(Type.String()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => ok(req.body),
  );
  app.get(
    '/numbers',
    {
      config: { access: { public: true } },
      schema: {
        querystring: Type.Object({ n: Type.Integer(), list: Type.Optional(Type.Array(Type.String())) }),
      },
    },
    async (req) => ok(req.query),
  );
  app.get('/boom', { config: { access: { public: true } } }, async () => {
    throw new Error('secret internal detail: password=hunter2');
  });
  app.get('/page', { config: { access: { public: true } } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send('<!doctype html><title>page</title>'),
  );
};

/** helmet's headers that only mean something to a page: on HTML answers, not on JSON ones. */
const PAGE_ONLY = {
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ routes });
});
afterAll(async () => t.close());

async function call(path: string, init: Parameters<typeof request>[1] = {}) {
  const res = await request(`${t.url}${path}`, init);
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** POST to the test route with a JSON content type; `body` is sent as given. */
function postJson(body: string) {
  return call('/api/v1/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
}

describe('conventions', () => {
  it('wraps success in the envelope', async () => {
    const res = await postJson(JSON.stringify({ name: 'a', count: 1, tags: [] }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: { name: 'a', count: 1, tags: [] },
      error: null,
      error_detail: null,
      success: true,
    });
  });

  it('answers an unknown route with 404 code 3002 and the request id as instance', async () => {
    const res = await call('/api/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(problemShape.isEnvelope(res.body)).toBe(true);
    expect(res.body.error_detail.error_code).toBe(3002);
    expect(res.body.error_detail.error_category).toBe('not_found');
    expect(res.body.error_detail.instance).toBe(res.headers['x-request-id']);
  });

  it('answers a wrong method with 405, code 2003 and Allow', async () => {
    const res = await call('/api/v1/echo', { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.body.error_detail.error_code).toBe(2003);
    expect(res.headers.allow).toBe('POST');
  });

  it('answers malformed JSON with 400 code 2001', async () => {
    const res = await postJson('{"name":');
    expect(res.status).toBe(400);
    expect(res.body.error_detail.error_code).toBe(2001);
  });

  it('keeps the JSON types of a body: a number or a list where a string is due is a 422, not coerced', async () => {
    const good = await postJson(JSON.stringify({ name: 'a', count: 1, tags: ['x'] }));
    expect(good.status).toBe(200);
    for (const [body, pointer] of [
      [{ name: 7, count: 1, tags: [] }, '/name'],
      [{ name: ['a'], count: 1, tags: [] }, '/name'],
      [{ name: 'a', count: '1', tags: [] }, '/count'],
      [{ name: 'a', count: 1, tags: 'x' }, '/tags'],
      [{ name: 'a', count: true, tags: [] }, '/count'],
    ] as const) {
      const res = await postJson(JSON.stringify(body));
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.error_detail.errors.map((e: { pointer: string }) => e.pointer)).toEqual([pointer]);
    }
    // Text is still read as the types its schema names.
    const query = await call('/api/v1/numbers?n=42&list=one');
    expect(query.body.data).toEqual({ n: 42, list: ['one'] });
  });

  it('lists every failing field with its JSON pointer on 422', async () => {
    const res = await postJson(JSON.stringify({ name: '', tags: [{}], extra: true }));
    expect(res.status).toBe(422);
    expect(res.body.error_detail.error_code).toBe(2000);
    const pointers = res.body.error_detail.errors.map((e: { pointer: string }) => e.pointer).sort();
    expect(pointers).toEqual(['/count', '/extra', '/name', '/tags/0']);
  });

  it('refuses a body over the limit with 413 code 2002', async () => {
    const res = await postJson(JSON.stringify({ name: 'x'.repeat(2_000_000) }));
    expect(res.status).toBe(413);
    expect(res.body.error_detail.error_code).toBe(2002);
  });

  it('refuses an unsupported content type with 415 code 2004', async () => {
    const res = await call('/api/v1/echo', {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: 'a,b',
    });
    expect(res.status).toBe(415);
    expect(res.body.error_detail.error_code).toBe(2004);
  });

  it('refuses text/plain with 415 code 2004 too, even when the text is JSON', async () => {
    for (const type of ['text/plain', 'text/plain; charset=utf-8']) {
      const res = await call('/api/v1/echo', {
        method: 'POST',
        headers: { 'content-type': type },
        body: JSON.stringify({ name: 'a', count: 1, tags: [] }),
      });
      expect(res.status, type).toBe(415);
      expect(res.body.error_detail.error_code).toBe(2004);
    }
    const none = await call('/api/v1/echo', { method: 'POST', body: '{"name":"a","count":1,"tags":[]}' });
    expect(none.status).toBe(415);
  });

  it('sends a bare RFC 9457 document when the client prefers problem+json', async () => {
    const res = await call('/api/v1/nothing-here', {
      headers: { accept: 'application/problem+json, application/json;q=0.5' },
    });
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(problemShape.isProblem(res.body)).toBe(true);
    expect(res.body.status).toBe(404);
  });

  it('hides internals on a 500', async () => {
    const res = await call('/api/v1/boom');
    expect(res.status).toBe(500);
    expect(res.body.error_detail.error_code).toBe(8000);
    expect(JSON.stringify(res.body)).not.toContain('hunter2');
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it('keeps a well-formed caller request id and replaces a bad one', async () => {
    const kept = await call('/healthz', { headers: { 'x-request-id': 'trace-12345678' } });
    expect(kept.headers['x-request-id']).toBe('trace-12345678');
    const replaced = await call('/healthz', { headers: { 'x-request-id': 'bad id <script>' } });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('security headers', () => {
  for (const path of ['/healthz', '/api/v1/nothing-here', '/api/v1/boom']) {
    it(`are on ${path}`, async () => {
      const res = await call(path);
      expect(res.headers['content-security-policy']).toContain("default-src 'none'");
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      // The test app's public URL is http://localhost:…: no HSTS over plain HTTP (answer-headers.test.ts has
      // it on every answer of an https one).
      expect(res.headers['strict-transport-security']).toBeUndefined();
      expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
      expect(res.headers['cache-control']).toBe('no-store');
      for (const name of Object.keys(PAGE_ONLY)) expect(res.headers[name], name).toBeUndefined();
    });
  }

  it('add the page headers to an HTML answer', async () => {
    const res = await request(`${t.url}/api/v1/page`);
    expect(await res.body.text()).toContain('<title>page</title>');
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    for (const [name, value] of Object.entries(PAGE_ONLY)) expect(res.headers[name], name).toBe(value);
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('sends no CORS headers by default', async () => {
    const res = await call('/healthz', { headers: { origin: 'https://evil.example' } });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('CORS with an origin list', () => {
  it('admits only listed origins', async () => {
    const app = await startTestApp({ env: { SWITCHBOARD_CORS_ORIGINS: 'https://ops.example' } });
    try {
      const allowed = await request(`${app.url}/healthz`, { headers: { origin: 'https://ops.example' } });
      await allowed.body.text();
      expect(allowed.headers['access-control-allow-origin']).toBe('https://ops.example');
      expect(allowed.headers['access-control-allow-credentials']).toBe('true');
      const other = await request(`${app.url}/healthz`, { headers: { origin: 'https://evil.example' } });
      await other.body.text();
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});

describe('logs', () => {
  it('record method, route, status and duration without credentials', async () => {
    await call('/api/v1/nothing-here?token=s3cret-token', {
      headers: { authorization: 'Bearer s3cret-bearer', cookie: 'session=s3cret-cookie' },
    });
    await call('/api/v1/boom', { headers: { authorization: 'Bearer s3cret-bearer' } });
    const completed = t.logs.filter((l) => l.msg === 'request completed');
    const entry = completed.find((l) => String(l.url).startsWith('/api/v1/nothing-here'));
    expect(entry).toMatchObject({ method: 'GET', status: 404 });
    expect(typeof entry?.duration_ms).toBe('number');
    const boom = completed.find((l) => l.url === '/api/v1/boom');
    expect(boom).toMatchObject({ route: '/api/v1/boom', status: 500 });
    // Every line of a request carries its id under one name (app.ts's log controller).
    expect(boom?.request_id).toEqual(expect.any(String));
    expect(t.logs.find((l) => l.msg === 'request failed')?.request_id).toBe(boom?.request_id);
    const all = JSON.stringify(t.logs);
    expect(all).not.toContain('s3cret');
  });
});
