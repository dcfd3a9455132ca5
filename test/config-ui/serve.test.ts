import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { CONFIG_UI_CSP } from '../../src/config-ui/headers.js';
import { loadSettings, SettingsError } from '../../src/settings.js';
import { freshDatabase, startTestApp, type TestApp } from '../fixture.js';

/** The policy the page is written for, spelled out here so that the constant cannot drift unnoticed. */
const EXPECTED_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; " +
  "object-src 'none'";

const PAGE_HEADERS = {
  'content-security-policy': EXPECTED_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const IMMUTABLE = 'public, max-age=31536000, immutable';

/** A hand-made build as Vite lays it out: index.html, hashed files under assets/, a favicon at the top. */
const JS = `${'export const line = "the Config UI script, long enough to be compressed";\n'.repeat(60)}`;
const CSS = `${'.editor { color: #222; background: #fafafa; font: 14px/1.4 monospace; }\n'.repeat(40)}`;
const INDEX = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Switchboard Config UI</title>
<link rel="icon" href="/config-ui/favicon.svg">
<script type="module" src="/config-ui/assets/index-AbC123xy.js"></script>
<link rel="stylesheet" href="/config-ui/assets/index-AbC123xy.css">
</head>
<body><div id="app"></div>
${'<!-- padding so that the page is over a kibibyte -->\n'.repeat(30)}</body>
</html>
`;
const SECRET = 'beside the build, never served';
const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7"/></svg>';

/** The build in a directory of its own, beside a file no request may reach. */
function fakeBuild(): string {
  const parent = mkdtempSync(join(tmpdir(), 'switchboard-config-ui-'));
  const dir = join(parent, 'build');
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(parent, 'secret.txt'), SECRET);
  writeFileSync(join(dir, 'index.html'), INDEX);
  writeFileSync(join(dir, 'assets', 'index-AbC123xy.js'), JS);
  writeFileSync(join(dir, 'assets', 'index-AbC123xy.css'), CSS);
  writeFileSync(join(dir, 'favicon.svg'), FAVICON);
  return dir;
}

const removeBuild = (dir: string) => rmSync(resolve(dir, '..'), { recursive: true, force: true });

const etagOf = (text: string) => `"${createHash('sha256').update(text).digest('base64url')}"`;

interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A request with its path sent exactly as written: fetch and undici's URL parsing would resolve `..` and
 * `%2e%2e` before sending, and decompress what they receive.
 */
function raw(base: string, path: string, headers: Record<string, string> = {}, method = 'GET') {
  const { hostname, port } = new URL(base);
  return new Promise<RawReply>((done, fail) => {
    const req = httpRequest({ host: hostname, port, path, method, headers }, (res) => {
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

const json = (reply: RawReply) => JSON.parse(reply.body.toString('utf8'));

function expectPageHeaders(reply: RawReply) {
  for (const [name, value] of Object.entries(PAGE_HEADERS)) expect(reply.headers[name], name).toBe(value);
}

function expectProblem404(reply: RawReply, code = 3002) {
  expect(reply.status).toBe(404);
  expect(reply.headers['content-type']).toMatch(/^application\/json/);
  const body = json(reply);
  expect(body.success).toBe(false);
  expect(body.error_detail.error_code).toBe(code);
  // An error is the API's: its strict policy, not the page's, and nothing of the page in it.
  expect(reply.headers['content-security-policy']).not.toBe(EXPECTED_CSP);
  expect(reply.headers['content-security-policy']).toContain("default-src 'none'");
  expect(reply.headers['cache-control']).toBe('no-store');
  expect(reply.body.toString()).not.toContain('Switchboard Config UI');
  return body;
}

describe('the Config UI, served from a build', () => {
  let dir: string;
  let t: TestApp;
  const get = (path: string, headers: Record<string, string> = {}) => raw(t.url, path, headers);

  beforeAll(async () => {
    dir = fakeBuild();
    t = await startTestApp({ env: { SWITCHBOARD_CONFIG_UI_DIR: dir } });
  });
  afterAll(async () => {
    await t?.close();
    removeBuild(dir);
  });

  it('keeps its policy in one constant: no inline script or style, no eval, no nonce', () => {
    expect(CONFIG_UI_CSP).toBe(EXPECTED_CSP);
    expect(CONFIG_UI_CSP).not.toMatch(/unsafe-inline|unsafe-eval|nonce-/);
  });

  it.each(['/config-ui/', '/config-ui/index.html', '/config-ui/?from=login'])(
    'answers %s with index.html, never stored',
    async (path) => {
      const reply = await get(path);
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(reply.headers['cache-control']).toBe('no-store');
      expect(reply.headers.etag).toBe(etagOf(INDEX));
      expect(reply.headers['content-encoding']).toBeUndefined();
      expect(reply.body.toString('utf8')).toBe(INDEX);
      expectPageHeaders(reply);
    },
  );

  it('answers the hashed assets as immutable for a year, typed by their names', async () => {
    const js = await get('/config-ui/assets/index-AbC123xy.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe(IMMUTABLE);
    expect(js.headers.etag).toBe(etagOf(JS));
    expect(js.body.toString('utf8')).toBe(JS);
    expectPageHeaders(js);

    const css = await get('/config-ui/assets/index-AbC123xy.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['cache-control']).toBe(IMMUTABLE);
    expect(css.body.toString('utf8')).toBe(CSS);
    expectPageHeaders(css);
  });

  it('answers the unhashed files at the top to be revalidated before each use', async () => {
    const icon = await get('/config-ui/favicon.svg');
    expect(icon.status).toBe(200);
    expect(icon.headers['content-type']).toBe('image/svg+xml');
    expect(icon.headers['cache-control']).toBe('no-cache');
    expect(icon.headers.etag).toBe(etagOf(FAVICON));
    expect(icon.body.toString('utf8')).toBe(FAVICON);
    expectPageHeaders(icon);
  });

  it('sends /config-ui to /config-ui/ with a 308, its query kept', async () => {
    const bare = await get('/config-ui');
    expect(bare.status).toBe(308);
    expect(bare.headers.location).toBe('/config-ui/');
    const withQuery = await get('/config-ui?tab=versions&v=1.4.0');
    expect(withQuery.status).toBe(308);
    expect(withQuery.headers.location).toBe('/config-ui/?tab=versions&v=1.4.0');
  });

  it('answers 304 to a matching If-None-Match, and the file to any other', async () => {
    for (const [path, body] of [
      ['/config-ui/', INDEX],
      ['/config-ui/assets/index-AbC123xy.js', JS],
      ['/config-ui/favicon.svg', FAVICON],
    ] as const) {
      const current = await get(path, { 'if-none-match': etagOf(body) });
      expect(current.status, path).toBe(304);
      expect(current.body.length).toBe(0);
      expect(current.headers.etag).toBe(etagOf(body));
      expectPageHeaders(current);
      // As a proxy that compressed it would have weakened it.
      expect((await get(path, { 'if-none-match': `"other", W/${etagOf(body)}` })).status).toBe(304);
      const stale = await get(path, { 'if-none-match': etagOf('an older build') });
      expect(stale.status, path).toBe(200);
      expect(stale.body.toString('utf8')).toBe(body);
    }
  });

  it('sends brotli, gzip or the bytes as they are, as Accept-Encoding prefers', async () => {
    for (const [path, body] of [
      ['/config-ui/', INDEX],
      ['/config-ui/assets/index-AbC123xy.js', JS],
      ['/config-ui/assets/index-AbC123xy.css', CSS],
    ] as const) {
      const br = await get(path, { 'accept-encoding': 'gzip, deflate, br' });
      expect(br.headers['content-encoding'], path).toBe('br');
      expect(br.headers.vary).toBe('accept-encoding');
      expect(br.body.length).toBeLessThan(Buffer.byteLength(body));
      expect(Number(br.headers['content-length'])).toBe(br.body.length);
      expect(brotliDecompressSync(br.body).toString('utf8')).toBe(body);
      expectPageHeaders(br);

      const gzip = await get(path, { 'accept-encoding': 'gzip;q=1, br;q=0.5' });
      expect(gzip.headers['content-encoding'], path).toBe('gzip');
      expect(gzip.headers.vary).toBe('accept-encoding');
      expect(gunzipSync(gzip.body).toString('utf8')).toBe(body);

      for (const accepted of [undefined, 'identity', 'deflate', 'br;q=0, gzip;q=0']) {
        const plain = await get(path, accepted === undefined ? {} : { 'accept-encoding': accepted });
        expect(plain.headers['content-encoding'], `${path} ${accepted}`).toBeUndefined();
        expect(plain.headers.vary).toBe('accept-encoding');
        expect(plain.body.toString('utf8')).toBe(body);
      }
    }
  });

  it('sends a file under a kibibyte as it is: nothing to gain, nothing to vary', async () => {
    const icon = await get('/config-ui/favicon.svg', { 'accept-encoding': 'br, gzip' });
    expect(icon.headers['content-encoding']).toBeUndefined();
    expect(icon.headers.vary).toBeUndefined();
    expect(icon.body.toString('utf8')).toBe(FAVICON);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    for (const [path, headers] of [
      ['/config-ui/', {}],
      ['/config-ui/assets/index-AbC123xy.js', { 'accept-encoding': 'br' }],
      ['/config-ui/favicon.svg', {}],
    ] as const) {
      const got = await get(path, headers);
      const head = await raw(t.url, path, headers, 'HEAD');
      expect(head.status, path).toBe(200);
      expect(head.body.length).toBe(0);
      for (const name of [
        'content-type',
        'content-length',
        'content-encoding',
        'etag',
        'cache-control',
        'vary',
      ]) {
        expect(head.headers[name], `${path} ${name}`).toBe(got.headers[name]);
      }
      expectPageHeaders(head);
    }
  });

  it.each([
    ['an unknown file', '/config-ui/missing.js'],
    ['an unknown asset', '/config-ui/assets/index-ZZZZZZZZ.js'],
    ['a directory', '/config-ui/assets/'],
    ['a screen of the page (no fallback to index.html)', '/config-ui/versions'],
    ['a dot-dot segment', '/config-ui/assets/../index.html'],
    ['a dot-dot segment out of the build', '/config-ui/../secret.txt'],
    ['an encoded dot-dot out of the build', '/config-ui/%2e%2e/secret.txt'],
    ['encoded dot-dots and slashes out of the build', '/config-ui/assets/..%2f..%2fsecret.txt'],
    ['an encoded dot-dot', '/config-ui/assets/%2e%2e/index.html'],
    ['an encoded dot-dot in capitals', '/config-ui/assets/%2E%2E/index.html'],
    ['encoded dot-dots out of the build', '/config-ui/%2e%2e/%2e%2e/package.json'],
    ['an encoded slash', '/config-ui/assets%2findex-AbC123xy.js'],
    ['an encoded backslash', '/config-ui/assets%5cindex-AbC123xy.js'],
    ['an encoded NUL', '/config-ui/index.html%00'],
    ['an empty segment', '/config-ui//index.html'],
    ['a dot segment', '/config-ui/./index.html'],
    ['an over-long path', `/config-ui/${'a'.repeat(10_000)}`],
    ['an over-long path of dot-dots', `/config-ui/${'../'.repeat(3_000)}index.html`],
  ])('answers %s with a 404 problem', async (_what, path) => {
    const reply = await get(path);
    const body = expectProblem404(reply);
    expect(body.error).not.toMatch(/not built/);
    expect(reply.body.toString()).not.toContain(SECRET);
  });

  it('serves only what was there at start: files added or changed since are not read', async () => {
    writeFileSync(join(dir, 'late.js'), 'export const late = true;\n');
    writeFileSync(join(dir, 'assets', 'late-AbC123xy.js'), 'export const late = true;\n');
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>changed</title>');
    expectProblem404(await get('/config-ui/late.js'));
    expectProblem404(await get('/config-ui/assets/late-AbC123xy.js'));
    const index = await get('/config-ui/');
    expect(index.body.toString('utf8')).toBe(INDEX);
    expect(index.headers.etag).toBe(etagOf(INDEX));
  });

  it("leaves the API's strict headers on its own answers", async () => {
    for (const path of ['/api/v1/auth/providers', '/api/v1/auth/me', '/healthz']) {
      const reply = await get(path);
      const csp = String(reply.headers['content-security-policy']);
      expect(csp, path).toMatch(/^default-src 'none';/);
      expect(csp, path).not.toContain('script-src');
      expect(reply.headers['cache-control'], path).toBe('no-store');
    }
  });

  it('needs no credentials, and sets no cookie', async () => {
    const reply = await get('/config-ui/');
    expect(reply.status).toBe(200);
    expect(reply.headers['set-cookie']).toBeUndefined();
  });
});

describe('the Config UI, not built', () => {
  let t: TestApp;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-config-ui-'));
    t = await startTestApp({ env: { SWITCHBOARD_CONFIG_UI_DIR: join(dir, 'not-there') } });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('warns once at start, naming the directory and how to build it', () => {
    const warnings = t.logs.filter((line) => line.level === 40 && /Config UI/.test(String(line.msg)));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain(join(dir, 'not-there'));
    expect(warnings[0]?.msg).toContain('npm run build');
    expect(warnings[0]?.config_ui_dir).toBe(join(dir, 'not-there'));
  });

  it.each(['/config-ui/', '/config-ui/index.html', '/config-ui/assets/index-AbC123xy.js'])(
    'answers %s with a 404 problem that says the page is not built and how to build it',
    async (path) => {
      const body = expectProblem404(await raw(t.url, path));
      expect(body.error).toMatch(/not built/);
      expect(body.error).toContain('npm run build');
      // The server's directories are the log's, not an anonymous caller's.
      expect(body.error).not.toContain(dir);
    },
  );

  it('counts a directory without index.html as not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'switchboard-config-ui-'));
    mkdirSync(join(empty, 'assets'));
    writeFileSync(join(empty, 'assets', 'index-AbC123xy.js'), JS);
    const other = await startTestApp({ env: { SWITCHBOARD_CONFIG_UI_DIR: empty } });
    try {
      const body = expectProblem404(await raw(other.url, '/config-ui/assets/index-AbC123xy.js'));
      expect(body.error).toMatch(/not built/);
      expect(
        other.logs.some((line) => line.level === 40 && /has no index\.html/.test(String(line.msg))),
      ).toBe(true);
    } finally {
      await other.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('the Config UI directory', () => {
  it("defaults to the package's own dist/ui/config-ui", () => {
    const root = resolve(new URL('../..', import.meta.url).pathname);
    expect(loadSettings({}).configUi.dir).toBe(join(root, 'dist', 'ui', 'config-ui'));
    expect(loadSettings({ SWITCHBOARD_CONFIG_UI_DIR: 'built/page' }).configUi.dir).toBe(
      resolve('built/page'),
    );
  });

  it.each([
    [
      'one file over 8 MiB',
      (dir: string) =>
        writeFileSync(join(dir, 'assets', 'huge-AbC123xy.js'), Buffer.alloc(8 * 1024 * 1024 + 1)),
      /assets\/huge-AbC123xy\.js is 8388609 bytes, over the 8 MiB one file/,
    ],
    [
      'files over 32 MiB in all',
      (dir: string) => {
        for (let i = 0; i < 5; i += 1)
          writeFileSync(join(dir, 'assets', `part${i}-AbC123xy.js`), Buffer.alloc(7 * 1024 * 1024));
      },
      /over the 32 MiB the whole page may have/,
    ],
  ])('stops the start when it holds %s, naming the setting', async (_what, fill, message) => {
    const dir = fakeBuild();
    fill(dir);
    const database = await freshDatabase();
    try {
      const settings = loadSettings({
        SWITCHBOARD_DATA_DIR: database.dataDir,
        SWITCHBOARD_DATABASE_URL: database.url,
        SWITCHBOARD_CONFIG_UI_DIR: dir,
      });
      const started = createApp(settings, {
        logStream: new Writable({ write: (_chunk, _encoding, done) => done() }),
      });
      await expect(started).rejects.toThrow(SettingsError);
      await expect(started).rejects.toThrow(message);
      await expect(started).rejects.toThrow(`SWITCHBOARD_CONFIG_UI_DIR=${dir}`);
    } finally {
      await database.drop();
      removeBuild(dir);
    }
  });
});
