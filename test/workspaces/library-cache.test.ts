import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_CACHE_TTL_MS } from '../../src/auth/auth-cache.js';
import { startTestApp, type TestApp } from '../fixture.js';
import {
  adminPatchUser,
  api,
  type Member,
  member,
  putWorkspace,
  SHARING_ENV,
  seen,
  share,
  toGroup,
  toUser,
} from './sharing-helpers.js';

/**
 * A reader's library is kept between reads and checked against the database on each one. Two instances
 * share a database here: every change is made on one while the reader reads on the other, which holds a
 * library built before the change, so any change the check misses shows as a stale read.
 */
describe('the kept library of a reader', () => {
  let one: TestApp;
  let two: TestApp;
  let admin: Member;

  beforeAll(async () => {
    one = await startTestApp({ env: SHARING_ENV });
    two = await startTestApp({ env: SHARING_ENV, shareDatabaseWith: one });
    admin = await member(one, 'admin');
  });
  afterAll(async () => {
    await two?.close();
    await one?.close();
  });

  /** The same user signed in on the second instance. */
  async function onTwo(who: Member): Promise<Member> {
    return { ...who, ...(await two.signIn(who.user)) };
  }

  it('follows every change made on another instance', async () => {
    const owner = await member(one, 'editor');
    const newcomer = await member(one, 'editor');
    const reader = await onTwo(await member(one, 'editor', { groups: ['night'] }));
    await putWorkspace(owner, 'Ops', { v: 1 });
    await share(owner, 'Ops', [toUser(reader.username)]);
    expect(await seen(reader)).toEqual([`${owner.username}/Ops`]);

    // Content: the owner's version moves.
    await putWorkspace(owner, 'Ops', { v: 2 });
    expect((await api(reader, '/preferences')).body.data.shared_workspace_library[0].workspace).toEqual({
      v: 2,
    });

    // Variables travel with what is shared.
    const patched = await api(owner, '/preferences', {
      method: 'PATCH',
      json: { variables: { site: 'north' } },
    });
    expect(patched.status).toBe(200);
    expect((await api(reader, '/preferences')).body.data.shared_workspace_library[0].variables).toEqual({
      site: 'north',
    });

    // A grant from someone the kept library has never heard of.
    await putWorkspace(newcomer, 'Lab', {});
    await share(newcomer, 'Lab', [toGroup('night')]);
    expect((await seen(reader)).sort()).toEqual([`${newcomer.username}/Lab`, `${owner.username}/Ops`].sort());

    // A revoked grant, a renamed and a deleted workspace.
    await share(owner, 'Ops', []);
    expect(await seen(reader)).toEqual([`${newcomer.username}/Lab`]);
    await api(newcomer, '/workspaces/Lab/rename', { method: 'POST', json: { name: 'Lab 2' } });
    expect(await seen(reader)).toEqual([`${newcomer.username}/Lab 2`]);
    await api(newcomer, `/workspaces/${encodeURIComponent('Lab 2')}`, { method: 'DELETE' });
    expect(await seen(reader)).toEqual([]);

    // The reader's own groups: another role or groups is another library.
    await putWorkspace(newcomer, 'Lab 3', {});
    await share(newcomer, 'Lab 3', [toGroup('night')]);
    expect(await seen(reader)).toEqual([`${newcomer.username}/Lab 3`]);
    await adminPatchUser(admin, reader.id, { groups: [] });
    // The other instance learns of the new groups when its cache of the user expires (AUTH_CACHE_TTL_MS).
    await new Promise((resolve) => setTimeout(resolve, AUTH_CACHE_TTL_MS + 100));
    expect(await seen(reader)).toEqual([]);
  });

  it('follows the deletion of an owner', async () => {
    const owner = await member(one, 'editor');
    const reader = await onTwo(await member(one, 'viewer'));
    await putWorkspace(owner, 'Wall', {});
    await share(owner, 'Wall', [toUser(reader.username)]);
    expect(await seen(reader)).toEqual([`${owner.username}/Wall`]);
    const res = await api(admin, `/users/${owner.id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(await seen(reader)).toEqual([]);
  });
});
