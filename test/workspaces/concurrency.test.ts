import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../fixture.js';
import {
  getPreferences,
  ownDocument,
  patchPreferences,
  putWorkspace,
  signedInAs,
  versionOf,
} from './own-helpers.js';

describe('concurrent writes to one user’s preferences', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { SWITCHBOARD_RATE_LIMITING: 'false' } });
  });
  afterAll(() => t.close());

  it('keeps all of 50 concurrent merge patches to different keys, at version 50', async () => {
    const me = await signedInAs(t, 'editor');
    const keys = Array.from({ length: 50 }, (_, i) => i);
    const results = await Promise.all(keys.map((i) => patchPreferences(me, { [`k${i}`]: i })));
    expect(results.map((r) => r.status)).toEqual(keys.map(() => 200));
    for (const [i, res] of results.entries()) {
      // The answer is the document as read after the write: it has the write's key, maybe others' too,
      // and its ETag is of that same read (each write added one key, so version n shows n keys).
      expect(res.body.data[`k${i}`]).toBe(i);
      const shown = Object.keys(res.body.data).filter((key) => key.startsWith('k'));
      expect(versionOf(res)).toBe(shown.length);
    }
    expect(versionOf(await getPreferences(me))).toBe(50);
    expect(await ownDocument(me)).toEqual(Object.fromEntries(keys.map((i) => [`k${i}`, i])));
  });

  it('lets exactly one of two writes with the same If-Match through', async () => {
    const me = await signedInAs(t, 'editor');
    await patchPreferences(me, { theme: 'plain' });
    const etag = (await getPreferences(me)).headers.etag as string;
    const results = await Promise.all(
      ['red', 'blue'].map((theme) => patchPreferences(me, { theme }, { headers: { 'if-match': etag } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
    const loser = results.find((r) => r.status === 412);
    expect(loser?.body.error_detail.error_code).toBe(4002);
    const winner = results.find((r) => r.status === 200);
    expect(await ownDocument(me)).toEqual({ theme: winner?.body.data.theme });
    expect(versionOf(await getPreferences(me))).toBe(2);
  });

  it('keeps all of 20 concurrent PUTs of different workspaces', async () => {
    const me = await signedInAs(t, 'editor');
    const names = Array.from({ length: 20 }, (_, i) => `ws-${String(i).padStart(2, '0')}`);
    const results = await Promise.all(names.map((name) => putWorkspace(me, name, { name })));
    expect(results.map((r) => r.status)).toEqual(names.map(() => 201));
    const document = await ownDocument(me);
    expect(Object.keys(document.workspaces as object).sort()).toEqual(names);
    expect(document.workspaces).toEqual(Object.fromEntries(names.map((name) => [name, { name }])));
    expect(versionOf(await getPreferences(me))).toBe(20);
  });

  it('keeps the writes of several users apart when they all write at once', async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => signedInAs(t, 'editor')));
    await Promise.all(
      users.flatMap((user, u) =>
        Array.from({ length: 10 }, (_, i) => patchPreferences(user, { [`u${u}k${i}`]: i })),
      ),
    );
    for (const [u, user] of users.entries()) {
      expect(await ownDocument(user)).toEqual(
        Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`u${u}k${i}`, i])),
      );
      expect(versionOf(await getPreferences(user))).toBe(10);
    }
  });
});
