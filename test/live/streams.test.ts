import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_PREFIX } from '../../src/auth/api-keys-service.js';
import { ApiKeysStore } from '../../src/auth/api-keys-store.js';
import { digest } from '../../src/auth/keys.js';
import { ErrorCode } from '../../src/platform/problem.js';
import { errorCode } from '../client.js';
import { type SignedIn, startTestApp, type TestApp } from '../fixture.js';

let t: TestApp;
let admin: SignedIn;
let viewer: SignedIn;
let operator: SignedIn;

beforeAll(async () => {
  t = await startTestApp();
  admin = await t.signIn(await t.createUser({ role: 'admin' }));
  viewer = await t.signIn(await t.createUser({ role: 'viewer' }));
  operator = await t.signIn(await t.createUser({ role: 'editor', groups: ['ops'] }));
  const channels = t.app.live.channels;
  channels.declare({ name: 'weather', access: { minRole: 'viewer' }, meta: { unit: '°C' } });
  channels.declare({ name: 'plant.alarms', access: { minRole: 'editor', groups: { oneOf: ['ops'] } } });
  channels.declare({ name: 'short', access: { minRole: 'viewer' }, history: { size: 5 } });
});
afterAll(() => t.close());

const publish = (who: SignedIn | string, channel: string, json: unknown) =>
  typeof who === 'string'
    ? t.client().call(`/api/v1/streams/${channel}/publish`, { method: 'POST', json, bearer: who })
    : who.client.call(`/api/v1/streams/${channel}/publish`, { method: 'POST', json });

describe('GET /streams', () => {
  it('lists what the caller may subscribe to, with metadata', async () => {
    const names = async (who: SignedIn) =>
      ((await who.client.call('/api/v1/streams')).body.data as { name: string }[]).map((c) => c.name).sort();
    expect(await names(viewer)).toEqual([`user:${viewer.body.data.user.id}`, 'short', 'weather'].sort());
    expect(await names(operator)).toEqual(
      ['config', 'plant.alarms', 'short', `user:${operator.body.data.user.id}`, 'weather'].sort(),
    );
    const listed = (await viewer.client.call('/api/v1/streams')).body.data;
    expect(listed.find((c: { name: string }) => c.name === 'weather')).toEqual({
      name: 'weather',
      kind: 'stream',
      meta: { unit: '°C' },
      history: { size: 1000, max_age_seconds: 600 },
    });
    expect(listed.find((c: { name: string }) => c.name === 'short').history.size).toBe(5);
  });

  it('needs a signed-in caller', async () => {
    expect((await t.client().call('/api/v1/streams')).status).toBe(401);
  });
});

