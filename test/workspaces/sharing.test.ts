import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../fixture.js';
import {
  adminDeleteUser,
  adminPatchUser,
  api,
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
  seenWithAccess,
  share,
  toGroup,
  toRole,
  toUser,
} from './sharing-helpers.js';

const grantsOf = async (who: Member, name: string) => {
  const res = await api(who, `/workspaces/${enc(name)}/grants`);
  expectOk(res, 200, `GET grants of ${name}`);
  return res.body.data;
};

describe('grants: who a workspace reaches', () => {
  let t: TestApp;
  let admin: Member;
  let owner: Member;
  let viewer: Member;
  let editor: Member;
  let otherAdmin: Member;
  let opsViewer: Member;
  let opsEditor: Member;

  beforeAll(async () => {
    t = await startTestApp({ env: SHARING_ENV });
    admin = await member(t, 'admin');
    owner = await member(t, 'editor');
    viewer = await member(t, 'viewer');
    editor = await member(t, 'editor');
    otherAdmin = await member(t, 'admin');
    opsViewer = await member(t, 'viewer', { groups: ['ops'] });
    opsEditor = await member(t, 'editor', { groups: ['ops', 'night shift'] });
  });
  afterAll(() => t.close());

  /** Each reader's view of the owner's workspace `name` in their library (undefined: not there). */
  const reach = async (name: string) => {
    const readers = { admin, viewer, editor, otherAdmin, opsViewer, opsEditor };
    const found: Record<string, string | undefined> = {};
    for (const [label, reader] of Object.entries(readers)) {
      const entry = (await library(reader)).find((e) => e.owner === owner.username && e.name === name);
      found[label] = entry?.access;
    }
    return found;
  };

  it('stores a grant list with PUT and shows it on every route of the owner', async () => {
    await putWorkspace(owner, 'Plant A', { panels: [1] });
    const grants = [toRole('editor', 'edit'), toGroup('ops'), toUser(viewer.username)];
    const put = await share(owner, 'Plant A', grants);
    const expected = [toGroup('ops'), toRole('editor', 'edit'), toUser(viewer.username)];
    expect(put.body.data).toEqual(expected);
    expect(await grantsOf(owner, 'Plant A')).toEqual(expected);
    const one = await api(owner, `/workspaces/${enc('Plant A')}`);
    expect(one.body.data.grants).toEqual(expected);
    const list = await api(owner, '/workspaces');
    expect(list.body.data.find((w: { name: string }) => w.name === 'Plant A').grants).toEqual(expected);
    const { data } = await prefs(owner);
    expect(data.shared_workspace_grants).toEqual({ 'Plant A': expected });
    const summary = await api(owner, '/preferences/summary');
    expect(summary.body.data.counts).toMatchObject({ shared_by_me: 1, grants: 3 });
    // The owner's own library never lists what they share.
    expect(data.shared_workspace_library).toEqual([]);
  });

  it('replaces the whole list on every PUT, and an empty list unshares', async () => {
    await putWorkspace(owner, 'replace', { a: 1 });
    await share(owner, 'replace', [toUser(editor.username), toRole('admin')]);
    expect(await seen(editor)).toContain(`${owner.username}/replace`);
    await share(owner, 'replace', [toRole('admin')]);
    expect(await grantsOf(owner, 'replace')).toEqual([toRole('admin')]);
    expect(await seen(editor)).not.toContain(`${owner.username}/replace`);
    await share(owner, 'replace', []);
    expect(await grantsOf(owner, 'replace')).toEqual([]);
    expect(await seen(admin)).not.toContain(`${owner.username}/replace`);
  });

  it('a grant to viewer reaches viewers, editors and admins; edit becomes view for viewers', async () => {
    await putWorkspace(owner, 'to viewers', { x: 1 });
    await share(owner, 'to viewers', [toRole('viewer', 'edit')]);
    expect(await reach('to viewers')).toEqual({
      admin: 'edit',
      viewer: 'view',
      editor: 'edit',
      otherAdmin: 'edit',
      opsViewer: 'view',
      opsEditor: 'edit',
    });
  });

  it('a grant to editor does not reach viewers; one to admin reaches admins alone', async () => {
    await putWorkspace(owner, 'to editors', { x: 2 });
    await share(owner, 'to editors', [toRole('editor')]);
    expect(await reach('to editors')).toEqual({
      admin: 'view',
      viewer: undefined,
      editor: 'view',
      otherAdmin: 'view',
      opsViewer: undefined,
      opsEditor: 'view',
    });
    await putWorkspace(owner, 'to admins', { x: 3 });
    await share(owner, 'to admins', [toRole('admin', 'edit')]);
    expect(await reach('to admins')).toEqual({
      admin: 'edit',
      viewer: undefined,
      editor: undefined,
      otherAdmin: 'edit',
      opsViewer: undefined,
      opsEditor: undefined,
    });
  });

  it('a group grant reaches the members of that group, whatever their role, and no one else', async () => {
    await putWorkspace(owner, 'to ops', { x: 4 });
    await share(owner, 'to ops', [toGroup('ops', 'edit')]);
    expect(await reach('to ops')).toEqual({
      admin: undefined,
      viewer: undefined,
      editor: undefined,
      otherAdmin: undefined,
      opsViewer: 'view',
      opsEditor: 'edit',
    });
    await putWorkspace(owner, 'to night', { x: 5 });
    await share(owner, 'to night', [toGroup('night shift')]);
    expect((await reach('to night')).opsEditor).toBe('view');
    expect((await reach('to night')).opsViewer).toBeUndefined();
  });

  it('a user grant reaches that user alone', async () => {
    await putWorkspace(owner, 'to one', { x: 6 });
    await share(owner, 'to one', [toUser(editor.username, 'edit')]);
    expect(await reach('to one')).toEqual({
      admin: undefined,
      viewer: undefined,
      editor: 'edit',
      otherAdmin: undefined,
      opsViewer: undefined,
      opsEditor: undefined,
    });
  });

  it('the strongest of several grants reaching a reader wins, listed once', async () => {
    await putWorkspace(owner, 'several', { x: 7 });
    await share(owner, 'several', [toRole('viewer'), toGroup('ops', 'edit'), toUser(opsEditor.username)]);
    const entries = (await library(opsEditor)).filter(
      (e) => e.owner === owner.username && e.name === 'several',
    );
    expect(entries.map((e) => e.access)).toEqual(['edit']);
    expect((await reach('several')).editor).toBe('view');
  });

  it("shows the owner's latest content and variables on every read, never a stored copy", async () => {
    const reader = await member(t, 'editor');
    await api(owner, '/preferences', { method: 'PATCH', json: { variables: { site: 'north' } } });
    await putWorkspace(owner, 'live', { panels: ['first'] });
    await share(owner, 'live', [toUser(reader.username)]);
    const first = (await library(reader)).find((e) => e.name === 'live');
    expect(first).toMatchObject({
      owner: owner.username,
      owner_id: owner.id,
      name: 'live',
      access: 'view',
      workspace: { panels: ['first'] },
      variables: { site: 'north' },
    });
    const direct = await api(reader, `/shared/${owner.username}/live`);
    expect(direct.headers.etag).toBe(first?.etag);

    await putWorkspace(owner, 'live', { panels: ['second'] });
    const second = (await library(reader)).find((e) => e.name === 'live');
    expect(second?.workspace).toEqual({ panels: ['second'] });
    expect(second?.etag).not.toBe(first?.etag);

    await api(owner, '/preferences', {
      method: 'PATCH',
      json: { variables: { site: 'south' }, workspaces: { live: { panels: ['third'], extra: true } } },
    });
    const third = (await library(reader)).find((e) => e.name === 'live');
    expect(third?.workspace).toEqual({ panels: ['third'], extra: true });
    expect(third?.variables).toEqual({ site: 'south' });

    // Variables removed: the entry says so.
    await api(owner, '/preferences', { method: 'PATCH', json: { variables: null } });
    expect((await library(reader)).find((e) => e.name === 'live')?.variables).toBeNull();
    // The reader's own document holds none of it.
    const document = await ownDocument(reader);
    expect(JSON.stringify(document)).not.toContain('third');
  });

  it("changes the reader's ETag when what is shared with them changes, and only then", async () => {
    const reader = await member(t, 'editor');
    await putWorkspace(owner, 'etag', { v: 1 });
    await putWorkspace(owner, 'not shared', { v: 1 });
    await share(owner, 'etag', [toUser(reader.username)]);
    const before = await prefs(reader);
    const unchanged = await api(reader, '/preferences', { headers: { 'if-none-match': before.etag } });
    expect(unchanged.status).toBe(304);
    // Another workspace of the owner, not shared with the reader, changes: the reader's view does not.
    await putWorkspace(owner, 'not shared', { v: 2 });
    expect((await prefs(reader)).etag).toBe(before.etag);
    await putWorkspace(owner, 'etag', { v: 2 });
    const after = await prefs(reader);
    expect(after.etag).not.toBe(before.etag);
    const stale = await api(reader, '/preferences', { headers: { 'if-none-match': before.etag } });
    expect(stale.status).toBe(200);
  });

  it("shows a change of the reader's role or groups at their next read", async () => {
    const reader = await member(t, 'viewer');
    await putWorkspace(owner, 'for editors', { e: 1 });
    await share(owner, 'for editors', [toRole('editor', 'edit')]);
    await putWorkspace(owner, 'for qa', { q: 1 });
    // "qa" is held by no one yet: the grant is refused.
    expectError(await putGrants(owner, 'for qa', [toGroup('qa')]), 422, 2000);
    await member(t, 'viewer', { groups: ['qa'] });
    await share(owner, 'for qa', [toGroup('qa')]);

    expect(await seen(reader)).not.toContain(`${owner.username}/for editors`);
    await adminPatchUser(admin, reader.id, { role: 'editor' });
    expect(await seenWithAccess(reader)).toContain(`${owner.username}/for editors:edit`);
    await adminPatchUser(admin, reader.id, { groups: ['qa'] });
    expect(await seen(reader)).toContain(`${owner.username}/for qa`);
    await adminPatchUser(admin, reader.id, { role: 'viewer', groups: [] });
    const now = await seen(reader);
    expect(now).not.toContain(`${owner.username}/for editors`);
    expect(now).not.toContain(`${owner.username}/for qa`);
    // The shared route agrees with the library.
    expectError(await api(reader, `/shared/${owner.username}/${enc('for editors')}`), 404, 3000);
  });

  it('lowers what the library shows while the reader is an editor demoted to viewer', async () => {
    const reader = await member(t, 'editor');
    await putWorkspace(owner, 'demote', { d: 1 });
    await share(owner, 'demote', [toUser(reader.username, 'edit')]);
    expect(await seenWithAccess(reader)).toContain(`${owner.username}/demote:edit`);
    await adminPatchUser(admin, reader.id, { role: 'viewer' });
    expect(await seenWithAccess(reader)).toContain(`${owner.username}/demote:view`);
    const patch = await api(reader, `/shared/${owner.username}/demote`, {
      method: 'PATCH',
      json: { d: 2 },
    });
    expectError(patch, 403, 1001);
    expect((await api(owner, '/workspaces/demote')).body.data.workspace).toEqual({ d: 1 });
  });

  it('moves grants with a rename: the grantee sees the new name, the old one is gone', async () => {
    const reader = await member(t, 'viewer');
    await putWorkspace(owner, 'old name', { r: 1 });
    await share(owner, 'old name', [toUser(reader.username)]);
    const renamed = await api(owner, `/workspaces/${enc('old name')}/rename`, {
      json: { name: 'new name' },
    });
    expectOk(renamed);
    expect(renamed.body.data.grants).toEqual([toUser(reader.username)]);
    expect(await grantsOf(owner, 'new name')).toEqual([toUser(reader.username)]);
    expectError(await api(owner, `/workspaces/${enc('old name')}/grants`), 404, 3000);
    const names = await seen(reader);
    expect(names).toContain(`${owner.username}/new name`);
    expect(names).not.toContain(`${owner.username}/old name`);
    expectOk(await api(reader, `/shared/${owner.username}/${enc('new name')}`));
    expectError(await api(reader, `/shared/${owner.username}/${enc('old name')}`), 404, 3000);
    // A new workspace under the old name is not shared.
    await putWorkspace(owner, 'old name', { r: 'fresh' });
    expect(await grantsOf(owner, 'old name')).toEqual([]);
    expect(await seen(reader)).not.toContain(`${owner.username}/old name`);
  });

  it('deletes the grants with the workspace: a new one of the same name is not shared', async () => {
    const reader = await member(t, 'editor');
    await putWorkspace(owner, 'doomed', { secret: 'old' });
    await share(owner, 'doomed', [toUser(reader.username), toRole('viewer')]);
    expectOk(await api(owner, '/workspaces/doomed', { method: 'DELETE' }));
    expect(await seen(reader)).not.toContain(`${owner.username}/doomed`);
    await putWorkspace(owner, 'doomed', { secret: 'new' });
    expect(await grantsOf(owner, 'doomed')).toEqual([]);
    expect(await seen(reader)).not.toContain(`${owner.username}/doomed`);
    expect(await seen(viewer)).not.toContain(`${owner.username}/doomed`);
    expectError(await api(reader, `/shared/${owner.username}/doomed`), 404, 3000);
    expect((await prefs(owner)).data.shared_workspace_grants.doomed).toBeUndefined();
  });

  it('deletes the grants of a workspace removed by PATCH /preferences {"workspaces": {"X": null}}', async () => {
    const reader = await member(t, 'editor');
    await putWorkspace(owner, 'patched away', { p: 1 });
    await share(owner, 'patched away', [toUser(reader.username)]);
    const res = await api(owner, '/preferences', {
      method: 'PATCH',
      json: { workspaces: { 'patched away': null } },
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expectOk(res);
    expect(res.body.data.shared_workspace_grants['patched away']).toBeUndefined();
    expect(await seen(reader)).not.toContain(`${owner.username}/patched away`);
    await putWorkspace(owner, 'patched away', { p: 2 });
    expect(await grantsOf(owner, 'patched away')).toEqual([]);
    expect(await seen(reader)).not.toContain(`${owner.username}/patched away`);
  });

  it('deletes every grant when PATCH /preferences removes all workspaces ({"workspaces": null})', async () => {
    const lone = await member(t, 'editor');
    const reader = await member(t, 'viewer');
    await putWorkspace(lone, 'one', { n: 1 });
    await putWorkspace(lone, 'two', { n: 2 });
    await share(lone, 'one', [toUser(reader.username)]);
    await share(lone, 'two', [toRole('viewer')]);
    expect((await seen(reader)).filter((n) => n.startsWith(`${lone.username}/`))).toHaveLength(2);
    expectOk(await api(lone, '/preferences', { method: 'PATCH', json: { workspaces: null } }));
    await putWorkspace(lone, 'one', { n: 3 });
    await putWorkspace(lone, 'two', { n: 4 });
    expect((await seen(reader)).filter((n) => n.startsWith(`${lone.username}/`))).toEqual([]);
    expect((await prefs(lone)).data.shared_workspace_grants).toEqual({});
  });

  it('counts what is shared with the reader in the summary', async () => {
    const lone = await member(t, 'editor');
    const reader = await member(t, 'editor', { groups: ['summary-group'] });
    await putWorkspace(lone, 's1', {});
    await putWorkspace(lone, 's2', {});
    await share(lone, 's1', [toUser(reader.username)]);
    await share(lone, 's2', [toGroup('summary-group', 'edit')]);
    const summary = await api(reader, '/preferences/summary');
    expect(summary.body.data.counts.shared_with_me).toBe((await library(reader)).length);
    expect(summary.body.data.counts.shared_with_me).toBeGreaterThanOrEqual(2);
    expect((await library(reader)).filter((e) => e.owner === lone.username).map((e) => e.name)).toEqual([
      's1',
      's2',
    ]);
  });
});

describe('grants: bad input', () => {
  let t: TestApp;
  let owner: Member;
  let other: Member;
  let viewer: Member;
  const name = 'guarded';

  beforeAll(async () => {
    t = await startTestApp({ env: { ...SHARING_ENV, SWITCHBOARD_WORKSPACE_GRANTS_MAX: '2' } });
    owner = await member(t, 'editor', { groups: ['ops'] });
    other = await member(t, 'editor');
    viewer = await member(t, 'viewer');
    await putWorkspace(owner, name, { kept: true });
    await share(owner, name, [toUser(other.username)]);
  });
  afterAll(() => t.close());

  const unchanged = async () => {
    expect(await grantsOf(owner, name)).toEqual([toUser(other.username)]);
    expect((await library(other)).filter((e) => e.name === name)).toMatchObject([
      { owner: owner.username, access: 'view', workspace: { kept: true } },
    ]);
  };

  const refused: [string, unknown][] = [
    ['an unknown principal_type', [{ principal_type: 'team', principal: 'ops', access: 'view' }]],
    ['an unknown access', [{ principal_type: 'role', principal: 'viewer', access: 'admin' }]],
    ['a missing access', [{ principal_type: 'role', principal: 'viewer' }]],
    ['an extra field', [{ ...toRole('viewer'), expires: 'never' }]],
    ['an empty principal', [toUser('')]],
    ['a principal longer than 64', [toGroup('g'.repeat(65))]],
    ['a body that is not a list', { principal_type: 'role', principal: 'viewer', access: 'view' }],
    ['a list of strings', ['role:viewer']],
    ['a role that is not a role', [toRole('superuser')]],
    ['a role written in capitals', [toRole('Viewer')]],
    ['a group no one holds', [toGroup('nobody-holds-this')]],
    ['a group written in another case', [toGroup('OPS')]],
    ['an unknown username', [toUser('no-such-user')]],
    ['the owner themself', [toUser('placeholder-owner')]],
    ['a principal listed twice', [toRole('viewer'), toRole('viewer', 'edit')]],
    ['three grants when at most two are allowed', [toRole('viewer'), toRole('editor'), toRole('admin')]],
  ];

  for (const [what, body] of refused) {
    it(`refuses ${what} with 422 code 2000 and changes nothing`, async () => {
      const grants = JSON.parse(JSON.stringify(body).replace('placeholder-owner', owner.username));
      expectError(await putGrants(owner, name, grants), 422, 2000, what);
      await unchanged();
    });
  }

  it('refuses a grant to the owner written in capitals too', async () => {
    expectError(await putGrants(owner, name, [toUser(owner.username.toUpperCase())]), 422, 2000);
    await unchanged();
  });

  it('accepts exactly the maximum number of grants', async () => {
    await putWorkspace(owner, 'two grants', {});
    expect((await share(owner, 'two grants', [toRole('viewer'), toGroup('ops', 'edit')])).body.data).toEqual([
      toGroup('ops', 'edit'),
      toRole('viewer'),
    ]);
  });

  it('answers 404 for a workspace the caller does not have, on GET and PUT', async () => {
    expectError(await api(owner, '/workspaces/nothing-here/grants'), 404, 3000);
    expectError(await putGrants(owner, 'nothing-here', [toRole('viewer')]), 404, 3000);
    expect((await api(owner, '/workspaces/nothing-here')).status).toBe(404);
    // Another user's workspace is not the caller's: 404, not theirs to read or share.
    expectError(await api(other, `/workspaces/${name}/grants`), 404, 3000);
    expectError(await putGrants(other, name, [toRole('viewer')]), 404, 3000);
    await unchanged();
  });

  it('refuses viewers with 403, even for a workspace they made before being demoted', async () => {
    expectError(await putGrants(viewer, name, [toRole('viewer')]), 403, 1001);
    const admin = await member(t, 'admin');
    const demoted = await member(t, 'editor');
    await putWorkspace(demoted, 'mine', { m: 1 });
    await share(demoted, 'mine', [toUser(other.username)]);
    await adminPatchUser(admin, demoted.id, { role: 'viewer' });
    expectError(await putGrants(demoted, 'mine', [toRole('viewer')]), 403, 1001);
    expectError(await putGrants(demoted, 'mine', []), 403, 1001);
    expect(await grantsOf(demoted, 'mine')).toEqual([toUser(other.username)]);
    await unchanged();
  });

  it('treats usernames written in another case as the same user: one principal, named as stored', async () => {
    // Usernames are stored lower-case and "Bob" signs in as "bob": a grant names the account, once.
    for (const variant of [other.username.toUpperCase(), ` ${other.username}`, `${other.username} `]) {
      const twice = [toUser(other.username), toUser(variant, 'edit')];
      expectError(await putGrants(owner, name, twice), 422, 2000, `the same user as "${variant}"`);
      await unchanged();
    }
    await putWorkspace(owner, 'cased', {});
    const put = await putGrants(owner, 'cased', [toUser(other.username.toUpperCase())]);
    if (put.status === 200) {
      expect(put.body.data).toEqual([toUser(other.username)]);
      expect(await grantsOf(owner, 'cased')).toEqual([toUser(other.username)]);
    } else {
      expectError(put, 422, 2000);
    }
  });

  it('does not let a look-alike of a username (Kelvin sign for K) name the account', async () => {
    const kate = await member(t, 'viewer', { username: `kate-${Date.now()}` });
    await putWorkspace(owner, 'kelvin', {});
    // U+212A KELVIN SIGN lower-cases to an ASCII "k" in JavaScript.
    const lookalike = `\u212A${kate.username.slice(1)}`;
    const res = await putGrants(owner, 'kelvin', [toUser(lookalike)]);
    if (res.status === 200) expect(res.body.data).toEqual([toUser(kate.username)]);
    else expectError(res, 422, 2000);
    const both = await putGrants(owner, 'kelvin', [toUser(kate.username), toUser(lookalike, 'edit')]);
    expectError(both, 422, 2000, 'one account named twice');
  });
});

describe('grants to a deleted user', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: SHARING_ENV });
  });
  afterAll(() => t.close());

  it('die with the user: a new account with the same username sees nothing', async () => {
    const admin = await member(t, 'admin');
    const owner = await member(t, 'editor');
    const username = `reused-${Date.now()}`;
    const first = await member(t, 'editor', { username });
    await putWorkspace(owner, 'private', { secret: 42 });
    await share(owner, 'private', [toUser(username, 'edit')]);
    expect(await seen(first)).toEqual([`${owner.username}/private`]);

    await adminDeleteUser(admin, first.id);
    expect(await grantsOf(owner, 'private')).toEqual([]);
    const second = await member(t, 'editor', { username });
    expect(second.id).not.toBe(first.id);
    expect(await library(second)).toEqual([]);
    expectError(await api(second, `/shared/${owner.username}/private`), 404, 3000);
    const patch = await api(second, `/shared/${owner.username}/private`, {
      method: 'PATCH',
      json: { secret: 0 },
    });
    expectError(patch, 404, 3000);
    expect((await api(owner, '/workspaces/private')).body.data.workspace).toEqual({ secret: 42 });
  });
});

