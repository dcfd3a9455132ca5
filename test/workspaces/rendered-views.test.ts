import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RenderedViews } from '../../src/workspaces/rendered-views.js';
import { startTestApp, type TestApp } from '../fixture.js';
import { patchPreferences } from './own-helpers.js';

describe('RenderedViews', () => {
  it('gives a body back only under the ETag it was kept with', () => {
    const views = new RenderedViews(1000);
    views.put('u', '"1.0"', Buffer.from('one'));
    expect(views.get('u', '"1.0"')?.toString()).toBe('one');
    expect(views.get('u', '"2.0"')).toBeUndefined();
    expect(views.compressed('u', '"2.0"', 'gzip')).toBeUndefined();
  });

  it('keeps at most its bound in bytes, gzips included, the least recently read going first', async () => {
    const views = new RenderedViews(240);
    views.put('a', 'e', Buffer.alloc(100, 'a'));
    views.put('b', 'e', Buffer.alloc(100, 'b'));
    expect(views.get('a', 'e')).toBeDefined();
    // a was read last: c pushes b out.
    views.put('c', 'e', Buffer.alloc(100, 'c'));
    expect(views.get('b', 'e')).toBeUndefined();
    expect(views.get('a', 'e')).toBeDefined();
    // Each gzip of 100 equal bytes is about 23: counted, the second pushes the least recent out.
    expect(gunzipSync(await (views.compressed('c', 'e', 'gzip') as Promise<Buffer>)).toString()).toBe(
      'c'.repeat(100),
    );
    await views.compressed('a', 'e', 'gzip');
    expect([views.get('a', 'e'), views.get('c', 'e')].filter(Boolean)).toHaveLength(1);
    // A body larger than the bound is not kept.
    views.put('d', 'e', Buffer.alloc(300));
    expect(views.get('d', 'e')).toBeUndefined();
  });
});

describe('GET /preferences compressed', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  it('is compressed for a client that takes it (brotli, else gzip), the same JSON as without', async () => {
    const session = await t.signIn(await t.createUser({ role: 'editor' }));
    const me = { client: session.client, bearer: session.accessToken };
    expect((await patchPreferences(me, { theme: 'dark', notes: 'x'.repeat(5000) })).status).toBe(200);
    const get = async (acceptEncoding?: string) => {
      const res = await request(`${t.url}/api/v1/preferences`, {
        headers: {
          authorization: `Bearer ${me.bearer}`,
          ...(acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding }),
        },
      });
      return { headers: res.headers, bytes: Buffer.from(await res.body.arrayBuffer()) };
    };
    const plain = await get();
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toContain('accept-encoding');
    const zipped = await get('gzip, deflate');
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.etag).toBe(plain.headers.etag);
    expect(zipped.bytes.length).toBeLessThan(plain.bytes.length / 5);
    expect(JSON.parse(gunzipSync(zipped.bytes).toString())).toEqual(JSON.parse(plain.bytes.toString()));
    // Brotli where it is taken (every browser over HTTPS), smaller still.
    const brotli = await get('gzip, deflate, br');
    expect(brotli.headers['content-encoding']).toBe('br');
    expect(brotli.bytes.length).toBeLessThan(zipped.bytes.length);
    expect(JSON.parse(brotliDecompressSync(brotli.bytes).toString())).toEqual(
      JSON.parse(plain.bytes.toString()),
    );
    // A second read gets the same bytes, made once.
    expect((await get('br')).bytes.equals(brotli.bytes)).toBe(true);
    // Refused by quality zero: plain.
    expect((await get('gzip;q=0, br;q=0, identity')).headers['content-encoding']).toBeUndefined();
  });
});
