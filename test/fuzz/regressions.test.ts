import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engine, type SignedIn, startTestApp, type TestApp } from '../fixture.js';

/**
 * Defects the fuzz suite found, each pinned by requests of its own. They run in `npm test` too (they are
 * quick); the fuzzing itself is `npm run test:fuzz`.
 */

let t: TestApp;
let admin: SignedIn;
beforeAll(async () => {
  t = await startTestApp({
    env: {
      SWITCHBOARD_LOG_LEVEL: 'warn',
      SWITCHBOARD_ENDPOINT_HOSTS: '127.0.0.1:9',
      SWITCHBOARD_RATE_LIMITING: 'false',
    },
    // A handler that fails the way the masking of long secrets did: a SyntaxError of its own making.
    routes: async (api) => {
      api.post('/test/syntax-error', { config: { access: { public: true } } }, async () => {
        return 'text'.replace(new RegExp(`${'('.repeat(2)}`), '');
      });
    },
  });
  admin = await t.signIn(await t.createUser({ role: 'admin' }));
});
afterAll(async () => {
  await t?.close();
});

/** A secret longer than the 32,767 characters V8 compiles as one literal of a regular expression. */
const LONG_SECRET = `s3cr3t-${'k'.repeat(40_000)}`;

const save = (config: unknown, activate = false) =>
  admin.client.call('/api/v1/config', { json: { config, activate } });

