import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../fixture.js';
import { RedisRun } from '../live/redis-run.js';
import { openEventSource, openSocket } from '../live-client.js';
import {
  adminPatchUser,
  api,
  enc,
  expectError,
  expectNoNotice,
  expectNoticeWithCurrentEtag,
  expectOk,
  type Member,
  member,
  prefs,
  putGrants,
  putWorkspace,
  SHARING_ENV,
  settle,
  share,
  toGroup,
  toRole,
  toUser,
  type Watcher,
  watch,
} from './sharing-helpers.js';

/**
 * With SWITCHBOARD_TEST_REDIS_URL set, the app publishes through the Redis bus (the one several instances
 * share) under a key prefix of its own; without it, through the in-process bus.
 */
const redisUrl = process.env.SWITCHBOARD_TEST_REDIS_URL;
/** This file's keys on the shared Redis, deleted after the last test. */
const redisRun = redisUrl ? new RedisRun() : undefined;
const BUS_ENV: Record<string, string> =
  redisUrl && redisRun
    ? { SWITCHBOARD_REDIS_URL: redisUrl, SWITCHBOARD_REDIS_KEY_PREFIX: redisRun.prefix() }
    : {};

/** The names of the workspaces `owner` shares with `reader`, from the reader's library. */
async function namesFrom(reader: Member, owner: Member): Promise<string[]> {
  return (await prefs(reader)).data.shared_workspace_library
    .filter((e: { owner: string }) => e.owner === owner.username)
    .map((e: { name: string }) => e.name);
}

