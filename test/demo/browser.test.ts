import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  axeViolations,
  launchBrowser,
  newPage,
  type PageIssues,
  screenshot,
} from '../config-ui/browser-harness.js';
import type { TestUser } from '../fixture.js';
import { type DemoServer, signInToDemo, startDemoServer } from './harness.js';

/** Keeps the page's WebSockets where a test can close them (an init script: DevTools, not the page's CSP). */
const RECORD_SOCKETS = `(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets.push(this);
    }
  };
})();`;

const NUMBER = /^-?\d+(?:\.\d+)?$/;

/** The tile of a channel, by its heading. */
const tile = (page: Page, title: string): Locator =>
  page.getByRole('article').filter({ has: page.getByRole('heading', { name: title, exact: true }) });

/** The polyline's points: they change whenever a value arrives. */
const sparkOf = (page: Page, title: string) =>
  tile(page, title).locator('svg.sparkline polyline').getAttribute('points');

/**
 * The demo dashboard in Debian's chromium against a real server fed by the example's own configuration
 * (examples/dashboard: functions that make numbers up, one of which fails part of every minute). Two
 * people in two browser contexts: one builds and shares a workspace, the other watches it change. The whole
 * run must log no console error, no CSP violation and no 5xx; each test leaves a screenshot in test-results/demo.
 */
