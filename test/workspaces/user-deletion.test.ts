import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../fixture.js';
import {
  adminDeleteUser,
  api,
  expectError,
  expectNoNotice,
  expectNoticeWithCurrentEtag,
  type Member,
  member,
  prefs,
  putWorkspace,
  SHARING_ENV,
  share,
  toGroup,
  toRole,
  toUser,
  type Watcher,
  watch,
} from './sharing-helpers.js';

/** `owner/name` of what `owner` shares with `reader`, from the reader's library. */
async function fromOwner(reader: Member, owner: Member): Promise<string[]> {
  return (await prefs(reader)).data.shared_workspace_library
    .filter((e: { owner_id: string }) => e.owner_id === owner.id)
    .map((e: { owner: string; name: string }) => `${e.owner}/${e.name}`);
}

describe('deleting a user', () => {
  let t: TestApp;
  let admin: Member;
  const open: Watcher[] = [];

  beforeAll(async () => {
    t = await startTestApp({ env: SHARING_ENV });
    admin = await member(t, 'admin');
  });
  afterEach(async () => {
    for (const watcher of open.splice(0)) await watcher.close();
  });
  afterAll(() => t.close());

  const watching = async (who: Member) => {
    const watcher = await watch(t, who);
    open.push(watcher);
    return watcher;
  };

  it('removes what they shared from every library, and tells each grantee', async () => {
    const group = `deletion-${Date.now()}`;
    const doomed = await member(t, 'editor');
    const byUser = await member(t, 'viewer');
    const byRole = await member(t, 'admin');
    const byGroup = await member(t, 'viewer', { groups: [group] });
    const bystander = await member(t, 'viewer');
    await putWorkspace(doomed, 'to a user', { u: 1 });
    await putWorkspace(doomed, 'to admins', { r: 1 });
    await putWorkspace(doomed, 'to a group', { g: 1 });
    await share(doomed, 'to a user', [toUser(byUser.username, 'edit')]);
    await share(doomed, 'to admins', [toRole('admin')]);
    await share(doomed, 'to a group', [toGroup(group)]);
    expect(await fromOwner(byUser, doomed)).toEqual([`${doomed.username}/to a user`]);
    expect(await fromOwner(byRole, doomed)).toEqual([`${doomed.username}/to admins`]);
    expect(await fromOwner(byGroup, doomed)).toEqual([`${doomed.username}/to a group`]);

    const watchers = await Promise.all([watching(byUser), watching(byRole), watching(byGroup)]);
    const bystanderWatch = await watching(bystander);
    await adminDeleteUser(admin, doomed.id);

    for (const watcher of watchers) await expectNoticeWithCurrentEtag(watcher);
    for (const reader of [byUser, byRole, byGroup]) expect(await fromOwner(reader, doomed)).toEqual([]);
    for (const [reader, name] of [
      [byUser, 'to a user'],
      [byRole, 'to admins'],
      [byGroup, 'to a group'],
    ] as const) {
      expectError(await api(reader, `/shared/${doomed.username}/${encodeURIComponent(name)}`), 404, 3000);
    }
    await expectNoNotice([bystanderWatch]);
  });

  it("removes the grants made to them from the owners' lists, and tells those owners", async () => {
    const doomed = await member(t, 'editor');
    const owner = await member(t, 'editor');
    const other = await member(t, 'viewer');
    await putWorkspace(owner, 'shared with doomed', { s: 1 });
    await putWorkspace(owner, 'shared with both', { s: 2 });
    await share(owner, 'shared with doomed', [toUser(doomed.username, 'edit')]);
    await share(owner, 'shared with both', [toUser(doomed.username), toUser(other.username)]);
    const ownerBefore = await prefs(owner);
    const otherBefore = await prefs(other);
    const [ownerWatch, otherWatch] = await Promise.all([watching(owner), watching(other)]);

    await adminDeleteUser(admin, doomed.id);

    const etag = await expectNoticeWithCurrentEtag(ownerWatch);
    expect(etag).not.toBe(ownerBefore.etag);
    const grants = (await prefs(owner)).data.shared_workspace_grants;
    expect(grants).toEqual({ 'shared with both': [toUser(other.username)] });
    expect(
      (await api(owner, `/workspaces/${encodeURIComponent('shared with doomed')}/grants`)).body.data,
    ).toEqual([]);
    // The owner's workspaces themselves stay.
    expect((await prefs(owner)).data.workspaces).toEqual(ownerBefore.data.workspaces);
    // The other grantee's view did not change: no notice, same ETag.
    await expectNoNotice([otherWatch]);
    expect((await prefs(other)).etag).toBe(otherBefore.etag);
  });

  it('leaves nothing for a new account with the same username', async () => {
    const username = `again-${Date.now()}`;
    const doomed = await member(t, 'editor', { username });
    const owner = await member(t, 'editor');
    await putWorkspace(doomed, 'old layout', { mine: true });
    await api(doomed, '/preferences', { method: 'PATCH', json: { theme: 'dark', variables: { a: 1 } } });
    await putWorkspace(owner, 'for the old account', {});
    await share(owner, 'for the old account', [toUser(username, 'edit')]);
    await share(doomed, 'old layout', [toRole('viewer')]);

    await adminDeleteUser(admin, doomed.id);
    const fresh = await member(t, 'editor', { username });
    const { data } = await prefs(fresh);
    expect(data.workspaces).toBeUndefined();
    expect(data.theme).toBeUndefined();
    expect(data.variables).toBeUndefined();
    expect(data.shared_workspace_grants).toEqual({});
    expect(
      data.shared_workspace_library.filter((e: { owner_id: string }) => e.owner_id === owner.id),
    ).toEqual([]);
    expectError(await api(fresh, '/workspaces/old%20layout'), 404, 3000);
    expectError(await api(fresh, `/shared/${owner.username}/for%20the%20old%20account`), 404, 3000);
    // The old account's role grant is gone with it: the new account shares nothing by inheritance.
    const viewer = await member(t, 'viewer');
    expect(
      (await prefs(viewer)).data.shared_workspace_library.filter(
        (e: { owner: string }) => e.owner === username,
      ),
    ).toEqual([]);
    expect(
      (await api(owner, `/workspaces/${encodeURIComponent('for the old account')}/grants`)).body.data,
    ).toEqual([]);
  });

  it('refuses non-admins and changes nothing', async () => {
    const doomed = await member(t, 'editor');
    const grantee = await member(t, 'editor');
    await putWorkspace(doomed, 'kept', { k: 1 });
    await share(doomed, 'kept', [toUser(grantee.username)]);
    for (const who of [grantee, await member(t, 'viewer')]) {
      expectError(await api(who, `/users/${doomed.id}`, { method: 'DELETE' }), 403, 1001);
    }
    expect(await fromOwner(grantee, doomed)).toEqual([`${doomed.username}/kept`]);
    expect((await api(doomed, '/workspaces/kept')).body.data.workspace).toEqual({ k: 1 });
  });

  it('works for a user who never had preferences', async () => {
    const blank = await member(t, 'viewer');
    await adminDeleteUser(admin, blank.id);
    expectError(await api(admin, `/users/${blank.id}`), 404, 3000);
  });

  it('deletes two users at once who hold grants of each other and of the same owners', async () => {
    for (let round = 0; round < 3; round += 1) {
      const first = await member(t, 'editor');
      const second = await member(t, 'editor');
      const owners = [await member(t, 'editor'), await member(t, 'editor')];
      for (const [i, owner] of owners.entries()) {
        await putWorkspace(owner, 'both', { i });
        // One owner lists them in one order, the other in the other.
        const grantees = i === 0 ? [first, second] : [second, first];
        await share(
          owner,
          'both',
          grantees.map((g) => toUser(g.username, 'edit')),
        );
      }
      await putWorkspace(first, 'mine', {});
      await putWorkspace(second, 'mine', {});
      await share(first, 'mine', [toUser(second.username)]);
      await share(second, 'mine', [toUser(first.username)]);
      const results = await Promise.all(
        [first, second].map((who) => api(admin, `/users/${who.id}`, { method: 'DELETE' })),
      );
      expect(
        results.map((r) => r.status),
        `round ${round}: ${JSON.stringify(results.map((r) => r.body))}`,
      ).toEqual([204, 204]);
      for (const owner of owners) {
        expect((await api(owner, '/workspaces/both/grants')).body.data).toEqual([]);
      }
    }
  });

  it('races an owner sharing with a user against that user being deleted without a 500', async () => {
    const statuses = new Set<number>();
    for (let round = 0; round < 12; round += 1) {
      const owner = await member(t, 'editor');
      const doomed = await member(t, 'editor');
      await putWorkspace(owner, 'raced', { round });
      await share(owner, 'raced', [toUser(doomed.username)]);
      const [grant, deletion] = await Promise.all([
        api(owner, '/workspaces/raced/grants', {
          method: 'PUT',
          json: [toUser(doomed.username, 'edit'), toRole('admin')],
        }),
        api(admin, `/users/${doomed.id}`, { method: 'DELETE' }),
      ]);
      statuses.add(grant.status);
      expect(deletion.status, JSON.stringify(deletion.body)).toBe(204);
      // Shared with the user or refused because they are gone: never a server error.
      expect([200, 422], `round ${round}: ${JSON.stringify(grant.body)}`).toContain(grant.status);
      // Whatever won, no grant names the deleted account afterwards.
      const left = (await api(owner, '/workspaces/raced/grants')).body.data;
      expect(left.filter((g: { principal_type: string }) => g.principal_type === 'user')).toEqual([]);
    }
    expect(statuses.size).toBeGreaterThan(0);
  });
});
