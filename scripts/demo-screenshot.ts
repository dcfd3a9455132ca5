/**
 * Refreshes docs/images/demo-dashboard.png, the README's first picture: a fresh server with
 * SWITCHBOARD_DEMO=true fed by the example's own configuration (examples/dashboard), a workspace shared
 * with a second user, and Debian's chromium (SWITCHBOARD_TEST_BROWSER, default /usr/bin/chromium). It
 * waits for the sparklines to fill and for the flaky producer to report its error, so the picture shows
 * both states. Run with `npx tsx scripts/demo-screenshot.ts` (about a minute).
 */
import { fileURLToPath } from 'node:url';
import { launchBrowser, newPage } from '../test/config-ui/browser-harness.js';
import { signInToDemo, startDemoServer } from '../test/demo/harness.js';

const out = fileURLToPath(new URL('../docs/images/demo-dashboard.png', import.meta.url));

const server = await startDemoServer({ SWITCHBOARD_RATE_LIMITING: 'false' });
const browser = await launchBrowser(process.env.SWITCHBOARD_TEST_BROWSER ?? '/usr/bin/chromium');
try {
  const ada = await server.t.createUser({
    username: 'ada',
    role: 'editor',
    password: 'demo-password-Kq7#vLx2',
  });
  await server.t.createUser({ username: 'bo', role: 'viewer' });
  const client = (await server.t.signIn(ada)).client;
  const widgets = ['demo.cpu', 'demo.requests', 'demo.latency', 'demo.temperature', 'demo.queue'].map(
    (channel) => ({ channel }),
  );
  const put = await client.call('/api/v1/workspaces/Control%20room?make_current=true', {
    method: 'PUT',
    json: { widgets, settings: { points: 40 } },
  });
  if (put.status !== 201) throw new Error(`workspace not created: ${put.status}`);
  const share = await client.call('/api/v1/workspaces/Control%20room/grants', {
    method: 'PUT',
    json: [{ principal_type: 'user', principal: 'bo', access: 'view' }],
  });
  if (share.status !== 200) throw new Error(`workspace not shared: ${share.status}`);

  const issues = { problems: [] as string[], serverErrors: [] as string[] };
  const { page } = await newPage(browser, issues, { width: 1366, height: 768 });
  page.setDefaultTimeout(90_000);
  await signInToDemo(page, server.url, ada.username, ada.password);
  // Long enough for the sparklines to fill, then the moment the flaky producer reports its error.
  await page.waitForTimeout(30_000);
  await page.getByText(/^Producer: error/).waitFor();
  await page.locator('body').evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.screenshot({ path: out });
  if (issues.problems.length > 0 || issues.serverErrors.length > 0) {
    throw new Error(`the page reported problems: ${[...issues.problems, ...issues.serverErrors].join('; ')}`);
  }
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await browser.close();
  await server.close();
}