describe('principals with SQL-looking or unicode content', () => {
  let t: TestApp;
  let owner: Member;
  let outsider: Member;
  const SQL_GROUP = "x' OR '1'='1";
  const DROP_GROUP = 'ops"; DROP TABLE workspace_grants; --';
  const UNICODE_GROUP = 'équipe-夜班-🚨';

  beforeAll(async () => {
    t = await startTestApp({ env: SHARING_ENV });
    owner = await member(t, 'editor');
    outsider = await member(t, 'editor', { groups: ['plain'] });
  });
  afterAll(() => t.close());

  it('refuses groups, users and roles that are SQL and exist nowhere, and changes nothing', async () => {
    await putWorkspace(owner, 'target', { t: 1 });
    for (const grant of [
      toGroup(SQL_GROUP),
      toGroup("' OR 1=1 --"),
      toUser("' OR '1'='1"),
      toUser('%'),
      toUser('_'),
      toGroup('%'),
      toRole("viewer' OR '1'='1"),
      toGroup(UNICODE_GROUP),
      toUser('ünïcode'),
    ]) {
      expectError(await putGrants(owner, 'target', [grant]), 422, 2000, JSON.stringify(grant));
    }
    expect(await grantsOf(owner, 'target')).toEqual([]);
    expect(await seen(outsider)).toEqual([]);
  });

  it('matches a group with SQL-looking or unicode content exactly, reaching its members alone', async () => {
    const sqlMember = await member(t, 'viewer', { groups: [SQL_GROUP] });
    const dropMember = await member(t, 'viewer', { groups: [DROP_GROUP] });
    const unicodeMember = await member(t, 'viewer', { groups: [UNICODE_GROUP] });
    await putWorkspace(owner, 'sql', { s: 1 });
    await putWorkspace(owner, 'unicode', { u: 1 });
    await share(owner, 'sql', [toGroup(SQL_GROUP), toGroup(DROP_GROUP)]);
    await share(owner, 'unicode', [toGroup(UNICODE_GROUP)]);
    expect(await grantsOf(owner, 'sql')).toEqual([toGroup(DROP_GROUP), toGroup(SQL_GROUP)]);
    expect(await seen(sqlMember)).toEqual([`${owner.username}/sql`]);
    expect(await seen(dropMember)).toEqual([`${owner.username}/sql`]);
    expect(await seen(unicodeMember)).toEqual([`${owner.username}/unicode`]);
    expect(await seen(outsider)).toEqual([]);
    // The tables are still there and work.
    expectOk(await api(owner, '/workspaces/sql/grants'));
  });

  it('keeps workspace names with SQL-looking and unicode content apart', async () => {
    const reader = await member(t, 'viewer');
    const names = ["a' OR '1'='1", 'a%', 'a_', 'Ωmega 🚀', 'café', 'cafe\u0301'];
    for (const [i, n] of names.entries()) {
      await putWorkspace(owner, n, { i });
      await share(owner, n, i % 2 === 0 ? [toUser(reader.username)] : []);
    }
    const expected = names.filter((_, i) => i % 2 === 0).map((n) => `${owner.username}/${n}`);
    expect((await seen(reader)).sort()).toEqual(expected.sort());
    for (const [i, n] of names.entries()) {
      const res = await api(reader, `/shared/${owner.username}/${enc(n)}`);
      if (i % 2 === 0) {
        expectOk(res, 200, n);
        expect(res.body.data.workspace).toEqual({ i });
      } else {
        expectError(res, 404, 3000, n);
      }
      expect((await api(owner, `/workspaces/${enc(n)}`)).body.data.workspace).toEqual({ i });
    }
  });
});
