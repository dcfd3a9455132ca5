import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { exampleFunctionsDir } from '../endpoints/config-fixture.js';
import { startTestApp, type TestApp } from '../fixture.js';
import { freePort } from '../ports.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Builds the Config UI into a directory of its own, as `npm run build` does into dist/. */
export function buildConfigUi(): string {
  const outDir = mkdtempSync(join(tmpdir(), 'switchboard-config-ui-'));
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules/vite/bin/vite.js'),
      'build',
      '--config',
      'ui/config-ui/vite.config.ts',
      '--outDir',
      outDir,
      '--emptyOutDir',
    ],
    { cwd: root, stdio: 'pipe' },
  );
  return outDir;
}

export interface PageIssues {
  /** Console errors and CSP violations, and uncaught exceptions; answers the test expected are not issues. */
  problems: string[];
  /** Answers with a 5xx status. */
  serverErrors: string[];
}

/**
 * Watches a page: every console error (a refused inline script or style is one), every uncaught exception,
 * every 5xx. Chromium also logs each 4xx a fetch got ("Failed to load resource"); those are answers the
 * tests provoke (a wrong password is a 401) and are checked by the tests themselves, so they are set apart.
 */
export function watch(page: Page, issues: PageIssues): void {
  page.on('console', (message) => {
    const text = message.text();
    const csp = /Content Security Policy|Refused to (?:apply|execute|load|connect)/i.test(text);
    const networkLog = /^Failed to load resource: the server responded with a status of 4\d\d/.test(text);
    if (csp || (message.type() === 'error' && !networkLog)) issues.problems.push(`${page.url()}: ${text}`);
  });
  page.on('pageerror', (error) => issues.problems.push(`${page.url()}: uncaught ${error.message}`));
  page.on('response', (response) => {
    if (response.status() >= 500) issues.serverErrors.push(`${response.status()} ${response.url()}`);
  });
}

const axeSource = readFileSync(join(root, 'node_modules/axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/**
 * Runs axe-core on the page as it is now. The script goes in through the DevTools protocol (`evaluate`),
 * which the page's Content-Security-Policy does not govern; a <script> tag would be refused, as it should.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: { run: (context: Document, options: unknown) => Promise<{ violations: AxeViolation[] }> };
      }
    ).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export const screenshotDir = join(root, 'test-results/config-ui');

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name.replace(/[^a-z0-9-]+/gi, '-').toLowerCase()}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export interface UiServer {
  t: TestApp;
  url: string;
  functionsDir: string;
  uiDir: string;
  close(): Promise<void>;
}

/** A Switchboard on a known loopback port serving a fresh build of the Config UI. */
export async function startUiServer(
  env: Record<string, string> = {},
  options: { port?: number; uiDir?: string } = {},
): Promise<UiServer> {
  const port = options.port ?? (await freePort());
  const uiDir = options.uiDir ?? buildConfigUi();
  const url = `http://127.0.0.1:${port}`;
  const functionsDir = exampleFunctionsDir();
  const t = await startTestApp({
    env: {
      PORT: String(port),
      SWITCHBOARD_PUBLIC_URL: url,
      SWITCHBOARD_CONFIG_UI_DIR: uiDir,
      SWITCHBOARD_FUNCTIONS_DIR: functionsDir,
      SWITCHBOARD_ENDPOINT_HOSTS: '127.0.0.1',
      SWITCHBOARD_LOG_LEVEL: 'warn',
      ...env,
    },
  });
  return {
    t,
    url,
    functionsDir,
    uiDir,
    async close() {
      await t.close();
      rmSync(functionsDir, { recursive: true, force: true });
      rmSync(uiDir, { recursive: true, force: true });
    },
  };
}

/** Debian's chromium, named by SWITCHBOARD_TEST_BROWSER (never a downloaded browser). */
export async function launchBrowser(executablePath = process.env.SWITCHBOARD_TEST_BROWSER): Promise<Browser> {
  if (!executablePath) throw new Error('SWITCHBOARD_TEST_BROWSER is not set');
  return chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
}

/** A browser context (a separate cookie jar: another person, or the same one on another machine). */
export async function newPage(
  browser: Browser,
  issues: PageIssues,
  viewport = { width: 1366, height: 768 },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  // A page that has not shown what a test waits for within 10 s never will: fail with the locator's name.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  watch(page, issues);
  return { context, page };
}

/** Signs in through the page's form. */
export async function signInThroughPage(
  page: Page,
  url: string,
  username: string,
  password: string,
): Promise<void> {
  await page.goto(`${url}/config-ui/`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}
