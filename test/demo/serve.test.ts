import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_UI_CSP } from '../../src/config-ui/headers.js';
import { loadSettings } from '../../src/settings.js';
import { startTestApp, type TestApp } from '../fixture.js';

const JS = `${'export const tile = "the demo dashboard script, long enough to be compressed";\n'.repeat(60)}`;
const INDEX = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchboard demo dashboard</title>
<script type="module" src="/demo/assets/index-Dm0Xy12a.js"></script></head>
<body><div id="app"></div></body></html>
`;

/** A hand-made build where the server looks for it: `dashboard` beside the Config UI's directory. */
function fakeBuilds(): { parent: string; configUiDir: string } {
  const parent = mkdtempSync(join(tmpdir(), 'switchboard-demo-'));
  const dir = join(parent, 'dashboard');
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), INDEX);
  writeFileSync(join(dir, 'assets', 'index-Dm0Xy12a.js'), JS);
  writeFileSync(join(parent, 'secret.txt'), 'beside the build, never served');
  return { parent, configUiDir: join(parent, 'config-ui') };
}

interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The path sent exactly as written (fetch would resolve `..` before sending, and decompress). */
function raw(base: string, path: string, headers: Record<string, string> = {}) {
  const { hostname, port } = new URL(base);
  return new Promise<RawReply>((done, fail) => {
    const req = httpRequest({ host: hostname, port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end();
  });
}

const etagOf = (text: string) => `"${createHash('sha256').update(text).digest('base64url')}"`;

function expect404(reply: RawReply, detail: RegExp) {
  expect(reply.status).toBe(404);
  const body = JSON.parse(reply.body.toString('utf8'));
  expect(body.success).toBe(false);
  expect(body.error_detail.error_code).toBe(3002);
  expect(body.error).toMatch(detail);
  expect(reply.headers['content-security-policy']).not.toBe(CONFIG_UI_CSP);
}

describe('the demo dashboard, served', () => {
  let builds: { parent: string; configUiDir: string };
  beforeAll(() => {
    builds = fakeBuilds();
  });
  afterAll(() => rmSync(builds.parent, { recursive: true, force: true }));

  it('is off by default: the setting is false and /demo/ answers 404 saying how to turn it on', async () => {
    expect(loadSettings({}).demo.enabled).toBe(false);
    const t = await startTestApp({ env: { SWITCHBOARD_CONFIG_UI_DIR: builds.configUiDir } });
    try {
      for (const path of ['/demo/', '/demo/index.html', '/demo/assets/index-Dm0Xy12a.js']) {
        expect404(await raw(t.url, path), /SWITCHBOARD_DEMO=true/);
      }
    } finally {
      await t.close();
    }
  });

  describe('with SWITCHBOARD_DEMO=true', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({
        env: { SWITCHBOARD_DEMO: 'true', SWITCHBOARD_CONFIG_UI_DIR: builds.configUiDir },
      });
    });
    afterAll(async () => t?.close());

    it('answers /demo/ with its index.html, never stored, under the strict page policy', async () => {
      for (const path of ['/demo/', '/demo/index.html', '/demo/?workspace=Ops']) {
        const reply = await raw(t.url, path);
        expect(reply.status, path).toBe(200);
        expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(reply.headers['cache-control']).toBe('no-store');
        expect(reply.headers.etag).toBe(etagOf(INDEX));
        expect(reply.headers['content-security-policy']).toBe(CONFIG_UI_CSP);
        expect(reply.headers['x-content-type-options']).toBe('nosniff');
        expect(reply.headers['x-frame-options']).toBe('DENY');
        expect(reply.headers['referrer-policy']).toBe('no-referrer');
        expect(reply.body.toString('utf8')).toBe(INDEX);
      }
    });

    it('answers a hashed asset immutable, with a strong ETag, 304 and brotli or gzip', async () => {
      const path = '/demo/assets/index-Dm0Xy12a.js';
      const plain = await raw(t.url, path);
      expect(plain.status).toBe(200);
      expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(plain.headers.etag).toBe(etagOf(JS));
      expect(plain.body.toString('utf8')).toBe(JS);
      expect((await raw(t.url, path, { 'if-none-match': etagOf(JS) })).status).toBe(304);
      const br = await raw(t.url, path, { 'accept-encoding': 'br, gzip' });
      expect(br.headers['content-encoding']).toBe('br');
      expect(br.headers.vary).toBe('accept-encoding');
      expect(brotliDecompressSync(br.body).toString('utf8')).toBe(JS);
      const gz = await raw(t.url, path, { 'accept-encoding': 'gzip' });
      expect(gz.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(gz.body).toString('utf8')).toBe(JS);
    });

    it('answers 404 for a path the build does not have: no fallback to index.html, nothing outside it', async () => {
      for (const path of [
        '/demo/workspaces/Ops',
        '/demo/assets/missing.js',
        '/demo/../secret.txt',
        '/demo/%2e%2e/secret.txt',
        '/demo/assets%2f..%2f..%2fsecret.txt',
      ]) {
        expect404(await raw(t.url, path), /no such file/);
      }
    });

    it('leaves the Config UI as it was: not built here, so its own 404', async () => {
      expect404(await raw(t.url, '/config-ui/'), /Config UI is not built/);
    });
  });

  it('on but not built: 404 that says to build it, and a warning at start', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'switchboard-demo-empty-'));
    const t = await startTestApp({
      env: { SWITCHBOARD_DEMO: 'true', SWITCHBOARD_CONFIG_UI_DIR: join(empty, 'config-ui') },
    });
    try {
      expect404(await raw(t.url, '/demo/'), /not built.*npm run build/);
      expect(t.logs.some((line) => String(line.msg).startsWith('The demo dashboard is not built'))).toBe(
        true,
      );
    } finally {
      await t.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
