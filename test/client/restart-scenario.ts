import type { LiveEvent, LiveState, TransportName } from '../../packages/client/src/index.js';
import { ADMIN } from '../cluster/cluster-harness.js';
import { nodeClient, type ServerProcess, until, waitForState } from './harness.js';

export interface ThroughRestart {
  /** What the client was handed, in order. */
  events: LiveEvent[];
  snapshots: (LiveEvent | null)[];
  resets: number;
  /** Ids the server acknowledged (202), in the order published. */
  acked: string[];
  states: LiveState[];
  /** The state once the last event arrived. */
  finalState: LiveState;
  stats: { duplicatesDropped: number; gaps: number };
}

/**
 * A client following `plant.feed` while a publisher writes to it, the server killed (SIGKILL) in the middle
 * and started again; the publisher goes on until the server answers again, then publishes more.
 */
export async function throughRestart(
  server: ServerProcess,
  transport: TransportName,
): Promise<ThroughRestart> {
  // What the client did and saw, printed when the run fails: a failure here is a matter of timing.
  const t0 = Date.now();
  const trace: string[] = [];
  const note = (...a: unknown[]) => trace.push(`${Date.now() - t0} ${a.join(' ')}`);
  const sb = nodeClient(server.url, {
    live: { transport, baseDelayMs: 100, maxDelayMs: 1000 },
    fetch: async (r) => {
      const path = new URL(r.url).pathname;
      note('->', r.method, path);
      try {
        const res = await fetch(r);
        note('<-', res.status, path);
        return res;
      } catch (e) {
        note('x', path, String(e));
        throw e;
      }
    },
  });
  sb.live.on('state', (s) => note('state', s));
  await sb.signIn(ADMIN.username, ADMIN.password);
  const result: ThroughRestart = {
    events: [],
    snapshots: [],
    resets: 0,
    acked: [],
    states: [],
    finalState: sb.live.state,
    stats: sb.live.stats,
  };
  sb.live.on('state', (state) => result.states.push(state));
  sb.live.subscribe('plant.feed', {
    event: (event) => {
      if (
        result.events.length % 50 === 0 ||
        !event.id.startsWith(result.events.at(-1)?.id.split(':')[0] ?? '')
      )
        note('event', event.id);
      result.events.push(event);
    },
    snapshot: (event) => {
      note('snapshot', event?.id);
      result.snapshots.push(event);
    },
    end: (end) => note('end', JSON.stringify(end)),
    reset: () => {
      note('reset');
      result.resets += 1;
    },
  });
  try {
    await waitForState(sb, 'live');
    let n = 0;
    let stopped = false;
    const publisher = (async () => {
      while (!stopped) {
        const id = await server.publish({ n });
        if (id) {
          if (result.acked.length % 20 === 0 || !id.startsWith(result.acked.at(-1)?.split(':')[0] ?? ''))
            note('acked', id);
          result.acked.push(id);
          n += 1;
        } else {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    })();
    await until(() => result.acked.length >= 100, '100 events before the kill', 20_000);
    note('kill');
    await server.kill();
    note('killed');
    await server.restart();
    note('restarted');
    const afterRestart = result.acked.length;
    // Publishing goes on until the client is back and 100 events were acknowledged since the restart, so
    // events reach it live after its recovery as well as through it.
    await until(
      () => result.acked.length >= afterRestart + 100 && sb.live.state === 'live',
      '100 events after the restart, and the client live again',
      20_000,
    );
    const liveAgain = result.acked.length;
    await until(
      () => result.acked.length >= liveAgain + 20,
      '20 events once the client is live again',
      20_000,
    );
    stopped = true;
    await publisher;
    const last = result.acked.at(-1);
    await until(
      // After a reset the last one may come as the snapshot.
      () => [...result.events, ...result.snapshots].some((e) => e?.id === last),
      `the last event (${last}) to reach the client`,
      20_000,
    );
    await waitForState(sb, 'live');
    result.finalState = sb.live.state;
    return result;
  } catch (error) {
    console.log(`the client's trace (ms since start):\n${trace.join('\n')}`);
    throw error;
  } finally {
    sb.close();
  }
}
