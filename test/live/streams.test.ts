import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