describe('POST /streams/{channel}/publish', () => {
  it('lets an admin append an event: 202 with its id, and the bus has it', async () => {
    const res = await publish(admin, 'weather', { temperature: 21.5 });
    expect(res.status).toBe(202);
    expect(res.body.data.id).toMatch(/^[A-Za-z0-9_-]+:\d+$/);
    const latest = await t.app.live.bus.latest('weather');
    expect(latest).toMatchObject({ id: res.body.data.id, channel: 'weather', data: { temperature: 21.5 } });
  });

  it('lets an API key publish only where its scopes say', async () => {
    const create = (scopes: string[]) =>
      admin.client.call('/api/v1/auth/api-keys', {
        json: { name: `k-${scopes.join()}`, role: 'viewer', scopes },
      });
    const weatherOnly = (await create(['publish:weather'])).body.data.key;
    const everything = (await create(['publish:*'])).body.data.key;
    const none = (await create([])).body.data.key;
    expect((await publish(weatherOnly, 'weather', 1)).status).toBe(202);
    const other = await publish(weatherOnly, 'short', 1);
    expect(other.status).toBe(403);
    expect(errorCode(other)).toBe(ErrorCode.forbidden);
    expect((await publish(everything, 'short', 2)).status).toBe(202);
    expect((await publish(none, 'weather', 3)).status).toBe(403);
  });

  describe('publishing is bound by the stream access rule, for keys and sessions alike', () => {
    /** An admin in `ops`, so that the group-only stream admits them and the key's groups are theirs. */
    let owner: SignedIn;
    const STREAMS = { open: 'viewer', editors: 'editor', group: 'viewer', admins: 'admin' } as const;

    beforeAll(async () => {
      owner = await t.signIn(await t.createUser({ role: 'admin', groups: ['ops'] }));
      for (const [name, minRole] of Object.entries(STREAMS)) {
        t.app.live.channels.declare({
          name: `pub.${name}`,
          access: { minRole, ...(name === 'group' && { groups: { oneOf: ['ops'] } }) },
        });
      }
    });

    const keyOf = async (who: SignedIn, role: string, scopes: string[]) => {
      const res = await who.client.call('/api/v1/auth/api-keys', {
        json: { name: `${role}-${scopes.join()}-${Math.random()}`, role, scopes },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.data.key as string;
    };
    const outcomes = async (who: SignedIn | string) => {
      const seen: Record<string, number> = {};
      for (const name of Object.keys(STREAMS)) seen[name] = (await publish(who, `pub.${name}`, 1)).status;
      return seen;
    };

    it('a viewer, editor or admin key with publish:* reaches what its role and its owner admit, no more', async () => {
      expect(await outcomes(await keyOf(owner, 'viewer', ['publish:*']))).toEqual({
        open: 202,
        editors: 404,
        group: 202,
        admins: 404,
      });
      expect(await outcomes(await keyOf(owner, 'editor', ['publish:*']))).toEqual({
        open: 202,
        editors: 202,
        group: 202,
        admins: 404,
      });
      expect(await outcomes(await keyOf(owner, 'admin', ['publish:*']))).toEqual({
        open: 202,
        editors: 202,
        group: 202,
        admins: 202,
      });
    });

    it('a key whose scope names one stream publishes there only, if its role reaches it', async () => {
      expect(await outcomes(await keyOf(owner, 'viewer', ['publish:pub.group']))).toEqual({
        open: 403,
        editors: 403,
        group: 202,
        admins: 403,
      });
      expect(await outcomes(await keyOf(owner, 'viewer', ['publish:pub.admins']))).toEqual({
        open: 403,
        editors: 403,
        group: 403,
        admins: 404,
      });
    });

    it('keys without scopes publish nowhere, whatever their role', async () => {
      const refused = { open: 403, editors: 403, group: 403, admins: 403 };
      for (const role of ['viewer', 'editor', 'admin']) {
        expect(await outcomes(await keyOf(owner, role, []))).toEqual(refused);
      }
      expect(await outcomes(await keyOf(viewer, 'viewer', []))).toEqual(refused);
      expect(await outcomes(await keyOf(operator, 'editor', []))).toEqual(refused);
    });

    it("a viewer's key with publish:* (as one could be minted before the rule) publishes nowhere", async () => {
      const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
      await new ApiKeysStore(t.app.storage.db).insert(
        {
          id: randomUUID(),
          userId: viewer.body.data.user.id,
          name: 'minted earlier',
          role: 'viewer',
          scopes: ['publish:*'],
          prefix: key.slice(0, 10),
          createdAt: new Date().toISOString(),
          expiresAt: null,
          lastUsedAt: null,
          revokedAt: null,
        },
        digest(t.app.auth.deps.keys().apiKey, key),
      );
      expect(await outcomes(key)).toEqual({ open: 403, editors: 403, group: 403, admins: 403 });
    });

    it('a scoped key stops publishing when its owner is no longer an admin, or leaves the group', async () => {
      const user = await t.createUser({ role: 'admin', groups: ['ops'] });
      const session = await t.signIn(user);
      const key = await keyOf(session, 'viewer', ['publish:*']);
      expect((await publish(key, 'pub.group', 1)).status).toBe(202);
      const patch = (json: unknown) =>
        admin.client.call(`/api/v1/users/${user.record.id}`, { method: 'PATCH', json });
      expect((await patch({ groups: [] })).status).toBe(200);
      expect((await publish(key, 'pub.group', 1)).status).toBe(404);
      expect((await publish(key, 'pub.open', 1)).status).toBe(202);
      expect((await patch({ role: 'editor' })).status).toBe(200);
      expect((await publish(key, 'pub.open', 1)).status).toBe(403);
    });

    it('an admin session publishes where the access rule admits it, and not into a group it is not in', async () => {
      expect(await outcomes(owner)).toEqual({ open: 202, editors: 202, group: 202, admins: 202 });
      expect(await outcomes(admin)).toEqual({ open: 202, editors: 202, group: 404, admins: 202 });
      const refused = { open: 403, editors: 403, group: 403, admins: 403 };
      expect(await outcomes(viewer)).toEqual(refused);
      expect(await outcomes(operator)).toEqual(refused);
    });
  });

  it('refuses viewers and editors, and the built-in channels even for admins', async () => {
    expect((await publish(viewer, 'weather', 1)).status).toBe(403);
    expect((await publish(operator, 'plant.alarms', 1)).status).toBe(403);
    for (const channel of ['config', `user:${viewer.body.data.user.id}`]) {
      const res = await publish(admin, encodeURIComponent(channel), 1);
      expect(res.status, channel).toBe(403);
    }
  });

  it('answers 404 for a stream nobody declared', async () => {
    const res = await publish(admin, 'nowhere', 1);
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe(ErrorCode.notFound);
  });

  it('refuses data over 64 KiB with 413, and malformed JSON with 400', async () => {
    const big = await publish(admin, 'weather', { blob: 'x'.repeat(64 * 1024) });
    expect(big.status).toBe(413);
    expect(errorCode(big)).toBe(ErrorCode.payloadTooLarge);
    const malformed = await admin.client.call('/api/v1/streams/weather/publish', {
      method: 'POST',
      body: '{"unfinished": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    const latest = await t.app.live.bus.latest('weather');
    expect(JSON.stringify(latest?.data).length).toBeLessThan(64 * 1024);
  });
});
