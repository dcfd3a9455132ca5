import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isSwitchboardError, type Switchboard, unwrap } from '../../packages/client/src/index.js';
import { startTestApp, type TestApp, type TestUser } from '../fixture.js';
import { countingFetch, nodeClient, type RequestLog, until, waitForState } from './harness.js';

const ENV = {
  SWITCHBOARD_RATE_LIMITS: 'login.ip=off,login.username=off,tickets.issue=off,preferences.write=off',
  SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '10000',
};

/** Preferences kept in sync: ETag reads, merge patches under If-Match, 412 merged and retried, notices. */
describe('@switchboard/client preferences', () => {
  let t: TestApp;
  let editor: TestUser;
  const clients: Switchboard[] = [];
  const client = async (log?: RequestLog) => {
    const sb = nodeClient(t.url, log ? { fetch: countingFetch(log) } : {});
    clients.push(sb);
    await sb.signIn(editor.username, editor.password);
    return sb;
  };

  beforeAll(async () => {
    t = await startTestApp({ env: ENV });
    editor = await t.createUser({ role: 'editor' });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => t?.close());

  it('reads with the ETag, and a second read is a 304 that keeps the document', async () => {
    const log: RequestLog = { requests: [] };
    const sb = await client(log);
    const first = await sb.preferences.load();
    expect(sb.preferences.etag).toMatch(/^"\d+\./);
    expect(first.shared_workspace_library).toEqual([]);
    const again = await sb.preferences.load();
    expect(again).toBe(first);
    expect(log.requests.filter((r) => r.path === '/api/v1/preferences').map((r) => r.status)).toEqual([
      200, 304,
    ]);
  });

  it('answers a conflict (412) by reading again and applying the merge patch on top: both changes kept', async () => {
    const log: RequestLog = { requests: [] };
    const mine = await client(log);
    const theirs = await client();
    await mine.preferences.load();
    await theirs.preferences.patch({ workspaces: { Theirs: { panels: [] } } });
    const conflicts: number[] = [];
    mine.preferences.on('conflict', ({ attempt }) => conflicts.push(attempt));
    const after = await mine.preferences.patch({ workspaces: { Mine: { panels: [1] } }, theme: 'dark' });
    expect(conflicts).toEqual([1]);
    expect(Object.keys(after.workspaces ?? {}).sort()).toEqual(['Mine', 'Theirs']);
    expect(after.theme).toBe('dark');
    const patches = log.requests.filter((r) => r.method === 'PATCH').map((r) => r.status);
    expect(patches).toEqual([412, 200]);
    expect(mine.preferences.etag).toBe((await theirs.preferences.load(), theirs.preferences.etag));
  });

  it('gives up after maxRetries conflicts with the typed error', async () => {
    const strict = nodeClient(t.url, { preferences: { maxRetries: 0 } });
    clients.push(strict);
    await strict.signIn(editor.username, editor.password);
    await strict.preferences.load();
    const other = await client();
    await other.preferences.patch({ counter: 'moved on' });
    const error = await strict.preferences.patch({ theme: 'light' }).catch((e: unknown) => e);
    expect(isSwitchboardError(error, ErrorCode.versionConflict)).toBe(true);
    expect((error as { status: number }).status).toBe(412);
  });

  it('follows preferences.updated: a change made in another session shows here', async () => {
    const sb = await client();
    const changes: unknown[] = [];
    sb.preferences.on('change', (document) => changes.push(document.theme));
    await sb.preferences.watch();
    await waitForState(sb, 'live');
    const other = await client();
    await unwrap(
      other.api.PATCH('/api/v1/preferences', {
        body: { theme: 'from-elsewhere' },
        headers: { 'if-match': '*' },
      }),
    );
    await until(() => sb.preferences.value?.theme === 'from-elsewhere', 'the other session’s change');
    expect(changes.at(-1)).toBe('from-elsewhere');
  });
});