describe(`preferences.updated notices (${redisUrl ? 'Redis' : 'in-process'} bus)`, () => {
  let t: TestApp;
  let admin: Member;
  const open: Watcher[] = [];

  beforeAll(async () => {
    t = await startTestApp({ env: { ...SHARING_ENV, ...BUS_ENV } });
    admin = await member(t, 'admin');
  });
  afterEach(async () => {
    for (const watcher of open.splice(0)) await watcher.close();
  });
  afterAll(async () => {
    await t.close();
    await redisRun?.end();
  });

  const watching = async (who: Member) => {
    const watcher = await watch(t, who);
    open.push(watcher);
    return watcher;
  };

  it('tells the owner of their own change, with the ETag of their next GET /preferences', async () => {
    const owner = await member(t, 'editor');
    const ownerWatch = await watching(owner);
    const before = (await prefs(owner)).etag;
    await putWorkspace(owner, 'mine', { a: 1 });
    const etag = await expectNoticeWithCurrentEtag(ownerWatch);
    expect(etag).not.toBe(before);
    expectOk(await api(owner, '/preferences', { method: 'PATCH', json: { theme: 'dark' } }));
    await expectNoticeWithCurrentEtag(ownerWatch);
    expectOk(await api(owner, '/workspaces/current', { method: 'PUT', json: { name: 'mine' } }));
    await expectNoticeWithCurrentEtag(ownerWatch);
  });

  it('tells grantees of a changed shared workspace their own new ETag, and no one else', async () => {
    const owner = await member(t, 'editor');
    const grantee = await member(t, 'viewer');
    const other = await member(t, 'editor');
    await putWorkspace(owner, 'shared', { v: 1 });
    await share(owner, 'shared', [toUser(grantee.username)]);
    const [ownerWatch, granteeWatch, otherWatch] = await Promise.all([
      watching(owner),
      watching(grantee),
      watching(other),
    ]);
    await putWorkspace(owner, 'shared', { v: 2 });
    const ownerEtag = await expectNoticeWithCurrentEtag(ownerWatch);
    const granteeEtag = await expectNoticeWithCurrentEtag(granteeWatch);
    expect(granteeEtag).not.toBe(ownerEtag);
    await expectNoNotice([otherWatch]);
  });

  it('ends a burst of edits with every grantee holding their current ETag', async () => {
    const owner = await member(t, 'editor');
    const grantees = [await member(t, 'viewer'), await member(t, 'editor', { groups: ['burst'] })];
    await putWorkspace(owner, 'busy', { v: 0 });
    await share(owner, 'busy', [toUser(grantees[0]!.username), toGroup('burst')]);
    const watchers = await Promise.all([owner, ...grantees].map((who) => watching(who)));
    // Twenty edits at once: notices sent meanwhile are gathered, never lost.
    await Promise.all(
      Array.from({ length: 20 }, (_, v) =>
        api(owner, '/preferences', { method: 'PATCH', json: { workspaces: { busy: { v } } } }),
      ),
    );
    for (const watcher of watchers) {
      const first = await watcher.next();
      await settle(500);
      const last = (watcher.pending().at(-1)?.data as { etag: string } | undefined) ?? first;
      expect(last.etag, watcher.who.username).toBe((await prefs(watcher.who)).etag);
    }
  });

  it("does not tell grantees of the owner's other workspaces when an unshared one changes", async () => {
    const owner = await member(t, 'editor');
    const grantee = await member(t, 'editor');
    await putWorkspace(owner, 'shared', { v: 1 });
    await putWorkspace(owner, 'private', { v: 1 });
    await share(owner, 'shared', [toUser(grantee.username)]);
    const [ownerWatch, granteeWatch] = await Promise.all([watching(owner), watching(grantee)]);
    const granteeEtag = (await prefs(grantee)).etag;
    await putWorkspace(owner, 'private', { v: 2 });
    await expectNoticeWithCurrentEtag(ownerWatch);
    await expectNoNotice([granteeWatch]);
    // Nor did their view change.
    expect((await prefs(grantee)).etag).toBe(granteeEtag);
  });

  it('tells every grantee when the owner changes their variables', async () => {
    const owner = await member(t, 'editor');
    const first = await member(t, 'viewer');
    const second = await member(t, 'editor', { groups: ['variables-group'] });
    await putWorkspace(owner, 'one', {});
    await putWorkspace(owner, 'two', {});
    await share(owner, 'one', [toUser(first.username)]);
    await share(owner, 'two', [toGroup('variables-group')]);
    const watchers = await Promise.all([watching(owner), watching(first), watching(second)]);
    expectOk(await api(owner, '/preferences', { method: 'PATCH', json: { variables: { site: 'x' } } }));
    for (const watcher of watchers) await expectNoticeWithCurrentEtag(watcher);
  });

  it('tells the owner and the other grantees of an edit through /shared, the editor too', async () => {
    const owner = await member(t, 'editor');
    const editor = await member(t, 'editor');
    const viewer = await member(t, 'viewer');
    const outsider = await member(t, 'editor');
    await putWorkspace(owner, 'team', { v: 1 });
    await share(owner, 'team', [toUser(editor.username, 'edit'), toRole('viewer')]);
    const [ownerWatch, editorWatch, viewerWatch] = await Promise.all([
      watching(owner),
      watching(editor),
      watching(viewer),
    ]);
    const patched = await api(editor, `/shared/${owner.username}/team`, { method: 'PATCH', json: { v: 2 } });
    expectOk(patched);
    await expectNoticeWithCurrentEtag(ownerWatch);
    await expectNoticeWithCurrentEtag(editorWatch);
    await expectNoticeWithCurrentEtag(viewerWatch);
    // The outsider is reached by the viewer role grant: they are a grantee too.
    expect(
      (await prefs(outsider)).data.shared_workspace_library.map((e: { name: string }) => e.name),
    ).toContain('team');
  });

  it('tells users newly reached and no longer reached by a grant change, and nobody else', async () => {
    const owner = await member(t, 'editor');
    const before = await member(t, 'editor');
    const after = await member(t, 'editor');
    const both = await member(t, 'editor');
    const neither = await member(t, 'editor');
    await putWorkspace(owner, 'moving', {});
    await share(owner, 'moving', [toUser(before.username), toUser(both.username)]);
    const [ownerWatch, beforeWatch, afterWatch, neitherWatch] = await Promise.all([
      watching(owner),
      watching(before),
      watching(after),
      watching(neither),
    ]);
    await share(owner, 'moving', [toUser(after.username), toUser(both.username)]);
    await expectNoticeWithCurrentEtag(ownerWatch);
    await expectNoticeWithCurrentEtag(beforeWatch);
    await expectNoticeWithCurrentEtag(afterWatch);
    expect(await namesFrom(before, owner)).toEqual([]);
    expect(await namesFrom(after, owner)).toEqual(['moving']);
    await expectNoNotice([neitherWatch]);
  });

  it('tells role and group holders a grant reaches, not those it does not', async () => {
    const owner = await member(t, 'editor');
    const editor = await member(t, 'editor');
    const viewer = await member(t, 'viewer');
    const grouped = await member(t, 'viewer', { groups: ['notice-group'] });
    await putWorkspace(owner, 'roles', {});
    const [editorWatch, viewerWatch, groupedWatch] = await Promise.all([
      watching(editor),
      watching(viewer),
      watching(grouped),
    ]);
    await share(owner, 'roles', [toRole('editor'), toGroup('notice-group')]);
    await expectNoticeWithCurrentEtag(editorWatch);
    await expectNoticeWithCurrentEtag(groupedWatch);
    await expectNoNotice([viewerWatch]);
  });

  it('tells grantees when a shared workspace is renamed or deleted', async () => {
    const owner = await member(t, 'editor');
    const grantee = await member(t, 'viewer');
    await putWorkspace(owner, 'before', {});
    await share(owner, 'before', [toUser(grantee.username)]);
    const granteeWatch = await watching(grantee);
    expectOk(await api(owner, '/workspaces/before/rename', { json: { name: 'after' } }));
    await expectNoticeWithCurrentEtag(granteeWatch);
    expect(await namesFrom(grantee, owner)).toEqual(['after']);
    expectOk(await api(owner, '/workspaces/after', { method: 'DELETE' }));
    await expectNoticeWithCurrentEtag(granteeWatch);
    expect(await namesFrom(grantee, owner)).toEqual([]);
  });

  it('tells grantees when PATCH /preferences removes a shared workspace', async () => {
    const owner = await member(t, 'editor');
    const grantee = await member(t, 'viewer');
    await putWorkspace(owner, 'gone', {});
    await share(owner, 'gone', [toUser(grantee.username)]);
    const granteeWatch = await watching(grantee);
    expectOk(await api(owner, '/preferences', { method: 'PATCH', json: { workspaces: { gone: null } } }));
    await expectNoticeWithCurrentEtag(granteeWatch);
    expect(await namesFrom(grantee, owner)).toEqual([]);
  });

  it('sends nothing for a refused change', async () => {
    const owner = await member(t, 'editor');
    const grantee = await member(t, 'editor');
    const viewer = await member(t, 'viewer');
    await putWorkspace(owner, 'fixed', { v: 1 });
    await share(owner, 'fixed', [toUser(grantee.username), toUser(viewer.username, 'edit')]);
    const watchers = await Promise.all([watching(owner), watching(grantee), watching(viewer)]);
    expectError(
      await api(owner, '/workspaces/fixed', {
        method: 'PUT',
        json: { v: 2 },
        headers: { 'if-match': '"stale"' },
      }),
      412,
      4002,
    );
    expectError(await putGrants(owner, 'fixed', [toUser('nobody-at-all')]), 422, 2000);
    expectError(
      await api(grantee, `/shared/${owner.username}/fixed`, { method: 'PATCH', json: { v: 3 } }),
      403,
      1001,
    );
    expectError(
      await api(viewer, `/shared/${owner.username}/fixed`, { method: 'PATCH', json: { v: 3 } }),
      403,
      1001,
    );
    expectError(await api(viewer, '/preferences', { method: 'PATCH', json: { workspaces: {} } }), 403, 1001);
    await expectNoNotice(watchers);
  });

  it("refuses to subscribe to another user's channel, over WebSocket and SSE", async () => {
    const owner = await member(t, 'editor');
    const spy = await member(t, 'admin');
    const socket = await openSocket(t, spy);
    try {
      const refused = await socket.subscribe(`user:${owner.id}`);
      expect(refused).toMatchObject({ type: 'error', code: 3000 });
      const own = await socket.subscribe(`user:${spy.id}`);
      expect(own.type).toBe('subscribed');
      await putWorkspace(owner, 'private', { secret: true });
      await settle();
      expect(socket.all.filter((f) => f.channel === `user:${owner.id}`)).toEqual([]);
    } finally {
      await socket.close();
    }
    const sse = await spy.client.call(`/api/v1/streams/${enc(`user:${owner.id}`)}/events`);
    expectError(sse, 404, 3000);
  });

  it('delivers the notice over SSE too', async () => {
    const owner = await member(t, 'editor');
    const grantee = await member(t, 'viewer');
    await putWorkspace(owner, 'sse', { v: 1 });
    await share(owner, 'sse', [toUser(grantee.username)]);
    const stream = openEventSource(t, `/api/v1/streams/user:${grantee.id}/events`, grantee);
    try {
      await stream.next((f) => f.type === 'snapshot', 'the snapshot');
      await putWorkspace(owner, 'sse', { v: 2 });
      const { frame } = await stream.next(
        (f) => f.type === 'event' && (f.data.data as { type?: string })?.type === 'preferences.updated',
        'preferences.updated over SSE',
      );
      await settle();
      const last = stream.received.filter((f) => f.type === 'event').at(-1) ?? frame;
      expect((last.data.data as { etag: string }).etag).toBe((await prefs(grantee)).etag);
    } finally {
      stream.close();
    }
  });

  it('tells a grantee whose role change changed what they see (their GET /preferences ETag moved)', async () => {
    const owner = await member(t, 'editor');
    const reader = await member(t, 'viewer');
    await putWorkspace(owner, 'editors only', {});
    await share(owner, 'editors only', [toRole('editor')]);
    const readerWatch = await watching(reader);
    const before = (await prefs(reader)).etag;
    await adminPatchUser(admin, reader.id, { role: 'editor' });
    const after = (await prefs(reader)).etag;
    expect(after).not.toBe(before);
    // Their open sessions are behind now: a notice must say so, as for every other change of their view.
    const notice = await readerWatch.next(2000);
    expect(notice.etag).toBe(after);
  });

  it('tells a user whose groups changed, when that changes what reaches them', async () => {
    const owner = await member(t, 'editor');
    const reader = await member(t, 'viewer');
    const group = `joined-${Date.now()}`;
    await member(t, 'viewer', { groups: [group] });
    await putWorkspace(owner, 'for the group', {});
    await share(owner, 'for the group', [toGroup(group)]);
    const readerWatch = await watching(reader);
    await adminPatchUser(admin, reader.id, { groups: [group] });
    const etag = await expectNoticeWithCurrentEtag(readerWatch);
    expect(await namesFrom(reader, owner)).toEqual(['for the group']);
    await adminPatchUser(admin, reader.id, { groups: [] });
    expect(await expectNoticeWithCurrentEtag(readerWatch)).not.toBe(etag);
    expect(await namesFrom(reader, owner)).toEqual([]);
  });
});
