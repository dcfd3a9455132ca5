import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/auth/roles.js';
import type { CallOptions, Reply } from '../client.js';
import { startTestApp, type TestApp } from '../fixture.js';
import {
  adminPatchUser,
  api,
  apiKey,
  enc,
  expectError,
  expectOk,
  library,
  type Member,
  member,
  ownDocument,
  prefs,
  putGrants,
  putWorkspace,
  SHARING_ENV,
  seen,
  share,
  toRole,
  toUser,
  withoutInstance,
} from './sharing-helpers.js';

const MERGE_PATCH = { 'content-type': 'application/merge-patch+json' };

/** A request whose path goes out exactly as written (node:http does not resolve dot segments). */
function rawCall(
  t: TestApp,
  who: Member,
  method: string,
  path: string,
  json?: unknown,
): Promise<{ status: number; location: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(t.url);
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path,
        method,
        headers: { authorization: `Bearer ${who.accessToken}`, 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, text }));
      },
    );
    req.on('error', reject);
    req.end(json === undefined ? undefined : JSON.stringify(json));
  });
}

/** The owner's workspace as they read it: content and ETag. */
async function ownerView(owner: Member, name: string): Promise<{ workspace: unknown; etag: string }> {
  const res = await api(owner, `/workspaces/${enc(name)}`);
  expectOk(res, 200, `owner GET ${name}`);
  return { workspace: res.body.data.workspace, etag: String(res.headers.etag) };
}

/** Everything of the owner a grantee must not be able to change: their document and their grants. */
async function ownerState(owner: Member): Promise<unknown> {
  const { data } = await prefs(owner);
  const { shared_workspace_library: _library, ...rest } = data;
  return rest;
}

const sharedPath = (owner: Member | string, name: string) =>
  `/shared/${typeof owner === 'string' ? owner : owner.username}/${enc(name)}`;

