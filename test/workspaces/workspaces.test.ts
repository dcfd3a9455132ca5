import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../fixture.js';
import {
  apiKeyOf,
  type Caller,
  call,
  expectError,
  nested,
  ownDocument,
  patchPreferences,
  pointersOf,
  putWorkspace,
  signedInAs,
  workspacePath,
} from './own-helpers.js';

const getWorkspace = (who: Caller, name: string) => call(who, workspacePath(name));
const deleteWorkspace = (who: Caller, name: string, query = '', headers: Record<string, string> = {}) =>
  call(who, `${workspacePath(name)}${query}`, { method: 'DELETE', headers });
const rename = (who: Caller, name: string, to: unknown) =>
  call(who, `${workspacePath(name)}/rename`, { method: 'POST', json: { name: to } });
const setCurrent = (who: Caller, name: unknown) =>
  call(who, '/api/v1/workspaces/current', { method: 'PUT', json: { name } });

/** A new editor with workspaces `names` (created in that order, content `{n: i}`) and `current` set. */
async function editorWith(t: TestApp, names: string[], current?: string): Promise<Caller> {
  const me = await signedInAs(t, 'editor');
  for (const [i, name] of names.entries()) {
    const res = await putWorkspace(me, name, { n: i });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  if (current !== undefined) expect((await setCurrent(me, current)).status).toBe(200);
  return me;
}

async function names(who: Caller): Promise<string[]> {
  const res = await call(who, '/api/v1/workspaces');
  expect(res.status).toBe(200);
  return res.body.data.map((w: { name: string }) => w.name);
}

describe('/workspaces', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { SWITCHBOARD_RATE_LIMITING: 'false' } });
  });
  afterAll(() => t.close());

  it('lists workspaces by name, a page at a time', async () => {
    const me = await editorWith(t, ['charlie', 'alpha', 'bravo'], 'bravo');
    const seen: unknown[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const res = await call(me, `/api/v1/workspaces?limit=1${query}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.data).toHaveLength(1);
      seen.push(...res.body.data);
      expect(res.body.pagination.has_more).toBe(seen.length < 3);
      cursor = res.body.pagination.next_cursor;
    } while (cursor);
    expect(seen).toEqual([
      { name: 'alpha', current: false, etag: expect.any(String), grants: [] },
      { name: 'bravo', current: true, etag: expect.any(String), grants: [] },
      { name: 'charlie', current: false, etag: expect.any(String), grants: [] },
    ]);
  });

  it('shows an empty list to a user without workspaces', async () => {
    const me = await signedInAs(t, 'viewer');
    const res = await call(me, '/api/v1/workspaces');
    expect(res.body.data).toEqual([]);
    expect(res.body.pagination).toMatchObject({ has_more: false, next_cursor: null });
  });

  it('creates with PUT (201, Location, ETag), reads it back, and replaces it (200)', async () => {
    const me = await signedInAs(t, 'editor');
    const created = await putWorkspace(me, 'ops', { panels: [{ id: 1 }] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.headers.location).toBe('/api/v1/workspaces/ops');
    expect(created.body.data).toEqual({
      name: 'ops',
      current: false,
      etag: created.headers.etag,
      grants: [],
    });
    const read = await getWorkspace(me, 'ops');
    expect(read.status).toBe(200);
    expect(read.headers.etag).toBe(created.headers.etag);
    expect(read.body.data).toMatchObject({ name: 'ops', workspace: { panels: [{ id: 1 }] } });

    const replaced = await putWorkspace(me, 'ops', { panels: [] }, { query: '?make_current=true' });
    expect(replaced.status).toBe(200);
    expect(replaced.headers.location).toBeUndefined();
    expect(replaced.headers.etag).not.toBe(created.headers.etag);
    expect(replaced.body.data.current).toBe(true);
    expect(await ownDocument(me)).toEqual({ workspaces: { ops: { panels: [] } }, currentWorkspace: 'ops' });
    expectError(await getWorkspace(me, 'nope'), 404, 3000);
  });

  it('refuses a workspace that is not an object, or nests too deep, with 422', async () => {
    const me = await signedInAs(t, 'editor');
    for (const body of [[1], 'text', 5]) expect(pointersOf(await putWorkspace(me, 'w', body))).toEqual(['']);
    expect(pointersOf(await putWorkspace(me, 'w', nested(33)))).toEqual(['']);
    expect((await putWorkspace(me, 'w', nested(32))).status).toBe(201);
  });

  describe('If-Match on PUT', () => {
    it('replaces when it names the current ETag; a stale one is a 412 and changes nothing', async () => {
      const me = await editorWith(t, ['w']);
      const first = (await getWorkspace(me, 'w')).headers.etag as string;
      const ok = await putWorkspace(me, 'w', { v: 2 }, { headers: { 'if-match': first } });
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      const stale = await putWorkspace(me, 'w', { v: 3 }, { headers: { 'if-match': first } });
      expectError(stale, 412, 4002);
      expect((await getWorkspace(me, 'w')).body.data.workspace).toEqual({ v: 2 });
    });

    it('is a 412 on a workspace that does not exist, which is not created', async () => {
      const me = await signedInAs(t, 'editor');
      expectError(await putWorkspace(me, 'ghost', {}, { headers: { 'if-match': '"abc"' } }), 412, 4002);
      // RFC 9110 13.1.1: If-Match: * is false when there is no current representation.
      expectError(await putWorkspace(me, 'ghost', {}, { headers: { 'if-match': '*' } }), 412, 4002);
      expect(await names(me)).toEqual([]);
    });
  });

  it('moves currentWorkspace on when a patch removes the current workspace, as DELETE does', async () => {
    const me = await editorWith(t, ['a', 'b'], 'a');
    expect((await patchPreferences(me, { workspaces: { a: null } })).status).toBe(200);
    expect(await ownDocument(me)).toEqual({ workspaces: { b: { n: 1 } }, currentWorkspace: 'b' });
    expect((await patchPreferences(me, { workspaces: null })).status).toBe(200);
    expect(await ownDocument(me)).toEqual({});
    // A patch that names the next one itself keeps its choice.
    const other = await editorWith(t, ['x', 'y', 'z'], 'x');
    const res = await patchPreferences(other, { workspaces: { x: null }, currentWorkspace: 'z' });
    expect(res.status).toBe(200);
    expect((await ownDocument(other)).currentWorkspace).toBe('z');
  });

  describe('DELETE', () => {
    it('makes `next` current when the current workspace goes', async () => {
      const me = await editorWith(t, ['a', 'b', 'c'], 'b');
      const res = await deleteWorkspace(me, 'b', '?next=c');
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.data).toEqual({ current_workspace: 'c' });
      expect(await ownDocument(me)).toEqual({
        workspaces: { a: { n: 0 }, c: { n: 2 } },
        currentWorkspace: 'c',
      });
    });

    it('makes the first remaining workspace current by default, and none once none are left', async () => {
      const me = await editorWith(t, ['a', 'b', 'c'], 'b');
      expect((await deleteWorkspace(me, 'b')).body.data).toEqual({ current_workspace: 'a' });
      expect((await deleteWorkspace(me, 'c')).body.data).toEqual({ current_workspace: 'a' });
      expect((await deleteWorkspace(me, 'a')).body.data).toEqual({ current_workspace: null });
      expect(await ownDocument(me)).toEqual({ workspaces: {} });
    });

    it('leaves the current workspace alone when another one goes', async () => {
      const me = await editorWith(t, ['a', 'b'], 'b');
      expect((await deleteWorkspace(me, 'a')).body.data).toEqual({ current_workspace: 'b' });
      const none = await editorWith(t, ['a', 'b']);
      expect((await deleteWorkspace(none, 'a')).body.data).toEqual({ current_workspace: null });
    });

    it('refuses a `next` that names no other workspace with 422, deleting nothing', async () => {
      const me = await editorWith(t, ['a', 'b'], 'a');
      for (const next of ['nope', 'a']) {
        expect(pointersOf(await deleteWorkspace(me, 'a', `?next=${next}`))).toEqual(['/next']);
      }
      expect(await names(me)).toEqual(['a', 'b']);
      expect((await ownDocument(me)).currentWorkspace).toBe('a');
    });

    it('answers 404 for a workspace that does not exist, and honours If-Match', async () => {
      const me = await editorWith(t, ['a']);
      expectError(await deleteWorkspace(me, 'nope'), 404, 3000);
      expectError(await deleteWorkspace(me, 'a', '', { 'if-match': '"stale"' }), 412, 4002);
      expect(await names(me)).toEqual(['a']);
      const etag = (await getWorkspace(me, 'a')).headers.etag as string;
      expect((await deleteWorkspace(me, 'a', '', { 'if-match': etag })).status).toBe(200);
      expect(await names(me)).toEqual([]);
    });
  });

  describe('rename', () => {
    it('moves the content, keeps the place, and the current workspace follows', async () => {
      const me = await editorWith(t, ['a', 'b', 'c'], 'b');
      const res = await rename(me, 'b', 'bee');
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.data).toMatchObject({ name: 'bee', current: true, grants: [] });
      expect(res.headers.etag).toBe(res.body.data.etag);
      const document = await ownDocument(me);
      expect(Object.keys(document.workspaces as object)).toEqual(['a', 'bee', 'c']);
      expect(document).toEqual({
        workspaces: { a: { n: 0 }, bee: { n: 1 }, c: { n: 2 } },
        currentWorkspace: 'bee',
      });
      expectError(await getWorkspace(me, 'b'), 404, 3000);
    });

    it('refuses a name already taken with 409 code 4001, and a bad one with 422', async () => {
      const me = await editorWith(t, ['a', 'b'], 'a');
      expectError(await rename(me, 'a', 'b'), 409, 4001);
      for (const to of ['', 'x/y', 'current', '__proto__', ' x', 'x ', 'x\ny', 'x'.repeat(101)]) {
        expect(pointersOf(await rename(me, 'a', to)), JSON.stringify(to)).toEqual(['/name']);
      }
      expectError(await rename(me, 'nope', 'c'), 404, 3000);
      expect(await ownDocument(me)).toEqual({
        workspaces: { a: { n: 0 }, b: { n: 1 } },
        currentWorkspace: 'a',
      });
    });
  });

  describe('PUT /workspaces/current', () => {
    it('sets one of your own, clears it with null, and refuses an unknown name with 422', async () => {
      const me = await editorWith(t, ['a', 'b']);
      const set = await setCurrent(me, 'b');
      expect(set.status, JSON.stringify(set.body)).toBe(200);
      expect(set.body.data).toEqual({ current_workspace: 'b' });
      expect((await getWorkspace(me, 'b')).body.data.current).toBe(true);
      expect(pointersOf(await setCurrent(me, 'nope'))).toEqual(['/name']);
      expect(pointersOf(await setCurrent(me, 'someone/b'))).toEqual(['/name']);
      expect((await ownDocument(me)).currentWorkspace).toBe('b');
      expect((await setCurrent(me, null)).body.data).toEqual({ current_workspace: null });
      expect(await ownDocument(me)).toEqual({ workspaces: { a: { n: 0 }, b: { n: 1 } } });
    });

    it('is open to viewers and to viewer keys', async () => {
      const viewer = await signedInAs(t, 'viewer');
      expect((await setCurrent(viewer, null)).status).toBe(200);
      expectError(await setCurrent(viewer, 'nope'), 422, 2000);
      const editor = await editorWith(t, ['a', 'b'], 'a');
      const key = await apiKeyOf(t, editor, 'viewer');
      expect((await setCurrent(key, 'b')).body.data).toEqual({ current_workspace: 'b' });
      expect((await ownDocument(editor)).currentWorkspace).toBe('b');
    });
  });

  it('sums up names, the current workspace and counts', async () => {
    const me = await editorWith(t, ['x', 'y'], 'y');
    const res = await call(me, '/api/v1/preferences/summary');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      workspaces: ['x', 'y'],
      current_workspace: 'y',
      counts: { workspaces: 2, shared_with_me: 0, shared_by_me: 0, grants: 0 },
    });
    const empty = await call(await signedInAs(t, 'viewer'), '/api/v1/preferences/summary');
    expect(empty.body.data).toEqual({
      workspaces: [],
      current_workspace: null,
      counts: { workspaces: 0, shared_with_me: 0, shared_by_me: 0, grants: 0 },
    });
  });

  describe('names', () => {
    it('answers an empty name with a 4xx and creates nothing', async () => {
      const me = await signedInAs(t, 'editor');
      const res = await call(me, '/api/v1/workspaces/', { method: 'PUT', json: {} });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(await names(me)).toEqual([]);
    });

    it('refuses bad names in the path with 422 and creates nothing', async () => {
      const me = await signedInAs(t, 'editor');
      const bad = [
        'x'.repeat(101),
        'a/b',
        'tab\there',
        'new\nline',
        'nul\u0000',
        'del\u007f',
        ' lead',
        'trail ',
        '__proto__',
      ];
      for (const name of bad) {
        expect(pointersOf(await putWorkspace(me, name, {})), JSON.stringify(name)).toEqual(['/name']);
      }
      expect(await names(me)).toEqual([]);
    });

    it('keeps "current" for PUT /workspaces/current: no workspace can take it', async () => {
      const me = await signedInAs(t, 'editor');
      expectError(await putWorkspace(me, 'current', { panels: [] }), 422, 2000);
      expect(pointersOf(await patchPreferences(me, { workspaces: { current: {} } }))).toEqual([
        '/workspaces/current',
      ]);
      expect(await names(me)).toEqual([]);
    });

    it('takes 100 characters, multibyte ones included, and any other Unicode', async () => {
      const me = await signedInAs(t, 'editor');
      const accepted = [
        'x'.repeat(100),
        'é'.repeat(100),
        '€'.repeat(100),
        '😀'.repeat(100),
        'a b%c?d#e',
        '日本語 ✓',
      ];
      for (const name of accepted) {
        const res = await putWorkspace(me, name, { name });
        expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(201);
        expect(res.headers.location).toBe(workspacePath(name));
        const read = await call(me, res.headers.location as string);
        expect(read.body.data).toMatchObject({ name, workspace: { name } });
      }
      expect((await names(me)).sort()).toEqual([...accepted].sort());
      expect(pointersOf(await putWorkspace(me, '😀'.repeat(101), {}))).toEqual(['/name']);
    });
  });

  describe('viewers', () => {
    it('get 403 for PUT, DELETE and rename, and may read', async () => {
      const viewer = await signedInAs(t, 'viewer');
      expectError(await putWorkspace(viewer, 'w', {}), 403, 1001);
      expectError(await deleteWorkspace(viewer, 'w'), 403, 1001);
      expectError(await rename(viewer, 'w', 'v'), 403, 1001);
      expect((await call(viewer, '/api/v1/workspaces')).status).toBe(200);
      expect(await ownDocument(viewer)).toEqual({});
    });

    it('include an editor using a viewer key, whose workspaces stay as they were', async () => {
      const editor = await editorWith(t, ['w']);
      const key = await apiKeyOf(t, editor, 'viewer');
      expectError(await putWorkspace(key, 'w', { v: 2 }), 403, 1001);
      expectError(await deleteWorkspace(key, 'w'), 403, 1001);
      expectError(await rename(key, 'w', 'v'), 403, 1001);
      expect((await getWorkspace(key, 'w')).body.data.workspace).toEqual({ n: 0 });
    });
  });
});

describe('/workspaces with SWITCHBOARD_WORKSPACES_MAX=3', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { SWITCHBOARD_RATE_LIMITING: 'false', SWITCHBOARD_WORKSPACES_MAX: '3' } });
  });
  afterAll(() => t.close());

  it('refuses a fourth workspace with 422, by PUT and by patch, and still replaces the three', async () => {
    const me = await editorWith(t, ['a', 'b', 'c']);
    expect(pointersOf(await putWorkspace(me, 'd', {}))).toEqual(['/workspaces']);
    expect(pointersOf(await patchPreferences(me, { workspaces: { d: {}, e: {} } }))).toEqual(['/workspaces']);
    expect(await names(me)).toEqual(['a', 'b', 'c']);
    expect((await putWorkspace(me, 'c', { v: 2 })).status).toBe(200);
    expect((await rename(me, 'c', 'd')).status).toBe(200);
    const swap = await patchPreferences(me, { workspaces: { a: null, e: {} } });
    expect(swap.status, JSON.stringify(swap.body)).toBe(200);
    expect(await names(me)).toEqual(['b', 'd', 'e']);
  });
});
