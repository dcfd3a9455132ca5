import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from '../fixture.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    env: {
      SWITCHBOARD_RATE_LIMIT_IP_FLOOR: '3',
      SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '3',
      SWITCHBOARD_RATE_LIMIT_AUTHENTICATED: '3',
    },
  });
});
afterAll(() => t.close());

/** The HTTP status an upgrade was answered with: 101 when it became a WebSocket. */
function upgradeStatus(app: TestApp = t): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${app.url.replace('http', 'ws')}/api/v1/ws`);
    socket.once('open', () => {
      socket.terminate();
      resolve({ status: 101 });
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] });
      socket.terminate();
    });
    socket.once('error', (error) => reject(error));
  });
}

describe('WebSocket upgrades', () => {
  it('count against the IP floor like every other request, and get a 429 past it', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await upgradeStatus()).status);
    expect(statuses).toEqual([101, 101, 101]);
    const refused = await upgradeStatus();
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
  });
});

describe('WebSocket upgrades and HTTP requests', () => {
  it('spend one IP floor between them', async () => {
    const other = await startTestApp({
      env: {
        SWITCHBOARD_RATE_LIMIT_IP_FLOOR: '4',
        SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: '4',
        SWITCHBOARD_RATE_LIMIT_AUTHENTICATED: '4',
      },
    });
    try {
      const c = other.client();
      expect((await c.call('/no-such-page')).status).toBe(404);
      expect((await c.call('/no-such-page')).status).toBe(404);
      expect((await upgradeStatus(other)).status).toBe(101);
      expect((await c.call('/no-such-page')).status).toBe(404);
      expect((await upgradeStatus(other)).status).toBe(429);
      expect((await c.call('/no-such-page')).status).toBe(429);
    } finally {
      await other.close();
    }
  });
});