describe('reading and editing a shared workspace', () => {
  let t: TestApp;
  let owner: Member;
  let editGrantee: Member;
  let viewGrantee: Member;
  let viewerWithEdit: Member;
  let stranger: Member;
  let admin: Member;

  beforeAll(async () => {
    t = await startTestApp({ env: { ...SHARING_ENV, SWITCHBOARD_PREFERENCES_MAX_BYTES: '16384' } });
    owner = await member(t, 'editor');
    editGrantee = await member(t, 'editor');
    viewGrantee = await member(t, 'editor');
    viewerWithEdit = await member(t, 'viewer');
    stranger = await member(t, 'editor');
    admin = await member(t, 'admin');
    expectOk(
      await api(owner, '/preferences', {
        method: 'PATCH',
        json: {
          theme: 'dark',
          timeRange: '1h',
          variables: { site: 'north' },
          currentWorkspace: null,
          workspaces: {
            team: { panels: [{ id: 1, title: 'Boilers' }], layout: { columns: 2 } },
            secret: { panels: [{ id: 9, title: 'Payroll' }] },
          },
        },
      }),
    );
    await share(owner, 'team', [
      toUser(editGrantee.username, 'edit'),
      toUser(viewGrantee.username, 'view'),
      toUser(viewerWithEdit.username, 'edit'),
    ]);
  });
  afterAll(() => t.close());

  it('lets a grantee read it with its ETag, the same as the owner and the library show', async () => {
    const res = await api(viewGrantee, sharedPath(owner, 'team'));
    expectOk(res);
    const { workspace, etag } = await ownerView(owner, 'team');
    expect(res.headers.etag).toBe(etag);
    expect(res.body).toMatchObject({ success: true, error: null });
    expect(res.body.data).toEqual({
      owner: owner.username,
      owner_id: owner.id,
      name: 'team',
      access: 'view',
      etag,
      workspace,
      variables: { site: 'north' },
    });
    const entry = (await library(viewGrantee)).find((e) => e.name === 'team');
    expect(entry?.etag).toBe(etag);
    expect((await api(editGrantee, sharedPath(owner, 'team'))).body.data.access).toBe('edit');
    expect((await api(viewerWithEdit, sharedPath(owner, 'team'))).body.data.access).toBe('view');
    // The owner's username is matched as usernames are: case does not matter.
    expectOk(await api(viewGrantee, sharedPath(owner.username.toUpperCase(), 'team')));
  });

  it('answers 404 alike for no grant, no such workspace, no such owner, and the owner themself', async () => {
    const replies: [string, Reply][] = [
      ['stranger on an unshared workspace', await api(stranger, sharedPath(owner, 'secret'))],
      ['stranger on a missing workspace', await api(stranger, sharedPath(owner, 'nothing'))],
      ['grantee on an unshared workspace', await api(editGrantee, sharedPath(owner, 'secret'))],
      ['admin on an unshared workspace', await api(admin, sharedPath(owner, 'secret'))],
      ['owner on their own, through /shared', await api(owner, sharedPath(owner, 'secret'))],
    ];
    for (const [what, res] of replies) expectError(res, 404, 3000, what);
    // Same URL, same answer, whether the workspace exists or not; the owner's name shows only as asked.
    const bodies = replies.map(([, res]) =>
      JSON.stringify(withoutInstance(res.body)).replaceAll('nothing', 'secret'),
    );
    expect(new Set(bodies)).toEqual(new Set([bodies[0]]));
    const noOwner = await api(stranger, sharedPath('no-such-owner', 'secret'));
    expectError(noOwner, 404, 3000);
    expect(JSON.stringify(withoutInstance(noOwner.body)).replaceAll('no-such-owner', owner.username)).toBe(
      bodies[0],
    );
    // The headers say nothing more either.
    expect(replies[0]?.[1].headers.etag).toBeUndefined();
  });

  it('lets an edit grantee merge-patch the content; the owner sees it and nothing else of theirs moves', async () => {
    const before = await ownerView(owner, 'team');
    const stateBefore = (await prefs(owner)).data;
    const res = await api(editGrantee, sharedPath(owner, 'team'), {
      method: 'PATCH',
      body: JSON.stringify({ panels: [{ id: 1, title: 'Boilers (edited)' }], layout: { rows: 3 } }),
      headers: MERGE_PATCH,
    });
    expectOk(res);
    const expected = { panels: [{ id: 1, title: 'Boilers (edited)' }], layout: { columns: 2, rows: 3 } };
    expect(res.body.data.workspace).toEqual(expected);
    expect(res.body.data.access).toBe('edit');
    const after = await ownerView(owner, 'team');
    expect(after.workspace).toEqual(expected);
    expect(res.headers.etag).toBe(after.etag);
    expect(after.etag).not.toBe(before.etag);
    const stateAfter = (await prefs(owner)).data;
    for (const key of ['theme', 'timeRange', 'variables', 'currentWorkspace', 'shared_workspace_grants']) {
      expect(stateAfter[key], key).toEqual(stateBefore[key]);
    }
    expect(stateAfter.workspaces.secret).toEqual(stateBefore.workspaces.secret);
    expect(Object.keys(stateAfter.workspaces)).toEqual(Object.keys(stateBefore.workspaces));
    // Other grantees read the new content.
    expect((await api(viewGrantee, sharedPath(owner, 'team'))).body.data.workspace).toEqual(expected);
    // Null removes a key of the workspace, as RFC 7396 says; plain JSON is accepted too.
    const removed = await api(editGrantee, sharedPath(owner, 'team'), {
      method: 'PATCH',
      json: { layout: null },
    });
    expectOk(removed);
    expect((await ownerView(owner, 'team')).workspace).toEqual({ panels: expected.panels });
    // The edit grantee's own document is untouched.
    expect(JSON.stringify(await ownDocument(editGrantee))).not.toContain('Boilers');
  });

  it('records who edited it in the audit log', async () => {
    await api(editGrantee, sharedPath(owner, 'team'), { method: 'PATCH', json: { audited: true } });
    const audit = await api(admin, '/audit?type=workspace.edited&limit=100');
    expectOk(audit);
    const mine = audit.body.data.filter(
      (e: { actor?: { username?: string } }) => e.actor?.username === editGrantee.username,
    );
    expect(mine.length).toBeGreaterThan(0);
    expect(mine[0].target).toEqual({ type: 'workspace', id: `${owner.username}/team` });
  });

  it('honours If-Match: the current ETag or * go ahead, a stale or weak one is a 412 that changes nothing', async () => {
    const { etag } = await ownerView(owner, 'team');
    const good = await api(editGrantee, sharedPath(owner, 'team'), {
      method: 'PATCH',
      json: { step: 1 },
      headers: { 'if-match': etag },
    });
    expectOk(good);
    const current = await ownerView(owner, 'team');
    for (const stale of [etag, `W/${current.etag}`, '"nonsense"', `"${current.etag}"`]) {
      const res = await api(editGrantee, sharedPath(owner, 'team'), {
        method: 'PATCH',
        json: { step: 'stale' },
        headers: { 'if-match': stale },
      });
      expectError(res, 412, 4002, stale);
    }
    expect(await ownerView(owner, 'team')).toEqual(current);
    const listed = await api(editGrantee, sharedPath(owner, 'team'), {
      method: 'PATCH',
      json: { step: 2 },
      headers: { 'if-match': `"other", ${current.etag}` },
    });
    expectOk(listed);
    const star = await api(editGrantee, sharedPath(owner, 'team'), {
      method: 'PATCH',
      json: { step: 3 },
      headers: { 'if-match': '*' },
    });
    expectOk(star);
    expect(((await ownerView(owner, 'team')).workspace as { step: number }).step).toBe(3);
    // An owner's own change in between makes the grantee's ETag stale.
    const read = await api(editGrantee, sharedPath(owner, 'team'));
    await putWorkspace(owner, 'team', { ...(read.body.data.workspace as object), owner: 'was here' });
    const late = await api(editGrantee, sharedPath(owner, 'team'), {
      method: 'PATCH',
      json: { step: 4 },
      headers: { 'if-match': String(read.headers.etag) },
    });
    expectError(late, 412, 4002);
    expect((await ownerView(owner, 'team')).workspace).toMatchObject({ step: 3, owner: 'was here' });
  });

  it('refuses view grantees and viewers holding an edit grant with 403, changing nothing', async () => {
    const before = await ownerState(owner);
    for (const who of [viewGrantee, viewerWithEdit]) {
      const res = await api(who, sharedPath(owner, 'team'), { method: 'PATCH', json: { hacked: true } });
      expectError(res, 403, 1001, who.username);
    }
    expect(await ownerState(owner)).toEqual(before);
  });

  it('answers 404 to a PATCH without a grant, the same as for a workspace that does not exist', async () => {
    const before = await ownerState(owner);
    const unshared = await api(stranger, sharedPath(owner, 'secret'), { method: 'PATCH', json: { x: 1 } });
    const missing = await api(stranger, sharedPath(owner, 'nothing'), { method: 'PATCH', json: { x: 1 } });
    const notMine = await api(editGrantee, sharedPath(owner, 'secret'), { method: 'PATCH', json: { x: 1 } });
    for (const res of [unshared, missing, notMine]) expectError(res, 404, 3000);
    expect(JSON.stringify(withoutInstance(missing.body)).replaceAll('nothing', 'secret')).toBe(
      JSON.stringify(withoutInstance(unshared.body)),
    );
    expect(await ownerState(owner)).toEqual(before);
  });

  it('refuses an edit that is not an object, nests too deep, or grows the document past its limit', async () => {
    const before = await ownerState(owner);
    let deep: unknown = {};
    for (let i = 0; i < 40; i += 1) deep = { d: deep };
    const bodies: [string, string][] = [
      ['an array', '[1,2]'],
      ['a string', '"text"'],
      ['null', 'null'],
      ['too deep', JSON.stringify(deep)],
      ['too large for the owner', JSON.stringify({ blob: 'x'.repeat(16_150) })],
    ];
    for (const [what, body] of bodies) {
      const res = await api(editGrantee, sharedPath(owner, 'team'), {
        method: 'PATCH',
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect([400, 413, 422], `${what}: ${res.status}`).toContain(res.status);
      expect(res.body.success).toBe(false);
    }
    expect(await ownerState(owner)).toEqual(before);
  });

  it('refuses DELETE, rename and re-sharing through /shared: 403 for grantees, 404 for others', async () => {
    const before = await ownerState(owner);
    const attempts: [string, string, CallOptions][] = [
      ['DELETE', '', { method: 'DELETE' }],
      ['rename', '/rename', { method: 'POST', json: { name: 'stolen' } }],
      ['grants', '/grants', { method: 'PUT', json: [toRole('viewer', 'edit')] }],
    ];
    for (const [what, suffix, options] of attempts) {
      for (const grantee of [editGrantee, viewGrantee, viewerWithEdit]) {
        const res = await api(grantee, `${sharedPath(owner, 'team')}${suffix}`, options);
        expectError(res, 403, 1001, `${what} by ${grantee.username}`);
      }
      for (const [who, name] of [
        [stranger, 'team'],
        [stranger, 'secret'],
        [stranger, 'nothing'],
        [editGrantee, 'secret'],
        [admin, 'team'],
        [owner, 'team'],
      ] as const) {
        const res = await api(who, `${sharedPath(owner, name)}${suffix}`, options);
        expectError(res, 404, 3000, `${what} of ${name} by ${who.username}`);
      }
    }
    expect(await ownerState(owner)).toEqual(before);
    expect(await seen(stranger)).toEqual([]);
    expectOk(await api(editGrantee, sharedPath(owner, 'team')));
  });

  it("does not let a grantee reach the owner's workspace through their own routes", async () => {
    const before = await ownerState(owner);
    const qualified = `${owner.username}/team`;
    const attempts: [string, CallOptions, number][] = [
      [`/workspaces/${enc(qualified)}`, { method: 'PUT', json: { hijacked: true } }, 422],
      [`/workspaces/${enc(qualified)}`, { method: 'DELETE' }, 404],
      [`/workspaces/${enc(qualified)}/rename`, { method: 'POST', json: { name: 'x' } }, 404],
      [`/workspaces/${enc(qualified)}/grants`, { method: 'PUT', json: [toRole('viewer')] }, 404],
      [`/workspaces/${enc(qualified)}`, {}, 404],
      ['/workspaces/team', { method: 'DELETE' }, 404],
      ['/workspaces/team/rename', { method: 'POST', json: { name: 'x' } }, 404],
      ['/workspaces/team/grants', { method: 'PUT', json: [toRole('viewer')] }, 404],
      ['/workspaces/team/grants', {}, 404],
      ['/preferences', { method: 'PATCH', json: { workspaces: { [qualified]: { hijacked: true } } } }, 422],
      ['/preferences', { method: 'PATCH', json: { workspaceTarget: qualified, workspaces: {} } }, 422],
      [
        '/preferences',
        { method: 'PATCH', json: { shared_workspace_library: [{ owner: owner.username, name: 'team' }] } },
        422,
      ],
      ['/preferences', { method: 'PATCH', json: { shared_workspace_grants: { team: [] } } }, 422],
    ];
    for (const [path, options, status] of attempts) {
      const res = await api(editGrantee, path, options);
      expect(res.status, `${options.method ?? 'GET'} ${path}: ${JSON.stringify(res.body)}`).toBe(status);
    }
    // A workspace of the grantee's own called "team" is theirs alone.
    await putWorkspace(editGrantee, 'team', { mine: true });
    expectOk(await api(editGrantee, '/workspaces/team', { method: 'DELETE' }));
    expect(await ownerState(owner)).toEqual(before);
    // The refusals of smuggled keys name them.
    const smuggled = await api(editGrantee, '/preferences', {
      method: 'PATCH',
      json: { workspaceTarget: qualified },
    });
    expect(smuggled.body.error_detail.errors.map((e: { pointer: string }) => e.pointer)).toEqual([
      '/workspaceTarget',
    ]);
  });

  it('lets an API key of an edit grantee edit as the session does; a viewer key cannot', async () => {
    const editorKey = await apiKey(editGrantee, 'editor');
    const viewerKey = await apiKey(editGrantee, 'viewer');
    const byKey = await t.client().call(`/api/v1${sharedPath(owner, 'team')}`, {
      method: 'PATCH',
      json: { by: 'key' },
      bearer: editorKey,
    });
    expectOk(byKey);
    expect(byKey.body.data.access).toBe('edit');
    expect((await ownerView(owner, 'team')).workspace).toMatchObject({ by: 'key' });
    const before = await ownerState(owner);
    const read = await t.client().call(`/api/v1${sharedPath(owner, 'team')}`, { bearer: viewerKey });
    expectOk(read);
    expect(read.body.data.access).toBe('view');
    const refused = await t.client().call(`/api/v1${sharedPath(owner, 'team')}`, {
      method: 'PATCH',
      json: { by: 'viewer key' },
      bearer: viewerKey,
    });
    expectError(refused, 403, 1001);
    expect(await ownerState(owner)).toEqual(before);
    const viaBearer = await t.client().call(`/api/v1${sharedPath(owner, 'team')}`, {
      method: 'PATCH',
      json: { by: 'jwt' },
      bearer: editGrantee.accessToken,
    });
    expectOk(viaBearer);
  });

  it('never shows a workspace to someone whose grant was removed, on any route', async () => {
    const reader = await member(t, 'editor');
    await putWorkspace(owner, 'revoked', { r: 1 });
    await share(owner, 'revoked', [toUser(reader.username, 'edit')]);
    expectOk(await api(reader, sharedPath(owner, 'revoked')));
    await share(owner, 'revoked', []);
    expect(await seen(reader)).toEqual([]);
    expectError(await api(reader, sharedPath(owner, 'revoked')), 404, 3000);
    expectError(
      await api(reader, sharedPath(owner, 'revoked'), { method: 'PATCH', json: { r: 2 } }),
      404,
      3000,
    );
    expectError(await api(reader, sharedPath(owner, 'revoked'), { method: 'DELETE' }), 404, 3000);
    expect((await ownerView(owner, 'revoked')).workspace).toEqual({ r: 1 });
    // Nor may they make it their current workspace any more.
    const current = await api(reader, '/workspaces/current', {
      method: 'PUT',
      json: { name: `${owner.username}/revoked` },
    });
    expectError(current, 422, 2000);
  });

  it('lets a grantee make a shared workspace current, and nobody else', async () => {
    const set = await api(viewerWithEdit, '/workspaces/current', {
      method: 'PUT',
      json: { name: `${owner.username}/team` },
    });
    expectOk(set);
    expect(set.body.data.current_workspace).toBe(`${owner.username}/team`);
    const refusals = [
      await api(stranger, '/workspaces/current', { method: 'PUT', json: { name: `${owner.username}/team` } }),
      await api(stranger, '/workspaces/current', {
        method: 'PUT',
        json: { name: `${owner.username}/secret` },
      }),
      await api(stranger, '/workspaces/current', {
        method: 'PUT',
        json: { name: `${owner.username}/nothing` },
      }),
      await api(stranger, '/preferences', {
        method: 'PATCH',
        json: { currentWorkspace: `${owner.username}/secret` },
      }),
      await api(stranger, '/preferences', {
        method: 'PATCH',
        json: { currentWorkspace: `${owner.username}/nothing` },
      }),
    ];
    for (const res of refusals) expectError(res, 422, 2000);
    // Whether the workspace exists is not told apart.
    const detail = (res: Reply) =>
      String(res.body.error_detail.detail).replaceAll('nothing', 'secret').replaceAll('team', 'secret');
    expect(new Set(refusals.slice(0, 3).map(detail)).size).toBe(1);
    expect(new Set(refusals.slice(3).map(detail)).size).toBe(1);
  });
});

describe('every route, every role, every credential', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: SHARING_ENV });
  });
  afterAll(() => t.close());

  type Call = (path: string, options?: CallOptions) => Promise<Reply>;

  interface Step {
    what: string;
    path: (owner: string) => string;
    options?: CallOptions;
    /** Expected status for a caller whose credential acts as `role`. */
    expect: (role: Role) => number;
  }

  /** The step's options, with OWNER in its body replaced by the owner's username. */
  const optionsOf = (step: Step, owner: string): CallOptions | undefined =>
    step.options?.json === undefined
      ? step.options
      : { ...step.options, json: JSON.parse(JSON.stringify(step.options.json).replaceAll('OWNER', owner)) };

  const byRole = (viewer: number, others: number) => (role: Role) => (role === 'viewer' ? viewer : others);
  const always = (status: number) => () => status;

  // Run in order by one caller: their own workspace "mine" is made, shared, renamed and deleted; "team"
  // belongs to an owner who shared it with them for editing; "secret" to the same owner, unshared.
  const steps: Step[] = [
    { what: 'GET /preferences', path: () => '/preferences', expect: always(200) },
    {
      what: 'PATCH /preferences theme',
      path: () => '/preferences',
      options: { method: 'PATCH', json: { theme: 'dark' } },
      expect: always(200),
    },
    {
      what: 'PATCH /preferences other key',
      path: () => '/preferences',
      options: { method: 'PATCH', json: { density: 'compact' } },
      expect: byRole(403, 200),
    },
    { what: 'GET /preferences/summary', path: () => '/preferences/summary', expect: always(200) },
    { what: 'GET /workspaces', path: () => '/workspaces', expect: always(200) },
    {
      what: 'PUT /workspaces/mine',
      path: () => '/workspaces/mine',
      options: { method: 'PUT', json: { a: 1 } },
      expect: byRole(403, 201),
    },
    { what: 'GET /workspaces/mine', path: () => '/workspaces/mine', expect: byRole(404, 200) },
    {
      what: 'PUT /workspaces/mine/grants',
      path: () => '/workspaces/mine/grants',
      options: { method: 'PUT', json: [toRole('admin')] },
      expect: byRole(403, 200),
    },
    { what: 'GET /workspaces/mine/grants', path: () => '/workspaces/mine/grants', expect: byRole(404, 200) },
    {
      what: 'POST /workspaces/mine/rename',
      path: () => '/workspaces/mine/rename',
      options: { method: 'POST', json: { name: 'mine2' } },
      expect: byRole(403, 200),
    },
    {
      what: 'PUT /workspaces/current',
      path: () => '/workspaces/current',
      options: { method: 'PUT', json: { name: 'OWNER/team' } },
      expect: always(200),
    },
    {
      what: 'DELETE /workspaces/mine2',
      path: () => '/workspaces/mine2',
      options: { method: 'DELETE' },
      expect: byRole(403, 200),
    },
    { what: 'GET /shared/team', path: (o) => `/shared/${o}/team`, expect: always(200) },
    {
      what: 'PATCH /shared/team',
      path: (o) => `/shared/${o}/team`,
      options: { method: 'PATCH', json: { edited: true } },
      expect: byRole(403, 200),
    },
    {
      what: 'DELETE /shared/team',
      path: (o) => `/shared/${o}/team`,
      options: { method: 'DELETE' },
      expect: always(403),
    },
    {
      what: 'POST /shared/team/rename',
      path: (o) => `/shared/${o}/team/rename`,
      options: { method: 'POST', json: { name: 'x' } },
      expect: always(403),
    },
    {
      what: 'PUT /shared/team/grants',
      path: (o) => `/shared/${o}/team/grants`,
      options: { method: 'PUT', json: [toRole('viewer', 'edit')] },
      expect: always(403),
    },
    { what: 'GET /shared/secret', path: (o) => `/shared/${o}/secret`, expect: always(404) },
    {
      what: 'PATCH /shared/secret',
      path: (o) => `/shared/${o}/secret`,
      options: { method: 'PATCH', json: { edited: true } },
      expect: always(404),
    },
    {
      what: 'DELETE /shared/secret',
      path: (o) => `/shared/${o}/secret`,
      options: { method: 'DELETE' },
      expect: always(404),
    },
    {
      what: 'POST /shared/secret/rename',
      path: (o) => `/shared/${o}/secret/rename`,
      options: { method: 'POST', json: { name: 'x' } },
      expect: always(404),
    },
    {
      what: 'PUT /shared/secret/grants',
      path: (o) => `/shared/${o}/secret/grants`,
      options: { method: 'PUT', json: [toRole('viewer')] },
      expect: always(404),
    },
  ];

  /** An owner with "team" shared for editing with `grantee` and "secret" shared with no one. */
  async function ownerFor(grantee: Member): Promise<Member> {
    const owner = await member(t, 'editor');
    await putWorkspace(owner, 'team', { t: 1 });
    await putWorkspace(owner, 'secret', { s: 1 });
    await share(owner, 'team', [toUser(grantee.username, 'edit')]);
    return owner;
  }

  async function runAs(call: Call, effective: Role, label: string, owner: Member) {
    const secretBefore = await ownerView(owner, 'secret');
    const failures: string[] = [];
    for (const step of steps) {
      const res = await call(`/api/v1${step.path(owner.username)}`, optionsOf(step, owner.username));
      const wanted = step.expect(effective);
      if (res.status !== wanted) {
        failures.push(
          `${label}: ${step.what} gave ${res.status}, wanted ${wanted} ${JSON.stringify(res.body)}`,
        );
      }
    }
    expect(failures).toEqual([]);
    expect(await ownerView(owner, 'secret')).toEqual(secretBefore);
    expect((await ownerView(owner, 'team')).workspace).toEqual(
      effective === 'viewer' ? { t: 1 } : { t: 1, edited: true },
    );
    expect((await api(owner, '/workspaces/team/grants')).body.data).toHaveLength(1);
    expect((await api(owner, '/workspaces')).body.data.map((w: { name: string }) => w.name)).toEqual([
      'secret',
      'team',
    ]);
  }

  const roles: Role[] = ['viewer', 'editor', 'admin'];

  for (const role of roles) {
    it(`${role}: session cookie with the CSRF token`, async () => {
      const who = await member(t, role);
      await runAs(
        (path, options) => who.client.call(path, options),
        role,
        `${role} cookie`,
        await ownerFor(who),
      );
    });

    it(`${role}: bearer access token`, async () => {
      const who = await member(t, role);
      const call: Call = (path, options) => t.client().call(path, { ...options, bearer: who.accessToken });
      await runAs(call, role, `${role} bearer`, await ownerFor(who));
    });

    it(`${role}: API key of the same role`, async () => {
      const who = await member(t, role);
      const key = await apiKey(who, role);
      const call: Call = (path, options) => t.client().call(path, { ...options, bearer: key });
      await runAs(call, role, `${role} key`, await ownerFor(who));
    });
  }

  for (const [userRole, keyRole] of [
    ['editor', 'viewer'],
    ['admin', 'viewer'],
    ['admin', 'editor'],
  ] as const) {
    it(`${userRole} with an API key of role ${keyRole}: acts as ${keyRole}`, async () => {
      const who = await member(t, userRole);
      const key = await apiKey(who, keyRole);
      const call: Call = (path, options) => t.client().call(path, { ...options, bearer: key });
      await runAs(call, keyRole, `${userRole} with ${keyRole} key`, await ownerFor(who));
    });
  }

  it('a lower-role API key sees only what its role reaches in the library', async () => {
    const owner = await member(t, 'editor');
    const reader = await member(t, 'admin');
    await putWorkspace(owner, 'admins only', {});
    await putWorkspace(owner, 'editors', {});
    await putWorkspace(owner, 'everyone', {});
    await share(owner, 'admins only', [toRole('admin', 'edit')]);
    await share(owner, 'editors', [toRole('editor', 'edit')]);
    await share(owner, 'everyone', [toRole('viewer', 'edit')]);
    const mine = (entries: { owner: string; name: string; access: string }[]) =>
      entries
        .filter((e) => e.owner === owner.username)
        .map((e) => `${e.name}:${e.access}`)
        .sort();
    const readWith = async (bearer: string) =>
      mine((await t.client().call('/api/v1/preferences', { bearer })).body.data.shared_workspace_library);
    expect(await readWith(reader.accessToken)).toEqual(['admins only:edit', 'editors:edit', 'everyone:edit']);
    expect(await readWith(await apiKey(reader, 'editor'))).toEqual(['editors:edit', 'everyone:edit']);
    expect(await readWith(await apiKey(reader, 'viewer'))).toEqual(['everyone:view']);
    const viewerKey = await apiKey(reader, 'viewer');
    const hidden = await t.client().call(`/api/v1/shared/${owner.username}/${enc('admins only')}`, {
      bearer: viewerKey,
    });
    expectError(hidden, 404, 3000);
  });

  it('answers 401 code 1008 on every route without credentials, and changes nothing', async () => {
    const grantee = await member(t, 'editor');
    const owner = await ownerFor(grantee);
    for (const step of steps) {
      const res = await t
        .client()
        .call(`/api/v1${step.path(owner.username)}`, optionsOf(step, owner.username));
      expectError(res, 401, 1008, step.what);
    }
    expect((await ownerView(owner, 'team')).workspace).toEqual({ t: 1 });
  });

  it('answers 401 on every route to a bearer token that is not one', async () => {
    const grantee = await member(t, 'editor');
    const owner = await ownerFor(grantee);
    for (const bearer of ['not.a.jwt', `sbk_${'x'.repeat(43)}`]) {
      for (const step of steps) {
        const res = await t.client().call(`/api/v1${step.path(owner.username)}`, {
          ...optionsOf(step, owner.username),
          bearer,
        });
        expect(res.status, `${step.what} with ${bearer}`).toBe(401);
      }
    }
    expect((await ownerView(owner, 'team')).workspace).toEqual({ t: 1 });
  });

  it('takes no connect ticket (a credential of live streams) on any route', async () => {
    const who = await member(t, 'editor');
    const owner = await ownerFor(who);
    const issued = await api(who, '/auth/ws-ticket', { method: 'POST', json: {} });
    expectOk(issued, 200, 'ticket');
    const ticket = encodeURIComponent(issued.body.data.ticket);
    for (const step of steps) {
      const res = await t
        .client()
        .call(`/api/v1${step.path(owner.username)}?ticket=${ticket}`, optionsOf(step, owner.username));
      expect(res.status, `${step.what} with a ticket`).toBe(401);
    }
    expect((await ownerView(owner, 'team')).workspace).toEqual({ t: 1 });
  });

  it('refuses every cookie-authenticated write without the CSRF token (403 code 1004), changing nothing', async () => {
    const who = await member(t, 'admin');
    const owner = await ownerFor(who);
    await putWorkspace(who, 'mine', { a: 1 });
    const before = await prefs(who);
    const writes = steps.filter((s) => s.options?.method !== undefined);
    expect(writes.length).toBeGreaterThan(10);
    for (const step of writes) {
      const res = await who.client.call(`/api/v1${step.path(owner.username)}`, {
        ...optionsOf(step, owner.username),
        csrf: false,
        headers: { origin: t.origin },
      });
      expectError(res, 403, 1004, step.what);
    }
    expect((await prefs(who)).etag).toBe(before.etag);
    expect((await ownerView(owner, 'team')).workspace).toEqual({ t: 1 });
  });
});

