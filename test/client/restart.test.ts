import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransportName } from '../../packages/client/src/index.js';
import { ServerProcess } from './harness.js';
import { throughRestart } from './restart-scenario.js';

/**
 * The server killed and restarted under a client, without Redis: the in-process bus starts a new epoch
 * (its history went with the process), so docs/live.md promises `reset` and the snapshot, not a replay.
 * Later events come in order, each once.
 */
describe.each(['websocket', 'sse'] as TransportName[])(
  'a client over %s through a kill -9 and restart, no Redis',
  (transport) => {
    let server: ServerProcess;
    beforeAll(async () => {
      server = await ServerProcess.start();
    }, 60_000);
    afterAll(async () => server?.stop());

    it('reports recovering, gets reset and the snapshot of the new epoch, then every later event once', async () => {
      const run = await throughRestart(server, transport);
      expect(run.resets).toBe(1);
      const epochs = [...new Set(run.events.map((e) => e.id.split(':')[0]))];
      expect(epochs.length).toBe(2);
      const after = run.events.filter((e) => e.id.startsWith(`${epochs[1]}:`));
      // In the new epoch nothing is missing between the first event the client had and the last one.
      const seqs = after.map((e) => Number(e.id.split(':')[1]));
      const snapshot = run.snapshots.at(-1);
      const from = snapshot?.id.startsWith(`${epochs[1]}:`) ? Number(snapshot.id.split(':')[1]) + 1 : seqs[0];
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => (from ?? 0) + i));
      expect(new Set(run.events.map((e) => e.id)).size).toBe(run.events.length);
      const acknowledgedAfter = run.acked.filter((id) => id.startsWith(`${epochs[1]}:`));
      const delivered = new Set([...run.events.map((e) => e.id), ...(snapshot ? [snapshot.id] : [])]);
      expect(
        acknowledgedAfter.filter((id) => !delivered.has(id) && Number(id.split(':')[1]) >= (from ?? 0)),
      ).toEqual([]);
      expect(run.states).toContain('recovering');
      expect(run.finalState).toBe('live');
      expect(run.stats.duplicatesDropped).toBe(0);
    }, 90_000);
  },
);
