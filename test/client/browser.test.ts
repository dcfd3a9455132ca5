import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp, type TestUser } from '../fixture.js';
import { freePort } from '../ports.js';
import { bundleClient } from './bundle.js';
import { declare } from './harness.js';

/** Where the page and the bundle are served from: the server's own origin, answered by the browser. */
const PAGE = '/client-test/index.html';

/**
 * The client bundled with esbuild and run in Debian's chromium against a real server: the page is on the
 * server's origin (its requests go to the server), cookies and the CSRF header are the browser's, the
 * WebSocket is the browser's own.
 */
describe('@switchboard/client in a browser', () => {
  let t: TestApp;
  let url: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let viewer: TestUser;
  const errors: string[] = [];

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    t = await startTestApp({
      env: {
        PORT: String(port),
        SWITCHBOARD_PUBLIC_URL: url,
        SWITCHBOARD_LOG_LEVEL: 'warn',
        SWITCHBOARD_RATE_LIMITS: 'login.ip=off,login.username=off,tickets.issue=off',
      },
    });
    viewer = await t.createUser({ role: 'viewer' });
    declare(t, 'plant.feed');
    const bundle = await bundleClient();
    // The page comes from the test (a route the browser answers), not from the loopback server, so
    // Chromium's Local Network Access checks would take it for a public page reaching into loopback and
    // block its WebSocket (the client then falls back to SSE, as it should). A page the server itself
    // served would not meet the check; the test's way of serving it is what is set aside here.
    const executablePath = process.env.SWITCHBOARD_TEST_BROWSER;
    if (!executablePath) throw new Error('SWITCHBOARD_TEST_BROWSER is not set');
    browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-features=LocalNetworkAccessChecks'],
    });
    context = await browser.newContext();
    context.setDefaultTimeout(10_000);
    await context.route(`${url}/client-test/**`, (route) => {
      const path = new URL(route.request().url()).pathname;
      if (path === PAGE) {
        return route.fulfill({
          contentType: 'text/html',
          body: `<!doctype html><title>client</title><script type="module">
            import * as client from '/client-test/client.js';
            window.client = client;
            window.ready = true;
          </script>`,
        });
      }
      return route.fulfill({ contentType: 'text/javascript', body: bundle.code });
    });
    page = await context.newPage();
    // Keeps the page's sockets within reach, so a test can drop them as a network failure would.
    await page.addInitScript(`(() => {
      const Native = window.WebSocket;
      window.sockets = [];
      window.WebSocket = class extends Native {
        constructor(...args) { super(...args); window.sockets.push(this); }
      };
    })();`);
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${url}${PAGE}`);
    await page.waitForFunction(() => (window as any).ready === true);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('signs in with cookies, calls typed routes and writes with the CSRF header', async () => {
    const result = await page.evaluate(
      async ({ username, password }) => {
        const { Switchboard, unwrap } = (window as any).client;
        const sb = new Switchboard({ baseUrl: location.origin });
        (window as any).sb = sb;
        const user = await sb.signIn(username, password);
        const me = await unwrap(sb.api.GET('/api/v1/auth/me'));
        const prefs = await sb.preferences.patch({ theme: 'night' });
        let refused = null;
        try {
          await unwrap(sb.api.GET('/api/v1/users'));
        } catch (error: any) {
          refused = { name: error.name, status: error.status, code: error.code };
        }
        return {
          mode: sb.session.mode,
          user: user.username,
          me: me.username,
          theme: prefs.theme,
          refused,
          cookieHasCsrf: document.cookie.includes('csrf_token='),
        };
      },
      { username: viewer.username, password: viewer.password },
    );
    expect(result).toEqual({
      mode: 'cookies',
      user: viewer.username,
      me: viewer.username,
      theme: 'night',
      refused: { name: 'SwitchboardError', status: 403, code: 1001 },
      cookieHasCsrf: true,
    });
  });

  it('follows a channel over the browser WebSocket, and recovers what it missed after the socket drops', async () => {
    await page.evaluate(() => {
      const w = window as any;
      w.received = [];
      w.states = [];
      w.sb.live.on('state', (s: string) => w.states.push(s));
      w.sub = w.sb.live.subscribe('plant.feed', { event: (e: any) => w.received.push(e.data.n) });
    });
    await pageUntil(page, () => (window as any).sb.live.state === 'live', 'live');
    expect(await page.evaluate(() => (window as any).sb.live.transportName)).toBe('websocket');
    await t.app.live.bus.publish('plant.feed', { n: 0 });
    await waitForCount(page, 1);
    // The socket drops; 200 events go out before the client is back.
    await page.evaluate(() => {
      for (const socket of (window as any).sockets) socket.close();
    });
    for (let n = 1; n <= 200; n++) await t.app.live.bus.publish('plant.feed', { n });
    await waitForCount(page, 201);
    await pageUntil(page, () => (window as any).sb.live.state === 'live', 'live again');
    expect(await page.evaluate(() => (window as any).states)).toContain('recovering');
    expect(await page.evaluate(() => (window as any).sockets.length)).toBe(2);
    const received = await page.evaluate(() => (window as any).received);
    expect(received).toEqual(Array.from({ length: 201 }, (_, n) => n));
  });

  it('falls back to Server-Sent Events (fetch-based, with the cookie) when asked', async () => {
    const result = await page.evaluate(async () => {
      const w = window as any;
      const { Switchboard } = w.client;
      const sse = new Switchboard({ baseUrl: location.origin, live: { transport: 'sse' } });
      await sse.me();
      w.sseReceived = [];
      sse.live.subscribe('plant.feed', { event: (e: any) => w.sseReceived.push(e.data.n) });
      const deadline = Date.now() + 10_000;
      while (sse.live.state !== 'live' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      w.sse = sse;
      return { state: sse.live.state, transport: sse.live.transportName };
    });
    expect(result).toEqual({ state: 'live', transport: 'sse' });
    await t.app.live.bus.publish('plant.feed', { n: 'sse' });
    await pageUntil(page, () => (window as any).sseReceived.includes('sse'), 'the event over SSE');
    await page.evaluate(() => (window as any).sse.close());
  });

  it('reports signed-out when the session is revoked', async () => {
    const other = await t.signIn(viewer);
    expect((await other.client.call('/api/v1/auth/sessions', { method: 'DELETE' })).status).toBe(200);
    await pageUntil(page, () => (window as any).sb.live.state === 'signed-out', 'signed-out in the page');
    expect(await page.evaluate(() => (window as any).sb.session.isSignedIn)).toBe(false);
    expect(errors).toEqual([]);
  });
});

/** Waits until `probe`, run in the page, is true. */
async function pageUntil(page: Page, probe: () => boolean, what: string): Promise<void> {
  await page.waitForFunction(probe, undefined, { timeout: 10_000, polling: 20 }).catch(() => {
    throw new Error(`timed out waiting for ${what}`);
  });
}

async function waitForCount(page: Page, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const length = await page.evaluate(() => (window as any).received.length);
    if (length >= count) return;
    if (Date.now() > deadline) throw new Error(`the page has ${length} events, not ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
