import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../fixture.js';
import {
  apiKeyOf,
  type Caller,
  call,
  expectError,
  getPreferences,
  nested,
  ownDocument,
  patchPreferences,
  pointersOf,
  putWorkspace,
  rawGet,
  signedInAs,
  versionOf,
} from './own-helpers.js';

describe('GET and PATCH /preferences', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { SWITCHBOARD_RATE_LIMITING: 'false' } });
  });
  afterAll(() => t.close());

  it('shows a new user an empty document and ETag "0.0"', async () => {
    const me = await signedInAs(t, 'editor');
    const res = await getPreferences(me);
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('"0.0"');
    expect(res.body.data).toEqual({ shared_workspace_grants: {}, shared_workspace_library: [] });
  });

  it('merges patches sent as application/merge-patch+json and as application/json', async () => {
    const me = await signedInAs(t, 'editor');
    const first = await patchPreferences(me, { theme: 'dark', layout: { left: 1, right: 2 } });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.headers.etag).toBe('"1.0"');
    expect(first.body.data).toMatchObject({ theme: 'dark', layout: { left: 1, right: 2 } });
    const second = await patchPreferences(
      me,
      { layout: { left: null, top: 3 }, theme: null },
      { type: 'application/json; charset=utf-8' },
    );
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.headers.etag).toBe('"2.0"');
    expect(await ownDocument(me)).toEqual({ layout: { right: 2, top: 3 } });
  });

  it('answers 415 to other content types and changes nothing', async () => {
    const me = await signedInAs(t, 'editor');
    for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
      const res = await patchPreferences(me, { theme: 'dark' }, { type });
      expectError(res, 415, 2004);
    }
    expect((await getPreferences(me)).headers.etag).toBe('"0.0"');
  });

  it('grows the ETag with every write and answers 304 to If-None-Match of the current one', async () => {
    const me = await signedInAs(t, 'editor');
    const versions: number[] = [];
    for (const theme of ['a', 'b', 'c']) versions.push(versionOf(await patchPreferences(me, { theme })));
    expect(versions).toEqual([1, 2, 3]);
    const read = await getPreferences(me);
    expect(read.headers.etag).toBe('"3.0"');
    const notModified = await rawGet(t, me, '/api/v1/preferences', { 'if-none-match': '"3.0"' });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.etag).toBe('"3.0"');
    // A 304 has no body; a Content-Length on it must be that of the 200 (RFC 9110 8.6), or none.
    expect(notModified.headers['content-length']).toBeUndefined();
    expect(notModified.text).toBe('');
    const stale = await getPreferences(me, { 'if-none-match': '"2.0"' });
    expect(stale.status).toBe(200);
    expect(stale.body.data.theme).toBe('c');
  });

  it('honours If-Match: the current ETag, its version alone, * and a list go through', async () => {
    const me = await signedInAs(t, 'editor');
    await patchPreferences(me, { n: 0 });
    for (const [n, ifMatch] of [
      [1, '"1.0"'],
      [2, '"2"'],
      [3, '*'],
      [4, '"9.0", "4.0"'],
    ] as const) {
      const res = await patchPreferences(me, { n }, { headers: { 'if-match': ifMatch } });
      expect(res.status, `${ifMatch}: ${JSON.stringify(res.body)}`).toBe(200);
    }
    expect(await ownDocument(me)).toEqual({ n: 4 });
    expect((await getPreferences(me)).headers.etag).toBe('"5.0"');
  });

  it('refuses a stale or weak If-Match with 412 code 4002 and changes nothing', async () => {
    const me = await signedInAs(t, 'editor');
    await patchPreferences(me, { theme: 'light' });
    await patchPreferences(me, { theme: 'dark' });
    for (const ifMatch of ['"1.0"', '"1"', '"0.0"', 'W/"2.0"', '"x"']) {
      const res = await patchPreferences(
        me,
        { theme: 'red', extra: 1 },
        { headers: { 'if-match': ifMatch } },
      );
      expectError(res, 412, 4002);
    }
    expect(await ownDocument(me)).toEqual({ theme: 'dark' });
    expect((await getPreferences(me)).headers.etag).toBe('"2.0"');
  });

  it("keeps other writers' keys when writes come without If-Match", async () => {
    const user = await t.createUser({ role: 'editor' });
    const tab1 = { client: (await t.signIn(user)).client };
    const tab2 = { client: (await t.signIn(user)).client };
    await patchPreferences(tab1, { theme: 'dark', panels: { a: 1 } });
    await patchPreferences(tab2, { timeRange: '1h', panels: { b: 2 } });
    await patchPreferences(tab1, { panels: { a: null, c: 3 } });
    expect(await ownDocument(tab2)).toEqual({ theme: 'dark', timeRange: '1h', panels: { b: 2, c: 3 } });
  });

  describe('viewers', () => {
    it('may change currentWorkspace, theme and timeRange', async () => {
      const viewer = await signedInAs(t, 'viewer');
      const res = await patchPreferences(viewer, { theme: 'dark', timeRange: '24h', currentWorkspace: null });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(await ownDocument(viewer)).toEqual({ theme: 'dark', timeRange: '24h' });
    });

    it('are refused anything else with 403 code 1001 naming the keys, and nothing changes', async () => {
      const viewer = await signedInAs(t, 'viewer');
      await patchPreferences(viewer, { theme: 'light' });
      const res = await patchPreferences(viewer, { theme: 'dark', workspaces: { w: {} }, layout: {} });
      expectError(res, 403, 1001);
      expect(res.body.error_detail.detail).toContain('workspaces');
      expect(res.body.error_detail.detail).toContain('layout');
      expect(res.body.error_detail.detail).not.toMatch(/refused:.*theme/);
      expect(await ownDocument(viewer)).toEqual({ theme: 'light' });
    });
  });

  describe('API keys', () => {
    it("act with the key's role: an editor's editor key writes anything", async () => {
      const editor = await signedInAs(t, 'editor');
      const key = await apiKeyOf(t, editor, 'editor');
      const res = await patchPreferences(key, { workspaces: { w: {} }, layout: 1 });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(await ownDocument(editor)).toEqual({ workspaces: { w: {} }, layout: 1 });
    });

    it("treat an editor's viewer key as a viewer", async () => {
      const editor = await signedInAs(t, 'editor');
      await patchPreferences(editor, { workspaces: { w: {}, v: {} }, currentWorkspace: 'v' });
      const key = await apiKeyOf(t, editor, 'viewer');
      expectError(await patchPreferences(key, { layout: 1 }), 403, 1001);
      expectError(await putWorkspace(key, 'new', {}), 403, 1001);
      expectError(await call(key, '/api/v1/workspaces/w', { method: 'DELETE' }), 403, 1001);
      const moved = await patchPreferences(key, { currentWorkspace: 'w', theme: 'dark' });
      expect(moved.status, JSON.stringify(moved.body)).toBe(200);
      expect(await ownDocument(editor)).toEqual({
        workspaces: { w: {}, v: {} },
        currentWorkspace: 'w',
        theme: 'dark',
      });
    });
  });

  describe('bad patches', () => {
    let me: Caller;

    beforeAll(async () => {
      me = await signedInAs(t, 'editor');
      await patchPreferences(me, { theme: 'dark', workspaces: { main: { panels: [] } } });
    });

    /** After every refusal: still version 1, still the same document. */
    async function unchanged(): Promise<void> {
      const res = await getPreferences(me);
      expect(res.headers.etag).toBe('"1.0"');
      expect(await ownDocument(me)).toEqual({ theme: 'dark', workspaces: { main: { panels: [] } } });
    }

    it('refuses a patch that is not an object with 422', async () => {
      for (const body of ['[]', '[{"theme":"x"}]', '"theme"', '42', 'null', 'true']) {
        expect(pointersOf(await patchPreferences(me, body)), body).toEqual(['']);
      }
      await unchanged();
    });

    it('answers 400 to a body that is not JSON', async () => {
      expectError(await patchPreferences(me, '{"theme":'), 400, 2001);
      await unchanged();
    });

    it("refuses the server's keys with 422 naming them, storing nothing", async () => {
      for (const key of ['shared_workspace_library', 'shared_workspace_grants', 'workspaceTarget']) {
        const res = await patchPreferences(me, {
          theme: 'red',
          [key]: key === 'workspaceTarget' ? 'a/b' : [],
        });
        expect(pointersOf(res), key).toEqual([`/${key}`]);
      }
      const both = await patchPreferences(me, { shared_workspace_library: null, workspaceTarget: null });
      expect(pointersOf(both)).toEqual(['/shared_workspace_library', '/workspaceTarget']);
      await unchanged();
    });

    it('takes nesting 32 levels deep and refuses 33 with 422', async () => {
      const arrays = (levels: number): unknown => (levels === 1 ? [] : [arrays(levels - 1)]);
      expect(pointersOf(await patchPreferences(me, { a: nested(32) }))).toEqual(['']);
      expect(pointersOf(await patchPreferences(me, { a: arrays(32) }))).toEqual(['']);
      expect(pointersOf(await patchPreferences(me, { workspaces: { main: nested(31) } }))).toEqual(['']);
      await unchanged();
      const other = await signedInAs(t, 'editor');
      const ok = await patchPreferences(other, { a: nested(31) });
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(await ownDocument(other)).toEqual({ a: nested(31) });
    });

    it('answers a 100,000-deep body with a 4xx, never a 500', async () => {
      const depth = 100_000;
      const bodies = [
        `{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`,
        `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
        `${'{"__proto__":'.repeat(depth)}1${'}'.repeat(depth)}`,
      ];
      for (const body of bodies) {
        for (const type of ['application/merge-patch+json', 'application/json']) {
          const res = await patchPreferences(me, body, { type });
          expect(
            res.status,
            `${type} ${body.slice(0, 15)}: ${JSON.stringify(res.body)}`,
          ).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
        }
      }
      expect((await t.client().call('/healthz')).status).toBe(200);
      await unchanged();
    });

    it('refuses bad workspace names and workspaces that are not objects with 422 at their pointer', async () => {
      const cases: [string, string][] = [
        ['{"workspaces":{"a/b":{}}}', '/workspaces/a~1b'],
        ['{"workspaces":{"":{}}}', '/workspaces/'],
        ['{"workspaces":{" lead":{}}}', '/workspaces/ lead'],
        ['{"workspaces":{"trail ":{}}}', '/workspaces/trail '],
        ['{"workspaces":{"tab\\there":{}}}', '/workspaces/tab\there'],
        ['{"workspaces":{"current":{}}}', '/workspaces/current'],
        [`{"workspaces":{"${'x'.repeat(101)}":{}}}`, `/workspaces/${'x'.repeat(101)}`],
        ['{"workspaces":{"main":5}}', '/workspaces/main'],
        ['{"workspaces":{"other":[]}}', '/workspaces/other'],
        ['{"workspaces":[]}', '/workspaces'],
        ['{"workspaces":"main"}', '/workspaces'],
      ];
      for (const [body, pointer] of cases) {
        expect(pointersOf(await patchPreferences(me, body)), body).toEqual([pointer]);
      }
      await unchanged();
    });

    it('has the JSON parser refuse __proto__ and constructor.prototype keys (400 code 2001)', async () => {
      for (const body of [
        '{"workspaces":{"__proto__":{}}}',
        '{"__proto__":{"theme":"red"}}',
        '{"constructor":{"prototype":{"theme":"red"}}}',
      ]) {
        expectError(await patchPreferences(me, body), 400, 2001);
      }
      expect(({} as Record<string, unknown>).theme).toBeUndefined();
      await unchanged();
    });

    it('refuses a currentWorkspace that names nothing, or is not a string, with 422', async () => {
      for (const current of ['nowhere', 'someone/main', '', 5, { name: 'main' }]) {
        const res = await patchPreferences(me, { currentWorkspace: current });
        expect(pointersOf(res), JSON.stringify(current)).toEqual(['/currentWorkspace']);
      }
      await unchanged();
    });

    it('takes a currentWorkspace created by the same patch', async () => {
      const other = await signedInAs(t, 'editor');
      const res = await patchPreferences(other, { workspaces: { fresh: {} }, currentWorkspace: 'fresh' });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.data.currentWorkspace).toBe('fresh');
    });
  });

  it('answers 413 to a body larger than SWITCHBOARD_PREFERENCES_MAX_BYTES (default 1 MiB)', async () => {
    const me = await signedInAs(t, 'editor');
    const res = await patchPreferences(me, { blob: 'x'.repeat(1_100_000) });
    expectError(res, 413, 2002);
    expect((await getPreferences(me)).headers.etag).toBe('"0.0"');
  });
});

describe('preferences with SWITCHBOARD_PREFERENCES_MAX_BYTES=16384', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      env: { SWITCHBOARD_RATE_LIMITING: 'false', SWITCHBOARD_PREFERENCES_MAX_BYTES: '16384' },
    });
  });
  afterAll(() => t.close());

  it('refuses with 422 a patch that would make the document too large, and keeps what was there', async () => {
    const me = await signedInAs(t, 'editor');
    const first = await patchPreferences(me, { a: 'x'.repeat(10_000) });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const res = await patchPreferences(me, { b: 'y'.repeat(10_000) });
    expect(pointersOf(res)).toEqual(['']);
    expect(res.body.error_detail.detail).toContain('16,384');
    expect(Object.keys(await ownDocument(me))).toEqual(['a']);
    expect((await getPreferences(me)).headers.etag).toBe('"1.0"');
    const room = await patchPreferences(me, { a: null, b: 'y'.repeat(10_000) });
    expect(room.status, JSON.stringify(room.body)).toBe(200);
  });

  it('answers 413 to a body over the limit', async () => {
    const me = await signedInAs(t, 'editor');
    expectError(await patchPreferences(me, { a: 'x'.repeat(20_000) }), 413, 2002);
    expectError(await putWorkspace(me, 'big', { a: 'x'.repeat(20_000) }), 413, 2002);
    expect((await getPreferences(me)).headers.etag).toBe('"0.0"');
  });

  it('refuses with 422 a workspace PUT that would make the document too large', async () => {
    const me = await signedInAs(t, 'editor');
    expect((await putWorkspace(me, 'one', { a: 'x'.repeat(10_000) })).status).toBe(201);
    expect(pointersOf(await putWorkspace(me, 'two', { a: 'x'.repeat(10_000) }))).toEqual(['']);
    expect(Object.keys((await ownDocument(me)).workspaces as object)).toEqual(['one']);
  });
});
