import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransportName } from '../../packages/client/src/index.js';
import { ServerProcess } from './harness.js';
import { throughRestart } from './restart-scenario.js';

/**
 * The server killed and restarted under a client, with the live history in Redis: docs/live.md promises a
 * replay (same epoch), so the client ends with every event of the channel from its first to the last
 * acknowledged one, in order, none missing and none twice, and no reset.
 */
describe.each(['websocket', 'sse'] as TransportName[])(
  'a client over %s through a kill -9 and restart, with Redis',
  (transport) => {
    let server: ServerProcess;
    beforeAll(async () => {
      const redis = process.env.SWITCHBOARD_TEST_REDIS_URL;
      if (!redis) throw new Error('this suite needs SWITCHBOARD_TEST_REDIS_URL');
      server = await ServerProcess.start({
        SWITCHBOARD_REDIS_URL: redis,
        SWITCHBOARD_REDIS_KEY_PREFIX: `sb-client-${process.pid}-${Date.now()}-${transport}:`,
      });
    }, 60_000);
    afterAll(async () => server?.stop());

    it('replays what it missed: no gap, no duplicate, no reset', async () => {
      const run = await throughRestart(server, transport);
      expect(run.resets).toBe(0);
      const epochs = new Set(run.events.map((e) => e.id.split(':')[0]));
      expect(epochs.size).toBe(1);
      const seqs = run.events.map((e) => Number(e.id.split(':')[1]));
      const first = seqs[0] ?? 0;
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => first + i));
      const delivered = new Set(run.events.map((e) => e.id));
      expect(run.acked.filter((id) => !delivered.has(id))).toEqual([]);
      expect(run.states).toContain('recovering');
      expect(run.stats).toMatchObject({ duplicatesDropped: 0, gaps: 0 });
    }, 90_000);
  },
);
