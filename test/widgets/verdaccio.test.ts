import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, errorCode, type Reply } from '../client.js';
import { engine, startTestApp, type TestApp } from '../fixture.js';
import { type Published, Verdaccio } from './verdaccio-fixture.js';

/** The good paths of the widget registry against a real npm registry: Verdaccio 6, in this process. */

const GAUGE = {
  'index.html': '<!doctype html><script src="dist/index.js"></script>',
  'dist/index.js': 'export const gauge = 1;\n',
  'dist/style.css': 'a{}',
  // Every byte value, so that nothing on the way treats the file as text.
  'img/logo.png': Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) % 256)),
};
const CONTENT_TYPES: Record<string, string> = {
  'package.json': 'application/json; charset=utf-8',
  'index.html': 'text/html; charset=utf-8',
  'dist/index.js': 'text/javascript; charset=utf-8',
  'dist/style.css': 'text/css; charset=utf-8',
  'img/logo.png': 'image/png',
};
const IMMUTABLE = 'private, max-age=31536000, immutable';

describe(`widget registry against Verdaccio 6.8.0 (${engine})`, () => {
  let verdaccio: Verdaccio;
  let t: TestApp;
  let admin: Client;
  let adminName: string;
  let viewerToken: string;
  const published = new Map<string, Published>();

  beforeAll(async () => {
    verdaccio = await Verdaccio.start();
    published.set('1.0.0', await verdaccio.publish('@acme/gauge', '1.0.0', GAUGE));
    published.set(
      '1.1.0',
      await verdaccio.publish('@acme/gauge', '1.1.0', {
        ...GAUGE,
        'dist/index.js': 'export const gauge = 2;\n',
      }),
    );
    // In the registry, outside the allowed scope: refused for its name, never fetched.
    await verdaccio.publish('@other/gauge', '1.0.0', GAUGE);
    t = await startTestApp({
      env: {
        SWITCHBOARD_WIDGETS_REGISTRY: verdaccio.url,
        SWITCHBOARD_WIDGETS_ALLOWED_HOSTS: verdaccio.host,
        SWITCHBOARD_WIDGETS_SCOPES: '@acme',
        SWITCHBOARD_WIDGETS_TIMEOUT: '5s',
        SWITCHBOARD_RATE_LIMITS: 'widgets.register=off',
        SWITCHBOARD_CONCURRENCY_LIMITS: 'widgets.register=off',
      },
    });
    const adminUser = await t.createUser({ role: 'admin' });
    adminName = adminUser.username;
    admin = (await t.signIn(adminUser)).client;
    viewerToken = (await t.signIn(await t.createUser({ role: 'viewer' }))).accessToken;
  });
  afterAll(async () => {
    await t?.close();
    await verdaccio?.close();
  });

  const register = (json: unknown) => admin.call('/api/v1/widgets', { json });
  const cacheDir = () => t.settings.widgets.cacheDir;
  const bundleDir = (version: string) => `${cacheDir()}/${encodeURIComponent('@acme/gauge')}/${version}`;
  /** A widget file's bytes as sent, not decoded as text. */
  const asset = async (path: string, headers: Record<string, string> = {}) => {
    const res = await request(`${t.url}/widget-assets/${path}`, { headers });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  };
  const expectRefused = (res: Reply, pattern: RegExp) => {
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(errorCode(res)).toBe(2000);
    expect(res.body.error).toMatch(pattern);
  };
  const sizeOf = (files: Record<string, Buffer>) => Object.values(files).reduce((n, f) => n + f.length, 0);

  it('registers a published version: 201 with the integrity Verdaccio gives, listed as cached; again 200', async () => {
    const release = published.get('1.0.0') as Published;
    const dist = (await verdaccio.metadata('@acme/gauge')).versions['1.0.0']?.dist;
    expect(dist?.integrity).toBe(release.integrity);
    const res = await register({ package: '@acme/gauge', version: '1.0.0' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data).toEqual({
      package: '@acme/gauge',
      version: '1.0.0',
      integrity: dist?.integrity,
      files: 5,
      size: sizeOf(release.files),
      registered_by: adminName,
      registered_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    // Its metadata once, then the tarball at the URL Verdaccio wrote (through the allowed host).
    expect(verdaccio.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /@acme%2fgauge 200',
      'GET /@acme/gauge/-/gauge-1.0.0.tgz 200',
    ]);
    expect(readdirSync(bundleDir('1.0.0')).sort()).toEqual(['dist', 'img', 'index.html', 'package.json']);

    const listed = await t.client().call('/api/v1/widgets', { bearer: viewerToken });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toEqual([{ ...res.body.data, cached: true }]);

    const again = await register({ package: '@acme/gauge', version: '1.0.0' });
    expect(again.status).toBe(200);
    expect(again.body.data).toEqual(res.body.data);
    expect(verdaccio.requests).toHaveLength(2);
  });

  it('serves the exact bytes published, immutable, sandboxed, with an ETag; 304 on a match; 401 without credentials', async () => {
    const release = published.get('1.0.0') as Published;
    const bearer = { authorization: `Bearer ${viewerToken}` };
    expect(Object.keys(release.files).sort()).toEqual(Object.keys(CONTENT_TYPES).sort());
    for (const [path, bytes] of Object.entries(release.files)) {
      const res = await asset(`@acme/gauge/1.0.0/${path}`, bearer);
      expect(res.status, path).toBe(200);
      expect(res.body.equals(bytes), path).toBe(true);
      expect(res.headers['content-type'], path).toBe(CONTENT_TYPES[path]);
      expect(res.headers['cache-control'], path).toBe(IMMUTABLE);
      expect(String(res.headers['content-security-policy']), path).toMatch(/^sandbox;/);
      const etag = `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
      expect(res.headers.etag, path).toBe(etag);
      const unchanged = await asset(`@acme%2Fgauge/1.0.0/${path}`, { ...bearer, 'if-none-match': etag });
      expect(unchanged.status, path).toBe(304);
      expect(unchanged.body.length, path).toBe(0);
      expect((await asset(`@acme/gauge/1.0.0/${path}`)).status, path).toBe(401);
    }
    // Served from the cache: Verdaccio was not asked again.
    expect(verdaccio.requests).toHaveLength(2);
  });

  it('refuses a version Verdaccio does not have, a range, a tag, an unscoped package and another scope (422), keeping nothing', async () => {
    const before = verdaccio.requests.length;
    const missing = await register({ package: '@acme/gauge', version: '1.9.9' });
    expectRefused(missing, /the registry has no version 1\.9\.9 of @acme\/gauge/);
    expect(missing.body.error_detail.errors).toEqual([{ pointer: '/version', message: expect.any(String) }]);
    // Only the metadata was read.
    expect(verdaccio.requests.slice(before).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /@acme%2fgauge 200',
    ]);

    const asked = verdaccio.requests.length;
    for (const version of ['^1.0.0', '~1.1.0', '1.x', 'latest']) {
      expectRefused(await register({ package: '@acme/gauge', version }), /exact version/);
    }
    expectRefused(await register({ package: 'gauge', version: '1.0.0' }), /scoped npm package/);
    expectRefused(
      await register({ package: '@other/gauge', version: '1.0.0' }),
      /SWITCHBOARD_WIDGETS_SCOPES/,
    );
    // Refused for what was asked: nothing was fetched.
    expect(verdaccio.requests).toHaveLength(asked);

    expect((await t.app.widgets.list()).map((w) => `${w.package}@${w.version}`)).toEqual([
      '@acme/gauge@1.0.0',
    ]);
    expect(readdirSync(cacheDir())).toEqual([encodeURIComponent('@acme/gauge')]);
    expect(readdirSync(`${cacheDir()}/${encodeURIComponent('@acme/gauge')}`)).toEqual(['1.0.0']);
  });

  it('fetches a version once when eight register it at once: one 201, seven 200', async () => {
    const release = published.get('1.1.0') as Published;
    const before = verdaccio.requests.length;
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => register({ package: '@acme/gauge', version: '1.1.0' })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    for (const answer of answers) {
      expect(answer.body.data).toMatchObject({
        version: '1.1.0',
        integrity: release.integrity,
        files: 5,
        size: sizeOf(release.files),
      });
    }
    expect(verdaccio.tarballServed('@acme/gauge', '1.1.0')).toBe(1);
    expect(verdaccio.requests.slice(before).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /@acme%2fgauge 200',
      'GET /@acme/gauge/-/gauge-1.1.0.tgz 200',
    ]);
    const served = await asset('@acme/gauge/1.1.0/dist/index.js', { authorization: `Bearer ${viewerToken}` });
    expect(served.body.toString()).toBe('export const gauge = 2;\n');
  });

  it('removes a version: 204, its directory gone, its files 404; the other version stays', async () => {
    const removed = await admin.call('/api/v1/widgets/@acme/gauge/1.0.0', { method: 'DELETE' });
    expect(removed.status, JSON.stringify(removed.body)).toBe(204);
    expect(existsSync(bundleDir('1.0.0'))).toBe(false);
    expect(existsSync(bundleDir('1.1.0'))).toBe(true);
    const before = verdaccio.requests.length;
    const bearer = { authorization: `Bearer ${viewerToken}` };
    for (const path of Object.keys(GAUGE)) {
      expect((await asset(`@acme/gauge/1.0.0/${path}`, bearer)).status, path).toBe(404);
      expect((await asset(`@acme/gauge/1.1.0/${path}`, bearer)).status, path).toBe(200);
    }
    // Gone is gone: not fetched again.
    expect(verdaccio.requests).toHaveLength(before);
    const listed = await t.client().call('/api/v1/widgets', { bearer: viewerToken });
    expect(listed.body.data.map((w: { version: string }) => w.version)).toEqual(['1.1.0']);
    expect((await admin.call('/api/v1/widgets/@acme/gauge/1.0.0', { method: 'DELETE' })).status).toBe(404);
  });
});