describe("cross-user attempts on another user's unshared workspace", () => {
  let t: TestApp;
  let alice: Member;
  let bob: Member;
  let admin: Member;

  beforeAll(async () => {
    t = await startTestApp({ env: SHARING_ENV });
    alice = await member(t, 'editor');
    bob = await member(t, 'editor');
    admin = await member(t, 'admin');
    await putWorkspace(bob, 'private', { bob: 'only' });
    await putWorkspace(bob, 'shared', { bob: 'shared' });
    await share(bob, 'shared', [toUser(admin.username)]);
  });
  afterAll(() => t.close());

  it('leaves it out of reach of every route, for editors and admins alike', async () => {
    const before = await ownerState(bob);
    for (const attacker of [alice, admin]) {
      const o = bob.username;
      const attempts: [string, CallOptions][] = [
        [`/shared/${o}/private`, {}],
        [`/shared/${o}/private`, { method: 'PATCH', json: { x: 1 } }],
        [`/shared/${o}/private`, { method: 'DELETE' }],
        [`/shared/${o}/private/rename`, { method: 'POST', json: { name: 'y' } }],
        [`/shared/${o}/private/grants`, { method: 'PUT', json: [toUser(attacker.username, 'edit')] }],
        ['/workspaces/private', {}],
        ['/workspaces/private', { method: 'DELETE' }],
        ['/workspaces/private/rename', { method: 'POST', json: { name: 'y' } }],
        ['/workspaces/private/grants', {}],
        ['/workspaces/private/grants', { method: 'PUT', json: [toRole('viewer', 'edit')] }],
        [`/workspaces/${enc(`${o}/private`)}`, {}],
        [`/workspaces/${enc(`../${o}/private`)}`, {}],
        [`/shared/${o}/${enc('../private')}`, {}],
        [`/shared/${enc(`${o}/private`)}/x`, {}],
        [`/shared/${o}/${enc('private/')}`, {}],
        [`/shared/${o}/${enc(' private')}`, {}],
        [`/shared/${o}/PRIVATE`, {}],
      ];
      for (const [path, options] of attempts) {
        const res = await api(attacker, path, options);
        expectError(res, 404, 3000, `${attacker.username}: ${options.method ?? 'GET'} ${path}`);
      }
      // Writes into their own namespace never land in bob's document.
      await putWorkspace(attacker, 'private', { attacker: true });
      const patched = await api(attacker, '/preferences', {
        method: 'PATCH',
        json: { workspaces: { private: { attacker: 'again' } } },
      });
      expectOk(patched);
      expect(patched.body.data.shared_workspace_library.map((e: { name: string }) => e.name)).not.toContain(
        'private',
      );
      for (const [path, options, status] of [
        [`/workspaces/${enc(`${o}/private`)}`, { method: 'PUT', json: { x: 1 } }, 422],
        ['/preferences', { method: 'PATCH', json: { workspaces: { [`${o}/private`]: { x: 1 } } } }, 422],
        ['/preferences', { method: 'PATCH', json: { currentWorkspace: `${o}/private` } }, 422],
        ['/workspaces/current', { method: 'PUT', json: { name: `${o}/private` } }, 422],
      ] as [string, CallOptions, number][]) {
        const res = await api(attacker, path, options);
        expect(res.status, `${options.method} ${path}`).toBe(status);
      }
    }
    expect(await ownerState(bob)).toEqual(before);
  });

  it('tells an unshared and a missing workspace apart by nothing, on every /shared route', async () => {
    const o = bob.username;
    const routes: [string, CallOptions][] = [
      ['', {}],
      ['', { method: 'PATCH', json: { x: 1 } }],
      ['', { method: 'DELETE' }],
      ['/rename', { method: 'POST', json: { name: 'y' } }],
      ['/grants', { method: 'PUT', json: [toRole('viewer')] }],
    ];
    for (const [suffix, options] of routes) {
      const existing = await api(alice, `/shared/${o}/private${suffix}`, options);
      const missing = await api(alice, `/shared/${o}/absent${suffix}`, options);
      const noOwner = await api(alice, `/shared/nobody-${Date.now()}/private${suffix}`, options);
      expectError(existing, 404, 3000);
      expectError(missing, 404, 3000);
      expectError(noOwner, 404, 3000);
      const norm = (res: Reply) =>
        JSON.stringify(withoutInstance(res.body))
          .replaceAll('absent', 'private')
          .replaceAll(/nobody-\d+/g, o);
      expect(norm(missing), `${options.method ?? 'GET'} ${suffix}`).toBe(norm(existing));
      expect(norm(noOwner), `${options.method ?? 'GET'} ${suffix}`).toBe(norm(existing));
    }
  });
});