describe('found by fuzzing', () => {
  it("a SyntaxError of the server's own is a 500 in its log, not a 400 blaming the body", async () => {
    const res = await t.client().call('/api/v1/test/syntax-error', { method: 'POST', json: { fine: true } });
    expect(res.status).toBe(500);
    expect(res.body.error_detail.error_code).toBe(8000);
    expect(t.logs.some((line) => line.msg === 'request failed' && line.level === 50)).toBe(true);
    // The body parser's own refusal stays a 400.
    const bad = await t.client().call('/api/v1/test/syntax-error', {
      method: 'POST',
      body: '{"a":',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('body is not valid JSON');
  });

  it('text holding U+0000 is refused, never a 500 (PostgreSQL stores no NUL in text)', async () => {
    // Before, on PostgreSQL: each of these was a 500 ("invalid byte sequence for encoding UTF8: 0x00").
    const nul = '\u0000';
    const probes: [string, string, unknown?][] = [
      ['POST', '/api/v1/auth/login', { username: `a${nul}b`, password: 'x' }],
      ['POST', '/api/v1/auth/api-keys', { name: `k${nul}`, role: 'viewer' }],
      ['GET', '/api/v1/users?q=%00'],
      ['GET', '/api/v1/audit?actor=%00'],
      ['GET', '/api/v1/config?version=%00'],
      ['DELETE', '/api/v1/users/%00'],
      ['DELETE', '/api/v1/auth/sessions/%00'],
      ['POST', '/api/v1/config', { config: {}, message: `m${nul}`, activate: false }],
    ];
    for (const [method, path, json] of probes) {
      const res = await admin.client.call(path, { method, ...(json === undefined ? {} : { json }) });
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body).slice(0, 200)}`).toBeLessThan(500);
      if (engine === 'postgres' && res.status === 400) expect(res.body.error).toMatch(/U\+0000/);
    }
  });

  it('an event nested 20,000 deep is refused when published, not stored to break every stream of it', async () => {
    const saved = await save(
      {
        endpoints: { closed: { url: 'http://127.0.0.1:9/x', retries: 0 } },
        streams: { 'deep.events': { endpoint: 'closed', interval: '1h' } },
      },
      true,
    );
    expect(saved.status, JSON.stringify(saved.body).slice(0, 300)).toBe(201);
    // Before: a 202; then every snapshot or frame of it threw "Maximum call stack size exceeded".
    const deep = `${'['.repeat(20_000)}1${']'.repeat(20_000)}`;
    const refused = await admin.client.call('/api/v1/streams/deep.events/publish', {
      method: 'POST',
      body: deep,
      headers: { 'content-type': 'application/json' },
    });
    expect(refused.status, JSON.stringify(refused.body).slice(0, 300)).toBe(422);
    expect(refused.body.error_detail.errors[0].pointer).toBe('');
    // 32 levels are fine, and reach a subscriber.
    const fine = `${'['.repeat(32)}1${']'.repeat(32)}`;
    const published = await admin.client.call('/api/v1/streams/deep.events/publish', {
      method: 'POST',
      body: fine,
      headers: { 'content-type': 'application/json' },
    });
    expect(published.status).toBe(202);
    const controller = new AbortController();
    const res = await fetch(`${t.url}/api/v1/streams/deep.events/events`, {
      headers: { authorization: `Bearer ${admin.accessToken}` },
      signal: controller.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('event: snapshot')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    expect(text).toContain(fine);
  });

  it('the OpenAPI document has `limit` optional, as the lists take it', async () => {
    // Before: every paginated list documented `limit` as required; a client built from the document had
    // to send it, and a request without it (answered with 50) did not follow the document.
    const doc = (await t.client().call('/openapi.json')).body;
    const limits = Object.values<any>(doc.paths).flatMap((item) =>
      Object.values<any>(item).flatMap((op) => (op.parameters ?? []).filter((p: any) => p.name === 'limit')),
    );
    expect(limits.length).toBe(5);
    for (const limit of limits) expect(limit.required).toBe(false);
    const users = await admin.client.call('/api/v1/users');
    expect(users.status).toBe(200);
    expect(users.body.pagination.limit).toBe(50);
  });

  it('a configuration whose vars are not an object is refused, not saved with the vars left out', async () => {
    // Before: -1.5 was read as {} and the version saved (201), ["x"] as {"0": "x"}; a null variable was a 500.
    for (const [vars, pointer] of [
      [-1.5, '/config/vars'],
      [['x'], '/config/vars'],
      ['text', '/config/vars'],
      [{ a: null }, '/config/vars/a'],
    ] as const) {
      const res = await save({ vars });
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(422);
      expect(res.body.error_detail.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    }
    const raw = await admin.client.call('/api/v1/config', { json: { vars: 7 } });
    expect(raw.status).toBe(422);
    expect(raw.body.error_detail.errors[0].pointer).toBe('/vars');
  });

  it('a version with a secret of 40,000 characters that cannot load is refused with a 422, masked', async () => {
    const saved = await save({
      vars: {
        long: { value: LONG_SECRET, secret: true },
        missing: '${env:SWITCHBOARD_VAR_NOT_SET_HERE}',
      },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(201);
    const version = saved.body.data.version;
    // Before: masking the reason threw "Regular expression too large", answered as a 400 about the body.
    const activated = await admin.client.call(`/api/v1/config/versions/${version}/activate`, {
      method: 'POST',
      json: {},
    });
    expect(activated.status, JSON.stringify(activated.body).slice(0, 300)).toBe(422);
    expect(activated.body.error).toMatch(/SWITCHBOARD_VAR_NOT_SET_HERE/);
    const versions = await admin.client.call('/api/v1/config/versions');
    expect(versions.body.data.recovery).toBe(true);
  });

  it('a stream polling with a secret of 40,000 characters reports its failures, masked', async () => {
    const saved = await save(
      {
        vars: { long: { value: LONG_SECRET, secret: true } },
        endpoints: { closed: { url: 'http://127.0.0.1:9/x', headers: { 'X-Key': '${long}' }, retries: 0 } },
        streams: { 'long.secret': { endpoint: 'closed', interval: '1s' } },
      },
      true,
    );
    expect(saved.status, JSON.stringify(saved.body).slice(0, 300)).toBe(201);
    expect(saved.body.data.active).toBe(true);
    // Before: the producer's masking threw on its first failure, and no status ever came.
    let latest: { data: any } | undefined;
    for (const deadline = Date.now() + 10_000; !latest && Date.now() < deadline; ) {
      latest = (await t.app.live.bus.latest('status:long.secret')) as { data: any } | undefined;
      if (!latest) await new Promise((r) => setTimeout(r, 50));
    }
    expect(latest?.data.state).toBe('error');
    expect(JSON.stringify(latest?.data)).not.toContain('kkkkkkkk');
  });
});
