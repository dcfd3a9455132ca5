import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeEntra } from '../auth/sso/entra-fixture.js';
import { TestProvider } from '../auth/sso/oidc-fixture.js';
import { minimalConfig } from '../endpoints/config-fixture.js';
import { Upstream } from '../endpoints/upstream.js';
import type { TestUser } from '../fixture.js';
import { freePort } from '../ports.js';
import {
  axeViolations,
  launchBrowser,
  newPage,
  type PageIssues,
  screenshot,
  signInThroughPage,
  startUiServer,
  type UiServer,
} from './browser-harness.js';

const CLIENT = { clientId: 'switchboard', clientSecret: 'test-client-secret-0123456789' };
const ENTRA_CLIENT = '6731de76-14a6-49ae-97bc-6eba6914391e';
const ENTRA_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

/** Records every WebSocket frame the page receives, and lets a test drop its sockets (an init script:
 * DevTools protocol, not the page's CSP). */
const RECORD_SOCKETS = `(() => {
  const Native = window.WebSocket;
  window.__frames = [];
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets.push(this);
      this.addEventListener('message', (m) => window.__frames.push(JSON.parse(m.data)));
    }
  };
})();`;

/**
 * The Config UI in Debian's chromium against a real server (its own port, SQLite or PostgreSQL as the run
 * says, a real OpenID Provider and a real upstream on loopback). Each test leaves a screenshot in
 * test-results/config-ui; the whole run must log no console error, no CSP violation and no 5xx.
 */