describe('workspace names that collide after URL decoding', () => {
  let t: TestApp;
  let owner: Member;
  let reader: Member;

  beforeAll(async () => {
    t = await startTestApp({ env: SHARING_ENV });
    owner = await member(t, 'editor');
    reader = await member(t, 'editor');
  });
  afterAll(() => t.close());

  // Each name is sent once encoded, as a client must; the server must decode it exactly once.
  const names = [
    '50%',
    '50%25',
    '50%2525',
    'a b',
    'a+b',
    'a%20b',
    'x%2Fy',
    'x%252Fy',
    '%',
    'a?b',
    'a#b',
    '..a',
    'a;b',
    'a\\b',
  ];

  it('keeps every name its own workspace on the own routes', async () => {
    for (const [i, name] of names.entries()) {
      const res = await api(owner, `/workspaces/${enc(name)}`, { method: 'PUT', json: { i } });
      expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(201);
      expect(res.body.data.name).toBe(name);
      expect(res.headers.location).toBe(`/api/v1/workspaces/${enc(name)}`);
    }
    const listed = (await api(owner, '/workspaces?limit=100')).body.data.map((w: { name: string }) => w.name);
    expect([...listed].sort()).toEqual([...names].sort());
    for (const [i, name] of names.entries()) {
      const res = await api(owner, `/workspaces/${enc(name)}`);
      expectOk(res, 200, name);
      expect(res.body.data).toMatchObject({ name, workspace: { i } });
    }
  });

  it('keeps them apart on the shared routes, and sharing one shares no other', async () => {
    const sharedNames = names.filter((_, i) => i % 2 === 0);
    for (const name of sharedNames) await share(owner, name, [toUser(reader.username, 'edit')]);
    const seenNames = (await library(reader)).map((e) => e.name);
    expect([...seenNames].sort()).toEqual([...sharedNames].sort());
    for (const [i, name] of names.entries()) {
      const res = await api(reader, `/shared/${owner.username}/${enc(name)}`);
      if (i % 2 === 0) {
        expectOk(res, 200, name);
        expect(res.body.data).toMatchObject({ name, workspace: { i } });
        const patched = await api(reader, `/shared/${owner.username}/${enc(name)}`, {
          method: 'PATCH',
          json: { patched: i },
        });
        expectOk(patched, 200, name);
      } else {
        expectError(res, 404, 3000, name);
      }
    }
    for (const [i, name] of names.entries()) {
      const expected = i % 2 === 0 ? { i, patched: i } : { i };
      expect((await api(owner, `/workspaces/${enc(name)}`)).body.data.workspace, name).toEqual(expected);
    }
  });

  it('refuses a slash however it is written, and never reaches another workspace through it', async () => {
    const before = await ownerState(owner);
    expectError(await api(owner, '/workspaces/x%2Fy', { method: 'PUT', json: {} }), 422, 2000);
    expectError(
      await api(owner, `/workspaces/${enc('x%2Fy')}/rename`, { method: 'POST', json: { name: 'x/y' } }),
      422,
      2000,
    );
    expect(await ownerState(owner)).toEqual(before);
  });

  it('refuses "." and ".." as names: no URL a client builds can address them', async () => {
    for (const name of ['.', '..']) {
      // Any WHATWG URL (browsers, fetch, undici) resolves a "." or ".." segment, encoded or not, away: such
      // a workspace could be made but never read, shared, renamed or deleted by its URL; its Location
      // (/api/v1/workspaces/..) leads to /api/v1/.
      expect(new URL(`${t.url}/api/v1/workspaces/${name.replaceAll('.', '%2E')}`).pathname).not.toMatch(
        /workspaces\/.+$/,
      );
      const patched = await api(owner, '/preferences', {
        method: 'PATCH',
        json: { workspaces: { [name]: { dots: name } } },
      });
      expectError(patched, 422, 2000, `PATCH /preferences creating "${name}"`);
      const put = await rawCall(t, owner, 'PUT', `/api/v1/workspaces/${name.replaceAll('.', '%2E')}`, {
        dots: name,
      });
      expect(put.status, `PUT "${name}": ${put.text} (Location ${put.location})`).toBe(422);
    }
  });

  it('keeps unicode look-alikes apart (composed and decomposed é)', async () => {
    await putWorkspace(owner, 'caf\u00e9', { form: 'NFC' });
    await putWorkspace(owner, 'cafe\u0301', { form: 'NFD' });
    await share(owner, 'caf\u00e9', [toUser(reader.username)]);
    const nfc = await api(reader, `/shared/${owner.username}/${enc('caf\u00e9')}`);
    expect(nfc.body.data.workspace).toEqual({ form: 'NFC' });
    expectError(await api(reader, `/shared/${owner.username}/${enc('cafe\u0301')}`), 404, 3000);
  });
});

