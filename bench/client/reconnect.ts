/**
 * One `@switchboard/client` (packages/client/src) following the bench's channel through a cuttable proxy,
 * and the trial bench/client times: the network is cut, events are published meanwhile, the network comes
 * back, and the client reconnects by itself and catches up. Time runs from the start of the reconnect
 * attempt that got through (its first request: the connect ticket on WebSocket, the event stream on SSE)
 * to the last missed event handed to the subscriber's callback; the back-off before that attempt is the
 * client's choice, not part of the measurement.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import {
  type LiveEvent,
  Switchboard,
  type TransportName,
  type WebSocketConstructor,
} from '../../packages/client/src/index.js';
import { CuttableProxy } from '../../test/client/cuttable-proxy.js';
import { seqOf } from '../replay/protocol.js';
import { CHANNEL, type ClientTarget } from './target.js';

/** The requests that open a live connection: the first of each attempt. */
const ATTEMPT_PATHS = new Set(['/api/v1/auth/ws-ticket', '/api/v1/events']);
/** How long a trial waits after the last missed event for anything that should not come (a duplicate). */
const SETTLE_MS = 50;

export interface Trial {
  /** From the start of the reconnect attempt that got through to the last missed event delivered, ms. */
  toLastMs: number;
  /** From the same start to the first missed event delivered, ms. */
  toFirstMs: number;
  /** From the network coming back to that attempt starting (the client's back-off; not timed), ms. */
  waitMs: number;
  /** Events the client itself dropped as seen already (the server sent them twice). */
  duplicatesDropped: number;
  /** What was wrong with the delivery: a gap, a duplicate, a reset, a timeout; undefined when nothing. */
  problem: string | undefined;
}

const until = async (check: () => boolean, what: string, timeoutMs: number) => {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
};

export class BenchClient {
  private delivered: { seq: number; at: number }[] = [];
  private lastId: string | null = null;
  private snapshots = 0;
  private resets = 0;
  private ended: string | undefined;

  private constructor(
    private readonly target: ClientTarget,
    private readonly proxy: CuttableProxy,
    readonly sb: Switchboard,
    /** When each attempt to open a live connection started (performance.now()). */
    private readonly attempts: readonly number[],
  ) {}

  /** A client signed in as the viewer, subscribed and live, forced onto `transport`. */
  static async open(target: ClientTarget, transport: TransportName): Promise<BenchClient> {
    const proxy = new CuttableProxy(target.server.port);
    await proxy.start();
    const attempts: number[] = [];
    const sb = new Switchboard({
      baseUrl: proxy.url,
      auth: 'tokens',
      fetch: (request) => {
        if (ATTEMPT_PATHS.has(new URL(request.url).pathname)) attempts.push(performance.now());
        return fetch(request);
      },
      live: {
        transport,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        // Short back-offs keep trials short; the wait they make is outside the timed span anyway.
        baseDelayMs: 50,
        maxDelayMs: 500,
      },
    });
    const client = new BenchClient(target, proxy, sb, attempts);
    await sb.session.signIn(target.viewer.username, target.viewer.password);
    sb.live.subscribe<unknown>(CHANNEL, {
      event: (event: LiveEvent) => client.onEvent(event),
      snapshot: () => {
        client.snapshots += 1;
      },
      reset: () => {
        client.resets += 1;
      },
      end: (end) => {
        client.ended = `${end.reason}: ${end.message}`;
      },
    });
    await until(() => sb.live.state === 'live', `the ${transport} client to be live`, 20_000);
    // One event through, so that every trial starts from a known position.
    await target.publish({ first: true });
    await until(() => client.lastId !== null, 'the first event', 10_000);
    return client;
  }

  private onEvent(event: LiveEvent): void {
    this.delivered.push({ seq: seqOf(event.id), at: performance.now() });
    this.lastId = event.id;
  }

  async trial(missed: number): Promise<Trial> {
    const from = seqOf(this.lastId) + 1;
    const statsBefore = { ...this.sb.live.stats };
    const resetsBefore = this.resets;
    const snapshotsBefore = this.snapshots;
    this.proxy.cut();
    await until(() => this.sb.live.state !== 'live', 'the client to notice the cut', 10_000);
    const last = seqOf(await this.target.publishMany(missed));
    if (last !== from + missed - 1)
      throw new Error(`published up to seq ${last}, expected ${from + missed - 1}`);
    this.delivered = [];
    const mendAt = performance.now();
    this.proxy.mend();
    let problem: string | undefined;
    try {
      await until(() => this.delivered.length >= missed, `${missed} events`, 30_000);
    } catch {
      problem = `${this.delivered.length} of ${missed} events within 30 s`;
    }
    await sleep(SETTLE_MS);
    const delivered = this.delivered;
    const lastAt = delivered[missed - 1]?.at ?? Number.NaN;
    const start = this.attempts.filter((t) => t <= lastAt).at(-1) ?? Number.NaN;
    const stats = this.sb.live.stats;
    const outOfOrder = delivered.findIndex((d, i) => d.seq !== from + i);
    if (problem === undefined) {
      if (this.ended) problem = `the subscription ended (${this.ended})`;
      else if (this.resets > resetsBefore) problem = 'reset instead of resumed';
      else if (this.snapshots > snapshotsBefore) problem = 'a snapshot instead of the missed events';
      else if (delivered.length !== missed) problem = `${delivered.length} events delivered for ${missed}`;
      else if (outOfOrder !== -1)
        problem = `event ${outOfOrder} had seq ${delivered[outOfOrder]?.seq}, expected ${from + outOfOrder}`;
      else if (stats.gaps > statsBefore.gaps) problem = 'the client saw a gap';
    }
    return {
      toLastMs: lastAt - start,
      toFirstMs: (delivered[0]?.at ?? Number.NaN) - start,
      waitMs: start - mendAt,
      duplicatesDropped: stats.duplicatesDropped - statsBefore.duplicatesDropped,
      problem,
    };
  }

  async close(): Promise<void> {
    this.sb.live.close();
    this.sb.session.close();
    await this.proxy.stop();
  }
}
