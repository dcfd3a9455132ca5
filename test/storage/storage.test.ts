import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { resolveSigningSecret } from '../../src/instance/service.js';
import { InstanceStore } from '../../src/instance/store.js';
import { loadSettings } from '../../src/settings.js';
import { openStorage } from '../../src/storage/database.js';
import { MIGRATION_NAMES, migrateToLatest } from '../../src/storage/migrations.js';
import { engine, freshDatabase, startTestApp } from '../fixture.js';

function targetOf(url: string) {
  return loadSettings({ SWITCHBOARD_DATABASE_URL: url }).database;
}

describe(`storage on ${engine}`, () => {
  it('migrates once and reports nothing left to apply', async () => {
    const database = await freshDatabase();
    const storage = openStorage(targetOf(database.url));
    try {
      expect(storage.engine).toBe(engine);
      expect(await migrateToLatest(storage)).toEqual([...MIGRATION_NAMES]);
      expect(await migrateToLatest(storage)).toEqual([]);
    } finally {
      await storage.close();
      await database.drop();
    }
  });

  it('generates the signing secret once and shares it', async () => {
    const database = await freshDatabase();
    const a = openStorage(targetOf(database.url));
    const b = openStorage(targetOf(database.url));
    try {
      await migrateToLatest(a);
      const [first, second] = await Promise.all([
        resolveSigningSecret(new InstanceStore(a.db), undefined),
        resolveSigningSecret(new InstanceStore(b.db), undefined),
      ]);
      expect(first.length).toBe(32);
      expect(second.equals(first)).toBe(true);
      const configured = 'x'.repeat(40);
      expect((await resolveSigningSecret(new InstanceStore(a.db), configured)).toString()).toBe(configured);
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });

  it('reports ready, then 503 (not 500) once the database is gone', async () => {
    const t = await startTestApp();
    try {
      const ready = await request(`${t.url}/readyz`);
      expect(ready.statusCode).toBe(200);
      expect(await ready.body.json()).toMatchObject({
        status: 'ready',
        checks: { database: { status: 'ok' } },
      });
      await t.app.storage.close();
      const down = await request(`${t.url}/readyz`);
      expect(down.statusCode).toBe(503);
      const body = (await down.body.json()) as { error_detail: { error_code: number; checks: unknown } };
      expect(body.error_detail.error_code).toBe(8001);
      expect(body.error_detail.checks).toEqual({ database: { status: 'error' } });
    } finally {
      await t.close();
    }
  });
});

describe('cursors across instances', () => {
  it('are accepted by every instance sharing the secret, and by no other', async () => {
    const secret = { SWITCHBOARD_JWT_SECRET: 'k'.repeat(48) };
    const a = await startTestApp({ env: secret });
    const b = await startTestApp({ env: secret });
    const other = await startTestApp();
    try {
      const cursor = a.app.cursors().encode('audit', { offset: 50 });
      expect(b.app.cursors().decode(cursor, 'audit').position).toEqual({ offset: 50 });
      expect(() => other.app.cursors().decode(cursor, 'audit')).toThrow(/signature/);
    } finally {
      await Promise.all([a.close(), b.close(), other.close()]);
    }
  });
});
