import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, errorCode, type Reply } from '../client.js';
import { startTestApp, type TestApp } from '../fixture.js';
import { integrityOf, npmTarball, TestRegistry } from './registry-fixture.js';

const GAUGE = {
  'package.json': '{"name":"@acme/gauge","version":"1.0.0"}',
  'dist/index.js': 'export const gauge = 1;\n',
  'dist/style.css': 'a{}',
  'index.html': '<!doctype html><script src="dist/index.js"></script>',
};

function widgetEnv(registry: TestRegistry, extra: Record<string, string> = {}) {
  return {
    SWITCHBOARD_WIDGETS_REGISTRY: registry.url,
    SWITCHBOARD_WIDGETS_ALLOWED_HOSTS: registry.host,
    SWITCHBOARD_WIDGETS_SCOPES: '@acme',
    SWITCHBOARD_WIDGETS_TIMEOUT: '2s',
    SWITCHBOARD_WIDGETS_MAX_BYTES: '1048576',
    SWITCHBOARD_RATE_LIMITS: 'widgets.register=off',
    SWITCHBOARD_CONCURRENCY_LIMITS: 'widgets.register=off',
    ...extra,
  };
}

describe('widget registry', () => {
  let registry: TestRegistry;
  let t: TestApp;
  let admin: Client;
  let adminToken: string;
  let viewerToken: string;

  beforeAll(async () => {
    registry = await TestRegistry.start();
    registry.publish('@acme/gauge', '1.0.0', { tarball: await npmTarball(GAUGE) });
    t = await startTestApp({ env: widgetEnv(registry) });
    const signedIn = await t.signIn(await t.createUser({ role: 'admin' }));
    admin = signedIn.client;
    adminToken = signedIn.accessToken;
    viewerToken = (await t.signIn(await t.createUser({ role: 'viewer' }))).accessToken;
  });
  afterAll(async () => {
    await t.close();
    await registry.close();
  });

  const register = (json: unknown) => admin.call('/api/v1/widgets', { json });
  const cacheDir = () => t.settings.widgets.cacheDir;
  /** What is left in the cache directory: bundles and any staging leftovers. */
  const onDisk = () => (existsSync(cacheDir()) ? readdirSync(cacheDir()) : []);
  const expectRefused = (res: Reply, status: number, code: number, pattern: RegExp) => {
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(errorCode(res)).toBe(code);
    expect(res.body.error).toMatch(pattern);
  };

  it('registers a bundle: fetched, verified, unpacked, listed; again is a 200', async () => {
    const res = await register({ package: '@acme/gauge', version: '1.0.0' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.data).toMatchObject({
      package: '@acme/gauge',
      version: '1.0.0',
      integrity: integrityOf(registry.packages.get('@acme/gauge')?.get('1.0.0')?.tarball as Buffer),
      files: 4,
    });
    const again = await register({ package: '@acme/gauge', version: '1.0.0' });
    expect(again.status).toBe(200);
    const listed = await t.client().call('/api/v1/widgets', { bearer: viewerToken });
    expect(listed.body.data).toEqual([
      expect.objectContaining({ package: '@acme/gauge', version: '1.0.0', cached: true }),
    ]);
    const [event] = await t.app.audit.list({ limit: 1, types: ['widget.registered'] });
    expect(event).toMatchObject({ outcome: 'success', targetType: 'widget', targetId: '@acme/gauge@1.0.0' });
  });

  it('serves its files to signed-in callers, immutable, sandboxed, with an ETag', async () => {
    const res = await t
      .client()
      .call('/widget-assets/@acme/gauge/1.0.0/dist/index.js', { bearer: viewerToken });
    expect(res.status).toBe(200);
    expect(res.body).toBe('export const gauge = 1;\n');
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.headers['cache-control']).toBe('private, max-age=31536000, immutable');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(String(res.headers['content-security-policy'])).toMatch(/^sandbox;/);
    const etag = String(res.headers.etag);
    const cached = await t.client().call('/widget-assets/@acme%2Fgauge/1.0.0/dist/index.js', {
      bearer: viewerToken,
      headers: { 'if-none-match': etag },
    });
    expect(cached.status).toBe(304);
    for (const header of [`W/${etag}`, `"other", ${etag}`, '*']) {
      const weak = await t.client().call('/widget-assets/@acme/gauge/1.0.0/dist/index.js', {
        bearer: viewerToken,
        headers: { 'if-none-match': header },
      });
      expect(weak.status, header).toBe(304);
    }
    const html = await t
      .client()
      .call('/widget-assets/@acme/gauge/1.0.0/index.html', { bearer: viewerToken });
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(String(html.headers['content-security-policy'])).toMatch(/^sandbox;/);
    expect((await t.client().call('/widget-assets/@acme/gauge/1.0.0/dist/index.js')).status).toBe(401);
  });

  it.each([
    '/widget-assets/@acme/gauge/1.0.0/../../../etc/passwd',
    '/widget-assets/@acme/gauge/1.0.0/%2e%2e/%2e%2e/package.json',
    '/widget-assets/@acme/gauge/1.0.0/dist/..%2f..%2fpackage.json',
    '/widget-assets/@acme/gauge/1.0.0/dist%5c..%5cindex.html',
    '/widget-assets/@acme/gauge/1.0.0/missing.js',
    '/widget-assets/@acme/gauge/9.9.9/dist/index.js',
    '/widget-assets/@acme/other/1.0.0/dist/index.js',
    '/widget-assets/@acme/gauge/1.0.0/',
    '/widget-assets/@acme/gauge/1.0.0/constructor',
    '/widget-assets/@acme/gauge/1.0.0/__proto__',
    '/widget-assets/@acme/gauge/1.0.0/toString',
  ])('answers %s with 404, fetching nothing', async (path) => {
    const fetched = [...registry.hits.values()].reduce((a, b) => a + b, 0);
    const res = await t.client().call(path, { bearer: viewerToken });
    expect(res.status).toBe(404);
    expect([...registry.hits.values()].reduce((a, b) => a + b, 0)).toBe(fetched);
  });

  it('refuses viewers (403) and a package outside the scopes, a range or a tag (422), keeping nothing', async () => {
    const byViewer = await t
      .client()
      .call('/api/v1/widgets', { bearer: viewerToken, json: { package: '@acme/gauge', version: '1.0.0' } });
    expect(byViewer.status).toBe(403);
    expectRefused(
      await register({ package: '@evil/gauge', version: '1.0.0' }),
      422,
      2000,
      /SWITCHBOARD_WIDGETS_SCOPES/,
    );
    expectRefused(await register({ package: 'gauge', version: '1.0.0' }), 422, 2000, /scoped npm package/);
    for (const version of ['^1.0.0', 'latest', '1.x', '>=1']) {
      expectRefused(await register({ package: '@acme/gauge', version }), 422, 2000, /exact version/);
    }
    expectRefused(await register({ package: '@acme/gauge', version: 1 }), 422, 2000, /version/);
    expect(onDisk().filter((name) => name.startsWith('.staging'))).toEqual([]);
  });

  it('refuses what fails verification (422 naming why) and leaves no file and no row behind', async () => {
    const good = await npmTarball({ 'index.js': 'ok' });
    const cases: [string, () => Promise<void>, RegExp][] = [
      [
        '1.0.1',
        async () =>
          registry.publish('@acme/bad', '1.0.1', {
            tarball: good,
            integrity: integrityOf(Buffer.from('other')),
          }),
        /does not match its integrity/,
      ],
      [
        '1.0.2',
        async () =>
          registry.publish('@acme/bad', '1.0.2', {
            tarball: await npmTarball({ 'a.js': 'x' }, { links: { 'evil.js': '/etc/passwd' } }),
          }),
        /SymbolicLink/,
      ],
      [
        '1.0.3',
        async () =>
          registry.publish('@acme/bad', '1.0.3', {
            tarball: await npmTarball({ 'a.js': 'x' }, { raw: ['../escape.js'] }),
          }),
        /climbs out/,
      ],
      [
        '1.0.4',
        async () =>
          registry.publish('@acme/bad', '1.0.4', {
            tarball: await npmTarball({ 'big.bin': Buffer.alloc(2 * 1024 * 1024, 7) }),
          }),
        /SWITCHBOARD_WIDGETS_MAX_BYTES/,
      ],
      [
        '1.0.5',
        async () =>
          registry.publish('@acme/bad', '1.0.5', { tarball: good, tarballUrl: 'http://127.0.0.2:9/x.tgz' }),
        /not in SWITCHBOARD_WIDGETS_ALLOWED_HOSTS/,
      ],
      [
        '1.0.6',
        async () =>
          registry.publish('@acme/bad', '1.0.6', {
            tarball: good,
            integrity: 'sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=',
          }),
        /no sha512 integrity/,
      ],
      [
        '1.0.7',
        async () => {
          registry.publish('@acme/bad', '1.0.7', { tarball: good });
          registry.redirects.set('/tarballs/%40acme%2Fbad/-/1.0.7.tgz', 'http://127.0.0.2:9/elsewhere.tgz');
        },
        /not in SWITCHBOARD_WIDGETS_ALLOWED_HOSTS/,
      ],
      [
        '1.0.8',
        async () => registry.publish('@acme/bad', '1.0.8', { tarball: Buffer.from('not a tarball at all') }),
        /cannot be read/,
      ],
    ];
    for (const [version, setUp, reason] of cases) {
      await setUp();
      const res = await register({ package: '@acme/bad', version });
      expectRefused(res, 422, 2000, reason);
      expect(await t.app.widgets.list()).not.toContainEqual(
        expect.objectContaining({ package: '@acme/bad' }),
      );
    }
    expect(onDisk().filter((name) => name.startsWith('.staging'))).toEqual([]);
    expect(existsSync(`${cacheDir()}/${encodeURIComponent('@acme/bad')}`)).toBe(false);
    expectRefused(
      await register({ package: '@acme/nothing', version: '1.0.0' }),
      422,
      2000,
      /has no package/,
    );
  });

  it('answers 502 code 7000 when the registry fails and 504 code 7001 when it hangs', async () => {
    registry.publish('@acme/flaky', '1.0.0', { tarball: await npmTarball({ 'a.js': 'x' }) });
    registry.failing.add('/@acme%2fflaky');
    expectRefused(await register({ package: '@acme/flaky', version: '1.0.0' }), 502, 7000, /registry failed/);
    registry.failing.clear();
    registry.hanging.add('/@acme%2fflaky');
    expectRefused(
      await register({ package: '@acme/flaky', version: '1.0.0' }),
      504,
      7001,
      /did not answer in time/,
    );
    registry.hanging.clear();
  });

  it('fetches a bundle once however many ask at once', async () => {
    registry.publish('@acme/popular', '2.0.0', { tarball: await npmTarball({ 'a.js': 'x' }) });
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => register({ package: '@acme/popular', version: '2.0.0' })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(registry.hits.get('/tarballs/%40acme%2Fpopular/-/2.0.0.tgz')).toBe(1);
  });

  it('fetches a bundle gone from disk again, checked against the integrity stored at registration', async () => {
    registry.publish('@acme/restore', '1.0.0', {
      tarball: await npmTarball({ 'a.js': 'first', 'b.js': 'second' }),
    });
    expect((await register({ package: '@acme/restore', version: '1.0.0' })).status).toBe(201);
    const { rmSync } = await import('node:fs');
    rmSync(`${cacheDir()}/${encodeURIComponent('@acme/restore')}`, { recursive: true, force: true });
    const back = await t.client().call('/widget-assets/@acme/restore/1.0.0/a.js', { bearer: viewerToken });
    expect(back.status).toBe(200);
    expect(back.body).toBe('first');
    // The registry now serves other bytes under the same version: never served (a file already in memory
    // is still the approved one; another one needs the bundle fetched again).
    registry.publish('@acme/restore', '1.0.0', { tarball: await npmTarball({ 'a.js': 'tampered' }) });
    rmSync(`${cacheDir()}/${encodeURIComponent('@acme/restore')}`, { recursive: true, force: true });
    const tampered = await t
      .client()
      .call('/widget-assets/@acme/restore/1.0.0/b.js', { bearer: viewerToken });
    expect(tampered.status).toBe(502);
    expect(errorCode(tampered)).toBe(7000);
    expect(tampered.body.error).toMatch(/does not match its integrity/);
  });

  it('never serves bytes that were not approved: a file changed on disk is unpacked again, one added is not served', async () => {
    const { writeFileSync } = await import('node:fs');
    const dir = `${cacheDir()}/${encodeURIComponent('@acme/gauge')}/1.0.0`;
    // A file not read yet, so not in memory.
    writeFileSync(`${dir}/dist/style.css`, 'body{background:url(//evil.example)}');
    writeFileSync(`${dir}/dist/extra.js`, 'alert("added")');
    const served = await t
      .client()
      .call('/widget-assets/@acme/gauge/1.0.0/dist/style.css', { bearer: viewerToken });
    expect(served.status).toBe(200);
    expect(served.body).toBe('a{}');
    const added = await t
      .client()
      .call('/widget-assets/@acme/gauge/1.0.0/dist/extra.js', { bearer: viewerToken });
    expect(added.status).toBe(404);
  });

  it('removes a bundle: its files and row go, then 404', async () => {
    registry.publish('@acme/gone', '1.0.0', { tarball: await npmTarball({ 'a.js': 'x' }) });
    expect((await register({ package: '@acme/gone', version: '1.0.0' })).status).toBe(201);
    const removed = await admin.call('/api/v1/widgets/@acme/gone/1.0.0', { method: 'DELETE' });
    expect(removed.status).toBe(204);
    expect(existsSync(`${cacheDir()}/${encodeURIComponent('@acme/gone')}/1.0.0`)).toBe(false);
    expect(
      (await t.client().call('/widget-assets/@acme/gone/1.0.0/a.js', { bearer: viewerToken })).status,
    ).toBe(404);
    expect((await admin.call('/api/v1/widgets/@acme%2Fgone/1.0.0', { method: 'DELETE' })).status).toBe(404);
    expect(
      (await t.client().call('/api/v1/widgets/@acme/gauge/1.0.0', { method: 'DELETE', bearer: viewerToken }))
        .status,
    ).toBe(403);
    expect(adminToken).toBeTruthy();
  });
});