describe('a demoted edit grantee', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: SHARING_ENV });
  });
  afterAll(() => t.close());

  it('loses editing at the next request, keeps reading', async () => {
    const admin = await member(t, 'admin');
    const owner = await member(t, 'editor');
    const grantee = await member(t, 'editor');
    await putWorkspace(owner, 'w', { v: 1 });
    await share(owner, 'w', [toUser(grantee.username, 'edit')]);
    expectOk(await api(grantee, sharedPath(owner, 'w'), { method: 'PATCH', json: { v: 2 } }));
    await adminPatchUser(admin, grantee.id, { role: 'viewer' });
    expectError(await api(grantee, sharedPath(owner, 'w'), { method: 'PATCH', json: { v: 3 } }), 403, 1001);
    const read = await api(grantee, sharedPath(owner, 'w'));
    expectOk(read);
    expect(read.body.data).toMatchObject({ access: 'view', workspace: { v: 2 } });
    expect(await putGrants(grantee, 'w', [])).toMatchObject({ status: 403 });
  });
});

describe('an edit racing the revocation of its grant', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: SHARING_ENV });
  });
  afterAll(() => t.close());

  it('never lands after the revocation committed', async () => {
    const admin = await member(t, 'admin');
    const grantee = await member(t, 'editor');
    const late: string[] = [];
    for (let round = 0; round < 10; round += 1) {
      const owner = await member(t, 'editor');
      await putWorkspace(owner, 'w', { round });
      await share(owner, 'w', [toUser(grantee.username, 'edit')]);
      // The edit is sent first: its grant is checked while the grant still stands.
      const edit = api(grantee, sharedPath(owner, 'w'), { method: 'PATCH', json: { late: true } });
      const revoke = putGrants(owner, 'w', []);
      const [edited, revoked] = await Promise.all([edit, revoke]);
      expectOk(revoked, 200, 'revoke');
      expect([200, 404], JSON.stringify(edited.body)).toContain(edited.status);
      // The audit log is written in each change's transaction, so its ids give the order they committed in.
      const events = (
        await api(admin, '/audit?type=workspace.shared&type=workspace.edited&limit=200')
      ).body.data.filter((e: { target: { id: string } | null }) => e.target?.id === `${owner.username}/w`);
      const revocation = events.find(
        (e: { type: string; detail: { grants: string[] } }) =>
          e.type === 'workspace.shared' && e.detail.grants.length === 0,
      );
      const edit_ = events.find((e: { type: string }) => e.type === 'workspace.edited');
      if (edit_ && revocation && edit_.id > revocation.id) {
        late.push(`round ${round}: edit ${edit_.id} committed after revocation ${revocation.id}`);
      }
      if (edited.status === 200 && !edit_) late.push(`round ${round}: a 200 without its audit event`);
    }
    expect(late).toEqual([]);
  });
});