describe('demo dashboard in a browser', () => {
  let server: DemoServer;
  let browser: Browser;
  let ada: TestUser;
  let bo: TestUser;
  let cy: TestUser;
  const issues: PageIssues = { problems: [], serverErrors: [] };
  const pages: Page[] = [];
  let owner: Page;
  let watcher: Page;

  const open = async (viewport?: { width: number; height: number }) => {
    const { page } = await newPage(browser, issues, viewport);
    pages.push(page);
    return page;
  };

  beforeAll(async () => {
    server = await startDemoServer({ SWITCHBOARD_RATE_LIMITING: 'false' });
    ada = await server.t.createUser({ username: 'ada', role: 'editor' });
    bo = await server.t.createUser({ username: 'bo', role: 'viewer' });
    cy = await server.t.createUser({ username: 'cy', role: 'editor' });
    browser = await launchBrowser();
  }, 120_000);

  afterEach(async (context) => {
    const last = pages.at(-1);
    if (last && !last.isClosed()) {
      await screenshot(last, `demo-${context.task.name}`);
    }
  });

  afterAll(async () => {
    for (const page of pages) await page.context().close();
    await browser?.close();
    await server?.close();
    expect(issues.problems).toEqual([]);
    expect(issues.serverErrors).toEqual([]);
  });

  it('says so for a wrong password, then signs in', async () => {
    const page = await open();
    await page.goto(`${server.url}/demo/`);
    await page.getByLabel('Username').fill('ada');
    await page.getByLabel('Password', { exact: true }).fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/./);
    expect(await axeViolations(page)).toEqual([]);
    await page.getByLabel('Password', { exact: true }).fill(ada.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    owner = page;
  });

  it('shows the live connection, then a new workspace with a tile per channel', async () => {
    await expect
      .poll(() => owner.getByRole('status').filter({ hasText: 'Connection:' }).textContent())
      .toMatch(/Connection: Live \(WebSocket\)/);
    await owner.getByText('You have no workspace yet').waitFor();
    await owner.getByLabel('New workspace').fill('Operations');
    await owner.getByRole('button', { name: 'Create' }).click();
    await owner.getByRole('heading', { name: 'Operations', exact: true }).waitFor();
    await expect.poll(() => owner.getByRole('article').count()).toBe(4);
  });

  it('moves the numbers and sparklines of its tiles as events arrive, with the producer status', async () => {
    const cpu = tile(owner, 'CPU load (%)');
    const value = cpu.getByTestId('value');
    await expect.poll(() => value.textContent(), { timeout: 10_000 }).toMatch(NUMBER);
    await expect.poll(() => sparkOf(owner, 'CPU load (%)'), { timeout: 10_000 }).toBeTruthy();
    const firstLine = await sparkOf(owner, 'CPU load (%)');
    await expect.poll(() => sparkOf(owner, 'CPU load (%)'), { timeout: 10_000 }).not.toBe(firstLine);
    expect((await sparkOf(owner, 'CPU load (%)'))?.split(' ').length).toBeGreaterThanOrEqual(3);
    await expect.poll(() => cpu.getByTestId('producer').textContent()).toBe('Producer: ok');
    await expect
      .poll(() => tile(owner, 'Requests a minute').getByTestId('value').textContent())
      .toMatch(NUMBER);
    const label = await cpu.getByRole('img').getAttribute('aria-label');
    expect(label).toMatch(/^CPU load \(%\) trend: last \d+ values, from/);
  });

  it('shares the workspace with a second user, who sees it live in a second browser', async () => {
    await owner.getByLabel('Username').fill('bo');
    await owner.getByLabel('Access').selectOption('view');
    await owner.getByRole('button', { name: 'Share', exact: true }).click();
    await owner.getByRole('status').filter({ hasText: 'Shared with bo.' }).waitFor();
    await owner.locator('.grants').getByText('bo').waitFor();

    watcher = await open();
    await watcher.addInitScript(RECORD_SOCKETS);
    await signInToDemo(watcher, server.url, bo.username, bo.password);
    await expect.poll(() => watcher.getByLabel('Workspace').inputValue()).toBe('ada/Operations');
    await watcher.getByText('Shared with you by ada; you can view it.').waitFor();
    await expect.poll(() => watcher.getByRole('article').count()).toBe(4);
    await expect
      .poll(() => tile(watcher, 'CPU load (%)').getByTestId('value').textContent(), { timeout: 10_000 })
      .toMatch(NUMBER);
    // A viewer of a shared workspace has nothing to change it with.
    expect(await watcher.getByRole('button', { name: /^Remove the tile/ }).count()).toBe(0);
    expect(await watcher.getByRole('button', { name: 'Add tile' }).count()).toBe(0);
  });

  it("shows the owner's edits in the second browser as they are made", async () => {
    await owner.getByLabel('Channel').selectOption('demo.temperature');
    await owner.getByRole('button', { name: 'Add tile' }).click();
    await expect.poll(() => owner.getByRole('article').count()).toBe(5);
    await expect.poll(() => watcher.getByRole('article').count(), { timeout: 10_000 }).toBe(5);
    await expect
      .poll(() => tile(watcher, 'Hall temperature (°C)').getByTestId('value').textContent(), {
        timeout: 10_000,
      })
      .toMatch(NUMBER);
    // Its producer fails part of every minute: the status, ok or error, is shown either way.
    await expect
      .poll(() => tile(watcher, 'Jobs queued').getByTestId('producer').textContent(), { timeout: 10_000 })
      .toMatch(/^Producer: (?:ok$|error: function "queue": queue service in maintenance)/);

    await owner.getByRole('button', { name: 'Remove the tile Latency (ms)' }).click();
    await expect.poll(() => watcher.getByRole('article').count(), { timeout: 10_000 }).toBe(4);
    expect(await tile(watcher, 'Latency (ms)').count()).toBe(0);
  });

  it('lets an editor with an edit grant change the tiles from their side, and both others see it', async () => {
    await owner.getByLabel('Username').fill('cy');
    await owner.getByLabel('Access').selectOption('edit');
    await owner.getByRole('button', { name: 'Share', exact: true }).click();
    await owner.getByRole('status').filter({ hasText: 'Shared with cy.' }).waitFor();
    const editor = await open();
    await signInToDemo(editor, server.url, cy.username, cy.password);
    await editor.getByText('Shared with you by ada; you can edit it.').waitFor();
    await expect.poll(() => editor.getByRole('article').count()).toBe(4);
    await editor.getByRole('button', { name: 'Remove the tile Hall temperature (°C)' }).click();
    await expect.poll(() => owner.getByRole('article').count(), { timeout: 10_000 }).toBe(3);
    await expect.poll(() => watcher.getByRole('article').count(), { timeout: 10_000 }).toBe(3);
    await editor.getByLabel('Channel').selectOption('demo.temperature');
    await editor.getByRole('button', { name: 'Add tile' }).click();
    await expect.poll(() => owner.getByRole('article').count(), { timeout: 10_000 }).toBe(4);
    await expect.poll(() => watcher.getByRole('article').count(), { timeout: 10_000 }).toBe(4);
    await tile(owner, 'Hall temperature (°C)').waitFor();
  });

  it('says when the connection drops and comes back live', async () => {
    const states: string[] = [];
    await watcher.exposeFunction('__demoState', (state: string) => states.push(state));
    await watcher.evaluate(() => {
      const node = document.querySelector('.connection');
      const report = (globalThis as unknown as { __demoState: (s: string) => void }).__demoState;
      if (node)
        new MutationObserver(() => report(node.getAttribute('data-state') ?? '')).observe(node, {
          attributes: true,
        });
    });
    await watcher.evaluate(() => {
      for (const socket of (globalThis as unknown as { __sockets: WebSocket[] }).__sockets) socket.close();
    });
    await expect.poll(() => states.includes('recovering'), { timeout: 15_000 }).toBe(true);
    await expect
      .poll(() => watcher.locator('.connection').getAttribute('data-state'), { timeout: 20_000 })
      .toBe('live');
  });

  it('passes axe at 1366×768 and at 768 px wide, signed in and not', async () => {
    expect(await axeViolations(owner)).toEqual([]);
    expect(await axeViolations(watcher)).toEqual([]);
    const narrow = await open({ width: 768, height: 1024 });
    await signInToDemo(narrow, server.url, ada.username, ada.password);
    await narrow.getByRole('heading', { name: 'Operations', exact: true }).waitFor();
    await expect.poll(() => tile(narrow, 'CPU load (%)').getByTestId('value').textContent()).toMatch(NUMBER);
    expect(await axeViolations(narrow)).toEqual([]);
    const signIn = await open({ width: 768, height: 1024 });
    await signIn.goto(`${server.url}/demo/`);
    await signIn.getByLabel('Username').waitFor();
    expect(await axeViolations(signIn)).toEqual([]);
  });

  it('is used from the keyboard alone: sign in, pick a channel, add its tile', async () => {
    const page = await open();
    await page.goto(`${server.url}/demo/`);
    await page.getByLabel('Username').waitFor();
    await page.keyboard.press('Tab');
    await page.keyboard.type(ada.username);
    await page.keyboard.press('Tab');
    await page.keyboard.type(ada.password);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    // The channel left as it is: the next one without a tile (Latency, removed above).
    await page.getByLabel('Channel').focus();
    await page.keyboard.press('Tab');
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Add tile');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('article').count()).toBe(5);
    await tile(page, 'Latency (ms)').waitFor();
  });

  it('signs out, and the next person on the same page sees only their own view', async () => {
    const page = pages.at(-1) as Page;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Username').fill(bo.username);
    await page.getByLabel('Password', { exact: true }).fill(bo.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText('Signed in as').filter({ hasText: 'bo' }).waitFor();
    await page.getByText('Shared with you by ada; you can view it.').waitFor();
    expect(await page.getByRole('heading', { name: 'Share “Operations”' }).count()).toBe(0);
  });
});