describe('widget registration off', () => {
  it('answers POST /widgets with 409 code 4000 without a registry', async () => {
    const t = await startTestApp();
    try {
      const { client } = await t.signIn(await t.createUser({ role: 'admin' }));
      const res = await client.call('/api/v1/widgets', {
        json: { package: '@acme/gauge', version: '1.0.0' },
      });
      expect(res.status).toBe(409);
      expect(errorCode(res)).toBe(4000);
      expect(res.body.error).toMatch(/SWITCHBOARD_WIDGETS_REGISTRY/);
    } finally {
      await t.close();
    }
  });
});

describe('widgets on a second instance', () => {
  it('fetches the registered bundles into its own cache at start, verified, without delaying readiness', async () => {
    const registry = await TestRegistry.start();
    registry.publish('@acme/shared', '1.2.3', { tarball: await npmTarball({ 'w.js': 'shared' }) });
    const a = await startTestApp({ env: widgetEnv(registry) });
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const otherCache = mkdtempSync(`${tmpdir()}/widgets-b-`);
    try {
      const { client } = await a.signIn(await a.createUser({ role: 'admin' }));
      expect(
        (await client.call('/api/v1/widgets', { json: { package: '@acme/shared', version: '1.2.3' } }))
          .status,
      ).toBe(201);
      const b = await startTestApp({
        env: widgetEnv(registry, { SWITCHBOARD_WIDGETS_CACHE_DIR: otherCache }),
        shareDatabaseWith: a,
      });
      try {
        const bundle = `${otherCache}/${encodeURIComponent('@acme/shared')}/1.2.3/w.js`;
        for (let i = 0; i < 50 && !existsSync(bundle); i += 1) await new Promise((r) => setTimeout(r, 100));
        expect(existsSync(bundle)).toBe(true);
        const { accessToken } = await b.signIn(await b.createUser());
        const served = await b
          .client()
          .call('/widget-assets/@acme/shared/1.2.3/w.js', { bearer: accessToken });
        expect(served.body).toBe('shared');
        expect(registry.hits.get('/tarballs/%40acme%2Fshared/-/1.2.3.tgz')).toBe(2);
        // Removed on A: B stops serving it within two seconds (it remembers registrations that long).
        const removed = await client.call('/api/v1/widgets/@acme/shared/1.2.3', { method: 'DELETE' });
        expect(removed.status).toBe(204);
        const startedAt = Date.now();
        let status = 200;
        while (status === 200 && Date.now() - startedAt < 4000) {
          status = (await b.client().call('/widget-assets/@acme/shared/1.2.3/w.js', { bearer: accessToken }))
            .status;
          if (status === 200) await new Promise((r) => setTimeout(r, 100));
        }
        expect(status).toBe(404);
      } finally {
        await b.close();
      }
    } finally {
      await a.close();
      await registry.close();
    }
  });
});
