import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../fixture.js';
import { freePort } from '../ports.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The example's own configuration and functions, as its README has an operator start it. */
export const EXAMPLE = {
  endpointsFile: join(root, 'examples/dashboard/endpoints.json'),
  functionsDir: join(root, 'examples/dashboard/functions'),
};

/**
 * Builds the dashboard as `npm run build` does, into `dashboard` of a directory of its own, where the
 * server looks for it beside a Config UI directory (src/demo/settings.ts); returns that parent.
 */
export function buildDashboard(): string {
  const parent = mkdtempSync(join(tmpdir(), 'switchboard-demo-'));
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules/vite/bin/vite.js'),
      'build',
      '--config',
      'examples/dashboard/vite.config.ts',
      '--outDir',
      join(parent, 'dashboard'),
      '--emptyOutDir',
    ],
    { cwd: root, stdio: 'pipe' },
  );
  return parent;
}

export interface DemoServer {
  t: TestApp;
  url: string;
  close(): Promise<void>;
}

/** A Switchboard on a known loopback port with SWITCHBOARD_DEMO=true, fed by the example's configuration. */
export async function startDemoServer(env: Record<string, string> = {}): Promise<DemoServer> {
  const port = await freePort();
  const parent = buildDashboard();
  const url = `http://127.0.0.1:${port}`;
  const t = await startTestApp({
    env: {
      PORT: String(port),
      SWITCHBOARD_PUBLIC_URL: url,
      SWITCHBOARD_DEMO: 'true',
      SWITCHBOARD_CONFIG_UI_DIR: join(parent, 'config-ui'),
      SWITCHBOARD_ENDPOINTS_FILE: EXAMPLE.endpointsFile,
      SWITCHBOARD_FUNCTIONS_DIR: EXAMPLE.functionsDir,
      SWITCHBOARD_LOG_LEVEL: 'warn',
      ...env,
    },
  });
  return {
    t,
    url,
    async close() {
      await t.close();
      rmSync(parent, { recursive: true, force: true });
    },
  };
}

/** Signs in through the dashboard's own form. */
export async function signInToDemo(page: Page, url: string, username: string, password: string) {
  await page.goto(`${url}/demo/`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}