describe('Config UI in a browser', () => {
  let server: UiServer;
  let provider: TestProvider;
  let upstream: Upstream;
  let entra: FakeEntra;
  let browser: Browser;
  let admin: TestUser;
  let editor: TestUser;
  let viewer: TestUser;
  const issues: PageIssues = { problems: [], serverErrors: [] };
  const pages: Page[] = [];
  let current = '';

  const open = async (viewport?: { width: number; height: number }) => {
    const { page } = await newPage(browser, issues, viewport);
    pages.push(page);
    return page;
  };
  const signedIn = async (user: TestUser, viewport?: { width: number; height: number }) => {
    const page = await open(viewport);
    await signInThroughPage(page, server.url, user.username, user.password);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    return page;
  };
  const api = async (user: TestUser) => (await server.t.signIn(user)).client;
  /** Opens the editor from the header and selects the whole document, ready to be typed over. */
  const openEditor = async (page: Page) => {
    await page.getByRole('link', { name: 'Editor' }).click();
    const editorBox = page.getByRole('textbox', { name: 'Configuration document' });
    await editorBox.waitFor();
    await page.getByText('No problems found.').waitFor();
    await editorBox.click();
    await page.keyboard.press('ControlOrMeta+a');
    return editorBox;
  };

  beforeAll(async () => {
    upstream = await new Upstream().start();
    upstream.answer('/plant', 200, (hit: number) => ({ flow: hit }));
    upstream.answer('/broken', 503, { error: 'maintenance' });
    entra = await FakeEntra.start({ clientId: ENTRA_CLIENT });
    const port = await freePort();
    provider = await TestProvider.start({
      ...CLIENT,
      redirectUri: `http://127.0.0.1:${port}/api/v1/auth/oidc/callback`,
    });
    server = await startUiServer(
      {
        SWITCHBOARD_OIDC_ISSUER: provider.issuer,
        SWITCHBOARD_OIDC_CLIENT_ID: CLIENT.clientId,
        SWITCHBOARD_OIDC_CLIENT_SECRET: CLIENT.clientSecret,
        SWITCHBOARD_OIDC_DISPLAY_NAME: 'Company SSO',
        SWITCHBOARD_SSO_ROLE_MAP: 'ops=editor',
        SWITCHBOARD_LOCKOUT_THRESHOLD: '3',
        SWITCHBOARD_RATE_LIMITING: 'false',
        SWITCHBOARD_ENDPOINT_HOSTS: `127.0.0.1:${upstream.port}`,
        SWITCHBOARD_MSAL_CLIENT_ID: ENTRA_CLIENT,
        SWITCHBOARD_MSAL_TENANTS: ENTRA_TENANT,
        SWITCHBOARD_MSAL_AUTHORITY: entra.authority,
      },
      { port },
    );
    admin = await server.t.createUser({ role: 'admin' });
    editor = await server.t.createUser({ role: 'editor' });
    viewer = await server.t.createUser({ role: 'viewer' });
    const client = await api(admin);
    const first = await client.call('/api/v1/config', {
      json: { config: minimalConfig(), message: 'first version' },
    });
    expect(first.status).toBe(201);
    browser = await launchBrowser();
  }, 120_000);

  afterEach(async (context) => {
    current = context.task.name;
    const last = pages.at(-1);
    if (last && !last.isClosed()) await screenshot(last, current);
    for (const page of pages.splice(0)) await page.context().close();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await provider?.close();
    await entra?.close();
    await upstream?.close();
    // The whole run, every page: nothing the console calls an error, no refused script or style.
    expect(issues.problems).toEqual([]);
    expect(issues.serverErrors).toEqual([]);
  });

  it('says so for a wrong password, then signs in', async () => {
    const page = await open();
    await signInThroughPage(page, server.url, admin.username, 'not-the-password');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Wrong username or password.');
    await page.getByLabel('Password', { exact: true }).fill(admin.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Configuration versions' }).waitFor();
    expect(await page.getByRole('row', { name: /1\.0\.0/ }).textContent()).toContain('active');
  });

  it('tells a locked account how long to wait', async () => {
    const locked = await server.t.createUser({ role: 'editor' });
    const page = await open();
    for (let i = 0; i < 3; i++) {
      await signInThroughPage(page, server.url, locked.username, `wrong-${i}`);
      await page.getByRole('alert').waitFor();
    }
    await signInThroughPage(page, server.url, locked.username, locked.password);
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toMatch(/locked after too many failed sign-ins\. Try again in \d+ minutes?/);
  });

  it('makes a user with a password set by an admin choose their own first', async () => {
    const fresh = await server.t.createUser({ role: 'editor', mustChangePassword: true });
    const page = await open();
    await signInThroughPage(page, server.url, fresh.username, fresh.password);
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await page.getByLabel('Current password').fill(fresh.password);
    await page.getByLabel('New password', { exact: true }).fill('a-new-Password-for-the-UI-42');
    await page.getByLabel('New password again').fill('a-new-Password-for-the-UI-42');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('heading', { name: 'Configuration versions' }).waitFor();
  });

  it('signs in with single sign-on through the OpenID Provider', async () => {
    provider.accounts.set('sso-ada', {
      sub: 'sso-ada',
      preferred_username: 'ada.sso',
      name: 'Ada',
      groups: ['ops'],
    });
    provider.signInAs = 'sso-ada';
    const page = await open();
    await page.goto(`${server.url}/config-ui/`);
    await page.getByRole('link', { name: 'Sign in with Company SSO' }).click();
    await page.getByRole('heading', { name: 'Configuration versions' }).waitFor();
    expect(await page.getByText('ada.sso').textContent()).toContain('ada.sso');
    expect(await page.getByText('(editor)').count()).toBe(1);
  });

  it('signs in with Microsoft Entra ID (an id token in the fragment, checked by the server)', async () => {
    entra.signInAs = {
      tid: ENTRA_TENANT,
      claims: {
        sub: 'entra-grace',
        oid: 'oid-grace',
        preferred_username: 'grace@plant.example',
        groups: ['ops'],
      },
    };
    const page = await open();
    await page.goto(`${server.url}/config-ui/`);
    await page.getByRole('button', { name: 'Sign in with Microsoft' }).click();
    await page.getByRole('heading', { name: 'Configuration versions' }).waitFor();
    expect(await page.locator('.user').textContent()).toContain('(editor)');
    // The token left the address at once.
    expect(new URL(page.url()).hash).toBe('');
  });

  it('refuses a Microsoft answer it did not ask for, and reports a refusal from Entra ID', async () => {
    const msalCalls: string[] = [];
    const page = await open();
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/api/v1/auth/msal') msalCalls.push(request.url());
    });
    // A token planted in a link: this tab started no sign-in, so it is not even sent to the server.
    const planted = await entra.idToken({ tid: ENTRA_TENANT, claims: { groups: ['ops'] } });
    await page.goto(`${server.url}/config-ui/#id_token=${planted}&state=forged`);
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('was not started here');
    expect(msalCalls).toEqual([]);
    expect(new URL(page.url()).hash).toBe('');
    entra.signInAs = undefined;
    await page.getByRole('button', { name: 'Sign in with Microsoft' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('Microsoft sign-in failed: access_denied');
    expect(msalCalls).toEqual([]);
  });

  it('refuses to save a document with a schema error and shows it at its line', async () => {
    const page = await signedIn(admin);
    const posts: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/v1/config')
        posts.push(request.url());
    });
    await openEditor(page);
    const broken = { streams: { 'plant.flow': { endpoint: 'plant', interval: 'soon' } } };
    await page.keyboard.insertText(JSON.stringify(broken, null, 2));
    const problem = page.getByRole('button', {
      name: /Line 5 \(\/streams\/plant\.flow\/interval\): must be a duration/,
    });
    await problem.waitFor();
    // The mark is on line 5, in the editor itself.
    const marked = page.locator('.cm-line:has(.cm-lintRange-error)');
    expect(await marked.first().textContent()).toContain('"interval": "soon"');
    expect(await page.getByRole('button', { name: 'Save', exact: true }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Save', exact: true }).click({ force: true });
    expect(posts).toEqual([]);
  });

  it('shows the server’s problems at their lines after a refused save', async () => {
    const page = await signedIn(admin);
    await openEditor(page);
    // Valid for the schema, but the stream names an endpoint nobody declared: only the server knows.
    await page.keyboard.insertText(
      JSON.stringify({ streams: { 'plant.flow': { endpoint: 'nowhere', interval: '5s' } } }, null, 2),
    );
    await page.getByText('No problems found.').waitFor();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText(/The server refused the document/).waitFor();
    const problem = page.getByRole('button', {
      name: /^Line \d+ \(\/streams\/plant\.flow\/endpoint\): .*\[server\]$/,
    });
    await problem.waitFor();
    expect(await page.locator('.cm-line:has(.cm-lintRange-error)').first().textContent()).toContain(
      '"endpoint": "nowhere"',
    );
  });

  it('completes keys from the schema and describes them on hover', async () => {
    const page = await signedIn(admin);
    const editorBox = await openEditor(page);
    await page.keyboard.insertText('{\n  ');
    await page.keyboard.press('Control+Space');
    const option = page.getByRole('option', { name: /streams/ });
    await option.waitFor();
    expect(await page.getByRole('listbox').textContent()).toContain('endpoints');
    await page.keyboard.press('Escape');
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.insertText('{\n  "streams": {}\n}');
    // The pointer on the key itself (the line's element spans the editor's width).
    const key = await page.evaluate(() => {
      const root = document.querySelector('.editor-host')?.shadowRoot;
      const line = [...(root?.querySelectorAll('.cm-line') ?? [])].find((l) =>
        l.textContent?.includes('"streams"'),
      );
      const text = line?.firstChild;
      if (!text) return null;
      const range = document.createRange();
      const start = (text.textContent ?? '').indexOf('streams');
      range.setStart(text, start);
      range.setEnd(text, start + 'streams'.length);
      const { x, y, width, height } = range.getBoundingClientRect();
      return { x: x + width / 2, y: y + height / 2 };
    });
    expect(key).not.toBeNull();
    await page.mouse.move(key!.x, key!.y, { steps: 3 });
    await expect.poll(() => page.locator('.cm-description').textContent()).toContain('Live channels');
    // The same text for the keyboard: the caret on a key describes it below the editor.
    await editorBox.press('ControlOrMeta+Home');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await expect
      .poll(() => page.getByLabel('About the key at the caret').textContent())
      .toContain('Live channels');
  });

  it('saves with a message, shows the diff, activates and rolls back', async () => {
    const page = await signedIn(admin);
    await openEditor(page);
    const next = {
      ...minimalConfig(),
      endpoints: { plant: { url: `${upstream.base}/plant` } },
      streams: {
        ...(minimalConfig().streams as object),
        'plant.flow': { endpoint: 'plant', interval: '1s', title: 'Plant flow' },
      },
    };
    await page.keyboard.insertText(JSON.stringify(next, null, 2));
    await page.getByText('No problems found.').waitFor();
    await page.getByRole('button', { name: 'Diff against active' }).click();
    await page.getByRole('heading', { name: 'Draft against the active version' }).waitFor();
    expect(await page.locator('td.code.added').filter({ hasText: '"plant.flow"' }).count()).toBe(1);
    await page.getByLabel('Message').fill('adds the plant flow');
    await page.getByLabel('Activate now').uncheck();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText(/Saved as version 1\.0\.1, not activated/).waitFor();
    expect(await page.locator('td.added').count()).toBeGreaterThan(0);

    await page.getByRole('link', { name: 'Versions' }).click();
    const row = page.getByRole('row', { name: /1\.0\.1/ });
    expect(await row.textContent()).toContain('adds the plant flow');
    expect(await row.textContent()).toContain(admin.username);
    await page.getByRole('button', { name: 'Activate version 1.0.1' }).click();
    await page
      .getByRole('dialog', { name: 'Activate version 1.0.1?' })
      .getByRole('button', { name: 'Activate' })
      .click();
    await page.getByText('Version 1.0.1 is active.').waitFor();
    await expect.poll(() => page.getByRole('row', { name: /1\.0\.1/ }).textContent()).toContain('active');

    await page.getByRole('button', { name: 'Roll back to version 1.0.0' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Activate' }).click();
    await page.getByText('Version 1.0.0 is active.').waitFor();
    const versions = await (await api(admin)).call('/api/v1/config/versions');
    expect(versions.body.data.active).toBe('1.0.0');
  });

  it('shows markup written into a configuration as text, and runs none of it', async () => {
    const attack = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    const client = await api(admin);
    const saved = await client.call('/api/v1/config', {
      json: {
        config: minimalConfig({ description: attack }),
        version: '1.0.9',
        activate: false,
        message: attack,
      },
    });
    expect(saved.status).toBe(201);
    const page = await signedIn(editor);
    const row = page.getByRole('row', { name: /^1\.0\.9/ });
    expect(await row.textContent()).toContain(attack);
    await page.goto(`${server.url}/config-ui/#/versions/1.0.9`);
    await page.getByRole('heading', { name: 'Version 1.0.9' }).waitFor();
    await page.goto(`${server.url}/config-ui/#/diff?from=1.0.0&to=1.0.9`);
    await page.locator('table.diff').waitFor();
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    // An editor reads the configuration but the page offers no way to change it.
    await page.getByRole('link', { name: 'Editor' }).click();
    await page.getByRole('heading', { name: 'The configuration' }).waitFor();
    expect(await page.getByRole('button', { name: 'Save', exact: true }).count()).toBe(0);
    expect(
      await page.getByRole('textbox', { name: 'Configuration document' }).getAttribute('contenteditable'),
    ).toBe('false');
    await page.getByRole('link', { name: 'Versions' }).click();
    expect(await page.getByRole('button', { name: /Activate|Delete|Roll back/ }).count()).toBe(0);
    expect(
      (await (await api(admin)).call('/api/v1/config/versions/1.0.9', { method: 'DELETE' })).status,
    ).toBe(204);
  });

  it('compares any two versions side by side or unified', async () => {
    const page = await signedIn(editor);
    await page.goto(`${server.url}/config-ui/#/diff?from=1.0.0&to=1.0.1`);
    await page.getByRole('heading', { name: 'Compare versions' }).waitFor();
    await page.locator('table.diff.split').waitFor();
    expect(await page.locator('td.code.added').filter({ hasText: 'plant' }).count()).toBeGreaterThan(0);
    await page.getByLabel('Unified').check();
    await page.locator('table.diff.unified').waitFor();
    expect(await page.locator('tr.added').count()).toBeGreaterThan(0);
  });

  it('will not delete the active version, says why, and deletes another after confirmation', async () => {
    const client = await api(admin);
    const spare = await client.call('/api/v1/config', {
      json: { config: minimalConfig({ description: 'spare' }), version: '1.0.5', activate: false },
    });
    expect(spare.status).toBe(201);
    const page = await signedIn(admin);
    const activeRow = page.getByRole('row', { name: /^1\.0\.0/ });
    await activeRow.waitFor();
    expect(await activeRow.getByRole('button', { name: /Delete/ }).count()).toBe(0);
    expect(await activeRow.textContent()).toContain('The active version cannot be deleted');
    await page.getByRole('button', { name: 'Delete version 1.0.5' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete version 1.0.5?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await page.getByRole('row', { name: /1\.0\.5/ }).count()).toBe(1);
    await page.getByRole('button', { name: 'Delete version 1.0.5' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Version 1.0.5 was deleted.').waitFor();
    expect(await page.getByRole('row', { name: /1\.0\.5/ }).count()).toBe(0);
  });

  it('reports a tampered CSRF cookie and changes nothing', async () => {
    const page = await signedIn(admin);
    await page.getByRole('button', { name: 'Activate version 1.0.1' }).waitFor();
    await page.context().addCookies([{ name: 'csrf_token', value: 'tampered', url: server.url }]);
    await page.getByRole('button', { name: 'Activate version 1.0.1' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Activate' }).click();
    await expect
      .poll(() => page.getByRole('alert').first().textContent())
      .toMatch(/Could not activate version 1\.0\.1: .*CSRF/i);
    const versions = await (await api(admin)).call('/api/v1/config/versions');
    expect(versions.body.data.active).toBe('1.0.0');
  });

  it('shows another admin’s activation without a reload', async () => {
    const watching = await signedIn(editor);
    await watching.getByRole('heading', { name: 'Configuration versions' }).waitFor();
    await expect.poll(() => watching.locator('.live-state').textContent()).toMatch(/: Live$/);
    const acting = await signedIn(admin);
    await acting.getByRole('button', { name: 'Activate version 1.0.1' }).click();
    await acting.getByRole('dialog').getByRole('button', { name: 'Activate' }).click();
    await acting.getByText('Version 1.0.1 is active.').waitFor();
    await expect
      .poll(() => watching.getByRole('row', { name: /^1\.0\.1/ }).textContent(), { timeout: 5000 })
      .toContain('active');
  });

  it('lists the channels with their producer state and live events', async () => {
    const client = await api(admin);
    const config = {
      ...minimalConfig(),
      endpoints: {
        plant: { url: `${upstream.base}/plant` },
        broken: { url: `${upstream.base}/broken`, retries: 0 },
      },
      streams: {
        'plant.flow': { endpoint: 'plant', interval: '1s', title: 'Plant flow' },
        'plant.broken': { endpoint: 'broken', interval: '1s' },
      },
    };
    expect((await client.call('/api/v1/config', { json: { config, version: '1.1.0' } })).status).toBe(201);
    const page = await signedIn(viewer);
    await page.getByRole('heading', { name: 'Live channels' }).waitFor();
    // A viewer sees the channels, not the configuration.
    expect(await page.getByRole('link', { name: 'Versions' }).count()).toBe(0);
    const flow = page.getByRole('article', { name: 'Plant flow' });
    await expect.poll(() => flow.locator('ol.events li').count(), { timeout: 10_000 }).toBeGreaterThan(1);
    expect(await flow.textContent()).toContain('ok');
    expect(await flow.textContent()).toContain('"flow"');
    const broken = page.getByRole('article', { name: 'plant.broken' });
    await expect.poll(() => broken.textContent(), { timeout: 10_000 }).toContain('Producer error');
    await page.goto(`${server.url}/config-ui/#/versions`);
    await page.getByText(/may not see it/).waitFor();
  });

  it('reconnects after the connection drops and misses no event, none twice', async () => {
    const page = await open();
    await page.addInitScript(RECORD_SOCKETS);
    await signInThroughPage(page, server.url, viewer.username, viewer.password);
    const flow = page.getByRole('article', { name: 'Plant flow' });
    await expect.poll(() => flow.locator('ol.events li').count(), { timeout: 10_000 }).toBeGreaterThan(1);
    // The next connection waits for its ticket while the producer publishes every second.
    await page.route('**/api/v1/auth/ws-ticket', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await route.continue();
    });
    await page.evaluate(() => (window as unknown as { __sockets: WebSocket[] }).__sockets.at(-1)?.close());
    await expect.poll(() => page.locator('.live-state').textContent()).toMatch(/Reconnecting/);
    await expect
      .poll(() => page.locator('.live-state').textContent(), { timeout: 10_000 })
      .toMatch(/: Live$/);
    await page.unroute('**/api/v1/auth/ws-ticket');
    const resumed = await page.evaluate(() => (window as unknown as { __frames: unknown[] }).__frames.length);
    await expect
      .poll(() => page.evaluate(() => (window as unknown as { __frames: unknown[] }).__frames.length), {
        timeout: 5000,
      })
      .toBeGreaterThan(resumed + 1);
    const frames = (await page.evaluate(() => (window as unknown as { __frames: unknown[] }).__frames)) as {
      type: string;
      channel?: string;
      id?: string;
      data?: { flow?: number };
      recovered?: boolean;
    }[];
    const events = frames.filter(
      (f) => f.channel === 'plant.flow' && (f.type === 'event' || f.type === 'snapshot'),
    );
    const flows = events.map((f) => f.data?.flow);
    // Every poll of the upstream, in order, once: the ones published while the page was away came as replay.
    expect(flows.length).toBeGreaterThan(4);
    for (let i = 1; i < flows.length; i++)
      expect(flows[i], `after ${flows[i - 1]}`).toBe((flows[i - 1] as number) + 1);
    expect(new Set(events.map((f) => f.id)).size).toBe(events.length);
    expect(
      frames.filter((f) => f.type === 'subscribed' && f.channel === 'plant.flow').map((f) => f.recovered),
    ).toEqual([false, true]);
  });

  it('runs a declared function and shows its output', async () => {
    const page = await signedIn(admin);
    await page.getByRole('link', { name: 'Functions' }).click();
    await page.getByRole('button', { name: 'Test clock' }).click();
    await page.getByRole('heading', { name: 'Output' }).waitFor();
    expect(await page.getByLabel('Output of clock').textContent()).toContain('on_shift');
    await page.getByLabel(/Arguments/).fill('{not json');
    await page.getByRole('button', { name: 'Test clock' }).click();
    await page.getByText(/The arguments are not valid JSON/).waitFor();
  });

  it('goes back to sign-in with a message when the session is revoked elsewhere', async () => {
    const page = await signedIn(editor);
    await expect.poll(() => page.locator('.live-state').textContent()).toMatch(/: Live$/);
    // The same person, elsewhere, ends every other session.
    const other = await api(editor);
    expect((await other.call('/api/v1/auth/sessions', { method: 'DELETE' })).status).toBe(200);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 5000 });
    expect(await page.getByRole('status').first().textContent()).toMatch(/session has ended/i);
  });

  it('refreshes the access token before it expires', async () => {
    const short = await startUiServer({
      SWITCHBOARD_ACCESS_TOKEN_TTL: '30s',
      SWITCHBOARD_RATE_LIMITING: 'false',
    });
    try {
      const user = await short.t.createUser({ role: 'editor' });
      const page = await open();
      const refreshes: number[] = [];
      page.on('response', (response) => {
        if (new URL(response.url()).pathname === '/api/v1/auth/refresh') refreshes.push(response.status());
      });
      await signInThroughPage(page, short.url, user.username, user.password);
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      // A 30 s token is renewed at four fifths of its life (24 s), before any request finds it expired.
      await expect.poll(() => refreshes, { timeout: 40_000, interval: 1000 }).toEqual([200]);
      await page.getByRole('link', { name: 'Versions' }).click();
      await page.getByRole('heading', { name: 'Configuration versions' }).waitFor();
      await screenshot(page, 'refreshes the access token before it expires');
    } finally {
      // The page goes first: a page left open would try to reconnect to the stopped server.
      for (const page of pages.splice(0)) await page.context().close();
      await short.close();
    }
  }, 60_000);

  it('works with the keyboard alone', async () => {
    const page = await open();
    await page.goto(`${server.url}/config-ui/`);
    await page.getByLabel('Username').waitFor();
    await page.keyboard.press('Tab');
    await page.keyboard.type(admin.username);
    await page.keyboard.press('Tab');
    await page.keyboard.type(admin.password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Configuration versions' }).waitFor();
    // Skip link first, then the sections.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Diff');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Compare versions' }).waitFor();
  });

  it('passes an accessibility scan on every screen, at 1366×768 and at tablet width', async () => {
    const screens = [
      'versions',
      'versions/1.0.0',
      'edit',
      'diff?from=1.0.0&to=1.0.1',
      'channels',
      'functions',
      'account',
    ];
    for (const viewport of [
      { width: 1366, height: 768 },
      { width: 768, height: 1024 },
    ]) {
      const signIn = await open(viewport);
      await signIn.goto(`${server.url}/config-ui/`);
      await signIn.getByLabel('Username').waitFor();
      expect(await axeViolations(signIn), 'sign-in').toEqual([]);
      const page = await signedIn(admin, viewport);
      for (const screen of screens) {
        await page.goto(`${server.url}/config-ui/#/${screen}`);
        await page.locator('main h1').waitFor();
        await page.waitForLoadState('networkidle');
        expect(await axeViolations(page), screen).toEqual([]);
        // Readable: nothing wider than the window.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, `${screen} at ${viewport.width}px`).toBeLessThanOrEqual(0);
        await screenshot(page, `axe-${viewport.width}-${screen}`);
      }
    }
  }, 120_000);
});
