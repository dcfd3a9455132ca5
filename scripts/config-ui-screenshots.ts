/**
 * Refreshes the screenshots of docs/config-ui.md (docs/images/config-ui/*.png): a fresh server with a
 * small plant configuration, a loopback upstream, and Debian's chromium (SWITCHBOARD_TEST_BROWSER, default
 * /usr/bin/chromium). Run with `npm run docs:screenshots`.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import {
  launchBrowser,
  newPage,
  signInThroughPage,
  startUiServer,
} from '../test/config-ui/browser-harness.js';
import { Upstream } from '../test/endpoints/upstream.js';

const out = fileURLToPath(new URL('../docs/images/config-ui/', import.meta.url));
mkdirSync(out, { recursive: true });

const upstream = await new Upstream().start();
upstream.answer('/pumps', 200, (hit: number) => ({
  pump_1: { rpm: 1400 + (hit % 7) * 3 },
  pump_2: { rpm: 980 },
}));
upstream.answer('/alarms', 503, { error: 'maintenance window' });
const server = await startUiServer({
  SWITCHBOARD_ENDPOINT_HOSTS: `127.0.0.1:${upstream.port}`,
  SWITCHBOARD_RATE_LIMITING: 'false',
});
const browser = await launchBrowser(process.env.SWITCHBOARD_TEST_BROWSER ?? '/usr/bin/chromium');
try {
  const admin = await server.t.createUser({ username: 'ada', role: 'admin' });
  const client = (await server.t.signIn(admin)).client;
  const base = {
    description: 'North plant control room',
    vars: { plant_api: `${upstream.base}` },
    endpoints: {
      pumps: { url: '${plant_api}/pumps', timeout: '3s', description: 'Pump telemetry' },
      alarms: { url: '${plant_api}/alarms', timeout: '3s', retries: 0 },
    },
    functions: { shift_roster: { module: 'shift-roster.mjs', args: { timezone: 'UTC', shift_hours: 8 } } },
    streams: {
      'plant.pumps': {
        endpoint: 'pumps',
        interval: '2s',
        title: 'Pump speeds',
        select: { pump_1: '/pump_1/rpm' },
      },
      'plant.alarms': { endpoint: 'alarms', interval: '5s', title: 'Open alarms' },
    },
  };
  const save = (config: unknown, message: string, activate = true) =>
    client.call('/api/v1/config', { json: { config, message, activate } });
  await save(base, 'first plant configuration');
  await save(
    {
      ...base,
      streams: {
        ...base.streams,
        'roster.now': { function: 'shift_roster', interval: '1m', title: 'Shift roster' },
      },
    },
    'adds the shift roster',
  );
  await save(
    { ...base, description: 'North plant control room (draft)' },
    'draft for the night shift',
    false,
  );

  const issues = { problems: [] as string[], serverErrors: [] as string[] };
  const shot = async (page: Page, name: string) => {
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: `${out}${name}.png` });
  };
  const { page: signIn } = await newPage(browser, issues);
  await signIn.goto(`${server.url}/config-ui/`);
  await signIn.getByLabel('Username').waitFor();
  await shot(signIn, 'sign-in');

  const { page } = await newPage(browser, issues);
  await signInThroughPage(page, server.url, admin.username, admin.password);
  await page.getByRole('heading', { name: 'Configuration versions' }).waitFor();
  await shot(page, 'versions');

  await page.goto(`${server.url}/config-ui/#/edit`);
  const editor = page.getByRole('textbox', { name: 'Configuration document' });
  await editor.waitFor();
  await editor.click();
  await page.keyboard.press('ControlOrMeta+a');
  const broken = {
    ...base,
    streams: { ...base.streams, 'plant.alarms': { endpoint: 'alarms', interval: 'soon' } },
  };
  await page.keyboard.insertText(`${JSON.stringify(broken, null, 2)}\n`);
  await page
    .getByText(/must be a duration/)
    .first()
    .waitFor();
  await shot(page, 'editor-error');

  await page.goto(`${server.url}/config-ui/#/diff?from=1.0.1&to=1.0.2`);
  await page.locator('table.diff').waitFor();
  await shot(page, 'diff');

  await page.goto(`${server.url}/config-ui/#/channels`);
  await page
    .getByRole('article', { name: 'Pump speeds' })
    .locator('ol.events li')
    .nth(2)
    .waitFor({ timeout: 15_000 });
  await page.getByText(/Producer error/).waitFor({ timeout: 15_000 });
  await shot(page, 'channels');
  if (issues.problems.length > 0 || issues.serverErrors.length > 0) {
    throw new Error(`the page reported problems: ${[...issues.problems, ...issues.serverErrors].join('; ')}`);
  }
  console.log(`Screenshots written to ${out}`);
} finally {
  await browser.close();
  await server.close();
  await upstream.close();
}
