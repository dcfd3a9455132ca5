import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { loadSettings } from '../../src/settings.js';
import { freshDatabase } from '../fixture.js';

describe('readiness', () => {
  it('is a 503 until the server is open for business (first admin, active configuration), then 200', async () => {
    const database = await freshDatabase();
    const settings = loadSettings({
      HOST: '127.0.0.1',
      PORT: '0',
      SWITCHBOARD_DATA_DIR: database.dataDir,
      SWITCHBOARD_DATABASE_URL: database.url,
      SWITCHBOARD_LOG_LEVEL: 'warn',
    });
    const app = await createApp(settings, { logStream: new Writable({ write: (_c, _e, done) => done() }) });
    try {
      // Built, its database answering, but not started: a load balancer must not send traffic yet.
      const before = await app.server.inject({
        url: '/readyz',
        headers: { accept: 'application/problem+json' },
      });
      expect(before.statusCode).toBe(503);
      expect(before.headers['retry-after']).toBeDefined();
      expect(before.json()).toMatchObject({
        checks: { database: { status: 'ok' }, startup: { status: 'error' } },
      });
      await app.start();
      const after = await app.server.inject({ url: '/readyz' });
      expect(after.statusCode).toBe(200);
      expect(after.json()).toMatchObject({
        checks: { database: { status: 'ok' }, startup: { status: 'ok' } },
      });
    } finally {
      await app.shutdown();
      await database.drop();
    }
  });
});
